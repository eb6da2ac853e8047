/* crypto/vaultparse.c - the vault's text form: the two parsers behind vault_parse() and
 * the printer vault_save() writes with; see vault.h and docs/architecture.md.
 *
 * Parsing is strict: unknown or duplicate keys, wrong types, bad names or base64 are
 * errors naming the file and the item. A hostile name is shown escaped and shortened.
 * A document is read first by a direct scanner (vault_parse_fast), and when it gives up
 * by jansson (vault_parse_json), the reference, whose errors are the ones shown;
 * tests/fuzz/fuzz_vault_diff.c requires that they agree. What a parser fills is then
 * checked against the vault's MAC (vault.c). */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../base/file.h"
#include "../base/name.h"
#include "b64.h"
#include "vaultint.h"


static const char *const top_keys[] = {
	"format", "version", "cipher", "key_fingerprint", "generation", "providers", "mac",
	"removed_version",	/* from version 2 on; keep it last (vault_parse_fast) */
};
#define TOP_REMOVED	(1u << 7)	/* vault_parse_fast's bit of "removed_version" */
#define FIELD_KEYS	"\"value\", \"version\" and \"changed\""
#define FIELD_META_MAX	128	/* bytes vault_text adds around a value from version 2 */

static int
pcmp(const void *a, const void *b)
{
	return strcmp(((const struct provider *)a)->name, ((const struct provider *)b)->name);
}

static int
fcmp(const void *a, const void *b)
{
	return strcmp(((const struct field *)a)->name, ((const struct field *)b)->name);
}

/* A JSON object key as a C string, refusing one with a NUL byte inside. */
static int
json_name(void *it, const char *path, const char *what, const char **name, struct cs_err *e)
{
	char msg[CS_ERR_MSG_MAX];
	const char *k = json_object_iter_key(it);
	size_t len = json_object_iter_key_len(it);

	if (cs_name_why(k, len, what, msg, sizeof msg) == -1)
		return cs_err_set(e, EINVAL, "%s: %s", path, msg);
	*name = k;
	return 0;
}

static int
check_top_keys(json_t *root, const char *path, struct cs_err *e)
{
	char shown[SHOWN_BUF];
	const char *k;
	size_t i, len;
	void *it;

	for (it = json_object_iter(root); it != NULL; it = json_object_iter_next(root, it)) {
		k = json_object_iter_key(it);
		len = json_object_iter_key_len(it);
		for (i = 0; i < sizeof top_keys / sizeof top_keys[0]; i++)
			if (len == strlen(top_keys[i]) && memcmp(k, top_keys[i], len) == 0)
				break;
		if (i == sizeof top_keys / sizeof top_keys[0]) {
			cs_show(k, len, SHOWN_MAX, shown, sizeof shown);
			return cs_err_set(e, EINVAL, "%s: unknown key \"%s\" at the top level",
			    path, shown);
		}
	}
	return 0;
}

static int
fpr_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == KEY_FPR_HEX;
}

/* The header items, in the order a reader needs them: what the file is, then whose. */
static int
parse_header(json_t *root, const char *path, const struct key *k, struct vault *v,
    struct cs_err *e)
{
	json_t *j;
	json_int_t gen;

