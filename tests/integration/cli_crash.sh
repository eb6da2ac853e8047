#!/bin/sh
# Crash safety: SIGKILL `set` and `rotate` at random moments, many times. After each
# kill the vault must open with the key on disk and hold the old value or the new one,
# never an error, with the field's version and time of the same save; and a new value
# always has its secret_written line (the line goes first: a kill may leave a line for
# a change that was not made, never a change without its line). Then `set` is killed
# at each of its renames in turn (strace), with the same two checks. Then `set` is
# killed while it upgrades a vault of format 1: the file is the old one or the new one.
# The kill count is printed for the record.
. tests/lib.sh
cs_init
KILLS=${CRASH_KILLS:-110}	# per command: runs go on until this many were killed
MAXRUNS=$((KILLS * 4))		# a bound, should the machine be too fast to catch

# A vault big enough that a save takes a few milliseconds, so kills land inside it.
i=0
{
	printf '{"bulk": {'
	while [ $i -lt 1500 ]; do
		[ $i -gt 0 ] && printf ','
		printf '"f%04d": "value-%04d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"' $i $i
		i=$((i + 1))
	done
	printf '}}'
} >"$T/bulk.json"
csc import "$T/bulk.json" >/dev/null
printf 'v0' | csc set app token

KILL="$TOP/$BUILD/tests/tools/crashkill"

# How long one set and one rotate take here (the fastest of three, plus a quarter), so
# the kills are spread over a whole run: from before it opens the vault to its exit.
span() {
	best=
	for _ in 1 2 3; do
		d=$("$KILL" time "$@" </dev/null) || return 1
		if [ -z "$best" ] || [ "$d" -lt "$best" ]; then best=$d; fi
	done
	echo $((best + best / 4))
}
set_us=$(span "$CS" --config "$CSD/cs.ini" set --raw app probe)
rot_us=$(span "$CS" --config "$CSD/cs.ini" rotate)
echo "# one set takes ~${set_us} us, one rotate ~${rot_us} us"

# meta: app/token's "VERSION TIME" from one list --json
meta() {
	csc list --json | awk -v k='    "app/token": {' '$0 == k { f = 1; next }
	    f && /}/ { exit } f { v = $2; gsub(/[",]/, "", v); printf "%s ", v }'
}
# written: secret_written lines of app/token in the log
written() { grep -c '"event":"secret_written".*"provider":"app","keys":\["token"\]' "$CSD/audit.log"; }
bad=0 kills=0 olds=0 news=0 n=1 unaudited=0
last=v0
# shellcheck disable=SC2046
set -- $(meta)
lastver=$1 lasttime=$2
ver0=$lastver lines0=$(written)
while [ "$kills" -lt "$KILLS" ] && [ $n -le "$MAXRUNS" ]; do
	new="v$n"
	# the value goes in on stdin, never argv
	r=$("$KILL" "$set_us" "$CS" --config "$CSD/cs.ini" set app token <<EOF2
$new
EOF2
)
	case $r in killed*) kills=$((kills + 1)) ;; esac
	got=$(csc get app token 2>"$T/err") || { bad=$((bad + 1)); echo "# after kill $n: get failed: $(cat "$T/err")"; }
	# shellcheck disable=SC2046
	set -- $(meta)
	ver=${1:-} time=${2:-}
	if [ "$got" = "$new" ] && [ "$ver" = $((lastver + 1)) ] &&
	    expr "$time" \> "$lasttime" >/dev/null; then
		news=$((news + 1)) last=$new lastver=$ver lasttime=$time
	elif [ "$got" = "$last" ] && [ "$ver" = "$lastver" ] && [ "$time" = "$lasttime" ]; then
		olds=$((olds + 1))
	else
		bad=$((bad + 1))
		echo "# after kill $n: got neither the old nor the new value, version and time"
	fi
	# each change without its line is counted once, when it appears
	if [ $(( $(written) - lines0 + unaudited )) -lt $((lastver - ver0)) ]; then
		unaudited=$((unaudited + 1))
		echo "# after kill $n: version $lastver, but only $(( $(written) - lines0 )) lines for $((lastver - ver0)) changes"
	fi
	n=$((n + 1))
done
echo "# set: $((n - 1)) runs, $kills killed, $olds left the old value, $news the new one"
check "set was killed at least $KILLS times" [ "$kills" -ge "$KILLS" ]
check "set killed $kills times: the vault always opens with the old or the new value" [ "$bad" -eq 0 ]
check "... and every change made has its audit line ($((lastver - ver0)) changes, $(( $(written) - lines0 )) lines, $unaudited without)" [ "$unaudited" -eq 0 ]
check "... and the log verifies" csc audit --verify
set_kills=$kills


# vault_fpr: the key the vault file is under
vault_fpr() { sed -n 's/^  "key_fingerprint": "\([0-9a-f]*\)",$/\1/p' "$CSD/vault.json"; }
bad=0 kills=0 n=1 unlogged=0 fpr=$(vault_fpr) rotations=0
while [ "$kills" -lt "$KILLS" ] && [ $n -le "$MAXRUNS" ]; do
	r=$("$KILL" "$rot_us" "$CS" --config "$CSD/cs.ini" rotate 2>/dev/null)
	case $r in killed*) kills=$((kills + 1)) ;; esac
	got=$(csc get app token 2>"$T/err") || { bad=$((bad + 1)); echo "# after rotate kill $n: $(cat "$T/err")"; }
	[ "$got" = "$last" ] || { bad=$((bad + 1)); echo "# after rotate kill $n: wrong value"; }
	# a vault under a new key has that key's key_rotated line
	now=$(vault_fpr)
	if [ "$now" != "$fpr" ]; then
		rotations=$((rotations + 1))
		grep -q "\"event\":\"key_rotated\".*\"fingerprint\":\"$now\"" "$CSD/audit.log" ||
		    { unlogged=$((unlogged + 1)); echo "# after rotate kill $n: under $now, no key_rotated line names it"; }
		fpr=$now
	fi
	n=$((n + 1))
