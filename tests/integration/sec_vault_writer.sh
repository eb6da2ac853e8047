#!/bin/sh
# The vault's folder is handed to a user who is not root (useradd csrol...): they can
# replace the vault and anything else in that folder, but not read it or the key. As
# that user: put back an old vault holding a revoked value, delete and forge the old
# "vault.json.state", then put a forked vault of the served generation in place. The
# rollback floor is in state_dir, which only root can write, so root's `get` and `set`
# refuse with a message naming the floor, no `set` saves the old content again, and the
# daemon keeps serving the current value. A lost floor is an error until
# `comfysecrets floor --reset`.
. tests/lib.sh
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null 2>&1; then
	skip sec_vault_writer "needs root and useradd"; exit 0
fi
U=csrol$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
useradd -M -N -r -s /usr/sbin/nologin "$U" || { notok "useradd $U"; done_testing; }
at_exit "userdel $U"
chmod 0711 "$T"			# the user walks through to the vault's folder only
V=$T/vault			# the user's
K=$T/keys			# root's: key, config, floor, audit log
mkdir -p "$V" "$K"
cat >"$K/cs.ini" <<EOF2
[vault]
path = $V/vault.json
key_file = $K/key
state_dir = $K/floor
[audit]
path = $K/audit.log
flush = none
EOF2
cs() { "$CS" --config "$K/cs.ini" "$@"; }
as_user() { setpriv --reuid="$U" --regid=65534 --clear-groups sh -c "$1"; }
cs init >/dev/null
printf 'revoked' | cs set runpod api_key
cp -p "$V/vault.json" "$T/old.json"	# a backup the user got hold of
printf 'current' | cs set runpod api_key
chown "$U" "$V" "$T/old.json"

M=$T/mnt
mounted=0
if _why=$(fuse_usable); then
	mkdir -p "$M"
	"$CSFS" -f -o "config=$K/cs.ini" "$V/vault.json" "$M" 2>>"$T/csfs.err" &
	fspid=$!
	at_exit "kill $fspid"
	if wait_until 30 is_mounted "$M"; then mounted=1; else
		notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; fi
else
	skip "the daemon keeps serving the current value" "$_why"
fi
value_is() { [ "$(cat "$M/runpod/api_key" 2>/dev/null)" = "$1" ]; }
[ $mounted = 0 ] || check "the daemon serves the current value" value_is current

# 1. An old vault back in place, the old state file deleted, then forged.
as_user "cp $T/old.json $V/.new && mv -f $V/.new $V/vault.json && rm -f $V/vault.json.state"
check "the user could replace the vault" cmp -s "$T/old.json" "$V/vault.json"
cs get runpod api_key >"$T/out" 2>"$T/err"
rc=$?
check "root's get refuses the old vault (status 1)" [ "$rc" = 1 ]
check "... showing no value" sh -c "! grep -q revoked $T/out"
check "... saying rollback refused and naming the floor" \
	sh -c "grep -q 'rollback refused' $T/err && grep -q '$K/floor/' $T/err"
echo "# it said: $(cat "$T/err")"
printf 'x' | cs set other field 2>"$T/err"
check "root's set refuses it too (status 1)" [ $? = 1 ]
check "... and saves nothing: the old vault is still the one on disk" \
	cmp -s "$T/old.json" "$V/vault.json"
as_user "printf '{\"generation\": 1, \"audit_seq\": 0, \"audit_hash\": \"\", \"audit_path\": \"\"}' >$V/vault.json.state"
check_fails "a forged state file beside the vault changes nothing" cs get runpod api_key
if [ $mounted = 1 ]; then
	check "the daemon refuses the old vault (logged)" \
		wait_until 30 grep -q 'rollback refused' "$T/csfs.err"
	check "... and keeps serving the current value" value_is current
fi

# 2. A fork: a different vault of the generation served (made by root elsewhere, from the
# old copy, as a vault restored without its floor would have been), put in place.
mkdir -p "$T/fork" "$K/floor2"
chmod 0700 "$K/floor2"
cp "$T/old.json" "$T/fork/vault.json"
sed "s|^path = $V/vault.json|path = $T/fork/vault.json|; s|^state_dir = .*|state_dir = $K/floor2|" \
	"$K/cs.ini" >"$K/fork.ini"
"$CS" --config "$K/fork.ini" floor --reset >/dev/null
printf 'forked' | "$CS" --config "$K/fork.ini" set runpod api_key
gen_of() { sed -n 's/.*"generation": *\([0-9]*\).*/\1/p' "$1"; }
check "the fork has the floor's generation" \
	sh -c "cs() { $CS --config $K/cs.ini \"\$@\"; }; cs floor | grep -q 'floor generation $(gen_of "$T/fork/vault.json"),'"
chown "$U" "$T/fork/vault.json"
: >"$T/csfs.err"
as_user "cp $T/fork/vault.json $V/.new && mv -f $V/.new $V/vault.json"
cs get runpod api_key >"$T/out" 2>"$T/err"
rc=$?
check "root's get refuses a different vault of the floor's generation (status 1)" [ "$rc" = 1 ]
check "... saying so" grep -q "another vault's: rollback refused" "$T/err"
check "... showing no value" sh -c "! grep -q forked $T/out"
if [ $mounted = 1 ]; then
	check "the daemon refuses the fork (logged)" \
		wait_until 30 grep -q "another vault's: rollback refused" "$T/csfs.err"
	check "... and keeps serving the current value" value_is current
fi

# 3. The floor lost (root's folder): an error, not generation 0, until reset.
cs floor --reset >/dev/null 2>&1	# accept the fork, then lose the floor
rm -f "$K"/floor/*.state
cs get runpod api_key >"$T/out" 2>"$T/err"
rc=$?
check "with no floor, get fails (status 1)" [ "$rc" = 1 ]
check "... saying no rollback floor and how to make one" \
	sh -c "grep -q 'no rollback floor' $T/err && grep -q 'floor --reset' $T/err"
check "floor --reset re-establishes it" cs floor --reset
check "... and get works again" sh -c "[ \"\$($CS --config $K/cs.ini get runpod api_key)\" = forked ]"
check "... audited as floor_reset" grep -q '"event":"floor_reset"' "$K/audit.log"
done_testing
