# tests/system/systemd_boot.sh - the units under a real systemd. systemd runs as PID 1 of
# private pid, mount, network, UTS and IPC namespaces (its "host" is that mount
# namespace) and starts copies of the installed units with this test's paths:
# - comfysecrets.service becomes ready (Type=notify), its mount is seen from PID 1's
#   namespace (where every other process lives), it runs with CAP_SYS_ADMIN only,
#   no new privileges and a seccomp filter, reloads, comes back after a crash (the dead
#   mount removed by ExecStopPost=), and stop unmounts;
# - the same unit plus ProtectSystem=strict also starts "fine", but its mount stays in
#   the service's own namespace: the pitfall the units avoid, shown for real;
# - run-comfysecrets.mount mounts through mount(8) and mount.fuse3 and unmounts on stop.
# If systemd itself cannot come up here (no usable cgroups, say), the checks say SKIPPED.
. tests/lib.sh
. tests/system/syslib

N="systemd as PID 1 in a namespace"
need_fs "$N" || done_testing
need_cmd "$N" unshare nsenter /lib/systemd/systemd || done_testing

D=$T/root
if ! sys_install "$D"; then
	notok "make install DESTDIR" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
	done_testing
fi
cs_init
printf 'from-systemd' | csc set sd token >/dev/null || notok "comfysecrets set"
chmod 0755 "$T"

U=$T/units
mkdir -p "$U"
paths() {
	sed "s|/usr/local/sbin/comfysecretsfs|$D/usr/local/sbin/comfysecretsfs|;
	     s|config=/etc/comfysecrets/comfysecrets.ini|config=$CSD/cs.ini|;
	     s|/var/lib/comfysecrets/vault.json|$CSD/vault.json|;
	     s|^RequiresMountsFor=.*|RequiresMountsFor=$CSD|"
}
# DefaultDependencies=no: nothing of the machine's own boot is pulled in.
paths <"$D/usr/local/lib/systemd/system/comfysecrets.service" |
	sed '/^\[Unit\]/a DefaultDependencies=no' >"$U/comfysecrets.service"
sed "s|/run/comfysecrets|/run/cs-ns|g; s|^Description=.*|Description=comfysecrets with ProtectSystem=strict|;
     /^\[Service\]/a ProtectSystem=strict\\
ProtectHome=yes\\
ReadWritePaths=$CSD -/run/cs-ns" "$U/comfysecrets.service" >"$U/cs-ns.service"
paths <"$D/usr/local/lib/systemd/system/run-comfysecrets.mount" |
	sed 's|^Where=.*|Where=/run/csmnt|' >"$U/run-csmnt.mount"
printf '[Unit]\nDescription=comfysecrets test\nDefaultDependencies=no\nWants=comfysecrets.service cs-ns.service\n' \
	>"$U/cs-test.target"

