#!/bin/sh
# comfysecrets check and defaults, with the ComfyVN app's examples: the exit status is the
# answer (0 allowed, 1 denied, 2 error) and every denial is in the audit log.
. tests/lib.sh
cs_init
cat >>"$CSD/cs.ini" <<EOF2
[sandbox]
network_allow = localhost:8080, api.example.com:443
EOF2

st() { "$CS" --config "$CSD/cs.ini" "$@" >/dev/null 2>&1; echo $?; }

# the app's curl example: {"host":"127.0.0.1","port":8080,"allow":["localhost:8080"]}
check "the curl example: 127.0.0.1:8080 with allow localhost:8080 is allowed" [ "$(st check 127.0.0.1 8080 --allow localhost:8080)" -eq 0 ]
check "config allowlist: api.example.com:443 is allowed" [ "$(st check api.example.com 443)" -eq 0 ]
check "config allowlist: api.example.com:80 is denied" [ "$(st check api.example.com 80)" -eq 1 ]
check "a job that did not ask for the network is denied" [ "$(st check api.example.com 443 --no-network)" -eq 1 ]
check "SANDBOX_NETWORK_ALLOW adds to the allowlist" [ "$(SANDBOX_NETWORK_ALLOW=hf.co:443,github.com st check hf.co 443)" -eq 0 ]
check "a subdomain wildcard allows a subdomain" [ "$(st check a.b.example.org 443 --allow '*.example.org')" -eq 0 ]
check "a subdomain wildcard does not allow the domain itself" [ "$(st check example.org 443 --allow '*.example.org')" -eq 1 ]
check "a URL pattern takes its port from the scheme" [ "$(st check api.x.com 443 --allow https://api.x.com)" -eq 0 ]
check "IPv6 literals compare by value" [ "$(st check 0:0::1 8000 --allow '[::1]:8000')" -eq 0 ]
check "a pattern that does not parse is an error (2)" [ "$(st check x.com 443 --allow 'http://')" -eq 2 ]
"$CS" --config "$CSD/cs.ini" check x.com 443 --allow 'a b' 2>"$T/err"
check "the error names the pattern" grep -q '"a b"' "$T/err"
check "a port out of range is a usage error (2)" [ "$(st check x.com 70000)" -eq 2 ]
printf '[features]\nenable_security_sandbox_guard = false\n' >"$T/guardoff.ini"
cat "$CSD/cs.ini" "$T/guardoff.ini" >"$T/off.ini"
check "guard off: the network flag alone decides (allowed)" [ "$("$CS" --config "$T/off.ini" check evil.example 443 >/dev/null 2>&1; echo $?)" -eq 0 ]
check "guard off: no network is still denied" [ "$("$CS" --config "$T/off.ini" check evil.example 443 --no-network >/dev/null 2>&1; echo $?)" -eq 1 ]

"$CS" --config "$CSD/cs.ini" check api.example.com 80 --json >"$T/ans"
check "--json prints the control answer" grep -q '"allowed":false' "$T/ans"
check "denials are audited as sandbox_blocked with host and port" \
	sh -c "grep '\"event\":\"sandbox_blocked\"' $CSD/audit.log | grep -q '\"host\":\"api.example.com\",\"port\":80'"
check "the audit log still verifies" csc audit --verify
# A log that cannot be opened (here a folder; for a user, one it may not write):
# fail_closed refuses the check, saying why and where else to ask.
sed "s|^path = $CSD/audit.log\$|path = $T|" "$CSD/cs.ini" >"$T/nolog.ini"
"$CS" --config "$T/nolog.ini" check api.example.com 443 >/dev/null 2>"$T/err"
rc=$?
echo "# check with an unopenable log: status $rc: $(cat "$T/err")"
check "check with an audit log it cannot open is an error (2)" [ "$rc" -eq 2 ]
check "... saying a denial must be logged, naming the log, and where else to ask" \
	grep -q "check: a denial must be written to the audit log, which cannot be opened (fail_closed is on): $T.*ask the daemon (.control, op check)" "$T/err"
SANDBOX_NETWORK_ALLOW=hf.co:443 "$CS" --config "$CSD/cs.ini" defaults >"$T/def"
check "defaults shows the guard and each entry's source" sh -c "grep -q '\"guard\": true' $T/def && grep -q '\"source\": \"env\"' $T/def && grep -q '\"source\": \"config\"' $T/def"
done_testing
