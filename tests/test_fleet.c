/* tests/test_fleet.c - the fleet without the network: keys, the signed manifest, sealed
 * keys, chunks, a member's checks, the enrolment list, the applied-generation record,
 * the [fleet] config and putting a generation in place.
 *
 * Each hostile case the follower must refuse is built here from a good manifest by
 * changing one thing (a byte of the body, the signature, the signer, the spelling, a
 * chunk, a sealed key), and must be refused with the reason the audit line will carry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"

#include "../crypto/file.h"
#include "../crypto/store.h"
#include "../fleet/apply.h"
#include "../fleet/follow.h"
#include "../fleet/hosts.h"
#include "../fleet/keys.h"
#include "../fleet/manifest.h"
#include "../fleet/pack.h"
#include "../fleet/record.h"
#include "../policy/config.h"
#include "../policy/fleetstatus.h"
#include "../policy/state.h"

#define SEED_VALUE	"rp_SEED_4f9c2e7d1b"

static char dir[64];
static unsigned char admin_pk[FLEET_PUB_BYTES];
static struct fleet_signer *signer;

static int
setup(void **state)
{
	struct cs_err e = { 0 };
	char path[128], pub[FLEET_PUB_B64];

	(void)state;
	unsetenv(KEY_ENV);
	unsetenv("CREDENTIALS_DIRECTORY");
	if (testutil_mkdtemp(dir, sizeof dir, "fleet") == -1)
		return -1;
	snprintf(path, sizeof path, "%s/admin.key", dir);
	if (fleet_signer_create(path, pub, &e) == -1 || fleet_signer_load(path, &signer, &e) == -1 ||
	    fleet_pub_parse(pub, "admin", admin_pk, &e) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fleet_signer_free(signer);
	return testutil_rmtree(dir);
}

/* A manifest of one chunk and hosts a, b (hashes of their names). */
static struct fleet_manifest *
sample(void)
{
	static const char data[] = "vault bytes";
	struct fleet_manifest *m = calloc(1, sizeof *m);
	struct cs_err e = { 0 };

	assert_non_null(m);
	strcpy(m->fleet, "prod");
	m->generation = 7;
	strcpy(m->fpr, "0123456789abcdef");
	m->not_after = 2000000000;
	assert_int_equal(fleet_pack_chunks(data, sizeof data, m, &e), 0);
	m->hosts = calloc(2, sizeof *m->hosts);
	assert_non_null(m->hosts);
	m->nhosts = 2;
	strcpy(m->hosts[0].name, "a");
	fleet_hash("a", 1, m->hosts[0].hash);
	strcpy(m->hosts[1].name, "b");
	fleet_hash("b", 1, m->hosts[1].hash);
	return m;
}

static void
test_keys_are_0600_and_never_replaced(void **state)
{
	struct cs_err e = { 0 };
	struct fleet_hostkey *h = NULL;
	char path[128], pub[FLEET_PUB_B64], pub2[FLEET_PUB_B64];
	const char *from = NULL;
	struct stat st;

	(void)state;
	snprintf(path, sizeof path, "%s/host.key", dir);
	assert_int_equal(fleet_hostkey_create(path, pub, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strlen(pub), FLEET_PUB_B64 - 1);
	assert_int_equal(fleet_hostkey_create(path, pub2, &e), -1);
	assert_int_equal(e.code, EEXIST);
	assert_int_equal(fleet_hostkey_load(path, &h, &from, &e), 0);
	fleet_pub_text(h->pk, pub2);
	assert_string_equal(pub, pub2);
	assert_string_equal(from, path);
	fleet_hostkey_free(h);
	/* A key others may read is refused, as the vault key is. */
	assert_int_equal(chmod(path, 0644), 0);
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_hostkey_load(path, &h, NULL, &e), -1);
	assert_int_equal(e.code, EACCES);
	assert_int_equal(unlink(path), 0);
}

static void
test_host_key_comes_from_the_credentials_directory(void **state)
{
	struct cs_err e = { 0 };
	struct fleet_hostkey *h = NULL;
	char cred[128], path[192], pub[FLEET_PUB_B64], got[FLEET_PUB_B64];
	const char *from = NULL;

	(void)state;
	snprintf(cred, sizeof cred, "%s/creds", dir);
	assert_int_equal(mkdir(cred, 0700), 0);
	snprintf(path, sizeof path, "%s/%s", cred, FLEET_HOST_CREDENTIAL);
	assert_int_equal(fleet_hostkey_create(path, pub, &e), 0);
	setenv("CREDENTIALS_DIRECTORY", cred, 1);
	assert_int_equal(fleet_hostkey_load("/nonexistent/host.key", &h, &from, &e), 0);
	unsetenv("CREDENTIALS_DIRECTORY");
	fleet_pub_text(h->pk, got);
	assert_string_equal(got, pub);
	assert_string_equal(from, path);
	fleet_hostkey_free(h);
}

