#!/bin/sh
# Fault: the audit log's filesystem fills up while mounted (a 64 KiB tmpfs holds the
# log). While it is full every read through the mount is refused with EIO (fail
# closed), and a set or a rotation (the CLI's, or .control's) is refused without
# changing anything; the daemon stays alive and keeps listing; once space is freed, reads work
# again; the log still verifies, with no torn or half-written line left behind.
. tests/lib.sh
fs_require fault_audit_full
cs_init
SEED='sk-canary-fault-full-71c2'
printf '%s' "$SEED" | csc set runpod api_key
mkdir -p "$T/small"
if ! mount -t tmpfs -o size=64k,mode=0700 tmpfs "$T/small" 2>"$T/out"; then
	skip fault_audit_full "cannot mount a tmpfs here: $(cat "$T/out")"; done_testing
fi
at_exit "umount -l $T/small"
# The CLI and the daemon share the log on the small filesystem (audit --verify reads it).
sed -i "s|^path = $CSD/audit.log\$|path = $T/small/audit.log|" "$CSD/cs.ini"
printf '[features]\nenable_security_api = true\n' >>"$CSD/cs.ini"	# rotate via .control
M=$T/mnt
F=$M/runpod/api_key
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
check "a read works while there is room" value_is "$F" "$SEED"

# Fill the filesystem to the last block.
dd if=/dev/zero of="$T/small/fill" bs=1k 2>/dev/null
dd if=/dev/zero of="$T/small/fill2" bs=1 2>/dev/null
# The log's last page may still hold a few lines: reads go on until the first refusal,
# and each one served must have its line (nothing served unaudited).
lines() { grep -c '"event":"secret_read"' "$T/small/audit.log"; }
n0=$(lines) served=0
while [ $served -lt 200 ] && cat "$F" >/dev/null 2>&1; do served=$((served + 1)); done
echo "# $served reads still fitted in the log's last page"
check "once the log's disk is full, reads are refused" [ $served -lt 200 ]
check "... every read served until then was audited ($served reads, $(( $(lines) - n0 )) lines)" \
	[ $(( $(lines) - n0 )) -eq $served ]
n_eio=0 n_ok=0 n_other=0
for _ in $(seq 1 20); do
	if cat "$F" >/dev/null 2>"$T/out"; then n_ok=$((n_ok + 1))
	elif grep -q 'Input/output error' "$T/out"; then n_eio=$((n_eio + 1))
	else n_other=$((n_other + 1)); fi
done
echo "# 20 more reads on the full log: $n_eio EIO, $n_ok served, $n_other other errors"
check "while it stays full every read is refused (20 of 20)" [ "$n_ok" -eq 0 ]
check "... with EIO" [ "$n_eio" -eq 20 ]
check "... the daemon says why on stderr" grep -q 'refused' "$T/csfs.err"
check "... and not the value" sh -c "! grep -q '$SEED' $T/csfs.err"
check "the daemon is still alive" kill -0 "$CSFS_PID"
check "... and still lists the tree" sh -c "ls $M/runpod | grep -qx api_key"
check "... and stat still answers" [ "$(stat -c %s "$F")" -eq ${#SEED} ]
# A change whose line cannot be written is not made: no line, no change.
printf 'sk-never-stored' | csc set runpod api_key 2>"$T/out"
rc=$?
echo "# set on a full log: status $rc: $(cat "$T/out")"
check "set while the log's disk is full fails" [ "$rc" -eq 1 ]
check "... saying the value was not stored, and why" \
	grep -q 'runpod/api_key not stored: its audit line could not be written.*No space left' "$T/out"
# So is a rotation, by the CLI or through the daemon's .control.
fpr0=$(csc fingerprint)
csc rotate >/dev/null 2>"$T/out"
rc=$?
echo "# rotate on a full log: status $rc: $(cat "$T/out")"
check "rotate while the log's disk is full fails" [ "$rc" -eq 1 ]
check "... saying the key was not rotated, and why" \
	grep -q 'the key was not rotated: its audit line could not be written.*No space left' "$T/out"
( exec 3<>"$M/.control" && printf '{"op":"rotate"}' >&3 && cat <&3 ) >"$T/out" 2>&1
echo "# .control rotate on a full log: $(cat "$T/out")"
check "rotate through .control on a full log is refused the same way" \
	grep -q '"error":"rotate: the key was not rotated: its audit line could not be written' "$T/out"
check "... and neither changed the key" [ "$(csc fingerprint)" = "$fpr0" ]
check "... nor left a .next key" [ ! -e "$CSD/key.next" ]

rm -f "$T/small/fill" "$T/small/fill2"
check "once space is freed, reads work again (the refused set changed nothing)" value_is "$F" "$SEED"
check "... nor did it leave a temporary file beside the vault" sh -c "! ls $CSD | grep -q '\.tmp-'"
n0=$(grep -c '"event":"secret_read"' "$T/small/audit.log")
for _ in 1 2 3; do cat "$F" >/dev/null; done
n1=$(grep -c '"event":"secret_read"' "$T/small/audit.log")
check "... each audited again (3 reads, 3 lines)" [ $((n1 - n0)) -eq 3 ]
check "no torn line: the log ends with a newline" sh -c "[ \"\$(tail -c 1 $T/small/audit.log | od -An -c | tr -d ' ')\" = '\\n' ]"
check "audit --verify passes with the daemon running" csc audit --verify
check "SIGTERM unmounts cleanly" csfs_stop "$M"
check "audit --verify passes after the stop (state file's chain point included)" csc audit --verify
check "the value is nowhere in the log" sh -c "! grep -q '$SEED' $T/small/audit.log"
done_testing
