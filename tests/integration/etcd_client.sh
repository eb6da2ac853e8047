#!/bin/sh
# The etcd client (fleet/etcd.c) against a real 3-member etcd cluster (tests/etcd.sh),
# driven by tests/tools/etcdtool: get, prefix get, put, txn compare-and-swap won and
# lost, too many txn ops; a watch that delivers puts in order, resumes from a revision
# and reports a compacted one; a killed member: the watch moves on and misses nothing;
# two of three stopped: requests fail with a clear error within their timeout and the
# hasleader watch ends "no leader"; quorum back: requests work again; an answer larger
# than max_response is refused by name.
. tests/lib.sh
. tests/etcd.sh
etcd_require etcd_client
ET=$TOP/$BUILD/tests/tools/etcdtool
[ -x "$ET" ] || { notok "etcdtool is built" "make $BUILD/tests/tools/etcdtool"; done_testing; }
if ! etcd_cluster_start; then notok "the 3-member cluster starts"; done_testing; fi
ok "the 3-member cluster starts"
export ETCD_ENDPOINTS ETCD_CA ETCD_CERT ETCD_KEY
ETCDTOOL_TIMEOUT_MS=2000
export ETCDTOOL_TIMEOUT_MS
# rev_of OUT: the revision a put/cas printed.
rev_of() { sed -n 's/^\(won \)\{0,1\}rev \([0-9]*\)$/\2/p' "$1"; }
# puts FILE N: FILE holds N PUT lines.
puts() { [ "$(grep -c '^PUT ' "$1" 2>/dev/null)" -ge "$2" ]; }
has() { grep -q "$2" "$1" 2>/dev/null; }
# ended PID: the process is gone.
ended() { ! kill -0 "$1" 2>/dev/null; }
# reap PID: its exit status once it ended (30 s), else SIGKILL and 137.
reap() {
	wait_until 30 ended "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1"
}
# kput KEY VALUE: writes a new key through members 2 and 3, again while they elect a
# leader after member 1's death (a cas on absence: a retry after an unknown outcome
# cannot write twice).
_kput() {
	ETCD_ENDPOINTS=$ETCD_ENDPOINT2,$ETCD_ENDPOINT3 "$ET" cas "$1" 0 "$2" >"$T/kput" 2>&1
	grep -Eq '^(won|lost)' "$T/kput"
}
kput() { wait_until 30 _kput "$1" "$2" || notok "put $1" "$(cat "$T/kput")"; }

# --- get, put, prefix, txn ---
"$ET" put /t/a one >"$T/p1" && "$ET" put /t/b two >"$T/p2" && "$ET" put /u/c three >/dev/null
"$ET" get /t/a >"$T/g" 2>&1
check "put then get reads the value" grep -qx '/t/a=one mod=[0-9]* ver=1' "$T/g"
"$ET" getp /t/ >"$T/g" 2>&1
check "a prefix get lists its keys in order and nothing else" \
    sh -c "[ \"\$(sed 1d '$T/g' | cut -d= -f1 | tr '\n' ' ')\" = '/t/a /t/b ' ]"
"$ET" get /t/none >"$T/g" 2>&1
check "a missing key reads as no key, without error" sh -c "[ \$(wc -l <'$T/g') -eq 1 ]"

"$ET" cas /t/new 0 first >"$T/c1" 2>&1
check "cas on an absent key (revision 0) wins" grep -q '^won rev ' "$T/c1"
"$ET" cas /t/new 0 second >"$T/c2" 2>&1
check "a second cas expecting absence loses" grep -qx lost "$T/c2"
"$ET" cas /t/new "$(rev_of "$T/p1")" third >"$T/c3" 2>&1
check "cas with a wrong revision loses" grep -qx lost "$T/c3"
"$ET" cas /t/new "$(rev_of "$T/c1")" fourth >"$T/c4" 2>&1
check "cas with the current revision wins" grep -q '^won rev ' "$T/c4"
"$ET" get /t/new >"$T/g" 2>&1
check "the losers wrote nothing" grep -q '^/t/new=fourth mod=' "$T/g"
"$ET" txnput 129 /many/ >"$T/m" 2>&1
check "a txn over --max-txn-ops is refused as E2BIG" grep -q 'E2BIG: etcd http://127.0.0.1:[0-9]*: txn on /many/0: etcdserver: too many operations' "$T/m"
"$ET" getp /many/ >"$T/g" 2>&1
check "and wrote nothing" sh -c "[ \$(wc -l <'$T/g') -eq 1 ]"

