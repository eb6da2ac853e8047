#!/bin/sh
# .events: a reader started before 100 `set`s gets exactly 100 lines, in order, naming
# what changed and never a value; a reader not allowed a provider sees none of its
# events; an O_NONBLOCK read with nothing queued is EAGAIN; poll and epoll wake after a
# set; a blocked read ends on a signal (EINTR); BusyBox cat reads it, and so does a
# reader in a private namespace with a read-only bind mount (a container); the open handles
# per uid are bounded; 1000 idle readers and 3300 unread changes (past the 1024-line
# queue) leave the daemon's memory bounded and give a late reader one overflow line;
# stopping the daemon, or a lazy unmount, returns readers blocked in read at once; a
# cat blocked in read when the daemon takes SIGTERM or SIGINT exits 0 at end of file.
. tests/lib.sh
fs_require fs_events
if [ "$(id -u)" -ne 0 ]; then skip fs_events "needs root to add a test user"; exit 0; fi
command -v python3 >/dev/null 2>&1 || { skip fs_events "python3 is missing"; exit 0; }
# Under ASan freed memory waits in a quarantine (256 MB by default) and would count in
# the daemon's RSS: keep it small, so RSS shows what the daemon holds.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
export ASAN_OPTIONS
cs_init
printf 'secret-canary-ev-7f1' | csc set pub token
printf 'hidden-canary-ev-9c2' | csc set priv token
cat >>"$CSD/cs.ini" <<EOF2
[provider.pub]
mode = 0444
EOF2
U=cseva$$
useradd -M -N -s /usr/sbin/nologin "$U" 2>/dev/null || { notok "useradd $U"; done_testing; }
at_exit "userdel $U"
chmod 0755 "$T"		# let the test user reach the mount point
M=$T/mnt
E=$M/.events
lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }
if ! csfs_start "$M" -o allow_other; then notok "mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

check ".events is in the root, read-only for everyone" sh -c "[ \"\$(stat -c %A $E)\" = -r--r--r-- ]"

# --- 100 sets, 100 lines, in order ---
cat "$E" >"$T/all" &
R1=$!
setpriv --reuid="$U" --regid=65534 --clear-groups cat "$E" >"$T/user" 2>"$T/user.err" &
R2=$!
# Both readers are open once a first change reaches both.
printf 'x' | csc set pub ready
wait_until 30 sh -c "grep -q ready $T/all && grep -q ready $T/user"
check "the readers are open (the first line came)" sh -c "grep -q ready $T/all && grep -q ready $T/user"
i=0
while [ $i -lt 100 ]; do
	printf 'value-%s' "$i" | csc set pub "$(printf 'k%03d' $i)"
	i=$((i + 1))
done
for i in 1 2 3 4 5; do printf 'hidden-%s' "$i" | csc set priv "h$i"; done
printf 'end' | csc set pub zz-end
wait_until 30 grep -q zz-end "$T/all"
n=$(grep -c '"k[0-9]*"' "$T/all")
check "a reader started before 100 sets gets exactly 100 lines for them (got $n)" [ "$n" -eq 100 ]
check "... in the order of the sets" sh -c "grep -o '\"field\":\"k[0-9]*\"' $T/all | cut -d'\"' -f4 | sort -c"
check "... each a secret_added naming provider, field, generation and time" \
	sh -c "[ \$(grep '\"k[0-9]*\"' $T/all | grep -c '^{\"event\":\"secret_added\",\"provider\":\"pub\",\"field\":\"k[0-9]*\",.*\"generation\":[0-9]*,\"time\":\"20[0-9-]*T[0-9:.]*Z\"}\$') -eq 100 ]"
check "... generations never go back" sh -c "grep -o '\"generation\":[0-9]*' $T/all | cut -d: -f2 | sort -nc"
check "... and no line holds a value" sh -c "! grep -q 'value-\\|canary' $T/all"
wait_until 30 grep -q zz-end "$T/user"
check "a reader not allowed a provider sees none of its events" sh -c "! grep -q '\"priv\"' $T/user"
check "... which the reader allowed sees" sh -c "[ \$(grep -c '\"priv\",\"field\":\"h' $T/all) -eq 5 ]"
check "... and the events of the provider it may read, all 100" \
	sh -c "[ \$(grep -c '\"pub\",\"field\":\"k' $T/user) -eq 100 ]"
printf 'changed' | csc set pub k000
csc rm pub k002 >/dev/null
wait_until 30 grep -q '"secret_removed","provider":"pub","field":"k002"' "$T/all"
check "a change and a removal are secret_changed and secret_removed" sh -c \
	"grep -q '\"secret_changed\",\"provider\":\"pub\",\"field\":\"k000\"' $T/all && grep -q '\"secret_removed\",\"provider\":\"pub\",\"field\":\"k002\"' $T/all"
