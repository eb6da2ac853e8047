# tests/fleet_lib.sh - an admin and member hosts of one fleet, for the fleet's scripts.
# Source it after tests/lib.sh and tests/etcd.sh, once etcd_cluster_start has run:
#   fleet_admin                 # $T/admin: vault, signing key, hosts file; [fleet] admin
#   fleet_member NAME           # $T/NAME: host key, config; enrolled by the admin
#   fleet_follow NAME           # starts NAME's follower (pid in $T/NAME/follow.pid)
#   fleet_unfollow NAME [SIG]   # stops it (TERM, or SIG) and waits
#   fleet_mount NAME            # mounts NAME's vault on $T/NAME/mnt (pid in .../csfs.pid)
#   adm ARGS / hst NAME ARGS    # the CLI with the admin's or NAME's config
# Every process started here is ended by its pid at exit.
FLEET_PREFIX=/cs-test/fleet/

# _fleet_ini DIR: the [vault] and [audit] part of a host's config.
_fleet_ini() {
	cat <<EOF2
[vault]
path = $1/vault.json
key_file = $1/key
state_dir = $1/floor
[audit]
path = $1/audit.log
flush = none
[fleet]
name = t
endpoints = $ETCD_ENDPOINTS
prefix = $FLEET_PREFIX
EOF2
	if [ -n "$ETCD_CA" ]; then
		printf 'ca = %s\ncert = %s\nkey = %s\n' "$ETCD_CA" "$ETCD_CERT" "$ETCD_KEY"
	fi
}

adm() { "$CS" --config "$T/admin/cs.ini" "$@"; }
hst() { _h=$1; shift; "$CS" --config "$T/$_h/cs.ini" "$@"; }

fleet_admin() {
	mkdir -p "$T/admin"
	{ _fleet_ini "$T/admin"
	  printf 'role = admin\nsigning_key = %s\nhosts_file = %s\n' "$T/admin/sign.key" \
	      "$T/admin/hosts"
	  if [ -n "$ETCD_ROOT_PASSWORD" ]; then
		printf 'user = fleet-admin\npassword_file = %s\n' "$T/admin/etcd.password"
	  fi
	} >"$T/admin/cs.ini"
	if [ -n "$ETCD_ROOT_PASSWORD" ]; then
		printf 'admin-pw\n' >"$T/admin/etcd.password"
		chmod 0600 "$T/admin/etcd.password"
		etcd_add_user fleet-admin admin-pw fleet-admin "$FLEET_PREFIX" readwrite
		etcd_add_user fleet-host host-pw fleet-host "$FLEET_PREFIX" readonly
	fi
	adm init >/dev/null && FLEET_ADMIN_PUB=$(adm fleet init)
}

fleet_member() {
	_d=$T/$1
	mkdir -p "$_d"
	{ _fleet_ini "$_d"
	  printf 'role = member\nadmin_public_key = %s\nhost_key = %s\nhost_name = %s\n' \
	      "$FLEET_ADMIN_PUB" "$_d/host.key" "$1"
	  if [ -n "$ETCD_ROOT_PASSWORD" ]; then
		printf 'user = fleet-host\npassword_file = %s\n' "$_d/etcd.password"
	  fi
	} >"$_d/cs.ini"
	if [ -n "$ETCD_ROOT_PASSWORD" ]; then
		printf 'host-pw\n' >"$_d/etcd.password"
		chmod 0600 "$_d/etcd.password"
	fi
	_pub=$(hst "$1" fleet host-key) && adm fleet add-host "$1" "$_pub" 2>>"$T/admin/publish.log"
}

fleet_follow() {
	"$CS" --config "$T/$1/cs.ini" fleet follow 2>>"$T/$1/follow.err" &
	echo $! >"$T/$1/follow.pid"
	at_exit "kill -KILL $! 2>/dev/null"
}

fleet_unfollow() {
	[ -s "$T/$1/follow.pid" ] || return 0
	_p=$(cat "$T/$1/follow.pid")
	kill -"${2:-TERM}" "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	: >"$T/$1/follow.pid"
}

fleet_mount() {
	mkdir -p "$T/$1/mnt"
	"$CSFS" -f -o "config=$T/$1/cs.ini" "$T/$1/vault.json" "$T/$1/mnt" 2>>"$T/$1/csfs.err" &
	echo $! >"$T/$1/csfs.pid"
	at_exit "kill $! 2>/dev/null"
	wait_until 30 is_mounted "$T/$1/mnt"
}

# fleet_gen NAME: the generation NAME's follower last applied (its status).
fleet_gen() { hst "$1" fleet status | sed -n 's/.*"generation":\([0-9]*\).*/\1/p'; }
# fleet_admin_gen: the generation the admin published last.
fleet_admin_gen() { sed -n 's/^generation //p' "$T/admin/floor/fleet-t.gen"; }
# serves NAME PROVIDER/FIELD VALUE: NAME's mount serves VALUE there.
serves() { [ "$(cat "$T/$1/mnt/$2" 2>/dev/null)" = "$3" ]; }

# fleet_setup3 NAME [OPTION...]: the cluster (etcd_cluster_start OPTION...: --tls
# --auth for TLS and users with roles), the admin, members h1 h2 h3 enrolled,
# following and mounted, serving app/token = v0; FIRST_MANIFEST holds the manifest of
# the first generation they applied. Ends the script when any of it fails.
fleet_setup3() {
	_n=$1; shift
	if ! etcd_cluster_start "$@"; then notok "$_n: the etcd cluster starts"; done_testing; fi
	set -- "$_n"
	fleet_admin || { notok "$1: the admin makes its vault and signing key"; done_testing; }
	for _h in h1 h2 h3; do
		fleet_member "$_h" || { notok "$1: $_h: host key made and enrolled"; done_testing; }
	done
	printf 'v0' | adm set app token 2>>"$T/admin/publish.log"
	for _h in h1 h2 h3; do fleet_follow "$_h"; done
	for _h in h1 h2 h3; do
		wait_until 30 test -s "$T/$_h/vault.json"
		check "$_h: the follower writes the vault, and it mounts" fleet_mount "$_h"
		check "$_h: serves the published value" wait_until 30 serves "$_h" app/token v0
	done
	FIRST_MANIFEST=$T/first.manifest
	etcdctl_root get --print-value-only "${FLEET_PREFIX}manifest" | head -c -1 >"$FIRST_MANIFEST"
}
