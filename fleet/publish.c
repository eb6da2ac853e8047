/* fleet/publish.c - chunks, sealed keys, then the manifest by compare-and-swap; see
 * publish.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../crypto/file.h"
#include "../crypto/store.h"
#include "../policy/vaultio.h"
#include "conn.h"
#include "hosts.h"
#include "keys.h"
#include "manifest.h"
#include "pack.h"
#include "publish.h"
#include "record.h"

struct pub {
	const struct cfg	*c;
	struct etcd		*etcd;
	char			 prefix[FLEET_PREFIX_MAX];
	struct fleet_signer	*signer;
	struct fleet_hosts	 hosts;
	unsigned char		(*sealed)[FLEET_SEALED_BYTES];
	char			*vault;		/* the file's bytes (ciphertext) */
	size_t			 vlen;
	struct fleet_manifest	 m;
	int64_t			 rev;		/* the manifest's mod_revision; 0: none */
	uint64_t		 prev;		/* its generation, when ours; else 0 */
	uint64_t		 vgen;		/* the vault's own generation */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Step 1: the manifest now in etcd, and the generation to publish. */
static int
current(struct pub *p, struct cs_err *e)
{
	char key[FLEET_ETCD_KEY_MAX], path[PATH_MAX];
	struct fleet_manifest *old = NULL;
	struct fleet_record rec;
	struct etcd_range r = { 0 };
	struct cs_err me = { 0 };
	uint64_t top;

	fleet_key_manifest(p->prefix, key);
	if (etcd_get(p->etcd, key, 0, &r, e) == -1) {
		etcd_range_free(&r);
		return -1;
	}
	if (r.n == 1) {
		p->rev = r.kvs[0].mod_revision;
		if (fleet_manifest_open(r.kvs[0].value, r.kvs[0].len, p->signer->pk, &old,
		    &me) == 0 && strcmp(old->fleet, p->c->fleet.name) == 0)
			p->prev = old->generation;
		fleet_manifest_free(old);
	}
	etcd_range_free(&r);
	if (fleet_record_path(p->c->state_dir, p->c->fleet.name, path, e) == -1 ||
	    fleet_record_read(path, &rec, e) == -1)
		return -1;
	top = p->prev > rec.generation ? p->prev : rec.generation;
	if (top == UINT64_MAX)
		return cs_err_set(e, EOVERFLOW, "fleet generation at its maximum");
	p->m.generation = top + 1;
	return 0;
}

/* The vault file and its key, read under the vault lock; the manifest's chunk list. */
static int
load_vault(struct pub *p, struct cs_err *e)
{
	struct vault *v = NULL, *again = NULL;
	struct key *k = NULL;
	char mac[VAULT_MAC_HEX + 1], mac2[VAULT_MAC_HEX + 1];
	size_t i;
	int rc = -1;

	/* vaultio_open_read checks the floor; the bytes are then read and checked to be
	 * that same vault (the lock keeps writers out, this keeps us honest). */
	if (vaultio_open_read(p->c, &k, &v, e) == -1)
		return -1;
	if (file_read(p->c->vault_path, "vault", VAULT_FILE_MAX_BYTES, &p->vault, &p->vlen,
	    e) == -1 || vault_parse(p->vault, p->vlen, p->c->vault_path, k, &again, e) == -1)
		goto out;
	vault_mac_hex(v, mac);
	vault_mac_hex(again, mac2);
	if (strcmp(mac, mac2) != 0) {
		cs_err_set(e, ESTALE, "%s: changed while being published; publish again",
		    p->c->vault_path);
		goto out;
	}
	memcpy(p->m.fpr, k->fpr, sizeof p->m.fpr);
	p->vgen = vault_generation(v);
	if (fleet_pack_chunks(p->vault, p->vlen, &p->m, e) == -1)
		goto out;
	if ((p->sealed = calloc(p->hosts.n ? p->hosts.n : 1, sizeof *p->sealed)) == NULL ||
	    (p->m.hosts = calloc(p->hosts.n ? p->hosts.n : 1, sizeof *p->m.hosts)) == NULL) {
		cs_err_sys(e, ENOMEM, "publish");
		goto out;
	}
	for (i = 0; i < p->hosts.n; i++) {
		if (fleet_seal(k, p->hosts.h[i].pk, p->sealed[i], e) == -1)
			goto out;
		strcpy(p->m.hosts[i].name, p->hosts.h[i].name);
		fleet_hash(p->sealed[i], FLEET_SEALED_BYTES, p->m.hosts[i].hash);
	}
	p->m.nhosts = p->hosts.n;
	rc = 0;
out:
	vault_close(again);
	vault_close(v);
	key_free(k);
	return rc;
}

/* Step 2: chunks one by one, sealed keys FLEET_TXN_OPS at a time. */
static int
write_parts(struct pub *p, size_t *bytes, struct cs_err *e)
{
	char (*keys)[FLEET_ETCD_KEY_MAX] = NULL;
	struct etcd_op ops[FLEET_TXN_OPS];
	char key[FLEET_ETCD_KEY_MAX];
	size_t i, j, n;
	int ok, rc = -1;

	for (i = 0; i < p->m.nchunks; i++) {
		fleet_key_chunk(p->prefix, p->m.generation, i, key);
		if (etcd_put(p->etcd, key, p->vault + i * FLEET_CHUNK_BYTES, p->m.chunks[i].len,
		    NULL, e) == -1)
			return -1;
		*bytes += p->m.chunks[i].len;
	}
	if ((keys = calloc(FLEET_TXN_OPS, sizeof *keys)) == NULL)
		return cs_err_sys(e, ENOMEM, "publish");
	for (i = 0; i < p->hosts.n; i += n) {
		n = p->hosts.n - i < FLEET_TXN_OPS ? p->hosts.n - i : FLEET_TXN_OPS;
		for (j = 0; j < n; j++) {
			fleet_key_sealed(p->prefix, p->m.generation, p->hosts.h[i + j].name,
			    keys[j]);
			ops[j] = (struct etcd_op){ .type = ETCD_OP_PUT, .key = keys[j],
			    .value = p->sealed[i + j], .len = FLEET_SEALED_BYTES };
		}
		if (etcd_txn(p->etcd, NULL, 0, ops, n, &ok, NULL, e) == -1)
			goto out;
		*bytes += n * FLEET_SEALED_BYTES;
	}
	rc = 0;
out:
	free(keys);
	return rc;
}

