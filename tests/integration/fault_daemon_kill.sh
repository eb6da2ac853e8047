#!/bin/sh
# Fault: the daemon SIGKILLed while readers are in flight (4 loops of cat, one reader
# holding a file open). The readers get an error, never hang; the dead mount point can
# be cleaned up (fusermount3 -uz, or umount -l) and mounted again at the same place; no
# lock is left behind (a `comfysecrets set` works and is served); the audit log verifies.
. tests/lib.sh
fs_require fault_daemon_kill
cs_init
printf 'dk-value' | csc set runpod api_key
printf 'dk-other' | csc set openai api_key
M=$T/mnt
F=$M/runpod/api_key
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

round() {	# round NAME CLEANUP...: start, read under load, SIGKILL, clean up with CLEANUP
	_name=$1; shift
	if ! csfs_start "$M"; then notok "$_name: the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; return; fi
	check "$_name: serving before the kill" value_is "$F" dk-value
	pids=""
	rm -f "$T"/rd*.up "$T/held.up"
	for i in 1 2 3 4; do
		# each loop stops at its first failed read and records it
		sh -c "n=0; while cat $F $M/openai/api_key >/dev/null 2>$T/rd$i.err; do n=\$((n+1)); : >$T/rd$i.up; done; echo \$n >$T/rd$i.n" &
		pids="$pids $!"
	done
	# the holder opens the file, then reads it once the daemon is gone (30 s at most)
	sh -c "exec 3<$F; : >$T/held.up; i=0; while kill -0 $CSFS_PID 2>/dev/null && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i+1)); done; cat <&3 >/dev/null 2>$T/held.err; echo \$? >$T/held.rc" &
	held=$!
	at_exit "kill $pids $held"
	wait_until 30 sh -c "[ -e $T/rd1.up ] && [ -e $T/rd2.up ] && [ -e $T/rd3.up ] && [ -e $T/rd4.up ] && [ -e $T/held.up ]"
	kill -KILL "$CSFS_PID"
	wait "$CSFS_PID" 2>/dev/null
	# the readers must all end on their own, quickly
	end=$(( $(now_ms) + 30000 )) hung=0
	for p in $pids $held; do
		while kill -0 "$p" 2>/dev/null; do
			[ "$(now_ms)" -lt "$end" ] || { hung=1; break; }
			sleep 0.05
		done
	done
	check "$_name: every reader in flight ends by itself (none hangs)" [ "$hung" -eq 0 ]
	reads=0; for i in 1 2 3 4; do reads=$((reads + $(cat "$T/rd$i.n" 2>/dev/null || echo 0))); done
	echo "# $_name: $reads reads served before the kill; readers then saw: $(cat "$T"/rd*.err | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
	check "$_name: ... each with ENOTCONN or ECONNABORTED" \
		sh -c "for i in 1 2 3 4; do grep -q 'not connected\\|connection abort' $T/rd\$i.err || exit 1; done"
	check "$_name: the reader holding a file open gets an error too" sh -c "[ \"\$(cat $T/held.rc)\" != 0 ]"
	check "$_name: the dead mount is still in /proc/mounts until cleaned up" is_mounted "$M"
	check "$_name: ... and answers ENOTCONN, not a hang" sh -c "timeout 30 ls $M 2>&1 | grep -q 'not connected'"
	check "$_name: $* cleans it up" "$@" "$M"
	check "$_name: ... it is gone from /proc/mounts" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
}
round "fusermount3 -uz" fusermount3 -uz
check "no lock left: a set works" sh -c "printf dk-new | $CS --config $CSD/cs.ini set runpod api_key"
check "... and audit --verify passes" csc audit --verify
if csfs_start "$M"; then
	check "re-mounted at the same place, serving the new value" value_is "$F" dk-new
	printf 'dk-value' | csc set runpod api_key
	check "... and reloads work" wait_until 30 value_is "$F" dk-value
	csfs_stop "$M"
else
	notok "re-mounted at the same place" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
round "umount -l" umount -l
check "no lock left: a set works" sh -c "printf dk-new2 | $CS --config $CSD/cs.ini set runpod api_key"
if csfs_start "$M"; then
	check "re-mounted at the same place, serving the new value" value_is "$F" dk-new2
	check "SIGTERM unmounts cleanly" csfs_stop "$M"
else
	notok "re-mounted at the same place" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
check "audit --verify passes after two crashed daemons" csc audit --verify
check "no temporary file is left beside the vault" \
	sh -c "! ls -A $CSD | grep -q tmp-"
done_testing
