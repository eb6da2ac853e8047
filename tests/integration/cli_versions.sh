#!/bin/sh
# Per-field version and change time, as a user meets them. set, set again, rm and set
# again give versions 1, 2, then 3 (list --json, and the version named by the
# secret_read lines of get, run and a read through the mount); the mount shows the
# change time as the file's mtime and ctime, and it moves with a set. A version or time
# edited in the vault file is refused as tampering. A vault written before versions
# were kept (tests/fixtures/vault-v1.json) is served, then upgraded by the next set.
. tests/lib.sh
cs_init
# (awk and sed, not python3: its start alone can take seconds on a loaded machine.)
field() { cs_field "$@"; }
# last_read_version: the "version" of the newest secret_read line of the audit log.
last_read_version() {
	grep '"event":"secret_read"' "$CSD/audit.log" | tail -n 1 |
	    sed -n 's/.*"version":\([0-9]*\).*/\1/p'
}
# newer A B: 0 when the time A (seconds, with a fraction) is later than B.
newer() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

printf 'one' | csc set app token
check "a first set is version 1" [ "$(field app/token version)" = 1 ]
t1=$(field app/token changed)
check "list --json gives the change time in RFC 3339 UTC" \
	sh -c "echo '$t1' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$'"
printf 'two' | csc set app token
check "set again is version 2" [ "$(field app/token version)" = 2 ]
t2=$(field app/token changed)
check "the change time moves forward" expr "$t2" \> "$t1"
csc rm app token
printf 'three' | csc set app token
check "rm, then set again is version 3, not 1 again" [ "$(field app/token version)" = 3 ]
printf 'x' | csc set app other
check "a set of another field leaves app/token at version 3" [ "$(field app/token version)" = 3 ]
providers_of() {	# the field list of provider $1 in list --json's "providers"
	csc list --json | sed -n "/^    \"$1\": \[/,/]/s/^ *\"\([^\"]*\)\",*\$/\1/p" | tr '\n' ' '
}
check "list --json keeps the providers' field lists" [ "$(providers_of app)" = "other token " ]
csc get app token >/dev/null
check "get's secret_read line names version 3" [ "$(last_read_version)" = 3 ]
csc run -p app/token -- true
check "run's secret_read line names version 3" [ "$(last_read_version)" = 3 ]

# Tampering: the version or the time edited in the file (a writer of the vault folder).
cp "$CSD/vault.json" "$T/good.json"
edit() {	# edit KEY VALUE: app/token's KEY set to VALUE, the rest untouched
	sed -i "/\"token\": {/,/}/s/\"$1\": [0-9]*/\"$1\": $2/" "$CSD/vault.json"
	grep -q "\"$1\": $2" "$CSD/vault.json" || echo "edit $1 $2: no change" >&2
}
edit version 7
csc get app token >"$T/out" 2>"$T/err"
rc=$?
check "an edited version is refused as tampering" \
	sh -c "[ $rc -ne 0 ] && [ ! -s '$T/out' ] && grep -q 'MAC does not verify' '$T/err'"
cp "$T/good.json" "$CSD/vault.json"
edit changed 1000000000000000000
csc get app token >"$T/out" 2>"$T/err"
rc=$?
check "an edited time is refused as tampering" \
	sh -c "[ $rc -ne 0 ] && [ ! -s '$T/out' ] && grep -q 'MAC does not verify' '$T/err'"
cp "$T/good.json" "$CSD/vault.json"
check "the untouched file is read again" [ "$(csc get app token)" = three ]

# The mount: mtime and ctime are the change time; a set moves them; reads name versions.
if ! why=$(fuse_usable); then
	skip "cli_versions: the mount" "$why"
else
	M=$T/mnt
	if csfs_start "$M"; then
		ok "the vault mounts"
		ns=$(date -u -d "$(field app/token changed)" +%s.%N)
		check "a field's mtime is its change time, to the ns" \
			[ "$(stat -c %.9Y "$M/app/token")" = "$ns" ]
		check "its ctime too" [ "$(stat -c %.9Z "$M/app/token")" = "$ns" ]
		check "a read through the mount is served" [ "$(cat "$M/app/token")" = three ]
		check "its secret_read line names version 3" [ "$(last_read_version)" = 3 ]
		before=$(stat -c %.9Y "$M/app/token")
		printf 'four' | csc set app token
		check "the mount serves the new value" \
			wait_until 30 sh -c "[ \"\$(cat '$M/app/token')\" = four ]"
		after=$(stat -c %.9Y "$M/app/token")
		check "a set moves the file's mtime forward" newer "$after" "$before"
		check "the new value's read names version 4" [ "$(last_read_version)" = 4 ]
		check "a field not set keeps its own, older mtime" \
			newer "$after" "$(stat -c %.9Y "$M/app/other")"
		check "the daemon stops cleanly" csfs_stop "$M"
	else
		notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
	fi
fi

# A vault in format 1, written before versions were kept: served, then upgraded.
cs_init "$T/old"
cp tests/fixtures/vault-v1.json "$CSD/vault.json"
(umask 077 && echo AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= >"$CSD/key")
csc floor --reset >/dev/null
check "a format 1 vault is read" [ "$(csc get runpod api_key)" = seed-value-1 ]
check "its fields show version 0" [ "$(field runpod/api_key version)" = 0 ]
check "and no change time" [ "$(field runpod/api_key changed)" = null ]
check "its secret_read line names version 0" [ "$(last_read_version)" = 0 ]
M=$T/mnt2
mounted=0
if fuse_usable >/dev/null && csfs_start "$M"; then
	mounted=1
	check "the mount serves the format 1 vault" [ "$(cat "$M/runpod/api_key")" = seed-value-1 ]
	check "the mount's secret_read line names version 0" [ "$(last_read_version)" = 0 ]
fi
check "reading it does not rewrite it" grep -q '"version": 1,' "$CSD/vault.json"
printf 'seed-value-2' | csc set runpod api_key
check "the next set writes format 2" grep -q '"version": 2,' "$CSD/vault.json"
check "the field set is version 1" [ "$(field runpod/api_key version)" = 1 ]
check "a field not set keeps version 0" [ "$(field runpod/endpoint version)" = 0 ]
check "and its value" [ "$(csc get runpod endpoint)" = https://example.invalid/v1 ]
check "the upgraded vault's generation follows the old one's" \
	sh -c "\"$CS\" --config '$CSD/cs.ini' list --json | grep -q '^  \"generation\": 7,'"
if [ "$mounted" = 1 ]; then
	check "the mount serves the upgraded vault" \
		wait_until 30 sh -c "[ \"\$(cat '$M/runpod/api_key')\" = seed-value-2 ]"
	check "and names the new version in its secret_read line" [ "$(last_read_version)" = 1 ]
	check "the daemon stops cleanly" csfs_stop "$M"
fi
done_testing
