#!/bin/sh
# Fault: the daemon is SIGKILLed and started again on the same mount point. The restart
# names the dead mount and the fix (fusermount3 -uz), exits non-zero and mounts nothing
# on top, whether it comes at once (the kernel still has the mount point's attributes
# cached) or later; after the fix it serves. A second daemon on a live comfysecretsfs
# mount is refused, the first one keeps serving. With -o auto_unmount a killed daemon
# leaves no dead mount, and a restart just works.
. tests/lib.sh
fs_require fault_dead_mount
cs_init
printf 'dm-value' | csc set app token
M=$T/mnt
F=$M/app/token
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
mounts() { awk -v m="$M" '$2 == m' /proc/mounts | wc -l; }

# restart NAME: the daemon again, in the background as mount(8) starts it; its status
# and words in $T/NAME.rc and $T/NAME.err.
restart() {
	"$CSFS" -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" 2>"$T/$1.err"
	echo $? >"$T/$1.rc"
}

if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
restart live
check "a second daemon on a live mount is refused" [ "$(cat "$T/live.rc")" -ne 0 ]
check "... saying comfysecretsfs already serves it" grep -q 'comfysecretsfs already serves' "$T/live.err"
check "... nothing is stacked" [ "$(mounts)" -eq 1 ]
check "... and the first daemon still serves" value_is "$F" dm-value

kill -KILL "$CSFS_PID"; wait "$CSFS_PID" 2>/dev/null
restart now			# at once: the root's attributes are still cached
check "a restart right after SIGKILL fails" [ "$(cat "$T/now.rc")" -ne 0 ]
check "... naming the dead mount and the fix" \
	sh -c "grep -q 'a dead FUSE mount is in the way' $T/now.err && grep -q 'fusermount3 -uz $M' $T/now.err"
check "... and nothing is stacked on the dead mount" [ "$(mounts)" -eq 1 ]
wait_ms 1500 sh -c "! stat $M >/dev/null 2>&1"	# the attribute cache has run out
restart later
check "a restart after the cache ran out says the same" \
	sh -c "[ \$(cat $T/later.rc) -ne 0 ] && grep -q 'a dead FUSE mount is in the way' $T/later.err"
check "the fix it names removes the dead mount" fusermount3 -uz "$M"
if csfs_start "$M"; then
	check "... and the daemon then mounts and serves" value_is "$F" dm-value
	kill -KILL "$CSFS_PID"; wait "$CSFS_PID" 2>/dev/null
	fusermount3 -uz "$M"
else
	notok "... and the daemon then mounts and serves" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi

# In a chroot, fusermount3's auto_unmount helper (Debian 12's fuse3 3.14) leaves the
# dead mount in place after SIGKILL; outside one it removes it. Say so there.
# (In a chroot no mount has "/" as its mount point: mountinfo hides the ones outside it.)
if ! awk '$5 == "/" { f = 1 } END { exit !f }' /proc/self/mountinfo; then
	skip "-o auto_unmount after SIGKILL" "in a chroot, fusermount3's auto_unmount helper does not unmount"
elif csfs_start "$M" -o auto_unmount; then
	pid=$CSFS_PID
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	check "with -o auto_unmount a SIGKILLed daemon leaves no dead mount" \
		wait_until 30 sh -c "[ \$(awk -v m='$M' '\$2 == m' /proc/mounts | wc -l) -eq 0 ]"
	if csfs_start "$M" -o auto_unmount; then
		check "... and the restart serves" value_is "$F" dm-value
		check "... and stops cleanly" csfs_stop "$M"
	else
		notok "... and the restart serves" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
	fi
else
	notok "-o auto_unmount mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
done_testing
