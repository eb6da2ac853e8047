/* fleet/follow.c - the member's follower; see follow.h. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "../policy/audit.h"
#include "../policy/fleetstatus.h"
#include "../policy/state.h"
#include "apply.h"
#include "conn.h"
#include "follow.h"
#include "keys.h"
#include "manifest.h"
#include "pack.h"
#include "record.h"

struct follower {
	const struct cfg	*c;
	volatile sig_atomic_t	*stop;
	struct etcd		*etcd;
	struct audit		*audit;
	struct fleet_hostkey	*hk;
	unsigned char		 admin[FLEET_PUB_BYTES];
	char			 prefix[FLEET_PREFIX_MAX];
	char			 mkey[FLEET_ETCD_KEY_MAX];
	char			 recpath[PATH_MAX], statpath[PATH_MAX];
	struct fleet_record	 rec;
	struct fleet_status	 st;
	int64_t			 seen;		/* mod_revision of the manifest last handled */
	char			 refused[CS_ERR_MSG_MAX];	/* the last refusal audited */
	int64_t			 refused_rev;	/* of that manifest; -1: unknown */
	time_t			 last_confirm;
	time_t			 last_try;	/* of a confirmation, answered or not */
	int			 fatal;		/* an error retrying cannot mend */
	int			 statfail;	/* the status file could not be written */
	struct cs_err		 fe;
};

static void
status(struct follower *f)
{
	struct cs_err e = { 0 };

	f->st.generation = f->rec.generation;
	if (f->etcd != NULL)
		snprintf(f->st.endpoint, sizeof f->st.endpoint, "%s", etcd_endpoint(f->etcd));
	memcpy(f->st.fingerprint, f->rec.fpr, sizeof f->st.fingerprint);
	/* Said once per failure streak, naming the folder: the error that matters (etcd's,
	 * a refusal) follows on its own line. */
	if (fleetstatus_write(f->statpath, &f->st, &e) == -1) {
		if (!f->statfail)
			fprintf(stderr, "comfysecrets fleet follow: cannot write the status file "
			    "in state_dir %s: %s\n", f->c->state_dir, strerror(e.code));
		f->statfail = 1;
	} else {
		f->statfail = 0;
	}
	sd_notifyf(0, "STATUS=fleet %s: generation %" PRIu64 ", etcd %s%s%s", f->st.fleet,
	    f->rec.generation, f->st.reachable ? "reachable" : "unreachable",
	    f->st.detail[0] ? ": " : "", f->st.detail);
}

static void
reachable(struct follower *f, int yes, const char *why)
{
	f->st.reachable = yes;
	if (yes) {
		f->last_try = f->last_confirm = time(NULL);
		f->st.confirmed = (int64_t)f->last_confirm;
	}
	/* etcd's trouble first; else the refusal of the newest manifest, if any. */
	if (why != NULL)
		snprintf(f->st.detail, sizeof f->st.detail, "%s", why);
	else if (f->refused[0] != '\0')
		fleetstatus_refusal(&f->st, f->refused);
	else
		f->st.detail[0] = '\0';
	f->st.refused = f->refused[0] != '\0';
	status(f);
}

/* One audit line; a line that cannot be written stops the follower (fail closed: an
 * update applied or refused unrecorded is what the log is there to prevent). */
static void
audit(struct follower *f, const char *event, const char *reason, const char *fpr,
    uint64_t gen)
{
	struct audit_event ev;
	char detail[64];
	struct cs_err e = { 0 };

	memset(&ev, 0, sizeof ev);
	snprintf(detail, sizeof detail, "generation %" PRIu64, gen);
	ev.event = event;
	ev.reason = reason;
	ev.fingerprint = fpr != NULL && fpr[0] != '\0' ? fpr : NULL;
	ev.detail = gen != 0 ? detail : NULL;
	ev.via = "fleet";
	ev.pid = -1;
	if (audit_append(f->audit, &ev, &e) == -1) {
		fprintf(stderr, "comfysecrets fleet follow: audit: %s\n", e.msg);
		if (f->c->audit_fail_closed) {
			f->fatal = 1;
			cs_err_set(&f->fe, e.code, "audit: %s", e.msg);
		}
	}
}

