#!/bin/sh
# comfysecrets watch against the vault file, as a user meets it: COMMAND runs once per
# change of a watched field, not for other fields, not for a set of the same value or a
# rotation, never twice at once; it gets the changed names and never a value; a
# rolled-back vault runs nothing; SIGTERM ends the watch.
. tests/lib.sh
cs_init
printf 'tok-canary-0' | csc set app token
printf 'alice' | csc set app user
printf 'x' | csc set other key
OUT=$T/out
export OUT
lines() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -eq "$2" ]; }
watching() { grep -q 'watching' "$1"; }

# watch_start ERR NAME... -- COMMAND...: in the background, WPID; waits until it watches.
watch_start() {
	_err=$1; shift
	"$CS" --config "$CSD/cs.ini" watch "$@" 2>"$_err" &
	WPID=$!
	at_exit "kill $WPID"
	wait_until 10 watching "$_err"
}
# watch_stop: SIGTERM, then its exit status (bounded: SIGKILL after 10 s).
watch_stop() {
	kill -TERM "$WPID"
	( sleep 10; kill -KILL "$WPID" 2>/dev/null ) >/dev/null 2>&1 &
	_dog=$!
	wait "$WPID"
	_rc=$?
	kill "$_dog" 2>/dev/null
	return "$_rc"
}

watch_start "$T/w1.err" app/token -- sh -c 'echo "$COMFYSECRETS_CHANGED" >>"$OUT"; env >"$OUT.env"'
check "watch announces what it watches" grep -q 'watching 1 name (app/token)' "$T/w1.err"
printf 'tok-canary-1' | csc set app token
check "a set of the watched field runs COMMAND" wait_until 10 lines "$OUT" 1
check "COMMAND gets the changed name in COMFYSECRETS_CHANGED" grep -qx app/token "$OUT"
check "and the generation, the count, and no value and no key" sh -c \
    "grep -q '^COMFYSECRETS_GENERATION=[0-9]' $OUT.env && grep -qx COMFYSECRETS_CHANGED_COUNT=1 $OUT.env &&
    ! grep -q -e tok-canary -e COMFYVN_SECRETS_KEY $OUT.env"
# Each step ends with a sentinel change of app/token and waits for its run: a run
# caused by anything before it would have come first, and shows as one line too many.
printf 'bob' | csc set app user
printf 'y' | csc set other key
printf 'tok-canary-2' | csc set app token
check "another field's change runs nothing (only the sentinel ran)" wait_until 10 lines "$OUT" 2
printf 'tok-canary-2' | csc set app token
csc rotate >/dev/null
printf 'tok-canary-3' | csc set app token
check "the same value set again, and a rotate, run nothing" wait_until 10 lines "$OUT" 3
csc rm app token
check "removing the field is a change" wait_until 10 lines "$OUT" 4
printf 'tok-canary-4' | csc set app token
check "adding it back is a change" wait_until 10 lines "$OUT" 5
check "every run named app/token and nothing else" sh -c "[ \$(grep -cx app/token $OUT) -eq 5 ]"

# A rolled-back vault is refused and runs nothing; watching goes on.
cp "$CSD/vault.json" "$T/new.json"
cp "$T/new.json" "$T/old.json.tmp"
printf 'tok-canary-5' | csc set app token
check "a set runs COMMAND" wait_until 10 lines "$OUT" 6
cp "$T/old.json.tmp" "$CSD/vault.json.tmp-rb" && mv "$CSD/vault.json.tmp-rb" "$CSD/vault.json"
check "a rolled-back vault is reported" wait_until 10 grep -q 'older than generation' "$T/w1.err"
check "and runs nothing" lines "$OUT" 6
watch_stop
check "SIGTERM ends the watch with status 0" [ $? -eq 0 ]
check "no value in anything watch printed" sh -c "! grep -q tok-canary $T/w1.err"

# Never twice at once: a slow COMMAND, changes landing while it runs. The COMMAND waits
# for $OUT.go (at most about a minute, so a lost go cannot hang the test): on a loaded
# machine the three sets below can take longer than a short cap.
csc floor --reset >/dev/null	# accept the rolled-back vault as the new base
printf 'a' | csc set app token
rm -f "$OUT"
watch_start "$T/w2.err" app -- sh -c '
	mkdir "$OUT.lock" 2>/dev/null || echo OVERLAP >>"$OUT"
	echo start >>"$OUT"; touch "$OUT.started"
	i=0; while [ ! -e "$OUT.go" ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done
	rm -f "$OUT.go"; rmdir "$OUT.lock"; echo "end $COMFYSECRETS_CHANGED" >>"$OUT"'
printf 'b' | csc set app token
wait_until 10 test -e "$OUT.started"
rm -f "$OUT.started"
printf 'c' | csc set app token	# while the first run waits for go
printf 'u' | csc set app user
printf 'd' | csc set app token
touch "$OUT.go"
check "the changes made during a run get one more run, after it" wait_until 10 test -e "$OUT.started"
touch "$OUT.go"
check "the second run names both fields changed meanwhile" \
    wait_until 10 grep -qx 'end app/token app/user' "$OUT"
check "the runs never overlapped" sh -c "! grep -q OVERLAP $OUT"
watch_stop

# Many changes at once: COMFYSECRETS_CHANGED stays bounded (whole names, 64 KiB at
# most), COMFYSECRETS_CHANGED_COUNT has them all.
rm -f "$OUT" "$OUT.env"
watch_start "$T/w3.err" many -- sh -c 'env >"$OUT.env"; echo ran >>"$OUT"'
awk 'BEGIN { printf "{\"many\": {"; for (i = 0; i < 3000; i++)
    printf "%s\"field-with-a-longish-name-%04d\": \"v\"", i ? ", " : "", i; print "}}" }' >"$T/many.json"
csc import "$T/many.json" >/dev/null
check "3000 fields imported at once: one run" wait_until 20 lines "$OUT" 1
check "COMFYSECRETS_CHANGED_COUNT is 3000" grep -qx COMFYSECRETS_CHANGED_COUNT=3000 "$OUT.env"
check "COMFYSECRETS_CHANGED holds whole names, at most 64 KiB" sh -c "
    v=\$(sed -n 's/^COMFYSECRETS_CHANGED=//p' $OUT.env); [ \${#v} -le 65536 ] && [ \${#v} -gt 60000 ] &&
    printf '%s\n' \$v | grep -vqx 'many/field-with-a-longish-name-[0-9]\{4\}' && exit 1; exit 0"
watch_stop

# Usage and start-up errors.
csc watch app/token >/dev/null 2>"$T/err"
check "no -- COMMAND: usage error (2)" [ $? -eq 2 ]
csc watch 'App/x' -- true >/dev/null 2>"$T/err"
check "a bad name: usage error naming it" sh -c "[ $? -eq 2 ] && grep -q App $T/err"
csc watch app -- /nonexistent/cmd 2>"$T/err"
check "a missing command fails at start (1)" sh -c "[ $? -eq 1 ] && grep -q /nonexistent/cmd $T/err"
csc --key-file /nonexistent watch app -- true 2>"$T/err"
check "a vault that cannot be opened fails at start (1)" [ $? -eq 1 ]
done_testing
