#!/bin/sh
# The integration tests again, with every daemon they start under valgrind memcheck.
#
# Each script below runs as in `make check`, but csfs_start (tests/lib.sh) wraps the
# daemon in `valgrind --leak-check=full --errors-for-leak-kinds=definite` writing one
# log per daemon into a folder of ours. Asserted: each script still passes (a daemon
# that is 20-50x slower must not turn a pass into a fail or a hang), and every daemon
# that exited on its own (SIGTERM, unmount) left a log with "ERROR SUMMARY: 0 errors":
# no invalid read or write, no use of uninitialised memory, no definite leak. A daemon
# the test SIGKILLs on purpose writes no summary; those logs are counted, not judged.
# valgrind.sh is the smaller scenario this grew from; both run.
. tests/lib.sh
fs_require valgrind_suite
if [ "${SANITIZE:-}" = 1 ]; then
	skip valgrind_suite "valgrind cannot run an AddressSanitizer build; plain make check runs it"; exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
	skip valgrind_suite "valgrind is not installed (scripts/install-deps installs it)"; exit 0
fi
# Left out, and why: fs_overlay reads /proc/<pid>/environ, which under valgrind shows
# valgrind's own copy of the environment, not the one the daemon wipes; fs_rotate,
# fs_matrix, soak and fault_rotate_kill measure throughput or kill the daemon on purpose.
SCRIPTS=${VG_SCRIPTS:-"fs_basic fs_erofs fs_control fs_audit fs_reload fs_perm fs_start
    fault_vault fault_key fault_symlink fault_audit_full fault_audit_fifo fault_unmount_busy"}
for s in $SCRIPTS; do
	mkdir -p "$T/vg/$s"
	VG_LOG_DIR="$T/vg/$s" CSFS_START_SECONDS=60 CSFS_STOP_SECONDS=60 sh "tests/integration/$s.sh" \
	    >"$T/$s.out" 2>&1
	rc=$?
	failed=$(grep -c '^not ok' "$T/$s.out")
	if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
		ok "$s passes with its daemons under valgrind ($(grep -c '^ok' "$T/$s.out") checks)"
	else
		notok "$s passes with its daemons under valgrind" \
		    "$(grep '^not ok' "$T/$s.out" | head -n 3 | tr '\n' ' ') (exit $rc)"
	fi
	# A daemon the script SIGTERMed on its way out may still be checking for leaks.
	for log in "$T/vg/$s"/vg.*.log; do
		[ -f "$log" ] || continue
		pid=${log##*/vg.}; pid=${pid%.log}
		wait_until 60 sh -c "! kill -0 $pid"
	done
	judged=0 unjudged=0 bad=""
	for log in "$T/vg/$s"/vg.*.log; do
		[ -f "$log" ] || continue
		if grep -q 'ERROR SUMMARY:' "$log"; then
			judged=$((judged + 1))
			grep -q 'ERROR SUMMARY: 0 errors' "$log" || bad="$bad $log"
		else
			unjudged=$((unjudged + 1))
		fi
	done
	echo "# $s: $judged daemon(s) exited with a memcheck summary, $unjudged killed without one"
	if [ -z "$bad" ] && [ "$judged" -eq 0 ] && grep -q '^SKIPPED' "$T/$s.out"; then
		skip "$s: memcheck" "$s started no daemon here: $(grep '^SKIPPED' "$T/$s.out" | head -n 1)"
	elif [ -z "$bad" ]; then
		check "$s: memcheck found no error in $judged daemon(s)" [ "$judged" -gt 0 ]
	else
		for log in $bad; do
			echo "# --- $log"
			# each error with its stack (valgrind ends a record with an empty "==PID==")
			awk '/Invalid|uninitialised|definitely lost in/ { on = 1 }
			    on { print } on && /^==[0-9]+== *$/ { on = 0 }' "$log" | head -n 60 |
			    sed 's/^/# /'
		done
		notok "$s: memcheck found no error" "see the log lines above"
	fi
done
done_testing