	j = json_object_get(root, "format");
	if (!json_is_string(j) || strcmp(json_string_value(j), VAULT_FORMAT) != 0)
		return cs_err_set(e, EINVAL, "%s: not a comfysecrets vault (\"format\" is not "
		    "\"%s\")", path, VAULT_FORMAT);
	j = json_object_get(root, "version");
	if (!json_is_integer(j))
		return cs_err_set(e, EINVAL, "%s: \"version\" is missing or not an integer",
		    path);
	if (json_integer_value(j) != VAULT_VERSION && json_integer_value(j) != VAULT_VERSION_OLD)
		return cs_err_set(e, EINVAL, "%s: vault version %lld is not supported (this "
		    "program reads versions %d and %d)", path, (long long)json_integer_value(j),
		    VAULT_VERSION_OLD, VAULT_VERSION);
	v->format = (unsigned)json_integer_value(j);
	j = json_object_get(root, "cipher");
	if (!json_is_string(j) || strcmp(json_string_value(j), VAULT_CIPHER) != 0)
		return cs_err_set(e, EINVAL, "%s: \"cipher\" must be \"%s\"", path, VAULT_CIPHER);
	j = json_object_get(root, "key_fingerprint");
	if (!json_is_string(j) || !fpr_ok(json_string_value(j)))
		return cs_err_set(e, EINVAL, "%s: \"key_fingerprint\" must be %d lowercase hex "
		    "digits", path, KEY_FPR_HEX);
	/* Before anything is verified: a wrong key is the likeliest mistake, say so. */
	if (strcmp(json_string_value(j), k->fpr) != 0)
		return cs_err_set(e, EKEYREJECTED, "%s: key fingerprint %s does not match the "
		    "vault's %s (wrong key?)", path, k->fpr, json_string_value(j));
	j = json_object_get(root, "generation");
	if (!json_is_integer(j) || (gen = json_integer_value(j)) < 0)
		return cs_err_set(e, EINVAL, "%s: \"generation\" must be a non-negative integer",
		    path);
	v->generation = (uint64_t)gen;
	j = json_object_get(root, "removed_version");
	if (v->format == VAULT_VERSION_OLD && j != NULL)
		return cs_err_set(e, EINVAL, "%s: \"removed_version\" is not part of a version %d "
		    "vault", path, VAULT_VERSION_OLD);
	if (v->format != VAULT_VERSION_OLD &&
	    (!json_is_integer(j) || (gen = json_integer_value(j)) < 0))
		return cs_err_set(e, EINVAL, "%s: \"removed_version\" must be a non-negative "
		    "integer", path);
	v->removed = v->format != VAULT_VERSION_OLD ? (uint64_t)gen : 0;
	return 0;
}

/* A non-negative JSON integer of field object j into *out. */
static int
meta_int(json_t *j, const char *key, const char *path, const char *pname, const char *fname,
    uint64_t *out, struct cs_err *e)
{
	json_t *n = json_object_get(j, key);

	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return cs_err_set(e, EINVAL, "%s: %s/%s: \"%s\" must be a non-negative integer",
		    path, pname, fname, key);
	*out = (uint64_t)json_integer_value(n);
	return 0;
}

/* From version 2 on a field is an object of FIELD_KEYS: its sealed value, its version
 * and the time it changed (ns since the epoch). Fills f's version and time. */
static int
parse_meta(json_t *j, const char *path, const char *pname, struct field *f,
    struct cs_err *e)
{
	char shown[SHOWN_BUF];
	const char *k;
	uint64_t t;
	size_t len;
	void *it;

	if (!json_is_object(j))
		return cs_err_set(e, EINVAL, "%s: %s/%s: must be an object of %s", path, pname,
		    f->name, FIELD_KEYS);
	for (it = json_object_iter(j); it != NULL; it = json_object_iter_next(j, it)) {
		k = json_object_iter_key(it);
		len = json_object_iter_key_len(it);
		if ((len == 5 && memcmp(k, "value", 5) == 0) ||
		    (len == 7 && memcmp(k, "version", 7) == 0) ||
		    (len == 7 && memcmp(k, "changed", 7) == 0))
			continue;
		cs_show(k, len, SHOWN_MAX, shown, sizeof shown);
		return cs_err_set(e, EINVAL, "%s: %s/%s: unknown key \"%s\" (a field holds %s)",
		    path, pname, f->name, shown, FIELD_KEYS);
	}
	if (meta_int(j, "version", path, pname, f->name, &f->version, e) == -1 ||
	    meta_int(j, "changed", path, pname, f->name, &t, e) == -1)
		return -1;
	f->mtime = (int64_t)t;
	return 0;
}

/* base64(nonce || ciphertext || tag) of provider/field into f->ct: j itself in a vault
 * of format VAULT_VERSION_OLD, else j's "value" (parse_meta). */
static int
parse_value(json_t *j, const char *path, const char *pname, unsigned format,
    struct field *f, struct cs_err *e)
{
	const char *s, *end;
	size_t slen;

