# tests/system/install.sh - make install / make uninstall with DESTDIR and PREFIX, the
# example config's life cycle, the installed man pages and the example config itself.
. tests/lib.sh
. tests/system/syslib

D=$T/root
P=$D/usr/local

if ! sys_install "$D"; then
	notok "make install DESTDIR" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
	done_testing
fi
ok "make install DESTDIR"

# What is installed, with which mode.
want="755 $P/bin/comfysecrets
644 $P/share/man/man1/comfysecrets.1
644 $P/share/man/man5/comfysecrets.ini.5
644 $P/share/man/man8/comfysecretsfs.8
644 $P/lib/systemd/system/comfysecrets.service
644 $P/lib/systemd/system/run-comfysecrets.mount
644 $P/lib/systemd/system/comfysecrets-watch@.service
644 $P/lib/systemd/system/comfysecrets-fleet.service
644 $P/lib/tmpfiles.d/comfysecrets.conf
644 $D/etc/logrotate.d/comfysecrets
644 $P/share/doc/comfysecrets/fstab.example
644 $P/share/doc/comfysecrets/compose.yaml
644 $P/share/doc/comfysecrets/docker-run.sh
644 $P/share/doc/comfysecrets/pod-hostpath.yaml
644 $P/share/doc/comfysecrets/credential.conf
644 $P/share/doc/comfysecrets/comfysecrets.ini
700 $D/etc/comfysecrets
600 $D/etc/comfysecrets/comfysecrets.ini"
if [ -x "$CSFS" ]; then
	want="$want
755 $P/sbin/comfysecretsfs"
else
	skip "comfysecretsfs installed to sbin" "$CSFS does not exist yet (the daemon is not built)"
fi
missing=$(echo "$want" | while read -r m f; do
	[ -e "$f" ] && [ "$(stat -c '%a' "$f")" = "$m" ] || echo "$f($m)"
done | tr '\n' ' ')
if [ -z "$missing" ]; then ok "install: binaries, man pages, units, tmpfiles, logrotate, docs, /etc config with their modes"
else notok "install: binaries, man pages, units, tmpfiles, logrotate, docs, /etc config with their modes" "missing or wrong mode: $missing"; fi

# The installed man pages render, without a warning.
if need_cmd "man pages render with man -l" man; then
	for p in "$P/share/man/man1/comfysecrets.1" "$P/share/man/man5/comfysecrets.ini.5" \
	    "$P/share/man/man8/comfysecretsfs.8"; do
		n=$(basename "$p")
		warn=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
		if [ -n "$warn" ]; then
			notok "man -l $n: no warning" "$(echo "$warn" | head -n 3 | tr '\n' ' ')"
		elif ! MANWIDTH=80 man -l "$p" 2>/dev/null | grep -q '^NAME'; then
			notok "man -l $n: renders" "no NAME section in the output"
		else
			ok "man -l $n renders without a warning"
		fi
	done
fi

# comfysecrets.ini(5) names every key the config parser knows.
keys=$(sed -n 's/.*{ SEC_[A-Z]*, "\([a-z_]*\)".*/\1/p' "$TOP/policy/config.c" | sort -u)
undoc=""
for k in $keys owner group mode; do
	grep -q "^\*$(echo "$k" | sed 's/_/\\\\_/g')\*\$" "$TOP/man/comfysecrets.ini.5.scd" || undoc="$undoc $k"
done
if [ -n "$keys" ] && [ -z "$undoc" ]; then ok "comfysecrets.ini(5) documents every key of policy/config.c"
else notok "comfysecrets.ini(5) documents every key of policy/config.c" "missing:${undoc:- (no keys found)}"; fi

# The example config is accepted by the real parser, commented out as shipped and with
# every key switched on.
if [ -x "$CS" ]; then
	sed 's/^;\([a-z_]* =\)/\1/; s/^;\[provider/[provider/' "$TOP/examples/comfysecrets.ini" >"$T/all.ini"
	for f in "$D/etc/comfysecrets/comfysecrets.ini" "$T/all.ini"; do
		n=$([ "$f" = "$T/all.ini" ] && echo "every key on" || echo "as installed")
		rm -rf "$T/ex"; mkdir -p "$T/ex"
		if COMFYVN_SECURITY_LOG_FILE="$T/ex/audit.log" "$CS" --config "$f" \
		    --vault "$T/ex/vault.json" --key-file "$T/ex/key" init >"$T/ex.out" 2>&1; then
			ok "example comfysecrets.ini ($n) is accepted by comfysecrets"
			# its floor went to the default state_dir: take this test vault's out
			fl=$(COMFYVN_SECURITY_LOG_FILE="$T/ex/audit.log" "$CS" --config "$f" \
			    --vault "$T/ex/vault.json" --key-file "$T/ex/key" floor 2>/dev/null |
			    sed -n 's/.*, recorded in \(.*\.state\)$/\1/p')
			[ -z "$fl" ] || rm -f "$fl" "$fl.lock"
		else
			notok "example comfysecrets.ini ($n) is accepted by comfysecrets" "$(tail -n 2 "$T/ex.out" | tr '\n' ' ')"
		fi
	done
