#!/bin/sh
# The daemon under valgrind memcheck for a short basic scenario: mount, cat (a value, a
# binary value, an override), ls, stat, an EROFS write, a refused read (missing field),
# a reload by change and by SIGHUP, a refused reload (garbage vault), then SIGTERM.
# Asserted: the daemon exits 0 through it all, and memcheck reports no error - no
# invalid read or write, no use of uninitialised memory, no definite leak
# (--errors-for-leak-kinds=definite --error-exitcode=99). Warnings (sodium_malloc's
# guard pages and mprotect) are not errors and are not asserted on.
. tests/lib.sh
fs_require valgrind
if [ "${SANITIZE:-}" = 1 ]; then
	skip valgrind "valgrind cannot run an AddressSanitizer build; plain make check runs it"; exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
	skip valgrind "valgrind is not installed (scripts/install-deps installs it)"; exit 0
fi
cs_init
printf 'vg-value' | csc set runpod api_key
head -c 2000 /dev/urandom >"$T/bin"
csc set --raw openai blob <"$T/bin"
M=$T/mnt
mkdir -p "$M"
COMFYVN_SECRET_OVR_TOKEN=vg-override valgrind --leak-check=full --errors-for-leak-kinds=definite \
	--error-exitcode=99 --log-file="$T/vg.log" \
	"$CSFS" -f -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" 2>>"$T/csfs.err" &
CSFS_PID=$!
at_exit "kill $CSFS_PID"
if ! wait_until 60 is_mounted "$M"; then notok "mounts under valgrind" "$(tail -n 3 "$T/csfs.err" "$T/vg.log" | tr '\n' ' ')"; done_testing; fi
ok "mounts under valgrind"
value_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
check "cat gives the value" value_is "$M/runpod/api_key" vg-value
check "a binary value comes out intact" cmp "$T/bin" "$M/openai/blob"
check "an override is served" value_is "$M/ovr/token" vg-override
check "ls lists the providers" sh -c "[ \"\$(ls $M | tr '\n' ' ')\" = 'openai ovr runpod ' ]"
check "stat gives the size" [ "$(stat -c %s "$M/runpod/api_key")" -eq 8 ]
check "a write is EROFS" sh -c "{ echo x > $M/runpod/api_key; } 2>&1 | grep -q 'Read-only'"
check_fails "a missing field is refused" cat "$M/runpod/nothere"
for _ in 1 2 3 4 5; do cat "$M/runpod/api_key" >/dev/null; done
printf 'vg-2' | csc set runpod api_key
check "a change is reloaded" wait_until 60 value_is "$M/runpod/api_key" vg-2
csc rm openai blob
check "a removal is reloaded" wait_until 60 sh -c "! ls $M | grep -qx openai"
n=$(grep -c 'reloaded' "$T/csfs.err")
kill -HUP "$CSFS_PID"
check "SIGHUP reloads" wait_until 60 sh -c "[ \$(grep -c reloaded $T/csfs.err) -gt $n ]"
cp "$CSD/vault.json" "$T/good.json"
head -c 500 /dev/urandom >"$CSD/vault.json"
check "a garbage vault is refused" wait_until 60 grep -q 'refused' "$T/csfs.err"
cp "$T/good.json" "$CSD/vault.json.tmp" && mv "$CSD/vault.json.tmp" "$CSD/vault.json"
printf 'vg-3' | csc set runpod api_key
check "... and a good one picked up again" wait_until 60 value_is "$M/runpod/api_key" vg-3
kill -TERM "$CSFS_PID"
wait_until 60 sh -c "! kill -0 $CSFS_PID" || kill -KILL "$CSFS_PID"
wait "$CSFS_PID"
rc=$?
echo "# valgrind: status $rc"
sed -n '/HEAP SUMMARY/,$p' "$T/vg.log" | sed 's/^==[0-9]*== */# /' | grep -v '^# *$' | head -n 30
check "the daemon under valgrind exits 0 (99 would be a memcheck error)" [ "$rc" -eq 0 ]
check "no invalid read or write" sh -c "! grep -q 'Invalid read\|Invalid write\|Invalid free' $T/vg.log"
check "no use of uninitialised memory" sh -c "! grep -q 'uninitialised\|Uninitialised' $T/vg.log"
check "no definite leak" sh -c "! grep -q 'definitely lost in' $T/vg.log && grep -q 'definitely lost: 0 bytes\|All heap blocks were freed' $T/vg.log"
check "memcheck's summary: 0 errors" grep -q 'ERROR SUMMARY: 0 errors' "$T/vg.log"
check "the mount is gone" sh -c "! awk '\$2 == \"$M\"' /proc/mounts | grep -q ."
done_testing
