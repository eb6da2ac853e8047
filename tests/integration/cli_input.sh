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

# import: the .env grammar of Docker Compose, end to end.
cat >"$T/key.pem" <<'EOF2'
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj
MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu
-----END PRIVATE KEY-----
EOF2
{
	printf '%s\n' '# rotated keys' \
	    'COMFYVN_SECRET_APP_PASSWORD=s3cr3t # rotated in May' \
	    'COMFYVN_SECRET_APP_USER="app" # note' \
	    "COMFYVN_SECRET_APP_LITERAL='\$OTHER \\n'" \
	    'export COMFYVN_SECRET_APP_JSON="{\"a\": \"b\\c\"}"'
	printf 'COMFYVN_SECRET_APP_TLS="'; cat "$T/key.pem"; printf '"\n'
	printf '%s\n' 'COMFYVN_SECRET_APP_HASH=abc#def'
	printf 'COMFYVN_SECRET_APP_CRLF=win\r\n'
	printf '%s\n' 'COMFYVN_SECRET_APP_PAD=  padded  '
} >"$T/app.env"
csc import "$T/app.env" >"$T/out" 2>"$T/err"
check "an inline comment after an unquoted value is not stored" [ "$(csc get app password)" = s3cr3t ]
check "quotes and a comment after them are not stored" [ "$(csc get app user)" = app ]
check "single quotes keep a dollar and a backslash as written" [ "$(csc get app literal)" = '$OTHER \n' ]
check "double quotes decode escaped quotes and backslashes (export prefix taken)" [ "$(csc get app json)" = '{"a": "b\c"}' ]
csc get app tls >"$T/tls.out"
check "a multi-line double-quoted PEM key reads back byte for byte" cmp "$T/key.pem" "$T/tls.out"
check "a # with no blank before it is part of the value" [ "$(csc get app hash)" = 'abc#def' ]
check "a CRLF line end is not part of the value" [ "$(getb app crlf)" = " w i n" ]
check "blanks around an unquoted value are dropped, as Compose does" [ "$(getb app pad)" = " p a d d e d" ]
check "and the drop is said on stderr, naming the line and never the value" \
	sh -c "grep -q 'app.env:13: note: blanks around the unquoted value of app/pad dropped' '$T/err' && ! grep -q padded '$T/err'"

cp "$CSD/vault.json" "$T/vault.before"
SECRET=unterminated-CANARY-7d1
# A value given as an operand: refused, saying why, never echoing it.
csc set app token "$SECRET" </dev/null 2>"$T/err"
check "set with a value operand: status 2, said why, the operand not shown" sh -c "[ $? -eq 2 ] &&
	grep -q 'set: takes no value operand: the value comes on stdin, never argv' '$T/err' &&
	! grep -q CANARY '$T/err'"
printf '{"new": {"a": "x"}}\n' >"$T/ok.json"
csc import "$T/ok.json" "$SECRET" 2>"$T/err"
check "import with a value operand: status 2, said why, the operand not shown" sh -c "[ $? -eq 2 ] &&
	grep -q 'import: takes one FILE and no value operand' '$T/err' && ! grep -q CANARY '$T/err'"
# A bad name in an import file: the file and where the name is are given.
printf '{"new": {"B": "x"}}\n' >"$T/bad.json"
csc import "$T/bad.json" 2>"$T/err"
check "a bad field name in a JSON import names the file and the provider" sh -c "[ $? -eq 1 ] &&
	grep -q 'bad.json: provider new: field \"B\": must match' '$T/err'"
printf '{"New": {"b": "x"}}\n' >"$T/bad.json"
csc import "$T/bad.json" 2>"$T/err"
check "a bad provider name in a JSON import names the file" sh -c "[ $? -eq 1 ] &&
	grep -q 'bad.json: provider \"New\": must match' '$T/err'"
printf 'COMFYVN_SECRET_NEW=x\n' >"$T/bad.env"
csc import "$T/bad.env" 2>"$T/err"
check "a .env name with no FIELD part says so, naming file and line" sh -c "[ $? -eq 1 ] &&
	grep -q 'bad.env:1: COMFYVN_SECRET_NEW: no FIELD part' '$T/err'"
printf 'COMFYVN_SECRET_NEW_A=fine\nCOMFYVN_SECRET_NEW_B="%s\nCOMFYVN_SECRET_NEW_C=x\n' "$SECRET" >"$T/bad.env"
csc import "$T/bad.env" >/dev/null 2>"$T/err"
rc=$?
check "an unterminated double quote is refused with status 1" [ "$rc" -eq 1 ]
check "the refusal names the file and the line where the quote opened" \
	grep -q "bad.env:2: the double-quoted value that starts here is never closed" "$T/err"
check "the refusal never shows the value" sh -c "! grep -q CANARY '$T/err'"
check "a refused import writes nothing, not even the good lines before" cmp "$CSD/vault.json" "$T/vault.before"
# WHAT|LINE 2: each refused by number, the value never shown.
for c in "\$NAME unquoted|COMFYVN_SECRET_NEW_D=pa\$word$SECRET" \
	"an unknown escape|COMFYVN_SECRET_NEW_D=\"$SECRET\\q\"" \
	"text after a quote|COMFYVN_SECRET_NEW_D='$SECRET' trailing" \
	"blanks only|COMFYVN_SECRET_NEW_D=   " \
	"a value alone|$SECRET"; do
	printf 'COMFYVN_SECRET_NEW_A=fine\n%s\n' "${c#*|}" >"$T/bad.env"
	csc import "$T/bad.env" >/dev/null 2>"$T/err"
	rc=$?
	check "${c%%|*}: refused, naming line 2 and not the value" \
		sh -c "[ $rc -eq 1 ] && grep -q 'bad.env:2: ' '$T/err' && ! grep -q CANARY '$T/err'"
done
check "no refused import wrote anything" cmp "$CSD/vault.json" "$T/vault.before"

# A .json import that is not JSON: jansson's reason is given, its quotes of the input
# (" near '...'", a byte as 0x..) are not.
for c in "a bare word|{\"new\": {\"a\": $SECRET}}|invalid token" \
	"a control byte|{\"new\": {\"a\": \"$SECRET$(printf '\033')\"}}|control character" \
	"a duplicate key|{\"new\": {\"a\": \"$SECRET\", \"a\": \"b\"}}|duplicate object key"; do
	printf '%s\n' "$(echo "$c" | cut -d'|' -f2)" >"$T/bad.json"
	csc import "$T/bad.json" >/dev/null 2>"$T/err"
	rc=$?
	check "JSON with ${c%%|*}: refused with jansson's reason, not the value" \
		sh -c "[ $rc -eq 1 ] && grep -q 'bad.json:1:[0-9]*: not valid JSON: ${c##*|}\$' '$T/err' &&
		    ! grep -q CANARY '$T/err' && ! grep -q 0x '$T/err'"
done
check "no refused JSON import wrote anything" cmp "$CSD/vault.json" "$T/vault.before"

done_testing
