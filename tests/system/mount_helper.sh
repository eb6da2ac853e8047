# tests/system/mount_helper.sh - `mount -t fuse.comfysecretsfs` and the fstab line, as
# systemd's mount unit runs them: mount(8) -> mount.fuse3 -> comfysecretsfs, found on
# the shell's default PATH (mount(8) clears PATH). The whole script runs in a private
# mount namespace where a temporary `make install` is bound over /usr/local/sbin, so
# nothing outside the test's folders is touched.
if [ -z "${CS_SYS_NS:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	CS_SYS_NS=1 exec unshare -m --propagation private sh "$0"
fi
. tests/lib.sh
. tests/system/syslib

N="mount -t fuse.comfysecretsfs"
if [ -z "${CS_SYS_NS:-}" ]; then
	need_root "$N" && skip "$N" "unshare -m is not permitted here"
	done_testing
fi
need_fs "$N" || done_testing
need_cmd "$N" mount.fuse3 || done_testing

D=$T/root
if ! sys_install "$D"; then
	notok "make install DESTDIR" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
	done_testing
fi
mount --bind "$D/usr/local/sbin" /usr/local/sbin || { notok "bind the install over /usr/local/sbin"; done_testing; }

cs_init
printf 'helper-value' | csc set demo token >/dev/null || notok "comfysecrets set"
# The key lives elsewhere than the config says: only -o key_file= can find it.
mkdir -p "$T/k" && mv "$CSD/key" "$T/k/key"
mkdir -p "$T/mnt"
daemon_pid() { pgrep -f "comfysecretsfs .*$T/mnt" | head -n 1; }

# 1. The command line a .mount unit runs.
if mount -t fuse.comfysecretsfs "$CSD/vault.json" "$T/mnt" \
    -o "config=$CSD/cs.ini,key_file=$T/k/key,allow_other,nodev,nosuid,noexec" >"$T/m.out" 2>&1; then
	ok "$N VAULT DIR -o config=,key_file=,... mounts"
	check "mounted as fuse.comfysecretsfs" test "$(fstype_of "$T/mnt")" = fuse.comfysecretsfs
	opts=$(awk -v d="$T/mnt" '$5 == d { print $6 }' /proc/self/mountinfo)
	case ",$opts," in
	*,nosuid,*nodev,*noexec,*) ok "mounted nosuid,nodev,noexec ($opts)";;
	*) notok "mounted nosuid,nodev,noexec" "got $opts";;
	esac
	check "cat through the helper mount gives the value" test "$(cat "$T/mnt/demo/token")" = helper-value
	pid=$(daemon_pid)
	if umount "$T/mnt" 2>"$T/u.out"; then
		ok "umount DIR unmounts"
		check "not mounted any more" test -z "$(fstype_of "$T/mnt")"
		i=0; while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		check "the daemon exits after umount" sh -c "[ -n '$pid' ] && ! kill -0 '$pid' 2>/dev/null"
	else
		notok "umount DIR unmounts" "$(cat "$T/u.out")"
	fi
else
	notok "$N VAULT DIR -o config=,key_file=,... mounts" "$(tail -n 3 "$T/m.out" | tr '\n' ' ')"
fi

# 2. A bad key: mount(8) fails with the daemon's error, and nothing is mounted.
head -c 32 /dev/urandom | base64 >"$T/k/wrong"; chmod 0600 "$T/k/wrong"
if mount -t fuse.comfysecretsfs "$CSD/vault.json" "$T/mnt" \
    -o "config=$CSD/cs.ini,key_file=$T/k/wrong,allow_other,nodev,nosuid" >"$T/bad.out" 2>&1; then
	notok "a wrong key: mount fails" "it mounted"; umount "$T/mnt" 2>/dev/null
else
	check "a wrong key: mount fails, nothing mounted, the error reaches mount's caller" \
		sh -c "test -z \"\$(awk -v d='$T/mnt' '\$5 == d' /proc/self/mountinfo)\" && test -s '$T/bad.out'"
fi

# 3. The fstab example's line, with this test's paths: `mount DIR` reads it from fstab.
sed -n '/^\/var\/lib\/comfysecrets/p' "$D/usr/local/share/doc/comfysecrets/fstab.example" |
	sed "s|/var/lib/comfysecrets/vault.json|$CSD/vault.json|; s|/run/comfysecrets|$T/mnt|;
	     s|config=/etc/comfysecrets/comfysecrets.ini|config=$CSD/cs.ini,key_file=$T/k/key|;
	     s|/var/log/comfysecrets|$CSD|" >"$T/fstab"