else
	skip "example comfysecrets.ini is accepted" "$CS does not exist"
fi

# A config the admin changed survives a second install and the uninstall; so does a
# changed logrotate config.
CONF=$D/etc/comfysecrets/comfysecrets.ini
LR=$D/etc/logrotate.d/comfysecrets
printf '[audit]\nflush = sync\n' >>"$CONF"
cp "$CONF" "$T/changed.ini"
sed -i 's/rotate 12/rotate 52/' "$LR"
cp "$LR" "$T/changed.lr"
if sys_install "$D" && cmp -s "$CONF" "$T/changed.ini" && grep -q "kept $CONF" "$T/install.log"; then
	ok "install again: a changed /etc config is kept"
else
	notok "install again: a changed /etc config is kept" "$(tail -n 2 "$T/install.log" | tr '\n' ' ')"
fi
if cmp -s "$LR" "$T/changed.lr" && grep -q "kept $LR" "$T/install.log"; then
	ok "install again: a changed /etc/logrotate.d/comfysecrets is kept, and says so"
else
	notok "install again: a changed /etc/logrotate.d/comfysecrets is kept, and says so" \
		"$(grep -c 'rotate 52' "$LR") $(tail -n 2 "$T/install.log" | tr '\n' ' ')"
fi
if ! sys_uninstall "$D"; then
	notok "make uninstall DESTDIR" "$(tail -n 3 "$T/uninstall.log" | tr '\n' ' ')"
	done_testing
fi
left=$(cd "$D" && find . ! -type d | sort | tr '\n' ' ')
if [ "$left" = "./etc/comfysecrets/comfysecrets.ini ./etc/logrotate.d/comfysecrets " ] &&
    cmp -s "$CONF" "$T/changed.ini" && cmp -s "$LR" "$T/changed.lr"; then
	ok "uninstall: everything removed but the changed /etc config and logrotate config"
else
	notok "uninstall: everything removed but the changed /etc config and logrotate config" "left: $left"
fi

# Unchanged, the config goes with the rest: nothing but empty standard folders is left.
if sys_install "$D" && rm -f "$CONF" "$LR" && sys_install "$D" && sys_uninstall "$D"; then
	left=$(cd "$D" && find . ! -type d | tr '\n' ' ')
	ours=$(cd "$D" && find . -path '*comfysecrets*' | tr '\n' ' ')
	if [ -z "$left" ] && [ -z "$ours" ]; then
		ok "install then uninstall leaves no file, link or comfysecrets folder behind"
	else
		notok "install then uninstall leaves no file, link or comfysecrets folder behind" "left: $left $ours"
	fi
else
	notok "install then uninstall (unchanged config)" "$(tail -n 2 "$T/install.log" "$T/uninstall.log" | tr '\n' ' ')"
fi

# PREFIX=/usr: units go to /lib/systemd/system, tmpfiles to /usr/lib/tmpfiles.d.
D2=$T/root-usr
if sys_install "$D2" PREFIX=/usr; then
	check "PREFIX=/usr: units in /lib/systemd/system, tmpfiles in /usr/lib/tmpfiles.d" \
		test -f "$D2/lib/systemd/system/comfysecrets.service" -a \
		    -f "$D2/lib/systemd/system/run-comfysecrets.mount" -a \
		    -f "$D2/usr/lib/tmpfiles.d/comfysecrets.conf" -a -f "$D2/usr/bin/comfysecrets"
	if [ -x "$CSFS" ]; then
		check "PREFIX=/usr: ExecStart is /usr/sbin/comfysecretsfs" \
			grep -q '^ExecStart=/usr/sbin/comfysecretsfs ' "$D2/lib/systemd/system/comfysecrets.service"
	fi
	if sys_uninstall "$D2" PREFIX=/usr; then
		check "PREFIX=/usr: uninstall leaves no file or link" \
			test -z "$(find "$D2" ! -type d)"
	else
		notok "PREFIX=/usr: make uninstall" "$(tail -n 2 "$T/uninstall.log" | tr '\n' ' ')"
	fi
else
	notok "PREFIX=/usr: make install" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
fi

# Another prefix is not on the shell's default PATH that mount(8) leaves: say so.
D3=$T/root-opt
if sys_install "$D3" PREFIX=/opt/comfysecrets; then
	check "PREFIX=/opt/...: install warns that mount -t fuse.comfysecretsfs will not find the daemon" \
		grep -q 'mount -t fuse.comfysecretsfs finds comfysecretsfs only in' "$T/install.log"
	sys_uninstall "$D3" PREFIX=/opt/comfysecrets
else
	notok "PREFIX=/opt/...: make install" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
fi

done_testing
