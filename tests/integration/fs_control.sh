#!/bin/sh
# The control file and the sandbox paths, through a real mount.
# .control: each open handle writes one request and reads its own answer, from the
# first byte whatever the offset, in the shell form (exec 3<>; printf >&3; cat <&3) and
# in a program's write, lseek(0), read; check, defaults, a bad request and an unknown op
# are answered; providers and rotate only with enable_security_api, rotate only for root
# and never for a key from COMFYVN_SECRETS_KEY. .sandbox/: lists nothing, answers
# host:port names under a read-only bind mount in a private mount namespace, ENOENT for
# other names, EROFS for every write. Denials are audited once per open as the reader;
# nothing here is a secret_read; the chain verifies afterwards.
. tests/lib.sh
fs_require fs_control
if ! command -v python3 >/dev/null 2>&1; then skip fs_control "python3 is missing"; exit 0; fi
cs_init
SEED='sk-canary-control-77f1'
OVR='sk-override-control-2b9e'
printf '%s' "$SEED" | csc set runpod api_key
printf 'https://example.invalid/run' | csc set runpod endpoint
cat >>"$CSD/cs.ini" <<EOF2
[features]
enable_security_api = false
[sandbox]
network_allow = api.example.com:443, localhost:8000
EOF2
M=$T/mnt
chmod 0755 "$T"		# let uid 65534 reach the mount point
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
have_setpriv=0
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then have_setpriv=1; fi

# ctl REQUEST: the shell form of docs/control.md; the answer on stdout. printf is a
# builtin, so a request (a rotate key) never reaches a process's argv.
ctl() { ( exec 3<>"$M/.control" && printf '%s' "$1" >&3 && cat <&3 ); }
# blocked HOST: sandbox_blocked lines for HOST in the audit log.
blocked() { grep '"event":"sandbox_blocked"' "$CSD/audit.log" | grep -c "\"host\":\"$1\""; }
EROFS='Read-only file system'
reads() { grep -c '"event":"secret_read"' "$CSD/audit.log"; }
# fails_with NAME WORDS CMD...: passes when CMD fails and its output holds WORDS.
fails_with() {
	_n=$1 _w=$2; shift 2
	if "$@" >"$T/fails.out" 2>&1; then notok "$_n" "expected failure, got success"
	elif grep -q "$_w" "$T/fails.out"; then ok "$_n"
	else notok "$_n" "$(tail -n 2 "$T/fails.out" | tr '\n' ' ')"; fi
}
CSC="$CS --config $CSD/cs.ini"	# the CLI inside sh -c

if ! csfs_start "$M" -o allow_other; then
	notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
	done_testing
fi
r0=$(reads)

# --- the root listing ---
ls -la "$M" >"$T/ls"
check "the root lists .control" grep -q ' \.control$' "$T/ls"
check "... as a regular file, mode 0666, size 65536 (a bound: sendfile stops at the size)" \
	sh -c "[ \"\$(stat -c '%F %a %s' $M/.control)\" = 'regular file 666 65536' ]"
check "the root lists .sandbox, a directory, mode 0555" \
	sh -c "grep -q ' \.sandbox\$' $T/ls && [ \"\$(stat -c '%F %a' $M/.sandbox)\" = 'directory 555' ]"
check "the providers are still listed after them" sh -c "ls -a $M | tail -n 1 | grep -qx runpod"

# --- .control: the shell form ---
ctl '{"op":"check","host":"api.example.com","port":443}' >"$T/a"
check "check: an allowed pair is allowed, naming the pattern" \
	sh -c "grep -q '\"allowed\":true' $T/a && grep -q '\"matched\":\"api.example.com:443\"' $T/a"
check "... the answer is one line" [ "$(wc -l <"$T/a")" -eq 1 ]
n0=$(blocked evil.example.com)
ctl '{"op":"check","host":"evil.example.com","port":443}' >"$T/a"
check "check: another pair is denied, saying why" \
	sh -c "grep -q '\"allowed\":false' $T/a && grep -q 'matches no pattern' $T/a"
