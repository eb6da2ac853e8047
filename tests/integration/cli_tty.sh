#!/bin/sh
# The value prompt on a terminal (python3's pty): what is typed is not echoed, and when
# echo cannot be turned off the prompt fails, names the reason and reads nothing (as
# readpassphrase(3) with RPP_ECHO_OFF). The second case runs the CLI with a preloaded
# tcsetattr() that reports success and changes nothing, as a terminal that ignores the
# request would.
. tests/lib.sh
if ! command -v python3 >/dev/null 2>&1; then
	skip tty "python3 is missing (its pty module drives the terminal)"
	done_testing
fi
cs_init
SEED='tty-canary-8c41e7'

# drive.py CMD...: runs CMD on a new pty, types SEED and a newline once the prompt shows,
# prints what the terminal showed to $T/screen, exits with CMD's status.
cat >"$T/drive.py" <<'PY'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
seen, typed = b"", False
while True:
    r, _, _ = select.select([fd], [], [], 10)
    if not r:
        break
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    seen += b
    if not typed and b"not echoed" in seen:
        os.write(fd, sys.argv[1].encode() + b"\n")
        typed = True
open(os.environ["SCREEN"], "wb").write(seen)
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
PY
export SCREEN="$T/screen"

python3 "$T/drive.py" "$SEED" "$CS" --config "$CSD/cs.ini" set runpod api_key
check "a value typed at the prompt is stored" \
	sh -c "[ \"\$($CS --config $CSD/cs.ini get runpod api_key)\" = '$SEED' ]"
check "the prompt showed, and what is typed at it is not echoed" \
	sh -c "grep -q 'not echoed' $T/screen && ! grep -q '$SEED' $T/screen"

cc=${CC:-cc}
cat >"$T/noecho.c" <<'C'
#include <termios.h>
int tcsetattr(int fd, int act, const struct termios *t) { (void)fd; (void)act; (void)t; return 0; }
C
if ! "$cc" -shared -fPIC -o "$T/noecho.so" "$T/noecho.c" 2>"$T/cc.err"; then
	skip "echo that cannot be turned off" "$cc cannot build a preload shim: $(head -n 1 "$T/cc.err")"
	done_testing
fi
# Under ASan the runtime must come first: the shim goes after it.
pre=$(ldd "$CS" | awk '/libasan/ { print $3 }')
# env sets it for the CLI alone (python3 may be a shell shim).
python3 "$T/drive.py" "$SEED-2" env LD_PRELOAD="${pre:+$pre:}$T/noecho.so" \
	"$CS" --config "$CSD/cs.ini" set runpod endpoint
rc=$?
check "echo that stays on fails the prompt (exit $rc)" [ "$rc" -ne 0 ]
check "the error says echo cannot be turned off, and nothing typed shows" \
	sh -c "grep -q \"cannot turn the terminal's echo off\" $T/screen && ! grep -q '$SEED' $T/screen"
check_fails "nothing was stored" "$CS" --config "$CSD/cs.ini" get runpod endpoint
done_testing
