#!/bin/sh
# comfysecretsfs as a reader meets it: cat, ls and stat through a real mount give the
# vault's values, names and sizes; binary values come out byte for byte; listing and
# stat decrypt nothing; uid=, gid= and mode= set the defaults.
. tests/lib.sh
fs_require fs_basic
cs_init
SEED='sk-canary-5f2d9c1e-do-not-log'
printf '%s' "$SEED" | csc set runpod api_key
printf 'https://api.runpod.io' | csc set runpod endpoint
head -c 4096 /dev/urandom >"$T/bin"
printf '\000\000x\000' >>"$T/bin"
csc set --raw openai blob <"$T/bin"
printf '' | csc set openai empty
head -c 65536 /dev/urandom >"$T/big"
csc set --raw big max <"$T/big"
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
ok "the vault mounts"

check "cat gives the value" sh -c "[ \"\$(cat $M/runpod/api_key)\" = '$SEED' ]"
check "a binary value with NUL bytes comes out intact" cmp "$T/bin" "$M/openai/blob"
check "a 64 KiB value comes out intact" cmp "$T/big" "$M/big/max"
check "an empty value is an empty file" sh -c "[ -f $M/openai/empty ] && [ ! -s $M/openai/empty ]"
check "a read at an offset gives those bytes" \
	sh -c "[ \"\$(dd if=$M/runpod/api_key bs=1 skip=3 count=6 2>/dev/null)\" = canary ]"
check "ls of the root lists the providers" sh -c "[ \"\$(ls $M | tr '\n' ' ')\" = 'big openai runpod ' ]"
check "ls of a provider lists its fields" \
	sh -c "[ \"\$(ls $M/runpod | tr '\n' ' ')\" = 'api_key endpoint ' ]"
check "ls -a shows . and .." sh -c "ls -a $M/runpod | grep -qx '\.\.'"
check "stat gives the plaintext length as the size" [ "$(stat -c %s "$M/runpod/api_key")" -eq ${#SEED} ]
check "the size of a binary value" [ "$(stat -c %s "$M/openai/blob")" -eq 4100 ]
check "the size of a 64 KiB value" [ "$(stat -c %s "$M/big/max")" -eq 65536 ]
check "a field is a regular file of mode 0440" \
	sh -c "[ -f $M/runpod/api_key ] && [ \$(stat -c %a $M/runpod/api_key) = 440 ]"
check "a provider is a directory of mode 0550" \
	sh -c "[ -d $M/runpod ] && [ \$(stat -c %a $M/runpod) = 550 ]"
check "the owner is the daemon's user" [ "$(stat -c %u:%g "$M/runpod/api_key")" = "$(id -u):$(id -g)" ]
check "a missing field is ENOENT" sh -c "cat $M/runpod/nothere 2>&1 | grep -q 'No such file'"
check "a missing provider is ENOENT" sh -c "! ls $M/nope 2>/dev/null"
check "a path through a file is ENOTDIR" sh -c "cat $M/runpod/api_key/x 2>&1 | grep -q 'Not a directory'"
check "statfs answers" stat -f "$M"
check "the mount is fuse.comfysecretsfs with the vault as its source" \
	grep -q "^$CSD/vault.json $M fuse.comfysecretsfs " /proc/mounts

n0=$(grep -c '"secret_read"' "$CSD/audit.log")
ls -lRa "$M" >/dev/null
stat "$M/runpod/api_key" "$M/openai/blob" >/dev/null
find "$M" -type f >/dev/null
n1=$(grep -c '"secret_read"' "$CSD/audit.log")
check "ls, stat and find decrypt nothing (no secret_read line)" [ "$n0" -eq "$n1" ]

if command -v python3 >/dev/null 2>&1; then
	check "a MAP_PRIVATE mmap reads the value too" sh -c "[ \"\$(python3 -c \"
import mmap, sys
f = open('$M/runpod/api_key', 'rb')
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
sys.stdout.write(m[:].decode())\")\" = '$SEED' ]"
fi
check "SIGTERM unmounts cleanly, status 0" csfs_stop "$M"

# A MAP_PRIVATE mmap reads through the page cache even with direct_io: closing a field
# read that way makes the daemon drop the file's pages (FUSE_NOTIFY_INVAL_INODE, code 2,
# in -d output). A plain read(2) (cat) is direct and leaves nothing to drop.
: >"$T/csfs.err"
if csfs_start "$M" -d; then
	cat "$M/runpod/api_key" >/dev/null
	wait_until 30 grep -q 'opcode: RELEASE' "$T/csfs.err"
	check "a direct read (cat) needs no purge (no NOTIFY)" \
		sh -c "! grep -q 'NOTIFY: code=2' $T/csfs.err"
	if command -v python3 >/dev/null 2>&1; then
		python3 -c "
import mmap
f = open('$M/runpod/api_key', 'rb')
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
m[:]" >/dev/null
		check "closing a field read by mmap purges its page cache (NOTIFY code=2 after RELEASE)" \
			wait_until 30 sh -c "sed -n '/opcode: RELEASE/,\$p' $T/csfs.err | grep -q 'NOTIFY: code=2'"
	else
		skip "closing a field read by mmap purges its page cache" "python3 is missing"
	fi
	check "the debug output holds no value" sh -c "! grep -q '$SEED' $T/csfs.err"
	csfs_stop "$M"
fi

M2=$T/mnt2
if csfs_start "$M2" -o uid=65534,gid=nogroup,mode=0404; then
	check "-o uid= and gid= set the owner" [ "$(stat -c %u:%g "$M2/runpod/api_key")" = 65534:65534 ]
	check "-o mode= sets the file mode" [ "$(stat -c %a "$M2/runpod/api_key")" = 404 ]
	check "directories get x where files have r" [ "$(stat -c %a "$M2/runpod")" = 505 ]
	csfs_stop "$M2"
else
	notok "-o uid=,gid=,mode= mounts"
fi
cat >>"$CSD/cs.ini" <<EOF2
[provider.runpod]
owner = 65534
group = 65534
mode = 0400
EOF2
if csfs_start "$M2"; then
	check "[provider.NAME] owner and group apply to its files" \
		[ "$(stat -c %u:%g "$M2/runpod/api_key")" = 65534:65534 ]
	check "[provider.NAME] mode applies to its files and directory" \
		sh -c "[ \$(stat -c %a $M2/runpod/api_key) = 400 ] && [ \$(stat -c %a $M2/runpod) = 500 ]"
	check "other providers keep the defaults" [ "$(stat -c %a "$M2/openai/blob")" = 440 ]
	csfs_stop "$M2"
else
	notok "a config with [provider.runpod] mounts"
fi
done_testing
