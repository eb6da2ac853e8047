#!/bin/sh
# A user (made with useradd, so the uid is theirs alone) opens denied .sandbox/ pairs
# in a loop for 10 s: the same long host again and again, and a new host each time.
# The audit log grows by at most 2 * AUDIT_DENIAL_PAIRS + 1 = 11 sandbox_blocked lines
# per caller and 10 s window (SECURITY.md), yet counts every denial (a summary line's
# "repeats"); a secret read in the middle of the flood is logged.
. tests/lib.sh
fs_require fs_sandbox_flood
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
	skip fs_sandbox_flood "needs root, useradd and setpriv"; exit 0
fi
cs_init
printf 'v1' | csc set app token
printf '[sandbox]\nnetwork_allow = api.example.com:443\n' >>"$CSD/cs.ini"
chmod 0755 "$T"
U=csaud-fl$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$U" || { notok "useradd $U"; done_testing; }
at_exit "userdel $U"
uid=$(id -u "$U"); gid=$(id -g "$U")
M=$T/mnt
if ! csfs_start "$M" -o allow_other; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

l60=$(printf '%060d' 0 | tr 0 a)
HOST="$l60.$l60.$l60.$l60"		# 243 bytes: a ~700-byte sandbox_blocked line
# denials by the flooder: lines, and the denials they stand for (1 + repeats)
mine() { grep '"event":"sandbox_blocked"' "$CSD/audit.log" | grep "\"uid\":$uid,"; }
flood_lines() { mine | wc -l; }
flood_count() { mine | awk '{ if (match($0, /"repeats":[0-9]+/)) n += substr($0, RSTART + 10, RLENGTH - 10); else n++ } END { print n + 0 }'; }
b0=$(stat -c %s "$CSD/audit.log")

# the flood: 10 s by the clock, odd opens the same pair, even ones a new host each time
# the system's python3: one under /root (pyenv) is out of the user's reach
PY=; for p in /usr/bin/python3 /usr/local/bin/python3; do [ -x "$p" ] && { PY=$p; break; }; done
if [ -z "$PY" ]; then skip fs_sandbox_flood "needs python3 (scripts/install-deps)"; exit 0; fi
setpriv --reuid="$uid" --regid="$gid" --clear-groups "$PY" -c '
import os, sys, time
d, host = sys.argv[1], sys.argv[2]
end, n = time.monotonic() + 10, 0
while time.monotonic() < end:
    for p in ("%s/%s:1" % (d, host), "%s/x%d.%s:1" % (d, n, host)):
        os.close(os.open(p, os.O_RDONLY))	# the open decides and audits
        n += 1
print(n)' "$M/.sandbox" "$HOST" >"$T/n" 2>"$T/flood.err" &
flooder=$!
at_exit "kill $flooder"
check "the flood starts: its first denial is logged" wait_until 5 sh -c "[ \$(grep -c '\"uid\":$uid,' $CSD/audit.log) -ge 1 ]"
sh -c "echo \$\$ >$T/rpid; exec cat $M/app/token" >"$T/read" 2>&1
rpid=$(cat "$T/rpid")
check "a read in the middle of the flood is served" grep -qx v1 "$T/read"
check "... and logged as secret_read with its pid" \
	sh -c "grep '\"event\":\"secret_read\"' $CSD/audit.log | grep -q '\"pid\":$rpid,'"
wait "$flooder"
n=$(cat "$T/n")
echo "# the user made $n denials in 10 s"
check "the flood made thousands of denials" [ "${n:-0}" -ge 1000 ]
[ -s "$T/flood.err" ] && sed "s/^/# /" "$T/flood.err"
all_counted() { [ "$(flood_count)" -eq "$n" ]; }
check "no denial is lost: each is counted once its window ends (within 12 s)" wait_until 12 all_counted
lines=$(flood_lines)
bytes=$(( $(stat -c %s "$CSD/audit.log") - b0 ))
echo "# the flood added $lines sandbox_blocked lines ($bytes bytes with the rest) for $n denials"
check "the flood added at most 2 windows x 11 lines" [ "$lines" -le 22 ]
check "the log grew by at most 22 lines of 1 KB and the read's" [ "$bytes" -le $((23 * 1024)) ]
check "the audit log verifies" csc audit --verify
done_testing