check "... and the denial is audited once as sandbox_blocked" [ "$(blocked evil.example.com)" -eq $((n0 + 1)) ]
check "... via fs with the writer's uid" sh -c "grep '\"host\":\"evil.example.com\"' $CSD/audit.log | tail -n 1 | grep -q '\"via\":\"fs\",\"pid\":[0-9]*,\"uid\":0,'"
ctl '{"op":"check","host":"api.example.com","port":443,"network":false}' >"$T/a"
check "check: network false is denied" grep -q '"allowed":false' "$T/a"
ctl '{"op":"defaults"}' >"$T/a"
check "defaults: the guard and the allowlist with its sources" \
	sh -c "grep -q '\"guard\":true' $T/a && grep -q '{\"pattern\":\"localhost:8000\",\"source\":\"config\"}' $T/a"
ctl '{"op":"check","host":' >"$T/a"
check "a bad request gets {\"error\": ...} naming the JSON error" \
	sh -c "grep -q '^{\"error\":\"request: bad JSON' $T/a"
ctl '{"op":"frobnicate"}' >"$T/a"
check "an unknown op gets an error naming it" grep -q '"error":"request: unknown op \\"frobnicate\\"' "$T/a"
ctl '{"op":"check","host":"a.example","port":443,"netwrok":true}' >"$T/a"
check "an unknown field is refused" grep -q '"error":"check: unknown field' "$T/a"
ctl '{"op":"rotate"}' >"$T/a"
check "rotate is refused while enable_security_api is off" \
	grep -q '"error":"rotate: enable_security_api is off in ' "$T/a"
ctl '{"op":"providers"}' >"$T/a"
check "so is providers" grep -q '"error":"providers: enable_security_api is off' "$T/a"
fpr0=$(csc fingerprint)
check "... and the key did not change" [ "$(csc fingerprint)" = "$fpr0" ]
check "a handle that wrote nothing reads nothing" sh -c "[ -z \"\$(cat $M/.control)\" ]"
check "after its answer a handle reads EOF" \
	sh -c "exec 3<>$M/.control; printf '{\"op\":\"defaults\"}' >&3; cat <&3 >/dev/null; [ -z \"\$(cat <&3)\" ]"
check "\`>\` (O_TRUNC) on .control is accepted" sh -c "echo '{\"op\":\"defaults\"}' >$M/.control"
check "a truncate to 0 is accepted" truncate -s 0 "$M/.control"
fails_with "a truncate to any other size is not (EROFS)" "$EROFS" truncate -s 5 "$M/.control"
fails_with "chmod of .control is refused (EROFS)" "$EROFS" chmod 0600 "$M/.control"

# --- .control: programs ---
python3 - "$M/.control" >"$T/py" 2>&1 <<'EOF'
import os, sys
p = sys.argv[1]
def out(tag, b):
    print(tag, b.decode().rstrip("\n"))
# write, lseek(0), read; the request in two pieces
fd = os.open(p, os.O_RDWR)
os.write(fd, b'{"op":"check",')
os.write(fd, b'"host":"api.example.com","port":443}')
os.lseek(fd, 0, os.SEEK_SET)
out("seek", os.read(fd, 65536))
out("eof", os.read(fd, 65536))
# a second request on the same handle replaces the first answer
os.write(fd, b'{"op":"defaults"}')
out("again", os.pread(fd, 65536, 12345))
os.close(fd)
# two handles at once, answered in the other order
a = os.open(p, os.O_RDWR)
b = os.open(p, os.O_RDWR)
os.write(a, b'{"op":"check","host":"a.example","port":1}')
os.write(b, b'{"op":"check","host":"b.example","port":2}')
out("b", os.read(b, 65536))
out("a", os.read(a, 65536))
os.close(a)
os.close(b)
# over 64 KiB, in pieces
fd = os.open(p, os.O_RDWR)
for i in range(10):
    os.write(fd, b' ' * 7000)
out("big", os.read(fd, 65536))
# a small read size takes the answer in pieces
os.write(fd, b'{"op":"defaults"}')
chunks = []
while True:
    c = os.read(fd, 7)
    if not c:
        break
    chunks.append(c)
