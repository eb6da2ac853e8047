#!/bin/sh
# A hostile etcd, written with etcdctl as root, against a fleet of three members (real
# 3-member cluster, TLS, users with roles): an old manifest replayed, a forged and an
# unsigned manifest, garbage, an oversize value, a swapped chunk, swapped sealed keys,
# a manifest past not_after. Each is refused by every member, audited as
# fleet_update_refused with the reason, and the last good value stays served; once
# etcd holds the real generation whole again, it is applied.
. tests/lib.sh
. tests/etcd.sh
. tests/fleet_lib.sh
etcd_require fleet_hostile
fs_require fleet_hostile
fleet_setup3 fleet_hostile --tls --auth
printf 'steady' | adm set app token 2>>"$T/admin/publish.log"
for h in h1 h2 h3; do wait_until 30 serves "$h" app/token steady; done

# --- the hostile engine ---
MK=${FLEET_PREFIX}manifest
etcdctl_root get --print-value-only "$MK" | head -c -1 >"$T/good.manifest"
refused_on_all() {	# REASON: each member audited a refusal with REASON since the mark
	for h in h1 h2 h3; do
		tail -n +"$(cat "$T/$h/mark")" "$T/$h/audit.log" | grep fleet_update_refused |
		    grep -q "$1" || return 1
	done
}
mark() { for h in h1 h2 h3; do echo $(( $(wc -l <"$T/$h/audit.log") + 1 )) >"$T/$h/mark"; done; }
still_served() { serves h1 app/token steady && serves h2 app/token steady && serves h3 app/token steady; }
hostile() {	# NAME REASON: the value on stdin becomes the manifest
	mark
	etcdctl_root put "$MK" >/dev/null
	check "hostile $1: refused and audited on every member (\"$2\")" wait_until 30 refused_on_all "$2"
	check "hostile $1: the last good value is still served" still_served
}
sed 's/^generation [0-9]*/generation 999999/' "$T/good.manifest" |
	hostile "forged manifest" "signature does not verify"
h1_says_forged() { hst h1 fleet status | grep '"stale":true' |
	grep -q '"detail":"update refused: [^"]*signature does not verify'; }
check "hostile forged manifest: h1's status says stale, and why" wait_until 30 h1_says_forged
head -n -1 "$T/good.manifest" | hostile "unsigned manifest" "unsigned"
printf 'garbage\001\377' | hostile "garbage" "unsigned"
head -c 2000000 /dev/zero | tr '\0' 'A' | hostile "oversize value (2 MB)" "larger than"
hostile "old manifest replayed" "is not above generation" <"$FIRST_MANIFEST"

# Swapped parts of a new generation: published while the followers are stopped, then
# changed in etcd before they start again.
for h in h1 h2 h3; do fleet_unfollow "$h"; done
printf 'next' | adm set app token 2>>"$T/admin/publish.log"
g=$(fleet_admin_gen)
G=$(printf '%020d' "$g")
C0=${FLEET_PREFIX}gen/$G/chunk/000000
etcdctl_root get --print-value-only "$C0" | head -c -1 >"$T/chunk0"
for h in h1 h2 h3; do
	etcdctl_root get --print-value-only "${FLEET_PREFIX}gen/$G/key/$h" | head -c -1 >"$T/sealed.$h"
done
check "the saved chunk is the admin's vault" cmp -s "$T/chunk0" "$T/admin/vault.json"
sed 's/"generation"/"generatioN"/' "$T/chunk0" | etcdctl_root put "$C0" >/dev/null
mark
for h in h1 h2 h3; do fleet_follow "$h"; done
check "hostile swapped chunk: refused and audited on every member" \
	wait_until 30 refused_on_all "chunk 0: hash differs"
check "hostile swapped chunk: the last good value is still served" still_served
etcdctl_root put "$C0" <"$T/chunk0" >/dev/null
etcdctl_root put "${FLEET_PREFIX}gen/$G/key/h1" <"$T/sealed.h2" >/dev/null
etcdctl_root put "${FLEET_PREFIX}gen/$G/key/h2" <"$T/sealed.h3" >/dev/null
etcdctl_root put "${FLEET_PREFIX}gen/$G/key/h3" <"$T/sealed.h1" >/dev/null
mark
etcdctl_root get --print-value-only "$MK" | head -c -1 | etcdctl_root put "$MK" >/dev/null
check "hostile swapped sealed keys: refused and audited on every member" \
	wait_until 30 refused_on_all "hash differs from the manifest"
check "hostile swapped sealed keys: the last good value is still served" still_served
for h in h1 h2 h3; do
	etcdctl_root put "${FLEET_PREFIX}gen/$G/key/$h" <"$T/sealed.$h" >/dev/null
done
etcdctl_root get --print-value-only "$MK" | head -c -1 | etcdctl_root put "$MK" >/dev/null
for h in h1 h2 h3; do
	check "$h: the generation applies once etcd holds it whole again" \
	    wait_until 30 serves "$h" app/token next
done

# A manifest past not_after: published with a lifetime of one second while the
# followers are stopped, and read after it has passed.
for h in h1 h2 h3; do fleet_unfollow "$h"; done
cp "$T/admin/cs.ini" "$T/admin/short.ini"
echo "lifetime = 1s" >>"$T/admin/short.ini"
printf 'expired' | "$CS" --config "$T/admin/short.ini" set app token 2>>"$T/admin/publish.log"
na=$(etcdctl_root get --print-value-only "$MK" | sed -n 's/^not_after //p')
wait_until 30 sh -c "[ \$(date +%s) -gt $na ]"
mark
for h in h1 h2 h3; do fleet_follow "$h"; done
check "hostile manifest past not_after: refused and audited on every member" \
	wait_until 30 refused_on_all "expired"
for h in h1 h2 h3; do
	check "$h: past not_after, the last good value is still served" serves "$h" app/token next
done
printf 'fresh' | adm set app token 2>>"$T/admin/publish.log"
for h in h1 h2 h3; do
	check "$h: a fresh manifest applies after the expired one" wait_until 30 serves "$h" app/token fresh
done
check "applied updates are audited with generation and fingerprint" \
	sh -c "grep fleet_update_applied '$T/h1/audit.log' | tail -n 1 | grep '\"fingerprint\"' | grep -q 'generation [0-9]'"

for h in h1 h2 h3; do fleet_unfollow "$h"; done
done_testing