static void
refuse(struct follower *f, int64_t rev, const struct cs_err *why, uint64_t gen)
{
	if (rev == f->refused_rev && strcmp(f->refused, why->msg) == 0)
		return;		/* the same manifest read again: audited once */
	if (rev >= 0)
		f->seen = rev;
	fprintf(stderr, "comfysecrets fleet follow: update refused: %s\n", why->msg);
	f->refused_rev = rev;
	snprintf(f->refused, sizeof f->refused, "%s", why->msg);
	audit(f, "fleet_update_refused", why->msg, NULL, gen);
}

/* Reads one key; ENOENT when it is not there. */
static int
get_one(struct follower *f, const char *key, struct etcd_range *r, struct cs_err *e)
{
	if (etcd_get(f->etcd, key, 0, r, e) == -1)
		return -1;
	if (r->n != 1)
		return cs_err_set(e, ENOENT, "%s: missing", key);
	return 0;
}

/* Checks 4 to 6 and the apply. Returns 0 applied, -1 refused (e: the reason), -2 an
 * etcd error (e), -3 superseded (a part is gone because a newer manifest is out). */
static int
fetch_apply(struct follower *f, const struct fleet_manifest *m, struct cs_err *e)
{
	char key[FLEET_ETCD_KEY_MAX], *buf = NULL;
	struct etcd_range r = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	size_t len = 0, off = 0, i;
	int rc = -1;

	for (i = 0; i < m->nchunks; i++)
		len += m->chunks[i].len;
	if ((buf = malloc(len + 1)) == NULL)
		return cs_err_sys(e, ENOMEM, "vault chunks"), -2;
	for (i = 0; i < m->nchunks; i++) {
		fleet_key_chunk(f->prefix, m->generation, i, key);
		if (get_one(f, key, &r, e) == -1) {
			rc = e->code == ENOENT ? -3 : -2;
			goto out;
		}
		if (fleet_pack_chunk_ok(m, i, r.kvs[0].value, r.kvs[0].len, e) == -1)
			goto out;
		memcpy(buf + off, r.kvs[0].value, r.kvs[0].len);
		off += r.kvs[0].len;
		etcd_range_free(&r);
	}
	buf[len] = '\0';
	fleet_key_sealed(f->prefix, m->generation, f->c->fleet.host_name, key);
	if (fleet_manifest_host(m, f->c->fleet.host_name) == NULL) {
		cs_err_set(e, ENOENT, "host %s is not in the manifest of generation %" PRIu64
		    " (removed from the fleet, or not enrolled)", f->c->fleet.host_name,
		    m->generation);
		goto out;
	}
	if (get_one(f, key, &r, e) == -1) {
		rc = e->code == ENOENT ? -3 : -2;
		goto out;
	}
	if (fleet_pack_sealed_ok(m, f->c->fleet.host_name, r.kvs[0].value, r.kvs[0].len,
	    e) == -1 || fleet_unseal(r.kvs[0].value, r.kvs[0].len, f->hk, &k, e) == -1 ||
	    fleet_pack_check(m, k, buf, len, &v, e) == -1)
		goto out;
	if (fleet_apply(f->c, k, buf, len, v, e) == -1)
		goto out;
	f->rec.generation = m->generation;
	memcpy(f->rec.fpr, m->fpr, sizeof f->rec.fpr);
	f->st.applied = (int64_t)time(NULL);
	f->st.vault_generation = vault_generation(v);
	if (fleet_record_write(f->recpath, &f->rec, e) == -1) {
		/* The vault is in place; the record lags and the manifest is applied again
		 * at the next read, which writes the same bytes. */
		rc = -2;
		goto out;
	}
	rc = 0;
out:
	etcd_range_free(&r);
	vault_close(v);
	key_free(k);
	free(buf);
	return rc;
}

/* Reads the manifest and handles it. Returns the revision to watch from (the answer's
 * header revision), or -1 with e set when etcd did not answer. */
