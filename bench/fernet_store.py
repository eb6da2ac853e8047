#!/usr/bin/env python3
"""bench/fernet_store.py - the ComfyVN app's approach, as a peer for the benchmark.

The ComfyVN app keeps its secrets in one JSON file whose payload is
a single Fernet token (python3-cryptography) over the whole {"provider": {"field":
"value"}} document, keyed by COMFYVN_SECRETS_KEY or a key file, and appends a JSON audit
line for every read. A program that wants one value in a fresh process pays: starting
Python, importing cryptography, reading and decrypting the whole store, parsing it, and
the audit line. That is what `get` does, once per invocation.

  fernet_store.py init   STORE KEYFILE FROM.json     a new key and a store holding FROM
  fernet_store.py get    STORE KEYFILE PROVIDER FIELD   print one value (audited)
  fernet_store.py set    STORE KEYFILE PROVIDER FIELD   value on stdin; re-encrypts all
  fernet_store.py rotate STORE KEYFILE               new key, everything re-encrypted

The audit log is STORE + ".log". Writes are atomic (temporary file, fsync, rename), as a
careful version of the app's store would do.
"""
import json
import os
import sys
import time

from cryptography.fernet import Fernet


def read_key(keyfile):
    k = os.environ.get("COMFYVN_SECRETS_KEY")
    if k:
        return k.encode()
    with open(keyfile, "rb") as f:
        return f.read().strip()


def write_atomic(path, data, mode=0o600):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load(store, key):
    with open(store, "rb") as f:
        doc = json.load(f)
    return json.loads(Fernet(key).decrypt(doc["payload"].encode()))


def save(store, key, data):
    token = Fernet(key).encrypt(json.dumps(data).encode()).decode()
    write_atomic(store, json.dumps({"version": 1, "payload": token}).encode())


def audit(store, event, **fields):
    line = {"event": event, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    line.update(fields)
    with open(store + ".log", "a") as f:
        f.write(json.dumps(line) + "\n")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, store, keyfile = argv[0], argv[1], argv[2]
    if cmd == "init":
        key = Fernet.generate_key()
        write_atomic(keyfile, key + b"\n")
        with open(argv[3]) as f:
            save(store, key, json.load(f))
    elif cmd == "get":
        provider, field = argv[3], argv[4]
        value = load(store, read_key(keyfile))[provider][field]
        audit(store, "secret_read", provider=provider, keys=[field], pid=os.getpid())
        sys.stdout.write(value)
    elif cmd == "set":
        provider, field = argv[3], argv[4]
        key = read_key(keyfile)
        data = load(store, key)
        data.setdefault(provider, {})[field] = sys.stdin.read()
        save(store, key, data)
        audit(store, "secret_written", provider=provider, keys=[field])
    elif cmd == "rotate":
        data = load(store, read_key(keyfile))
        key = Fernet.generate_key()
        write_atomic(keyfile + ".next", key + b"\n")
        save(store, key, data)
        os.replace(keyfile + ".next", keyfile)
        audit(store, "key_rotated", providers=sorted(data))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
