#!/bin/sh
# Fault: the vault file deleted, truncated, or replaced by garbage while mounted. The
# last good vault keeps being served (every value, every name), each event is logged
# (stderr, and vault_reload_refused in the audit log), and a later good vault is
# picked up. A deletion alone raises no inotify event the watcher listens to, so it is
# followed by a SIGHUP, which must be refused too.
. tests/lib.sh
fs_require fault_vault
cs_init
printf 'v1' | csc set runpod api_key
printf 'e1' | csc set runpod endpoint
M=$T/mnt
F=$M/runpod/api_key
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
refusals() { grep -c '"event":"vault_reload_refused"' "$CSD/audit.log"; }
errs() { grep -c 'refused' "$T/csfs.err"; }
cp "$CSD/vault.json" "$T/good.json"
# serving NAME: the last good vault is still served in full.
serving() {
	check "$1: the last good value is still served" value_is "$F" v1
	check "$1: ... and the other field" value_is "$M/runpod/endpoint" e1
	check "$1: ... and ls still shows both" sh -c "[ \"\$(ls $M/runpod | tr '\n' ' ')\" = 'api_key endpoint ' ]"
	check "$1: the daemon is alive" kill -0 "$CSFS_PID"
}
# refused_logged NAME A0 E0: a new refusal in the audit log and on stderr.
refused_logged() {
	check "$1: the refusal is audited (vault_reload_refused)" \
		wait_until 30 sh -c "[ \$(grep -c '\"event\":\"vault_reload_refused\"' $CSD/audit.log) -gt $2 ]"
	check "$1: ... and said on stderr" wait_until 30 sh -c "[ \$(grep -c refused $T/csfs.err) -gt $3 ]"
}

# 1. Truncated to zero bytes, in place (IN_CLOSE_WRITE).
a0=$(refusals) e0=$(errs)
: >"$CSD/vault.json"
refused_logged "truncated to 0 bytes" "$a0" "$e0"
serving "truncated to 0 bytes"

# 2. Truncated half-way, in place.
a0=$(refusals) e0=$(errs)
head -c $(( $(stat -c %s "$T/good.json") / 2 )) "$T/good.json" >"$CSD/vault.json"
refused_logged "truncated half-way" "$a0" "$e0"
serving "truncated half-way"

# 3. Replaced by garbage (renamed over it, as an editor or a bad copy would).
a0=$(refusals) e0=$(errs)
head -c 3000 /dev/urandom >"$T/garbage"
mv "$T/garbage" "$CSD/vault.json"
refused_logged "replaced by random bytes" "$a0" "$e0"
serving "replaced by random bytes"

# 4. Valid JSON but not a vault.
a0=$(refusals) e0=$(errs)
printf '{"hello": "world"}\n' >"$CSD/vault.json"
refused_logged "replaced by other JSON" "$a0" "$e0"
serving "replaced by other JSON"

# 5. Deleted: no event; SIGHUP then asks for a reload, which must be refused.
a0=$(refusals) e0=$(errs)
rm -f "$CSD/vault.json"
serving "deleted"
kill -HUP "$CSFS_PID"
refused_logged "deleted, then SIGHUP" "$a0" "$e0"
check "deleted, then SIGHUP: the reason names the missing file" \
	sh -c "grep refused $T/csfs.err | tail -n 1 | grep -q 'No such file\|not found\|missing\|ENOENT'"
serving "deleted, then SIGHUP"

# 6. A later good vault is picked up: the good copy back, then a set on it.
cp "$T/good.json" "$CSD/vault.json.tmp" && mv "$CSD/vault.json.tmp" "$CSD/vault.json"
printf 'v2' | csc set runpod api_key
check "a later good vault is picked up" wait_until 30 value_is "$F" v2
check "... with its other field intact" value_is "$M/runpod/endpoint" e1
check "... and on stderr as reloaded" grep -q 'reloaded' "$T/csfs.err"
check "the audit log verifies after all the refusals" csc audit --verify
check "SIGTERM unmounts cleanly" csfs_stop "$M"
done_testing
