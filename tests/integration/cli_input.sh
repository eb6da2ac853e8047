#!/bin/sh
# How the CLI reads a value: `set` from stdin (line ends, --raw, the size limit around
# the line end) and `import` of a .env file as a user writes one (the grammar itself is
# tests/test_dotenv.c; here, what ends up in the vault and what a refusal says).
. tests/lib.sh
cs_init
# getb PROVIDER FIELD: the stored value as od -c shows it, one line (a \r is visible).
getb() { csc get "$1" "$2" | od -An -c | tr -s ' \n' '  ' | sed 's/ *$//'; }

printf 'hunter2\r\n' | csc set db password
check "set drops one trailing CRLF, as it drops a trailing LF" \
	[ "$(getb db password)" = " h u n t e r 2" ]
printf 'hunter2\n' | csc set db lf
check "set drops one trailing LF" [ "$(getb db lf)" = " h u n t e r 2" ]
printf 'hunter2\r\n' | csc set --raw db raw
check "set --raw keeps a CRLF exactly" [ "$(getb db raw)" = ' h u n t e r 2 \r \n' ]
printf 'a\r\n\r\n' | csc set db twice
check "set drops only one line end" [ "$(getb db twice)" = ' a \r \n' ]
printf 'a\r' | csc set db cr
check "set keeps a lone trailing CR (not a line end)" [ "$(getb db cr)" = ' a \r' ]
printf 'COMFYVN_SECRET_DB_VIAENV=hunter2\r\n' >"$T/crlf.env"
csc import "$T/crlf.env" >/dev/null
check "set and import store the same CRLF line alike" [ "$(getb db viaenv)" = "$(getb db password)" ]

{ head -c 65536 /dev/zero; printf '\r\n'; } | csc set big crlf
check "a value of exactly 64 KiB followed by CRLF is accepted" \
	[ "$(csc get big crlf | wc -c)" -eq 65536 ]
{ head -c 65537 /dev/zero; printf '\r\n'; } | csc set big over 2>"$T/err"
rc=$?
check "64 KiB + 1 followed by CRLF is refused with status 1" [ "$rc" -eq 1 ]
check "the size error names the limit" grep -q "big/over is over the limit of 65536 bytes" "$T/err"
head -c 65537 /dev/zero | csc set big over 2>"$T/err"
check "64 KiB + 1 with no line end is refused the same way" \
	grep -q "big/over is over the limit of 65536 bytes" "$T/err"

done_testing
