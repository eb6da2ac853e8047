#!/bin/sh
# Fault: the vault, the key file or the audit log swapped for a symlink to another file
# (a valid one: a copy of the real vault, key or log). Each is refused: at start, a
# clear error naming the path and exit 1 before mounting; while mounted, a reload of a
# symlinked vault (or through a symlinked key) is refused, logged, and the last good
# vault stays served.
. tests/lib.sh
fs_require fault_symlink
cs_init
printf 'sl-1' | csc set runpod api_key
M=$T/mnt
F=$M/runpod/api_key
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
mkdir -p "$M" "$T/other"
cp -p "$CSD/vault.json" "$CSD/key" "$CSD/audit.log" "$T/other/"

# start_refused NAME PATH: with PATH a symlink to its copy, the daemon must not start.
start_refused() {
	mv "$2" "$2.real"
	ln -s "$T/other/$(basename "$2")" "$2"
	timeout 30 "$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" >"$T/out" 2>&1
	rc=$?
	echo "# $1 a symlink: status $rc: $(tail -n 1 "$T/out")"
	check "$1 a symlink: the daemon refuses to start (status 1)" [ "$rc" -eq 1 ]
	check "$1 a symlink: ... naming it" grep -q "$2" "$T/out"
	check "$1 a symlink: ... saying symlink" grep -qi 'symlink\|symbolic link\|too many levels' "$T/out"
	check "$1 a symlink: ... nothing mounted" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
	rm -f "$2"
	mv "$2.real" "$2"
}
start_refused "vault" "$CSD/vault.json"
start_refused "key file" "$CSD/key"
start_refused "audit log" "$CSD/audit.log"

# While mounted: a newer, valid vault (same key, one generation up, made in another
# folder) arrives as a symlink over the vault.
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
check "serving" value_is "$F" sl-1
mkdir -p "$T/newer"
cp -p "$CSD/vault.json" "$T/newer/vault.json"
"$CS" --config "$CSD/cs.ini" --vault "$T/newer/vault.json" floor --reset >/dev/null	# its own floor
printf 'sl-2' | "$CS" --config "$CSD/cs.ini" --vault "$T/newer/vault.json" set runpod api_key
check "(the symlink's target is a good, newer vault)" \
	sh -c "[ \"\$($CS --config $CSD/cs.ini --vault $T/newer/vault.json get runpod api_key)\" = sl-2 ]"
a0=$(grep -c '"event":"vault_reload_refused"' "$CSD/audit.log")
ln -s "$T/newer/vault.json" "$CSD/vault.json.tmp" && mv -T "$CSD/vault.json.tmp" "$CSD/vault.json"
check "a vault swapped for a symlink (to a valid, newer vault) is refused on reload" \
	wait_until 30 sh -c "[ \$(grep -c '\"event\":\"vault_reload_refused\"' $CSD/audit.log) -gt $a0 ]"
echo "# it said: $(grep refused "$T/csfs.err" | tail -n 1)"
check "... the reason says symlink" sh -c "grep refused $T/csfs.err | tail -n 1 | grep -qi 'symlink\|symbolic link\|too many levels'"
check "... the last good vault stays served" value_is "$F" sl-1
a0=$(grep -c '"event":"vault_reload_refused"' "$CSD/audit.log")
kill -HUP "$CSFS_PID"
check "... and so is a SIGHUP reload of it" \
	wait_until 30 sh -c "[ \$(grep -c '\"event\":\"vault_reload_refused\"' $CSD/audit.log) -gt $a0 ]"
check "... the last good vault still served" value_is "$F" sl-1
rm -f "$CSD/vault.json"
cp -p "$T/other/vault.json" "$CSD/vault.json"

# The key file swapped for a symlink to an identical copy: the next reload is refused.
cp -p "$CSD/key" "$T/other/key2"
a0=$(grep -c '"event":"vault_reload_refused"' "$CSD/audit.log")
ln -s "$T/other/key2" "$CSD/key.tmp" && mv -T "$CSD/key.tmp" "$CSD/key"
kill -HUP "$CSFS_PID"
check "a key file swapped for a symlink: the reload is refused" \
	wait_until 30 sh -c "[ \$(grep -c '\"event\":\"vault_reload_refused\"' $CSD/audit.log) -gt $a0 ]"
echo "# it said: $(grep refused "$T/csfs.err" | tail -n 1)"
check "... naming the key file" sh -c "grep refused $T/csfs.err | tail -n 1 | grep -q '$CSD/key'"
check "... the last good vault stays served" value_is "$F" sl-1
rm -f "$CSD/key"
cp -p "$T/other/key2" "$CSD/key"
printf 'sl-5' | csc set runpod api_key
check "the real files back: reloads work" wait_until 30 value_is "$F" sl-5
check "SIGTERM unmounts cleanly" csfs_stop "$M"
done_testing
