#!/bin/sh
# Fault: the daemon runs out of file descriptors (its RLIMIT_NOFILE lowered to what it
# has open, with prlimit) while root removes a secret. Every reload fails with EMFILE;
# it must be tried again with back-off (50 ms doubling to 5 s) for as long as it fails,
# not given up after a few tries: once descriptors are free again, the removed secret
# vanishes without a SIGHUP. The refusal is still audited once, as before.
. tests/lib.sh
fs_require fault_reload_retry
command -v prlimit >/dev/null 2>&1 || { skip fault_reload_retry "prlimit is missing"; exit 0; }
cs_init
printf 'to-be-removed' | csc set runpod api_key
printf 'stays' | csc set runpod endpoint
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
check "serving the secret" sh -c "[ \"\$(cat $M/runpod/api_key)\" = to-be-removed ]"

soft=$(prlimit --pid "$CSFS_PID" --nofile --noheadings --output SOFT)
# The lowest free descriptor number: with the limit there, every open fails (EMFILE).
low=0
while [ -e /proc/"$CSFS_PID"/fd/$low ]; do low=$((low + 1)); done
prlimit --pid "$CSFS_PID" --nofile="$low:" || { notok "prlimit lowers the daemon's RLIMIT_NOFILE"; done_testing; }
at_exit "prlimit --pid $CSFS_PID --nofile=$soft:"
a0=$(grep -c '"event":"vault_reload_refused"' "$CSD/audit.log")
csc rm runpod api_key
check "the reload fails for want of descriptors (logged)" \
	wait_until 5 grep -q 'Too many open files' "$T/csfs.err"
# Past the point where the refusal is audited: five failed tries, 1.55 s (where the
# old daemon gave up for good, after five tries 100 ms apart).
check "... the refusal is audited once" wait_until 10 sh -c \
	"[ \$(grep -c '\"event\":\"vault_reload_refused\"' $CSD/audit.log) -eq $((a0 + 1)) ]"
check "... and the daemon keeps trying (try 8 logged, back-off doubling)" \
	wait_until 10 grep -q 'failed (try 8)' "$T/csfs.err"
check "... serving the last good vault meanwhile" \
	sh -c "[ \"\$(cat $M/runpod/endpoint)\" = stays ]"
prlimit --pid "$CSFS_PID" --nofile="$soft:"
t0=$(now_ms)
check "descriptors back: the removed secret vanishes without SIGHUP (5 s back-off cap)" \
	wait_until 10 sh -c "! ls $M/runpod | grep -qx api_key"
echo "# it vanished $(( $(now_ms) - t0 )) ms after the limit was raised"
check "... and the daemon said the reload succeeded after failed tries" \
	grep -q 'succeeded after [0-9]* failed tries' "$T/csfs.err"
echo "# the daemon said: $(grep -c 'failed (try' "$T/csfs.err") lines for $(grep -o 'after [0-9]* failed' "$T/csfs.err" | tail -n 1) tries"
check "the daemon stops cleanly" csfs_stop "$M"
done_testing