# --- watch: order, resume, compaction ---
for i in 1 2 3 4 5; do "$ET" put "/w/$i" "v$i" >"$T/w$i" || notok "put /w/$i"; done
R1=$(rev_of "$T/w1") R3=$(rev_of "$T/w3") R4=$(rev_of "$T/w4")
timeout 30 "$ET" watch /w/ "$R1" 5 >"$T/wa" 2>&1
check "a watch from a revision delivers the puts in order, each once" \
    sh -c "[ \"\$(grep '^PUT ' '$T/wa' | cut -d' ' -f2 | tr '\n' ' ')\" = '/w/1=v1 /w/2=v2 /w/3=v3 /w/4=v4 /w/5=v5 ' ]"
timeout 30 "$ET" watch /w/ "$R3" 3 >"$T/wb" 2>&1
check "a watch resumed from revision N starts at N" \
    sh -c "[ \"\$(grep '^PUT ' '$T/wb' | cut -d' ' -f2 | tr '\n' ' ')\" = '/w/3=v3 /w/4=v4 /w/5=v5 ' ]"
etcdctl_root compact "$R4" >/dev/null 2>&1 || notok "etcdctl compact $R4"
timeout 30 "$ET" watch /w/ "$R1" 5 >"$T/wc" 2>&1
rc=$?
check "a watch from a compacted revision fails with ENODATA and the oldest kept" \
    sh -c "[ $rc -eq 1 ] && grep -q 'ENODATA: etcd http://127.0.0.1:[0-9]*: watch /w/: revision $R1 was compacted (oldest kept: $R4)' '$T/wc' && grep -qx 'compact $R4' '$T/wc'"
timeout 30 "$ET" watch /w/ "$R4" 2 >"$T/wd" 2>&1
check "from the compaction revision on, the watch works" \
    sh -c "[ \"\$(grep '^PUT ' '$T/wd' | cut -d' ' -f2 | tr '\n' ' ')\" = '/w/4=v4 /w/5=v5 ' ]"

# --- a member killed under a watch: it moves on and misses nothing ---
"$ET" put /k/0 start >"$T/k0"
K0=$(rev_of "$T/k0")
# The watch starts on member 1 (the first endpoint); the writer uses members 2 and 3.
"$ET" watch /k/ "$((K0 + 1))" 10 >"$T/wk" 2>&1 &
WK=$!
at_exit "kill $WK"
wait_until 30 has "$T/wk" '^SYNCED' || notok "the watch starts"
for i in 1 2 3 4 5; do kput "/k/$i" "v$i"; done
wait_until 30 puts "$T/wk" 5 || notok "the first 5 puts reach the watch"
etcd_member_kill 1
for i in 6 7 8 9 10; do kput "/k/$i" "v$i"; done
reap "$WK"
rc=$?
check "member 1 killed: the watch exits 0 after its 10 events" [ "$rc" -eq 0 ]
check "it saw all 10 puts, in order, each once" \
    sh -c "[ \"\$(grep '^PUT ' '$T/wk' | cut -d' ' -f2 | tr '\n' ' ')\" = '/k/1=v1 /k/2=v2 /k/3=v3 /k/4=v4 /k/5=v5 /k/6=v6 /k/7=v7 /k/8=v8 /k/9=v9 /k/10=v10 ' ]"
check "it said it lost member 1, by name" grep -q "^LOST E[A-Z]*: etcd $ETCD_ENDPOINT1: watch /k/" "$T/wk"
"$ET" get /k/10 >"$T/g" 2>&1
check "a get with member 1 dead is answered by another" grep -q '^/k/10=v10 ' "$T/g"
etcd_member_start 1
etcd_member_wait 1 || notok "member 1 comes back"

