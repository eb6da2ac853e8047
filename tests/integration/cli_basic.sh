#!/bin/sh
# The admin CLI as a user meets it: round trips, binary values, the size limit, hostile
# names, exit statuses, and errors that name the file and the reason.
. tests/lib.sh
cs_init
SEED='sk-canary-5f2d9c1e-do-not-log'

printf '%s' "$SEED" | csc set runpod api_key
check "get returns the value set, byte for byte" \
	sh -c "[ \"\$($CS --config $CSD/cs.ini get runpod api_key)\" = '$SEED' ]"

printf 'line\n' | csc set runpod endpoint
csc get runpod endpoint >"$T/out"
check "set drops one trailing newline" sh -c "[ \$(wc -c <$T/out) -eq 4 ]"
printf 'line\n' | csc set --raw runpod endpoint
csc get runpod endpoint >"$T/out"
check "set --raw keeps the bytes exactly" sh -c "[ \$(wc -c <$T/out) -eq 5 ]"

head -c 4096 /dev/urandom >"$T/bin"
printf '\000\000x\000' >>"$T/bin"
csc set --raw openai blob <"$T/bin"
csc get openai blob >"$T/bin.out"
check "binary values with NUL bytes survive the round trip" cmp "$T/bin" "$T/bin.out"

printf '' | csc set openai empty 2>"$T/err"
csc get openai empty >"$T/out"
check "an empty value is a value" sh -c "[ ! -s $T/out ]"
check "... and set says so on stderr (an unset variable piped in looks the same)" \
	grep -q "note: openai/empty is now the empty value" "$T/err"

check "list shows provider/field names" sh -c "$CS --config $CSD/cs.ini list | grep -qx runpod/api_key"
check "list never shows a value" sh -c "! $CS --config $CSD/cs.ini list --json | grep -q '$SEED'"
check "list --json is JSON with the providers" sh -c "$CS --config $CSD/cs.ini list --json | grep -q '\"openai\"'"

head -c 65536 /dev/zero | csc set --raw big ok
check "a value of exactly 64 KiB is accepted" sh -c "[ \$($CS --config $CSD/cs.ini get big ok | wc -c) -eq 65536 ]"
head -c 65537 /dev/zero | csc set --raw big over 2>"$T/err"
rc=$?
check "a value over 64 KiB is refused with status 1" [ "$rc" -eq 1 ]
check "the size error says over the limit" grep -q "over the limit" "$T/err"

for bad in .. a/b .hidden "" "$(printf 'x%.0s' $(seq 65))" Upper 'a b' 'a..b' '-x'; do
	printf v | csc set "$bad" f >/dev/null 2>"$T/err"
	rc=$?
	check "provider name '$(printf %.12s "$bad")' is refused" [ "$rc" -ne 0 ]
done
printf v | csc set ok '../etc' 2>"$T/err"
check "field name ../etc is refused naming the field" grep -q 'field' "$T/err"

csc get runpod nothere 2>"$T/err"
rc=$?
check "get of a missing field exits 1" [ "$rc" -eq 1 ]
check "the error names provider and field" grep -q "runpod/nothere\|nothere" "$T/err"

csc "$(printf 'frob\033[2Jnicate')" 2>"$T/err"
check "an unknown command exits 2" [ $? -eq 2 ]
check "an unknown command is named, escaped (no raw ESC)" \
	grep -q 'unknown command "frob\\x1b\[2Jnicate"' "$T/err"
csc fleet bogus 2>"$T/err"
check "an unknown fleet subcommand exits 2, named, with the valid ones" sh -c "[ $? -eq 2 ] &&
	grep -q 'fleet: unknown subcommand \"bogus\" (one of: init host-key .* status)' '$T/err'"
csc fleet hosts extra 2>"$T/err"
check "a fleet subcommand with an extra operand says it takes none" sh -c "[ $? -eq 2 ] &&
	grep -q 'fleet hosts: takes no operands' '$T/err'"
csc get 2>/dev/null
check "a missing operand exits 2" [ $? -eq 2 ]
for cmd in init set get list rm rotate fingerprint floor audit import; do
	check "$cmd --help prints its usage" sh -c "$CS --config $CSD/cs.ini $cmd --help | grep -q 'usage: comfysecrets.* $cmd'"
done

csc rm runpod endpoint
check "rm FIELD removes the field" sh -c "! $CS --config $CSD/cs.ini list | grep -q runpod/endpoint"
csc rm openai
check "rm PROVIDER removes the provider" sh -c "! $CS --config $CSD/cs.ini list | grep -q '^openai/'"

check_fails "init refuses to overwrite an existing vault" csc init
csc init 2>"$T/err"
check "the init refusal names the vault file" grep -q "$CSD/vault.json" "$T/err"

"$CS" --vault "$T/none.json" --key-file "$CSD/key" --config "$CSD/cs.ini" get a b 2>"$T/err"
check "a missing vault is an error naming the file" grep -q "$T/none.json" "$T/err"

chmod 644 "$CSD/key"
csc get runpod api_key >/dev/null 2>"$T/err"
rc=$?
check "a key file readable by others is refused" [ "$rc" -eq 1 ]
check "the refusal names the key file and its mode" grep -q "$CSD/key.*644" "$T/err"
chmod 600 "$CSD/key"

chmod 664 "$CSD/cs.ini"
csc get runpod api_key >/dev/null 2>"$T/err"
rc=$?
check "a config file the group may write is refused" [ "$rc" -eq 1 ]
check "the refusal names the config file and its mode" \
	grep -q "$CSD/cs.ini: writable by group or others (mode 0664)" "$T/err"
chmod 644 "$CSD/cs.ini"

