#!/bin/sh
# An open file describes what it reads, as after rename(2) on a local filesystem: a set
# makes the field a new inode, a handle opened before keeps its old size and attributes
# until it is closed (fstat), stat(2) and a new open see the new value, and after rm the
# open handle still answers fstat. A reader that opens, fstats and reads exactly st_size
# bytes gets a whole value, never a cut one, through 200 sets.
. tests/lib.sh
fs_require fs_fstat
command -v python3 >/dev/null 2>&1 || { skip fs_fstat "python3 is missing"; exit 0; }
cs_init
OLD='OLD-VALUE-that-is-rather-long-0123456789'
printf '%s' "$OLD" | csc set app token
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
F=$M/app/token

# One handle held across a set and an rm; the script prints what each step saw.
python3 - "$F" "$CS" "$CSD/cs.ini" >"$T/held.out" 2>&1 <<'PY'
import os, subprocess, sys, time
path, cs, ini = sys.argv[1:4]
def cli(*a, value=None):
    subprocess.run([cs, "--config", ini, *a], input=value, check=True,
                   stdout=subprocess.DEVNULL)
def wait(cond):
    for _ in range(150):
        if cond(): return True
        time.sleep(0.02)
    return False
def size_or_none(p):
    try: return os.stat(p).st_size
    except FileNotFoundError: return None
fd = os.open(path, os.O_RDONLY)
before = os.fstat(fd)
cli("set", "app", "token", value=b"NEWv")
print("served", wait(lambda: size_or_none(path) == 4))
st = os.fstat(fd)
print("fstat_size", st.st_size)
print("read_len", len(os.pread(fd, 1 << 16, 0)))
print("same_ino_as_before", st.st_ino == before.st_ino)
print("path_ino_differs", os.stat(path).st_ino != st.st_ino)
fd2 = os.open(path, os.O_RDONLY)
print("new_open", os.read(fd2, 100).decode(), os.fstat(fd2).st_size)
cli("rm", "app", "token")
print("removed", wait(lambda: size_or_none(path) is None))
try:
    print("fstat_after_rm", os.fstat(fd2).st_size, os.fstat(fd).st_size)
except OSError as e:
    print("fstat_after_rm error", e.errno)
print("read_after_rm", os.pread(fd2, 100, 0).decode())
os.close(fd); os.close(fd2)
PY
field() { sed -n "s/^$1 //p" "$T/held.out"; }
check "the new value is served after set" [ "$(field served)" = True ]
check "fstat on a handle opened before the set gives its own size (${#OLD})" \
	[ "$(field fstat_size)" = "${#OLD}" ]
check "... which is what it reads" [ "$(field read_len)" = "${#OLD}" ]
check "... and its inode number did not change" [ "$(field same_ino_as_before)" = True ]
check "the path is a new inode now" [ "$(field path_ino_differs)" = True ]
check "a new open reads the new value, fstat gives its size" [ "$(field new_open)" = "NEWv 4" ]
check "after rm, fstat on the open handles still answers" \
	[ "$(field fstat_after_rm)" = "4 ${#OLD}" ]
check "... and they still read their values" [ "$(field read_after_rm)" = NEWv ]
[ -n "$(field served)" ] || sed 's/^/# /' "$T/held.out"

# open, fstat, read st_size bytes, close, in a loop, while 200 sets alternate the value
# between 3000 and 17 bytes. The reader stops when told (a file), not after a time.
A=$(head -c 3000 /dev/zero | tr '\0' A)
B=$(head -c 17 /dev/zero | tr '\0' B)
printf '%s' "$A" | csc set app rot
wait_until 30 sh -c "[ \$(stat -c %s $M/app/rot 2>/dev/null) = 3000 ]"
python3 - "$M/app/rot" "$T/stop" >"$T/loop.out" 2>&1 <<'PY' &
import os, sys
p, stop = sys.argv[1], sys.argv[2]
A, B = b"A" * 3000, b"B" * 17
n = cut = a = b = 0
while not os.path.exists(stop):
    fd = os.open(p, os.O_RDONLY)
    d = os.pread(fd, os.fstat(fd).st_size, 0)
    os.close(fd)
    n += 1
    if d == A: a += 1
    elif d == B: b += 1
    else: cut += 1
print(n, cut, a, b)
PY
LOOP=$!
at_exit "kill $LOOP"
# The sets only drive reloads: their own leaks are checked elsewhere, and LSan's exit
# scan would double the time of 200 of them under ASan.
i=0
while [ $i -lt 100 ]; do
	printf '%s' "$B" | ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" csc set app rot
	printf '%s' "$A" | ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" csc set app rot
	i=$((i + 1))
done
: >"$T/stop"
wait $LOOP
read -r n cut a b <"$T/loop.out" || { n=0; cut='?'; }
echo "# open+fstat+pread(st_size)+close during 200 sets: $n reads, $cut cut, $a of 3000 bytes, $b of 17"
check "a reader of st_size bytes never gets a cut value ($cut of $n reads)" [ "$cut" = 0 ]
check "... and the loop saw both values (the race was run)" \
	sh -c "[ '${a:-0}' -gt 0 ] && [ '${b:-0}' -gt 0 ]"
check "the daemon is still serving" sh -c "[ \$(stat -c %s $M/app/rot) = 3000 ]"
check "the daemon stops cleanly" csfs_stop "$M"
done_testing
