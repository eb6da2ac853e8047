# tests/etcd.sh - a real 3-member etcd cluster for the fleet's tests. Source it after
# tests/lib.sh:
#   etcd_require NAME                     # SKIPPED (and exit 0) when etcd/etcdctl are missing
#   etcd_cluster_start [--tls] [--auth]   # 3 members on free loopback ports in $ETCD_DIR
#   etcd_member_stop I / etcd_member_kill I / etcd_member_start I    # I = 1..3
#   etcd_cluster_stop                     # every member, by pid (also run at exit)
#   etcdctl_root ARGS...                  # etcdctl on every endpoint, TLS and root auth
#   etcd_add_user NAME PASSWORD ROLE PREFIX readonly|readwrite
# After etcd_cluster_start: ETCD_ENDPOINTS (comma list of client URLs), ETCD_ENDPOINT1..3,
# ETCD_CA, ETCD_CERT, ETCD_KEY (PEM files; empty without --tls), ETCD_ROOT_PASSWORD (empty
# without --auth) and ETCD_ROOT_PASSWORD_FILE. ETCD_DIR defaults to $CSD/etcd, or $T/etcd
# without CSD; member I keeps its data, log and pid in $ETCD_DIR/I.{data,log,pid}. A
# second cluster in the same script needs its own ETCD_DIR.
#
# Startup is made quick for a test: heartbeats every 25 ms and elections after 250 ms
# (etcd wants the election timeout at least 5 heartbeats), instead of 100/1000 ms.
# --max-request-bytes is raised to 3 MiB so a test can write a value bigger than the
# 1.5 MiB default and check that a client with a small max_response refuses it. etcd
# 3.4 has no --unsafe-no-fsync (3.5 added it): the data folders are on /tmp.
# Passwords here are test passwords, so they may appear in etcdctl's argv.

ETCD_CA="" ETCD_CERT="" ETCD_KEY=""
# The members outlive a script killed by a signal unless its EXIT trap (tests/lib.sh's
# cleanup, which stops them) runs: a signal now exits through it. tests/run's timeout
# sends TERM; a closed pipe sends PIPE.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
ETCD_ROOT_PASSWORD="" ETCD_ROOT_PASSWORD_FILE=""
ETCD_ENDPOINTS=""
_etcd_started=""

# etcd_require NAME: ends the script with SKIPPED when etcd cannot be run here.
etcd_require() {
	for _b in etcd etcdctl openssl python3; do
		if ! command -v "$_b" >/dev/null 2>&1; then
			skip "$1" "$_b is not installed (sh scripts/install-deps)"
			exit 0
		fi
	done
}

# _etcd_ports N: N distinct free TCP ports on 127.0.0.1, one a line (the kernel's
# choice; a port can be taken again between this and etcd's bind: then the start fails
# and says so).
_etcd_ports() {
	python3 -c '
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ss.append(s)
for s in ss:
    print(s.getsockname()[1])
' "$1"
}