# --- an answer over max_response ---
# A 2.5 MB entry is slow to commit on a loaded machine: 30 s is a hang guard here.
ETCDTOOL_TIMEOUT_MS=30000
"$ET" putsize /big 2500000 >"$T/b" 2>&1 || notok "a 2.5 MB value is written" "$(cat "$T/b")"
RB=$(rev_of "$T/b")
ETCDTOOL_MAX_RESPONSE=1000000 "$ET" get /big >"$T/g" 2>&1
rc=$?
check "an answer over max_response is refused as EFBIG, naming endpoint and request" \
    sh -c "[ $rc -eq 1 ] && grep -q 'EFBIG: etcd http://127.0.0.1:[0-9]*: range /big: answer larger than 1000000 bytes (max_response)' '$T/g'"
ETCDTOOL_MAX_RESPONSE=1000000 timeout 30 "$ET" watch /big "$RB" 1 >"$T/g" 2>&1
rc=$?
check "a watch message over max_response ends the watch as EFBIG" \
    sh -c "[ $rc -eq 1 ] && grep -q 'EFBIG: etcd http://127.0.0.1:[0-9]*: watch /big: watch message larger than 1000000 bytes' '$T/g'"
"$ET" get /big >"$T/g" 2>&1
check "with the default max_response the same value is read" grep -q '^/big=x* mod=' "$T/g"
"$ET" putsize /big 3500000 >"$T/g" 2>&1
check "a value over etcd's --max-request-bytes is refused as EMSGSIZE" \
    grep -q 'EMSGSIZE: etcd http://127.0.0.1:[0-9]*: put /big: etcdserver: request is too large' "$T/g"

# --- no quorum: two of three members stopped ---
ETCDTOOL_TIMEOUT_MS=2000
"$ET" put /q/a 1 >"$T/q0"
Q0=$(rev_of "$T/q0")
"$ET" watch /q/ "$((Q0 + 1))" 0 1 >"$T/wq" 2>&1 &
WQ=$!
at_exit "kill $WQ"
wait_until 30 has "$T/wq" '^SYNCED' || notok "the quorum watch starts"
etcd_member_stop 2
etcd_member_stop 3
reap "$WQ"
rc=$?
check "without quorum the watch is told: exit 3 after its first LOST" [ "$rc" -eq 3 ]
check "and the reason is no leader, from member 1" \
    grep -q "^LOST EAGAIN: etcd $ETCD_ENDPOINT1: watch /q/: etcdserver: no leader" "$T/wq"
t0=$(now_ms)
timeout 30 "$ET" get /q/a >"$T/g" 2>&1
rc=$?
echo "# get without quorum failed after $(( $(now_ms) - t0 )) ms (timeout_ms 2000, 3 endpoints)"
check "a get without quorum fails, naming the endpoints' reason" \
    sh -c "[ $rc -eq 1 ] && grep -Eq '(EAGAIN|ETIMEDOUT): etcd http://127.0.0.1:[0-9]*: range /q/a: .*(all 3 endpoints failed)' '$T/g'"
timeout 30 "$ET" put /q/a 2 >"$T/g" 2>&1
rc=$?
check "a put without quorum fails (no leader, or outcome unknown)" \
    sh -c "[ $rc -eq 1 ] && grep -Eq 'E(AGAIN|TIMEDOUT): etcd http://127.0.0.1:[0-9]*: put /q/a: ' '$T/g'"
timeout 30 "$ET" reachable >"$T/g" 2>&1
check_fails "etcd_reachable says no" [ "$(cat "$T/g" | head -c 9)" = reachable ]
etcd_member_start 2
etcd_member_start 3
wait_until 30 "$ET" reachable || notok "quorum comes back"
"$ET" get /q/a >"$T/g" 2>&1
check "quorum back: a get works again" grep -q '^/q/a=' "$T/g"
done_testing