printf 'changed' | csc set pub k000
csc rotate >/dev/null
wait_until 30 grep -q key_rotated "$T/user"
check "a rotation is one key_rotated line, for every reader; the same value set again is none" \
	sh -c "[ \$(grep -c key_rotated $T/all) -eq 1 ] && [ \$(grep -c '\"k000\"' $T/all) -eq 2 ]"
kill $R1 $R2 2>/dev/null

# --- O_NONBLOCK, poll, epoll, a signal ---
cat >"$T/poll.py" <<'EOF2'
import os, select, signal, sys
path, what = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
if what == "nonblock":
    try:
        os.read(fd, 4096)
        print("read returned")
    except BlockingIOError:
        print("EAGAIN")
    sys.exit(0)
print("open", flush=True)
if what == "poll":
    p = select.poll(); p.register(fd, select.POLLIN)
    if p.poll(30000):
        print("woke:" + os.read(fd, 4096).decode(), end="")
elif what == "epoll":
    p = select.epoll(); p.register(fd, select.EPOLLIN)
    if p.poll(30):
        print("woke:" + os.read(fd, 4096).decode(), end="")
elif what == "signal":
    def alarm(s, f): raise InterruptedError
    signal.signal(signal.SIGUSR1, alarm)
    os.set_blocking(fd, True)
    try:
        os.read(fd, 4096)
        print("read returned")
    except InterruptedError:
        print("interrupted")
EOF2
check "an O_NONBLOCK read with nothing queued is EAGAIN" sh -c "[ \"\$(python3 $T/poll.py $E nonblock)\" = EAGAIN ]"
for w in poll epoll; do
	python3 "$T/poll.py" "$E" $w >"$T/$w.out" &
	eval "P_$w=\$!"
done
wait_until 30 sh -c "grep -q open $T/poll.out && grep -q open $T/epoll.out"
printf 'p' | csc set pub polled
wait_until 30 sh -c "grep -q 'woke:.*polled' $T/poll.out && grep -q 'woke:.*polled' $T/epoll.out"
check "poll wakes after a set, and the read gives the line" grep -q 'woke:.*polled' "$T/poll.out"
check "epoll wakes after a set, and the read gives the line" grep -q 'woke:.*polled' "$T/epoll.out"
python3 "$T/poll.py" "$E" signal >"$T/sig.out" &
P=$!
wait_until 30 grep -q open "$T/sig.out"
sleep 0.2	# no timing assertion: the read may or may not be blocked yet, both must end
kill -USR1 $P
wait_until 30 sh -c "! kill -0 $P"
check "a read blocked when the reader takes a signal ends (EINTR)" grep -qx interrupted "$T/sig.out"

# --- BusyBox cat ---
if command -v busybox >/dev/null 2>&1; then
	busybox cat "$E" >"$T/bb" 2>"$T/bb.err" &
	B=$!
	wait_until 30 sh -c "printf b | $CS --config $CSD/cs.ini set pub busybox\$(date +%N); grep -q busybox $T/bb"
	check "BusyBox cat reads .events" grep -q '"field":"busybox' "$T/bb"
	kill $B 2>/dev/null
else
	skip "BusyBox cat reads .events" "busybox is missing"
fi

# --- a container's read-only bind mount ---
if ns_usable; then
	ro_bind_run "$M" "$T/ro" "timeout 30 head -n 1 $T/ro/.events >$T/ro.out 2>/dev/null" &
	B=$!
	wait_until 30 sh -c "printf r | $CS --config $CSD/cs.ini set pub ro\$(date +%N); grep -q '\"ro' $T/ro.out"
	check "a reader through a read-only bind mount (as a container) gets its line" grep -q '"field":"ro' "$T/ro.out"
	wait $B
else
	skip "a reader through a read-only bind mount gets its line" "no unshare -m here"
fi

# --- bounds: handles per uid, 1000 idle readers, an unread queue ---
cat >"$T/idle.py" <<'EOF2'
import errno, os, resource, sys
path, n = sys.argv[1], int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
fds = []
try:
    while len(fds) < n:
        fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
except OSError as e:
    print("refused after %d: %s" % (len(fds), errno.errorcode[e.errno]), flush=True)
print("open %d" % len(fds), flush=True)
sys.stdin.read()                    # until told to read
try:
    print("first:" + os.read(fds[0], 4096).decode().splitlines()[0], flush=True)
except BlockingIOError:
    print("first: EAGAIN", flush=True)
