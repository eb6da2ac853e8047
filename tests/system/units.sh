# tests/system/units.sh - the systemd units, the tmpfiles entry and the fstab example,
# checked with systemd's own tools on the files `make install` writes.
. tests/lib.sh
. tests/system/syslib

D=$T/root
UNITDIR=$D/usr/local/lib/systemd/system
export MANPATH="$D/usr/local/share/man"	# Documentation=man:... must resolve

if ! sys_install "$D"; then
	notok "make install DESTDIR" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
	done_testing
fi
SVC=$UNITDIR/comfysecrets.service
MNT=$UNITDIR/run-comfysecrets.mount

# Options that put a unit in a mount namespace of its own: a FUSE mount made there never
# reaches the host (systemd.exec(5), PrivateMounts=). The units must not use them.
NS_OPTS='ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths|TemporaryFileSystem|BindPaths|BindReadOnlyPaths|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectProc|ProcSubset|PrivateIPC|MountFlags|RootDirectory|RuntimeDirectory|StateDirectory|LogsDirectory|DynamicUser'
for u in "$SVC" "$MNT"; do
	n=$(basename "$u")
	bad=$(grep -E "^[[:space:]]*($NS_OPTS)=" "$u" | tr '\n' ' ')
	if [ -z "$bad" ]; then ok "$n: no option that would hide the mount in a private namespace"
	else notok "$n: no option that would hide the mount in a private namespace" "$bad"; fi
done

check "comfysecrets.service: Type=notify, ExecReload sends SIGHUP" \
	sh -c "grep -qx 'Type=notify' '$SVC' && grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' '$SVC'"
check "comfysecrets.service: ExecStart runs /usr/local/sbin/comfysecretsfs -f with allow_other" \
	grep -q '^ExecStart=/usr/local/sbin/comfysecretsfs -f -o allow_other,nodev,nosuid,noexec,' "$SVC"
check_fails "comfysecrets.service: no @SBINDIR@ left" grep -q '@SBINDIR@' "$SVC"
WATCH=$UNITDIR/comfysecrets-watch@.service
check "comfysecrets-watch@.service: Type=notify, runs /usr/local/bin/comfysecrets watch" \
	sh -c "grep -qx 'Type=notify' '$WATCH' &&
	    grep -qx 'ExecStart=/usr/local/bin/comfysecrets watch \$WATCH -- \$COMMAND' '$WATCH'"
FLEET=$UNITDIR/comfysecrets-fleet.service
check "comfysecrets-fleet.service: Type=notify, runs /usr/local/bin/comfysecrets fleet follow" \
	sh -c "grep -qx 'Type=notify' '$FLEET' &&
	    grep -qx 'ExecStart=/usr/local/bin/comfysecrets fleet follow' '$FLEET'"

if need_cmd "systemd-analyze verify" systemd-analyze; then
	# verify wants ExecStart's binary to exist: point a copy at the installed one.
	mkdir -p "$T/verify"
	if [ -x "$D/usr/local/sbin/comfysecretsfs" ]; then
		sed "s|/usr/local/sbin/comfysecretsfs|$D/usr/local/sbin/comfysecretsfs|" "$SVC" \
		    >"$T/verify/comfysecrets.service"
		check "systemd-analyze verify comfysecrets.service" \
			systemd-analyze verify "$T/verify/comfysecrets.service"
	else
		skip "systemd-analyze verify comfysecrets.service" \
		    "$CSFS does not exist yet, so make install put no comfysecretsfs to point at"
	fi
	check "systemd-analyze verify run-comfysecrets.mount" systemd-analyze verify "$MNT"
	# An instance, its environment file and the binary under $D.
	mkdir -p "$T/verify/conf"
	printf 'WATCH=app/token\nCOMMAND=/bin/true\n' >"$T/verify/conf/t.conf"
	sed -e "s|/usr/local/bin/comfysecrets|$D/usr/local/bin/comfysecrets|" \
	    -e "s|/etc/comfysecrets/watch/%i.conf|$T/verify/conf/%i.conf|" "$WATCH" \
	    >"$T/verify/comfysecrets-watch@t.service"
	check "systemd-analyze verify comfysecrets-watch@t.service" \
		systemd-analyze verify "$T/verify/comfysecrets-watch@t.service"
	sed "s|/usr/local/bin/comfysecrets|$D/usr/local/bin/comfysecrets|" "$FLEET" \
	    >"$T/verify/comfysecrets-fleet.service"
	check "systemd-analyze verify comfysecrets-fleet.service" \
		systemd-analyze verify "$T/verify/comfysecrets-fleet.service"

	# The fstab example, turned into a unit by systemd's own generator.
	gen=/lib/systemd/system-generators/systemd-fstab-generator
	if [ -x "$gen" ]; then
		mkdir -p "$T/gen"
		if SYSTEMD_FSTAB="$D/usr/local/share/doc/comfysecrets/fstab.example" \
		    "$gen" "$T/gen" "$T/gen" "$T/gen" >"$T/gen.log" 2>&1 &&
		    [ -f "$T/gen/run-comfysecrets.mount" ]; then
			ok "fstab.example: systemd-fstab-generator makes run-comfysecrets.mount"
			check "fstab.example: the generated unit passes systemd-analyze verify" \
				systemd-analyze verify --man=no "$T/gen/run-comfysecrets.mount"
		else
			notok "fstab.example: systemd-fstab-generator makes run-comfysecrets.mount" \
			    "$(tail -n 3 "$T/gen.log" | tr '\n' ' ')"
		fi
	else
		skip "fstab.example: systemd-fstab-generator" "$gen is missing"
	fi

	# The exposure score. Everything that hardens without a mount namespace is on; the
	# rest would hide the mount (see above), so this is the floor: keep it there.
	if systemd-analyze security --offline=yes "$SVC" >"$T/sec.out" 2>&1; then
		score=$(sed -n 's/.*Overall exposure level for comfysecrets.service: \([0-9.]*\).*/\1/p' "$T/sec.out")
		if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
			ok "systemd-analyze security comfysecrets.service: exposure $score (at most 3.0)"
		else
			notok "systemd-analyze security comfysecrets.service: exposure at most 3.0" "got '$score'"
		fi
		# The watch unit needs no mount namespace: it can take everything but what a
		# reload command needs (AF_UNIX to systemd, root's uid for the key).
		if systemd-analyze security --offline=yes "$T/verify/comfysecrets-watch@t.service" \
		    >"$T/secw.out" 2>&1; then
			score=$(sed -n 's/.*Overall exposure level for comfysecrets-watch@t.service: \([0-9.]*\).*/\1/p' "$T/secw.out")
			if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
				ok "systemd-analyze security comfysecrets-watch@.service: exposure $score (at most 2.5)"
			else
				notok "systemd-analyze security comfysecrets-watch@.service: exposure at most 2.5" "got '$score'"
			fi
		fi
	else
		skip "systemd-analyze security" "--offline is not supported here (systemd < 252)"
	fi
