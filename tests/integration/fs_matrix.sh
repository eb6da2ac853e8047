#!/bin/sh
# The option matrix: a representative subset of the integration checks - cat (and a
# binary value), ls, stat, EROFS, one secret_read line per open, an override, a reload,
# a clean SIGTERM - under every combination of the loop (-s single-threaded, or
# multi-threaded), -o clone_fd (off, on; with -s it is accepted and has no effect) and
# the audit flush setting (sync, async, none), plus 4 readers in parallel: 12 mounts, every check must pass in each.
. tests/lib.sh
fs_require fs_matrix
cs_init
printf 'mx-value' | csc set runpod api_key
printf 'e' | csc set runpod endpoint
head -c 3000 /dev/urandom >"$T/bin"
csc set --raw openai blob <"$T/bin"
M=$T/mnt
F=$M/runpod/api_key
reads() { grep -c '"event":"secret_read"' "$CSD/audit.log"; }
gen=0
for loop in -s mt; do
for clone in "" clone_fd; do
for flush in sync async none; do
	c="${loop#-}${clone:+,$clone},flush=$flush"
	sed -i "s/^flush = .*/flush = $flush/" "$CSD/cs.ini"
	set --
	[ "$loop" = -s ] && set -- -s
	[ -n "$clone" ] && set -- "$@" -o clone_fd
	export COMFYVN_SECRET_OVR_TOKEN="ovr-$gen"
	csfs_start "$M" "$@"
	started=$?
	unset COMFYVN_SECRET_OVR_TOKEN
	if [ $started -ne 0 ]; then notok "[$c] mounts" "$(tail -n 1 "$T/csfs.err")"; continue; fi
	bad=""
	[ "$(cat "$F")" = mx-value ] || bad="$bad cat"
	cmp -s "$T/bin" "$M/openai/blob" || bad="$bad binary"
	[ "$(ls "$M" | tr '\n' ' ')" = 'openai ovr runpod ' ] || bad="$bad ls"
	[ "$(ls "$M/runpod" | tr '\n' ' ')" = 'api_key endpoint ' ] || bad="$bad ls-provider"
	[ "$(stat -c %s "$F")" -eq 8 ] || bad="$bad stat"
	sh -c "echo x > $F" 2>&1 | grep -q 'Read-only file system' || bad="$bad erofs-write"
	mkdir "$M/newdir" 2>&1 | grep -q 'Read-only file system' || bad="$bad erofs-mkdir"
	rm -f "$M/runpod/endpoint" 2>&1 | grep -q 'Read-only file system' || bad="$bad erofs-rm"
	n0=$(reads)
	for _ in 1 2 3 4 5; do cat "$F" >/dev/null; done
	sh -c "exec 3<$F; cat <&3 >/dev/null; cat <&3 >/dev/null"
	[ $(( $(reads) - n0 )) -eq 6 ] || bad="$bad audit-per-open($(( $(reads) - n0 ))/6)"
	n0=$(reads) pp=""
	for j in 1 2 3 4; do
		sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do [ \"\$(cat $F)\" = mx-value ] || echo wrong; done" >"$T/par$j" 2>&1 &
		pp="$pp $!"
	done
	wait $pp
	[ ! -s "$T/par1" ] && [ ! -s "$T/par2" ] && [ ! -s "$T/par3" ] && [ ! -s "$T/par4" ] || bad="$bad parallel"
	[ $(( $(reads) - n0 )) -eq 40 ] || bad="$bad parallel-audit($(( $(reads) - n0 ))/40)"
	[ "$(cat "$M/ovr/token")" = "ovr-$gen" ] || bad="$bad overlay"
	gen=$((gen + 1))
	printf 'mx-%s' "$gen" | csc set runpod endpoint
	wait_until 30 sh -c "[ \"\$(cat $M/runpod/endpoint)\" = mx-$gen ]" || bad="$bad reload"
	if [ -z "$bad" ]; then ok "[$c] cat, binary, ls, stat, EROFS, one audit line per open, 4x10 parallel reads, overlay, reload"
	else notok "[$c] cat, binary, ls, stat, EROFS, one audit line per open, 4x10 parallel reads, overlay, reload" "failed:$bad"; fi
	check "[$c] SIGTERM unmounts cleanly, status 0" csfs_stop "$M"
done
done
done
check "the audit log verifies after all 12 mounts" csc audit --verify
done_testing
