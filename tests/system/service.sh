# tests/system/service.sh - comfysecrets.service's command lines, run as systemd would run
# them (without systemd): ExecStart= from the installed unit with this test's paths, with
# only the capabilities the unit keeps (CAP_SYS_ADMIN), no new privileges, umask 077 and
# no core; READY=1 on $NOTIFY_SOCKET from the main pid (Type=notify, NotifyAccess=main);
# ExecReload= (SIGHUP); SIGTERM unmounts; ExecStopPost= clears a dead mount so that
# Restart= works; and every system call the daemon makes is one SystemCallFilter= allows.
. tests/lib.sh
. tests/system/syslib

N="comfysecrets.service command lines"
need_fs "$N" || done_testing
need_cmd "$N" setpriv || done_testing

D=$T/root
if ! sys_install "$D"; then
	notok "make install DESTDIR" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
	done_testing
fi
UNIT=$D/usr/local/lib/systemd/system/comfysecrets.service
cs_init
printf 'v1' | csc set svc token >/dev/null || notok "comfysecrets set"
mkdir -p "$T/mnt"

# The unit's lines, with the default paths turned into this test's.
line() {
	sed -n "s/^$1=//p" "$UNIT" | sed "s|/usr/local/sbin/comfysecretsfs|$D/usr/local/sbin/comfysecretsfs|;
	    s|config=/etc/comfysecrets/comfysecrets.ini|config=$CSD/cs.ini|;
	    s|/var/lib/comfysecrets/vault.json|$CSD/vault.json|; s|/run/comfysecrets|$T/mnt|g"
}
START=$(line ExecStart)
STOPPOST=$(line ExecStopPost | sed 's/^-//')
case "$START" in "$D"/*" -f "*) ;; *) notok "ExecStart= found in the unit" "got '$START'"; done_testing;; esac

# A stand-in for systemd's notification socket: records each datagram and its sender.
listen() {
	command -v python3 >/dev/null 2>&1 || return 1
	python3 - "$1" "$2" <<'EOF' &
import socket, struct, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.settimeout(60)
end = time.time() + 60
with open(out, "w") as f:
    while time.time() < end:
        try:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            break
        pid = 0
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        f.write("pid=%d %s\n" % (pid, msg.decode(errors="replace").replace("\n", " ")))
        f.flush()
        if b"READY=1" in msg:
            break
EOF
	_i=0; while [ ! -S "$1" ] && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
}
run_start() {
	# shellcheck disable=SC2086
	( umask 077; ulimit -c 0
	  exec setpriv --bounding-set=-all,+sys_admin --inh-caps=-all --no-new-privs -- $START
	) >"$T/daemon.out" 2>&1 &
	PID=$!
}

have_listener=0
if listen "$T/notify" "$T/notify.out"; then have_listener=1; fi
NOTIFY_SOCKET=$T/notify; export NOTIFY_SOCKET
run_start
unset NOTIFY_SOCKET
if wait_mounted "$T/mnt" 30; then
	ok "ExecStart mounts with CapabilityBoundingSet=CAP_SYS_ADMIN and NoNewPrivileges"
else
	notok "ExecStart mounts with CapabilityBoundingSet=CAP_SYS_ADMIN and NoNewPrivileges" \
	    "$(tail -n 3 "$T/daemon.out" | tr '\n' ' ')"
	kill "$PID" 2>/dev/null; done_testing
fi
check "the service's mount serves the value" test "$(cat "$T/mnt/svc/token")" = v1
capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$PID/status")
check "the daemon holds CAP_SYS_ADMIN only (CapEff $capeff)" test "$capeff" = 0000000000200000

if [ "$have_listener" -eq 1 ]; then
	i=0; while ! grep -q 'READY=1' "$T/notify.out" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	if grep -q "^pid=$PID .*READY=1" "$T/notify.out"; then
		ok "Type=notify: READY=1 comes from the main pid once mounted"
	else
		notok "Type=notify: READY=1 comes from the main pid once mounted" \
		    "main pid $PID, got: $(tr '\n' ' ' <"$T/notify.out" 2>/dev/null)"
	fi
else
	skip "Type=notify: READY=1" "python3 is missing (it stands in for systemd's socket)"
fi

# ExecReload=/bin/kill -HUP $MAINPID
printf 'v2' | csc set svc token >/dev/null
kill -HUP "$PID"
i=0; while [ "$(cat "$T/mnt/svc/token" 2>/dev/null)" != v2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "ExecReload (SIGHUP): the daemon keeps running and serves the new value" \
	sh -c "kill -0 $PID && test \"\$(cat '$T/mnt/svc/token')\" = v2"

# systemctl stop: SIGTERM unmounts and exits 0.
kill -TERM "$PID"
wait "$PID"; rc=$?
check "SIGTERM: exit status 0" test "$rc" -eq 0
check "SIGTERM: unmounted" test -z "$(fstype_of "$T/mnt")"

# A crash leaves a dead mount; ExecStopPost= removes it, and Restart= mounts again.
run_start
if wait_mounted "$T/mnt" 30; then
	kill -KILL "$PID"; wait "$PID" 2>/dev/null
	check "after SIGKILL the mount is dead" sh -c "! ls '$T/mnt' >/dev/null 2>&1"
	# shellcheck disable=SC2086
	check "ExecStopPost ($STOPPOST) removes the dead mount" sh -c "$STOPPOST && test -z \"\$(awk -v d='$T/mnt' '\$5 == d' /proc/self/mountinfo)\""
	run_start
	if wait_mounted "$T/mnt" 30 && [ "$(cat "$T/mnt/svc/token")" = v2 ]; then
		ok "Restart: ExecStart mounts again and serves"
	else
		notok "Restart: ExecStart mounts again and serves" "$(tail -n 3 "$T/daemon.out" | tr '\n' ' ')"
	fi
	kill -TERM "$PID"; wait "$PID" 2>/dev/null
else
	notok "ExecStart mounts a second time" "$(tail -n 3 "$T/daemon.out" | tr '\n' ' ')"
fi

# SystemCallFilter=: every system call the daemon makes from start to SIGTERM (mount,
# reads, audit, reload, unmount) is in what the unit allows. Without systemd to apply
# the filter, strace lists the calls and systemd-analyze expands the unit's groups.
N="SystemCallFilter: the daemon's system calls are all allowed"
if need_cmd "$N" strace systemd-analyze; then
	expand() {
		for g in "$@"; do
			case $g in
			@*) systemd-analyze syscall-filter "$g" 2>/dev/null |
				sed -n 's/^    \([@a-z0-9_-]*\)$/\1/p' | while read -r x; do expand "$x"; done;;
			*) echo "$g";;
			esac
		done
	}
	allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$UNIT")
	deny=$(sed -n 's/^SystemCallFilter=~//p' "$UNIT")
	# shellcheck disable=SC2086
	expand $allow | sort -u >"$T/allow.txt"
	# shellcheck disable=SC2086
	expand $deny | sort -u >"$T/deny.txt"
	comm -23 "$T/allow.txt" "$T/deny.txt" >"$T/eff.txt"
	# shellcheck disable=SC2086
	strace -f -qq -o "$T/trace" $START >"$T/strace.out" 2>&1 &
	if wait_mounted "$T/mnt" 30; then
		dpid=$(pgrep -f "^$D/usr/local/sbin/comfysecretsfs -f" | head -n 1)
		cat "$T/mnt/svc/token" >/dev/null
		printf 'v3' | csc set svc token >/dev/null
		kill -HUP "$dpid"
		i=0; while [ "$(cat "$T/mnt/svc/token" 2>/dev/null)" != v3 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		cat "$T/mnt/svc/token" >/dev/null
		kill -TERM "$dpid"; wait_unmounted "$T/mnt" 30; wait
		awk '{ print $2 }' "$T/trace" | sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' | sort -u >"$T/used.txt"
		extra=$(comm -23 "$T/used.txt" "$T/eff.txt" | tr '\n' ' ')
		if [ -s "$T/used.txt" ] && [ -s "$T/eff.txt" ] && [ -z "$extra" ]; then
			ok "$N ($(wc -l <"$T/used.txt") distinct calls)"
		else
			notok "$N" "outside the filter: ${extra:-(nothing traced)}"
		fi
	else
		notok "$N" "the daemon did not mount under strace: $(tail -n 2 "$T/strace.out" | tr '\n' ' ')"
		pkill -f "^$D/usr/local/sbin/comfysecretsfs" 2>/dev/null
	fi
fi

done_testing
