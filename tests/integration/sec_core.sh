#!/bin/sh
# No core file, even after SIGABRT, from either binary.
#
# What a test can observe, and what it cannot:
#  - RLIMIT_CORE: /proc/<pid>/limits of the running process, started from a shell whose
#    own limit is unlimited, must say 0.
#  - PR_SET_DUMPABLE 0: not shown in /proc/<pid>/status, but the kernel then gives the
#    process's /proc/<pid> entries to root instead of its uid; so the CLI is run as
#    nobody and /proc/<pid>/status must be root's (a control process of nobody's shows
#    nobody's).
#  - The core file itself: only when core_pattern writes files (a relative pattern lands
#    in the crashing process's cwd, an absolute one in its folder). A control process
#    that may dump is aborted first: if it leaves no core, nothing here could see one and
#    the check says SKIPPED. A pattern piping to a handler (systemd-coredump, apport)
#    is SKIPPED too: the handler decides, and with fs.suid_dumpable=2 it may receive a
#    non-dumpable process's memory (SECURITY.md). System settings are never changed.
. tests/lib.sh
cs_init
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null || echo unknown)

# Where would a core of a process running in $1 land? Prints the folder, or nothing.
core_dir() {
	case $pattern in
	'|'*|unknown|'') ;;
	/*) dirname "$pattern" ;;
	*) echo "$1" ;;
	esac
}
# cores_in DIR: the number of files there whose name starts like the pattern's.
cores_in() {
	_b=$(basename "$pattern" | sed 's/%.*//')
	[ -n "$_b" ] || _b=core
	find "$1" -maxdepth 1 -name "$_b*" -newer "$T/start" 2>/dev/null | wc -l
}
: >"$T/start"
touch -d '1 second ago' "$T/start"	# any file made from now on is -newer, whatever the clock's grain

# The control: a shell that may dump, aborted in its own folder.
mkdir -p "$T/ctl" "$T/cli" "$T/fs"
observable=""
dir=$(core_dir "$T/ctl")
if [ -z "$dir" ]; then
	why="core_pattern is '$pattern' (a pipe to a handler or unknown): no core file to look for"
elif [ ! -w "$dir" ]; then
	why="core_pattern writes to $dir, which this test cannot watch"
else
	before=$(cores_in "$dir")
	sh -c "cd '$T/ctl' && ulimit -c unlimited && exec sh -c 'kill -ABRT \$\$'" 2>/dev/null
	if [ "$(cores_in "$dir")" -gt "$before" ]; then
		observable=1
		ok "control: a dumpable process aborted in a test folder leaves a core (core_pattern '$pattern')"
		find "$dir" -maxdepth 1 -name "$(basename "$pattern" | sed 's/%.*//')*" -newer "$T/start" \
		    -exec rm -f {} + 2>/dev/null
	else
		why="a dumpable control process left no core (core_pattern '$pattern', fs.suid_dumpable $(cat /proc/sys/fs/suid_dumpable))"
	fi
fi

# abort_in DIR PID NAME: SIGABRT to PID, then no core where one would land.
abort_in() {
	_d=$(core_dir "$1")
	_before=0
	[ -n "$observable" ] && _before=$(cores_in "$_d")
	kill -ABRT "$2" 2>/dev/null
	wait "$2" 2>/dev/null
	_rc=$?
	check "$3 died of SIGABRT (status $_rc)" [ "$_rc" -eq 134 ]
	if [ -n "$observable" ]; then
		check "$3 left no core file after SIGABRT" [ "$(cores_in "$_d")" -eq "$_before" ]
	else
		skip "$3 left no core file after SIGABRT" "$why"
	fi
}