# _etcd_certs DIR: a CA, one certificate for all members (client and peer use, for
# 127.0.0.1 and localhost), and a client certificate, made now. The client certificate
# has no CommonName: with --client-cert-auth, etcd 3.4's JSON gateway refuses (HTTP 400,
# "CommonName of client sending a request against gateway will be ignored ...") any
# client certificate that has one (etcd PR 10366, CVE-2018-16886).
_etcd_certs() {
	_d=$1
	cat >"$_d/ext.cnf" <<'EOF2'
[server]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[client]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
EOF2
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	    -subj /CN=fleet-test-ca -keyout "$_d/ca.key" -out "$_d/ca.pem" 2>/dev/null &&
	for _n in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -subj "/O=fleet-test-$_n" -keyout "$_d/$_n.key" -out "$_d/$_n.csr" \
		    2>/dev/null &&
		openssl x509 -req -in "$_d/$_n.csr" -CA "$_d/ca.pem" -CAkey "$_d/ca.key" \
		    -CAcreateserial -days 2 -extfile "$_d/ext.cnf" -extensions "$_n" \
		    -out "$_d/$_n.pem" 2>/dev/null || return 1
	done
	chmod 0600 "$_d"/*.key
}

# etcdctl_root ARGS...: etcdctl against the cluster, with TLS and root when on.
etcdctl_root() {
	set -- --endpoints="$ETCD_ENDPOINTS" --dial-timeout=3s --command-timeout=10s "$@"
	[ -z "$ETCD_CA" ] || set -- --cacert="$ETCD_CA" --cert="$ETCD_CERT" --key="$ETCD_KEY" "$@"
	[ -z "$ETCD_ROOT_PASSWORD" ] || set -- --user="root:$ETCD_ROOT_PASSWORD" "$@"
	ETCDCTL_API=3 etcdctl "$@"
}

# _etcd_url I: member I's client URL.
_etcd_url() {
	case $1 in
	1) echo "$ETCD_ENDPOINT1" ;;
	2) echo "$ETCD_ENDPOINT2" ;;
	*) echo "$ETCD_ENDPOINT3" ;;
	esac
}
# _etcd_health I: 0 when member I answers a health check.
_etcd_health() {
	_ep=$(_etcd_url "$1")
	if [ -n "$ETCD_CA" ]; then
		ETCDCTL_API=3 etcdctl --endpoints="$_ep" --dial-timeout=300ms --command-timeout=2s \
		    --cacert="$ETCD_CA" --cert="$ETCD_CERT" --key="$ETCD_KEY" endpoint health
	else
		ETCDCTL_API=3 etcdctl --endpoints="$_ep" --dial-timeout=300ms --command-timeout=2s \
		    endpoint health
	fi
}

# _etcd_alive I: 0 while member I's process is there.
_etcd_alive() { [ -s "$ETCD_DIR/$1.pid" ] && kill -0 "$(cat "$ETCD_DIR/$1.pid")" 2>/dev/null; }
_etcd_gone() { ! _etcd_alive "$1"; }

# etcd_member_start I: starts member I (again) with the arguments of its first start.
etcd_member_start() {
	if _etcd_alive "$1"; then echo "etcd member $1 is already running" >&2; return 1; fi
	# shellcheck disable=SC2046 # the saved arguments hold no blanks (paths under /tmp)
	etcd $(cat "$ETCD_DIR/$1.args") >>"$ETCD_DIR/$1.log" 2>&1 &
	echo $! >"$ETCD_DIR/$1.pid"
}

# _etcd_wait_stopped I: polls until member I's process is gone (30 s), then SIGKILL.
_etcd_wait_stopped() {
	_pid=$(cat "$ETCD_DIR/$1.pid")
	if ! wait_until 30 _etcd_gone "$1"; then
		kill -KILL "$_pid" 2>/dev/null
		wait_until 10 _etcd_gone "$1" || { echo "etcd member $1 ($_pid) does not exit" >&2; return 1; }
	fi
	wait "$_pid" 2>/dev/null
	: >"$ETCD_DIR/$1.pid"
}
# etcd_member_stop I: SIGTERM (a clean stop), then waits.
etcd_member_stop() {
	_etcd_alive "$1" || return 0
	kill -TERM "$(cat "$ETCD_DIR/$1.pid")" 2>/dev/null
	_etcd_wait_stopped "$1"
}
# etcd_member_kill I: SIGKILL (a crash), then waits.
etcd_member_kill() {
	_etcd_alive "$1" || return 0
	kill -KILL "$(cat "$ETCD_DIR/$1.pid")" 2>/dev/null
	_etcd_wait_stopped "$1"
}
# etcd_member_wait I: polls until member I answers (30 s).
etcd_member_wait() { wait_until 30 _etcd_health "$1"; }

etcd_cluster_stop() {
	[ -n "$_etcd_started" ] || return 0
	for _i in 1 2 3; do
		[ -s "$ETCD_DIR/$_i.pid" ] && kill -TERM "$(cat "$ETCD_DIR/$_i.pid")" 2>/dev/null
	done
	for _i in 1 2 3; do [ -s "$ETCD_DIR/$_i.pid" ] && _etcd_wait_stopped "$_i"; done
	_etcd_started=""
}

# etcd_cluster_start [--tls] [--auth]: 3 members, waits (30 s) until each answers.
# Returns 1, showing the members' last words, when the cluster does not come up.
etcd_cluster_start() {
	_tls="" _auth=""
	for _a in "$@"; do
		case $_a in
		--tls) _tls=1 ;;
		--auth) _auth=1 ;;
		*) echo "etcd_cluster_start: unknown option $_a" >&2; return 1 ;;
		esac
	done
	ETCD_DIR=${ETCD_DIR:-${CSD:-$T}/etcd}
	if [ -e "$ETCD_DIR/1.data" ]; then
		echo "etcd_cluster_start: $ETCD_DIR holds a cluster already (set ETCD_DIR)" >&2
		return 1
	fi
	mkdir -p "$ETCD_DIR"
	chmod 0700 "$ETCD_DIR"
	_scheme=http
	if [ -n "$_tls" ]; then
		_etcd_certs "$ETCD_DIR" || { echo "etcd_cluster_start: openssl failed" >&2; return 1; }
		ETCD_CA=$ETCD_DIR/ca.pem ETCD_CERT=$ETCD_DIR/client.pem ETCD_KEY=$ETCD_DIR/client.key
		_scheme=https
	fi
	# shellcheck disable=SC2046
	set -- $(_etcd_ports 6)
	[ $# -eq 6 ] || { echo "etcd_cluster_start: no free ports" >&2; return 1; }
	_cluster="m1=http://127.0.0.1:$4,m2=http://127.0.0.1:$5,m3=http://127.0.0.1:$6"
	ETCD_ENDPOINT1=$_scheme://127.0.0.1:$1
	ETCD_ENDPOINT2=$_scheme://127.0.0.1:$2
	ETCD_ENDPOINT3=$_scheme://127.0.0.1:$3
	ETCD_ENDPOINTS=$ETCD_ENDPOINT1,$ETCD_ENDPOINT2,$ETCD_ENDPOINT3
	_token=cs-test-$$-$(date +%s%N)
	_etcd_started=1
	at_exit etcd_cluster_stop
	_peer1=$4 _peer2=$5 _peer3=$6
	for _i in 1 2 3; do
		case $_i in
		1) _cp=$ETCD_ENDPOINT1 _pp=$_peer1 ;;
		2) _cp=$ETCD_ENDPOINT2 _pp=$_peer2 ;;
		*) _cp=$ETCD_ENDPOINT3 _pp=$_peer3 ;;
		esac
		_cp=${_cp##*:}
		_args="--name m$_i --data-dir $ETCD_DIR/$_i.data
		    --listen-client-urls $_scheme://127.0.0.1:$_cp
		    --advertise-client-urls $_scheme://127.0.0.1:$_cp
		    --listen-peer-urls http://127.0.0.1:$_pp
		    --initial-advertise-peer-urls http://127.0.0.1:$_pp
		    --initial-cluster $_cluster --initial-cluster-token $_token
		    --initial-cluster-state new
		    --heartbeat-interval 25 --election-timeout 250
		    --max-request-bytes 3145728 --logger zap --log-level error"
		[ -z "$_tls" ] || _args="$_args --cert-file $ETCD_DIR/server.pem
		    --key-file $ETCD_DIR/server.key --trusted-ca-file $ETCD_CA --client-cert-auth"
		echo "$_args" >"$ETCD_DIR/$_i.args"
		etcd_member_start "$_i" || return 1
	done
	for _i in 1 2 3; do
		if ! etcd_member_wait "$_i"; then
			for _j in 1 2 3; do tail -n 5 "$ETCD_DIR/$_j.log" >&2; done
			return 1
		fi
	done
	if [ -n "$_auth" ]; then
		ETCD_ROOT_PASSWORD=root-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
		ETCD_ROOT_PASSWORD_FILE=$ETCD_DIR/root.password
		printf '%s\n' "$ETCD_ROOT_PASSWORD" >"$ETCD_ROOT_PASSWORD_FILE"
		chmod 0600 "$ETCD_ROOT_PASSWORD_FILE"
		_pw=$ETCD_ROOT_PASSWORD
		ETCD_ROOT_PASSWORD=""
		# etcdctl warns on stderr that root has no root role yet: it gets it by
		# being root; the log keeps the words.
		etcdctl_root user add "root:$_pw" >/dev/null 2>>"$ETCD_DIR/etcdctl.log" &&
		    etcdctl_root auth enable >/dev/null 2>>"$ETCD_DIR/etcdctl.log" || { ETCD_ROOT_PASSWORD=$_pw; return 1; }
		ETCD_ROOT_PASSWORD=$_pw
	fi
}

# etcd_add_user NAME PASSWORD ROLE PREFIX readonly|readwrite: a user whose one role may
# read (or read and write) every key starting with PREFIX.
etcd_add_user() {
	case $5 in
	readonly) _perm="read" ;;
	readwrite) _perm=readwrite ;;
	*) echo "etcd_add_user: $5 is not readonly or readwrite" >&2; return 1 ;;
	esac
	etcdctl_root role add "$3" >/dev/null &&
	    etcdctl_root role grant-permission "$3" "$_perm" "$4" --prefix=true >/dev/null &&
	    etcdctl_root user add "$1:$2" >/dev/null &&
	    etcdctl_root user grant-role "$1" "$3" >/dev/null
}
