#!/bin/sh
# Constant-time comparisons for keys and MACs: a lint over the sources.
#
# Fails when memcmp, strcmp, strncmp, bcmp or strcasecmp has an argument whose text
# names secret material (mac, tag, key bytes, subkeys, secrets' buffers, plaintext), and
# when the places that must compare in constant time stop doing so: the vault MAC, in
# both parsers (crypto_verify_32).
#
# Limits, plainly: it reads text, one line at a time. It cannot see a secret under an
# innocent name, a comparison through a wrapper or a loop that exits early, a branch on
# secret data, or a comparison spread over lines. Fingerprints, audit-chain hashes and
# names are public and are compared with strcmp on purpose. The AEAD tag is checked
# inside libsodium (constant time there). It is a cheap tripwire, not a proof.
. tests/lib.sh
SRC="crypto/*.c crypto/*.h policy/*.c policy/*.h cli/*.c fs/*.c"
# shellcheck disable=SC2086
hits=$(grep -nE '\b(memcmp|strn?cmp|bcmp|strn?casecmp)[[:space:]]*\(' $SRC |
    grep -iE '\(([^;]*[^a-z_])?(mac|tag|subkey|sk|bytes|secret|plain|plaintext|want|got|pt)\b' |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -z "$hits" ]; then
	ok "no memcmp/strcmp/strncmp/bcmp on key, MAC, tag or plaintext buffers"
else
	notok "no memcmp/strcmp/strncmp/bcmp on key, MAC, tag or plaintext buffers" \
	    "$(echo "$hits" | head -n 5 | tr '\n' ' ')"
fi
check "the vault MAC is compared with crypto_verify_32" \
	sh -c "grep -A40 '^check_mac' crypto/vaultparse.c | grep -q 'crypto_verify_32('"
check "the fast parser's MAC is compared with crypto_verify_32" \
	sh -c "grep -A80 '^vault_parse_fast' crypto/vaultparse.c | grep -q 'crypto_verify_32('"
# The lint must be able to fail: a planted line is caught.
printf 'int f(const unsigned char *mac, const unsigned char *want) { return memcmp(mac, want, 32); }\n' \
    >"$T/planted.c"
check "the lint catches a planted memcmp on a MAC" \
	sh -c "grep -nE '\\b(memcmp|strn?cmp|bcmp)[[:space:]]*\\(' '$T/planted.c' |
	    grep -iqE '\\(([^;]*[^a-z_])?(mac|tag|subkey|sk|bytes|secret|plain|plaintext|want|got|pt)\\b'"
done_testing
