/* crypto/key.c - the master key: generate, parse, read, write, fingerprint; see key.h.
 *
 * The key is 32 bytes in sodium_malloc() memory; on disk and in COMFYVN_SECRETS_KEY it
 * is one line of base64 (libsodium's ORIGINAL variant, with padding). A key file that
 * group or others may read or write is refused, as ssh refuses such a private key: the
 * mode check is the only thing between the key and every local user. So is one owned
 * by anyone but the caller or root: its owner could chmod it open, or replace the key
 * (an owner of the file is as good as a writer). Key text is only
 * ever held in guarded memory or on one stack frame, wiped before returning, and no
 * message quotes it, not even in part. The fingerprint (first 16 hex digits of SHA-256)
 * names a key without revealing it. Subkeys are derived in vault.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "b64.h"
#include "file.h"
#include "key.h"

#define KEY_FILE_MAX_BYTES	256	/* bytes of a key file: base64, blanks, a newline */

static struct key *
key_alloc(struct cs_err *e)
{
	struct key *k;

	if (sodium_init() < 0) {
		cs_err_set(e, EIO, "libsodium could not be initialised");
		return NULL;
	}
	if ((k = sodium_malloc(sizeof *k)) == NULL) {
		cs_err_sys(e, ENOMEM, "key");
		return NULL;
	}
	memset(k, 0, sizeof *k);
	return k;
}

static void
fingerprint(struct key *k)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, k->bytes, sizeof k->bytes);
	sodium_bin2hex(k->fpr, sizeof k->fpr, h, KEY_FPR_HEX / 2);
	sodium_memzero(h, sizeof h);
}

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
key_generate(struct key **out, struct cs_err *e)
{
	struct key *k;

	*out = NULL;
	if ((k = key_alloc(e)) == NULL)
		return -1;
	randombytes_buf(k->bytes, sizeof k->bytes);
	fingerprint(k);
	*out = k;
	return 0;
}

int
key_parse(const char *text, size_t len, const char *what, struct key **out, struct cs_err *e)
{
	struct key *k;
	const char *end;
	size_t binlen = 0;

	*out = NULL;
	while (len > 0 && blank(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && blank(text[len - 1]))
		len--;
	if ((k = key_alloc(e)) == NULL)
		return -1;
	/* The whole text must decode to exactly KEY_BYTES: no ignored characters, no
	 * trailing garbage. The message says what is wrong in general terms only. */
	if (len == 0 || len > KEY_B64_MAX || !b64_text_ok(text, len) ||
	    sodium_base642bin(k->bytes, sizeof k->bytes, text, len, NULL, &binlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != text + len ||
	    binlen != sizeof k->bytes) {
		key_free(k);
		return cs_err_set(e, EINVAL, "%s: not a key: expected %d bytes written as "
		    "base64 (one line)", what, KEY_BYTES);
	}
	fingerprint(k);
	*out = k;
	return 0;
}

int
key_read_file(const char *path, struct key **out, struct cs_err *e)
{
	char buf[KEY_FILE_MAX_BYTES + 1];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, rc = -1;

	*out = NULL;
	if (file_open_regular(path, "key file", &fd, &st, e) == -1)
		return -1;
	/* Refused before a byte is read, so a readable key is never used, only reported. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		cs_err_set(e, EACCES, "%s: mode %04o is %s by group or others; chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777),
		    st.st_mode & (S_IRGRP | S_IROTH) ? "readable" :
		    st.st_mode & (S_IWGRP | S_IWOTH) ? "writable" : "executable");
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		cs_err_set(e, EACCES, "%s: owned by uid %lu, neither root nor the caller "
		    "(uid %lu); chown it", path, (unsigned long)st.st_uid,
		    (unsigned long)geteuid());
		goto out;
	}
	if (st.st_size > KEY_FILE_MAX_BYTES) {
		cs_err_set(e, EINVAL, "%s: too large to be a key file", path);
		goto out;
	}
	while (len < sizeof buf) {
		n = read(fd, buf + len, sizeof buf - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cs_err_sys(e, errno, "%s: cannot read the key file", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KEY_FILE_MAX_BYTES) {
		cs_err_set(e, EINVAL, "%s: too large to be a key file", path);
		goto out;
	}
	rc = key_parse(buf, len, path, out, e);
out:
	sodium_memzero(buf, sizeof buf);
	close(fd);
	return rc;
}

int
key_write_file(const char *path, const struct key *k, int excl, struct cs_err *e)
{
	char *text;
	size_t len;
	int rc;

	if ((text = key_text(k)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	/* key_text leaves room for the newline: see there. */
	len = strlen(text);
	text[len] = '\n';
	rc = file_write_atomic(path, text, len + 1, excl, NULL, e);
	text[len] = '\0';
	key_text_free(text);
	return rc;
}

int
key_load(const char *key_file, struct key **out, int *from_env, struct cs_err *e)
{
	const char *env = getenv(KEY_ENV);

	if (env != NULL && env[0] != '\0') {
		if (from_env != NULL)
			*from_env = 1;
		return key_parse(env, strlen(env), KEY_ENV, out, e);
	}
	if (from_env != NULL)
		*from_env = 0;
	return key_read_file(key_file, out, e);
}

char *
key_text(const struct key *k)
{
	/* The base64 text, its NUL, and one spare byte for key_write_file's newline. */
	size_t n = sodium_base64_ENCODED_LEN(KEY_BYTES, sodium_base64_VARIANT_ORIGINAL) + 1;
	char *t;

	if (sodium_init() < 0 || (t = sodium_malloc(n)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(t, 0, n);
	sodium_bin2base64(t, n - 1, k->bytes, sizeof k->bytes, sodium_base64_VARIANT_ORIGINAL);
	return t;
}

void
key_text_free(char *text)
{
	if (text == NULL)
		return;
	sodium_memzero(text, strlen(text));
	sodium_free(text);
}

void
key_free(struct key *k)
{
	if (k == NULL)
		return;
	sodium_memzero(k, sizeof *k);
	sodium_free(k);
}