check_fails "a wrong key file opens nothing" csc --key-file "$T/nokey" get runpod api_key

cs_init "$T/w"
cp "$T/w/key" "$T/otherkey"
CSD=$T/v
csc --key-file "$T/otherkey" get runpod api_key >"$T/out" 2>"$T/err"
rc=$?
check "a vault opened with another vault's key is refused" [ "$rc" -eq 1 ]
check "the wrong-key error says the fingerprint does not match" grep -q "fingerprint" "$T/err"
check "nothing is served under the wrong key" sh -c "[ ! -s $T/out ]"

fp1=$(csc fingerprint)
check "fingerprint prints 16 hex digits" sh -c "echo $fp1 | grep -Eqx '[0-9a-f]{16}'"
KEY=$(cat "$CSD/key")
env COMFYVN_SECRETS_KEY="$KEY" "$CS" --config "$CSD/cs.ini" --key-file /nonexistent get runpod api_key >"$T/out"
check "COMFYVN_SECRETS_KEY is used before the key file" grep -q "$SEED" "$T/out"

cat >"$T/in.json" <<EOF2
{"imp": {"a": "one", "b": "tw\u0000o"}, "imp2": {"c": "three"}}
EOF2
csc import "$T/in.json" >/dev/null
check "import .json stores every value" sh -c "[ \"\$($CS --config $CSD/cs.ini get imp2 c)\" = three ]"
check "import .json keeps NUL bytes" sh -c "[ \$($CS --config $CSD/cs.ini get imp b | wc -c) -eq 4 ]"
cat >"$T/in.env" <<'EOF2'
# a comment
export COMFYVN_SECRET_ENVP_API_KEY="quoted value"
COMFYVN_SECRET_ENVP_TOKEN=plain
EOF2
csc import "$T/in.env" >/dev/null
check "import .env splits provider and field" sh -c "[ \"\$($CS --config $CSD/cs.ini get envp api_key)\" = 'quoted value' ]"
printf 'COMFYVN_SECRET_X_Y=1\nBROKEN\n' >"$T/bad.env"
csc import "$T/bad.env" 2>"$T/err"
check "a bad .env line is refused naming file and line" grep -q "bad.env:2" "$T/err"
check_fails "a refused import writes nothing" csc get x y
printf '{"p": {"f": 1}}' >"$T/bad.json"
csc import "$T/bad.json" 2>"$T/err"
check "a non-string JSON value is refused naming provider/field" grep -q "p/f" "$T/err"
printf '{"p": ' >"$T/trunc.json"
csc import "$T/trunc.json" 2>"$T/err"
check "truncated JSON is refused naming file and place" grep -q "trunc.json:1" "$T/err"

# 100 000 values in one import: one guarded allocation per value would exhaust the
# kernel's map count (about 65 000 maps) long before this.
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "COMFYVN_SECRET_BULK%d_F%d=v%d\n", i % 50, i, i }' >"$T/big.env"
check "import of 100 000 .env entries succeeds" csc import "$T/big.env"
check "a value from the big import reads back" sh -c "[ \"\$($CS --config $CSD/cs.ini get bulk7 f99957)\" = v99957 ]"
awk 'BEGIN { printf "{"; for (p = 0; p < 40; p++) { printf "%s\"j%d\": {", (p ? "," : ""), p;
	for (i = 0; i < 1000; i++) printf "%s\"f%d\": \"w%d\"", (i ? "," : ""), i, p * 1000 + i; printf "}" } print "}" }' >"$T/big.json"
check "import of 40 000 .json entries succeeds" csc import "$T/big.json"
check "a value from the big JSON import reads back" sh -c "[ \"\$($CS --config $CSD/cs.ini get j39 f999)\" = w39999 ]"
printf 'COMFYVN_SECRET_A_B=1\n#\nCOMFYVN_SECRET_A_B=2\n' >"$T/dup.env"
csc import "$T/dup.env" 2>"$T/err"
check "a path given twice in an .env is refused naming both lines" grep -q "dup.env:3: a/b given twice (line 1)" "$T/err"

# Every path in a folder of its own, as a user following the README sets them: init
# makes each folder (0700), the audit log's too, so the first set is audited.
mkdir "$T/own"
cat >"$T/own/cs.ini" <<EOF2
[vault]
path = $T/own/vault/vault.json
key_file = $T/own/keys/key
state_dir = $T/own/state
[audit]
path = $T/own/log/audit.log
EOF2
"$CS" --config "$T/own/cs.ini" init >/dev/null
check "init creates the audit log's folder, mode 0700" sh -c "[ \"\$(stat -c %a $T/own/log)\" = 700 ]"
printf 'v' | "$CS" --config "$T/own/cs.ini" set runpod api_key 2>"$T/err"
check "the first set after init is stored and audited" grep -q secret_written "$T/own/log/audit.log"
check "audit --verify counts it as 1 line" \
	sh -c "$CS --config $T/own/cs.ini audit --verify | grep -q ': 1 line, chain intact'"
rm -r "$T/own/log"
printf 'v' | "$CS" --config "$T/own/cs.ini" set runpod api_key 2>"$T/err"
check "a missing audit folder is named as such, with what creates it" \
	grep -q "log/audit.log: the audit log's folder does not exist; .comfysecrets init. or the tmpfiles entry" "$T/err"

check "no secret value reached the audit log" sh -c "! grep -a -q '$SEED' $CSD/audit.log"
check "get was audited as secret_read with pid, uid and comm" sh -c "grep -q '\"event\":\"secret_read\".*\"pid\":[0-9]*,\"uid\":0,\"gid\":0,\"comm\":\"comfysecrets\"' $CSD/audit.log"
done_testing
