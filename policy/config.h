/* policy/config.h - the INI configuration: defaults, then the file, then the environment.
 *
 * One file (inih), /etc/comfysecrets/comfysecrets.ini unless a path is given or
 * COMFYSECRETS_CONFIG names one. Every key is optional. The default file may be missing
 * (the defaults apply); a file that was named explicitly must exist. An unknown section
 * or key, or a bad value, is an error naming file, line and key. After the file, the
 * ComfyVN app's environment names override it: COMFYVN_SECURITY_LOG_FILE replaces the audit
 * path, SANDBOX_NETWORK_ALLOW adds to the allowlist. */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#include "../crypto/err.h"
#include "allow.h"
#include "audit.h"

#define CFG_DEFAULT_PATH	"/etc/comfysecrets/comfysecrets.ini"
#define CFG_DEFAULT_VAULT	"/var/lib/comfysecrets/vault.json"
#define CFG_DEFAULT_KEY_FILE	"/etc/comfysecrets/key"
/* The rollback floor's folder: root's alone, and not the default vault's folder, which
 * may be handed to someone who only has to write the vault (see policy/state.h). */
#define CFG_DEFAULT_STATE_DIR	"/var/lib/comfysecrets-state"
#define CFG_DEFAULT_AUDIT	"/var/log/comfysecrets/audit.log"
#define CFG_ENV_PATH		"COMFYSECRETS_CONFIG"
#define CFG_ENV_AUDIT		"COMFYVN_SECURITY_LOG_FILE"
#define CFG_ENV_ALLOW		"SANDBOX_NETWORK_ALLOW"
#define CFG_AUDIT_TIMEOUT_MS	AUDIT_TIMEOUT_MS_DEFAULT
#define CFG_FLEET_LIFETIME	(30ul * 86400)	/* seconds a published manifest is valid */
/* How long the kernel may keep the vault tree's names and attributes without asking
 * the daemon, in seconds. Every reload invalidates what changed, so this only bounds
 * how long a lost invalidation could last. */
#define CFG_CACHE_TIMEOUT_S	600
#define CFG_CACHE_TIMEOUT_MAX_S	86400

struct cfg_allow {
	char			*pattern;	/* as written, trimmed */
	enum allow_source	 source;
};

struct cfg_provider {
	char	*name;		/* the provider, from [provider.NAME] */
	int	 has_owner, has_group, has_mode;
	uid_t	 owner;		/* names are resolved at load time */
	gid_t	 group;
	mode_t	 mode;		/* of the field files; directories add x where r is set */
};

/* [fleet]: one vault served by many hosts through etcd (docs/fleet.md). Strings are
 * NULL when not set; fleet/ checks that what its role needs is there. */
enum cfg_fleet_role { FLEET_ROLE_NONE, FLEET_ROLE_ADMIN, FLEET_ROLE_MEMBER };

struct cfg_fleet {
	enum cfg_fleet_role	 role;		/* NONE: no [fleet] role given */
	char			*name;		/* the fleet's name */
	char			*endpoints;	/* comma-separated etcd URLs */
	char			*prefix;	/* etcd key prefix; NULL: "/comfysecrets/NAME/" */
	char			*ca, *cert, *key;	/* PEM files for etcd's TLS */
	char			*user, *password_file;	/* etcd role-based access */
	char			*signing_key;	/* admin: Ed25519 seed file */
	char			*hosts_file;	/* admin: enrolled hosts */
	char			*admin_public_key;	/* member: the pinned admin key (base64) */
	char			*host_key;	/* member: X25519 key file */
	char			*host_name;	/* member: its name in the fleet */
	unsigned long		 lifetime;	/* seconds from publish to not_after */
};

struct cfg {
	char			*path;		/* the file read, or NULL when none was */
	char			*vault_path;
	char			*key_file;
	char			*state_dir;	/* absolute; holds the rollback floor */
	size_t			 max_value_size;	/* bytes */
	unsigned		 cache_timeout_s;	/* entry and attribute timeout, seconds */
	char			*audit_path;
	int			 audit_fail_closed;
	enum audit_flush	 audit_flush;
	unsigned		 audit_timeout_ms;
	int			 enable_security_api;
	int			 has_audit_group;	/* audit_group was given */
	gid_t			 audit_group;	/* may read the audit log through .control */
	int			 enable_security_sandbox_guard;
	struct cfg_allow	*allow;		/* config's network_allow, then SANDBOX_NETWORK_ALLOW */
	size_t			 nallow;
	struct cfg_provider	*providers;
	size_t			 nproviders;
	struct cfg_fleet	 fleet;
};

/* Loads path (NULL: $COMFYSECRETS_CONFIG, else CFG_DEFAULT_PATH) over the defaults, then
 * applies the environment. Caller frees with cfg_free(). */
int	cfg_load(const char *path, struct cfg **out, struct cs_err *e) CS_NONNULL(2) CS_WUR;
/* The file's text alone (len bytes, NULs refused as in a file) over the defaults, without
 * the environment; name is used in messages (fuzzing, tests). Caller frees with cfg_free(). */
int	cfg_parse(const char *buf, size_t len, const char *name, struct cfg **out,
	    struct cs_err *e) CS_NONNULL(3, 4) CS_WUR;
/* The defaults and the environment only, no file (for the tests: the programs use
 * cfg_load, which is this when the default file is missing). */
int	cfg_defaults(struct cfg **out, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* Replaces a string setting (vault_path, key_file, audit_path) from a command line. */
int	cfg_set_path(char **slot, const char *value, struct cs_err *e) CS_NONNULL(1) CS_WUR;
const struct cfg_provider *cfg_provider(const struct cfg *c, const char *name);
void	cfg_free(struct cfg *c);		/* NULL is fine */

#endif
