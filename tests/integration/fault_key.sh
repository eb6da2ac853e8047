#!/bin/sh
# Fault: the key file removed while mounted. What is served was decrypted-on-open from
# the snapshot loaded at the last reload, which holds its own copy of the key, so:
#  - reads keep working, every value, for as long as no reload is needed;
#  - the next reload (SIGHUP, or any change to the vault) cannot open the vault without
#    a key: it is refused (stderr and vault_reload_refused, "key" named in the reason)
#    and the last good snapshot stays served, reads included;
#  - a write with the CLI fails too (it needs the key), so nothing can change under it;
#  - once the key is back, a SIGHUP or the next change is picked up;
#  - a restart without the key fails before mounting, with a clear error naming it.
. tests/lib.sh
fs_require fault_key
cs_init
printf 'k1' | csc set runpod api_key
printf 'e1' | csc set openai api_key
M=$T/mnt
F=$M/runpod/api_key
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
check "a read before the key goes" value_is "$F" k1

mv "$CSD/key" "$T/key.away"
check "key removed: reads keep working" value_is "$F" k1
check "key removed: ... every value" value_is "$M/openai/api_key" e1
for i in $(seq 1 20); do cat "$F" >/dev/null || break; done
check "key removed: 20 more reads all served" [ "$i" -eq 20 ]

a0=$(grep -c '"event":"vault_reload_refused"' "$CSD/audit.log")
kill -HUP "$CSFS_PID"
check "key removed, SIGHUP: the reload is refused and audited" \
	wait_until 30 sh -c "[ \$(grep -c '\"event\":\"vault_reload_refused\"' $CSD/audit.log) -gt $a0 ]"
echo "# the daemon said: $(grep refused "$T/csfs.err" | tail -n 1)"
check "key removed, SIGHUP: ... the reason names the key file" \
	sh -c "grep refused $T/csfs.err | tail -n 1 | grep -q '$CSD/key'"
check "key removed, SIGHUP: the last good snapshot is still served" value_is "$F" k1
check "key removed: the daemon is alive" kill -0 "$CSFS_PID"
check_fails "key removed: a set with the CLI fails (no key)" sh -c "printf x | $CS --config $CSD/cs.ini set runpod api_key"
check "key removed: ... and the served value is unchanged" value_is "$F" k1

# The vault changes behind the daemon's back (under the key, from a copy) while the key
# file is gone: the change is seen, refused, and the old snapshot kept.
cp "$T/key.away" "$T/key2" && chmod 600 "$T/key2"
printf 'k2' | "$CS" --config "$CSD/cs.ini" --key-file "$T/key2" set runpod api_key
a0=$(grep -c '"event":"vault_reload_refused"' "$CSD/audit.log")
check "key removed, vault changed: the reload is refused" \
	wait_until 30 sh -c "[ \$(grep -c '\"event\":\"vault_reload_refused\"' $CSD/audit.log) -gt $a0 ]"
check "key removed, vault changed: the last good snapshot is still served" value_is "$F" k1

mv "$T/key.away" "$CSD/key"
kill -HUP "$CSFS_PID"
check "key back, SIGHUP: the newer vault is picked up" wait_until 30 value_is "$F" k2
printf 'k3' | csc set runpod api_key
check "key back: a set is picked up as usual" wait_until 30 value_is "$F" k3
check "SIGTERM unmounts cleanly" csfs_stop "$M"

mv "$CSD/key" "$T/key.away"
"$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" >"$T/out" 2>&1
check "a restart without the key fails (status 1)" [ $? -eq 1 ]
echo "# it said: $(head -n 1 "$T/out")"
check "... naming the key file" grep -q "$CSD/key" "$T/out"
check "... before mounting" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
mv "$T/key.away" "$CSD/key"
check "the audit log verifies" csc audit --verify
done_testing
