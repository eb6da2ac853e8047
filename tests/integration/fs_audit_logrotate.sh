#!/bin/sh
# The audit log rotated by Debian's logrotate with the shipped logrotate/comfysecrets,
# while the daemon serves reads: with "create" (rename, SIGHUP) under load, every read
# is logged exactly once across audit.log, audit.log.1 and audit.log.N.gz, and
# `audit --verify` passes over the set; with "copytruncate" the chain goes on in the
# emptied file; with "dateext" (two dateformats) the dated set verifies. A rotated file
# that was edited is named by --verify.
. tests/lib.sh
fs_require fs_audit_logrotate
if ! command -v logrotate >/dev/null 2>&1; then
	skip fs_audit_logrotate "logrotate is not installed (scripts/install-deps)"; exit 0
fi
cs_init
sed -i 's/^flush = none/flush = async/' "$CSD/cs.ini"
printf 'v1' | csc set app token
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

# The shipped config, pointed at this test's log and daemon.
conf() {
	sed -e "s|^/var/log/comfysecrets/audit.log {|$CSD/audit.log {|" \
	    -e "s|^\(\t*\)systemctl kill .*|\1kill -HUP $CSFS_PID|" "$TOP/logrotate/comfysecrets" >"$T/lr.conf"
	[ "$1" = copytruncate ] && sed -i 's/^\tcreate .*/\tcopytruncate/' "$T/lr.conf"
	grep -q "$CSD/audit.log {" "$T/lr.conf" && grep -q "kill -HUP $CSFS_PID" "$T/lr.conf"
}
rotate() { logrotate -f -s "$T/lr.state" "$T/lr.conf" 2>>"$T/lr.err"; }
# secret_read lines in every file of the set
reads() {
	for f in "$CSD"/audit.log "$CSD"/audit.log.[0-9]*; do
		[ -e "$f" ] || continue
		case $f in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
	done | grep -c '"event":"secret_read"'
}

check "the shipped config can be pointed at the test's log" conf create
n0=$(reads)
# load: 400 reads in the background while logrotate rotates three times
( i=0; while [ $i -lt 400 ]; do cat "$M/app/token" >/dev/null || exit 1; i=$((i + 1)); done ) &
loader=$!
at_exit "kill $loader"
r=0
for _ in 1 2 3; do rotate || r=1; sleep 0.1; done
wait $loader; lrc=$?
check "logrotate (create) ran without error" [ $r -eq 0 ]
[ $r -eq 0 ] || sed 's/^/# /' "$T/lr.err"
check "every read of the load succeeded" [ $lrc -eq 0 ]
check "logrotate made audit.log.1 and compressed older ones" \
	sh -c "[ -f $CSD/audit.log.1 ] && ls $CSD/audit.log.*.gz >/dev/null"
cat "$M/app/token" >/dev/null
n1=$(reads)
check "each of the 401 reads is logged exactly once across the files ($((n1 - n0)))" [ $((n1 - n0)) -eq 401 ]
check "the new audit.log goes on with the chain (audit_log_continued first)" \
	sh -c "head -n 1 $CSD/audit.log | grep -q '\"event\":\"audit_log_continued\"'"
check "the daemon no longer holds a rotated file open" \
	sh -c "! ls -l /proc/$CSFS_PID/fd | grep -q 'audit.log.[0-9]'"
printf 'v2' | csc set app token
check "a CLI write after the rotation goes to the new file" \
	sh -c "tail -n 1 $CSD/audit.log | grep -q secret_written"
csc audit --verify >"$T/v.out" 2>&1
check "audit --verify passes over the rotated set: $(cat "$T/v.out")" grep -q "files (rotated ones included), chain intact" "$T/v.out"

# A rotated file edited: --verify names it and the line.
cp "$CSD/audit.log.1" "$T/keep.1"
sed -i '2s/"app"/"apq"/' "$CSD/audit.log.1"
csc audit --verify >"$T/v.out" 2>&1; rc=$?
check "an edited rotated file fails --verify, naming the file and the line" \
	sh -c "[ $rc -ne 0 ] && grep -q 'audit.log.1: line 3: prev does not match' $T/v.out"