/* Step 4: deletes every generation below g under P "gen/". Generations are 20 digits,
 * so [0, g) is covered by at most 9 prefixes per digit: for each position, the
 * prefixes of g's digits so far followed by each smaller digit. */
static int
collect(struct pub *p, uint64_t g, struct cs_err *e)
{
	static const size_t batch = FLEET_TXN_OPS;
	char digits[21], (*keys)[FLEET_ETCD_KEY_MAX];
	struct etcd_op ops[FLEET_TXN_OPS];
	size_t n = 0, pos;
	int ok, rc = 0;
	char d;

	snprintf(digits, sizeof digits, "%020" PRIu64, g);
	if ((keys = calloc(20 * 9, sizeof *keys)) == NULL)
		return cs_err_sys(e, ENOMEM, "publish");
	for (pos = 0; pos < 20; pos++) {
		for (d = '0'; d < digits[pos]; d++) {
			snprintf(keys[n], FLEET_ETCD_KEY_MAX, "%sgen/%.*s%c", p->prefix, (int)pos,
			    digits, d);
			ops[n % batch] = (struct etcd_op){ .type = ETCD_OP_DELETE, .key = keys[n],
			    .prefix = 1 };
			n++;
			if (n % batch == 0 && etcd_txn(p->etcd, NULL, 0, ops, batch, &ok, NULL,
			    e) == -1) {
				rc = -1;
				goto out;
			}
		}
	}
	if (n % batch != 0 && etcd_txn(p->etcd, NULL, 0, ops, n % batch, &ok, NULL, e) == -1)
		rc = -1;
out:
	free(keys);
	return rc;
}

int
fleet_publish(const struct cfg *c, struct fleet_published *out, struct cs_err *e)
{
	char key[FLEET_ETCD_KEY_MAX], path[PATH_MAX], *text = NULL;
	struct fleet_record rec;
	struct etcd_op op;
	struct pub p;
	double t0 = now_s();
	size_t tlen = 0;
	int lockfd = -1, ok = 0, rc = -1;

	memset(out, 0, sizeof *out);
	memset(&p, 0, sizeof p);
	p.c = c;
	if (fleet_conf_check(c, FLEET_ROLE_ADMIN, "publish", e) == -1 ||
	    fleet_prefix(c, p.prefix, e) == -1)
		return -1;
	snprintf(p.m.fleet, sizeof p.m.fleet, "%s", c->fleet.name);
	p.m.not_after = (int64_t)time(NULL) + (int64_t)c->fleet.lifetime;
	if (fleet_signer_load(c->fleet.signing_key, &p.signer, e) == -1 ||
	    fleet_hosts_read(c->fleet.hosts_file, &p.hosts, e) == -1)
		goto out;
	if (vault_lock(c->vault_path, &lockfd, e) == -1)
		goto out;
	if (load_vault(&p, e) == -1 || fleet_connect(c, &p.etcd, e) == -1 ||
	    current(&p, e) == -1 || write_parts(&p, &out->bytes, e) == -1 ||
	    fleet_manifest_sign(&p.m, p.signer, &text, &tlen, e) == -1)
		goto out;
	fleet_key_manifest(p.prefix, key);
	op = (struct etcd_op){ .type = ETCD_OP_PUT, .key = key, .value = text, .len = tlen };
	if (etcd_txn(p.etcd, key, p.rev, &op, 1, &ok, NULL, e) == -1)
		goto out;
	if (!ok) {
		cs_err_set(e, ESTALE, "publish of generation %" PRIu64 " lost the "
		    "compare-and-swap on %s: another publish changed it since revision %" PRId64
		    "; nothing more was published (run fleet publish again)", p.m.generation, key,
		    p.rev);
		goto out;
	}
	out->bytes += tlen;
	rec.generation = p.m.generation;
	memcpy(rec.fpr, p.m.fpr, sizeof rec.fpr);
	if (fleet_record_path(c->state_dir, c->fleet.name, path, e) == -1 ||
	    fleet_record_write(path, &rec, e) == -1 || collect(&p, p.m.generation, e) == -1)
		goto out;
	out->generation = p.m.generation;
	out->vault_generation = p.vgen;
	memcpy(out->fpr, p.m.fpr, sizeof out->fpr);
	out->chunks = p.m.nchunks;
	out->hosts = p.m.nhosts;
	out->seconds = now_s() - t0;
	rc = 0;
out:
	if (lockfd != -1)
		vault_unlock(lockfd);
	etcd_close(p.etcd);
	fleet_signer_free(p.signer);
	fleet_hosts_free(&p.hosts);
	free(p.sealed);
	free(p.vault);
	free(p.m.chunks);
	free(p.m.hosts);
	free(text);
	return rc;
}