out("pieces", b"".join(chunks))
os.close(fd)
EOF
check "python: write, lseek(0), read gets the answer" grep -q '^seek {"allowed":true,"matched":"api.example.com:443"' "$T/py"
check "... a request written in two pieces is one request" grep -q '^seek {.*"host":"api.example.com","port":443}$' "$T/py"
check "... then EOF" grep -qx 'eof ' "$T/py"
check "... a new write is a new request, read at any offset" grep -q '^again {"guard":true' "$T/py"
check "two handles at once each get their own answer" \
	sh -c "grep -q '^a {.*\"host\":\"a.example\",\"port\":1}' $T/py && grep -q '^b {.*\"host\":\"b.example\",\"port\":2}' $T/py"
check "a request over 64 KiB gets an error with its size" \
	grep -q '^big {"error":"request: 70000 bytes, more than the 65536 allowed"}' "$T/py"
check "an answer can be read in small pieces" grep -q '^pieces {"guard":true.*}$' "$T/py"

# --- .sandbox ---
check "ls .sandbox lists nothing" sh -c "[ -z \"\$(ls -A $M/.sandbox)\" ]"
check "ls -a .sandbox lists . and .. only" sh -c "[ \"\$(ls -a $M/.sandbox | tr '\n' ' ')\" = '. .. ' ]"
cat "$M/.sandbox/api.example.com:443" >"$T/a" 2>&1
check ".sandbox/api.example.com:443 answers allowed" \
	sh -c "grep -q '^{\"allowed\":true,\"matched\":\"api.example.com:443\"' $T/a"
cat "$M/.sandbox/[::1]:8000" >"$T/a" 2>&1
check ".sandbox/[::1]:8000 answers allowed (localhost:8000: loopback is one)" \
	grep -q '"allowed":true,"matched":"localhost:8000"' "$T/a"
check "a .sandbox file is read-only, mode 0444, its size its answer's" \
	sh -c "[ \"\$(stat -c '%F %a %s' $M/.sandbox/api.example.com:443)\" = \"regular file 444 \$(cat $M/.sandbox/api.example.com:443 | wc -c)\" ]"
n0=$(blocked deny.example.com)
stat "$M/.sandbox/deny.example.com:443" >/dev/null
ls -l "$M/.sandbox/deny.example.com:443" >/dev/null
check "a lookup alone audits nothing" [ "$(blocked deny.example.com)" -eq "$n0" ]
sh -c "echo \$\$ >$T/pid; exec cat $M/.sandbox/deny.example.com:443" >"$T/a"
check "a denied pair answers allowed false" grep -q '"allowed":false' "$T/a"
check "... audited once per open as sandbox_blocked" [ "$(blocked deny.example.com)" -eq $((n0 + 1)) ]
check "... with the reader's pid and uid" \
	sh -c "grep '\"host\":\"deny.example.com\"' $CSD/audit.log | tail -n 1 | grep -q '\"port\":443,.*\"via\":\"fs\",\"pid\":$(cat "$T/pid"),\"uid\":0,\"gid\":0,\"comm\":\"cat\"'"
if [ $have_setpriv -eq 1 ]; then
	nobody cat "$M/.sandbox/other.example.com:8080" >"$T/a" 2>&1
	check "another uid reads a .sandbox answer" grep -q '"allowed":false' "$T/a"
	check "... and its denial is audited under its own uid and gid" \
		sh -c "grep '\"host\":\"other.example.com\"' $CSD/audit.log | grep -q '\"uid\":65534,\"gid\":65534'"
else
	skip "another uid reads a .sandbox answer" "needs root and setpriv"
