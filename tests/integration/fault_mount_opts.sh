#!/bin/sh
# Fault: a mount point, a path or an option string carrying ",allow_other" or "-o". A
# comma or "-o" that comes from a path is never read as an option: the mount point, the
# vault path (positional, or from the config), the key and audit paths are passed as
# data (fsname= is escaped), so /proc/mounts shows exactly the options asked for -
# rw,nosuid,nodev,relatime,user_id=,group_id= and no allow_other - and another user is
# indeed kept out. Where the text would be read as options (an unescaped comma inside
# -o, a mount point that begins with "-o"), the daemon refuses to start.
. tests/lib.sh
fs_require fault_mount_opts
cs_init
printf 'mo-value' | csc set runpod api_key
EXPECT="rw,nosuid,nodev,relatime,user_id=$(id -u),group_id=$(id -g)"
# opts_of MNT: the options field of MNT's line in /proc/mounts (MNT as /proc escapes it).
# (awk -v would undo the \040: the path goes through the environment instead)
proc_field() { _m=$(printf '%s' "$1" | sed 's/ /\\040/g') awk -v f="$2" '$2 == ENVIRON["_m"] { print $f }' /proc/mounts; }
opts_of() { proc_field "$1" 4; }
src_of() { proc_field "$1" 1; }
mounted_at() { [ -n "$(proc_field "$1" 2)" ]; }
# no_allow_other: no mount of this test's (source or mount point under $T, wherever a
# misread option may have put it) carries allow_other. Other mounts on the machine are
# not this test's to judge.
no_allow_other() {
	! _t="$T/" awk 'index($1, ENVIRON["_t"]) == 1 || index($2, ENVIRON["_t"]) == 1 { print $4 }' \
	    /proc/mounts | grep -q allow_other
}
nobody_kept_out() {	# the tree is closed to another user: no allow_other in effect
	command -v setpriv >/dev/null 2>&1 || return 0
	! setpriv --reuid=65534 --regid=65534 --clear-groups ls "$1" >/dev/null 2>&1
}
# mounted_plain NAME MNT: mounted at exactly MNT, the expected options, no allow_other.
mounted_plain() {
	check "$1: mounted at exactly that path" mounted_at "$2"
	o=$(opts_of "$2")
	echo "# $1: /proc/mounts: $(src_of "$2") ... $o"
	check "$1: /proc/mounts shows only the options asked for ($EXPECT)" [ "$o" = "$EXPECT" ]
	check "$1: ... no allow_other, no default_permissions" sh -c "! echo '$o' | grep -q 'allow_other\|default_permissions'"
	check "$1: another user (65534) is kept out" nobody_kept_out "$2"
	check "$1: the value is served" sh -c "[ \"\$(cat '$2/runpod/api_key')\" = mo-value ]"
}

# 1. The mount point's name carries ",allow_other".
M="$T/mnt,allow_other"
if csfs_start "$M"; then mounted_plain "mount point 'mnt,allow_other'" "$M"; csfs_stop "$M"
else notok "mount point 'mnt,allow_other' mounts" "$(tail -n 1 "$T/csfs.err")"; fi

# 2. ... carries " -o allow_other" (blanks; /proc/mounts shows them as \040).
M="$T/mnt -o allow_other"
mkdir -p "$M"
"$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" 2>>"$T/csfs.err" &
CSFS_PID=$!; at_exit "kill $CSFS_PID"
if wait_until 30 mounted_at "$M"; then
	mounted_plain "mount point 'mnt -o allow_other'" "$M"
	kill "$CSFS_PID"; wait "$CSFS_PID"
	check "... and SIGTERM unmounts it (status $?)" sh -c "! grep -q 'mnt.040-o.040allow_other' /proc/mounts"
else notok "mount point 'mnt -o allow_other' mounts" "$(tail -n 1 "$T/csfs.err")"; fi

# 3. The vault path (positional) carries ",allow_other": it becomes fsname=, escaped.
V="$T/v,allow_other"
mkdir -p "$V" "$T/mnt"
cp -p "$CSD/vault.json" "$V/"
# A copy at a new path has no rollback floor of its own until it is given one.
csc --vault "$V/vault.json" floor --reset >/dev/null
M=$T/mnt
"$CSFS" -f -o "config=$CSD/cs.ini" "$V/vault.json" "$M" 2>>"$T/csfs.err" &
CSFS_PID=$!; at_exit "kill $CSFS_PID"
if wait_until 30 is_mounted "$M"; then
	mounted_plain "vault path 'v,allow_other/vault.json'" "$M"
	check "... the source in /proc/mounts is the vault path, whole" [ "$(src_of "$M")" = "$V/vault.json" ]
	csfs_stop "$M"
