/* fleet/conn.c - [fleet] settings checked, and the etcd client made from them; see conn.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

int
fleet_conf_check(const struct cfg *c, enum cfg_fleet_role role, const char *what,
    struct cs_err *e)
{
	const struct cfg_fleet *f = &c->fleet;
	const char *missing = NULL;

	if (f->role != role)
		return cs_err_set(e, EINVAL, "%s: this host is %s; set [fleet] role = %s in %s",
		    what, f->role == FLEET_ROLE_NONE ? "not in a fleet" :
		    f->role == FLEET_ROLE_ADMIN ? "the fleet's admin" : "a fleet member",
		    role == FLEET_ROLE_ADMIN ? "admin" : "member",
		    c->path != NULL ? c->path : CFG_DEFAULT_PATH);
	if (f->name == NULL)
		missing = "name";
	else if (f->endpoints == NULL)
		missing = "endpoints";
	else if (role == FLEET_ROLE_ADMIN && f->signing_key == NULL)
		missing = "signing_key";
	else if (role == FLEET_ROLE_ADMIN && f->hosts_file == NULL)
		missing = "hosts_file";
	else if (role == FLEET_ROLE_MEMBER && f->admin_public_key == NULL)
		missing = "admin_public_key";
	else if (role == FLEET_ROLE_MEMBER && f->host_name == NULL)
		missing = "host_name";
	if (missing != NULL)
		return cs_err_set(e, EINVAL, "%s: [fleet] %s is not set in %s", what, missing,
		    c->path != NULL ? c->path : CFG_DEFAULT_PATH);
	if (!fleet_name_ok(f->name) || (f->host_name != NULL && !fleet_name_ok(f->host_name)))
		return cs_err_set(e, EINVAL, "%s: [fleet] name and host_name must match "
		    "[a-z0-9][a-z0-9._-]{0,63}", what);
	return 0;
}

int
fleet_prefix(const struct cfg *c, char *out, struct cs_err *e)
{
	int n;

	if (c->fleet.prefix != NULL)
		n = snprintf(out, FLEET_PREFIX_MAX, "%s", c->fleet.prefix);
	else
		n = snprintf(out, FLEET_PREFIX_MAX, "/comfysecrets/%s/", c->fleet.name);
	if (n <= 0 || n >= FLEET_PREFIX_MAX)
		return cs_err_set(e, EINVAL, "[fleet] prefix: 1 to %d bytes", FLEET_PREFIX_MAX - 1);
	return 0;
}

int
fleet_connect(const struct cfg *c, struct etcd **out, struct cs_err *e)
{
	const char *ep[ETCD_ENDPOINTS_MAX];
	struct etcd_opts o;
	char *list, *p, *save = NULL;
	size_t n = 0;
	int rc;

	if ((list = strdup(c->fleet.endpoints)) == NULL)
		return cs_err_sys(e, ENOMEM, "endpoints");
	for (p = strtok_r(list, ", ", &save); p != NULL; p = strtok_r(NULL, ", ", &save)) {
		if (n == ETCD_ENDPOINTS_MAX) {
			free(list);
			return cs_err_set(e, EINVAL, "[fleet] endpoints: at most %d",
			    ETCD_ENDPOINTS_MAX);
		}
		ep[n++] = p;
	}
	memset(&o, 0, sizeof o);
	o.endpoints = ep;
	o.nendpoints = n;
	o.ca = c->fleet.ca;
	o.cert = c->fleet.cert;
	o.key = c->fleet.key;
	o.user = c->fleet.user;
	o.password_file = c->fleet.password_file;
	o.timeout_ms = FLEET_TIMEOUT_MS;
	o.max_response = FLEET_MAX_RESPONSE;
	rc = etcd_open(&o, out, e);
	free(list);
	return rc;
}