fi

if need_root "tmpfiles.d entry" && need_cmd "tmpfiles.d entry" systemd-tmpfiles; then
	if systemd-tmpfiles --root="$T/tf" --create "$D/usr/local/lib/tmpfiles.d/comfysecrets.conf" \
	    >"$T/tf.log" 2>&1; then
		modes=$(for p in etc/comfysecrets var/lib/comfysecrets var/log/comfysecrets run/comfysecrets; do
			stat -c '%a' "$T/tf/$p"; done | tr '\n' ' ')
		if [ "$modes" = "700 700 700 755 " ]; then
			ok "tmpfiles.d: key, vault and log folders 0700, mount point 0755"
		else
			notok "tmpfiles.d: key, vault and log folders 0700, mount point 0755" "got $modes"
		fi
		# A key file someone loosened is tightened again.
		printf 'k\n' >"$T/tf/etc/comfysecrets/key"; chmod 0644 "$T/tf/etc/comfysecrets/key"
		systemd-tmpfiles --root="$T/tf" --create "$D/usr/local/lib/tmpfiles.d/comfysecrets.conf" \
		    >/dev/null 2>&1
		check "tmpfiles.d: a loosened key file goes back to 0600" \
			test "$(stat -c '%a' "$T/tf/etc/comfysecrets/key")" = 600
	else
		notok "tmpfiles.d: systemd-tmpfiles --create" "$(tail -n 3 "$T/tf.log" | tr '\n' ' ')"
	fi
fi

if need_cmd "fstab.example parses" findmnt; then
	findmnt --verify --tab-file "$TOP/systemd/fstab.example" >"$T/fm.out" 2>&1
	check "fstab.example: findmnt --verify finds 0 parse errors" grep -q '^0 parse errors' "$T/fm.out"
fi

# Why the units avoid those options, shown with the kernel's own rules: systemd makes
# every mount in a unit's namespace a slave, then shared; a mount made after that does
# not reach the host, while one made in a namespace that stayed shared does.
if need_root "mount propagation: slave-then-shared keeps mounts from the host" &&
    need_cmd "mount propagation: slave-then-shared keeps mounts from the host" unshare; then
	mkdir -p "$T/prop/a" "$T/prop/b"
	if mount --bind "$T/prop" "$T/prop" && mount --make-shared "$T/prop"; then
		unshare -m --propagation unchanged sh -c "mount -t tmpfs cs-a '$T/prop/a'"
		unshare -m --propagation unchanged sh -c "mount --make-rslave / &&
			mount --make-rshared / && mount -t tmpfs cs-b '$T/prop/b'"
		check "mount propagation: a shared namespace's mount reaches the host" \
			test "$(fstype_of "$T/prop/a")" = tmpfs
		check "mount propagation: slave-then-shared (systemd's sandbox) keeps it from the host" \
			test -z "$(fstype_of "$T/prop/b")"
	else
		skip "mount propagation" "cannot make a shared bind mount here"
	fi
fi

done_testing
