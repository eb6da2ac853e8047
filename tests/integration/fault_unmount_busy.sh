#!/bin/sh
# Fault: unmount while readers hold files open. What is expected, and asserted:
#  - `fusermount3 -u` (a plain umount) fails with "busy" while a field is held open; the
#    mount stays and keeps serving, the holder included;
#  - `fusermount3 -uz` (lazy) succeeds at once: the tree leaves the namespace, the
#    holder can still read the value it opened (the daemon serves it until closed),
#    and when it closes, the daemon ends by itself with status 0;
#  - SIGTERM with a field (and a folder) held open: the daemon unmounts (lazily) and
#    exits 0 at once, freeing both handles (valgrind_suite and LSan check that); the
#    holder's next read fails with an error, never hangs.
. tests/lib.sh
fs_require fault_unmount_busy
cs_init
printf 'ub-value' | csc set runpod api_key
M=$T/mnt
F=$M/runpod/api_key
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

exec 3<"$F"
fusermount3 -u "$M" >"$T/out" 2>&1
rc=$?
echo "# fusermount3 -u with a file held open: status $rc, $(cat "$T/out")"
check "fusermount3 -u with a field held open fails" [ "$rc" -ne 0 ]
check "... saying busy" grep -qi 'busy' "$T/out"
check "... the mount stays" is_mounted "$M"
check "... and serves new opens" value_is "$F" ub-value
check "... and the holder reads its value" sh -c "[ \"\$(cat <&3)\" = ub-value ]"
exec 3<&-

exec 3<"$F"
check "fusermount3 -uz with a field held open succeeds" fusermount3 -uz "$M"
check "... the tree leaves /proc/mounts at once" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
check "... the daemon is still alive for the holder" kill -0 "$CSFS_PID"
check "... the holder reads the value it opened" sh -c "[ \"\$(timeout 30 cat <&3)\" = ub-value ]"
exec 3<&-
# the last reference is gone: the kernel ends the connection, the loop returns.
wait_until 30 sh -c "! kill -0 $CSFS_PID"
check "... once it closes, the daemon exits by itself" sh -c "! kill -0 $CSFS_PID"
wait "$CSFS_PID"
check "... with status 0" [ $? -eq 0 ]

if ! csfs_start "$M"; then notok "re-mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
exec 3<"$F"
exec 4<"$M/runpod"	# a directory held open too: its handle must be freed as well
t0=$(now_ms)
check "SIGTERM with a field and a folder held open: the daemon exits 0 and the mount is gone" csfs_stop "$M"
echo "# ... in $(( $(now_ms) - t0 )) ms"
timeout 30 cat <&3 >/dev/null 2>"$T/out"
rc=$?
echo "# the holder's read after the daemon left: status $rc, $(cat "$T/out")"
check "... the holder's read then fails, without hanging" sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
exec 3<&- 4<&-
check "a new daemon mounts at the same place afterwards" csfs_start "$M"
check "... and serves" value_is "$F" ub-value
check "... and stops cleanly" csfs_stop "$M"
check "the audit log verifies" csc audit --verify
done_testing
