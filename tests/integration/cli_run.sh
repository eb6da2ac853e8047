#!/bin/sh
# comfysecrets run as a user meets it: the chosen secrets, and only those, in COMMAND's
# environment under the app's names or -e names; COMMAND's own pid and exit status;
# env(1)'s 125/126/127 before anything runs; one audit line per value handed over; no
# value in any process's argv; the key never passed on.
. tests/lib.sh
cs_init
TOK='tok-canary-1b7e-run'
printf '%s' "$TOK" | csc set app token
printf 'alice' | csc set app user
printf 'other-canary-9c' | csc set other key
printf 'x' | csc set dash api-key
cln() { env -i PATH=/usr/bin:/bin HOME=/nonexistent "$@"; }

cln "$CS" --config "$CSD/cs.ini" run -p app -- env | sort >"$T/env"
printf '%s\n' HOME=/nonexistent "COMFYVN_SECRET_APP_TOKEN=$TOK" COMFYVN_SECRET_APP_USER=alice \
    PATH=/usr/bin:/bin | sort >"$T/want"
check "run -p app -- env shows exactly the chosen variables" cmp "$T/env" "$T/want"

cln "$CS" --config "$CSD/cs.ini" run -p app/user -e MY_KEY=other/key -- env | sort >"$T/env"
printf '%s\n' HOME=/nonexistent COMFYVN_SECRET_APP_USER=alice MY_KEY=other-canary-9c \
    PATH=/usr/bin:/bin | sort >"$T/want"
check "-p PROVIDER/FIELD and -e NAME=PROVIDER/FIELD name what they give" cmp "$T/env" "$T/want"

COMFYVN_SECRET_APP_USER=stale "$CS" --config "$CSD/cs.ini" run -p app -- env >"$T/env"
check "a chosen name replaces an inherited one" sh -c \
    "grep -qx COMFYVN_SECRET_APP_USER=alice $T/env && [ \$(grep -c ^COMFYVN_SECRET_APP_USER= $T/env) -eq 1 ]"
COMFYVN_SECRETS_KEY=$(cat "$CSD/key") "$CS" --config "$CSD/cs.ini" run -p app -- env >"$T/env"
check "the key in COMFYVN_SECRETS_KEY opens the vault and is not passed on" sh -c \
    "grep -qx COMFYVN_SECRET_APP_USER=alice $T/env && ! grep -q ^COMFYVN_SECRETS_KEY= $T/env"

# Exec: COMMAND is run's own process, its status is run's.
"$CS" --config "$CSD/cs.ini" run -p app -- sh -c 'echo $$ >"$0"' "$T/pid" &
rpid=$!
wait "$rpid"
check "run becomes COMMAND: same pid" [ "$(cat "$T/pid")" = "$rpid" ]
csc run -p app -- false
check "exit status of false comes back (1)" [ $? -eq 1 ]
csc run -p app -- sh -c 'exit 7'
check "exit status 7 comes back" [ $? -eq 7 ]
(csc run -p app -- sh -c 'kill -TERM $$') 2>/dev/null
check "a COMMAND killed by SIGTERM is seen as killed by SIGTERM (143)" [ $? -eq 143 ]
(umask 022 && csc run -p app -- sh -c 'umask' >"$T/umask")
check "COMMAND gets the caller's umask back" grep -qx 0022 "$T/umask"

# Failures: the status env(1) gives, a message naming the reason, nothing run.
fails() {	# fails NAME STATUS WORDS ARG...: run ARG... -- touch ran
	_n=$1 _st=$2 _w=$3; shift 3
	rm -f "$T/ran"
	csc run "$@" -- touch "$T/ran" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -ne "$_st" ]; then notok "$_n" "status $_rc, want $_st: $(cat "$T/err")"
	elif [ -e "$T/ran" ]; then notok "$_n" "COMMAND ran"
	elif ! grep -q "$_w" "$T/err"; then notok "$_n" "no '$_w' in: $(cat "$T/err")"
	else ok "$_n"; fi
}
fails "a missing field: 125, named, nothing runs" 125 'app has no field "nope"' -p app/nope
fails "a missing provider: 125" 125 'no provider "nope"' -p nope
fails "a field whose name is no variable name: 125, pointing to -e" 125 \
    'COMFYVN_SECRET_DASH_API-KEY is not a valid variable name.*-e NAME=dash/api-key' -p dash
