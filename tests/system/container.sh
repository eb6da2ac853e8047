# tests/system/container.sh - a bubblewrap container, hardened as docs/deploy.md says:
# a non-root uid (65534) with no capabilities, a read-only root, a tmpfs /tmp and the
# tree bound read-only at /run/secrets. It can cat its own secret, not another
# provider's, cannot write anywhere but /tmp, and its read is audited with its uid.
. tests/lib.sh
. tests/system/syslib

N="bubblewrap container"
need_fs "$N" || done_testing
need_cmd "$N" bwrap setpriv || done_testing

# bwrap runs as uid 65534 itself (setpriv), so the uid the daemon sees is 65534 and not
# root mapped into a user namespace; that needs unprivileged user namespaces.
as_nobody() {
	setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all \
	    --no-new-privs -- "$@"
}
if ! as_nobody bwrap --ro-bind / / --unshare-user --cap-drop ALL -- true >"$T/bw.out" 2>&1; then
	skip "$N" "bwrap cannot create a user namespace as uid 65534: $(head -n 1 "$T/bw.out")"
	done_testing
fi

cs_init
cat >>"$CSD/cs.ini" <<EOF
[provider.app]
owner = 65534
mode = 0400
EOF
printf 'app-secret-value' | csc set app token >/dev/null || notok "comfysecrets set app token"
printf 'someone-elses' | csc set other token >/dev/null || notok "comfysecrets set other token"

# uid 65534 must reach the mount point to bind it: open up the test folder's search bit.
chmod 0711 "$T"
mkdir -p "$T/mnt"
if ! "$CSFS" -o "allow_other,config=$CSD/cs.ini" "$CSD/vault.json" "$T/mnt" >"$T/fs.out" 2>&1 ||
    ! wait_mounted "$T/mnt"; then
	notok "mount the tree with allow_other" "$(tail -n 3 "$T/fs.out" | tr '\n' ' ')"
	done_testing
fi
ok "mount the tree with allow_other"

# One sandbox run; each line of its output is "name rc [text]".
as_nobody bwrap \
	--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /run \
	--ro-bind "$T/mnt" /run/secrets \
	--unshare-all --new-session --die-with-parent --cap-drop ALL \
	--chdir / \
	-- sh -c '
	r() { n=$1; shift; out=$("$@" 2>/dev/null); echo "$n $? $out"; }
	r uid id -u
	r capeff sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status
	r cat cat /run/secrets/app/token
	r other cat /run/secrets/other/token
	r write sh -c "echo x >/run/secrets/app/token"
	r create sh -c "echo x >/run/secrets/app/new"
	r mkdir mkdir /run/secrets/newdir
	r rm rm -f /run/secrets/app/token
	r mv mv /run/secrets/app/token /run/secrets/app/moved
	r chmod chmod 0444 /run/secrets/app/token
	r root touch /etc/cs-container-test
	r usr touch /usr/cs-container-test
	r tmp sh -c "echo x >/tmp/scratch"
	' >"$T/box.out" 2>"$T/box.err"
field() { awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); print; exit }' "$T/box.out"; }

check "container: runs as uid 65534" test "$(field uid)" = "0 65534"
check "container: no effective capability" test "$(field capeff)" = "0 0000000000000000"
check "container: cat /run/secrets/app/token gives its secret" test "$(field cat)" = "0 app-secret-value"
check "container: cannot read another provider's secret" test "$(field other | cut -d' ' -f1)" != 0
for w in write create mkdir rm mv chmod; do
	check "container: $w in /run/secrets fails" test "$(field "$w" | cut -d' ' -f1)" != 0
done
check "container: the root file system is read-only (/etc, /usr)" \
	sh -c "test \"\$(echo '$(field root)' | cut -d' ' -f1)\" != 0 && test \"\$(echo '$(field usr)' | cut -d' ' -f1)\" != 0"
check "container: /tmp is writable (tmpfs)" test "$(field tmp)" = 0
check "the host's vault still holds the value" test "$(csc get app token)" = app-secret-value

# The container's read, in the audit log, with its uid; no value anywhere in the log.
if grep '"event":"secret_read"' "$CSD/audit.log" | grep '"provider":"app"' | grep '"via":"fs"' |
    grep '"uid":65534' | grep -q '"comm":"cat"'; then
	ok "audit: the container's read is a secret_read line with uid 65534 and comm cat"
else
	notok "audit: the container's read is a secret_read line with uid 65534 and comm cat" \
	    "$(grep secret_read "$CSD/audit.log" | tail -n 2 | tr '\n' ' ')"
fi
check_fails "audit: no value in the log" grep -q -e app-secret-value -e someone-elses "$CSD/audit.log"

umount "$T/mnt" 2>/dev/null
done_testing
