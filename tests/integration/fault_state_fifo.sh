#!/bin/sh
# Fault: a FIFO where the state file or its temporary file goes. Opening a FIFO with no
# writer blocks, so every command and the daemon's start used to hang there for good;
# now the state file must be a regular file, opened without blocking, and a write never
# opens a fixed temporary name. Each command is bounded by `timeout -s KILL 10`: a hang
# shows as status 137.
. tests/lib.sh
cs_init
printf 'fifo-state' | csc set runpod api_key
S=$(echo "$CSD"/floor/vault.json-*.state)
[ -f "$S" ] || { notok "the floor file is in state_dir" "$S"; done_testing; }

rm -f "$S"
mkfifo "$S"
timeout -s KILL 10 "$CS" --config "$CSD/cs.ini" get runpod api_key >"$T/out" 2>"$T/err"
rc=$?
check "get with a FIFO as the state file fails at once (status 1)" [ "$rc" = 1 ]
check "... saying it is not a regular file" grep -q "$S: the state file is not a regular file" "$T/err"
printf 'x' | timeout -s KILL 10 "$CS" --config "$CSD/cs.ini" set runpod other 2>"$T/err"
rc=$?
check "set with a FIFO as the state file fails at once (status 1)" [ "$rc" = 1 ]

if _why=$(fuse_usable); then
	mkdir -p "$T/mnt"
	timeout -s KILL 10 "$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$T/mnt" \
	    >"$T/out" 2>&1
	rc=$?
	check "the daemon refuses to start with a FIFO as the state file (status 1)" [ "$rc" = 1 ]
	check "... naming it" grep -q "$S" "$T/out"
	if is_mounted "$T/mnt"; then notok "... and mounts nothing"; else ok "... and mounts nothing"; fi
else
	skip "the daemon refuses to start with a FIFO as the state file" "$_why"
fi
rm -f "$S"

# The state back, and a FIFO at the old fixed temporary name: a write never opens it.
"$CS" --config "$CSD/cs.ini" floor --reset >/dev/null
mkfifo "$S.tmp"
printf 'fifo-2' | timeout -s KILL 10 "$CS" --config "$CSD/cs.ini" set runpod api_key 2>"$T/err"
rc=$?
check "set with a FIFO at the state's temporary name succeeds (status 0)" [ "$rc" = 0 ]
check "... and the value is saved" sh -c "[ \"\$($CS --config $CSD/cs.ini get runpod api_key)\" = fifo-2 ]"
done_testing
