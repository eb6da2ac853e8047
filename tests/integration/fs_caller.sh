#!/bin/sh
# The audit line names the program that opened the secret, even where a cache of
# callers could go wrong: a process that reads, then execs another program under the
# same pid, which reads again, gets two lines with that pid, each naming its own
# program; a reader thread is named by its process's pid; a name with a newline or a
# backslash is written as /proc/<pid>/status writes it.
. tests/lib.sh
fs_require fs_caller
cs_init
printf 'v1' | csc set runpod api_key
M=$T/mnt
F=$M/runpod/api_key
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

# lines_of PID: the secret_read lines naming PID, oldest first.
lines_of() { grep '"event":"secret_read"' "$CSD/audit.log" | grep "\"pid\":$1,"; }
# has TEXT PART: 0 when TEXT holds PART.
has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }

cp /bin/sh "$T/first-prog"
cp /bin/cat "$T/second-prog"
# the shell opens the file itself (read's redirection), then becomes second-prog
"$T/first-prog" -c 'read -r x <"$1"; exec "$2" "$1"' sh "$F" "$T/second-prog" >/dev/null &
pid=$!
wait $pid
check "both opens are audited under the one pid" [ "$(lines_of $pid | wc -l)" -eq 2 ]
check "the first line names the program that read first" \
	has "$(lines_of $pid | head -n 1)" '"comm":"first-prog"'
check "after exec, the line names the new program" \
	has "$(lines_of $pid | tail -n 1)" '"comm":"second-prog"'

# The same pid read three times in a row by the same program: every line names it.
"$T/first-prog" -c 'for i in 1 2 3; do read -r x <"$1"; done' sh "$F" &
pid=$!
wait $pid
check "three reads by one process: three lines, each naming it" \
	[ "$(lines_of $pid | grep -c '"comm":"first-prog"')" -eq 3 ]

if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import os, sys, threading
def read():
    with open(sys.argv[1]) as f:
        f.read()
t = threading.Thread(target=read)
t.start()
t.join()
print(os.getpid())
' "$F" >"$T/py.pid"
	pypid=$(cat "$T/py.pid")
	check "a read by a thread names its process's pid" [ "$(lines_of "$pypid" | wc -l)" -eq 1 ]
else
	skip "thread reader" "no python3"
fi

nl='
'
cp /bin/cat "$T/a${nl}b"
"$T/a${nl}b" "$F" >/dev/null &
pid=$!
wait $pid
check "a newline in the name is written as /proc/PID/status writes it" \
	has "$(lines_of $pid)" '"comm":"a\\nb"'
check "the log still verifies" csc audit --verify
done_testing
