#!/bin/sh
# Scale, printed and not asserted: a publish to 100 enrolled hosts (one real follower,
# 99 simulated recipients: host keys made, sealed to, never read) of a vault of 100 000
# fields (several 1 MiB chunks), and the fan-out time from the publish's return to the
# real follower having applied it. Asserted: the follower applies it and serves a value
# from it; the sealed keys went out in several transactions under etcd's 128-op limit.
. tests/lib.sh
. tests/etcd.sh
. tests/fleet_lib.sh
etcd_require fleet_scale
if ! etcd_cluster_start; then notok "the etcd cluster starts"; done_testing; fi
check "the admin makes its vault and signing key" fleet_admin
check "h1: host key made and enrolled" fleet_member h1
# 99 more recipients, written to the hosts file directly (one publish, not 99).
i=2
while [ $i -le 100 ]; do
	printf 'sim%03d %s\n' "$i" "$("$CS" fleet host-key "$T/admin/sim$i.key")"
	i=$((i + 1))
done >>"$T/admin/hosts"
sort -o "$T/admin/hosts" "$T/admin/hosts"
check "100 hosts enrolled" sh -c "[ \$(wc -l <'$T/admin/hosts') -eq 100 ]"
python3 -c '
import json, sys
json.dump({"p%03d" % p: {"f%03d" % f: "value-%d-%d" % (p, f) for f in range(1000)}
           for p in range(100)}, open(sys.argv[1], "w"))' "$T/big.json"
"$CS" --config "$T/admin/cs.ini" import "$T/big.json" 2>>"$T/admin/publish.log"
t0=$(now_ms)
fleet_follow h1
grep 'published fleet generation' "$T/admin/publish.log" | tail -n 1 | sed 's/^/# /'
g=$(fleet_admin_gen)
h1_at() { hst h1 fleet status | grep -q "\"generation\":$1,"; }
check "h1 applies the 100 000-field vault" wait_until 60 h1_at "$g"
echo "# fan-out: $(( $(now_ms) - t0 )) ms from the publish's return to h1 having applied it (its start included)"
check "h1's vault serves a value from it" sh -c "[ \"\$('$CS' --config '$T/h1/cs.ini' get p042 f042)\" = value-42-42 ]"
chunks=$(etcdctl_root get --prefix --keys-only "${FLEET_PREFIX}gen/" | grep -c '/chunk/')
keys=$(etcdctl_root get --prefix --keys-only "${FLEET_PREFIX}gen/" | grep -c '/key/')
echo "# in etcd: $chunks chunks, $keys sealed keys, vault $(wc -c <"$T/admin/vault.json") bytes"
check "the vault went out in several chunks" [ "$chunks" -gt 1 ]
check "every host got a sealed key" [ "$keys" -eq 100 ]
fleet_unfollow h1
done_testing
