/* cli/cmd_fleet.c - `comfysecrets fleet ...`: the admin's and the members' fleet commands,
 * and the publish that follows a change on the admin (cli_fleet_after).
 *
 * The work is in fleet/; this file parses arguments, prints, and keeps the rule that on
 * a member nothing changes the vault but the follower. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../fleet/conn.h"
#include "../fleet/follow.h"
#include "../fleet/hosts.h"
#include "../fleet/keys.h"
#include "../fleet/publish.h"
#include "../policy/audit.h"
#include "../policy/fleetstatus.h"
#include "cli.h"

static volatile sig_atomic_t stop_flag;

static void
on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The admin's status file (policy/fleetstatus.h): what it last published, and whether a
 * change saved here is waiting to be published (pending). p NULL: keep what the file
 * says was published, mark pending. A file that cannot be written is said, not fatal:
 * the publish itself has happened or failed already. */
static void
admin_status(struct cli *c, const struct fleet_published *p)
{
	struct fleet_status st;
	struct cs_err e = { 0 };
	char path[PATH_MAX];
	json_t *o = NULL, *v;

	if (fleetstatus_path(c->cfg, path, &e) == -1)
		goto fail;
	memset(&st, 0, sizeof st);
	snprintf(st.fleet, sizeof st.fleet, "%s", c->cfg->fleet.name);
	if (p != NULL) {
		st.generation = p->generation;
		st.vault_generation = p->vault_generation;
		snprintf(st.fingerprint, sizeof st.fingerprint, "%s", p->fpr);
		st.applied = st.confirmed = (int64_t)time(NULL);
		st.reachable = 1;
	} else {
		if ((o = fleetstatus_answer(c->cfg, (int64_t)time(NULL))) == NULL) {
			cs_err_set(&e, ENOMEM, "out of memory");
			goto fail;
		}
		if (json_is_integer(v = json_object_get(o, "generation")))
			st.generation = (uint64_t)json_integer_value(v);
		if (json_is_integer(v = json_object_get(o, "vault_generation")))
			st.vault_generation = (uint64_t)json_integer_value(v);
		if (json_is_integer(v = json_object_get(o, "applied")))
			st.applied = json_integer_value(v);
		if (json_is_string(v = json_object_get(o, "fingerprint")))
			snprintf(st.fingerprint, sizeof st.fingerprint, "%s",
			    json_string_value(v));
		json_decref(o);
		st.pending = 1;
		snprintf(st.detail, sizeof st.detail, "a change saved on this host was not "
		    "published: run comfysecrets fleet publish");
	}
	if (fleetstatus_write(path, &st, &e) == 0)
		return;
fail:
	fprintf(stderr, "comfysecrets: fleet status not recorded: %s\n", e.msg);
}

static int
publish(struct cli *c, const char *after)
{
	struct fleet_published p;
	struct audit_event ev;
	struct cs_err e = { 0 };
	char detail[64];

	if (fleet_publish(c->cfg, &p, &e) == -1) {
		if (after != NULL) {
			fprintf(stderr, "comfysecrets: %s is saved on this host but was NOT "
			    "published to fleet %s\n", after, c->cfg->fleet.name);
			admin_status(c, NULL);
		}
		return cli_fail(&e);
	}
	fprintf(stderr, "comfysecrets: published fleet generation %" PRIu64 " of fleet %s "
	    "(vault generation %" PRIu64 ", key %s): %zu chunk%s, %zu host%s, %zu bytes in "
	    "%.3f s\n", p.generation, c->cfg->fleet.name, p.vault_generation, p.fpr, p.chunks,
	    p.chunks == 1 ? "" : "s", p.hosts, p.hosts == 1 ? "" : "s", p.bytes, p.seconds);
	admin_status(c, &p);
	memset(&ev, 0, sizeof ev);
	snprintf(detail, sizeof detail, "generation %" PRIu64, p.generation);
	ev.event = "fleet_published";
	ev.fingerprint = p.fpr;
	ev.detail = detail;
	if (cli_audit(c, &ev, &e) == -1)
		return cli_fail(&e);
	return EXIT_OK;
}

int
cli_fleet_guard(struct cli *c, const char *cmd)
{
	const struct cfg_fleet *f = &c->cfg->fleet;
	struct cs_err e = { 0 }, pe = { 0 };
	char prefix[FLEET_PREFIX_MAX];

	if (f->role != FLEET_ROLE_MEMBER)
		return EXIT_OK;
	if (f->name == NULL || fleet_prefix(c->cfg, prefix, &pe) == -1)
		snprintf(prefix, sizeof prefix, "%s", f->prefix != NULL ? f->prefix : "default");
	cs_err_set(&e, EPERM, "%s: this vault belongs to fleet %s and is published from its "
	    "admin host through etcd (%s, prefix %s); change it there", cmd,
	    f->name != NULL ? f->name : "(unnamed)",
	    f->endpoints != NULL ? f->endpoints : "no endpoints set", prefix);
	return cli_fail(&e);
}

int
cli_fleet_after(struct cli *c, const char *cmd)
{
	if (c->cfg->fleet.role != FLEET_ROLE_ADMIN)
		return EXIT_OK;
	return publish(c, cmd);
}