done
echo "# rotate: $((n - 1)) runs, $kills killed, $rotations rotations"
check "rotate was killed at least $KILLS times" [ "$kills" -ge "$KILLS" ]
check "rotate killed $kills times: every value still opens with a key on disk" [ "$bad" -eq 0 ]
check "... and every rotation made has its key_rotated line ($rotations, $unlogged without)" [ "$unlogged" -eq 0 ]
check "a rotate changes no version or time" [ "$(meta)" = "$lastver $lasttime " ]
check "after all the kills the 1500 bulk values are intact" sh -c "[ \$($CS --config $CSD/cs.ini list | grep -c '^bulk/') -eq 1500 ]"
check "after all the kills a write still works (no lock left behind)" sh -c "printf after | $CS --config $CSD/cs.ini set app token"
check "no temporary file is left beside the vault" sh -c "[ -z \"\$(ls -A $CSD | grep -v -e '^vault.json\$' -e '^vault.json.lock\$' -e '^vault.json.state' -e '^key\$' -e '^key.next\$' -e '^audit.log\$' -e '^.audit.log.lock\$' -e '^cs.ini\$' -e '^floor\$')\" ] || { ls -A $CSD; false; }"
rot_kills=$kills

# set killed at its 1st, 2nd ... rename (strace delivers SIGKILL as the call is made):
# the audit point, the vault, the rollback floor, in the order they are written.
if strace -f -o /dev/null true 2>/dev/null; then
	bad=0 unaudited=0
	for r in 1 2 3 4; do
		v1=$(cs_field app/token version) l1=$(written)
		printf 'strace-%s' "$r" | strace -f -o /dev/null -e trace=rename \
		    -e inject=rename:signal=SIGKILL:when=$r "$CS" --config "$CSD/cs.ini" set app token \
		    >/dev/null 2>&1
		got=$(csc get app token 2>"$T/err") || { bad=$((bad + 1)); echo "# rename $r: $(cat "$T/err")"; }
		v2=$(cs_field app/token version) l2=$(written)
		echo "# killed at rename $r: value $got, version $v1 -> $v2, lines $l1 -> $l2"
		if [ "$got" = "strace-$r" ]; then
			[ "$v2" = $((v1 + 1)) ] && [ "$l2" -gt "$l1" ] || unaudited=$((unaudited + 1))
		elif [ "$v2" != "$v1" ]; then
			bad=$((bad + 1))
		fi
	done
	check "set killed at each rename: the old value or the new one" [ "$bad" -eq 0 ]
	check "... and a new value always has its line" [ "$unaudited" -eq 0 ]
	check "... and the log verifies" csc audit --verify
	# A rename that fails after the line: the message says what the log and the vault hold.
	printf 'eio-2' | strace -f -o /dev/null -e trace=rename -e inject=rename:error=EIO:when=2 \
	    "$CS" --config "$CSD/cs.ini" set app token >/dev/null 2>"$T/err"
	echo "# the vault's rename fails: $(cat "$T/err")"
	check "the vault's rename failing after the line: not stored, and the line said to be there" \
	    grep -q "app/token not stored: .*cannot replace: Input/output error (its audit line was written first: the log records a change that was not saved)" "$T/err"
	check "... and the value is the old one" [ "$(csc get app token)" != eio-2 ]
	printf 'eio-3' | strace -f -o /dev/null -e trace=rename -e inject=rename:error=EIO:when=3 \
	    "$CS" --config "$CSD/cs.ini" set app token >/dev/null 2>"$T/err"
	echo "# the floor's rename fails: $(cat "$T/err")"
	check "the floor's rename failing: the value WAS stored with its line, and why it failed" \
	    grep -q "app/token WAS stored (vault generation [0-9]*) and its audit line written, but: .*Input/output error" "$T/err"
	check "... and the value is the new one" [ "$(csc get app token)" = eio-3 ]
