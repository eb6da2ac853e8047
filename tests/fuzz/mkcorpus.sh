#!/bin/sh
# tests/fuzz/mkcorpus.sh - (re)make the seed corpora of the fuzz targets that need real
# files: vaults under the fixed test key (the one fuzz_vault.c and tests/test_bad.c use),
# the audit log and the state file those writes produced. The others are written by hand.
#
#	sh tests/fuzz/mkcorpus.sh [BUILD]	(default build; needs $BUILD/comfysecrets)
#
# The committed corpus is this script's output; re-running it changes the bytes (fresh
# nonces, timestamps) but not what the seeds cover.
set -eu
BUILD=${1:-build}
case $BUILD in /*) cli=$BUILD/comfysecrets ;; *) cli=$PWD/$BUILD/comfysecrets ;; esac
c=tests/fuzz/corpus
tmp=$(mktemp -d /tmp/cs-corpus.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$c/vault" "$c/audit" "$c/state"

export COMFYVN_SECRETS_KEY=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=
export COMFYVN_SECURITY_LOG_FILE="$tmp/audit.log"
export COMFYSECRETS_CONFIG=/dev/null/none
cs() { "$cli" --config "$tmp/none.ini" --vault "$tmp/vault.json" "$@"; }
: >"$tmp/none.ini"

cs init >/dev/null
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
cp "$tmp/vault.json.state" "$c/state/state"
seq=$(sed -n 's/.*"audit_seq": *\([0-9]*\).*/\1/p' "$tmp/vault.json.state")
hash=$(sed -n 's/.*"audit_hash": *"\([0-9a-f]*\)".*/\1/p' "$tmp/vault.json.state")
{ echo "#expect $seq $hash"; cat "$tmp/audit.log"; } >"$c/audit/expect"
ls -l "$c/vault" "$c/audit" "$c/state"