if [ -s "$T/fstab" ] && mount --fstab "$T/fstab" "$T/mnt" >"$T/f.out" 2>&1; then
	ok "the fstab.example line mounts (mount --fstab FILE DIR; x-systemd.* and nofail dropped)"
	check "cat through the fstab mount gives the value" test "$(cat "$T/mnt/demo/token")" = helper-value
	check "umount of the fstab mount" umount "$T/mnt"
else
	notok "the fstab.example line mounts" "$(tail -n 3 "$T/f.out" | tr '\n' ' ')"
fi

# 3b. After a crash: the unit's and the fstab line's auto_unmount removes the mount when
#     the daemon is SIGKILLed, so mounting again just works; without it the daemon names
#     the dead mount and the fix instead of mounting on top of it.
dpid() {	# the daemon itself, not fusermount3 (whose arguments name it too)
	for p in $(pgrep -f "comfysecretsfs .*$T/mnt"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = comfysecretsfs ] && echo "$p"
	done | head -n 1
}
hopts="config=$CSD/cs.ini,key_file=$T/k/key,allow_other,nodev,nosuid,noexec"
if mount -t fuse.comfysecretsfs "$CSD/vault.json" "$T/mnt" -o "$hopts,auto_unmount" \
    >"$T/k1.out" 2>&1 && wait_mounted "$T/mnt"; then
	kill -KILL "$(dpid)"
	check "auto_unmount: a SIGKILLed daemon's mount goes away" wait_unmounted "$T/mnt" 5
	if mount -t fuse.comfysecretsfs "$CSD/vault.json" "$T/mnt" -o "$hopts,auto_unmount" \
	    >"$T/k2.out" 2>&1 && wait_mounted "$T/mnt"; then
		check "auto_unmount: mounting again serves" test "$(cat "$T/mnt/demo/token")" = helper-value
		kill -KILL "$(dpid)"; wait_unmounted "$T/mnt" 5
	else
		notok "auto_unmount: mounting again serves" "$(tail -n 3 "$T/k2.out" | tr '\n' ' ')"
	fi
else
	notok "auto_unmount: mounts" "$(tail -n 3 "$T/k1.out" | tr '\n' ' ')"
fi
if mount -t fuse.comfysecretsfs "$CSD/vault.json" "$T/mnt" -o "$hopts" >"$T/k3.out" 2>&1 &&
    wait_mounted "$T/mnt"; then
	kill -KILL "$(dpid)"
	mount -t fuse.comfysecretsfs "$CSD/vault.json" "$T/mnt" -o "$hopts" >"$T/k4.out" 2>&1
	check "without auto_unmount: mounting on the dead mount fails naming it and the fix" \
		sh -c "grep -q 'a dead FUSE mount is in the way' $T/k4.out && grep -q 'fusermount3 -uz' $T/k4.out"
	check "... and mounts nothing on top" \
		test "$(awk -v d="$T/mnt" '$5 == d' /proc/self/mountinfo | wc -l)" -eq 1
	umount -l "$T/mnt"
else
	notok "a plain helper mount for the crash check" "$(tail -n 3 "$T/k3.out" | tr '\n' ' ')"
fi

# 4. mount.fuse3's drop_privileges: mount first, then run the daemon on /dev/fd/N with
#    no capabilities at all.
if mount -t fuse.comfysecretsfs "$CSD/vault.json" "$T/mnt" \
    -o "drop_privileges,config=$CSD/cs.ini,key_file=$T/k/key,allow_other,nodev,nosuid" >"$T/d.out" 2>&1 &&
    wait_mounted "$T/mnt"; then
	ok "drop_privileges: mounts"
	check "drop_privileges: cat gives the value" test "$(cat "$T/mnt/demo/token")" = helper-value
	pid=$(pgrep -f 'comfysecretsfs .*/dev/fd/' | head -n 1)
	capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
	check "drop_privileges: the daemon has no capability (CapEff $capeff)" test "$capeff" = 0000000000000000
	check "drop_privileges: umount" umount "$T/mnt"
else
	notok "drop_privileges: mounts" "$(tail -n 3 "$T/d.out" | tr '\n' ' ')"
fi

done_testing