static int64_t
sync_manifest(struct follower *f, struct cs_err *e)
{
	struct fleet_manifest *m = NULL;
	struct etcd_range r = { 0 };
	struct cs_err why = { 0 };
	int64_t rev, hdr;
	int rc;

	if (etcd_get(f->etcd, f->mkey, 0, &r, e) == -1) {
		etcd_range_free(&r);
		if (e->code != ETCD_ETOOBIG)
			return -1;
		/* An answer too big to take is a hostile manifest: refused, and the watch
		 * resumes past it from the revision of a small read. */
		cs_err_set(&why, EFBIG, "manifest: larger than %u bytes", FLEET_MAX_RESPONSE);
		refuse(f, -1, &why, 0);
		cs_err_clear(e);
		if (etcd_get(f->etcd, f->prefix, 0, &r, e) == -1) {
			etcd_range_free(&r);
			return -1;
		}
		hdr = r.revision;
		etcd_range_free(&r);
		return hdr;
	}
	hdr = r.revision;
	if (r.n == 0 || r.kvs[0].mod_revision == f->seen) {
		etcd_range_free(&r);
		return hdr;
	}
	rev = r.kvs[0].mod_revision;
	if (fleet_manifest_open(r.kvs[0].value, r.kvs[0].len, f->admin, &m, &why) == -1) {
		refuse(f, rev, &why, 0);
		goto done;
	}
	if (strcmp(m->fleet, f->c->fleet.name) != 0) {
		cs_err_set(&why, EINVAL, "manifest of fleet %s; this host follows %s", m->fleet,
		    f->c->fleet.name);
		refuse(f, rev, &why, m->generation);
		goto done;
	}
	if (m->not_after < (int64_t)time(NULL)) {
		cs_err_set(&why, EKEYEXPIRED, "manifest of generation %" PRIu64 " expired at "
		    "%" PRId64 " (not_after)", m->generation, m->not_after);
		refuse(f, rev, &why, m->generation);
		goto done;
	}
	if (m->generation <= f->rec.generation) {
		if (m->generation == f->rec.generation && strcmp(m->fpr, f->rec.fpr) == 0) {
			f->seen = rev;	/* what this host already serves */
			f->refused[0] = '\0';
			goto done;
		}
		cs_err_set(&why, ESTALE, "generation %" PRIu64 " is not above generation %"
		    PRIu64 " applied here (an old manifest replayed?)", m->generation,
		    f->rec.generation);
		refuse(f, rev, &why, m->generation);
		goto done;
	}
	rc = fetch_apply(f, m, &why);
	if (rc == 0) {
		f->seen = rev;
		f->refused[0] = '\0';
		audit(f, "fleet_update_applied", NULL, m->fpr, m->generation);
		fprintf(stderr, "comfysecrets fleet follow: applied generation %" PRIu64
		    " (key %s)\n", m->generation, m->fpr);
	} else if (rc == -1) {
		refuse(f, rev, &why, m->generation);
	} else if (rc == -2) {
		fleet_manifest_free(m);
		etcd_range_free(&r);
		return cs_err_set(e, why.code, "%s", why.msg);
	}
	/* -3: superseded; the watch sees the newer manifest. */
done:
	fleet_manifest_free(m);
	etcd_range_free(&r);
	return hdr;
}

/* The watch's callback: any change of the manifest ends the watch, to read it again. */
static int
on_event(void *arg, const struct etcd_event *ev)
{
	struct follower *f = arg;
	struct cs_err e = { 0 };

	if (*f->stop)
		return 1;
	switch (ev->type) {
	case ETCD_EV_PUT:
	case ETCD_EV_DELETE:
		return strcmp(ev->kv->key, f->mkey) == 0;
	case ETCD_EV_SYNCED:
		reachable(f, 1, NULL);
		return 0;
	case ETCD_EV_LOST:
		reachable(f, 0, ev->err != NULL ? ev->err->msg : "watch lost");
		return 0;
	case ETCD_EV_TICK:
		/* Also while unreachable: a confirmation that etcd answers again (a user
		 * accepted again, a member back) clears the status. */
		if (time(NULL) - f->last_try >= FOLLOW_CONFIRM_S) {
			f->last_try = time(NULL);
			if (etcd_reachable(f->etcd, &e) == 0)
				reachable(f, 1, NULL);
			else
				reachable(f, 0, e.msg);
		}
		return 0;
	}
	return 0;
}

static void
pause_ms(volatile sig_atomic_t *stop, unsigned ms)
{
	while (ms > 0 && !*stop) {
		unsigned step = ms < 100 ? ms : 100;

		usleep(step * 1000);
		ms -= step;
	}
}

