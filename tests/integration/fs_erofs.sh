#!/bin/sh
# Every write-type operation on the tree fails with EROFS ("Read-only file system"),
# even for root, and the vault file is unchanged afterwards, byte for byte.
. tests/lib.sh
fs_require fs_erofs
cs_init
printf 'sk-erofs-value' | csc set runpod api_key
printf 'e' | csc set runpod endpoint
cp "$CSD/vault.json" "$T/vault.before"
M=$T/mnt
if ! csfs_start "$M"; then notok "the vault mounts" "$(tail -n 2 "$T/csfs.err" | tr '\n' ' ')"; done_testing; fi

# erofs NAME CMD: CMD must fail and say "Read-only file system".
erofs() {
	_n=$1; shift
	if "$@" >"$T/out" 2>&1; then
		notok "$_n fails with EROFS" "it succeeded"
	elif grep -q 'Read-only file system' "$T/out"; then
		ok "$_n fails with EROFS"
	else
		notok "$_n fails with EROFS" "$(head -n 1 "$T/out")"
	fi
}
F=$M/runpod/api_key
erofs "echo x > file" sh -c "echo x > $F"
erofs "echo x >> file" sh -c "echo x >> $F"
erofs "echo x > new file" sh -c "echo x > $M/runpod/new"
erofs "rm file" rm -f "$F"
erofs "rmdir provider" rmdir "$M/runpod"
erofs "rm -r provider" rm -rf "$M/runpod"
erofs "mkdir" mkdir "$M/newdir"
erofs "mkdir in a provider" mkdir "$M/runpod/sub"
erofs "mv file" mv "$F" "$M/runpod/moved"
erofs "mv provider" mv "$M/runpod" "$M/moved"
erofs "mv a file in from outside" mv "$T/vault.before" "$M/runpod/x"
erofs "chmod" chmod 0600 "$F"
erofs "chown" chown 65534 "$F"
erofs "touch an existing file" touch "$F"
erofs "touch a new file" touch "$M/runpod/touched"
erofs "truncate" truncate -s 0 "$F"
erofs "ln (hard link)" ln "$F" "$M/runpod/hard"
erofs "ln -s" ln -s /etc/passwd "$M/runpod/sym"
erofs "mkfifo" mkfifo "$M/runpod/fifo"
erofs "dd conv=notrunc into a file" dd if=/dev/zero of="$F" bs=1 count=1 conv=notrunc
check "the value is still served" sh -c "[ \"\$(cat $F)\" = sk-erofs-value ]"
check "the listing is unchanged" sh -c "[ \"\$(ls $M/runpod | tr '\n' ' ')\" = 'api_key endpoint ' ]"
csfs_stop "$M"
check "the vault file is unchanged" cmp "$T/vault.before" "$CSD/vault.json"
done_testing
