#!/bin/sh
# Starting and stopping comfysecretsfs: a bad vault, key or audit log is a clear error
# and status 1 before anything is mounted (symlinks refused: O_NOFOLLOW); it hardens
# itself; it works in the background, single-threaded, as a mount helper through
# mount(8) and an fstab line; readiness reaches systemd's NOTIFY_SOCKET; SIGTERM,
# SIGINT and an outside umount all end it cleanly.
. tests/lib.sh
fs_require fs_start
cs_init
printf 'sk-start' | csc set runpod api_key
M=$T/mnt
mkdir -p "$M"
not_mounted() { ! is_mounted "$M"; }
# refuses NAME GREP ARG...: comfysecretsfs -f ARG... must exit 1 naming GREP, unmounted.
refuses() {
	_what=$1 _g=$2; shift 2
	"$CSFS" -f "$@" >"$T/out" 2>&1
	_rc=$?
	if [ $_rc -ne 1 ]; then notok "$_what: status 1" "status $_rc"; return; fi
	check "$_what: refused, naming the cause" grep -qi -- "$_g" "$T/out"
	check "$_what: nothing mounted" not_mounted
}

check "--help prints the usage and our options" sh -c "$CSFS --help | grep -q 'key_file=FILE'"
check "--version prints the version" sh -c "$CSFS --version | grep -q '^comfysecretsfs [0-9]'"
refuses "no mountpoint" "MOUNTPOINT" -o "config=$CSD/cs.ini"
refuses "a mountpoint that is no directory (the vault itself)" "must be a directory" \
	-o "config=$CSD/cs.ini" "$CSD/vault.json"
refuses "three positional arguments" "too many" -o "config=$CSD/cs.ini" a b c
# A mountpoint that cannot be resolved is named with the reason, not blamed on the
# options.
touch "$T/afile"
for c in "missing|$T/none/mnt|No such file" "under a file|$T/afile/mnt|Not a directory"; do
	_m=$(echo "$c" | cut -d'|' -f2)
	refuses "a mountpoint ${c%%|*}: named, with the reason" "$_m: the mountpoint cannot be used: ${c##*|}" \
		-o "config=$CSD/cs.ini" "$CSD/vault.json" "$_m"
	check "a mountpoint ${c%%|*}: the options are not blamed" sh -c "! grep -q 'bad options' '$T/out'"
done
# An unknown option is named even when the config cannot be read (checked first).
refuses "an unknown option before an unreadable config" "unknown option.*-x" \
	-x -o "config=$T/none.ini" "$CSD/vault.json" "$M"
refuses "an unknown option" "unknown option" -o "config=$CSD/cs.ini,frobnicate" "$CSD/vault.json" "$M"
refuses "a bad mode=" "mode=" -o "config=$CSD/cs.ini,mode=999" "$CSD/vault.json" "$M"
refuses "a missing vault" "$T/none.json" -o "config=$CSD/cs.ini" "$T/none.json" "$M"
ln -s "$CSD/vault.json" "$T/link.json"
refuses "a symlinked vault (O_NOFOLLOW)" "link" -o "config=$CSD/cs.ini" "$T/link.json" "$M"
mkdir -p "$T/k2"
"$CS" --config "$CSD/cs.ini" --vault "$T/k2/v.json" --key-file "$T/k2/key" init >/dev/null 2>&1
refuses "the wrong key" "key" -o "config=$CSD/cs.ini,key_file=$T/k2/key" "$CSD/vault.json" "$M"
ln -s "$CSD/key" "$T/key.link"
refuses "a symlinked key file" "link" -o "config=$CSD/cs.ini,key_file=$T/key.link" "$CSD/vault.json" "$M"
cp "$CSD/key" "$T/key.open"
chmod 0644 "$T/key.open"
refuses "a key file others can read" "key.open" -o "config=$CSD/cs.ini,key_file=$T/key.open" "$CSD/vault.json" "$M"
ln -s "$CSD/audit.log" "$T/audit.link"
refuses "a symlinked audit log" "audit.link" -o "config=$CSD/cs.ini,audit_log=$T/audit.link" "$CSD/vault.json" "$M"
refuses "a missing config named explicitly" "nope.ini" -o "config=$T/nope.ini" "$CSD/vault.json" "$M"
"$CSFS" -o "config=$CSD/cs.ini,key_file=$T/k2/key" "$CSD/vault.json" "$M" >"$T/out" 2>&1
check "in the background too, a bad key is status 1 on the terminal" \
	sh -c "[ $? -eq 1 ] && grep -qi key $T/out"
check "... and nothing is mounted" not_mounted

