#!/bin/sh
# comfysecrets run --restart-on-change as a user meets it: a set of a chosen field
# restarts COMMAND with the new value (stop signal, then SIGKILL after the grace time),
# never twice within a second; two quick sets restart it with the second value once,
# not again for a value it has; other fields and a rotate restart nothing; SIGINT, SIGTERM
# and other signals sent to run reach COMMAND; COMMAND's exit status (or 128+N) comes
# back; one secret_read per value handed over; no value in any process's argv.
. tests/lib.sh
cs_init
printf 'v0-canary' | csc set app token
printf 'alice' | csc set app user
printf 'x' | csc set other key
OUT=$T/out
export OUT
# The child: its start (pid and value) and time, then each signal it gets; the traps
# are set before it says it has started.
CHILD='for s in INT TERM HUP USR1; do trap "echo $s >>\"\$OUT\"; [ $s = USR1 ] || exit 3" $s; done
	echo "start $$ $COMFYVN_SECRET_APP_TOKEN" >>"$OUT"; echo "at $(date +%s%3N)" >>"$OUT"
	i=0; while [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done'
starts() { grep -c '^start ' "$OUT" 2>/dev/null || echo 0; }
has() { grep -q "$1" "$OUT"; }

# run_start ARG...: run --restart-on-change ARG... in the background as RPID, with SIGINT
# not ignored (a shell's background job ignores it, and so would COMMAND), waiting for
# COMMAND's first start.
run_start() {
	rm -f "$OUT"
	env --default-signal=INT "$CS" --config "$CSD/cs.ini" run --restart-on-change "$@" \
	    2>>"$T/run.err" &
	RPID=$!
	at_exit "kill $RPID"
	wait_until 10 has '^start '
}
# run_wait: run's exit status (SIGKILL after 10 s: a hang fails the check after it).
run_wait() {
	( sleep 10; kill -KILL "$RPID" 2>/dev/null ) >/dev/null 2>&1 &
	_dog=$!
	wait "$RPID"
	_rc=$?
	kill "$_dog" 2>/dev/null
	return "$_rc"
}

if ! env --default-signal=INT true 2>/dev/null; then
	skip cli_run_restart "env --default-signal is missing (coreutils < 8.31)"
	done_testing
fi
run_start -p app -e OTHER=other/key -- sh -c "$CHILD"
check "COMMAND starts with the value" has '^start [0-9]* v0-canary$'
pid1=$(sed -n 's/^start \([0-9]*\) .*/\1/p' "$OUT" | head -n 1)
check "COMMAND is a child of run, not run itself" [ "$pid1" != "$RPID" ]
n0=$(grep -c '"event":"secret_read"' "$CSD/audit.log")

wait_ms 1100 false	# past the once-a-second floor, so the next restart is not held back
t0=$(now_ms)
printf 'v1-canary' | csc set app token
t1=$(now_ms)
check "a set restarts COMMAND with the new value" wait_until 10 has '^start [0-9]* v1-canary$'
t2=$(now_ms)
echo "# restart: $((t2 - t1)) ms from set returning to COMMAND started with the new value (set took $((t1 - t0)) ms)"
check "the old COMMAND got SIGTERM first" sh -c "grep -A2 v0-canary $OUT | grep -qx TERM"
n1=$(grep -c '"event":"secret_read"' "$CSD/audit.log")
check "the restart audited one secret_read per value handed over (3)" [ $((n1 - n0)) -eq 3 ]

# A burst of sets: restarts, but never two starts within a second.
printf 'v2-canary' | csc set app token
printf 'v3-canary' | csc set app token
printf 'v4-canary' | csc set app token
check "a burst ends with COMMAND on the last value" wait_until 10 has '^start [0-9]* v4-canary$'
n=$(starts)
printf 'bob' | csc set other key	# a chosen field too (-e OTHER=other/key)
check "a change of an -e field restarts too" wait_until 10 sh -c "[ \$(grep -c '^start ' $OUT) -gt $n ]"
n=$(starts)
printf 'v5-canary' | csc set zzz unrelated
csc rotate >/dev/null
printf 'v4-canary' | csc set app token	# the same value
printf 'v6-canary' | csc set app token	# the sentinel
check "the sentinel restarts COMMAND" wait_until 10 has '^start [0-9]* v6-canary$'
check "an unwatched field, a rotate and the same value restarted nothing" [ "$(starts)" -eq $((n + 1)) ]

# A field chosen by name removed: COMMAND keeps running with what it has.
n=$(starts)
csc rm other key
check "removing a chosen field is reported, COMMAND is not restarted" \
    wait_until 10 grep -q 'not restarting.*no provider "other"' "$T/run.err"
check "and COMMAND still runs" sh -c "[ $(starts) -eq $n ] && kill -0 \$(sed -n 's/^start \([0-9]*\) .*/\1/p' $OUT | tail -n 1)"
printf 'y' | csc set other key
check "the field back: COMMAND restarts" wait_until 10 sh -c "[ \$(grep -c '^start ' $OUT) -gt $n ]"

# Never two starts within a second (what the children wrote; 100 ms for their own
# start-up, which varies).
check "no two starts closer than a second apart" sh -c "grep '^at ' $OUT | awk '
    NR > 1 && \$2 - p < 900 { bad = 1 } { p = \$2 } END { exit bad }'"

# Signals sent to run reach COMMAND; COMMAND's status comes back.
kill -USR1 "$RPID"
check "SIGUSR1 to run reaches COMMAND" wait_until 10 has '^USR1$'
kill -INT "$RPID"
run_wait
rc=$?
check "SIGINT to run reaches COMMAND" has '^INT$'
check "and COMMAND's exit status (3) comes back" [ "$rc" -eq 3 ]

run_start -p app -- sh -c "$CHILD"
kill -TERM "$RPID"
run_wait
rc=$?
check "SIGTERM to run reaches COMMAND, which is not restarted" sh -c "has() { grep -q \"\$1\" $OUT; }; has '^TERM$' && [ \$(grep -c '^start ' $OUT) -eq 1 ]"
check "and its exit status (3) comes back" [ "$rc" -eq 3 ]

run_start -p app -- sh -c 'echo "start $$" >>"$OUT"; exec sleep 30'
kill -TERM "$RPID"
run_wait
check "a COMMAND killed by SIGTERM: 143" [ $? -eq 143 ]
run_start -p app -- sh -c 'echo "start $$" >>"$OUT"; exit 7'
run_wait
check "a COMMAND that exits 7 by itself: 7, not restarted" sh -c "[ $? -eq 7 ] && [ \$(grep -c '^start ' $OUT) -eq 1 ]"

# A COMMAND that ignores the stop signal is killed after the grace time and restarted.
run_start --grace 1 -p app/token -- sh -c 'trap "" TERM; echo "start $$ $COMFYVN_SECRET_APP_TOKEN" >>"$OUT"; exec sleep 30'
wait_ms 1100 false
printf 'v7-canary' | csc set app token
check "a COMMAND that ignores SIGTERM is killed after --grace and restarted" \
    wait_until 10 has '^start [0-9]* v7-canary$'
# run killed outright: COMMAND goes with it.
cpid=$(sed -n 's/^start \([0-9]*\) .*/\1/p' "$OUT" | tail -n 1)
{ kill -KILL "$RPID"; run_wait; } 2>/dev/null
check "run killed with SIGKILL leaves no COMMAND behind" wait_until 10 sh -c "! kill -0 $cpid"
run_start --stop-signal HUP -p app/token -- sh -c "$CHILD"
wait_ms 1100 false
printf 'v8-canary' | csc set app token
check "--stop-signal HUP: COMMAND gets SIGHUP and is restarted" \
    wait_until 10 has '^start [0-9]* v8-canary$'
check "with HUP, not TERM" sh -c "grep -A2 v7-canary $OUT | grep -qx HUP"

# No value in the argv of any process while the supervisor and COMMAND run.
printf '%s\n' v8-canary alice >"$T/pat"	# in a file: not in grep's own argv
hits=$(grep -l -a -F -f "$T/pat" /proc/[0-9]*/cmdline 2>/dev/null | tr '\n' ' ')
check "no value in /proc/PID/cmdline of any process" [ -z "$hits" ]
kill -TERM "$RPID"; run_wait

# Two quick sets (A, then B) while COMMAND runs: one restart, with B. The second set
# lands after run saw the first and stopped COMMAND, and before the new COMMAND starts,
# so the start reads B; run's watcher reports B only afterwards, and that must not
# restart a COMMAND that has B already. run is held (SIGSTOP) from COMMAND's stop to
# its exit, so this order is the one tested, on a fast machine as on a slow one. A
# later change of another field (user) is the sentinel: COMMAND restarts for it, and
# by then any second start with B would be in the log.
CHILD2='trap "echo TERM >>\"\$OUT\"; i=0; while [ ! -e \"\$OUT.go\" ] && [ \$i -lt 1500 ]; do sleep 0.02; i=\$((i+1)); done; exit 3" TERM
	echo "start $$ $COMFYVN_SECRET_APP_TOKEN $COMFYVN_SECRET_APP_USER" >>"$OUT"; echo "at $(date +%s%3N)" >>"$OUT"
	i=0; while [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done'
# past_floor: the last start is more than a second ago (RUN_RESTART_MIN_MS), so the next
# start is not held back.
past_floor() { [ "$(now_ms)" -gt $(( $(sed -n 's/^at //p' "$OUT" | tail -n 1) + 1100 )) ]; }
zombie() { grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
rm -f "$OUT.go"
printf 'v9-canary' | csc set app token
run_start -p app -- sh -c "$CHILD2"
cpid=$(sed -n 's/^start \([0-9]*\) .*/\1/p' "$OUT" | tail -n 1)
wait_until 10 past_floor
printf 'A-canary' | csc set app token
check "two quick sets: the first stops COMMAND" wait_until 10 has '^TERM$'
kill -STOP "$RPID"
printf 'B-canary' | csc set app token
touch "$OUT.go"
wait_until 10 zombie "$cpid"	# COMMAND has ended; run, held, has not reaped it
n0=$(grep -c '"event":"secret_read"' "$CSD/audit.log")
kill -CONT "$RPID"
check "two quick sets: COMMAND restarts with the second value" \
    wait_until 10 has '^start [0-9]* B-canary alice$'
# Had run restarted it for B, COMMAND would have got its TERM within the watcher's
# debounce (50 ms), well inside the second waited for here, and the start after it
# (held to a second after the last) would be audited by then. The audit log counts a
# start killed before it could write its line.
wait_until 10 past_floor
n1=$(grep -c '"event":"secret_read"' "$CSD/audit.log")
check "two quick sets: one start, audited once per value handed over (2)" [ $((n1 - n0)) -eq 2 ]
check "two quick sets: the COMMAND that has B is not stopped" sh -c "kill -0 \
    \$(sed -n 's/^start \([0-9]*\) B-canary alice$/\1/p' $OUT) && ! sed -n \
    '/^start [0-9]* B-canary alice$/,\$p' $OUT | grep -qx TERM"
printf 'carol' | csc set app user
check "two quick sets: the sentinel restarts COMMAND" wait_until 10 has '^start [0-9]* B-canary carol$'
check "two quick sets: no second start with the value COMMAND had (B)" \
    [ "$(grep -c '^start [0-9]* B-canary alice$' "$OUT")" -eq 1 ]
check "two quick sets: COMMAND never started with A, which was already replaced" \
    sh -c "! grep -q '^start [0-9]* A-canary' $OUT"
kill -TERM "$RPID"; run_wait

check "run with nothing to watch is refused (125)" sh -c "$CS --config $CSD/cs.ini run --restart-on-change -- true 2>/dev/null; [ \$? -eq 125 ]"
check "no value in what run printed" sh -c "! grep -q canary $T/run.err"
done_testing
