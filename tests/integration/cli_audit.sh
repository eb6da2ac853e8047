#!/bin/sh
# The audit log as a user checks it: `audit --verify` passes on a fresh log and fails,
# naming the line, after an edit, a deletion, a reordering and a cut tail; no value
# ever appears in the log or in an error. Files beside it that it does not read are
# warned of, or fail it when they look rotated (audit.log.2.xz).
. tests/lib.sh
cs_init
SEED='sk-canary-77aa01-never-in-a-log'
printf '%s' "$SEED" | csc set runpod api_key
for _ in 1 2 3 4 5; do csc get runpod api_key >/dev/null; done
csc rotate >/dev/null
csc get runpod api_key >/dev/null

check "audit --verify passes on a fresh log" csc audit --verify
check "audit --limit 3 prints 3 lines" sh -c "[ \$($CS --config $CSD/cs.ini audit --limit 3 | wc -l) -eq 3 ]"
check "rotate is audited as key_rotated with the new fingerprint" \
	sh -c "grep '\"event\":\"key_rotated\"' $CSD/audit.log | grep -q \"\$($CS --config $CSD/cs.ini fingerprint)\""
check "key_rotated names the providers" sh -c "grep '\"event\":\"key_rotated\"' $CSD/audit.log | grep -q '\"providers\":\[\"runpod\"\]'"
check "every line has seq, prev, event and an RFC 3339 UTC timestamp" \
	sh -c "! grep -v '^{\"seq\":[0-9]*,\"prev\":\"[0-9a-f]\{64\}\",\"event\":\"[a-z_]*\",\"timestamp\":\"[0-9-]*T[0-9:.]*Z\"' $CSD/audit.log"

cp "$CSD/audit.log" "$T/good.log"
n=$(wc -l <"$T/good.log")

sed '4s/"runpod"/"runpoe"/' "$T/good.log" >"$CSD/audit.log"
csc audit --verify >/dev/null 2>"$T/err"
check "an edited line fails verify with status 1" [ $? -eq 1 ]
check "the edit is reported at the line after it (line 5)" grep -q "line 5" "$T/err"

sed '3d' "$T/good.log" >"$CSD/audit.log"
csc audit --verify >/dev/null 2>"$T/err"
check "a deleted line fails verify naming line 3" grep -q "line 3" "$T/err"

{ sed -n '1,2p' "$T/good.log"; sed -n '4p' "$T/good.log"; sed -n '3p' "$T/good.log"; sed -n "5,\$p" "$T/good.log"; } >"$CSD/audit.log"
csc audit --verify >/dev/null 2>"$T/err"
check "reordered lines fail verify naming line 3" grep -q "line 3" "$T/err"

head -n $((n - 2)) "$T/good.log" >"$CSD/audit.log"
csc audit --verify >/dev/null 2>"$T/err"
rc=$?
check "lines cut from the end fail verify (the state file remembers the tail)" [ "$rc" -eq 1 ]
check "the cut is explained" grep -qi "cut\|state" "$T/err"

cp "$T/good.log" "$CSD/audit.log"
check "the restored log verifies again" csc audit --verify

check "no value in the audit log" sh -c "! grep -a -q '$SEED' $CSD/audit.log"
csc get runpod nothere 2>"$T/err1"; csc --key-file /nonexistent get runpod api_key 2>"$T/err2"
check "no value in error messages" sh -c "! grep -a -q '$SEED' $T/err1 $T/err2"

