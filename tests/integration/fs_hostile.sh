#!/bin/sh
# What a hostile local user can make the daemon hold, through a real mount, with real
# users made for the test (useradd, removed at exit): one who can read no secret (the
# attacker) and one who reads one provider (the reader).
#  - .sandbox read-then-close from many processes at once: no sanitizer finding (the
#    answer is copied before the reply, so a release racing the reply frees nothing in
#    use).
. tests/lib.sh
fs_require fs_hostile
if ! command -v python3 >/dev/null 2>&1; then skip fs_hostile "python3 is missing"; exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
    ! command -v useradd >/dev/null 2>&1; then
	skip fs_hostile "needs root, setpriv and useradd (test users)"
	exit 0
fi
cs_init
SEED='sk-canary-hostile-5c1e'
printf '%s' "$SEED" | csc set runpod api_key
printf 'other-hostile-value' | csc set openai api_key

# The users: cshosa<pid> (attacker), cshosr<pid> (reader of runpod, through its group).
A=cshosa$$
R=cshosr$$
at_exit "userdel $A; userdel $R; groupdel $R"
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$A" || { notok "useradd $A"; done_testing; }
useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$R" || { notok "useradd $R"; done_testing; }
cat >>"$CSD/cs.ini" <<EOF2
[provider.runpod]
group = $R
mode = 0440
EOF2
chmod 0755 "$T"		# let the test users reach the mount point
M=$T/mnt
HO=$T/holdopen		# tests/tools/holdopen.c, where the test users can run it
if ! cp "$TOP/$BUILD/tests/tools/holdopen" "$HO"; then
	notok "tests/tools/holdopen is built (make $BUILD/tests/tools/holdopen)"
	done_testing
fi
# asu USER CMD...: CMD as USER, with its own groups only.
asu() { _u=$1; shift; setpriv --reuid="$_u" --regid="$(id -g "$_u")" --init-groups "$@"; }

if ! csfs_start "$M" -o allow_other; then
	notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"
	done_testing
fi
check "the reader reads its provider" [ "$(asu "$R" cat "$M/runpod/api_key")" = "$SEED" ]
check_fails "the attacker reads no secret" asu "$A" cat "$M/runpod/api_key"

# --- .sandbox: read then close, from 4 processes at once ---
check ".sandbox: 6000 read-then-close from 4 processes all answer" asu "$A" "$HO" race "$M" 1500 4
check "... and the daemon reported no sanitizer finding" \
	sh -c "! grep -q -e 'Sanitizer' -e 'runtime error' $T/csfs.err"

check "the daemon stops cleanly (status 0)" csfs_stop "$M"
check "no value reached the daemon's stderr" sh -c "! grep -q '$SEED' $T/csfs.err"
done_testing
