#!/bin/sh
# Live reload: a change made with the CLI while mounted is served (the latency is
# printed, polled up to 30 s); removed paths vanish, new ones appear, sizes
# follow; a rolled-back copy of the vault or a tampered one is refused, logged and
# audited, and the last good vault stays served; SIGHUP reloads; a restarted daemon
# refuses a vault older than the state file remembers.
. tests/lib.sh
fs_require fs_reload
cs_init
printf 'v0' | csc set runpod api_key
printf 'e0' | csc set runpod endpoint
M=$T/mnt
F=$M/runpod/api_key
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

# Latency: from the moment `set` returns to the first read of the new value.
lat=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	printf 'value-%s' "$i" | csc set runpod api_key
	t0=$(now_ms)
	if wait_until 30 value_is "$F" "value-$i"; then
		lat="$lat $(( $(now_ms) - t0 ))"
	else
		lat="$lat timeout"
	fi
done
echo "# reload latency, ms from set's return to the new value read:$lat"
check "a value set while mounted is served (10 of 10, polled up to 30 s each)" \
	sh -c "! echo '$lat' | grep -q timeout"

stat -c %s "$F" >/dev/null		# the kernel now caches the old size
printf 'a much longer value than before' | csc set runpod api_key
# the daemon logs "reloaded ... generation N" once it has invalidated what changed
wait_until 30 sh -c "grep 'reloaded' $T/csfs.err | tail -n 1 | grep -q \"generation \$(grep -o '\"generation\": *[0-9]*' $CSD/vault.json | grep -o '[0-9]*$')\""
check "stat follows the new size at once (attributes invalidated)" \
	sh -c "[ \$(stat -c %s $F) -eq 31 ]"

printf 'tok' | csc set newprov token
check "a new provider appears in ls" wait_until 30 sh -c "ls $M | grep -qx newprov"
check "... and its field is served" value_is "$M/newprov/token" tok
csc rm runpod endpoint
check "a removed field vanishes from ls" wait_until 30 sh -c "! ls $M/runpod | grep -qx endpoint"
check "... and is ENOENT" sh -c "cat $M/runpod/endpoint 2>&1 | grep -q 'No such file'"
csc rm newprov
check "a removed provider vanishes" wait_until 30 sh -c "! ls $M | grep -qx newprov"

exec 3<"$F"
printf 'after-open' | csc set runpod api_key
wait_until 30 value_is "$F" after-open
check "an open handle keeps the value it opened" sh -c "[ \"\$(cat <&3)\" = 'a much longer value than before' ]"
exec 3<&-

# Rollback: an older copy put back in place is refused; the newer vault stays served.
cp "$CSD/vault.json" "$T/old.json"
printf 'newest' | csc set runpod api_key
wait_until 30 value_is "$F" newest
cp "$CSD/vault.json" "$T/newest.json"
cp "$T/old.json" "$CSD/vault.json.tmp"
mv "$CSD/vault.json.tmp" "$CSD/vault.json"
check "a rolled-back copy is refused" wait_until 30 grep -q 'rollback refused' "$T/csfs.err"
check "... the newer value stays served" value_is "$F" newest
check "... and the refusal is audited as vault_reload_refused" \
	grep -q '"event":"vault_reload_refused".*rollback' "$CSD/audit.log"

# The newest back in place (the same generation is no rollback), then a tampered copy.
cp "$T/newest.json" "$CSD/vault.json"
printf 'good' | csc set runpod api_key
wait_until 30 value_is "$F" good
cp "$CSD/vault.json" "$T/good.json"
n=$(grep -c 'refused' "$T/csfs.err")
sed 's/"generation": *\([0-9]*\)/"generation": 99999/' "$T/good.json" >"$CSD/vault.json.tmp"
mv "$CSD/vault.json.tmp" "$CSD/vault.json"
check "a tampered vault is refused (its MAC fails)" \
	wait_until 30 sh -c "[ \$(grep -c 'refused' $T/csfs.err) -gt $n ]"
check "... the last good one stays served" value_is "$F" good
check "... and the mount still lists it" sh -c "ls $M/runpod | grep -qx api_key"
cp "$T/good.json" "$CSD/vault.json.tmp"
mv "$CSD/vault.json.tmp" "$CSD/vault.json"

n=$(grep -c 'reloaded.*(SIGHUP)' "$T/csfs.err")
kill -HUP "$CSFS_PID"
check "SIGHUP reloads" wait_until 30 sh -c "[ \$(grep -c 'reloaded.*(SIGHUP)' $T/csfs.err) -gt $n ]"
check "... and the daemon is still serving" value_is "$F" good
check "SIGTERM still unmounts cleanly" csfs_stop "$M"

# A restart with an older vault: the state file remembers the generation served.
cp "$T/old.json" "$CSD/vault.json"
"$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" 2>"$T/out"
check "a restarted daemon refuses an older vault (status 1)" [ $? -eq 1 ]
check "... saying rollback" grep -q 'rollback' "$T/out"
check "... before mounting" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
done_testing