cat >"$T/boot.sh" <<EOF
mount -t tmpfs -o mode=0755 cs-run /run || exit 1
mkdir -p /run/systemd/system /run/cs-ns && cp $U/* /run/systemd/system/ || exit 1
mount --bind $D/usr/local/sbin /usr/local/sbin || exit 1
exec /lib/systemd/systemd --system --unit=cs-test.target --log-target=console --show-status=no
EOF
unshare --pid --fork --mount --net --uts --ipc --mount-proc --propagation private \
	sh "$T/boot.sh" >"$T/pid1.log" 2>&1 &
UPID=$!
at_exit "kill -9 \$(pgrep -P $UPID) $UPID 2>/dev/null"
P1=""
i=0; while [ -z "$P1" ] && [ $i -lt 300 ]; do sleep 0.1; P1=$(pgrep -P "$UPID"); i=$((i + 1)); done
in1() { nsenter -t "$P1" -m -p -- "$@"; }
state=""
i=0
while [ -n "$P1" ] && [ $i -lt 300 ]; do
	state=$(in1 systemctl is-system-running 2>/dev/null)
	case $state in running|degraded) break;; esac
	sleep 0.2; i=$((i + 1))
done
case $state in
running|degraded) ;;
*)	skip "$N" "systemd did not come up here (state '$state'): $(tail -n 2 "$T/pid1.log" | tr '\n' ' ')"
	done_testing;;
esac
ok "$N: systemd 252 boots cs-test.target ($state)"

# comfysecrets.service
wait_active() { # UNIT: active within 60 s
	_i=0
	while [ "$(in1 systemctl is-active "$1" 2>/dev/null)" != active ] && [ $_i -lt 300 ]; do
		sleep 0.2; _i=$((_i + 1)); done
	[ "$(in1 systemctl is-active "$1" 2>/dev/null)" = active ]
}
if wait_active comfysecrets.service; then
	ok "comfysecrets.service: active (Type=notify: READY=1 reached systemd)"
else
	notok "comfysecrets.service: active" "$(in1 systemctl status comfysecrets.service --no-pager 2>&1 | tail -n 5 | tr '\n' ' ')"
	done_testing
fi
check "comfysecrets.service: its mount is seen from PID 1's namespace, and serves" \
	test "$(in1 cat /run/comfysecrets/sd/token)" = from-systemd
opts=$(in1 findmnt -no OPTIONS /run/comfysecrets)
case ",$opts," in
*,nosuid,*nodev,*noexec,*default_permissions,allow_other,*) ok "comfysecrets.service: mounted nosuid,nodev,noexec,default_permissions,allow_other";;
*) notok "comfysecrets.service: mounted nosuid,nodev,noexec,default_permissions,allow_other" "got $opts";;
esac
mp=$(in1 systemctl show -p MainPID --value comfysecrets.service)
st=$(in1 cat "/proc/$mp/status" 2>/dev/null)
check "comfysecrets.service: CAP_SYS_ADMIN only, no new privileges, seccomp on" \
	sh -c "echo '$st' | grep -q '^CapEff:.0000000000200000' && echo '$st' | grep -q '^NoNewPrivs:.1' &&
	    echo '$st' | grep -q '^Seccomp:.2'"
check "comfysecrets.service: systemctl reload" sh -c "nsenter -t $P1 -m -p -- systemctl reload comfysecrets.service &&
	test \"\$(nsenter -t $P1 -m -p -- systemctl is-active comfysecrets.service)\" = active"

in1 kill -9 "$mp"
i=0; new=$mp
while [ $i -lt 300 ]; do
	new=$(in1 systemctl show -p MainPID --value comfysecrets.service)
	[ "$new" != "$mp" ] && [ "$new" != 0 ] && [ "$(in1 cat /run/comfysecrets/sd/token 2>/dev/null)" = from-systemd ] && break
	sleep 0.2; i=$((i + 1))
done
check "comfysecrets.service: after SIGKILL, restarted (dead mount removed) and serving" \
	sh -c "[ '$new' != '$mp' ] && [ \"\$(nsenter -t $P1 -m -p -- cat /run/comfysecrets/sd/token)\" = from-systemd ] &&
	    [ \"\$(nsenter -t $P1 -m -p -- findmnt -n /run/comfysecrets | wc -l)\" -eq 1 ]"
in1 systemctl stop comfysecrets.service
check "comfysecrets.service: stop unmounts" test -z "$(in1 findmnt -no FSTYPE /run/comfysecrets)"

# The same unit with ProtectSystem=strict: up and "active", but its mount is its own.
if wait_active cs-ns.service; then
	nsmp=$(in1 systemctl show -p MainPID --value cs-ns.service)
	check "with ProtectSystem=strict the service is active, yet PID 1's namespace sees no mount" \
		test -z "$(in1 findmnt -no FSTYPE /run/cs-ns)"
	check "with ProtectSystem=strict the mount exists only inside the service's namespace" \
		sh -c "nsenter -t $P1 -m -p -- nsenter -t $nsmp -m -- findmnt -no FSTYPE /run/cs-ns | grep -qx fuse.comfysecretsfs"
	in1 systemctl stop cs-ns.service
else
	notok "the ProtectSystem=strict variant starts" "$(in1 systemctl status cs-ns.service --no-pager 2>&1 | tail -n 3 | tr '\n' ' ')"
fi

# run-comfysecrets.mount, through mount(8) and mount.fuse3.
if in1 systemctl start run-csmnt.mount >"$T/mnt.out" 2>&1; then
	ok "run-comfysecrets.mount: systemctl start mounts"
	check "run-comfysecrets.mount: serves" test "$(in1 cat /run/csmnt/sd/token)" = from-systemd
	dp=$(in1 pgrep -f '^comfysecretsfs ' | head -n 1)
	check "run-comfysecrets.mount: the daemon runs with CAP_SYS_ADMIN only and no new privileges" \
		sh -c "nsenter -t $P1 -m -p -- grep -q '^CapEff:.0000000000200000' /proc/$dp/status &&
		    nsenter -t $P1 -m -p -- grep -q '^NoNewPrivs:.1' /proc/$dp/status"
	in1 systemctl stop run-csmnt.mount
	i=0; while in1 pgrep -f '^comfysecretsfs ' >/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	check "run-comfysecrets.mount: stop unmounts and the daemon exits" \
		sh -c "test -z \"\$(nsenter -t $P1 -m -p -- findmnt -no FSTYPE /run/csmnt)\" &&
		    ! nsenter -t $P1 -m -p -- pgrep -f '^comfysecretsfs ' >/dev/null"
else
	notok "run-comfysecrets.mount: systemctl start mounts" "$(tail -n 3 "$T/mnt.out" | tr '\n' ' ')"
fi

done_testing