EOF2
python3 "$T/idle.py" "$E" 2000 </dev/null >"$T/cap.out"
check "one uid may hold at most 1024 .events handles (then EMFILE)" grep -qx 'refused after 1024: EMFILE' "$T/cap.out"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$CSFS_PID/status"; }
awk 'BEGIN { for (i = 0; i < 1100; i++) printf "COMFYVN_SECRET_BULK_F%04d=a%d\n", i, i }' >"$T/a.env"
awk 'BEGIN { for (i = 0; i < 1100; i++) printf "COMFYVN_SECRET_BULK_F%04d=b%d\n", i, i }' >"$T/b.env"
csc import "$T/a.env" >/dev/null
mkfifo "$T/go"
python3 "$T/idle.py" "$E" 1000 <"$T/go" >"$T/idle.out" &
IP=$!
exec 7>"$T/go"
wait_until 30 grep -q '^open' "$T/idle.out"
check "1000 idle readers are open" grep -qx 'open 1000' "$T/idle.out"
r0=$(rss)
for f in b a b; do csc import "$T/$f.env" >/dev/null; done
# the daemon has served the imports once a fresh reader sees a later change
cat "$E" >"$T/late" & L=$!
wait_until 30 sh -c "printf s | $CS --config $CSD/cs.ini set pub sync\$(date +%N); grep -q sync $T/late"
kill $L 2>/dev/null
r1=$(rss)
echo "# daemon RSS with 1000 idle readers: $r0 kB before, $r1 kB after 3300 unread changes"
check "... 3300 unread changes leave the daemon's RSS within 8 MB of where it was" [ $((r1 - r0)) -lt 8192 ]
exec 7>&-
wait_until 30 grep -q '^first' "$T/idle.out"
check "... and an idle reader's first line is then the overflow line" \
	grep -q '^first:{"event":"overflow","generation":[0-9]*,"time":"' "$T/idle.out"
wait $IP

# --- the daemon stops with readers blocked in read ---
for i in 1 2 3; do cat "$E" >"$T/stop.$i" 2>&1 & eval "S$i=\$!"; done
sleep 0.2	# no timing assertion: blocked or not yet, all three must end
check "the daemon stops with readers blocked in read" csfs_stop "$M"
wait_until 30 sh -c "! kill -0 $S1 2>/dev/null && ! kill -0 $S2 2>/dev/null && ! kill -0 $S3 2>/dev/null"
check "... and they return (bounded wait)" sh -c "! kill -0 $S1 2>/dev/null && ! kill -0 $S2 2>/dev/null && ! kill -0 $S3 2>/dev/null"
wait $S1; rc=$?
check "... at end of file (cat exits 0)" [ "$rc" -eq 0 ]

# --- a lazy unmount with readers blocked in read ---
if ! csfs_start "$M" -o allow_other; then notok "mounts again" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
cat "$M/pub/token" >/dev/null
for i in 1 2; do cat "$E" >"$T/lazy.$i" 2>&1 & eval "Z$i=\$!"; done
sleep 0.2	# no timing assertion: blocked or not yet, both must end
check "fusermount3 -uz with readers blocked in read succeeds" fusermount3 -uz "$M"
wait_until 30 sh -c "! kill -0 $Z1 2>/dev/null && ! kill -0 $Z2 2>/dev/null"
check "... and they return (bounded wait)" sh -c "! kill -0 $Z1 2>/dev/null && ! kill -0 $Z2 2>/dev/null"
wait $Z1; rc=$?
check "... at end of file (cat exits 0)" [ "$rc" -eq 0 ]
wait_until 30 sh -c "! kill -0 $CSFS_PID 2>/dev/null"
check "... and then the daemon ends by itself" sh -c "! kill -0 $CSFS_PID 2>/dev/null"

# --- SIGTERM and SIGINT with a reader blocked in read, on a fresh mount ---
# Nothing else touches these mounts: the reader's close is the first the kernel sees
# on the connection, so a flush sent at close (the daemon is gone by then) would fail
# it with ENOTCONN or ECONNABORTED, and cat would exit 1 after its end of file.
blocked() { grep -q request_wait_answer "/proc/$1/wchan"; }
for sig in TERM INT; do
	if ! csfs_start "$M" -o allow_other; then notok "mounts for SIG$sig" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; continue; fi
	cat "$E" >"$T/sig$sig.out" 2>"$T/sig$sig.err" &
	C=$!
	# bounded: a kernel that names its wait otherwise only makes this a stop with
	# the reader open, not yet blocked
	wait_until 30 blocked $C
	check "SIG$sig stops the daemon with a cat of .events blocked in read" csfs_stop "$M" $sig
	wait_until 30 sh -c "! kill -0 $C 2>/dev/null"
	check "... and the cat returns (bounded wait)" sh -c "! kill -0 $C 2>/dev/null"
	wait $C; rc=$?
	check "... at end of file: cat exits 0 (status $rc) and prints no error" \
		sh -c "[ $rc -eq 0 ] && [ ! -s $T/sig$sig.out ] && [ ! -s $T/sig$sig.err ]"
	sed "s/^/# cat: /" "$T/sig$sig.err"
done
done_testing
