/* policy/fleetstatus.c - the fleet follower's status file; see fleetstatus.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../crypto/file.h"
#include "fleetstatus.h"

int
fleetstatus_path(const struct cfg *c, char *out, struct cs_err *e)
{
	int n;

	if (c->fleet.role == FLEET_ROLE_NONE || c->fleet.name == NULL)
		return cs_err_set(e, EINVAL, "no [fleet] in the configuration");
	n = snprintf(out, PATH_MAX, "%s/fleet-%s.status", c->state_dir, c->fleet.name);
	if (n < 0 || n >= PATH_MAX)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long", c->state_dir);
	return 0;
}

int
fleetstatus_write(const char *path, const struct fleet_status *s, struct cs_err *e)
{
	json_t *o;
	char *text;
	int rc;

	o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:b, s:s, s:b, s:b, s:s}", "fleet",
	    s->fleet, "host", s->host, "generation", (json_int_t)s->generation,
	    "vault_generation", (json_int_t)s->vault_generation, "fingerprint",
	    s->fingerprint, "applied", (json_int_t)s->applied, "confirmed",
	    (json_int_t)s->confirmed, "reachable", s->reachable, "endpoint", s->endpoint,
	    "refused", s->refused, "pending", s->pending, "detail", s->detail);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return cs_err_sys(e, ENOMEM, "%s", path);
	}
	json_decref(o);
	rc = file_write_atomic(path, text, strlen(text), 0, NULL, e);
	free(text);
	return rc;
}

void
fleetstatus_refusal(struct fleet_status *s, const char *reason)
{
	char shown[CS_SHOW_BUF(200)];

	s->refused = 1;
	snprintf(s->detail, sizeof s->detail, "update refused: %s",
	    cs_show(reason, strlen(reason), 200, shown, sizeof shown));
}

json_t *
fleetstatus_answer(const struct cfg *c, int64_t now)
{
	char path[PATH_MAX], *buf = NULL;
	struct cs_err e = { 0 };
	json_t *o = NULL, *r, *cf;
	json_error_t jerr;
	size_t len = 0;
	int stale;

	if (c->fleet.role == FLEET_ROLE_NONE)
		return json_pack("{s:n}", "fleet");
	if (fleetstatus_path(c, path, &e) == 0 &&
	    file_read(path, "fleet status", FLEET_STATUS_MAX_BYTES, &buf, &len, &e) == 0)
		o = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!json_is_object(o)) {
		json_decref(o);
		return json_pack("{s:s?, s:s, s:n, s:b, s:b, s:s}", "fleet", c->fleet.name,
		    "role", c->fleet.role == FLEET_ROLE_ADMIN ? "admin" : "member",
		    "generation", "reachable", 0, "stale", c->fleet.role == FLEET_ROLE_MEMBER,
		    "detail", c->fleet.role == FLEET_ROLE_ADMIN ? "this host is the fleet's admin: "
		    "it publishes, it does not follow; nothing published from it yet" :
		    e.msg[0] ? e.msg :
		    "no status written yet (is the follower running?)");
	}
	r = json_object_get(o, "reachable");
	cf = json_object_get(o, "confirmed");
	if (c->fleet.role == FLEET_ROLE_ADMIN)
		stale = json_is_true(json_object_get(o, "pending"));
	else
		stale = !json_is_true(r) || !json_is_integer(cf) ||
		    now - (int64_t)json_integer_value(cf) > FLEET_STALE_SECONDS ||
		    json_is_true(json_object_get(o, "refused"));
	if (json_object_set_new(o, "stale", json_boolean(stale)) == -1 ||
	    json_object_set_new(o, "role", json_string(c->fleet.role == FLEET_ROLE_ADMIN ?
	    "admin" : "member")) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}