cp "$T/keep.1" "$CSD/audit.log.1"

# No SIGHUP at all: a plain mv; the daemon notices by itself (once a second) and the
# reads after that land in the new file.
rm -f "$CSD"/audit.log.[0-9]*
mv "$CSD/audit.log" "$CSD/audit.log.1"
read_lands_in_new() { cat "$M/app/token" >/dev/null && [ -s "$CSD/audit.log" ] && grep -q secret_read "$CSD/audit.log"; }
check "without SIGHUP the daemon moves to a new audit.log by itself (polled up to 10 s)" wait_until 10 read_lands_in_new
check "... and the set verifies" csc audit --verify

# copytruncate: logrotate copies, then cuts the file under the daemon's O_APPEND fd.
check "the shipped config with copytruncate" conf copytruncate
cat "$M/app/token" >/dev/null
check "logrotate (copytruncate) ran without error" rotate
cat "$M/app/token" >/dev/null
check "after copytruncate the log starts at offset 0 with audit_log_continued" \
	sh -c "head -c 9 $CSD/audit.log | grep -q '^{\"seq\":' && head -n 1 $CSD/audit.log | grep -q audit_log_continued"
check "audit --verify passes after copytruncate" csc audit --verify

# dateext, as some distributions turn it on: dated names, which --verify orders by date.
# A dateformat down to the second, so three rotations fit in a few seconds: digits
# only, then with a dash between date and time (logrotate's example of a dateformat).
dated_round() {
	rm -f "$CSD"/audit.log.[0-9]* "$CSD"/audit.log-*
	conf create
	sed -i "s/^\tcompress\$/\tcompress\n\tdateext\n\tdateformat $1/" "$T/lr.conf"
	r=0
	for _ in 1 2 3; do
		cat "$M/app/token" >/dev/null
		s0=$(date +%s)
		rotate || r=1
		# the next rotation needs another name: the clock's next second (polled)
		wait_until 10 sh -c "[ \$(date +%s) -gt $s0 ]"
	done
	cat "$M/app/token" >/dev/null
	check "logrotate (dateext, dateformat $1) ran without error" [ $r -eq 0 ]
	check "it left three dated files, the older ones compressed" \
		sh -c "[ \$(ls $CSD | grep -c '^audit.log-$2') -eq 3 ] && ls $CSD/audit.log-*.gz >/dev/null"
	csc audit --verify >"$T/v.out" 2>&1
	check "audit --verify passes over the dated set: $(cat "$T/v.out")" grep -q "4 files (rotated ones included), chain intact" "$T/v.out"
	csc audit --limit 200 >"$T/l.out" 2>&1
	check "audit --limit reads back into the dated files" \
		sh -c "grep -c '\"event\":\"audit_log_continued\"' $T/l.out | grep -qx '[3-9]'"
}
dated_round -%Y%m%d%H%M%S '[0-9]\{14\}'
dated_round -%Y%m%d-%H%M%S '[0-9]\{8\}-[0-9]\{6\}'
# an edit in a dated, compressed file is caught, naming it (the break is in the line
# after the edit: in that file, or the next file's first, "the last line of" it)
f=$(ls "$CSD"/audit.log-*.gz | head -n 1)
cp "$f" "$T/keep.gz"
gzip -dc "$f" | sed '2s/"app"/"apq"/' | gzip >"$T/edited.gz" && cp "$T/edited.gz" "$f"
csc audit --verify >"$T/v.out" 2>&1; rc=$?
check "an edited dated file fails --verify, naming it: $(cat "$T/v.out")" \
	sh -c "[ $rc -ne 0 ] && grep -F '$f' $T/v.out | grep -q 'prev does not match'"
cp "$T/keep.gz" "$f"
check "the daemon never wrote to stderr about the audit log" sh -c "! grep -q audit $T/csfs.err"
csfs_stop "$M"
check "audit --verify still passes with the state file after the stop" csc audit --verify
done_testing
