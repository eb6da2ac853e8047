#!/bin/sh
# The etcd client with TLS (a CA and a client certificate, made by openssl now) and
# etcd's authentication on: a read-write and a read-only user on /fleet/; the read-only
# user cannot write or read outside its prefix; a wrong password, no user, a password
# file others can read, no client certificate and a wrong CA are each refused with an
# error saying so; a token from a killed member is replaced by a new one, for requests
# and for a watch.
. tests/lib.sh
. tests/etcd.sh
etcd_require etcd_tls_auth
ET=$TOP/$BUILD/tests/tools/etcdtool
[ -x "$ET" ] || { notok "etcdtool is built" "make $BUILD/tests/tools/etcdtool"; done_testing; }
if ! etcd_cluster_start --tls --auth; then notok "the TLS cluster with auth starts"; done_testing; fi
ok "the TLS cluster with auth starts"
case $ETCD_ENDPOINTS in https://*) ok "its endpoints are https" ;; *) notok "its endpoints are https" ;; esac
export ETCD_ENDPOINTS ETCD_CA ETCD_CERT ETCD_KEY ETCDTOOL_USER ETCDTOOL_PASSWORD_FILE
ETCDTOOL_TIMEOUT_MS=2000
export ETCDTOOL_TIMEOUT_MS
etcd_add_user fleetadmin "pw-admin-$$" fleet-rw /fleet/ readwrite || notok "add the read-write user"
etcd_add_user fleethost "pw-host-$$" fleet-ro /fleet/ readonly || notok "add the read-only user"
printf 'pw-admin-%s\n' "$$" >"$T/admin.pw"
printf 'pw-host-%s\n' "$$" >"$T/host.pw"
printf 'not-the-password\n' >"$T/bad.pw"
chmod 600 "$T/admin.pw" "$T/host.pw" "$T/bad.pw"
as_admin() { ETCDTOOL_USER=fleetadmin ETCDTOOL_PASSWORD_FILE=$T/admin.pw "$ET" "$@"; }
as_host() { ETCDTOOL_USER=fleethost ETCDTOOL_PASSWORD_FILE=$T/host.pw "$ET" "$@"; }
has() { grep -q "$2" "$1" 2>/dev/null; }
ended() { ! kill -0 "$1" 2>/dev/null; }
reap() {
	wait_until 30 ended "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1"
}

as_admin put /fleet/a one >"$T/o" 2>&1
check "the read-write user writes under its prefix over TLS" grep -q '^rev ' "$T/o"
as_host get /fleet/a >"$T/o" 2>&1
check "the read-only user reads it" grep -q '^/fleet/a=one ' "$T/o"
as_host put /fleet/a two >"$T/o" 2>&1
check "the read-only user cannot write: EPERM naming endpoint, request and reason" \
    grep -q 'EPERM: etcd https://127.0.0.1:[0-9]*: put /fleet/a: etcdserver: permission denied' "$T/o"
as_host cas /fleet/a 0 two >"$T/o" 2>&1
check "nor write in a txn" grep -q 'EPERM: etcd https://127.0.0.1:[0-9]*: txn on /fleet/a: etcdserver: permission denied' "$T/o"
as_host get /other >"$T/o" 2>&1
check "nor read outside its prefix" grep -q 'EPERM: .*range /other: etcdserver: permission denied' "$T/o"
as_admin get /fleet/a >"$T/o" 2>&1
check "the value is unchanged" grep -q '^/fleet/a=one ' "$T/o"
as_host watch /other 1 1 >"$T/o" 2>&1
check "a watch outside its prefix ends at once as EPERM" \
    grep -q 'EPERM: etcd https://127.0.0.1:[0-9]*: watch /other: .*permission denied' "$T/o"

ETCDTOOL_USER=fleethost ETCDTOOL_PASSWORD_FILE=$T/bad.pw "$ET" get /fleet/a >"$T/o" 2>&1
check "a wrong password is refused as EACCES, saying so" \
    grep -q 'EACCES: etcd https://127.0.0.1:[0-9]*: authenticate user fleethost: etcd refused the user name or password' "$T/o"
check "and the password is not echoed" sh -c "! grep -q 'not-the-password' '$T/o'"
"$ET" get /fleet/a >"$T/o" 2>&1
check "no user at all: EACCES saying etcd wants one" grep -q 'EACCES: .*(etcd wants a user: none is configured)' "$T/o"
chmod 644 "$T/host.pw"
as_host get /fleet/a >"$T/o" 2>&1
check "a password file others can read is refused before anything is sent" \
    grep -q "EACCES: $T/host.pw: etcd password file is readable by others (mode 644)" "$T/o"
chmod 600 "$T/host.pw"
ETCD_CERT="" ETCD_KEY="" as_host get /fleet/a >"$T/o" 2>&1
check "without a client certificate the TLS handshake fails on every endpoint" \
    grep -q 'EHOSTUNREACH: etcd https://127.0.0.1:[0-9]*: .*(all 3 endpoints failed)' "$T/o"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=other-ca -keyout "$T/other.key" -out "$T/other.pem" 2>/dev/null
ETCD_CA=$T/other.pem as_host get /fleet/a >"$T/o" 2>&1
check "a CA that did not sign the members: the certificate check fails" \
    grep -q 'EHOSTUNREACH: etcd https://127.0.0.1:[0-9]*: .*(all 3 endpoints failed)' "$T/o"

# A simple token lives in the member that issued it: a client moving to another member
# after a kill meets "invalid auth token" there and must authenticate again, once.
as_admin put /fleet/w0 start >"$T/w0" 2>&1
W0=$(sed -n 's/^rev //p' "$T/w0")
as_host watch /fleet/w "$((W0 + 1))" 2 >"$T/wk" 2>&1 &
WK=$!
at_exit "kill $WK"
wait_until 30 has "$T/wk" '^SYNCED' || notok "the read-only user's watch starts"
as_admin put /fleet/w1 one >/dev/null 2>&1 || notok "put /fleet/w1"
wait_until 30 has "$T/wk" '^PUT /fleet/w1=one' || notok "the watch sees w1"
etcd_member_kill 1
_put2() { ETCD_ENDPOINTS=$ETCD_ENDPOINT2,$ETCD_ENDPOINT3 as_admin cas /fleet/w2 0 two >"$T/o2" 2>&1 &&
    grep -Eq '^(won|lost)' "$T/o2"; }
wait_until 30 _put2 || notok "put /fleet/w2 after member 1's death" "$(cat "$T/o2")"
reap "$WK"
rc=$?
check "the watch moved to another member, authenticated again and saw w2" \
    sh -c "[ $rc -eq 0 ] && grep -q '^PUT /fleet/w2=two' '$T/wk'"
done_testing
