#!/bin/sh
# Reads through the mount are audited: one secret_read line per open, naming the
# provider, the field and the reader's real pid, uid, gid and comm, never the value.
# A read that cannot be audited is refused (EIO, the reason on the daemon's stderr),
# whether the log's device is full or its write hangs (bounded by timeout_ms).
. tests/lib.sh
fs_require fs_audit
cs_init
SEED='sk-canary-audit-91e2c3'
printf '%s' "$SEED" | csc set runpod api_key
printf 'x' | csc set openai api_key
M=$T/mnt
F=$M/runpod/api_key
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
reads() { grep -c '"event":"secret_read"' "$CSD/audit.log"; }

cp /bin/cat "$T/my-reader"
"$T/my-reader" "$F" >/dev/null &
pid=$!
wait $pid
line=$(grep '"event":"secret_read"' "$CSD/audit.log" | grep "\"pid\":$pid,")
check "the open is audited with the reader's real pid" [ -n "$line" ]
check "... its uid and gid" sh -c "echo '$line' | grep -q '\"uid\":$(id -u),\"gid\":$(id -g)'"
check "... its comm" sh -c "echo '$line' | grep -q '\"comm\":\"my-reader\"'"
check "... the provider and the field" \
	sh -c "echo '$line' | grep -q '\"provider\":\"runpod\",\"keys\":\[\"api_key\"\]'"
check "... and says it came through the filesystem" sh -c "echo '$line' | grep -q '\"via\":\"fs\"'"

n0=$(reads)
for _ in 1 2 3 4 5; do cat "$F" >/dev/null; done
head -c 3 "$F" >/dev/null
n1=$(reads)
check "one secret_read line per open (6 opens, 6 lines)" [ $((n1 - n0)) -eq 6 ]
n0=$(reads)
sh -c "exec 3<'$F'; cat <&3 >/dev/null; dd bs=1 count=2 <&3 >/dev/null 2>&1" 
n1=$(reads)
check "reading one open file twice is one line" [ $((n1 - n0)) -eq 1 ]
n0=$(reads)
ls -l "$M/runpod" >/dev/null
stat "$F" >/dev/null
check "ls and stat are not reads" [ "$(reads)" -eq "$n0" ]
if command -v python3 >/dev/null 2>&1; then
	pypid=$(python3 -c "
import os, threading
def rd():
    open('$F', 'rb').read()
t = threading.Thread(target=rd); t.start(); t.join()
print(os.getpid())")
	check "a read from a thread names the process, not the thread" \
		sh -c "grep '\"event\":\"secret_read\"' $CSD/audit.log | grep -q '\"pid\":$pypid,'"
fi
check "the value is never in the audit log" sh -c "! grep -q '$SEED' $CSD/audit.log"
check "audit --verify passes with the daemon's and the CLI's lines mixed" csc audit --verify
csfs_stop "$M"
last=$(tail -n 1 "$CSD/audit.log" | sed 's/^{"seq":\([0-9]*\),.*/\1/')
check "the state file records the log's last seq after a stop" \
	sh -c "grep -q '\"audit_seq\": $last,' $CSD/floor/vault.json-*.state"
check "no value reached the daemon's stderr" sh -c "! grep -q '$SEED' $T/csfs.err"

# A log that cannot be written: /dev/full fails every write with ENOSPC.
: >"$T/csfs.err"
if csfs_start "$M" -o audit_log=/dev/full; then
	cat "$F" >/dev/null 2>"$T/out"
	check "with an unwritable audit log the read fails" [ $? -ne 0 ]
	check "... with EIO" grep -q 'Input/output error' "$T/out"
	check "... and the daemon says why on stderr" grep -q 'audit.*refused\|refused.*audit' "$T/csfs.err"
	check "... without the value" sh -c "! grep -q '$SEED' $T/csfs.err"
	check "listing still works (it is not a read)" ls "$M/runpod"
	csfs_stop "$M"
else
	notok "mounts with audit_log=/dev/full" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
sed -i 's/^\[audit\]$/[audit]\nfail_closed = false/' "$CSD/cs.ini"
if csfs_start "$M" -o audit_log=/dev/full; then
	check "fail_closed = false serves the read anyway" sh -c "[ \"\$(cat $F)\" = '$SEED' ]"
	check "... and says so on stderr" grep -q 'served anyway' "$T/csfs.err"
	csfs_stop "$M"
fi
sed -i '/^fail_closed = false$/d' "$CSD/cs.ini"

# A full disk mid-run: a small tmpfs holds the log; fill it, reads fail; free it, they work.
mkdir -p "$T/small"
if mount -t tmpfs -o size=64k tmpfs "$T/small" 2>/dev/null; then
	if csfs_start "$M" -o audit_log="$T/small/audit.log"; then
		cat "$F" >/dev/null
		dd if=/dev/zero of="$T/small/fill" bs=1k 2>/dev/null
		failed=0
		for _ in $(seq 1 60); do
			cat "$F" >/dev/null 2>&1 || { failed=1; break; }
		done
		check "once the log's disk is full, reads fail" [ $failed -eq 1 ]
		rm -f "$T/small/fill"
		check "once there is room again, reads work" sh -c "[ \"\$(cat $F)\" = '$SEED' ]"
		csfs_stop "$M"
	else
		notok "mounts with the audit log on a small tmpfs"
	fi
	umount "$T/small"
else
	skip "a full audit disk mid-run" "cannot mount a tmpfs here"
fi

# Whoever may read the log (a 0640 log) may flock it: reads must go on regardless.
# A write that hangs: another writer holds the chain's lock (.audit.log.lock); the read
# fails after the bound (timeout_ms = 500 here) instead of hanging, and works again
# once it is released.
sed -i 's/^\[audit\]$/[audit]\ntimeout_ms = 500/' "$CSD/cs.ini"
if csfs_start "$M"; then
	cat "$F" >/dev/null
	sh -c "exec 9<'$CSD/audit.log'; flock -x 9; exec sleep 600" &
	reader=$!
	at_exit "kill $reader"
	# /proc/locks names the locked file by inode, and the holder by pid (the daemon
	# itself holds the lock file between its lines: audit_hold)
	flocked() {
		grep -q "^[0-9]*: FLOCK *ADVISORY *WRITE *$2 [0-9a-f:]*:$(stat -c %i "$1") " \
			/proc/locks
	}
	wait_until 30 flocked "$CSD/audit.log" "$reader"
	check "a reader's flock on the audit log does not stop reads" \
		sh -c "[ \"\$(cat $F)\" = '$SEED' ]"
	kill "$reader"
	sh -c "exec 9>>'$CSD/.audit.log.lock'; flock -x 9; exec sleep 600" &
	holder=$!
	at_exit "kill $holder"
	wait_until 30 flocked "$CSD/.audit.log.lock" "$holder"
	t0=$(now_ms)
	timeout 30 cat "$F" >/dev/null 2>"$T/out"
	rc=$?
	dt=$(( $(now_ms) - t0 ))
	echo "# a read with a stuck audit log failed after $dt ms (timeout_ms = 500)"
	check "a read whose audit write hangs fails, without hanging" sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
	check "... with EIO" grep -q 'Input/output error' "$T/out"
	kill "$holder"
	check "once the log is free again, reads work" \
		wait_until 30 sh -c "[ \"\$(cat $F)\" = '$SEED' ]"
	csfs_stop "$M"
else
	notok "mounts with timeout_ms = 500"
fi
done_testing
