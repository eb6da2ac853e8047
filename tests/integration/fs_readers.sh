#!/bin/sh
# Every reader that reads to the end gets the whole value or answer: read(2) (GNU cat),
# sendfile(2) (BusyBox cat, as in Alpine and other minimal images), splice(2), and cp
# (copy_file_range, which answers EXDEV across filesystems and then reads). That holds
# for a secret, for .sandbox/HOST:PORT and for a .control answer. A secret's plaintext
# leaves the page cache once its sendfile reader closes, and .control's answers never
# enter it (their page-cache reads are refused, so sendfile falls back to read).
. tests/lib.sh
fs_require fs_readers
command -v python3 >/dev/null 2>&1 || { skip fs_readers "python3 is missing"; exit 0; }
command -v busybox >/dev/null 2>&1 || { skip fs_readers "busybox is missing (scripts/install-deps)"; exit 0; }
cs_init
VALUE='sk-readers-0123456789abcdef'
printf '%s' "$VALUE" | csc set app token
printf '[sandbox]\nnetwork_allow = api.example.com:443\n' >>"$CSD/cs.ini"
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
F=$M/app/token
S=$M/.sandbox/api.example.com:443

# sendfile, splice and copy_file_range of a whole file, each to the end, in Python.
cat >"$T/rd.py" <<'PY'
import os, sys
how, path = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
out = b""
if how == "sendfile":
    r, w = os.pipe()
    while True:
        n = os.sendfile(w, fd, None, 1 << 16)
        if n == 0: break
        out += os.read(r, n)
elif how == "splice":
    r, w = os.pipe()
    while True:
        n = os.splice(fd, w, 1 << 16)
        if n == 0: break
        out += os.read(r, n)
elif how == "cfr":
    o = os.open(sys.argv[3], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while os.copy_file_range(fd, o, 1 << 16) > 0: pass
        print("copied")
    except OSError as e:
        print("errno", e.errno)
    sys.exit(0)
sys.stdout.buffer.write(out)
PY
rd() { python3 "$T/rd.py" "$@" 2>&1; }

check "BusyBox cat of a secret gives the value" sh -c "[ \"\$(busybox cat $F)\" = '$VALUE' ]"
check "sendfile of a secret gives the value" sh -c "[ \"\$(python3 $T/rd.py sendfile $F)\" = '$VALUE' ]"
check "splice of a secret gives the value" sh -c "[ \"\$(python3 $T/rd.py splice $F)\" = '$VALUE' ]"
check "copy_file_range to another filesystem answers EXDEV (callers read instead)" \
	sh -c "[ \"\$(python3 $T/rd.py cfr $F $T/cfr.out)\" = 'errno 18' ]"
check "cp of a secret gives the value" sh -c "cp $F $T/cp.out && [ \"\$(cat $T/cp.out)\" = '$VALUE' ]"

want=$(cat "$S")
check "GNU cat of .sandbox/HOST:PORT gives the answer" sh -c "echo '$want' | grep -q '\"allowed\":true'"
check "... its size is the answer's" [ "$(stat -c %s "$S")" -eq "$(printf '%s\n' "$want" | wc -c)" ]
check "BusyBox cat of .sandbox/HOST:PORT gives the whole answer" \
	sh -c "[ \"\$(busybox cat $S)\" = '$want' ]"
check "sendfile of .sandbox/HOST:PORT gives the whole answer" \
	sh -c "[ \"\$(python3 $T/rd.py sendfile $S)\" = '$want' ]"
check "splice of .sandbox/HOST:PORT gives the whole answer" \
	sh -c "[ \"\$(python3 $T/rd.py splice $S)\" = '$want' ]"
check "cp of .sandbox/HOST:PORT gives the whole answer" \
	sh -c "cp $S $T/sbx.out && [ \"\$(cat $T/sbx.out)\" = '$want' ]"
check "a denied pair's answer comes whole to BusyBox cat" \
	sh -c "busybox cat $M/.sandbox/evil.example:80 | grep -q '\"allowed\":false.*\"port\":80}'"

check "BusyBox cat <&3 reads a .control answer" sh -c "\
	exec 3<>$M/.control; printf '{\"op\":\"defaults\"}' >&3; busybox cat <&3 | grep -q network_default"
check "GNU cat <&3 reads the same answer" sh -c \
	"exec 3<>$M/.control; printf '{\"op\":\"defaults\"}' >&3; cat <&3 | grep -q network_default"

# Page-cache pages of a file, by cachestat(2) (Linux 6.5) on an open fd.
cat >"$T/pages.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class R(ctypes.Structure): _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]
class C(ctypes.Structure): _fields_ = [(n, ctypes.c_uint64) for n in ("cache", "dirty", "wb", "ev", "rev")]
fd = os.open(sys.argv[1], os.O_RDONLY)
c = C()
print(c.cache if libc.syscall(451, fd, ctypes.byref(R(0, 0)), ctypes.byref(c), 0) == 0 else "none")
PY
pages() { python3 "$T/pages.py" "$1"; }
if [ "$(pages "$F")" = none ]; then
	skip "the page cache after sendfile" "no cachestat(2) in this kernel"
else
	python3 "$T/rd.py" sendfile "$F" >/dev/null
	check "a secret's pages leave the page cache once its sendfile reader closed" \
		wait_until 3 sh -c "[ \$(python3 $T/pages.py $F) = 0 ]"
	exec 3<>"$M/.control"; printf '{"op":"defaults"}' >&3; busybox cat <&3 >/dev/null
	n=$(pages "$M/.control"); exec 3<&-
	check ".control's answer is not in the page cache while its reader has it open ($n)" \
		[ "$n" = 0 ]
fi
check "the daemon stops cleanly" csfs_stop "$M"
done_testing