fi
fails_with "a name that is not host:port is ENOENT" 'No such file or directory' ls "$M/.sandbox/foo"
check_fails "so is a port out of range" cat "$M/.sandbox/api.example.com:65536"
check_fails "so is a bare IPv6 address without brackets" cat "$M/.sandbox/::1:8000"
ctl '{"op":"check","host":"api.example.com","port":65536}' >"$T/a"
check "... and .control says why" grep -q '"error":"check: port 65536 is out of range' "$T/a"
F="$M/.sandbox/api.example.com:443"
fails_with "writing a .sandbox file fails with EROFS" "$EROFS" sh -c "echo x >'$F'"
fails_with "appending fails with EROFS" "$EROFS" sh -c "echo x >>'$F'"
fails_with "creating a .sandbox name fails with EROFS" "$EROFS" sh -c "echo x >'$M/.sandbox/foo'"
fails_with "truncate fails with EROFS" "$EROFS" truncate -s 0 "$F"
fails_with "touch fails with EROFS" "$EROFS" touch "$F"
fails_with "chmod fails with EROFS" "$EROFS" chmod 0644 "$F"
fails_with "rm fails with EROFS" "$EROFS" rm -f "$F"
fails_with "mkdir in .sandbox fails with EROFS" "$EROFS" mkdir "$M/.sandbox/x"
fails_with "rmdir .sandbox fails with EROFS" "$EROFS" rmdir "$M/.sandbox"
python3 - "$M/.sandbox" >"$T/py" 2>&1 <<'EOF'
import os, sys
d = sys.argv[1]
for i in range(5000):
    os.stat(f"{d}/h{i}.example.com:443")
f = open(f"{d}/h0.example.com:443", "rb")
held = [open(f"{d}/k{i}.example.com:1", "rb") for i in range(3)]
for i in range(5000, 10000):
    os.stat(f"{d}/h{i}.example.com:443")
print("fstat", os.fstat(f.fileno()).st_mode & 0o777)
print("read", f.read().decode().rstrip("\n"))
EOF
check "10 000 distinct .sandbox names can be looked up (the table is a cache)" grep -qx 'fstat 292' "$T/py"
check "... a file held open meanwhile still answers" grep -q '^read {"allowed":false' "$T/py"

# --- a read-only bind mount in a private mount namespace, as a container gets it ---
if ns_usable; then
	ro_bind_run "$M" "$T/ro" "
		cat '$T/ro/.sandbox/api.example.com:443' >'$T/ns.a' 2>&1 || exit 1
		cat '$T/ro/.sandbox/[::1]:8000' >'$T/ns.b' 2>&1 || exit 2
		cat '$T/ro/.sandbox/ro-deny.example.com:443' >'$T/ns.c' 2>&1 || exit 3
		ls -A '$T/ro/.sandbox' >'$T/ns.ls' 2>&1 || exit 4
		( exec 3<>'$T/ro/.control' ) 2>'$T/ns.ctl' && exit 5
		awk '\$2 == \"$T/ro\" { print \$4 }' /proc/mounts >'$T/ns.opts'
		exit 0"
	rc=$?
	check "under a read-only bind mount (status $rc)" [ "$rc" -eq 0 ]
	check "... it is mounted ro there" grep -q '^ro' "$T/ns.opts"
	check "... .sandbox/api.example.com:443 answers allowed" grep -q '^{"allowed":true' "$T/ns.a"
	check "... .sandbox/[::1]:8000 answers allowed" grep -q '^{"allowed":true,"matched":"localhost:8000"' "$T/ns.b"
	check "... a denial answers and is audited" \
		sh -c "grep -q '\"allowed\":false' $T/ns.c && [ \"\$(grep -c '\"host\":\"ro-deny.example.com\"' $CSD/audit.log)\" -eq 1 ]"
	check "... ls .sandbox lists nothing" sh -c "[ ! -s $T/ns.ls ]"
	check "... and .control cannot be opened for writing there (EROFS)" grep -q 'Read-only file system' "$T/ns.ctl"
else
	skip "a read-only bind mount in a private mount namespace" "unshare -m is not permitted here"
fi
check "none of this was a secret_read" [ "$(reads)" -eq "$r0" ]
check "the values never reached the audit log" sh -c "! grep -q '$SEED' $CSD/audit.log"
check "the daemon still serves values" sh -c "[ \"\$(cat $M/runpod/api_key)\" = '$SEED' ]"
check "the daemon stops cleanly (status 0)" csfs_stop "$M"

