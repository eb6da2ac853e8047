#!/bin/sh
# Who may read: allow_other always brings default_permissions, so the kernel checks
# modes for every user; another uid without access gets EACCES, one let in by the
# config's [provider.NAME] group reads and is audited under its own ids. Without
# allow_other, other users are kept out altogether. A read-only bind mount of the tree
# in a private mount namespace (as a container gets it) can be read and not written.
. tests/lib.sh
fs_require fs_perm
if ! command -v setpriv >/dev/null 2>&1; then skip fs_perm "setpriv (util-linux) is missing"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then skip fs_perm "needs root to switch to another uid"; exit 0; fi
cs_init
SEED='sk-canary-perm-0d93'
printf '%s' "$SEED" | csc set runpod api_key
printf 'shared-value' | csc set shared token
cat >>"$CSD/cs.ini" <<EOF2
[provider.shared]
group = 65534
mode = 0440
EOF2
M=$T/mnt
chmod 0755 "$T"		# let uid 65534 reach the mount point
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

if ! csfs_start "$M" -o allow_other; then notok "mounts with allow_other" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
opts=$(awk -v m="$M" '$2 == m { print $4 }' /proc/mounts)
check "allow_other alone brings default_permissions (mount options: $opts)" \
	sh -c "echo '$opts' | grep -q default_permissions && echo '$opts' | grep -q allow_other"
n0=$(grep -c '"secret_read"' "$CSD/audit.log")
nobody cat "$M/runpod/api_key" >"$T/out" 2>&1
rc=$?
check "another uid without access cannot read (status $rc)" [ "$rc" -ne 0 ]
check "... it gets EACCES" grep -q 'Permission denied' "$T/out"
check "... and not the value" sh -c "! grep -q '$SEED' $T/out"
check "another uid cannot list a provider it has no access to" \
	sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups ls $M/runpod 2>&1 | grep -q 'Permission denied'"
check "the root of the tree can be listed by anyone (names are not secret)" \
	sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups ls $M | grep -qx shared"
check "a uid refused by the kernel leaves no secret_read line" [ "$n0" -eq "$(grep -c '"secret_read"' "$CSD/audit.log")" ]
check "a member of the provider's group reads its value" \
	sh -c "[ \"\$(setpriv --reuid=65534 --regid=65534 --clear-groups cat $M/shared/token)\" = shared-value ]"
check "... and is audited under its own uid and gid" \
	sh -c "grep '\"secret_read\"' $CSD/audit.log | grep '\"provider\":\"shared\"' | grep -q '\"uid\":65534,\"gid\":65534'"
nobody sh -c "echo x > $M/shared/token" >"$T/out" 2>&1
check "... but cannot write it" [ $? -ne 0 ]
check "root still reads everything" sh -c "[ \"\$(cat $M/runpod/api_key)\" = '$SEED' ]"
csfs_stop "$M"

if csfs_start "$M"; then
	nobody cat "$M/shared/token" >"$T/out" 2>&1
	rc=$?
	check "without allow_other another uid is kept out (status $rc)" [ "$rc" -ne 0 ]
	check "... with EACCES" grep -q 'Permission denied' "$T/out"

	# A private mount namespace with a read-only bind mount, as a container gets it.
	if ns_usable; then
		ro_bind_run "$M" "$T/ro" "
			cat '$T/ro/runpod/api_key' >'$T/ns.read' 2>&1 || exit 1
			echo x 2>'$T/ns.write' >'$T/ro/runpod/api_key' && exit 2
			mkdir '$T/ro/newdir' 2>>'$T/ns.write' && exit 3
			awk '\$2 == \"$T/ro\" { print \$4 }' /proc/mounts >'$T/ns.opts'
			exit 0"
		rc=$?
		check "the read-only bind mount can be made in a private namespace (status $rc)" [ "$rc" -ne 9 ]
		check "... it can be read" sh -c "[ \"\$(cat $T/ns.read)\" = '$SEED' ]"
		check "... it cannot be written" sh -c "[ $rc -eq 0 ] && grep -q 'Read-only file system' $T/ns.write"
		check "... it is mounted ro there" grep -q '^ro' "$T/ns.opts"
		check "... and invisible outside the namespace" sh -c "! awk '\$2 == \"$T/ro\"' /proc/mounts | grep -q ."
	else
		skip "a read-only bind mount in a private mount namespace" "unshare -m is not permitted here"
	fi
	csfs_stop "$M"
else
	notok "mounts without allow_other"
fi
done_testing