# --follow goes on across a rotation by rename, as tail -F does.
"$CS" --config "$CSD/cs.ini" audit --limit 0 --follow >"$T/follow.out" 2>&1 &
fpid=$!
at_exit "kill $fpid"
following() { for l in /proc/$fpid/fd/*; do [ "$(readlink "$l")" = "$CSD/audit.log" ] && return 0; done; return 1; }
wait_until 5 following
csc get runpod api_key >/dev/null
mv "$CSD/audit.log" "$CSD/audit.log.1"
csc get runpod api_key >/dev/null
check "audit --follow shows the lines of the new file after a rotation" \
	wait_until 5 sh -c "[ \$(grep -c secret_read $T/follow.out) -eq 2 ] && grep -q audit_log_continued $T/follow.out"
kill $fpid
check "the rotated set verifies" csc audit --verify
mv "$CSD/audit.log.1" "$T/rotated.log"

# --follow while lines are being written: the history, then every later line, none left
# out between the two and none shown twice (seqs one after another).
( while :; do csc get runpod api_key >/dev/null || exit 1; done ) &
writer=$!
at_exit "kill $writer"
"$CS" --config "$CSD/cs.ini" audit --limit 3 --follow >"$T/follow3.out" 2>&1 &
fpid=$!
at_exit "kill $fpid"
check "audit --follow under writes shows 20 lines or more (polled up to 30 s)" \
	wait_until 30 sh -c "[ \$(wc -l <$T/follow3.out) -ge 20 ]"
kill $fpid $writer; wait $writer 2>/dev/null
consecutive() { sed 's/^{"seq":\([0-9]*\),.*/\1/' "$1" | awk 'NR > 1 && $1 != p + 1 { bad = 1 } { p = $1 } END { exit bad }'; }
check "... with no line left out or shown twice after the history" consecutive "$T/follow3.out"

# A process name with C1 CSI (U+009B), DEL and RIGHT-TO-LEFT OVERRIDE (U+202E): audit and
# audit --follow print them as JSON \u escapes, never as bytes a terminal would obey.
"$CS" --config "$CSD/cs.ini" audit --limit 0 --follow >"$T/follow2.out" 2>&1 &
fpid=$!
at_exit "kill $fpid"
wait_until 5 following
W=$(printf 'x\302\233y\177z\342\200\256w')
cp "$CS" "$T/$W"
"$T/$W" --config "$CSD/cs.ini" get runpod api_key >/dev/null
csc audit --limit 1 >"$T/shown"
raw() { LC_ALL=C grep -q -e "$(printf '\302\233')" -e "$(printf '\177')" -e "$(printf '\342\200\256')" "$1"; }
no_raw() { ! raw "$1"; }
check "audit prints the name's controls escaped" grep -q '"comm":"x\\u009by\\u007fz\\u202ew"' "$T/shown"
check "... and none of their bytes" no_raw "$T/shown"
check "audit --follow prints them escaped too" \
	wait_until 5 grep -q '"comm":"x\\u009by\\u007fz\\u202ew"' "$T/follow2.out"
check "... and none of their bytes" no_raw "$T/follow2.out"
check "the raw bytes are in the log itself (the test means something)" raw "$CSD/audit.log"
kill $fpid

mv "$CSD/audit.log" "$T/moved.log"; mkdir "$CSD/audit.log"
csc get runpod api_key >"$T/out" 2>"$T/err"
rc=$?
check "get refuses when the audit line cannot be written (fail closed)" [ "$rc" -eq 1 ]
check "and shows no value" sh -c "[ ! -s $T/out ]"
check "the refusal names the audit log" grep -q "audit.log" "$T/err"

# A change and its audit line succeed or fail together (docs/decisions.md): a log that
# cannot be opened refuses the change; a line that fails after the save says so exactly.
n_before=$(wc -l <"$T/moved.log")
printf 'changed-1' | csc set runpod api_key 2>"$T/err"; rc=$?
check "set with an unopenable audit log exits 1" [ "$rc" -eq 1 ]
check "... says the value was not stored, naming the log" grep -q "runpod/api_key not stored: .*audit.log" "$T/err"
printf 'gone' | csc set tmp x 2>/dev/null
csc rm runpod 2>"$T/err"; rc=$?
check "rm with an unopenable audit log exits 1 and says nothing was removed" \
	sh -c "[ $rc -eq 1 ] && grep -q 'runpod not removed' $T/err"
fpr_before=$(csc fingerprint)
csc rotate >/dev/null 2>"$T/err"; rc=$?
check "rotate with an unopenable audit log exits 1 and says the key was not rotated" \
	sh -c "[ $rc -eq 1 ] && grep -q 'the key was not rotated: .*audit.log' $T/err"
check "... and the key file is unchanged" [ "$(csc fingerprint)" = "$fpr_before" ]
csc floor --reset >"$T/out" 2>"$T/err"; rc=$?
check "floor --reset with an unopenable audit log exits 1 and says it was not reset" \
	sh -c "[ $rc -eq 1 ] && grep -q 'the floor was not reset: .*audit.log' $T/err"
check "... and reports no new floor" sh -c "[ ! -s $T/out ]"
rmdir "$CSD/audit.log"; mv "$T/moved.log" "$CSD/audit.log"
check "no line for the refused set or rm" [ "$(wc -l <"$CSD/audit.log")" -eq "$n_before" ]
check "... and the vault still holds the old value" sh -c "[ \"\$($CS --config $CSD/cs.ini get runpod api_key)\" = '$SEED' ]"
# /dev/full opens, then every write fails: the line goes before the change, so the value
# is not stored, and the message says why.
COMFYVN_SECURITY_LOG_FILE=/dev/full csc set runpod api_key 2>"$T/err" <<EOF2
changed-2
EOF2
rc=$?
check "set whose audit line cannot be written exits 1" [ "$rc" -eq 1 ]
check "... and says the value was not stored, and why" \
	grep -q "runpod/api_key not stored: its audit line could not be written, so the change was not saved: /dev/full: audit write: No space left" "$T/err"
check "... which it was not" sh -c "[ \"\$($CS --config $CSD/cs.ini get runpod api_key)\" = '$SEED' ]"

# A set rotated as the shipped logrotate config leaves it (create, compress,
# delaycompress): audit.log, .1, .2.gz, .3.gz, each new file started by a CLI read.
rot() {
	for i in 2 1; do
		[ ! -e "$CSD/audit.log.$i.gz" ] || mv "$CSD/audit.log.$i.gz" "$CSD/audit.log.$((i + 1)).gz"
	done
	[ ! -e "$CSD/audit.log.1" ] || { gzip "$CSD/audit.log.1" && mv "$CSD/audit.log.1.gz" "$CSD/audit.log.2.gz"; }
	mv "$CSD/audit.log" "$CSD/audit.log.1"
	csc get runpod api_key >/dev/null
}
rot; rot; rot
whole() { { gzip -dc "$CSD/audit.log.3.gz"; gzip -dc "$CSD/audit.log.2.gz"; cat "$CSD/audit.log.1" "$CSD/audit.log"; } | tail -n "$1"; }
csc audit --limit 5 >"$T/tail5"
check "audit --limit 5 right after a rotation prints 5 lines, read back from audit.log.1" \
	sh -c "[ \$(wc -l <$T/tail5) -eq 5 ]"
whole 5 >"$T/want5"
check "... the last 5 of the set, oldest first" cmp "$T/tail5" "$T/want5"
csc audit --limit 7 >"$T/tail7"; whole 7 >"$T/want7"
check "audit --limit 7 reads on into audit.log.2.gz" cmp "$T/tail7" "$T/want7"
check "audit --verify passes over audit.log, .1, .2.gz and .3.gz" \
	sh -c "$CS --config $CSD/cs.ini audit --verify | grep -q 'in 4 files'"
mv "$CSD/audit.log.2.gz" "$T/2.gz"
csc audit --verify >"$T/out" 2>"$T/err"; rc=$?
check "a rotated file missing in the middle fails --verify (exit 1)" [ "$rc" -eq 1 ]
check "... naming the missing file" grep -q "audit.log.2: missing" "$T/err"
mv "$T/2.gz" "$CSD/audit.log.2.gz"
rm "$CSD/audit.log.3.gz"
check "a set whose oldest file was deleted by rotation still verifies" csc audit --verify

# Files --verify does not read: a stray copy beside the log is a warning (exit 0, named
# on stderr); a rotated file compressed other than with gzip is a failure naming it.
cp "$CSD/audit.log.1" "$CSD/audit.log.bak"
csc audit --verify >"$T/out" 2>"$T/err"; rc=$?
check "a stray audit.log.bak does not fail --verify (exit 0)" [ "$rc" -eq 0 ]
check "... it is named on stderr as not read" grep -qF "warning: $CSD/audit.log.bak: not read" "$T/err"
check "... and the summary says so" grep -q "; 1 file named like it not read" "$T/out"
rm "$CSD/audit.log.bak"
gzip -dc "$CSD/audit.log.2.gz" >"$CSD/audit.log.2.xz" && rm "$CSD/audit.log.2.gz"
csc audit --verify >"$T/out" 2>"$T/err"; rc=$?
check "a rotated audit.log.2.xz fails --verify (exit 1)" [ "$rc" -eq 1 ]
check "... naming it and saying it cannot be read" \
	grep -qF "$CSD/audit.log.2.xz: a rotated log compressed as xz, which comfysecrets cannot read" "$T/err"
done_testing