# --- enable_security_api on: providers and rotate ---
sed -i 's/^enable_security_api = false$/enable_security_api = true/' "$CSD/cs.ini"
export COMFYVN_SECRET_OPENAI_API_KEY="$OVR"
csfs_start "$M" -o allow_other
started=$?
unset COMFYVN_SECRET_OPENAI_API_KEY
if [ $started -ne 0 ]; then
	notok "the vault mounts with enable_security_api on" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
	done_testing
fi
ctl '{"op":"providers"}' >"$T/a"
check "providers lists names, fields and overrides" \
	sh -c "grep -q '{\"name\":\"openai\",\"fields\":\[\"api_key\"\],\"overrides\":\[\"api_key\"\]}' $T/a && grep -q '{\"name\":\"runpod\",\"fields\":\[\"api_key\",\"endpoint\"\],\"overrides\":\[\]}' $T/a"
check "... and the audit path" grep -q "\"audit_path\":\"$CSD/audit.log\"" "$T/a"
check "... and no value" sh -c "! grep -q -e '$SEED' -e '$OVR' -e example.invalid $T/a"
ctl '{"op":"audit","limit":2}' >"$T/a"
check "audit gives the latest lines" python3 -c "
import json, sys
a = json.load(open('$T/a'))
sys.exit(0 if len(a['items']) == 2 and a['items'][1]['seq'] > a['items'][0]['seq'] else 1)"
# A reader names itself (comm) with a C1 CSI and a DEL: the audit answer carries them
# as \u escapes, never as bytes that would drive the reader's terminal.
python3 -c "
import ctypes
ctypes.CDLL(None).prctl(15, b'ev\xc2\x9b2J\x7fl', 0, 0, 0)
open('$M/runpod/api_key', 'rb').read()"
ctl '{"op":"audit","limit":3}' >"$T/a"
check "audit shows a C1 control and a DEL from a line escaped, not raw" python3 -c "
import sys
a = open('$T/a', 'rb').read()
sys.exit(0 if b'ev\\\\u009b2j\\\\u007fl' in a.lower() and b'\\x7f' not in a and b'\\xc2' not in a else 1)"
if [ $have_setpriv -eq 1 ]; then
	nobody sh -c "exec 3<>$M/.control && printf '{\"op\":\"rotate\"}' >&3 && cat <&3" >"$T/a" 2>&1
	check "rotate is refused for another uid" grep -q '"error":"rotate: only root may rotate the key (the caller is uid 65534)"' "$T/a"
	check "... and the key did not change" [ "$(csc fingerprint)" = "$fpr0" ]
else
	skip "rotate is refused for another uid" "needs root and setpriv"
fi

sh -c "echo \$\$ >$T/pid; exec 3<>$M/.control; printf '{\"op\":\"rotate\"}' >&3; exec cat <&3" >"$T/a"
fpr1=$(sed -n 's/.*"fingerprint":"\([0-9a-f]*\)".*/\1/p' "$T/a")
gen1=$(sed -n 's/.*"generation":\([0-9]*\).*/\1/p' "$T/a")
check "rotate as root answers the new fingerprint" sh -c "[ -n '$fpr1' ] && [ '$fpr1' != '$fpr0' ]"
check "... the generation and the providers it covered" \
	sh -c "[ -n '$gen1' ] && grep -q '\"providers\":\[\"runpod\"\]' $T/a && ! grep -q audit_error $T/a"
check "... the key file holds the new key" [ "$(csc fingerprint)" = "$fpr1" ]
check "... the vault opens with it" sh -c "[ \"\$($CSC get runpod api_key)\" = '$SEED' ]"
check "... no .next key is left" [ ! -e "$CSD/key.next" ]
check "... key_rotated is audited via fs with fingerprint, providers and the writer" \
	sh -c "grep '\"event\":\"key_rotated\"' $CSD/audit.log | tail -n 1 | grep '\"providers\":\[\"runpod\"\],\"fingerprint\":\"$fpr1\"' | grep -q '\"via\":\"fs\",\"pid\":$(cat "$T/pid"),\"uid\":0,'"
