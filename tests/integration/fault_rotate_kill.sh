#!/bin/sh
# Fault: `rotate` SIGKILLed at random points, at least 500 times (ROTATE_KILLS), while a
# daemon serves the vault. After every kill the CLI still opens the vault with a key on
# disk (`get` of one field, in turn); every 50 kills, and at the end, the live daemon
# serves every value, then a freshly restarted daemon does too (the restart is the
# point: it must find a key that opens the vault, whatever instant the kill hit).
. tests/lib.sh
fs_require fault_rotate_kill
cs_init
KILLS=${ROTATE_KILLS:-500}
EVERY=50
MAXRUNS=$((KILLS * 3))
N=0
for p in runpod openai hf; do
	for f in api_key endpoint org token; do
		printf 'value-%s-%s' "$p" "$f" | csc set "$p" "$f"
		N=$((N + 1))
	done
done
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
KILL="$TOP/$BUILD/tests/tools/crashkill"

best=
for _ in 1 2 3; do
	d=$("$KILL" time "$CS" --config "$CSD/cs.ini" rotate </dev/null) || { notok "rotate runs" "$d"; done_testing; }
	if [ -z "$best" ] || [ "$d" -lt "$best" ]; then best=$d; fi
done
span=$((best + best / 4))
echo "# one rotate takes ~$best us; kills land in 0..$span us"

# all_served: every value, read through the mount at $M.
all_served() {
	for p in runpod openai hf; do
		for f in api_key endpoint org token; do
			[ "$(cat "$M/$p/$f" 2>/dev/null)" = "value-$p-$f" ] || { echo "$p/$f"; return 1; }
		done
	done
}
bad_live=0 bad_restart=0 bad_get=0 restarts=0 kills=0 runs=0 next=$EVERY
set -- api_key endpoint org token
while [ "$kills" -lt "$KILLS" ] && [ "$runs" -lt "$MAXRUNS" ]; do
	runs=$((runs + 1))
	r=$("$KILL" "$span" "$CS" --config "$CSD/cs.ini" rotate 2>/dev/null </dev/null)
	case $r in killed*) kills=$((kills + 1)) ;; esac
	p=runpod; [ $((runs % 3)) -eq 1 ] && p=openai; [ $((runs % 3)) -eq 2 ] && p=hf
	f=$(eval echo "\${$(( runs % 4 + 1 ))}")
	got=$(csc get "$p" "$f" 2>"$T/err") || { bad_get=$((bad_get + 1)); echo "# after run $runs ($r): get failed: $(cat "$T/err")"; }
	[ "$got" = "value-$p-$f" ] || { bad_get=$((bad_get + 1)); echo "# after run $runs: get $p $f gave the wrong value"; }
	if [ "$kills" -ge "$next" ] || { [ "$kills" -ge "$KILLS" ] || [ "$runs" -ge "$MAXRUNS" ]; }; then
		next=$((next + EVERY))
		# the live daemon: a reload of a half-done rotation is retried or refused,
		# never half-served; give it its retry window, then every value must read.
		if ! wait_ms 30000 all_served; then
			bad_live=$((bad_live + 1)); echo "# after $kills kills: the live daemon does not serve $(all_served)"
		fi
		csfs_stop "$M" || { bad_restart=$((bad_restart + 1)); echo "# after $kills kills: the daemon did not stop cleanly"; }
		if csfs_start "$M"; then
			restarts=$((restarts + 1))
			all_served >"$T/which" || { bad_restart=$((bad_restart + 1)); echo "# after $kills kills: a restarted daemon does not serve $(cat "$T/which")"; }
		else
			bad_restart=$((bad_restart + 1)); echo "# after $kills kills: the daemon does not restart: $(tail -n 1 "$T/csfs.err")"
			csfs_start "$M" || break
		fi
	fi
done
echo "# rotate: $runs runs, $kills killed, $restarts daemon restarts, $(grep -c 'reload.*refused' "$T/csfs.err") reloads refused (retries exhausted), $(grep -c 'reloaded' "$T/csfs.err") reloads"
check "rotate was killed at least $KILLS times" [ "$kills" -ge "$KILLS" ]
check "after every kill the CLI opens the vault and gets the right value ($runs gets)" [ "$bad_get" -eq 0 ]
check "every $EVERY kills the live daemon serves all $N values" [ "$bad_live" -eq 0 ]
check "every $EVERY kills and at the end a restarted daemon serves all $N values ($restarts restarts)" \
	[ "$bad_restart" -eq 0 -a "$restarts" -ge $((KILLS / EVERY)) ]
check "the daemon refused no reload as a rollback" sh -c "! grep -q 'rollback' $T/csfs.err"
check "a write still works (no lock left behind)" sh -c "printf after | $CS --config $CSD/cs.ini set runpod api_key"
check "... and is served" wait_until 30 sh -c "[ \"\$(cat $M/runpod/api_key)\" = after ]"
check "the audit log verifies" csc audit --verify
check "SIGTERM unmounts cleanly" csfs_stop "$M"
done_testing