else notok "a vault under 'v,allow_other' mounts" "$(tail -n 1 "$T/csfs.err")"; fi

# 4. The vault, key and audit paths from the config carry ",allow_other" and ",-o".
mkdir -p "$T/c,-o allow_other"
cp -p "$CSD/key" "$T/c,-o allow_other/key"
cat >"$T/c,-o allow_other/cs.ini" <<EOF2
[vault]
path = $V/vault.json
key_file = $T/c,-o allow_other/key
state_dir = $CSD/floor
[audit]
path = $T/c,-o allow_other/audit,allow_other.log
flush = none
EOF2
# the config's own path has a comma: escaped as fuse_opt wants (\,)
CFG=$(printf '%s' "$T/c,-o allow_other/cs.ini" | sed 's/,/\\,/g')
"$CSFS" -f -o "config=$CFG" "$M" 2>>"$T/csfs.err" &
CSFS_PID=$!; at_exit "kill $CSFS_PID"
if wait_until 30 is_mounted "$M"; then
	mounted_plain "paths with ',allow_other' and ',-o' from a config at an escaped path" "$M"
	check "... the source is the config's vault path, whole" [ "$(src_of "$M")" = "$V/vault.json" ]
	check "... the read went to the audit log at the comma'd path" \
		grep -q '"event":"secret_read"' "$T/c,-o allow_other/audit,allow_other.log"
	csfs_stop "$M"
else notok "a config at 'c,-o allow_other/cs.ini' (escaped) mounts" "$(tail -n 1 "$T/csfs.err")"; fi

# 5. The same config path unescaped: the comma splits the option list; refused.
"$CSFS" -f -o "config=$T/c,-o allow_other/cs.ini" "$M" >"$T/out" 2>&1 &
pid=$!; at_exit "kill $pid"
if wait_until 30 sh -c "! kill -0 $pid"; then wait $pid; rc=$?; else rc=running; fi
echo "# unescaped: status $rc: $(tail -n 1 "$T/out")"
check "-o config=PATH with an unescaped comma: refused (status 1)" [ "$rc" = 1 ]
check "... nothing mounted" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."

# 6. "-o allow_other.ini" smuggled after a comma: an unknown option, refused.
"$CSFS" -f -o "config=$CSD/cs.ini,allow_other.ini" "$CSD/vault.json" "$M" >"$T/out" 2>&1 &
pid=$!; at_exit "kill $pid"
if wait_until 30 sh -c "! kill -0 $pid"; then wait $pid; rc=$?; else rc=running; fi
check "-o config=FILE,allow_other.ini: refused (status 1)" [ "$rc" = 1 ]
check "... naming the unknown option" grep -q 'allow_other.ini' "$T/out"
check "... nothing mounted" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."

# 7. A mount point that begins with "-o", relative (it would read as an option):
#    refused, with or without "--"; as ./-oallow_other it mounts, plainly.
mkdir -p "$T/-oallow_other"
for sep in "" "--"; do
	(cd "$T" && timeout 30 "$CSFS" -f -o "config=$CSD/cs.ini" $sep "$CSD/vault.json" -oallow_other) >"$T/out" 2>&1
	rc=$?
	echo "# mount point '-oallow_other'${sep:+ after --}: status $rc: $(tail -n 1 "$T/out")"
	check "mount point '-oallow_other'${sep:+ after --}: refused (status 1)" [ "$rc" -eq 1 ]
	check "... nothing of this vault mounted with allow_other anywhere" no_allow_other
done
(cd "$T" && "$CSFS" -o "config=$CSD/cs.ini" "$CSD/vault.json" ./-oallow_other) >"$T/out" 2>&1
if is_mounted "$T/-oallow_other"; then
	mounted_plain "mount point './-oallow_other'" "$T/-oallow_other"
	fusermount3 -u "$T/-oallow_other"
else notok "mount point './-oallow_other' mounts" "$(tail -n 1 "$T/out")"; fi
check "no mount of this vault anywhere has allow_other" no_allow_other
done_testing