check "... the daemon reloads the rotated vault" \
	wait_until 30 sh -c "exec 3<>$M/.control; printf '{\"op\":\"providers\"}' >&3; cat <&3 | grep -q '\"generation\":$gen1,\"fingerprint\":\"$fpr1\"'"
check "... and reads through the mount still give the right values" \
	sh -c "[ \"\$(cat $M/runpod/api_key)\" = '$SEED' ] && [ \"\$(cat $M/openai/api_key)\" = '$OVR' ]"

# A given key: fingerprint = the first 16 hex digits of its SHA-256. The key stays in
# shell variables and builtins; it reaches no argv.
NEWKEY=$(head -c 32 /dev/urandom | base64)
want=$(printf '%s' "$NEWKEY" | base64 -d | sha256sum | cut -c1-16)
ctl "{\"op\":\"rotate\",\"new_key\":\"$NEWKEY\"}" >"$T/a"
check "rotate with new_key uses that key" \
	sh -c "grep -q '\"fingerprint\":\"$want\"' $T/a && [ \"\$($CSC fingerprint)\" = '$want' ]"
check "... and never echoes it" sh -c "! grep -qF '$NEWKEY' $T/a $CSD/audit.log $T/csfs.err"
ctl '{"op":"rotate","new_key":"bm90IGEga2V5"}' >"$T/a"
check "a new_key that is not 32 bytes is refused" \
	sh -c "grep -q '^{\"error\":\"rotate: new_key' $T/a && [ \"\$($CSC fingerprint)\" = '$want' ]"
check "the values still read through the mount after both rotations" \
	wait_until 30 sh -c "[ \"\$(cat $M/runpod/api_key)\" = '$SEED' ]"
check "the daemon stops cleanly (status 0)" csfs_stop "$M"

# A daemon whose key came from COMFYVN_SECRETS_KEY refuses to rotate.
KEY=$(cat "$CSD/key")
export COMFYVN_SECRETS_KEY="$KEY"
csfs_start "$M"
started=$?
unset COMFYVN_SECRETS_KEY
if [ $started -eq 0 ]; then
	ctl '{"op":"rotate"}' >"$T/a"
	check "rotate is refused when the daemon's key came from COMFYVN_SECRETS_KEY" \
		grep -q '"error":"rotate: the key comes from COMFYVN_SECRETS_KEY, which rotate cannot replace' "$T/a"
	check "... and the key file is untouched" [ "$(csc fingerprint)" = "$want" ]
	check "... and stops cleanly (status 0)" csfs_stop "$M"
else
	notok "the vault mounts with COMFYVN_SECRETS_KEY" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
# A daemon serving without an audit log (fail_closed off, the log cannot be opened)
# refuses a rotation before changing anything: a change and its line go together.
mv "$CSD/audit.log" "$T/audit.keep" && mkdir "$CSD/audit.log"
sed -i 's/^\[audit\]$/[audit]\nfail_closed = false/' "$CSD/cs.ini"
if csfs_start "$M"; then
	ctl '{"op":"rotate"}' >"$T/a"
	check "rotate is refused when the daemon serves without an audit log" \
		grep -q '"error":"rotate: the key was not rotated: the daemon has no audit log open' "$T/a"
	check "... and the key file is untouched" [ "$(csc fingerprint)" = "$want" ]
	check "... and stops cleanly (status 0)" csfs_stop "$M"
else
	notok "the vault mounts without an audit log (fail_closed = false)" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
sed -i '/^fail_closed = false$/d' "$CSD/cs.ini"
rmdir "$CSD/audit.log" && mv "$T/audit.keep" "$CSD/audit.log"
check "audit --verify passes afterwards" csc audit --verify
check "no value reached the daemon's stderr" sh -c "! grep -q -e '$SEED' -e '$OVR' $T/csfs.err"
check "the daemon reported no sanitizer finding" sh -c "! grep -q -e 'Sanitizer' -e 'runtime error' $T/csfs.err"
done_testing
