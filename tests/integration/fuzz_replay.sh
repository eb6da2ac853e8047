#!/bin/sh
# tests/integration/fuzz_replay.sh - the fuzz targets, briefly, as part of `make check`.
#
# Builds every libFuzzer target (clang, ASan + UBSan) into $BUILD/fuzz, replays its seed
# corpus (tests/fuzz/corpus/NAME) and the bad-input corpus of the same kind
# (tests/bad/NAME/*/input), then fuzzes each for FUZZ_SECONDS (default 5). Anything a
# run finds stays in $BUILD/fuzz/corpus/NAME, never in the repository; a crash leaves its
# input as $BUILD/fuzz/crash-NAME-* and fails the check. Long runs: `make fuzz-smoke
# FUZZ_SECONDS=600` (tests/fuzz/README.md).
#
# Under SANITIZE=1 the targets are the same binaries (they are always sanitized), so only
# the replay runs there, not the timed fuzzing. Without clang and its libFuzzer runtime
# this says SKIPPED, loudly.
. tests/lib.sh
: "${FUZZ_SECONDS:=5}"
FB=$BUILD/fuzz
unset MAKEFLAGS MAKELEVEL MFLAGS

cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	skip fuzz "$cc is not installed (apt-get install clang libclang-rt-dev)"
	exit 0
fi
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }\n' \
    >"$T/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" >"$T/probe.err" 2>&1; then
	skip fuzz "$cc cannot link libFuzzer ($(head -n 1 "$T/probe.err")); apt-get install libclang-rt-dev"
	exit 0
fi

if ! make -s FUZZ_BUILD="$FB" FUZZ_CC="$cc" fuzz >"$T/build.log" 2>&1; then
	notok "fuzz: targets build" "$(tail -n 5 "$T/build.log" | tr '\n' ' ')"
	done_testing
fi
ok "fuzz: targets build ($(find "$FB" -maxdepth 1 -name 'fuzz_*' ! -name '*.d' | wc -l))"

for f in "$FB"/fuzz_*; do
	case $f in *.d) continue ;; esac
	n=${f##*/fuzz_}
	# Replay: the seeds, then the bad inputs of the same kind, each run once.
	set --
	[ -d "tests/fuzz/corpus/$n" ] && set -- "$@" tests/fuzz/corpus/"$n"/*
	# (vault_diff, the differential target, replays the vault's bad inputs.)
	[ -d "tests/bad/${n%_diff}" ] && set -- "$@" tests/bad/"${n%_diff}"/*/input
	if [ $# -eq 0 ]; then
		notok "fuzz: $n replay" "no seed corpus (tests/fuzz/corpus/$n)"
	elif "$f" -artifact_prefix="$FB/crash-$n-" "$@" >"$T/$n.replay" 2>&1; then
		ok "fuzz: $n replays $# inputs"
	else
		notok "fuzz: $n replay" "$(grep -m 3 -E 'ERROR|SUMMARY|Running:' "$T/$n.replay" | tr '\n' ' ')"
		continue
	fi
	[ "${SANITIZE:-0}" = 1 ] && continue
	mkdir -p "$FB/corpus/$n"
	dict=
	[ -f "tests/fuzz/$n.dict" ] && dict=-dict=tests/fuzz/$n.dict
	corpus=
	[ -d "tests/fuzz/corpus/$n" ] && corpus=tests/fuzz/corpus/$n
	# shellcheck disable=SC2086
	if "$f" $dict -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$FB/crash-$n-" "$FB/corpus/$n" $corpus \
	    >"$T/$n.log" 2>&1; then
		ok "fuzz: $n $FUZZ_SECONDS s, $(sed -n 's/^stat::number_of_executed_units: *//p' "$T/$n.log") execs, $(grep -o 'cov: [0-9]*' "$T/$n.log" | tail -n 1), no crash"
	else
		notok "fuzz: $n" "$(grep -m 3 -E 'ERROR|SUMMARY|Test unit written' "$T/$n.log" | tr '\n' ' ')"
	fi
done
[ "${SANITIZE:-0}" = 1 ] && echo "# fuzz: timed runs only in the plain build (the targets are always sanitized)"
done_testing