fails "-e with a name that is no variable name: 125" 125 'not a valid variable name' -e 9X=app/token
fails "-e without PROVIDER/FIELD: 125" 125 'not NAME=PROVIDER/FIELD' -e X=app
fails "one name for two fields: 125" 125 'given twice' -e A=app/token -e A=app/user
fails "-e cannot set the key variable" 125 'COMFYVN_SECRETS_KEY' -e COMFYVN_SECRETS_KEY=app/token
fails "an unknown option: 125" 125 'usage' --bogus
printf 'a\000b' | csc set --raw bin nul
fails "a value holding a NUL byte: 125" 125 'NUL byte' -p bin
csc run -p app -- /nonexistent/cmd 2>"$T/err"
check "a missing command: 127, named" sh -c "[ $? -eq 127 ] && grep -q /nonexistent/cmd $T/err"
csc run -p app -- no-such-command-xyz 2>"$T/err"
check "a command not on PATH: 127" sh -c "[ $? -eq 127 ] && grep -q 'command not found' $T/err"
printf 'echo hi\n' >"$T/noexec"
csc run -p app -- "$T/noexec" 2>"$T/err"
check "a file that is not executable: 126" [ $? -eq 126 ]

# The audit log: one secret_read per variable, via run, COMMAND's pid and name.
n0=$(grep -c '"event":"secret_read"' "$CSD/audit.log")
"$CS" --config "$CSD/cs.ini" run -p app -e X=other/key -- sh -c 'echo $$ >"$0"' "$T/pid"
n1=$(grep -c '"event":"secret_read"' "$CSD/audit.log")
check "one secret_read per value handed over (3)" [ $((n1 - n0)) -eq 3 ]
check "each names via run, COMMAND's pid, comm and path" sh -c "[ \$(tail -n 3 $CSD/audit.log |
    grep '\"via\":\"run\"' | grep '\"pid\":$(cat "$T/pid"),' | grep '\"comm\":\"sh\"' |
    grep -c '\"detail\":\"command /.*/sh\"') -eq 3 ]"
check "the lines name provider and field" sh -c "tail -n 3 $CSD/audit.log |
    grep -q '\"provider\":\"other\",\"keys\":\[\"key\"\]'"
check "the audit log still verifies" csc audit --verify
check "no value in the audit log" sh -c "! grep -q -e '$TOK' -e other-canary $CSD/audit.log"

mv "$CSD/audit.log" "$T/audit.moved"
mkdir "$CSD/audit.log"
fails "an audit line that cannot be written: 125, nothing runs (fail closed)" 125 audit.log -p app
rmdir "$CSD/audit.log"
mv "$T/audit.moved" "$CSD/audit.log"

# A rolled-back vault is refused, as by every reader.
cp "$CSD/vault.json" "$T/old.json"
printf 'tok2' | csc set app token
cp "$CSD/vault.json" "$T/new.json"
cp "$T/old.json" "$CSD/vault.json"
fails "a rolled-back vault: 125" 125 'older than generation' -p app
cp "$T/new.json" "$CSD/vault.json"

# No value in the argv of any process while COMMAND runs.
"$CS" --config "$CSD/cs.ini" run -p app -e X=other/key -- sh -c \
    'touch "$0/up"; i=0; while [ ! -e "$0/go" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done' "$T" &
rpid=$!
if wait_until 10 test -e "$T/up"; then
	printf '%s\n' tok2 other-canary >"$T/pat"	# in a file: not in grep's own argv
	hits=$(grep -l -a -F -f "$T/pat" /proc/[0-9]*/cmdline 2>/dev/null | tr '\n' ' ')
	check "no value in /proc/PID/cmdline of any process" [ -z "$hits" ]
	check "the values are in COMMAND's environment" grep -q -a tok2 "/proc/$rpid/environ"
else
	notok "COMMAND started" "no $T/up"
fi
touch "$T/go"
wait "$rpid"
done_testing
