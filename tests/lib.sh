# tests/lib.sh - helpers for integration scripts. Source it, then call
#   ok NAME / notok NAME [why] / check NAME cmd... / skip NAME reason
# and finish with `done_testing`. Every check prints one line that tests/run counts.
# CS and CSFS are the binaries under test; T is a private temporary folder that is
# removed (and any mount under it unmounted) when the script exits, pass or fail.
set -u
: "${BUILD:=build}"
CS="$(pwd)/$BUILD/comfysecrets"
CSFS="$(pwd)/$BUILD/comfysecretsfs"
TOP=$(pwd)
T=$(mktemp -d /tmp/cs-it.XXXXXX)
_failed=0
_cleanup_hooks=""

at_exit() { _cleanup_hooks="$_cleanup_hooks
$*"; }
_cleanup() {
	eval "$_cleanup_hooks" 2>/dev/null
	for m in $(awk -v t="$T" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
	done
	rm -rf "$T"
}
trap _cleanup EXIT

ok()    { echo "ok - $1"; }
notok() { echo "not ok - $1${2:+: $2}"; _failed=1; }
skip()  { echo "SKIPPED - $1: $2"; }
# check NAME cmd...: passes when cmd exits 0.
check() {
	_n=$1; shift
	if "$@" >"$T/.check.out" 2>&1; then ok "$_n"; else notok "$_n" "$(tail -n 3 "$T/.check.out" | tr '\n' ' ')"; fi
}
# check_fails NAME cmd...: passes when cmd exits non-zero.
check_fails() {
	_n=$1; shift
	if "$@" >"$T/.check.out" 2>&1; then notok "$_n" "expected failure, got success"; else ok "$_n"; fi
}
done_testing() { exit "$_failed"; }

# fuse_usable: 0 when /dev/fuse exists and can be opened, else prints the reason.
fuse_usable() {
	if [ ! -c /dev/fuse ]; then echo "/dev/fuse is missing"; return 1; fi
	if ! ( : <>/dev/fuse ) 2>/dev/null; then echo "/dev/fuse cannot be opened"; return 1; fi
	if ! command -v fusermount3 >/dev/null 2>&1 && [ "$(id -u)" -ne 0 ]; then
		echo "fusermount3 is missing"; return 1; fi
	return 0
}

# cs_init [DIR]: a config, key, vault, rollback floor (DIR/floor) and audit log under
# DIR (default $T/v), created
# with the CLI; csc runs the CLI with that config. Values go in on stdin (printf is a
# shell builtin, so a value never reaches a process's argv).
cs_init() {
	CSD=${1:-$T/v}
	mkdir -p "$CSD"
	cat >"$CSD/cs.ini" <<EOF2
[vault]
path = $CSD/vault.json
key_file = $CSD/key
state_dir = $CSD/floor
[audit]
path = $CSD/audit.log
flush = none
EOF2
	"$CS" --config "$CSD/cs.ini" init >/dev/null
}
csc() { "$CS" --config "$CSD/cs.ini" "$@"; }
# cs_field PROVIDER/FIELD KEY: KEY ("version", "changed") of PROVIDER/FIELD in
# `csc list --json`'s "fields", as printed (a time unquoted; null for none); empty when
# the field is absent.
cs_field() {
	csc list --json | awk -v k="    \"$1\": {" -v key="\"$2\":" '
	    $0 == k { f = 1; next }
	    f && /}/ { exit }
	    f && $1 == key { v = $2; gsub(/[",]/, "", v); print v }'
}

# --- comfysecretsfs (tests/integration/fs_*.sh) ---
# fs_require NAME: when /dev/fuse cannot be used here, prints SKIPPED with the reason and
# ends the script (status 0: a skip is not a pass, tests/run counts it apart).
fs_require() {
	if ! _why=$(fuse_usable); then skip "$1" "$_why"; exit 0; fi
}
# is_mounted DIR: 0 when DIR is a mount point, read from /proc/mounts (DIR is not touched).
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }
# wait_ms MS CMD...: runs CMD every 20 ms until it succeeds (0) or MS have passed (1).
# MS is a hang guard, not a deadline the code must meet: a loaded machine can take many
# times longer than an idle one, so scripts give generous bounds (30 s) and assert no
# duration.
wait_ms() {
	_end=$(( $(now_ms) + $1 )); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$_end" ] || return 1
		sleep 0.02
	done
}
# wait_until SECONDS CMD...: the same in whole seconds.
wait_until() { _s=$1; shift; wait_ms $((_s * 1000)) "$@"; }
# csfs_start MNT [ARG...]: runs `comfysecretsfs -f -o config=$CSD/cs.ini ARG... VAULT MNT`
# on the cs_init vault in the background, stderr appended to $T/csfs.err, and waits (30 s
# at most, or CSFS_START_SECONDS) for the mount. CSFS_PID is the daemon; it is killed at exit, pass or fail.
# Returns 1, showing the daemon's last words, when nothing got mounted.
csfs_start() {
	_mnt=$1; shift
	mkdir -p "$_mnt"
	if is_mounted "$_mnt"; then echo "$_mnt is already mounted" >&2; return 1; fi
	if [ -n "${VG_LOG_DIR:-}" ]; then
		# tests/integration/valgrind_suite.sh: the daemon under memcheck; it reads the
		# logs once the script is over. exec keeps CSFS_PID the daemon's own pid.
		sh -c 'exec valgrind --leak-check=full --errors-for-leak-kinds=definite \
		    --error-exitcode=99 --log-file="$0/vg.%p.log" "$@"' "$VG_LOG_DIR" \
		    "$CSFS" -f -o "config=$CSD/cs.ini" "$@" "$CSD/vault.json" "$_mnt" \
		    2>>"$T/csfs.err" &
	else
		"$CSFS" -f -o "config=$CSD/cs.ini" "$@" "$CSD/vault.json" "$_mnt" 2>>"$T/csfs.err" &
	fi
	CSFS_PID=$!
	at_exit "kill $CSFS_PID"
	if ! wait_until "${CSFS_START_SECONDS:-30}" is_mounted "$_mnt"; then
		tail -n 5 "$T/csfs.err" >&2
		return 1
	fi
}
# csfs_stop MNT [SIGNAL]: SIGTERM (or SIGNAL) to the daemon, SIGKILL 30 s (or
# CSFS_STOP_SECONDS) later if it is
# still there; 0 when it exited 0 and MNT is no longer mounted.
csfs_stop() {
	kill -"${2:-TERM}" "$CSFS_PID" 2>/dev/null
	( sleep "${CSFS_STOP_SECONDS:-30}" >/dev/null 2>&1; kill -KILL "$CSFS_PID" 2>/dev/null ) \
	    >/dev/null 2>&1 &
	_dog=$!
	wait "$CSFS_PID"
	_rc=$?
	kill "$_dog" 2>/dev/null
	if is_mounted "$1"; then
		umount -l "$1" 2>/dev/null	# leave no dead mount for the next check
		return 1
	fi
	[ "$_rc" -eq 0 ]
}
# ns_usable: 0 when a private mount namespace can be made here (unshare -m).
ns_usable() { command -v unshare >/dev/null 2>&1 && unshare -m true 2>/dev/null; }
# ro_bind_run MNT DIR SCRIPT: runs `sh -c SCRIPT` in a private mount namespace in which
# DIR is a read-only bind mount of MNT, as a container gets it; SCRIPT's status, or 9
# when the bind mount cannot be made. Nothing of it is seen outside.
ro_bind_run() {
	mkdir -p "$2"
	unshare -m --propagation private sh -c "
		mount --bind '$1' '$2' && mount -o remount,bind,ro '$2' || exit 9
		$3"
}
