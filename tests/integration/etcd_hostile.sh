#!/bin/sh
# The etcd client against a hostile engine: a fake gateway (python3, below) answers a
# 100 MB body, garbage, a body that is not JSON, nothing at all, and watch streams that
# turn to garbage or grow without end. Each is refused with its named error, within the
# request's timeout, and the client's memory stays bounded by max_response. Then a real
# member stopped with SIGSTOP under a watch (its TCP connections stay open and silent):
# the watch's probe leaves it and the watch misses nothing.
. tests/lib.sh
. tests/etcd.sh
etcd_require etcd_hostile
ET=$TOP/$BUILD/tests/tools/etcdtool
[ -x "$ET" ] || { notok "etcdtool is built" "make $BUILD/tests/tools/etcdtool"; done_testing; }
has() { grep -q "$2" "$1" 2>/dev/null; }
ended() { ! kill -0 "$1" 2>/dev/null; }
reap() {
	wait_until 40 ended "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1"
}

cat >"$T/fake.py" <<'PY'
import base64, http.server, json, sys, time

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def head(self, length=None):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
    def send(self, body):
        self.head(len(body))
        self.wfile.write(body)
    def flood(self, prefix):
        try:
            self.wfile.write(prefix)
            chunk = b"A" * 65536
            for _ in range(1600):           # 100 MiB
                self.wfile.write(chunk)
        except OSError:
            pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(n) or b"{}")
        if self.path == "/v3/maintenance/status":
            return self.send(b'{"header":{"revision":"1"},"leader":"7"}')
        req = body.get("create_request", body)
        key = base64.b64decode(req.get("key", "")).decode()
        if key == "/huge":
            self.head(100 << 20)
            self.flood(b"")
        elif key == "/garbage":
            self.send(b'{"header":{"revision":"1"},"kvs":[{"key":"!!!"}]}')
        elif key == "/empty":
            self.send(b"")
        elif key == "/notjson":
            self.send(b"<html>hello</html>")
        elif key == "/hang":
            time.sleep(20)
        elif key == "/wgarbage/":
            self.head()
            self.wfile.write(b'{"result":{"header":{"revision":"1"},"created":true}}\n')
            self.wfile.write(b'{"result":{"header":{"revision":"2"}}}\nrm -rf /\n')
            self.wfile.flush()
            time.sleep(5)
        elif key == "/whuge/":
            self.head()
            self.wfile.write(b'{"result":{"header":{"revision":"1"},"created":true}}\n')
            self.flood(b'{"result":{"header":{"revision":"2"},"events":[{"kv":{"key":"L3doL2E=","value":"')
        else:
            self.send(b'{"header":{"revision":"1"}}')

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
open(sys.argv[1] + ".tmp", "w").write(str(srv.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
PY
python3 "$T/fake.py" "$T/port" &
FAKE=$!
at_exit "kill $FAKE"
wait_until 30 test -s "$T/port" || { notok "the fake gateway starts"; done_testing; }
FAKE_URL=http://127.0.0.1:$(cat "$T/port")
# fake ARGS...: etcdtool against the fake gateway only; prints the peak RSS (KiB) of it
# on the last line of $T/rss.
fake() {
	ETCD_ENDPOINTS=$FAKE_URL ETCD_CA="" ETCD_CERT="" ETCD_KEY="" python3 -c '
import resource, subprocess, sys
rc = subprocess.run(sys.argv[2:]).returncode
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$T/rss" "$ET" "$@"
}

ETCDTOOL_MAX_RESPONSE=16777216 fake get /huge >"$T/o" 2>&1
rc=$?
check "a 100 MB answer is refused as EFBIG, naming endpoint and request" \
    sh -c "[ $rc -eq 1 ] && grep -q 'EFBIG: etcd $FAKE_URL: range /huge: answer larger than 16777216 bytes (max_response)' '$T/o'"
echo "# peak RSS of the client refusing 100 MB with max_response 16 MiB: $(cat "$T/rss") KiB"
check "and the client never held it (peak RSS under 96 MiB)" [ "$(cat "$T/rss")" -lt 98304 ]
fake get /notjson >"$T/o" 2>&1
check "an answer that is not JSON is EBADMSG" grep -q "EBADMSG: etcd $FAKE_URL: range /notjson: answer is not JSON" "$T/o"
fake get /empty >"$T/o" 2>&1
check "an empty answer is EBADMSG" grep -q "EBADMSG: etcd $FAKE_URL: range /empty: answer is not JSON" "$T/o"
fake get /garbage >"$T/o" 2>&1
check "a key that is not base64 is EBADMSG" grep -q "EBADMSG: etcd $FAKE_URL: range /garbage: kvs\[0\] is not a valid key-value" "$T/o"
t0=$(now_ms)
ETCDTOOL_TIMEOUT_MS=1000 fake get /hang >"$T/o" 2>&1
echo "# a get on a gateway that never answers failed after $(( $(now_ms) - t0 )) ms (timeout_ms 1000)"
check "a gateway that never answers: ETIMEDOUT" grep -q "ETIMEDOUT: etcd $FAKE_URL: range /hang: Operation timed out" "$T/o"
ETCDTOOL_TIMEOUT_MS=1000 fake put /hang x >"$T/o" 2>&1
check "a write sent and never answered says its outcome is unknown" \
    grep -q "ETIMEDOUT: etcd $FAKE_URL: put /hang: .*; outcome unknown" "$T/o"
ETCDTOOL_TIMEOUT_MS=1000 fake watch /wgarbage/ 1 5 >"$T/o" 2>&1
rc=$?
check "a watch stream turning to garbage ends the watch as EBADMSG" \
    sh -c "[ $rc -eq 1 ] && grep -q 'EBADMSG: etcd $FAKE_URL: watch /wgarbage/: watch stream holds a byte 0x72 outside a JSON object' '$T/o'"
check "after delivering what came before it" grep -q '^SYNCED rev 2' "$T/o"
ETCDTOOL_MAX_RESPONSE=1048576 fake watch /whuge/ 1 5 >"$T/o" 2>&1
rc=$?
check "a watch message growing to 100 MB ends the watch as EFBIG" \
    sh -c "[ $rc -eq 1 ] && grep -q 'EFBIG: etcd $FAKE_URL: watch /whuge/: watch message larger than 1048576 bytes' '$T/o'"
echo "# peak RSS of the client refusing a 100 MB watch message with max_response 1 MiB: $(cat "$T/rss") KiB"
kill "$FAKE"

# --- a member stopped (SIGSTOP) under a watch ---
if ! etcd_cluster_start; then notok "the 3-member cluster starts"; done_testing; fi
export ETCD_ENDPOINTS ETCD_CA ETCD_CERT ETCD_KEY
ETCDTOOL_TIMEOUT_MS=2000
export ETCDTOOL_TIMEOUT_MS
"$ET" put /s/0 start >"$T/s0"
S0=$(sed -n 's/^rev //p' "$T/s0")
"$ET" watch /s/ "$((S0 + 1))" 2 >"$T/ws" 2>&1 &
WS=$!
at_exit "kill $WS"
wait_until 30 has "$T/ws" '^SYNCED' || notok "the watch starts"
"$ET" put /s/1 one >/dev/null
wait_until 30 has "$T/ws" '^PUT /s/1=one' || notok "the watch sees /s/1"
M1=$(cat "$ETCD_DIR/1.pid")
kill -STOP "$M1"
at_exit "kill -CONT $M1"
_put2() { ETCD_ENDPOINTS=$ETCD_ENDPOINT2,$ETCD_ENDPOINT3 "$ET" cas /s/2 0 two >"$T/o2" 2>&1 &&
    grep -Eq '^(won|lost)' "$T/o2"; }
wait_until 30 _put2 || notok "put /s/2 while member 1 is stopped" "$(cat "$T/o2")"
t0=$(now_ms)
reap "$WS"
rc=$?
echo "# the watch left the stopped member and saw /s/2 $(( $(now_ms) - t0 )) ms after it was written"
check "member 1 stopped: the watch probes it, leaves it, and sees /s/2" \
    sh -c "[ $rc -eq 0 ] && grep -q '^PUT /s/2=two' '$T/ws'"
check "and says why" grep -q "^LOST E[A-Z]*: etcd $ETCD_ENDPOINT1: status: .*(watch stream silent)" "$T/ws"
kill -CONT "$M1"
done_testing
