#!/bin/sh
# The environment overlay: COMFYVN_SECRET_<PROVIDER>_<FIELD> replaces a stored value and
# adds a new path; neither it nor COMFYVN_SECRETS_KEY can be read back from the daemon's
# /proc/<pid>/environ; the vault file on disk is unchanged; a bad name stops the daemon
# before it mounts, without echoing the value.
. tests/lib.sh
fs_require fs_overlay
cs_init
printf 'stored-value' | csc set runpod api_key
printf 'https://stored' | csc set runpod endpoint
cp "$CSD/vault.json" "$T/vault.before"
OVR='override-canary-3c1f9e'
ADD='added-canary-7b2d04'
M=$T/mnt

export COMFYVN_SECRET_RUNPOD_API_KEY="$OVR"
export COMFYVN_SECRET_NEWPROV_TOKEN="$ADD"
csfs_start "$M"
started=$?
unset COMFYVN_SECRET_RUNPOD_API_KEY COMFYVN_SECRET_NEWPROV_TOKEN
if [ $started -ne 0 ]; then notok "mounts with overrides" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
check "an override replaces the stored value" sh -c "[ \"\$(cat $M/runpod/api_key)\" = '$OVR' ]"
check "an override adds a new provider and field" sh -c "[ \"\$(cat $M/newprov/token)\" = '$ADD' ]"
check "the other stored values are served as stored" sh -c "[ \"\$(cat $M/runpod/endpoint)\" = https://stored ]"
check "stat gives the override's length" [ "$(stat -c %s "$M/runpod/api_key")" -eq ${#OVR} ]
check "ls shows the added provider" sh -c "ls $M | grep -qx newprov"
check "the daemon's /proc/<pid>/environ is readable here (so the next checks mean something)" \
	grep -aq 'PATH=' "/proc/$CSFS_PID/environ"
check "the override's value is not in /proc/<pid>/environ" \
	sh -c "! grep -aq -e '$OVR' -e '$ADD' /proc/$CSFS_PID/environ"
check "nor are the variables' names" sh -c "! grep -aq COMFYVN_SECRET /proc/$CSFS_PID/environ"
check "the read of an override is audited with overrides:[field]" \
	sh -c "grep '\"secret_read\"' $CSD/audit.log | grep '\"provider\":\"runpod\"' | grep -q '\"overrides\":\[\"api_key\"\]'"
check "the read of a stored value names no override" \
	sh -c "grep '\"secret_read\"' $CSD/audit.log | grep '\"keys\":\[\"endpoint\"\]' | grep -vq overrides"
check "no value is in the audit log" sh -c "! grep -q -e '$OVR' -e '$ADD' -e stored-value $CSD/audit.log"
csfs_stop "$M"
check "the vault file on disk is unchanged" cmp "$T/vault.before" "$CSD/vault.json"

# The key itself from the environment, with no key file at all.
KEY=$(cat "$CSD/key")
mv "$CSD/key" "$T/key.away"
export COMFYVN_SECRETS_KEY="$KEY"
csfs_start "$M"
started=$?
unset COMFYVN_SECRETS_KEY
if [ $started -eq 0 ]; then
	check "the key may come from COMFYVN_SECRETS_KEY" sh -c "[ \"\$(cat $M/runpod/api_key)\" = stored-value ]"
	check "COMFYVN_SECRETS_KEY is not in /proc/<pid>/environ" \
		sh -c "! grep -aq -e '$KEY' -e COMFYVN_SECRETS_KEY /proc/$CSFS_PID/environ"
	printf 'changed-with-env-key' | COMFYVN_SECRETS_KEY="$KEY" csc set runpod api_key
	check "a reload still has the key from the environment" \
		wait_until 30 sh -c "[ \"\$(cat $M/runpod/api_key)\" = changed-with-env-key ]"
	csfs_stop "$M"
else
	notok "the key may come from COMFYVN_SECRETS_KEY" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
mv "$T/key.away" "$CSD/key"

# Bad names: refused before anything is mounted; the value is never echoed.
for bad in COMFYVN_SECRET_RUNPOD COMFYVN_SECRET_RUNPOD_A..B COMFYVN_SECRET__X; do
	env "$bad=$OVR" "$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" >"$T/out" 2>&1
	rc=$?
	check "$bad: refused with status 1" [ "$rc" -eq 1 ]
	check "$bad: the error names the variable" grep -q "environment: $bad" "$T/out"
	check "$bad: the error does not hold the value" sh -c "! grep -q '$OVR' $T/out"
	check "$bad: nothing was mounted" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
done
env "COMFYVN_SECRET_RUNPOD=$OVR" "$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" >"$T/out" 2>&1
check "a name with no FIELD part says why" \
	grep -q "COMFYVN_SECRET_RUNPOD: no FIELD part: the name must be COMFYVN_SECRET_<PROVIDER>_<FIELD>" "$T/out"
env COMFYVN_SECRET_RUNPOD_API_KEY=a COMFYVN_SECRET_runpod_api_key=b \
	"$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" >"$T/out" 2>&1
check "two variables for one path are refused" [ $? -eq 1 ]
check "the error names the path" grep -q "runpod/api_key" "$T/out"
done_testing
