#!/bin/sh
# tests/fuzz/mkcorpus.sh - (re)make the seed corpora of the fuzz targets that need real
# files: vaults under the fixed test key (the one fuzz_vault.c and tests/test_bad.c use),
# the audit log and the state file those writes produced. The others are written by hand.
#
#	sh tests/fuzz/mkcorpus.sh [BUILD]	(default build; needs $BUILD/comfysecrets)
#
# The committed corpus is this script's output; re-running it changes the bytes (fresh
# nonces, timestamps) but not what the seeds cover. The vault seeds named v1-*.json
# are not remade: the build before vault format 2 wrote them, and they keep the reading
# of old vaults covered (as does tests/fixtures/vault-v1.json).
set -eu
BUILD=${1:-build}
case $BUILD in /*) cli=$BUILD/comfysecrets ;; *) cli=$PWD/$BUILD/comfysecrets ;; esac
c=tests/fuzz/corpus
tmp=$(mktemp -d /tmp/cs-corpus.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$c/vault" "$c/audit" "$c/state"

# init takes the fixed key from the environment; the writers after it from the key file.
cat >"$tmp/cs.ini" <<EOF
[vault]
path = $tmp/vault.json
key_file = $tmp/key
state_dir = $tmp/floor
[audit]
path = $tmp/audit.log
EOF
cs() { "$cli" --config "$tmp/cs.ini" "$@"; }

COMFYVN_SECRETS_KEY=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= cs init >/dev/null
(umask 077 && echo AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= >"$tmp/key")
cp "$tmp/vault.json" "$c/vault/empty.json"
printf 'seed-value-1' | cs set runpod api_key
cp "$tmp/vault.json" "$c/vault/one.json"
printf 'https://example.invalid/v1' | cs set runpod endpoint
printf '\000\001\002binary\377' | cs set --raw openai.eu api_key
printf 'x' | cs set a-b_c.d 0
printf '' | cs set --raw empty value 2>/dev/null || true
cp "$tmp/vault.json" "$c/vault/several.json"
cs get runpod api_key >/dev/null
cs rm a-b_c.d
cs check blocked.example 443 >/dev/null 2>&1 || true
cp "$tmp/vault.json" "$c/vault/removed.json"
cp "$tmp/audit.log" "$c/audit/log"
head -n 2 "$tmp/audit.log" >"$c/audit/two"
cp "$tmp"/floor/*.state "$c/state/state"
seq=$(sed -n 's/.*"audit_seq": *\([0-9]*\).*/\1/p' "$tmp"/floor/*.state)
hash=$(sed -n 's/.*"audit_hash": *"\([0-9a-f]*\)".*/\1/p' "$tmp"/floor/*.state)
{ echo "#expect $seq $hash"; cat "$tmp/audit.log"; } >"$c/audit/expect"
ls -l "$c/vault" "$c/audit" "$c/state"
