#!/bin/sh
# bench/profile.sh - where comfysecretsfs spends an open: perf record on the daemon while
# one thread opens, reads and closes secrets, then the top symbols (self time, every
# thread of the daemon) and the share of kernel time.
#
#   sh bench/profile.sh [BUILD] [SECONDS]     (as root; linux-perf installed)
#
# Sets up its own vault of 1 000 secrets (flush = async) under a temporary folder,
# mounts it, and unmounts and removes everything on exit. The report goes to stdout;
# perf.data stays in build/bench/profile/ for `perf report -i`.
set -eu

BUILD=${1:-build}
SECS=${2:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/build/bench/profile"
command -v perf >/dev/null || { echo "profile: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$out"
d=$(mktemp -d /tmp/cs-profile.XXXXXX)
pid=""
cleanup() {
	if grep -q " $d/mnt " /proc/mounts; then fusermount3 -u "$d/mnt" || umount -l "$d/mnt"; fi
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$d"
}
trap cleanup EXIT INT TERM

printf '[vault]\npath = %s/vault.json\nkey_file = %s/key\nstate_dir = %s/floor\n[audit]\npath = %s/audit.log\nflush = async\n' \
	"$d" "$d" "$d" "$d" >"$d/cs.ini"
"$BUILD/comfysecrets" --config "$d/cs.ini" init >/dev/null
python3 -c '
import json, sys
print(json.dumps({"p%03d" % i: {"f%d" % j: "v" * 40 for j in range(10)} for i in range(100)}))
' >"$d/import.json"
"$BUILD/bench/mkvault" "$d/vault.json" "$d/key" "$d/import.json" >/dev/null
mkdir "$d/mnt"
"$BUILD/comfysecretsfs" -f -o "config=$d/cs.ini" "$d/vault.json" "$d/mnt" 2>"$d/daemon.err" &
pid=$!
i=0
until [ -r "$d/mnt/p000/f0" ] && cat "$d/mnt/p000/f0" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 600 ] || { echo "profile: no mount after 60 s" >&2; cat "$d/daemon.err" >&2; exit 1; }
	sleep 0.1
done
for p in $(seq -w 0 99); do for f in 0 1 2 3 4 5 6 7 8 9; do echo "$d/mnt/p0$p/f$f"; done; done >"$d/list"
"$BUILD/bench/benchtool" rate 1 20000 "$d/list" >/dev/null	# warm
perf record -q -F 2000 -g -p "$pid" -o "$out/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
perfpid=$!
sleep 0.5
"$BUILD/bench/benchtool" rate 1 1000000000 "$d/list" >"$d/rate" 2>&1 &
ratepid=$!
wait "$perfpid" || true
kill "$ratepid" 2>/dev/null || true
wait "$ratepid" 2>/dev/null || true
echo "## perf record -F 2000 -g -p DAEMON, ${SECS} s of benchtool rate 1 (1 000 secrets, flush = async)"
echo
perf report -i "$out/perf.data" --no-children --sort sym --stdio -g none --percent-limit 1.2 2>/dev/null |
	grep -v '^#' | grep -v '^$' | head -40
echo
perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
	grep -v '^#' | grep -v '^$' | head -8
echo
# System calls of the daemon per open+read+close: 10 000 reads under perf trace -s.
perf trace -s -p "$pid" -o "$d/trace" -- sleep 60 >/dev/null 2>&1 &
tracepid=$!
sleep 1
"$BUILD/bench/benchtool" rate 1 10000 "$d/list" >/dev/null
kill -INT "$tracepid" 2>/dev/null || true
wait "$tracepid" 2>/dev/null || true
echo "## daemon system calls per open+read+close (perf trace -s, 10 000 reads, all threads)"
echo
awk '$1 ~ /^[a-z_0-9]+$/ && $2 ~ /^[0-9]+$/ { n[$1] += $2 } END { for (s in n) printf "%-12s %6.2f\n", s, n[s] / 10000 }' "$d/trace" | sort -k2 -rn