static void
test_pub_parse_refuses_what_is_not_a_key(void **state)
{
	unsigned char pk[FLEET_PUB_BYTES];
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(fleet_pub_parse("AAAA", "add-host", pk, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "add-host: not a public key"));
}

static void
test_manifest_round_trip(void **state)
{
	struct fleet_manifest *m = sample(), *got = NULL;
	struct cs_err e = { 0 };
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(fleet_manifest_sign(m, signer, &text, &len, &e), 0);
	assert_non_null(strstr(text, "comfysecrets-fleet-manifest 1\nfleet prod\ngeneration 7\n"));
	assert_int_equal(fleet_manifest_open(text, len, admin_pk, &got, &e), 0);
	assert_string_equal(got->fleet, "prod");
	assert_true(got->generation == 7);
	assert_string_equal(got->fpr, "0123456789abcdef");
	assert_true(got->not_after == 2000000000);
	assert_int_equal(got->nchunks, 1);
	assert_int_equal(got->nhosts, 2);
	assert_non_null(fleet_manifest_host(got, "b"));
	assert_null(fleet_manifest_host(got, "c"));
	free(text);
	fleet_manifest_free(got);
	fleet_manifest_free(m);
}

static void
test_forged_manifest_is_refused(void **state)
{
	struct fleet_manifest *m = sample(), *got = NULL;
	struct cs_err e = { 0 };
	char *text, *at;
	size_t len;

	(void)state;
	assert_int_equal(fleet_manifest_sign(m, signer, &text, &len, &e), 0);
	at = strstr(text, "generation 7");
	at[11] = '9';	/* a newer generation, same signature */
	assert_int_equal(fleet_manifest_open(text, len, admin_pk, &got, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	assert_non_null(strstr(e.msg, "signature does not verify"));
	assert_null(got);
	free(text);
	fleet_manifest_free(m);
}

static void
test_unsigned_manifest_is_refused(void **state)
{
	struct fleet_manifest *m = sample(), *got = NULL;
	struct cs_err e = { 0 };
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(fleet_manifest_sign(m, signer, &text, &len, &e), 0);
	len = (size_t)(strstr(text, "signature ") - text);
	assert_int_equal(fleet_manifest_open(text, len, admin_pk, &got, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	assert_non_null(strstr(e.msg, "unsigned"));
	assert_int_equal(fleet_manifest_open("garbage\x01\xff", 9, admin_pk, &got, &e), -1);
	free(text);
	fleet_manifest_free(m);
}

static void
test_manifest_signed_by_another_key_is_refused(void **state)
{
	struct fleet_manifest *m = sample(), *got = NULL;
	struct fleet_signer *other;
	struct cs_err e = { 0 };
	char path[128], pub[FLEET_PUB_B64], *text;
	size_t len;

	(void)state;
	snprintf(path, sizeof path, "%s/other.key", dir);
	assert_int_equal(fleet_signer_create(path, pub, &e), 0);
	assert_int_equal(fleet_signer_load(path, &other, &e), 0);
	assert_int_equal(fleet_manifest_sign(m, other, &text, &len, &e), 0);
	assert_int_equal(fleet_manifest_open(text, len, admin_pk, &got, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	free(text);
	fleet_signer_free(other);
	fleet_manifest_free(m);
}

/* A validly signed text in a second spelling (a leading zero) is refused. */
static void
test_noncanonical_manifest_is_refused(void **state)
{
	static const char body[] = "comfysecrets-fleet-manifest 1\nfleet prod\ngeneration 07\n"
	    "fingerprint 0123456789abcdef\nnot_after 2000000000\nchunk 12 "
	    "0000000000000000000000000000000000000000000000000000000000000000\n";
	unsigned char sig[crypto_sign_BYTES];
	struct fleet_manifest *got = NULL;
	struct cs_err e = { 0 };
	char text[512];
	size_t n = sizeof body - 1;

	(void)state;
	crypto_sign_detached(sig, NULL, (const unsigned char *)body, n, signer->sk);
	memcpy(text, body, n);
	memcpy(text + n, "signature ", 10);
	sodium_bin2base64(text + n + 10, 89, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	text[n + 98] = '\n';
	assert_int_equal(fleet_manifest_open(text, n + 99, admin_pk, &got, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "canonical"));
}

static void
test_oversize_manifest_is_refused_unread(void **state)
{
	struct fleet_manifest *got = NULL;
	struct cs_err e = { 0 };
	char *big = calloc(1, FLEET_MANIFEST_MAX_BYTES + 1);

	(void)state;
	assert_non_null(big);
	assert_int_equal(fleet_manifest_open(big, FLEET_MANIFEST_MAX_BYTES + 1, admin_pk, &got,
	    &e), -1);
	assert_int_equal(e.code, EFBIG);
	free(big);
}

static void
test_sealed_key_opens_only_for_its_host(void **state)
{
	unsigned char sealed[FLEET_SEALED_BYTES];
	struct fleet_hostkey *a, *b;
	struct key *k, *got = NULL;
	struct cs_err e = { 0 };
	char pa[128], pb[128], pub[FLEET_PUB_B64];

	(void)state;
	snprintf(pa, sizeof pa, "%s/a.key", dir);
	snprintf(pb, sizeof pb, "%s/b.key", dir);
	assert_int_equal(fleet_hostkey_create(pa, pub, &e), 0);
	assert_int_equal(fleet_hostkey_create(pb, pub, &e), 0);
	assert_int_equal(fleet_hostkey_load(pa, &a, NULL, &e), 0);
	assert_int_equal(fleet_hostkey_load(pb, &b, NULL, &e), 0);
	assert_int_equal(key_generate(&k, &e), 0);
	assert_int_equal(fleet_seal(k, a->pk, sealed, &e), 0);
	assert_int_equal(fleet_unseal(sealed, sizeof sealed, a, &got, &e), 0);
	assert_string_equal(got->fpr, k->fpr);
	assert_memory_equal(got->bytes, k->bytes, KEY_BYTES);
	key_free(got);
	assert_int_equal(fleet_unseal(sealed, sizeof sealed, b, &got, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	assert_null(got);
	key_free(k);
	fleet_hostkey_free(a);
	fleet_hostkey_free(b);
}

static void
test_chunks_split_under_the_request_limit_and_are_checked(void **state)
{
	size_t len = FLEET_CHUNK_BYTES * 2 + 12345, i;
	unsigned char *buf = malloc(len);
	struct fleet_manifest m;
	struct cs_err e = { 0 };

	(void)state;
	memset(&m, 0, sizeof m);
	assert_non_null(buf);
	randombytes_buf(buf, len);
	assert_int_equal(fleet_pack_chunks(buf, len, &m, &e), 0);
	assert_int_equal(m.nchunks, 3);
	assert_int_equal(m.chunks[2].len, 12345);
	for (i = 0; i < 3; i++)
		assert_int_equal(fleet_pack_chunk_ok(&m, i, buf + i * FLEET_CHUNK_BYTES,
		    m.chunks[i].len, &e), 0);
	/* Chunk 1 served where chunk 0 belongs. */
	assert_int_equal(fleet_pack_chunk_ok(&m, 0, buf + FLEET_CHUNK_BYTES, FLEET_CHUNK_BYTES,
	    &e), -1);
	assert_int_equal(e.code, EBADMSG);
	assert_non_null(strstr(e.msg, "chunk 0: hash differs"));
	free(m.chunks);
	free(buf);
}

static void
test_sealed_key_hash_and_membership_are_checked(void **state)
{
	struct fleet_manifest *m = sample();
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(fleet_pack_sealed_ok(m, "a", "a", 1, &e), 0);
	assert_int_equal(fleet_pack_sealed_ok(m, "a", "b", 1, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_pack_sealed_ok(m, "gone", "a", 1, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, "not in the manifest"));
	fleet_manifest_free(m);
}

/* A vault file written by the CLI's code, read back as bytes. */
static char *
vault_bytes(const struct key *k, int saves, size_t *len, struct vault **vout)
{
	struct secret *s;
	struct vault *v;
	struct cs_err e = { 0 };
	char path[128], *buf;

	snprintf(path, sizeof path, "%s/src-vault.json", dir);
	assert_int_equal(vault_new(k, &v, &e), 0);
	assert_non_null(s = secret_dup(SEED_VALUE, strlen(SEED_VALUE)));
	assert_int_equal(vault_put(v, "openai", "api_key", s, 0, &e), 0);
	secret_free(s);
	while (saves-- > 0)
		assert_int_equal(vault_save(v, path, 0, &e), 0);
	assert_int_equal(file_read(path, "vault", VAULT_FILE_MAX_BYTES, &buf, len, &e), 0);
	if (vout != NULL)
		*vout = v;
	else
		vault_close(v);
	return buf;
}

static void
test_member_checks_key_fingerprint_mac_and_fields(void **state)
{
	struct fleet_manifest m;
	struct key *k, *other;
	struct cs_err e = { 0 };
	size_t len;
	char *buf;

	(void)state;
	memset(&m, 0, sizeof m);
	assert_int_equal(key_generate(&k, &e), 0);
	assert_int_equal(key_generate(&other, &e), 0);
	buf = vault_bytes(k, 1, &len, NULL);
	memcpy(m.fpr, k->fpr, sizeof m.fpr);
	assert_int_equal(fleet_pack_check(&m, k, buf, len, NULL, &e), 0);
	/* A key other than the manifest's. */
	assert_int_equal(fleet_pack_check(&m, other, buf, len, NULL, &e), -1);
	assert_int_equal(e.code, EKEYREJECTED);
	/* A vault changed after it was MAC'd. */
	memset(&e, 0, sizeof e);
	buf[len / 2] ^= 1;
	assert_int_equal(fleet_pack_check(&m, k, buf, len, NULL, &e), -1);
	assert_null(strstr(e.msg, SEED_VALUE));
	free(buf);
	key_free(k);
	key_free(other);
}

static void
test_hosts_file_round_trip(void **state)
{
	unsigned char pk1[FLEET_PUB_BYTES], pk2[FLEET_PUB_BYTES];
	struct fleet_hosts hs = { 0 }, got = { 0 };
	struct cs_err e = { 0 };
	char path[128];

	(void)state;
	snprintf(path, sizeof path, "%s/hosts", dir);
	randombytes_buf(pk1, sizeof pk1);
	randombytes_buf(pk2, sizeof pk2);
	assert_int_equal(fleet_hosts_read(path, &hs, &e), 0);	/* missing: empty */
	assert_int_equal(hs.n, 0);
	assert_int_equal(fleet_hosts_add(&hs, "web2", pk2, &e), 0);
	assert_int_equal(fleet_hosts_add(&hs, "web1", pk1, &e), 0);
	assert_int_equal(fleet_hosts_add(&hs, "web1", pk2, &e), -1);
	assert_int_equal(e.code, EEXIST);
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_hosts_add(&hs, "web3", pk1, &e), -1);
	assert_int_equal(e.code, EEXIST);
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_hosts_add(&hs, "Bad Name", pk1, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_int_equal(fleet_hosts_write(path, &hs, &e), 0);
	assert_int_equal(fleet_hosts_read(path, &got, &e), 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.h[0].name, "web1");
	assert_memory_equal(got.h[1].pk, pk2, sizeof pk2);
	assert_int_equal(fleet_hosts_rm(&got, "web1", &e), 0);
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_hosts_rm(&got, "web1", &e), -1);
	assert_int_equal(e.code, ENOENT);
	fleet_hosts_free(&hs);
	fleet_hosts_free(&got);
	/* Whoever may write the list could enrol a key: refused, naming file and fix. */
	assert_int_equal(chmod(path, 0666), 0);
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_hosts_read(path, &got, &e), -1);
	assert_int_equal(e.code, EPERM);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "chmod go-w"));
	assert_int_equal(got.n, 0);
	assert_int_equal(chmod(path, 0600), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 4242, 0), 0);
		memset(&e, 0, sizeof e);
		assert_int_equal(fleet_hosts_read(path, &got, &e), -1);
		assert_non_null(strstr(e.msg, "owned by uid 4242"));
		assert_int_equal(chown(path, 0, 0), 0);
	}
}

static void
test_record_round_trip_and_malformed_is_an_error(void **state)
{
	struct fleet_record r = { 42, "0123456789abcdef" }, got;
	struct cs_err e = { 0 };
	char path[PATH_MAX];

	(void)state;
	assert_int_equal(fleet_record_path(dir, "prod", path, &e), 0);
	assert_int_equal(fleet_record_read(path, &got, &e), 0);
	assert_true(got.generation == 0);
	assert_int_equal(fleet_record_write(path, &r, &e), 0);
	assert_int_equal(fleet_record_read(path, &got, &e), 0);
	assert_true(got.generation == 42);
	assert_string_equal(got.fpr, "0123456789abcdef");
	assert_int_equal(file_write_atomic(path, "generation 99\n", 14, 0, NULL, &e), 0);
	assert_int_equal(fleet_record_read(path, &got, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_int_equal(unlink(path), 0);
}

static void
test_config_fleet_section(void **state)
{
	static const char ok[] = "[fleet]\nrole = member\nname = prod\n"
	    "endpoints = https://a:2379,https://b:2379\nhost_key = /k\nlifetime = 2d\n";
	static const char bad[] = "[fleet]\nname = prod\nrole = leader\n";
	static const char short_life[] = "[fleet]\nlifetime = 0s\n";
	struct cs_err e = { 0 };
	struct cfg *c = NULL;

	(void)state;
	assert_int_equal(cfg_parse(ok, sizeof ok - 1, "t.ini", &c, &e), 0);
	assert_int_equal(c->fleet.role, FLEET_ROLE_MEMBER);
	assert_string_equal(c->fleet.name, "prod");
	assert_string_equal(c->fleet.endpoints, "https://a:2379,https://b:2379");
	assert_true(c->fleet.lifetime == 2 * 86400);
	cfg_free(c);
	assert_int_equal(cfg_parse(bad, sizeof bad - 1, "t.ini", &c, &e), -1);
	assert_string_equal(e.msg, "t.ini:3: [fleet] role: expected admin or member");
	memset(&e, 0, sizeof e);
	assert_int_equal(cfg_parse(short_life, sizeof short_life - 1, "t.ini", &c, &e), -1);
	assert_non_null(strstr(e.msg, "t.ini:2: [fleet] lifetime"));
}

/* A broken [fleet] is refused when the config is read, naming file, line and key. */
static void
test_config_fleet_refuses_bad_values_and_missing_keys(void **state)
{
	static const char ftp[] = "[fleet]\nrole = member\nname = prod\nendpoints = ftp://x\n";
	static const char caps[] = "[fleet]\nrole = member\nname = Prod!\n";
	static const char host[] = "[fleet]\nhost_name = web/2\n";
	static const char noep[] = "[fleet]\nrole = member\nname = prod\n";
	struct cs_err e = { 0 };
	struct cfg *c = NULL;

	(void)state;
	assert_int_equal(cfg_parse(ftp, sizeof ftp - 1, "t.ini", &c, &e), -1);
	assert_non_null(strstr(e.msg, "t.ini:4: [fleet] endpoints: expected http"));
	memset(&e, 0, sizeof e);
	assert_int_equal(cfg_parse(caps, sizeof caps - 1, "t.ini", &c, &e), -1);
	assert_non_null(strstr(e.msg, "t.ini:3: [fleet] name: expected [a-z0-9]"));
	memset(&e, 0, sizeof e);
	assert_int_equal(cfg_parse(host, sizeof host - 1, "t.ini", &c, &e), -1);
	assert_non_null(strstr(e.msg, "t.ini:2: [fleet] host_name"));
	memset(&e, 0, sizeof e);
	assert_int_equal(cfg_parse(noep, sizeof noep - 1, "t.ini", &c, &e), -1);
	assert_string_equal(e.msg, "t.ini: [fleet] endpoints is not set (every fleet role "
	    "needs it)");
}

/* A member's config in dir/m: vault, key file, state_dir. */
static struct cfg *
member_cfg(const char *sub)
{
	struct cs_err e = { 0 };
	struct cfg *c = NULL;
	char p[256];

	assert_int_equal(cfg_parse("", 0, "empty", &c, &e), 0);
	snprintf(p, sizeof p, "%s/%s", dir, sub);
	(void)mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/%s/vault/vault.json", dir, sub);
	assert_int_equal(cfg_set_path(&c->vault_path, p, &e), 0);
	snprintf(p, sizeof p, "%s/%s/etc/key", dir, sub);
	assert_int_equal(cfg_set_path(&c->key_file, p, &e), 0);
	snprintf(p, sizeof p, "%s/%s/state", dir, sub);
	assert_int_equal(cfg_set_path(&c->state_dir, p, &e), 0);
	return c;
}

static void
test_apply_writes_key_and_vault_that_open_together(void **state)
{
	struct cfg *c = member_cfg("m1");
	struct key *k1, *k2, *got = NULL;
	struct vault *v1, *v2, *ov = NULL;
	struct secret *s = NULL;
	struct cs_err e = { 0 };
	char *b1, *b2, next[300];
	size_t l1, l2;

	(void)state;
	assert_int_equal(key_generate(&k1, &e), 0);
	assert_int_equal(key_generate(&k2, &e), 0);
	b1 = vault_bytes(k1, 1, &l1, &v1);
	assert_int_equal(fleet_apply(c, k1, b1, l1, v1, &e), 0);
	assert_int_equal(store_open(c->vault_path, c->key_file, &got, &ov, &e), 0);
	assert_string_equal(got->fpr, k1->fpr);
	assert_int_equal(vault_reveal(ov, "openai", "api_key", &s, &e), 0);
	secret_free(s);
	vault_close(ov);
	key_free(got);
	/* A new key and a newer vault: both replaced, no ".next" left. */
	b2 = vault_bytes(k2, 2, &l2, &v2);
	if (fleet_apply(c, k2, b2, l2, v2, &e) == -1)
		fail_msg("%s", e.msg);
	assert_int_equal(store_open(c->vault_path, c->key_file, &got, &ov, &e), 0);
	assert_string_equal(got->fpr, k2->fpr);
	snprintf(next, sizeof next, "%s.next", c->key_file);
	assert_int_equal(access(next, F_OK), -1);
	vault_close(ov);
	key_free(got);
	/* The older vault again: below the floor, refused, nothing written. */
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_apply(c, k1, b1, l1, v1, &e), -1);
	assert_int_equal(e.code, ESTALE);
	assert_int_equal(store_open(c->vault_path, c->key_file, &got, &ov, &e), 0);
	assert_string_equal(got->fpr, k2->fpr);
	vault_close(ov);
	key_free(got);
	free(b1);
	free(b2);
	vault_close(v1);
	vault_close(v2);
	key_free(k1);
	key_free(k2);
	cfg_free(c);
}

static void
test_status_says_stale_when_unreachable_or_old(void **state)
{
	struct fleet_status st;
	struct cfg *c = member_cfg("st");
	struct cs_err e = { 0 };
	char path[PATH_MAX];
	json_t *o;

	(void)state;
	o = fleetstatus_answer(c, 1000);
	assert_true(json_is_null(json_object_get(o, "fleet")));
	json_decref(o);
	c->fleet.role = FLEET_ROLE_MEMBER;
	assert_int_equal(cfg_set_path(&c->fleet.name, "prod", &e), 0);
	o = fleetstatus_answer(c, 1000);	/* no follower ran */
	assert_true(json_is_true(json_object_get(o, "stale")));
	json_decref(o);
	memset(&st, 0, sizeof st);
	strcpy(st.fleet, "prod");
	st.generation = 5;
	st.confirmed = 1000;
	st.reachable = 1;
	assert_int_equal(mkdir(c->state_dir, 0700), 0);
	assert_int_equal(fleetstatus_path(c, path, &e), 0);
	assert_int_equal(fleetstatus_write(path, &st, &e), 0);
	o = fleetstatus_answer(c, 1000 + FLEET_STALE_SECONDS);
	assert_true(json_is_false(json_object_get(o, "stale")));
	assert_int_equal(json_integer_value(json_object_get(o, "generation")), 5);
	json_decref(o);
	o = fleetstatus_answer(c, 1001 + FLEET_STALE_SECONDS);
	assert_true(json_is_true(json_object_get(o, "stale")));
	json_decref(o);
	st.reachable = 0;
	assert_int_equal(fleetstatus_write(path, &st, &e), 0);
	o = fleetstatus_answer(c, 1000);
	assert_true(json_is_true(json_object_get(o, "stale")));
	json_decref(o);
	cfg_free(c);
}

/* A member whose newest manifest was refused (removed from the fleet, a forgery) serves
 * an old generation: stale, with the reason, hostile bytes escaped; and the vault's own
 * generation is a field apart from the fleet generation. */
static void
test_status_says_stale_and_why_when_refused(void **state)
{
	struct fleet_status st;
	struct cfg *c = member_cfg("rf");
	struct cs_err e = { 0 };
	char path[PATH_MAX];
	const char *d;
	json_t *o;

	(void)state;
	c->fleet.role = FLEET_ROLE_MEMBER;
	assert_int_equal(cfg_set_path(&c->fleet.name, "prod", &e), 0);
	memset(&st, 0, sizeof st);
	strcpy(st.fleet, "prod");
	st.generation = 6;
	st.vault_generation = 41;
	st.confirmed = 1000;
	st.reachable = 1;
	fleetstatus_refusal(&st, "host web2 is not in the manifest of generation 12\x1b[2J");
	assert_int_equal(mkdir(c->state_dir, 0700), 0);
	assert_int_equal(fleetstatus_path(c, path, &e), 0);
	assert_int_equal(fleetstatus_write(path, &st, &e), 0);
	o = fleetstatus_answer(c, 1001);
	assert_true(json_is_true(json_object_get(o, "stale")));
	assert_true(json_is_true(json_object_get(o, "refused")));
	d = json_string_value(json_object_get(o, "detail"));
	assert_non_null(d);
	assert_string_equal(d, "update refused: host web2 is not in the manifest of "
	    "generation 12\\x1b[2J");
	assert_int_equal(json_integer_value(json_object_get(o, "generation")), 6);
	assert_int_equal(json_integer_value(json_object_get(o, "vault_generation")), 41);
	json_decref(o);
	cfg_free(c);
}

/* A member whose etcd does not answer: a state_dir not made yet is made, the status
 * says unreachable with etcd's reason (not a temporary file's), --once fails with that
 * reason; after a restart the status still says what is served (the record). */
static void
test_follow_without_etcd_reports_what_is_served(void **state)
{
	volatile sig_atomic_t stop = 0;
	struct fleet_record rec = { 6, "0123456789abcdef" };
	struct cfg *c = member_cfg("fw");
	struct cs_err e = { 0 };
	char path[PATH_MAX], pub[FLEET_PUB_B64], hk[256], au[256];
	json_t *o;

	(void)state;
	snprintf(hk, sizeof hk, "%s/fw/host.key", dir);
	snprintf(au, sizeof au, "%s/fw/audit.log", dir);
	assert_int_equal(fleet_hostkey_create(hk, pub, &e), 0);
	fleet_pub_text(admin_pk, pub);
	c->fleet.role = FLEET_ROLE_MEMBER;
	assert_int_equal(cfg_set_path(&c->fleet.name, "prod", &e), 0);
	assert_int_equal(cfg_set_path(&c->fleet.endpoints, "http://127.0.0.1:9", &e), 0);
	assert_int_equal(cfg_set_path(&c->fleet.admin_public_key, pub, &e), 0);
	assert_int_equal(cfg_set_path(&c->fleet.host_key, hk, &e), 0);
	assert_int_equal(cfg_set_path(&c->fleet.host_name, "web1", &e), 0);
	assert_int_equal(cfg_set_path(&c->audit_path, au, &e), 0);
	assert_int_equal(access(c->state_dir, F_OK), -1);
	assert_int_equal(fleet_follow(c, &stop, 1, &e), -1);
	assert_non_null(strstr(e.msg, "127.0.0.1:9"));
	assert_null(strstr(e.msg, "tmp"));
	o = fleetstatus_answer(c, (int64_t)time(NULL));
	assert_true(json_is_false(json_object_get(o, "reachable")));
	assert_true(json_is_true(json_object_get(o, "stale")));
	assert_non_null(strstr(json_string_value(json_object_get(o, "detail")), "127.0.0.1:9"));
	json_decref(o);
	/* Restarted with generation 6 applied before: status says 6, and when. */
	assert_int_equal(fleet_record_path(c->state_dir, "prod", path, &e), 0);
	assert_int_equal(fleet_record_write(path, &rec, &e), 0);
	memset(&e, 0, sizeof e);
	assert_int_equal(fleet_follow(c, &stop, 1, &e), -1);
	o = fleetstatus_answer(c, (int64_t)time(NULL));
	assert_int_equal(json_integer_value(json_object_get(o, "generation")), 6);
	assert_true(json_integer_value(json_object_get(o, "applied")) > 0);
	json_decref(o);
	cfg_free(c);
}

#define KILL_VAULTS	300	/* generations the killed child may apply */
#define KILL_ROUNDS	220	/* SIGKILLs during fleet_apply */

struct gen_set {
	struct key	*k[KILL_VAULTS];
	char		*buf[KILL_VAULTS];
	size_t		 len[KILL_VAULTS];
	struct vault	*v[KILL_VAULTS];
};

/* KILL_VAULTS published vaults, each under a key of its own, of rising generation. */
static void
make_gens(struct gen_set *g)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s;
	char path[128], val[32];
	int i;

	snprintf(path, sizeof path, "%s/gens.json", dir);
	assert_int_equal(key_generate(&g->k[0], &e), 0);
	assert_int_equal(vault_new(g->k[0], &v, &e), 0);
	for (i = 0; i < KILL_VAULTS; i++) {
		if (i > 0) {
			assert_int_equal(key_generate(&g->k[i], &e), 0);
			assert_int_equal(vault_rekey(v, g->k[i], &e), 0);
		}
		snprintf(val, sizeof val, "val-%d", i);
		assert_non_null(s = secret_dup(val, strlen(val)));
		assert_int_equal(vault_put(v, "app", "token", s, 0, &e), 0);
		secret_free(s);
		assert_int_equal(vault_save(v, path, 0, &e), 0);
		assert_int_equal(file_read(path, "vault", VAULT_FILE_MAX_BYTES, &g->buf[i],
		    &g->len[i], &e), 0);
		assert_int_equal(vault_parse(g->buf[i], g->len[i], "gen", g->k[i], &g->v[i], &e), 0);
	}
	vault_close(v);
}

/* The index of the generation on disk: its value names it. Fails the test when the key
 * and vault on disk do not open together. */
static int
on_disk(const struct cfg *c)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	struct secret *s = NULL;
	char val[32];
	int i;

	if (store_open(c->vault_path, c->key_file, &k, &v, &e) == -1)
		fail_msg("torn: %s", e.msg);
	assert_int_equal(vault_reveal(v, "app", "token", &s, &e), 0);
	assert_true(s->len < sizeof val);
	memcpy(val, s->buf, s->len);
	val[s->len] = '\0';
	assert_int_equal(sscanf(val, "val-%d", &i), 1);
	secret_free(s);
	vault_close(v);
	key_free(k);
	return i;
}

/* fleet_apply killed at random instants: the key file (or ".next") and the vault on disk
 * always open together, the generation never goes back, and the next apply goes on. */
static void
test_sigkill_during_apply_never_tears_key_and_vault(void **state)
{
	struct gen_set *g = calloc(1, sizeof *g);
	struct cfg *c = member_cfg("kill");
	struct cs_err e = { 0 };
	struct timespec t0, t1;
	int i, at, last, first, status;
	uint32_t max_us;
	pid_t pid;

	(void)state;
	assert_non_null(g);
	make_gens(g);
	/* Kills start within about two applies of the child's start (an apply is five
	 * fsyncs); the window then follows what an apply costs, below. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(fleet_apply(c, g->k[0], g->buf[0], g->len[0], g->v[0], &e), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	max_us = (uint32_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	max_us = max_us * 4 + 1000;
	first = last = on_disk(c);
	for (i = 0; i < KILL_ROUNDS && last < KILL_VAULTS - 1; i++) {
		if ((pid = fork()) == 0) {
			for (at = last + 1; at < KILL_VAULTS; at++)
				if (fleet_apply(c, g->k[at], g->buf[at], g->len[at], g->v[at],
				    &e) == -1)
					_exit(3);
			_exit(0);
		}
		assert_true(pid > 0);
		usleep(randombytes_uniform(max_us));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
			fail_msg("an apply failed after a kill");
		at = on_disk(c);
		assert_true(at >= last);
		/* Keep the kills within about one apply of the start, whatever an apply
		 * costs now (a loaded machine changes it): more than two applies in one
		 * round halves the window, none at all widens it. */
		if (at - last > 2 && max_us > 200)
			max_us /= 2;
		else if (at == last && max_us < 2000000)
			max_us += max_us / 4 + 1;
		last = at;
	}
	print_message("%d kills (window at the end: 0 to %u us) during %d applies\n", i, max_us,
	    last - first);
	assert_true(i >= 200);
	assert_true(last > first);
	for (i = 0; i < KILL_VAULTS; i++) {
		key_free(g->k[i]);
		free(g->buf[i]);
		vault_close(g->v[i]);
	}
	free(g);
	cfg_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_are_0600_and_never_replaced),
		cmocka_unit_test(test_host_key_comes_from_the_credentials_directory),
		cmocka_unit_test(test_pub_parse_refuses_what_is_not_a_key),
		cmocka_unit_test(test_manifest_round_trip),
		cmocka_unit_test(test_forged_manifest_is_refused),
		cmocka_unit_test(test_unsigned_manifest_is_refused),
		cmocka_unit_test(test_manifest_signed_by_another_key_is_refused),
		cmocka_unit_test(test_noncanonical_manifest_is_refused),
		cmocka_unit_test(test_oversize_manifest_is_refused_unread),
		cmocka_unit_test(test_sealed_key_opens_only_for_its_host),
		cmocka_unit_test(test_chunks_split_under_the_request_limit_and_are_checked),
		cmocka_unit_test(test_sealed_key_hash_and_membership_are_checked),
		cmocka_unit_test(test_member_checks_key_fingerprint_mac_and_fields),
		cmocka_unit_test(test_hosts_file_round_trip),
		cmocka_unit_test(test_record_round_trip_and_malformed_is_an_error),
		cmocka_unit_test(test_config_fleet_section),
		cmocka_unit_test(test_config_fleet_refuses_bad_values_and_missing_keys),
		cmocka_unit_test(test_apply_writes_key_and_vault_that_open_together),
		cmocka_unit_test(test_status_says_stale_when_unreachable_or_old),
		cmocka_unit_test(test_status_says_stale_and_why_when_refused),
		cmocka_unit_test(test_follow_without_etcd_reports_what_is_served),
		cmocka_unit_test(test_sigkill_during_apply_never_tears_key_and_vault),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
