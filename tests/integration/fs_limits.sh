#!/bin/sh
# The limits README.md and comfysecretsfs(8) document, held to what the mount does: no
# inotify event for a change (read .events, or poll stat: a changed value is a new
# inode); MAP_SHARED
# fails with ENODEV, MAP_PRIVATE reads the value; another user's writes get EACCES or
# EPERM from the kernel before EROFS, and -o ro makes them EROFS (and .control
# unwritable). Each is also checked to be written down in both documents.
. tests/lib.sh
fs_require fs_limits
command -v python3 >/dev/null 2>&1 || { skip fs_limits "python3 is missing"; exit 0; }
for f in README.md man/comfysecretsfs.8.scd; do
	check "$f documents: no change events, read .events or poll stat" \
		sh -c "grep -q 'No change events' $f && grep -qi 'poll' $f && grep -q 'inotify' $f && grep -q '\.events' $f"
	check "$f documents: MAP_SHARED fails with ENODEV, MAP_PRIVATE works" \
		sh -c "grep -q 'ENODEV' $f && grep -q 'MAP.*PRIVATE' $f"
	check "$f documents: other users get EACCES/EPERM before EROFS; -o ro" \
		sh -c "grep -q 'EACCES' $f && grep -q 'EPERM' $f && grep -q -- '-o ro' $f"
done
cs_init
printf 'limits-1' | csc set app token
chmod 755 "$T"
M=$T/mnt
if ! csfs_start "$M" -o allow_other,mode=0444; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
F=$M/app/token

python3 - "$F" "$M/app" "$CS" "$CSD/cs.ini" >"$T/py.out" 2>&1 <<'PY'
import ctypes, errno, mmap, os, select, subprocess, sys, time
f, d, cs, ini = sys.argv[1:5]
fd = os.open(f, os.O_RDONLY)
try:
    mmap.mmap(fd, 8, mmap.MAP_SHARED, mmap.PROT_READ)
    print("shared mapped")
except OSError as e:
    print("shared", errno.errorcode[e.errno])
print("private", mmap.mmap(fd, 8, mmap.MAP_PRIVATE, mmap.PROT_READ)[:8].decode())
os.close(fd)
ino = os.stat(f).st_ino
libc = ctypes.CDLL(None, use_errno=True)
ifd = libc.inotify_init1(os.O_NONBLOCK)
# modify, attrib, close_write, moved_from/to, create, delete, delete_self, move_self
mask = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
libc.inotify_add_watch(ifd, d.encode(), mask)
libc.inotify_add_watch(ifd, f.encode(), mask)
subprocess.run([cs, "--config", ini, "set", "app", "token"], input=b"limits-22", check=True)
subprocess.run([cs, "--config", ini, "set", "app", "added"], input=b"x", check=True)
for _ in range(150):
    if os.stat(f).st_size == 9: break
    time.sleep(0.02)
print("served", os.stat(f).st_size == 9)
print("new inode", os.stat(f).st_ino != ino)
r, _, _ = select.select([ifd], [], [], 0.3)
print("events", len(os.read(ifd, 4096)) // 16 if r else 0)
PY
field() { sed -n "s/^$1 //p" "$T/py.out"; }
check "mmap(MAP_SHARED) of a value fails with ENODEV" [ "$(field shared)" = ENODEV ]
check "mmap(MAP_PRIVATE) reads the value" [ "$(field private)" = limits-1 ]
check "a set is served ..." [ "$(field served)" = True ]
check "... raises no inotify event on the folder or the file" [ "$(field events)" = 0 ]
check "... and polling stat sees it: a new inode number" [ "$(field 'new inode')" = True ]

if command -v setpriv >/dev/null 2>&1; then
	check "another user's write gets EACCES, not EROFS" \
		sh -c "$(command -v setpriv) --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >$F' 2>&1 | grep -q 'Permission denied'"
	check "... and its chmod EPERM" \
		sh -c "$(command -v setpriv) --reuid=65534 --regid=65534 --clear-groups chmod 777 $F 2>&1 | grep -q 'Operation not permitted'"
	csfs_stop "$M"
	if csfs_start "$M" -o allow_other,mode=0444,ro; then
		check "with -o ro another user's write gets EROFS" \
			sh -c "$(command -v setpriv) --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >$F' 2>&1 | grep -q 'Read-only file system'"
		check "... .control cannot be written" sh -c "! sh -c 'exec 3<>$M/.control' 2>/dev/null"
		check "... and reads still work" sh -c "[ \"\$(cat $F)\" = limits-22 ]"
	else
		notok "-o ro mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
	fi
else
	skip "another user's writes" "setpriv is missing"
fi
check "the daemon stops cleanly" csfs_stop "$M"
done_testing
