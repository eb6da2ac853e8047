#!/bin/sh
# The kernel keeps the vault tree's names and attributes for cache_timeout (600 s by
# default) and asks the daemon again only when a reload tells it what changed: a
# repeated stat of a secret reaches the daemon once, .control and .sandbox/ entries
# every time; after a set, a name added, a name removed, a new value and the vault's new
# modification time on every folder are seen at once (a file carries its field's own
# change time, which an unchanged field keeps). -o cache_timeout=0 asks every time;
# a bad value is refused.
. tests/lib.sh
fs_require fs_cache
cs_init
cat >>"$CSD/cs.ini" <<EOF
[features]
enable_security_api = true
EOF
printf 'a1' | csc set runpod api_key
printf 'b1' | csc set openai api_key
printf 's1' | csc set stay key
M=$T/mnt
# asked: how many LOOKUP and GETATTR requests the daemon was sent so far (-d log).
asked() { grep -c 'opcode: \(LOOKUP\|GETATTR\)' "$T/csfs.err"; }
if ! csfs_start "$M" -d; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

stat "$M/runpod/api_key" >/dev/null
n0=$(asked)
for _ in $(seq 1 50); do stat "$M/runpod/api_key" >/dev/null; done
n1=$(asked)
echo "# 50 stats of a secret: $((n1 - n0)) lookups and getattrs reached the daemon"
check "50 stats of a secret reach the daemon at most 5 times" [ $((n1 - n0)) -le 5 ]
n0=$(asked)
for _ in $(seq 1 50); do stat "$M/.control" >/dev/null; done
n1=$(asked)
check ".control is looked up by the daemon every time (50 stats, >= 50 requests)" \
	[ $((n1 - n0)) -ge 50 ]

# mtime_of FILE: the modification time with nanoseconds.
mtime_of() { stat -c %y "$1"; }
same_mtime() { [ "$(mtime_of "$M/stay")" = "$(mtime_of "$CSD/vault.json")" ]; }
reads() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
check "the folders carry the vault's modification time" same_mtime
stay_t=$(mtime_of "$M/stay/key")
old_ino=$(stat -c %i "$M/openai/api_key")
printf 'b2' | csc set openai api_key
printf 'c1' | csc set civitai token
csc rm runpod api_key >/dev/null
check "a new value is read after the set" wait_until 30 reads "$M/openai/api_key" b2
check "... under a new inode number" [ "$(stat -c %i "$M/openai/api_key")" != "$old_ino" ]
check "an added name is there" wait_until 30 reads "$M/civitai/token" c1
check "a removed name is gone" wait_until 30 sh -c "! test -e '$M/runpod/api_key'"
stat "$M/stay" >/dev/null
check "an unchanged folder shows the vault's new modification time" wait_until 30 same_mtime
check "an unchanged field keeps its own change time" [ "$(mtime_of "$M/stay/key")" = "$stay_t" ]
csfs_stop "$M"

if csfs_start "$M" -d -o cache_timeout=0; then
	stat "$M/openai/api_key" >/dev/null
	n0=$(asked)
	for _ in $(seq 1 20); do stat "$M/openai/api_key" >/dev/null; done
	n1=$(asked)
	check "-o cache_timeout=0: each of 20 stats reaches the daemon" [ $((n1 - n0)) -ge 20 ]
	csfs_stop "$M"
else
	notok "mounts with -o cache_timeout=0" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
fi
"$CSFS" -f -o "config=$CSD/cs.ini,cache_timeout=86401" "$CSD/vault.json" "$M" >"$T/out" 2>&1
rc=$?
check "-o cache_timeout=86401 is refused (status 1)" [ "$rc" -eq 1 ]
check "... saying what is expected" grep -q 'cache_timeout=86401: expected seconds from 0 to 86400' "$T/out"
check_fails "... nothing mounted" is_mounted "$M"
done_testing
