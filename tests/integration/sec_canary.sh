#!/bin/sh
# A canary value goes through the CLI and the mount - stored, imported, overridden,
# rotated, read, refused - with the daemon at its highest verbosity (-d) and down the
# error paths, and is then searched for (grep -a) where no value may go: the audit log,
# the stderr of both binaries, every CLI output other than `get`, /proc/*/cmdline and
# /proc/*/environ while the daemon runs, every file the test leaves, and files written
# meanwhile under /tmp, /var/tmp and /dev/shm. The key text is searched for the same way
# (outside the key files). Zero hits.
#
# The canaries are random per run and never pass through an argv or an exported
# variable of this script: values go in on stdin (printf is a shell builtin) and the
# override reaches the daemon by an assignment on its command only. The search patterns
# sit in one file that the search skips.
#
# Also: no plaintext in the page cache after a read (fincore on the mounted file, after
# cat and after a MAP_PRIVATE mmap). Limit: fincore opens the file itself, and the
# daemon's open (direct_io, no keep_cache) makes the kernel drop the file's cached pages,
# so what fincore sees is the state just after an open, not pages a previous reader left
# until then; the read path (direct_io) is what keeps them out in the first place.
. tests/lib.sh
fs_require sec_canary
: >"$T/start"
rnd() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
C1="cnry1$(rnd)"	# stored with set
C2="cnry2$(rnd)"	# imported from a .env file
C3="cnry3$(rnd)"	# a daemon override
C4="cnry4$(rnd)"	# only ever offered on error paths
PAT=$T/.patterns
printf '%s\n' "$C1" "$C2" "$C3" "$C4" >"$PAT"
O=$T/out
mkdir -p "$O"

cs_init
sed -i 's/^\[vault\]/[vault]\nmax_value_size = 4096/' "$CSD/cs.ini"
cat >>"$CSD/cs.ini" <<EOF
[features]
enable_security_api = true
EOF
# The key text is a secret too (outside the key files themselves).
cat "$CSD/key" >>"$PAT"
# cli TAG ARGS...: the CLI's stdout and stderr kept as $O/cli-TAG.out and .err.
cli() { _t=$1; shift; csc "$@" >"$O/cli-$_t.out" 2>"$O/cli-$_t.err"; }

# --- the CLI, good paths
printf '%s' "$C1" | cli set set runpod api_key
printf 'COMFYVN_SECRET_OPENAI_API_KEY="%s"\n' "$C2" >"$T/import.env"
cli import import "$T/import.env"
rm -f "$T/import.env"	# the user's own plaintext file, not one the program left
got=$(csc get runpod api_key)
check "get gives the stored value" [ "$got" = "$C1" ]
got=
cli list list
cli listjson list --json
cli fpr fingerprint
cli audit audit --limit 50
cli verify audit --verify
cli check check api.example.com 443 --allow '*.example.com'
cli blocked check blocked.example 443
cli defaults defaults

# --- the CLI, error paths: a value offered where it must be refused
printf '%s' "$C4" | cli err1 set Bad..Name api_key
printf '%s%s' "$C4" "$(head -c 5000 /dev/zero | tr '\0' x)" | cli err2 set runpod too_big
printf 'COMFYVN_SECRET_BAD=%s\nCOMFYVN_SECRET_GOOD_KEY=%s\n' "$C4" "$C4" >"$T/bad.env"
cli err3 import "$T/bad.env"
printf '{"p": {"f": ["%s"]}}\n' "$C4" >"$T/bad.json"
cli err4 import "$T/bad.json"
printf 'COMFYVN_SECRET_RUNPOD_API_KEY=%s\n' "$C4" >"$T/plain.json"
cli err5 --vault "$T/plain.json" list			# a plaintext file given as the vault
printf '%s' "$C4" | cli err6 rotate --new-key-stdin	# not a key
printf '%s' "$C4" >"$T/key.bad"
chmod 600 "$T/key.bad"
cli err7 --key-file "$T/key.bad" list			# a key file that is not a key
rm -f "$T/bad.env" "$T/bad.json" "$T/plain.json" "$T/key.bad"
refused=0
for i in 1 2 3 4 5 6 7; do [ -s "$O/cli-err$i.err" ] && refused=$((refused + 1)); done
check "the 7 error paths were taken, each with a message" [ "$refused" -eq 7 ]

# --- the daemon at -d, with an override and a bad override
M=$T/mnt
mkdir -p "$M"
COMFYVN_SECRET_RUNPOD="$C4" "$CSFS" -f -d -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" \
    >"$O/fs-bad.out" 2>"$O/fs-bad.err"
check "a bad override name stops the daemon" [ $? -ne 0 ]
COMFYVN_SECRET_EXTRA_TOKEN="$C3" "$CSFS" -f -d -o "config=$CSD/cs.ini" "$CSD/vault.json" "$M" \
    >"$O/fs.out" 2>"$O/fs.err" &
FSPID=$!
at_exit "kill $FSPID"
if ! wait_until 30 is_mounted "$M"; then
	notok "the daemon mounts with -d" "$(tail -n 3 "$O/fs.err" | tr '\n' ' ')"
	done_testing