static int
cmd_init_key(struct cli *c, int argc, char **argv, int admin)
{
	const char *path = admin ? c->cfg->fleet.signing_key : c->cfg->fleet.host_key;
	const char *what = admin ? "init" : "host-key";
	char pub[FLEET_PUB_B64];
	struct cs_err e = { 0 };

	if (argc > 2)
		return cli_usage("fleet", admin ? "init takes at most a PATH" :
		    "host-key takes at most a PATH");
	if (admin && c->cfg->fleet.role == FLEET_ROLE_MEMBER) {
		cs_err_set(&e, EPERM, "fleet init: this host is a fleet member; the signing "
		    "key is made on the admin host (a member needs only `fleet host-key`)");
		return cli_fail(&e);
	}
	if (argc == 2)
		path = argv[1];
	if (path == NULL) {
		cs_err_set(&e, EINVAL, "fleet %s: no path: give one, or set [fleet] %s", what,
		    admin ? "signing_key" : "host_key");
		return cli_fail(&e);
	}
	if ((admin ? fleet_signer_create(path, pub, &e) :
	    fleet_hostkey_create(path, pub, &e)) == -1)
		return cli_fail(&e);
	printf("%s\n", pub);
	return EXIT_OK;
}

static int
edit_hosts(struct cli *c, int argc, char **argv, int add)
{
	unsigned char pk[FLEET_PUB_BYTES];
	struct fleet_hosts hs = { 0 };
	struct audit_event ev;
	struct cs_err e = { 0 };
	char detail[FLEET_NAME_MAX + 64];
	char *rot[] = { "rotate", NULL };
	int rc;

	if (argc != (add ? 3 : 2))
		return cli_usage("fleet", add ? "add-host needs NAME PUBKEY" : "rm-host needs NAME");
	if (fleet_conf_check(c->cfg, FLEET_ROLE_ADMIN, argv[0], &e) == -1 ||
	    (add && fleet_pub_parse(argv[2], "add-host", pk, &e) == -1) ||
	    fleet_hosts_read(c->cfg->fleet.hosts_file, &hs, &e) == -1)
		return cli_fail(&e);
	rc = add ? fleet_hosts_add(&hs, argv[1], pk, &e) : fleet_hosts_rm(&hs, argv[1], &e);
	if (rc == 0)
		rc = fleet_hosts_write(c->cfg->fleet.hosts_file, &hs, &e);
	fleet_hosts_free(&hs);
	if (rc == -1)
		return cli_fail(&e);
	fprintf(stderr, "comfysecrets: host %s %s\n", argv[1], add ? "enrolled" : "removed");
	/* Names only: the host's public key is in the hosts file, not the log. */
	memset(&ev, 0, sizeof ev);
	ev.event = add ? "fleet_host_added" : "fleet_host_removed";
	snprintf(detail, sizeof detail, "host %s%s", argv[1], add ? "" :
	    "; the key is rotated next so that it opens nothing published from now on");
	ev.detail = detail;
	if (cli_audit(c, &ev, &e) == -1)
		return cli_fail(&e);
	/* A removed host still holds the old key: a new key, so that nothing published
	 * from now on opens with it. */
	if (!add && (rc = cmd_rotate(c, 1, rot)) != EXIT_OK) {
		fprintf(stderr, "comfysecrets: host %s is removed, but the key was NOT rotated: "
		    "run comfysecrets rotate\n", argv[1]);
		return rc;
	}
	return publish(c, add ? "the enrolment" : "the removal");
}

static int
status(struct cli *c)
{
	json_t *o = fleetstatus_answer(c->cfg, (int64_t)time(NULL));
	char *s;

	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		fprintf(stderr, "comfysecrets: out of memory\n");
		return EXIT_FAIL;
	}
	printf("%s\n", s);
	free(s);
	json_decref(o);
	return EXIT_OK;
}

static int
hosts(struct cli *c)
{
	struct fleet_hosts hs = { 0 };
	struct cs_err e = { 0 };
	char pub[FLEET_PUB_B64];
	size_t i;

	if (fleet_conf_check(c->cfg, FLEET_ROLE_ADMIN, "hosts", &e) == -1 ||
	    fleet_hosts_read(c->cfg->fleet.hosts_file, &hs, &e) == -1)
		return cli_fail(&e);
	for (i = 0; i < hs.n; i++) {
		fleet_pub_text(hs.h[i].pk, pub);
		printf("%s %s\n", hs.h[i].name, pub);
	}
	fleet_hosts_free(&hs);
	return EXIT_OK;
}

static int
follow(struct cli *c, int argc, char **argv)
{
	struct sigaction sa;
	struct cs_err e = { 0 };
	int once = argc == 2 && strcmp(argv[1], "--once") == 0;

	if (argc > 2 || (argc == 2 && !once))
		return cli_usage("fleet", "follow takes only --once");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (fleet_follow(c->cfg, &stop_flag, once, &e) == -1)
		return cli_fail(&e);
	return EXIT_OK;
}

int
cmd_fleet(struct cli *c, int argc, char **argv)
{
	const char *sub;

	if (argc < 2)
		return cli_usage("fleet", "needs a subcommand");
	sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return cli_help("fleet");
	if (strcmp(sub, "init") == 0)
		return cmd_init_key(c, argc, argv, 1);
	if (strcmp(sub, "host-key") == 0)
		return cmd_init_key(c, argc, argv, 0);
	if (strcmp(sub, "add-host") == 0)
		return edit_hosts(c, argc, argv, 1);
	if (strcmp(sub, "rm-host") == 0)
		return edit_hosts(c, argc, argv, 0);
	if (strcmp(sub, "hosts") == 0 && argc == 1)
		return hosts(c);
	if (strcmp(sub, "publish") == 0 && argc == 1)
		return publish(c, NULL);
	if (strcmp(sub, "follow") == 0)
		return follow(c, argc, argv);
	if (strcmp(sub, "status") == 0 && argc == 1)
		return status(c);
	return cli_bad_sub("fleet", sub,
	    "init host-key add-host rm-host hosts publish follow status");
}