else
	skip "set killed at each rename" "strace cannot trace here"
fi

# A vault of format 1 (tests/fixtures/vault-v1.json) upgraded by a set that is killed.
cs_init "$T/old"
(umask 077 && echo AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= >"$CSD/key")
cp "$TOP/tests/fixtures/vault-v1.json" "$CSD/vault.json"
csc floor --reset >/dev/null
up_us=$(span "$CS" --config "$CSD/cs.ini" set --raw runpod probe)
UPKILLS=$((KILLS / 10 + 1))
bad=0 kills=0 olds=0 news=0 n=1
while [ "$kills" -lt "$UPKILLS" ] && [ $n -le $((UPKILLS * 4)) ]; do
	cp "$TOP/tests/fixtures/vault-v1.json" "$CSD/vault.json"
	csc floor --reset >/dev/null
	r=$("$KILL" "$up_us" "$CS" --config "$CSD/cs.ini" set runpod api_key <<EOF2
upgraded
EOF2
)
	case $r in killed*) kills=$((kills + 1)) ;; esac
	got=$(csc get runpod api_key 2>"$T/err") || echo "# after upgrade kill $n: $(cat "$T/err")"
	ver=$(cs_field runpod/api_key version)
	if [ "$got" = seed-value-1 ] && [ "$ver" = 0 ] &&
	    cmp -s "$TOP/tests/fixtures/vault-v1.json" "$CSD/vault.json"; then
		olds=$((olds + 1))
	elif [ "$got" = upgraded ] && [ "$ver" = 1 ] && grep -q '"version": 2,' "$CSD/vault.json" &&
	    [ "$(csc get runpod endpoint)" = https://example.invalid/v1 ]; then
		news=$((news + 1))
	else
		bad=$((bad + 1)); echo "# after upgrade kill $n: neither the old vault nor the new one"
	fi
	n=$((n + 1))
done
echo "# upgrade: $((n - 1)) runs, $kills killed, $olds left format 1, $news format 2"
check "an upgrading set was killed at least $UPKILLS times" [ "$kills" -ge "$UPKILLS" ]
check "upgrade killed $kills times: the old vault or the upgraded one, never torn" [ "$bad" -eq 0 ]
echo "# total kills: $((set_kills + rot_kills + kills))"
done_testing