# --- the CLI: `set` waits for its value on a FIFO that never delivers it.
mkfifo "$T/fifo"
sleep 600 >"$T/fifo" &
holder=$!
at_exit "kill $holder"
(cd "$T/cli" && ulimit -c unlimited && exec "$CS" --config "$CSD/cs.ini" set p f <"$T/fifo") &
cli=$!
wait_ms 30000 sh -c "[ \"\$(cat /proc/$cli/comm)\" = comfysecrets ] && { grep -q 'pipe_read\|wait\|read' /proc/$cli/wchan 2>/dev/null || [ \$(awk '{print \$3}' /proc/$cli/stat) = S ]; }"
check "CLI: RLIMIT_CORE is 0 although its parent's was unlimited" \
	sh -c "grep -E '^Max core file size +0 +0 ' /proc/$cli/limits"
abort_in "$T/cli" "$cli" "CLI"

# --- the CLI as nobody: a non-dumpable process's /proc/<pid> belongs to root.
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	P=$(mktemp -d /tmp/cs-core.XXXXXX)
	at_exit "rm -rf $P"
	chmod 755 "$P"
	mkfifo "$P/fifo"
	chmod 666 "$P/fifo"
	sleep 600 >"$P/fifo" &
	holder2=$!
	at_exit "kill $holder2"
	nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
	$nobody sleep 600 &
	ctl=$!
	printf '[vault]\npath = %s/v.json\nkey_file = %s/key\nstate_dir = %s/floor\n[audit]\npath = %s/audit.log\n' \
	    "$P" "$P" "$P" "$P" >"$P/cs.ini"
	chmod 644 "$P/cs.ini"
	chown 65534:65534 "$P"
	(cd "$P" && $nobody "$CS" --config "$P/cs.ini" init) >/dev/null 2>"$T/nobody.err"
	(cd "$P" && exec $nobody "$CS" --config "$P/cs.ini" set p f <"$P/fifo") \
	    2>>"$T/nobody.err" &
	cli2=$!
	# both have dropped to nobody: the control is sleep, the CLI waits for its value
	wait_ms 30000 sh -c "[ \"\$(cat /proc/$ctl/comm)\" = sleep ] && [ \"\$(cat /proc/$cli2/comm)\" = comfysecrets ] && [ \$(awk '{print \$3}' /proc/$cli2/stat) = S ]"
	check "control: a process of nobody's has /proc/<pid>/status owned by nobody" \
		[ "$(stat -c %u "/proc/$ctl/status")" = 65534 ]
	if [ -d "/proc/$cli2" ] && [ "$(stat -c %u "/proc/$cli2/status" 2>/dev/null)" != "" ]; then
		check "CLI run by nobody is not dumpable (/proc/<pid>/status owned by root)" \
			[ "$(stat -c %u "/proc/$cli2/status")" = 0 ]
	else
		notok "CLI run by nobody is not dumpable" "it did not wait for its value: $(head -c 200 "$T/nobody.err")"
	fi
	kill "$ctl" "$cli2" 2>/dev/null
	wait "$ctl" "$cli2" 2>/dev/null
else
	skip "CLI run by nobody is not dumpable" "needs root and setpriv (util-linux)"
fi

# --- the daemon
if ! _why=$(fuse_usable); then
	skip "daemon: no core after SIGABRT" "$_why"
	done_testing
fi
M=$T/mnt
mkdir -p "$M"
printf 'v' | csc set p f
(cd "$T/fs" && ulimit -c unlimited && exec "$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M") \
    2>>"$T/csfs.err" &
fsd=$!
at_exit "kill $fsd"
if ! wait_until 30 is_mounted "$M"; then
	notok "daemon mounts" "$(tail -n 3 "$T/csfs.err" | tr '\n' ' ')"
	done_testing
fi
check "daemon: RLIMIT_CORE is 0 although its parent's was unlimited" \
	sh -c "grep -E '^Max core file size +0 +0 ' /proc/$fsd/limits"
abort_in "$T/fs" "$fsd" "daemon"
umount -l "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null
check "after the abort the mount point can be cleaned up" sh -c "! awk -v m='$M' '\$2 == m { f = 1 } END { exit !f }' /proc/mounts"
done_testing