	if (format != VAULT_VERSION_OLD) {
		if (parse_meta(j, path, pname, f, e) == -1)
			return -1;
		j = json_object_get(j, "value");
	}
	if (!json_is_string(j))
		return cs_err_set(e, EINVAL, "%s: %s/%s: the value must be a base64 string", path,
		    pname, f->name);
	s = json_string_value(j);
	slen = json_string_length(j);
	if ((f->ct = malloc(slen / 4 * 3 + 3)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	if (!b64_text_ok(s, slen) ||
	    sodium_base642bin(f->ct, slen / 4 * 3 + 3, s, slen, NULL, &f->ctlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + slen)
		return cs_err_set(e, EINVAL, "%s: %s/%s: the value is not valid base64", path,
		    pname, f->name);
	if (f->ctlen < CT_OVERHEAD)
		return cs_err_set(e, EINVAL, "%s: %s/%s: the ciphertext is too short to hold a "
		    "nonce and a tag", path, pname, f->name);
	if (f->ctlen - CT_OVERHEAD > VAULT_VALUE_HARD_MAX)
		return cs_err_set(e, EINVAL, "%s: %s/%s: the value is over the hard limit of %u "
		    "bytes", path, pname, f->name, VAULT_VALUE_HARD_MAX);
	return 0;
}

static int
parse_provider(json_t *jp, const char *path, unsigned format, struct provider *p,
    struct cs_err *e)
{
	struct field *f;
	const char *name;
	void *it;

	if (!json_is_object(jp))
		return cs_err_set(e, EINVAL, "%s: provider %s: must be an object of fields", path,
		    p->name);
	if (json_object_size(jp) == 0)
		return cs_err_set(e, EINVAL, "%s: provider %s has no fields", path, p->name);
	if ((p->f = calloc(json_object_size(jp), sizeof *p->f)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	p->cap = json_object_size(jp);
	for (it = json_object_iter(jp); it != NULL; it = json_object_iter_next(jp, it)) {
		if (json_name(it, path, "field", &name, e) == -1)
			return -1;
		assert(p->n < p->cap);
		f = &p->f[p->n];
		if ((f->name = strdup(name)) == NULL)
			return cs_err_sys(e, ENOMEM, "%s", path);
		p->n++;		/* from here vault_close() frees it */
		if (parse_value(json_object_iter_value(it), path, p->name, format, f, e) == -1)
			return -1;
	}
	if (p->n > 1)
		qsort(p->f, p->n, sizeof *p->f, fcmp);
	return 0;
}

static int
parse_providers(json_t *root, const char *path, struct vault *v, struct cs_err *e)
{
	json_t *jps = json_object_get(root, "providers");
	struct provider *p;
	const char *name;
	void *it;

	if (!json_is_object(jps))
		return cs_err_set(e, EINVAL, "%s: \"providers\" is missing or not an object",
		    path);
	if (json_object_size(jps) > 0 &&
	    (v->p = calloc(json_object_size(jps), sizeof *v->p)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	v->cap = json_object_size(jps);
	for (it = json_object_iter(jps); it != NULL; it = json_object_iter_next(jps, it)) {
		if (json_name(it, path, "provider", &name, e) == -1)
			return -1;
		assert(v->n < v->cap);
		p = &v->p[v->n];
		if ((p->name = strdup(name)) == NULL)
			return cs_err_sys(e, ENOMEM, "%s", path);
		v->n++;
		if (parse_provider(json_object_iter_value(it), path, v->format, p, e) == -1)
			return -1;
	}
	if (v->n > 1)
		qsort(v->p, v->n, sizeof *v->p, pcmp);
	return 0;
}

static int
check_mac(json_t *root, const char *path, const struct vault *v, struct cs_err *e)
{
	unsigned char want[MAC_BYTES], got[MAC_BYTES];
	json_t *j = json_object_get(root, "mac");
	const char *s, *end;
	size_t len = 0;
	int rc = -1;

	if (j == NULL)
		return cs_err_set(e, EBADMSG, "%s: the vault has no \"mac\": it was altered or is "
		    "not a comfysecrets vault", path);
	s = json_string_value(j);	/* NULL when not a string */
	if (s == NULL || !b64_text_ok(s, json_string_length(j)) ||
	    sodium_base642bin(got, sizeof got, s, json_string_length(j), NULL,
	    &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + json_string_length(j) || len != MAC_BYTES) {
		cs_err_set(e, EBADMSG, "%s: \"mac\" is not base64 of %d bytes: the vault was "
		    "altered", path, MAC_BYTES);
		goto out;
	}
	vault_mac_compute(v, want);
	/* Constant time: a timing difference must not tell a forger how close he came. */
	if (crypto_verify_32(want, got) != 0) {
		cs_err_set(e, EBADMSG, "%s: MAC does not verify: the vault was altered or is not "
		    "under this key", path);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(want, sizeof want);
	return rc;
}

/* The fast path of vault_parse(). A vault as this program writes it (or any JSON text
 * with the same meaning whose strings need no escape) is read straight from the bytes:
 * jansson would build a node for every name and value first, and at 100 000 fields
 * that is most of the time a daemon takes to start or reload, and a `set` to run. It
 * takes only what is plainly valid: each check of the jansson path is made here too,
 * and on anything else (an escape, a byte outside printable ASCII, a number that is
 * not plain digits, a duplicate or unknown key, a bad name, base64 or MAC) it gives up
 * and the jansson path reads the document again, so every error keeps its one
 * message. 0 when v is filled, -1 to fall back (v then holds whatever was read). */
struct scan {
	const char	*p, *end;
	size_t		 nstr, nobj;	/* fields seen as a string (version 1), an object */
};

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' ||
	    *s->p == '\r'))
		s->p++;
}

static int
scan_char(struct scan *s, char c)
{
	scan_ws(s);
	if (s->p == s->end || *s->p != c)
		return 0;
	s->p++;
	return 1;
}

/* A string of printable ASCII without escapes. */
static int
scan_str(struct scan *s, const char **str, size_t *len)
{
	const char *q;

	if (!scan_char(s, '"'))
		return 0;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if (*q < 0x20 || *q > 0x7e || *q == '\\')
			return 0;
	if (q == s->end)
		return 0;
	*str = s->p;
	*len = (size_t)(q - s->p);
	s->p = q + 1;
	return 1;
}

/* Plain digits, no leading zero, at most LLONG_MAX (what jansson takes as an integer). */
static int
scan_uint(struct scan *s, uint64_t *out)
{
	uint64_t x = 0;
	const char *start;

	scan_ws(s);
	for (start = s->p; s->p < s->end && *s->p >= '0' && *s->p <= '9'; s->p++) {
		if (x > ((uint64_t)LLONG_MAX - (uint64_t)(*s->p - '0')) / 10)
			return 0;
		x = x * 10 + (uint64_t)(*s->p - '0');
	}
	if (s->p == start || (*start == '0' && s->p - start > 1) ||
	    (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')))
		return 0;
	*out = x;
	return 1;
}

static int
str_is(const char *str, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(str, lit, len) == 0;	/* public names */
}

static int
name_fast_ok(const char *name, size_t len)
{
	char msg[CS_ERR_MSG_MAX];

	return cs_name_why(name, len, "name", msg, sizeof msg) == 0;
}

/* A field object (from version 2): FIELD_KEYS in any order, each once. */
static int
fast_meta(struct scan *s, struct field *f, const char **b64s, size_t *blen)
{
	const char *key;
	size_t klen;
	uint64_t t;
	unsigned seen = 0;

	if (!scan_char(s, '{'))
		return -1;
	do {
		if (!scan_str(s, &key, &klen) || !scan_char(s, ':'))
			return -1;
		if (str_is(key, klen, "value") && !(seen & 1)) {
			if (!scan_str(s, b64s, blen))
				return -1;
			seen |= 1;
		} else if (str_is(key, klen, "version") && !(seen & 2)) {
			if (!scan_uint(s, &f->version))
				return -1;
			seen |= 2;
		} else if (str_is(key, klen, "changed") && !(seen & 4)) {
			if (!scan_uint(s, &t))
				return -1;
			f->mtime = (int64_t)t;
			seen |= 4;
		} else {
			return -1;
		}
	} while (scan_char(s, ','));
	return scan_char(s, '}') && seen == 7 ? 0 : -1;
}

static int
fast_fields(struct scan *s, struct provider *p)
{
	const char *name, *b64s, *end;
	struct field *f;
	size_t nlen, blen, i;
	void *arr;

	if (!scan_char(s, '{') || scan_char(s, '}'))
		return -1;		/* not an object, or no fields */
	do {
		if (!scan_str(s, &name, &nlen) || !name_fast_ok(name, nlen) ||
		    !scan_char(s, ':'))
			return -1;
		if ((arr = vault_grown(p->f, &p->cap, p->n, sizeof *p->f)) == NULL)
			return -1;
		p->f = arr;
		f = &p->f[p->n];
		memset(f, 0, sizeof *f);
		if ((f->name = strndup(name, nlen)) == NULL)
			return -1;
		p->n++;
		scan_ws(s);
		if (s->p < s->end && *s->p == '{') {
			s->nobj++;
			if (fast_meta(s, f, &b64s, &blen) == -1)
				return -1;
		} else {
			s->nstr++;
			if (!scan_str(s, &b64s, &blen))
				return -1;
		}
		if (!b64_text_ok(b64s, blen) || (f->ct = malloc(blen / 4 * 3 + 3)) == NULL ||
		    sodium_base642bin(f->ct, blen / 4 * 3 + 3, b64s, blen, NULL, &f->ctlen, &end,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || end != b64s + blen ||
		    f->ctlen < CT_OVERHEAD || f->ctlen - CT_OVERHEAD > VAULT_VALUE_HARD_MAX)
			return -1;
	} while (scan_char(s, ','));
	if (!scan_char(s, '}'))
		return -1;
	if (p->n > 1)
		qsort(p->f, p->n, sizeof *p->f, fcmp);
	for (i = 1; i < p->n; i++)
		if (strcmp(p->f[i - 1].name, p->f[i].name) == 0)
			return -1;	/* a duplicate: jansson's error */
	return 0;
}

static int
fast_providers(struct scan *s, struct vault *v)
{
	const char *name;
	size_t nlen, i;
	void *arr;

	if (!scan_char(s, '{'))
		return -1;
	if (scan_char(s, '}'))
		return 0;
	do {
		if (!scan_str(s, &name, &nlen) || !name_fast_ok(name, nlen) ||
		    !scan_char(s, ':'))
			return -1;
		if ((arr = vault_grown(v->p, &v->cap, v->n, sizeof *v->p)) == NULL)
			return -1;
		v->p = arr;
		memset(&v->p[v->n], 0, sizeof v->p[v->n]);
		if ((v->p[v->n].name = strndup(name, nlen)) == NULL)
			return -1;
		v->n++;
		if (fast_fields(s, &v->p[v->n - 1]) == -1)
			return -1;
	} while (scan_char(s, ','));
	if (!scan_char(s, '}'))
		return -1;
	if (v->n > 1)
		qsort(v->p, v->n, sizeof *v->p, pcmp);
	for (i = 1; i < v->n; i++)
		if (strcmp(v->p[i - 1].name, v->p[i].name) == 0)
			return -1;
	return 0;
}

int
vault_parse_fast(const char *buf, size_t len, const struct key *k, struct vault *v)
{
	unsigned char want[MAC_BYTES], got[MAC_BYTES];
	struct scan s = { buf, buf + len, 0, 0 };
	const char *key, *str, *mac = NULL, *end;
	size_t klen, slen, maclen = 0, i, glen;
	uint64_t x;
	unsigned seen = 0, bit, all = (1u << (sizeof top_keys / sizeof top_keys[0])) - 1;
	int rc = -1;

	if (!scan_char(&s, '{') || scan_char(&s, '}'))
		return -1;
	do {
		if (!scan_str(&s, &key, &klen) || !scan_char(&s, ':'))
			return -1;
		for (i = 0; i < sizeof top_keys / sizeof top_keys[0]; i++)
			if (str_is(key, klen, top_keys[i]))
				break;
		bit = 1u << i;
		if (i == sizeof top_keys / sizeof top_keys[0] || (seen & bit))
			return -1;
		seen |= bit;
		if (str_is(key, klen, "format")) {
			if (!scan_str(&s, &str, &slen) || !str_is(str, slen, VAULT_FORMAT))
				return -1;
		} else if (str_is(key, klen, "version")) {
			if (!scan_uint(&s, &x) || (x != VAULT_VERSION && x != VAULT_VERSION_OLD))
				return -1;
			v->format = (unsigned)x;
		} else if (str_is(key, klen, "cipher")) {
			if (!scan_str(&s, &str, &slen) || !str_is(str, slen, VAULT_CIPHER))
				return -1;
		} else if (str_is(key, klen, "key_fingerprint")) {
			if (!scan_str(&s, &str, &slen) || !str_is(str, slen, k->fpr) ||
			    !fpr_ok(k->fpr))
				return -1;
		} else if (str_is(key, klen, "generation")) {
			if (!scan_uint(&s, &v->generation))
				return -1;
		} else if (str_is(key, klen, "providers")) {
			if (fast_providers(&s, v) == -1)
				return -1;
		} else if (str_is(key, klen, "removed_version")) {
			if (!scan_uint(&s, &v->removed))
				return -1;
		} else if (!scan_str(&s, &mac, &maclen)) {	/* "mac" */
			return -1;
		}
	} while (scan_char(&s, ','));
	if (!scan_char(&s, '}'))
		return -1;
	scan_ws(&s);
	if (s.p != s.end)
		return -1;
	/* Version 1: every field a string, no "removed_version"; later: objects and it. */
	if (v->format == VAULT_VERSION_OLD ? seen != (all & ~TOP_REMOVED) || s.nobj > 0 :
	    seen != all || s.nstr > 0)
		return -1;
	if (!b64_text_ok(mac, maclen) || sodium_base642bin(got, sizeof got, mac, maclen, NULL,
	    &glen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 || end != mac + maclen ||
	    glen != MAC_BYTES)
		return -1;
	vault_mac_compute(v, want);
	rc = crypto_verify_32(want, got) == 0 ? 0 : -1;
	sodium_memzero(want, sizeof want);
	return rc;
}

/* The reference parser: jansson builds the document, then each part is checked and
 * every error is named. vault_parse() comes here when vault_parse_fast() gives up;
 * tests/fuzz/fuzz_vault_diff.c runs both on the same bytes and requires that they agree. */
int
vault_parse_json(const char *buf, size_t len, const char *name, const struct key *k,
    struct vault **out, struct cs_err *e)
{
	char why[CS_JSON_REASON_BUF];
	struct vault *v;
	json_error_t jerr;
	json_t *root;
	int rc = -1;

	*out = NULL;
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		/* jansson quotes the text "near" the error: for a plaintext file given by
		 * mistake that could be a secret, so only the reason is kept. */
		return cs_err_set(e, EINVAL, "%s:%d:%d: not a vault: %s", name, jerr.line,
		    jerr.column, cs_json_reason(jerr.text, why, sizeof why));
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return cs_err_set(e, EINVAL, "%s: not a vault: not a JSON object", name);
	}
	if (vault_alloc(k, name, &v, e) == -1) {
		json_decref(root);
		return -1;
	}
	if (check_top_keys(root, name, e) == -1 || parse_header(root, name, k, v, e) == -1 ||
	    parse_providers(root, name, v, e) == -1 || check_mac(root, name, v, e) == -1)
		goto out;
	*out = v;
	v = NULL;
	rc = 0;
out:
	vault_close(v);
	json_decref(root);
	return rc;
}

int
vault_parse(const char *buf, size_t len, const char *name, const struct key *k,
    struct vault **out, struct cs_err *e)
{
	struct vault *v;

	*out = NULL;
	if (vault_alloc(k, name, &v, e) == -1)
		return -1;
	if (vault_parse_fast(buf, len, k, v) == 0) {
		*out = v;
		return 0;
	}
	vault_close(v);		/* the jansson path reads it again and names what is wrong */
	return vault_parse_json(buf, len, name, k, out, e);
}

int
vault_open(const char *path, const struct key *k, struct vault **out, struct cs_err *e)
{
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	if (file_read(path, "vault", VAULT_FILE_MAX_BYTES, &buf, &len, e) == -1)
		return -1;
	rc = vault_parse(buf, len, path, k, out, e);
	free(buf);
	return rc;
}

int
vault_peek_fingerprint(const char *path, char fpr[KEY_FPR_HEX + 1], struct cs_err *e)
{
	json_error_t jerr;
	json_t *root, *j;
	char *buf;
	size_t len;
	int rc = -1;

	if (file_read(path, "vault", VAULT_FILE_MAX_BYTES, &buf, &len, e) == -1)
		return -1;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	j = json_object_get(root, "key_fingerprint");	/* NULL root is fine */
	if (!json_is_string(j) || !fpr_ok(json_string_value(j))) {
		cs_err_set(e, EINVAL, "%s: not a vault, or no valid \"key_fingerprint\"", path);
		goto out;
	}
	memcpy(fpr, json_string_value(j), KEY_FPR_HEX + 1);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* The document as jansson's JSON_INDENT(2) | JSON_PRESERVE_ORDER would print it, in
 * v's format (a vault being saved is in VAULT_VERSION; the fuzz target prints others),
 * keys in the order docs/architecture.md shows them and entries in name order, written
 * straight into one buffer: a jansson tree of 100 000 values would cost more to build
 * than everything else in a save. Names are [a-z0-9._-] and base64 needs no escape in
 * JSON, so nothing here is escaped. Ends with a newline; NULL when out of memory. */
char *
vault_text(const struct vault *v, const unsigned char mac[MAC_BYTES], size_t *len)
{
	const struct provider *p;
	size_t cap = 512, i, j, n;
	char *t, *o;

	for (i = 0; i < v->n; i++) {
		cap += strlen(v->p[i].name) + 16;
		for (j = 0; j < v->p[i].n; j++)
			cap += strlen(v->p[i].f[j].name) + 16 + FIELD_META_MAX +
			    sodium_base64_ENCODED_LEN(v->p[i].f[j].ctlen,
			    sodium_base64_VARIANT_ORIGINAL);
	}
	if ((o = t = malloc(cap)) == NULL)
		return NULL;
	o += sprintf(o, "{\n  \"format\": \"%s\",\n  \"version\": %u,\n  \"cipher\": \"%s\",\n"
	    "  \"key_fingerprint\": \"%s\",\n  \"generation\": %llu,\n", VAULT_FORMAT,
	    v->format, VAULT_CIPHER, v->fpr, (unsigned long long)v->generation);
	if (v->format != VAULT_VERSION_OLD)
		o += sprintf(o, "  \"removed_version\": %llu,\n", (unsigned long long)v->removed);
	o += sprintf(o, "  \"providers\": {");
	for (i = 0; i < v->n; i++) {
		p = &v->p[i];
		o += sprintf(o, "%s\n    \"%s\": {", i > 0 ? "," : "", p->name);
		for (j = 0; j < p->n; j++) {
			o += sprintf(o, "%s\n      \"%s\": ", j > 0 ? "," : "", p->f[j].name);
			if (v->format != VAULT_VERSION_OLD)
				o += sprintf(o, "{\n        \"value\": ");
			*o++ = '"';
			n = sodium_base64_ENCODED_LEN(p->f[j].ctlen, sodium_base64_VARIANT_ORIGINAL);
			sodium_bin2base64(o, n, p->f[j].ct, p->f[j].ctlen,
			    sodium_base64_VARIANT_ORIGINAL);
			o += n - 1;
			*o++ = '"';
			if (v->format != VAULT_VERSION_OLD)
				o += sprintf(o, ",\n        \"version\": %llu,\n        \"changed\": "
				    "%lld\n      }", (unsigned long long)p->f[j].version,
				    (long long)p->f[j].mtime);
		}
		o += sprintf(o, "%s}", p->n > 0 ? "\n    " : "");
	}
	o += sprintf(o, "%s},\n  \"mac\": \"", v->n > 0 ? "\n  " : "");
	sodium_bin2base64(o, sodium_base64_ENCODED_LEN(MAC_BYTES, sodium_base64_VARIANT_ORIGINAL),
	    mac, MAC_BYTES, sodium_base64_VARIANT_ORIGINAL);
	o += strlen(o);
	o += sprintf(o, "\"\n}\n");
	assert((size_t)(o - t) < cap);
	*len = (size_t)(o - t);
	return t;
}