fi
ok "the daemon mounts with -d"
# Reads compared in the shell: the values reach no file and no argv.
v1=$(cat "$M/runpod/api_key")
v2=$(cat "$M/openai/api_key")
v3=$(cat "$M/extra/token")
check "the mount serves the stored, imported and override values" [ "$v1$v2$v3" = "$C1$C2$C3" ]
v1='' v2='' v3=''
head -c 10 "$M/runpod/api_key" >/dev/null
dd if="$M/runpod/api_key" bs=1 skip=3 count=4 2>/dev/null >/dev/null
cat "$M/runpod/nothere" 2>>"$O/reader.err"
printf x 2>>"$O/reader.err" >"$M/runpod/api_key"
rm "$M/runpod/api_key" 2>>"$O/reader.err"
mkdir "$M/runpod/x" 2>>"$O/reader.err"
# .control: good and bad requests; a rotate whose new key is garbage carrying a canary.
ctl() { ( exec 3<>"$M/.control" && printf '%s' "$1" >&3 && cat <&3 ) >>"$O/control.out"; }
ctl '{"op":"providers"}'
ctl '{"op":"audit","limit":100}'
ctl '{"op":"check","host":"blocked.example","port":443}'
ctl "{\"op\":\"rotate\",\"new_key\":\"$(head -n 4 "$PAT" | tail -n 1)\"}" 2>>"$O/reader.err"
ctl '{"op":"nonsense"' 2>>"$O/reader.err"
cat "$M/.sandbox/api.example.com:443" >>"$O/control.out" 2>>"$O/reader.err"
check "the daemon is still serving after the reads and .control requests" \
	sh -c "kill -0 $FSPID && [ -f '$M/runpod/api_key' ]"

# --- page cache
if command -v fincore >/dev/null 2>&1; then
	cat "$M/runpod/api_key" >/dev/null
	check "no page of the value is cached after cat (fincore)" \
		sh -c "[ \"\$(fincore -n -o PAGES '$M/runpod/api_key')\" -eq 0 ]"
	if command -v python3 >/dev/null 2>&1; then
		python3 -c "
import mmap
f = open('$M/runpod/api_key', 'rb')
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
m[:]; m.close(); f.close()"
		check "nor after a MAP_PRIVATE mmap read (fincore)" \
			sh -c "[ \"\$(fincore -n -o PAGES '$M/runpod/api_key')\" -eq 0 ]"
	fi
else
	skip "no page of the value is cached after a read" "fincore (util-linux) is missing"
fi

# --- /proc, while the daemon runs
if kill -0 "$FSPID" 2>/dev/null; then
	ok "the daemon lived through every read, request and error path"
else
	notok "the daemon lived through every read, request and error path" \
	    "$(grep -m 1 -A 3 -E 'ERROR|Sanitizer' "$O/fs.err" | tr '\n' ' ')"
fi
check "/proc/<daemon>/environ is readable here (so the search means something)" \
	grep -aq PATH= "/proc/$FSPID/environ"
hits=""
for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do
	if grep -aqF -f "$PAT" "$f" 2>/dev/null; then hits="$hits $f"; fi
done
check "no canary or key text in any /proc/*/cmdline or /proc/*/environ" [ -z "$hits" ]
[ -z "$hits" ] || echo "# hits:$hits"

# --- rotate while mounted (the new key goes to the key file only), then stop
cli rotate rotate
cat "$CSD/key" >>"$PAT"	# the new key text too
kill -TERM "$FSPID"
wait "$FSPID"
# --- the search
search() {
	_hits=$(grep -rlaF -f "$PAT" "$@" 2>/dev/null | grep -v -e "^$PAT\$" -e "^$CSD/key\$" -e "^$CSD/key.next\$")
	[ -z "$_hits" ] || { echo "# hits: $_hits"; return 1; }
}
check "audit log: no canary, no key" search "$CSD/audit.log"
check "daemon stderr at -d (good and bad start): no canary, no key" search "$O/fs.err" "$O/fs-bad.err" "$O/fs.out" "$O/fs-bad.out"
check "CLI stdout and stderr of every command but get: no canary, no key" search "$O"/cli*
check ".control and .sandbox answers, readers' errors: no canary, no key" search "$O/control.out" "$O/reader.err"
check "the daemon logged at -d (so the search covers its debug output)" \
	sh -c "[ \$(wc -l <'$O/fs.err') -gt 20 ]"
check "every file the test leaves: no canary, no key (outside the key files)" search "$T"
recent_hits() {
	find /tmp /var/tmp /dev/shm -xdev -type f -newer "$T/start" -size -20M 2>/dev/null |
	    grep -v "^$T/" | tr '\n' '\0' | xargs -0 -r grep -laF -f "$PAT" 2>/dev/null
}
check "files written meanwhile under /tmp, /var/tmp, /dev/shm: no canary, no key" \
	[ -z "$(recent_hits)" ]
[ -n "${KEEP:-}" ] && cp -r "$O" /tmp/h-sec/canary-out
done_testing
