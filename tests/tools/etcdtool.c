/* tests/tools/etcdtool.c - drives the etcd client (fleet/etcd.h) from test scripts
 * (tests/integration/etcd_*.sh).
 *
 *	etcdtool get KEY            "rev R" then "KEY=VALUE mod=M ver=V" per key
 *	etcdtool getp PREFIX        the same for every key under PREFIX
 *	etcdtool put KEY VALUE      "rev R"
 *	etcdtool putsize KEY BYTES  a value of BYTES 'x'; "rev R"
 *	etcdtool cas KEY REV VALUE  txn: put when KEY's mod_revision is REV (0: absent);
 *	                            "won rev R" or "lost"
 *	etcdtool txnput N PREFIX    one unconditional txn putting PREFIX0..N-1; "rev R"
 *	etcdtool reachable          "reachable ENDPOINT"
 *	etcdtool watch PREFIX REV N [MAXLOST]
 *	    watches from REV; one line per event, flushed: "PUT KEY=VALUE rev R",
 *	    "DELETE KEY rev R", "SYNCED rev R", "LOST reason"; exits 0 after N put/delete
 *	    events, 3 after MAXLOST "LOST" lines, 4 when the file $ETCDTOOL_STOP exists.
 *
 * The client's options come from the environment tests/etcd.sh sets: ETCD_ENDPOINTS
 * (comma list), ETCD_CA, ETCD_CERT, ETCD_KEY (empty: none), and ETCDTOOL_USER,
 * ETCDTOOL_PASSWORD_FILE, ETCDTOOL_TIMEOUT_MS, ETCDTOOL_MAX_RESPONSE. An error prints
 * "etcdtool: ERRNAME: message" on stderr (ERRNAME like EHOSTUNREACH, so a script can
 * check the code) and exits 1; a compacted watch also prints "compact R". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../fleet/etcd.h"

static long want_events, max_lost, nevents, nlost;

static const char *
errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

static int
fail(const struct cs_err *e)
{
	fprintf(stderr, "etcdtool: %s: %s\n", errname(e->code), e->msg);
	return 1;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

static void
print_kv(const struct etcd_kv *kv)
{
	printf("%s=%.*s mod=%lld ver=%lld\n", kv->key, (int)(kv->len > 64 ? 64 : kv->len),
	    (const char *)kv->value, (long long)kv->mod_revision, (long long)kv->version);
}

static int
on_event(void *arg, const struct etcd_event *ev)
{
	const char *stop = env("ETCDTOOL_STOP");

	(void)arg;
	switch (ev->type) {
	case ETCD_EV_PUT:
		printf("PUT %s=%.*s rev %lld\n", ev->kv->key, (int)(ev->kv->len > 64 ? 64 :
		    ev->kv->len), (const char *)ev->kv->value, (long long)ev->revision);
		nevents++;
		break;
	case ETCD_EV_DELETE:
		printf("DELETE %s rev %lld\n", ev->kv->key, (long long)ev->revision);
		nevents++;
		break;
	case ETCD_EV_SYNCED:
		printf("SYNCED rev %lld\n", (long long)ev->revision);
		break;
	case ETCD_EV_LOST:
		printf("LOST %s: %s\n", errname(ev->err->code), ev->err->msg);
		nlost++;
		break;
	case ETCD_EV_TICK:
		break;
	}
	fflush(stdout);
	if (want_events > 0 && nevents >= want_events)
		return 1;
	if (max_lost > 0 && nlost >= max_lost)
		return 3;
	if (stop && access(stop, F_OK) == 0)
		return 4;
	return 0;
}

int
main(int argc, char **argv)
{
	struct cs_err e = {0};
	struct etcd_opts o = {0};
	struct etcd *c = NULL;
	struct etcd_range r = {0};
	const char *eps[ETCD_ENDPOINTS_MAX];
	char *list, *tok, *save = NULL;
	int64_t rev = 0, compact = 0;
	size_t i;
	int rc = 1, won = 0;

	if (argc < 2 || env("ETCD_ENDPOINTS") == NULL) {
		fprintf(stderr, "usage: ETCD_ENDPOINTS=URL,... etcdtool CMD ARGS...\n");
		return 2;
	}
	list = strdup(env("ETCD_ENDPOINTS"));
	for (tok = strtok_r(list, ",", &save); tok && o.nendpoints < ETCD_ENDPOINTS_MAX;
	    tok = strtok_r(NULL, ",", &save))
		eps[o.nendpoints++] = tok;
	o.endpoints = eps;
	o.ca = env("ETCD_CA");
	o.cert = env("ETCD_CERT");
	o.key = env("ETCD_KEY");
	o.user = env("ETCDTOOL_USER");
	o.password_file = env("ETCDTOOL_PASSWORD_FILE");
	o.timeout_ms = env("ETCDTOOL_TIMEOUT_MS") ? atol(env("ETCDTOOL_TIMEOUT_MS")) : 3000;
	o.max_response = env("ETCDTOOL_MAX_RESPONSE") ?
	    strtoull(env("ETCDTOOL_MAX_RESPONSE"), NULL, 10) : 0;
	if (etcd_open(&o, &c, &e) == -1) {
		free(list);
		return fail(&e);
	}
	if ((strcmp(argv[1], "get") == 0 || strcmp(argv[1], "getp") == 0) && argc == 3) {
		if (etcd_get(c, argv[2], argv[1][3] == 'p', &r, &e) == 0) {
			printf("rev %lld\n", (long long)r.revision);
			for (i = 0; i < r.n; i++)
				print_kv(&r.kvs[i]);
			rc = 0;
		}
		etcd_range_free(&r);
	} else if (strcmp(argv[1], "put") == 0 && argc == 4) {
		if (etcd_put(c, argv[2], argv[3], strlen(argv[3]), &rev, &e) == 0) {
			printf("rev %lld\n", (long long)rev);
			rc = 0;
		}
	} else if (strcmp(argv[1], "putsize") == 0 && argc == 4) {
		size_t n = strtoull(argv[3], NULL, 10);
		char *v = malloc(n ? n : 1);

		if (v == NULL)
			return 1;
		memset(v, 'x', n);
		if (etcd_put(c, argv[2], v, n, &rev, &e) == 0) {
			printf("rev %lld\n", (long long)rev);
			rc = 0;
		}
		free(v);
	} else if (strcmp(argv[1], "cas") == 0 && argc == 5) {
		struct etcd_op op = { ETCD_OP_PUT, argv[2], argv[4], strlen(argv[4]), 0 };

		if (etcd_txn(c, argv[2], atoll(argv[3]), &op, 1, &won, &rev, &e) == 0) {
			if (won)
				printf("won rev %lld\n", (long long)rev);
			else
				printf("lost\n");
			rc = 0;
		}
	} else if (strcmp(argv[1], "txnput") == 0 && argc == 4) {
		size_t n = strtoull(argv[2], NULL, 10);
		struct etcd_op *ops = calloc(n ? n : 1, sizeof *ops);
		char (*keys)[64] = calloc(n ? n : 1, 64);

		if (ops == NULL || keys == NULL)
			return 1;
		for (i = 0; i < n; i++) {
			snprintf(keys[i], 64, "%.40s%zu", argv[3], i);
			ops[i] = (struct etcd_op){ ETCD_OP_PUT, keys[i], "v", 1, 0 };
		}
		if (etcd_txn(c, NULL, 0, ops, n, &won, &rev, &e) == 0) {
			printf("rev %lld\n", (long long)rev);
			rc = 0;
		}
		free(ops);
		free(keys);
	} else if (strcmp(argv[1], "reachable") == 0 && argc == 2) {
		if (etcd_reachable(c, &e) == 0) {
			printf("reachable %s\n", etcd_endpoint(c));
			rc = 0;
		}
	} else if (strcmp(argv[1], "watch") == 0 && (argc == 5 || argc == 6)) {
		want_events = atol(argv[4]);
		max_lost = argc == 6 ? atol(argv[5]) : 0;
		if (etcd_watch(c, argv[2], atoll(argv[3]), on_event, NULL, &compact, &e) == 0)
			rc = max_lost > 0 && nlost >= max_lost ? 3 : (want_events > 0 &&
			    nevents >= want_events ? 0 : 4);
		else if (compact > 0)
			printf("compact %lld\n", (long long)compact);
	} else {
		fprintf(stderr, "etcdtool: unknown command or arguments\n");
		rc = 2;
	}
	if (rc == 1 && e.code)
		fail(&e);
	etcd_close(c);
	free(list);
	return rc;
}
