#!/bin/sh
# comfysecrets watch --mount DIR: the changes come from DIR/.events of a comfysecretsfs
# mount instead of the vault file. COMMAND runs once per change of a watched field, not
# for other fields or a set of the same value, gets the changed names and never a
# value; a folder that is no mount fails at start; when the daemon stops, watch says so
# and exits 1 instead of waiting for ever.
. tests/lib.sh
fs_require cli_watch_events
cs_init
printf 'tok-canary-0' | csc set app token
printf 'alice' | csc set app user
M=$T/mnt
OUT=$T/out
export OUT
lines() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -eq "$2" ]; }
if ! csfs_start "$M"; then notok "mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

"$CS" --config "$CSD/cs.ini" watch --mount "$M" app/token -- \
    sh -c 'echo "$COMFYSECRETS_CHANGED" >>"$OUT"; env >"$OUT.env"' 2>"$T/w.err" &
WPID=$!
at_exit "kill $WPID"
wait_until 10 grep -q watching "$T/w.err"
check "watch --mount announces what it watches, and where" grep -q "watching 1 name (app/token) of $M" "$T/w.err"
printf 'tok-canary-1' | csc set app token
check "a set of the watched field runs COMMAND" wait_until 10 lines "$OUT" 1
check "COMMAND gets the changed name, the generation, and no value" sh -c \
    "grep -qx app/token $OUT && grep -q '^COMFYSECRETS_GENERATION=[1-9]' $OUT.env && ! grep -q tok-canary $OUT.env"
# each step ends with a sentinel change of app/token: a run for anything before it
# would come first and show as one line too many
printf 'bob' | csc set app user
printf 'tok-canary-1' | csc set app token	# the same value: no change
printf 'tok-canary-2' | csc set app token
check "another field's change, and the same value set again, run nothing" wait_until 10 lines "$OUT" 2
csc rm app token
check "removing the field is a change" wait_until 10 lines "$OUT" 3
check "every run named app/token only" sh -c "[ \$(grep -cx app/token $OUT) -eq 3 ]"
csfs_stop "$M"
wait_until 30 sh -c "! kill -0 $WPID 2>/dev/null"
wait "$WPID"
rc=$?
check "when the daemon stops, watch exits 1 (status $rc)" [ "$rc" -eq 1 ]
cat "$T/w.err" | sed "s/^/# /"
check "... saying so" grep -q 'stopped serving' "$T/w.err"
check "no value in anything watch printed" sh -c "! grep -q tok-canary $T/w.err"
mkdir -p "$T/plain"
csc watch --mount "$T/plain" app -- true 2>"$T/err"
check "a folder that is no comfysecretsfs mount fails at start (1)" sh -c "[ $? -eq 1 ] && grep -q '$T/plain/.events' $T/err"
done_testing
