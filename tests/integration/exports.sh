#!/bin/sh
# Every function an object file exports is declared in a header. nm lists the global
# functions defined in $BUILD's product objects (base/ crypto/ policy/ fs/ cli/); each must
# appear as NAME( in a header of those folders. -Wmissing-prototypes (Makefile) already
# refuses a definition with no prototype in sight; this also catches a prototype
# written in a .c file instead of its module's header, and a helper that should have
# been static and was declared somewhere by hand.
. tests/lib.sh
if ! command -v nm >/dev/null 2>&1; then
	skip exports "nm is missing (binutils)"
	done_testing
fi
n=0 bad=""
for o in "$BUILD"/base/*.o "$BUILD"/crypto/*.o "$BUILD"/policy/*.o "$BUILD"/fs/*.o \
    "$BUILD"/cli/*.o; do
	[ -f "$o" ] || continue
	for s in $(nm -g --defined-only "$o" | awk '$2 == "T" { print $3 }'); do
		[ "$s" = main ] && continue
		n=$((n + 1))
		grep -qE "(^|[^A-Za-z0-9_])$s\(" base/*.h crypto/*.h policy/*.h fs/*.h cli/*.h ||
		    bad="$bad ${o#"$BUILD"/}:$s"
	done
done
if [ "$n" -eq 0 ]; then
	notok "exports: the objects are built" "no object under $BUILD: run make first"
else
	check "all $n exported functions are declared in a header" [ -z "$bad" ]
	[ -z "$bad" ] || echo "# not in a header:$bad"
fi
done_testing