static int
setup(struct follower *f, const struct cfg *c, struct cs_err *e)
{
	const char *from = NULL;

	if (fleet_conf_check(c, FLEET_ROLE_MEMBER, "follow", e) == -1 ||
	    fleet_prefix(c, f->prefix, e) == -1 ||
	    fleet_pub_parse(c->fleet.admin_public_key, "[fleet] admin_public_key", f->admin,
	    e) == -1 ||
	    fleet_hostkey_load(c->fleet.host_key, &f->hk, &from, e) == -1 ||
	    fleet_record_path(c->state_dir, c->fleet.name, f->recpath, e) == -1 ||
	    fleetstatus_path(c, f->statpath, e) == -1 ||
	    fleet_record_read(f->recpath, &f->rec, e) == -1 ||
	    audit_open(c->audit_path, c->audit_flush, c->audit_timeout_ms, &f->audit, e) == -1 ||
	    fleet_connect(c, &f->etcd, e) == -1)
		return -1;
	/* state_dir holds the record and the status file: made as the record's writer
	 * makes it, so that the first status is written before etcd first answers. */
	if (mkdir(c->state_dir, 0700) == -1 && errno != EEXIST)
		return cs_err_sys(e, errno, "state_dir %s", c->state_dir);
	etcd_set_stop(f->etcd, f->stop);
	fleet_key_manifest(f->prefix, f->mkey);
	/* What this host serves from before this start: the record's time and the floor's
	 * vault generation (what the last apply moved it to). */
	if (f->rec.generation != 0) {
		struct cs_state fl;
		struct stat sb;

		if (stat(f->recpath, &sb) == 0)
			f->st.applied = (int64_t)sb.st_mtime;
		if (state_read(c->state_dir, c->vault_path, &fl, e) == -1)
			return -1;
		f->st.vault_generation = fl.generation;
	}
	snprintf(f->st.fleet, sizeof f->st.fleet, "%s", c->fleet.name);
	snprintf(f->st.host, sizeof f->st.host, "%s", c->fleet.host_name);
	return 0;
}

int
fleet_follow(const struct cfg *c, volatile sig_atomic_t *stop, int once, struct cs_err *e)
{
	struct follower f;
	struct cs_err we = { 0 };
	unsigned backoff = 100;
	int64_t rev, compact = 0;
	int ready = 0, rc = -1;

	memset(&f, 0, sizeof f);
	f.c = c;
	f.stop = stop;
	if (setup(&f, c, e) == -1)
		goto out;
	while (!*stop && !f.fatal) {
		memset(&we, 0, sizeof we);
		rev = sync_manifest(&f, &we);
		if (f.fatal)
			break;
		/* etcd refusing this user (auth turned on later, a password changed, a
		 * role revoked) is mended by whoever runs etcd: like an outage, the last
		 * verified vault stays served, the status says why, and the read is retried
		 * with backoff. */
		if (rev < 0) {
			reachable(&f, 0, we.msg);
		} else {
			reachable(&f, 1, NULL);
			backoff = 100;
		}
		if (!ready) {
			sd_notify(0, "READY=1");
			ready = 1;
		}
		if (once) {
			if (rev < 0)
				cs_err_set(e, we.code, "%s", we.msg);
			else if (f.refused[0] != '\0')
				cs_err_set(e, EPERM, "update refused: %s", f.refused);
			else
				rc = 0;
			goto out;
		}
		if (rev < 0) {
			pause_ms(stop, backoff);
			backoff = backoff * 2 > FOLLOW_BACKOFF_MAX_MS ? FOLLOW_BACKOFF_MAX_MS :
			    backoff * 2;
			continue;
		}
		memset(&we, 0, sizeof we);
		if (etcd_watch(f.etcd, f.mkey, rev + 1, on_event, &f, &compact, &we) == -1) {
			/* Compacted: read everything again (the loop does). Anything else
			 * fatal to the watch (etcd refusing the user too): report, back off,
			 * read again. */
			if (we.code != ETCD_ECOMPACTED) {
				reachable(&f, 0, we.msg);
				pause_ms(stop, backoff);
				backoff = backoff * 2 > FOLLOW_BACKOFF_MAX_MS ?
				    FOLLOW_BACKOFF_MAX_MS : backoff * 2;
			}
		}
	}
	if (f.fatal)
		cs_err_set(e, f.fe.code, "%s", f.fe.msg);
	else
		rc = 0;
out:
	sd_notify(0, "STOPPING=1");
	etcd_close(f.etcd);
	audit_close(f.audit);
	fleet_hostkey_free(f.hk);
	return rc;
}
