#!/bin/sh
# The daemon's own messages when it runs in the background (no -f: mount -t
# fuse.comfysecretsfs, an fstab line, run-comfysecrets.mount), shown with a refused
# reload (a rolled-back vault). Its stdio is closed once it is mounted, so:
# - when $JOURNAL_STREAM names its stderr, as systemd sets it for a unit whose output
#   goes to the journal (and mount(8) and mount.fuse3 pass on), it keeps writing there;
#   the test stands in for the journal with a file whose device and inode it names;
# - otherwise the lines go to the journal's native socket: in a private mount namespace
#   the test puts its own listener at /run/systemd/journal/socket (a tmpfs over /run
#   there), so it needs no journald. The syslog(3) fallback, used when the journal does
#   not answer, has no such place to stand in (glibc's /dev/log) and is not tested here.
. tests/lib.sh
fs_require fs_bglog
cs_init
printf 'bg-1' | csc set app token
cp "$CSD/vault.json" "$T/old.json"
printf 'bg-2' | csc set app token
cp "$CSD/vault.json" "$T/new.json"
M=$T/mnt
mkdir -p "$M"
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
# rollback: put the older copy in place, as a restored backup would.
rollback() { cp "$T/old.json" "$CSD/vault.json.tmp" && mv "$CSD/vault.json.tmp" "$CSD/vault.json"; }
restore() { cp "$T/new.json" "$CSD/vault.json.tmp" && mv "$CSD/vault.json.tmp" "$CSD/vault.json"; }
# stop MNT: unmount; the background daemon then exits.
stop() {
	_p=$(pgrep -f "comfysecretsfs .*$1\$" | head -n 1)
	fusermount3 -u "$1" 2>/dev/null
	[ -z "$_p" ] || wait_until 30 sh -c "! kill -0 $_p 2>/dev/null"
}

: >"$T/journal"
js=$(stat -c '%d:%i' "$T/journal")
JOURNAL_STREAM=$js "$CSFS" -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" 2>>"$T/journal"
rc=$?
at_exit "fusermount3 -uz '$M'"
check "the daemon goes to the background and serves (status $rc)" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(cat $M/app/token)\" = bg-2 ]"
rollback
check "a refused reload reaches the journal stream named by JOURNAL_STREAM" \
	wait_until 30 grep -q 'reload .*refused' "$T/journal"
check "... and the newer value stays served" value_is "$M/app/token" bg-2
check "unmounting ends the background daemon" stop "$M"
[ -s "$T/journal" ] && sed 's/^/# /' "$T/journal"

if ! ns_usable || [ ! -d /run ]; then
	skip "background lines to the journal socket" "no private mount namespace here"
	done_testing
fi
command -v python3 >/dev/null 2>&1 || { skip "background lines to the journal socket" "python3 is missing"; done_testing; }
restore
cat >"$T/ns.sh" <<EOF
mount -t tmpfs -o mode=0755 tmpfs /run || exit 9
mkdir -p /run/systemd/journal
python3 - "$T/jd.out" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
s.settimeout(20)
with open(sys.argv[1], "ab") as f:
    while True:
        try: msg = s.recv(65536)
        except socket.timeout: break
        f.write(msg.replace(b"\n", b" ") + b"\n"); f.flush()
PY
L=\$!
i=0; while [ ! -S /run/systemd/journal/socket ] && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i + 1)); done
env -u JOURNAL_STREAM "$CSFS" -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" 2>"$T/ns.err" || exit 8
cp "$T/old.json" "$CSD/vault.json.tmp" && mv "$CSD/vault.json.tmp" "$CSD/vault.json"
i=0; while ! grep -q 'refused' "$T/jd.out" 2>/dev/null && [ \$i -lt 250 ]; do sleep 0.02; i=\$((i + 1)); done
cat "$M/app/token" >"$T/ns.value"
fusermount3 -u "$M"
kill \$L
EOF
: >"$T/jd.out"
unshare -m --propagation private sh "$T/ns.sh"
rc=$?
if [ $rc -eq 9 ]; then
	skip "background lines to the journal socket" "cannot mount a tmpfs over /run here"
	done_testing
fi
check "without JOURNAL_STREAM a background daemon's refused reload reaches the journal socket" \
	grep -q 'MESSAGE=reload .*refused' "$T/jd.out"
check "... as a notice from SYSLOG_IDENTIFIER=comfysecretsfs" \
	sh -c "grep 'MESSAGE=reload' $T/jd.out | grep -q 'PRIORITY=5' && grep 'MESSAGE=reload' $T/jd.out | grep -q 'SYSLOG_IDENTIFIER=comfysecretsfs'"
check "... and nothing of it went to the closed stderr" sh -c "! grep -q refused $T/ns.err"
check "... while the newer value stayed served" [ "$(cat "$T/ns.value" 2>/dev/null)" = bg-2 ]
[ -s "$T/jd.out" ] && sed 's/^/# /' "$T/jd.out" | cut -c1-200
done_testing