# Foreground: hardening, SIGINT.
if csfs_start "$M"; then
	check "no core dumps: RLIMIT_CORE is 0" \
		sh -c "grep '^Max core file size' /proc/$CSFS_PID/limits | grep -q ' 0  *0 '"
	check "umask is 077" grep -q '^Umask:[[:space:]]*0077' "/proc/$CSFS_PID/status"
	check "SIGINT unmounts cleanly, status 0" csfs_stop "$M" INT
fi
if csfs_start "$M" -s; then
	check "single-threaded (-s) serves" sh -c "[ \"\$(cat $M/runpod/api_key)\" = sk-start ]"
	umount "$M"
	wait "$CSFS_PID"
	check "an outside umount ends the daemon with status 0" [ $? -eq 0 ]
fi

# Background (no -f): the command returns once the tree is mounted.
"$CSFS" -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" 2>"$T/out"
rc=$?
check "without -f it returns 0 once mounted" sh -c "[ $rc -eq 0 ] && awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
check "... and the daemon serves" sh -c "[ \"\$(cat $M/runpod/api_key)\" = sk-start ]"
umount "$M"
check "... until unmounted" wait_until 30 not_mounted

# As a mount helper: mount(8) -> mount.fuse3 -> comfysecretsfs VAULT DIR -o OPTS. mount(8)
# runs helpers with a fixed PATH (/usr/local/sbin first, where `make install` puts the
# daemon), so a private mount namespace lends it our build there, and reads inside.
mkdir -p "$T/bin"
ln -s "$CSFS" "$T/bin/comfysecretsfs"
echo "$CSD/vault.json $M fuse.comfysecretsfs config=$CSD/cs.ini,nofail,_netdev,x-systemd.automount 0 0" >"$T/fstab"
if ! command -v mount.fuse3 >/dev/null 2>&1 && [ ! -x /sbin/mount.fuse3 ]; then
	skip "mount -t fuse.comfysecretsfs" "mount.fuse3 is missing"
elif ! unshare -m true 2>/dev/null || [ ! -d /usr/local/sbin ]; then
	skip "mount -t fuse.comfysecretsfs" "no private mount namespace to lend /usr/local/sbin"
else
	unshare -m --propagation private sh -c "
		trap 'umount -l $M 2>/dev/null' EXIT
		mount --bind '$T/bin' /usr/local/sbin || exit 9
		mount -t fuse.comfysecretsfs -o 'config=$CSD/cs.ini,allow_other' \
			'$CSD/vault.json' '$M' 2>'$T/helper.err' || exit 1
		cat '$M/runpod/api_key' >'$T/helper.read'
		awk '\$2 == \"$M\" { print \$3, \$4 }' /proc/mounts >'$T/helper.opts'
		umount '$M' || exit 2
		mount -T '$T/fstab' '$M' 2>>'$T/helper.err' || exit 3
		cat '$M/runpod/api_key' >'$T/fstab.read'
		umount '$M' || exit 4
		exit 0"
	rc=$?
	check "mount -t fuse.comfysecretsfs VAULT DIR -o ... works (status $rc)" \
		sh -c "[ $rc -ne 1 ] && [ \"\$(cat $T/helper.read)\" = sk-start ]"
	check "... it shows as fuse.comfysecretsfs, allow_other with default_permissions" \
		grep -q '^fuse.comfysecretsfs .*default_permissions,allow_other' "$T/helper.opts"
	check "an fstab line mounts it (nofail, _netdev, x-systemd.* dropped)" \
		sh -c "[ $rc -eq 0 ] && [ \"\$(cat $T/fstab.read)\" = sk-start ]"
	check "nothing of it is left outside the namespace" not_mounted
fi

# Readiness for Type=notify: READY=1 on NOTIFY_SOCKET, and the mount answers by then.
if command -v python3 >/dev/null 2>&1; then
	python3 - "$T/notify.sock" "$T/notify.out" "$M" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
msg = s.recv(4096).decode()
answered = os.path.isdir(os.path.join(sys.argv[3], "runpod"))
open(sys.argv[2], "w").write(msg + "\nanswered=%s\n" % answered)
PY
	py=$!
	at_exit "kill $py"
	wait_until 30 test -S "$T/notify.sock" || echo "# the listener did not bind its socket"
	NOTIFY_SOCKET="$T/notify.sock" csfs_start "$M"
	wait $py
	check "READY=1 reaches NOTIFY_SOCKET" grep -q '^READY=1' "$T/notify.out"
	check "... once the mount answers" grep -q 'answered=True' "$T/notify.out"
	csfs_stop "$M"
else
	skip "sd_notify READY=1" "python3 is missing to listen on a NOTIFY_SOCKET"
fi
done_testing
