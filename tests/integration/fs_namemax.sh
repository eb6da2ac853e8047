#!/bin/sh
# NAME_MAX is what the mount reports (statfs, getconf NAME_MAX) and what it enforces:
# every operation on a longer name - lookup, open, mkdir, create, mknod, symlink, link,
# rename (either name), unlink, rmdir - fails with ENAMETOOLONG, as on a local
# filesystem, in the root, a provider and .sandbox/. A name of exactly NAME_MAX is an
# ordinary missing name (ENOENT, or EROFS for a write). NAME_MAX is the longest
# .sandbox "host:port", so a long host name still has its path.
. tests/lib.sh
fs_require fs_namemax
command -v python3 >/dev/null 2>&1 || { skip fs_namemax "python3 is missing"; exit 0; }
cs_init
printf 'v' | csc set app token
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
N=$(getconf NAME_MAX "$M")
check "getconf NAME_MAX gives a number (${N:-none})" sh -c "[ '${N:-x}' -gt 0 ] 2>/dev/null"

# Each operation on each name in each folder; one line "OP DIR LEN ERRNO" per try.
python3 - "$M" "$N" >"$T/ops.out" 2>&1 <<'PY'
import errno, os, sys
m, n = sys.argv[1], int(sys.argv[2])
def err(f, *a):
    try:
        f(*a)
        return "0"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
for d in ("", "app", ".sandbox"):
    base = os.path.join(m, d) if d else m
    for length in (n, n + 1, 1000):
        name = "a" * length
        p = os.path.join(base, name)
        other = os.path.join(m, "app", "token")
        ops = {
            "stat": (os.stat, p),
            "open": (os.open, p, os.O_RDONLY),
            "mkdir": (os.mkdir, p),
            "create": (os.open, p, os.O_WRONLY | os.O_CREAT, 0o600),
            "mknod": (os.mkfifo, p),
            "symlink": (os.symlink, "target", p),
            "link": (os.link, other, p),
            "rename-to": (os.rename, other, p),
            "rename-from": (os.rename, p, other),
            "unlink": (os.unlink, p),
            "rmdir": (os.rmdir, p),
        }
        for op, (f, *a) in ops.items():
            print(op, d or "/", "max" if length == n else "long", err(f, *a))
PY
bad_long=$(awk '$3 == "long" && $4 != "ENAMETOOLONG"' "$T/ops.out")
bad_max=$(awk '$3 == "max" && $4 == "ENAMETOOLONG"' "$T/ops.out")
check "every operation on a name over NAME_MAX fails with ENAMETOOLONG ($(awk '$3 == "long"' "$T/ops.out" | wc -l) tries)" \
	[ -z "$bad_long" ]
[ -z "$bad_long" ] || echo "$bad_long" | sed 's/^/# /'
check "... and none on a name of exactly NAME_MAX" [ -z "$bad_max" ]
[ -z "$bad_max" ] || echo "$bad_max" | sed 's/^/# /'
check "a missing name of NAME_MAX bytes is ENOENT" \
	grep -qx 'stat app max ENOENT' "$T/ops.out"
check "... and mkdir of it is EROFS" grep -qx 'mkdir / max EROFS' "$T/ops.out"
check "nothing was changed: the field is still served" sh -c "[ \"\$(cat $M/app/token)\" = v ]"

label=$(printf 'a%.0s' $(seq 1 40))
host=$label.$label.example.com
check "a .sandbox path with a ${#host}-byte host name answers" \
	sh -c "cat '$M/.sandbox/$host:443' | grep -q '\"host\":\"$host\"'"
check "the daemon stops cleanly" csfs_stop "$M"
done_testing
