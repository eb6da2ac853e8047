#!/bin/sh
# Fault: the audit log is a FIFO whose reader never reads (timeout_ms = 300). Lines go
# into the pipe's buffer until it is full; from then on every read through the mount
# fails with EIO (the first after timeout_ms, the next ones at once, while the stuck
# write is pending; the times are printed) - never a hang: every cat is bounded by
# `timeout 30`. The daemon stays alive, stops cleanly even with its audit write stuck, and once
# someone drains the FIFO, reads work again. A FIFO with no reader at all is refused at
# start (ENXIO).
. tests/lib.sh
fs_require fault_audit_fifo
cs_init
printf 'fifo-value' | csc set runpod api_key
sed -i 's/^\[audit\]$/[audit]\ntimeout_ms = 300/' "$CSD/cs.ini"
M=$T/mnt
F=$M/runpod/api_key
mkfifo "$T/fifo"
mkdir -p "$M"

"$CSFS" -f -o "config=$CSD/cs.ini" -o "audit_log=$T/fifo" "$CSD/vault.json" "$M" >"$T/out" 2>&1 &
pid=$!
at_exit "kill $pid"
if wait_until 30 sh -c "! kill -0 $pid"; then
	wait $pid; rc=$?
else
	rc=running; kill $pid
fi
check "a FIFO with no reader is refused at start (status 1)" [ "$rc" = 1 ]
echo "# it said: $(tail -n 1 "$T/out")"
check "... naming the FIFO" grep -q "$T/fifo" "$T/out"

# A reader that holds the FIFO open and never reads.
sh -c "exec 4<>$T/fifo; exec sleep 600" &
stuck=$!
at_exit "kill $stuck"
if ! csfs_start "$M" -o "audit_log=$T/fifo"; then notok "mounts with a FIFO as the audit log" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
served=0 rc=0
while [ $served -lt 3000 ]; do
	timeout 30 cat "$F" >/dev/null 2>"$T/out" || { rc=$?; break; }
	served=$((served + 1))
done
echo "# $served reads fitted in the pipe's buffer; then status $rc: $(cat "$T/out")"
check "reads are served while the pipe has room, then fail" [ "$served" -gt 0 -a "$served" -lt 3000 ]
check "... the failing read did not hang (no timeout 30 kill)" [ "$rc" -ne 124 ]
check "... it failed with EIO" grep -q 'Input/output error' "$T/out"
hung=0 eio=0 worst=0
for _ in $(seq 1 10); do
	t0=$(now_ms)
	timeout 30 cat "$F" >/dev/null 2>"$T/out"
	rc=$?
	dt=$(( $(now_ms) - t0 ))
	[ $dt -gt $worst ] && worst=$dt
	[ $rc -eq 124 ] && hung=$((hung + 1))
	grep -q 'Input/output error' "$T/out" && eio=$((eio + 1))
done
echo "# 10 more reads: $eio EIO, $hung hung, slowest $worst ms"
check "10 more reads: none hangs" [ "$hung" -eq 0 ]
check "... each fails with EIO" [ "$eio" -eq 10 ]
check "the daemon said why" grep -q 'did not finish within 300 ms\|still stuck' "$T/csfs.err"
check "the daemon is alive" kill -0 "$CSFS_PID"
check "... and lists the tree" sh -c "timeout 30 ls $M/runpod | grep -qx api_key"

# Someone drains the pipe: the stuck write completes, reads are served again.
timeout 60 cat "$T/fifo" >"$T/drained" &
drain=$!
at_exit "kill $drain"
check "once the FIFO is drained, reads are served again" \
	wait_until 30 sh -c "[ \"\$(timeout 30 cat $F 2>/dev/null)\" = fifo-value ]"
check "the lines read from the FIFO are audit lines" grep -q '"event":"secret_read"' "$T/drained"
check "... and hold no value" sh -c "! grep -q fifo-value $T/drained"
kill "$drain" 2>/dev/null

# Stuck again, then SIGTERM: the daemon must not wait forever on its audit writer.
kill "$drain" 2>/dev/null
served=0
while [ $served -lt 3000 ] && timeout 30 cat "$F" >/dev/null 2>&1; do served=$((served + 1)); done
t0=$(now_ms)
check "with an audit write stuck, SIGTERM still unmounts and exits 0" csfs_stop "$M"
echo "# ... in $(( $(now_ms) - t0 )) ms"
done_testing
