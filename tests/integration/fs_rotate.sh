#!/bin/sh
# Key rotation under load: 4 readers loop `cat` over the mount while `comfysecrets
# rotate` runs 50 times. Every read must succeed and give the right bytes: the daemon
# swaps whole snapshots, an open in flight keeps the one it started on, and a load
# caught half-way through a rotation is retried, never served.
. tests/lib.sh
fs_require fs_rotate
cs_init
A='sk-rotate-runpod-4e1b'
B='sk-rotate-openai-9c2d'
printf '%s' "$A" | csc set runpod api_key
printf '%s' "$B" | csc set openai api_key
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
fpr0=$(csc fingerprint)

# reader ID FILE VALUE: reads until $T/stop exists; writes "reads bad" to $T/reader.ID.
reader() {
	_r=0 _b=0
	while [ ! -e "$T/stop" ]; do
		if _v=$(cat "$2" 2>>"$T/reader.$1.err") && [ "$_v" = "$3" ]; then
			_r=$((_r + 1))
		else
			_b=$((_b + 1))
		fi
	done
	echo "$_r $_b" >"$T/reader.$1"
}
reader 1 "$M/runpod/api_key" "$A" &
r1=$!
reader 2 "$M/openai/api_key" "$B" &
r2=$!
reader 3 "$M/runpod/api_key" "$A" &
r3=$!
reader 4 "$M/openai/api_key" "$B" &
r4=$!
at_exit "touch $T/stop; kill $r1 $r2 $r3 $r4"

rotfail=0
t0=$(now_ms)
for i in $(seq 1 50); do
	csc rotate >/dev/null 2>>"$T/rotate.err" || rotfail=$((rotfail + 1))
done
dt=$(( $(now_ms) - t0 ))
# the last reload lands while the readers still read
wait_until 30 sh -c "grep 'reloaded' $T/csfs.err | tail -n 1 | grep -q \"generation \$(grep -o '\"generation\": *[0-9]*' $CSD/vault.json | grep -o '[0-9]*$')\""
touch "$T/stop"
wait $r1 $r2 $r3 $r4
reads=0 bad=0
for i in 1 2 3 4; do
	set -- $(cat "$T/reader.$i")
	reads=$((reads + $1)); bad=$((bad + $2))
done
echo "# 50 rotations in $dt ms; 4 readers made $reads good reads and $bad failed or wrong"
check "all 50 rotations succeeded" [ "$rotfail" -eq 0 ]
check "the readers read (at least 200 reads)" [ "$reads" -ge 200 ]
check "zero failed or wrong reads" [ "$bad" -eq 0 ]
fpr1=$(csc fingerprint)
check "the key did change" sh -c "[ -n '$fpr1' ] && [ '$fpr1' != '$fpr0' ]"
check "after the rotations the values are still served" \
	sh -c "[ \"\$(cat $M/runpod/api_key)\" = '$A' ] && [ \"\$(cat $M/openai/api_key)\" = '$B' ]"
check "the daemon refused no reload on the way" sh -c "! grep -q refused $T/csfs.err"
check "the daemon now serves the last generation" \
	wait_until 30 sh -c "grep 'reloaded' $T/csfs.err | tail -n 1 | grep -q \"generation \$(grep -o '\"generation\": *[0-9]*' $CSD/vault.json | grep -o '[0-9]*$')\""
csfs_stop "$M"
done_testing
