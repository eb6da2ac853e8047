#!/bin/sh
# tests/fuzz/smoke.sh - `make fuzz-smoke`: each fuzz target given as an argument runs
# for FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus/NAME, read only: what it
# finds goes to $FUZZ_BUILD/corpus/NAME) and its dictionary (tests/fuzz/NAME.dict). A
# crash stops the run with exit 1, shows the log's tail and leaves the input in
# $FUZZ_BUILD/crash-NAME-*.
set -u
: "${FUZZ_BUILD:=build/fuzz}" "${FUZZ_SECONDS:=20}"
mkdir -p "$FUZZ_BUILD/logs"
for f in "$@"; do
	n=${f##*/fuzz_}
	set --
	[ -f "tests/fuzz/$n.dict" ] && set -- "-dict=tests/fuzz/$n.dict"
	mkdir -p "$FUZZ_BUILD/corpus/$n"
	set -- "$@" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
	    -artifact_prefix="$FUZZ_BUILD/crash-$n-" "$FUZZ_BUILD/corpus/$n"
	[ -d "tests/fuzz/corpus/$n" ] && set -- "$@" "tests/fuzz/corpus/$n"
	log=$FUZZ_BUILD/logs/$n.log
	if "$f" "$@" >"$log" 2>&1; then
		echo "fuzz-smoke: $n: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") execs in $FUZZ_SECONDS s, no crash"
	else
		echo "fuzz-smoke: $n FAILED:"
		tail -n 30 "$log"
		exit 1
	fi
done
