/* fleet/etcd.c - the etcd client: libcurl transport, failover, auth, the watch loop.
 *
 * Two curl easy handles per client: one for the short requests (its connection is
 * reused while the endpoint stays the same), one for the watch's long streaming POST, so
 * that the watch callback may run short requests. Every answer is read into a buffer
 * that refuses to grow past max_response, then parsed by etcdwire.c; the watch stream is
 * split into messages by etcdwire_split, bounded the same way.
 *
 * libcurl pitfalls handled here: CURLOPT_NOSIGNAL (a timeout must not use SIGALRM in a
 * process with threads or signal handlers of its own); an empty "Expect:" header (curl
 * otherwise waits up to 1 s for "100 Continue" before sending a body over 1 MiB);
 * CURLOPT_POSTFIELDS is not copied, so the body outlives the transfer; redirects are not
 * followed and only http and https are allowed, so an endpoint cannot send us elsewhere.
 *
 * The password lives in guarded memory and reaches only the authenticate request's body,
 * built there too. The token is a bearer credential for etcd (it grants what the user
 * may do, for --auth-token-ttl); curl copies it into its header list, which is heap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../crypto/file.h"
#include "etcd.h"
#include "etcdwire.h"

#define WATCH_BACKOFF_MIN_MS	100
#define WATCH_BACKOFF_MAX_MS	5000
#define WATCH_TICK_MS		1000	/* ETCD_EV_TICK at most this often */
#define WATCH_STOP_MS		100	/* etcd_set_stop's flag is read this often, waiting */
#define WATCH_PROBE_MS		10000	/* a silent stream's endpoint is asked this often */
#define WHAT_MAX		200	/* bytes of "etcd ENDPOINT: OP KEY" */

struct etcd {
	char	*eps[ETCD_ENDPOINTS_MAX];
	size_t	nep, cur;
	char	*ca, *cert, *key, *user;
	char	*password;		/* sodium_malloc; pwlen bytes + NUL */
	size_t	pwlen;
	char	*token;			/* malloc; wiped before free */
	long	timeout_ms;
	size_t	max_response;
	CURL	*h, *wh;		/* short requests; the watch */
	char	errbuf[CURL_ERROR_SIZE];
	char	werrbuf[CURL_ERROR_SIZE];
	volatile sig_atomic_t *stop;	/* etcd_set_stop; NULL: none */
};

/* An answer being read; refuses to grow past max. */
struct resp {
	char	*buf;
	size_t	len, cap, max;
	int	too_big;
};

static int curl_ready;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t
resp_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb, ncap;
	char *nb;

	if (n > r->max || r->len > r->max - n) {
		r->too_big = 1;
		return 0;		/* curl ends the transfer: CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		ncap = r->cap ? r->cap : 4096;
		while (ncap < r->len + n + 1)
			ncap *= 2;
		if (ncap > r->max + 1)
			ncap = r->max + 1;
		if ((nb = realloc(r->buf, ncap)) == NULL)
			return 0;
		r->buf = nb;
		r->cap = ncap;
	}
	memcpy(r->buf + r->len, ptr, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

/* The answer's text: "" for an empty body (no buffer was ever needed). */
static const char *
body_of(const struct resp *r)
{
	return r->buf ? r->buf : "";
}

static void
resp_reset(struct resp *r, int wipe)
{
	if (wipe && r->buf)
		sodium_memzero(r->buf, r->cap);
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
	r->too_big = 0;
}

/* Bytes of a key shown in a message: the longest key the fleet makes under a prefix of
 * 40 bytes ("P gen/G/chunk/N", "P gen/G/key/HOST" with a short host name) fits whole. */
#define KEY_SHOW_MAX	112

/* "etcd ENDPOINT: OP KEY" for messages; key made printable, cut past KEY_SHOW_MAX. */
static void
what_of(char *out, size_t n, const char *ep, const char *op, const char *key)
{
	char shown[CS_SHOW_BUF(KEY_SHOW_MAX)];

	if (key != NULL)
		snprintf(out, n, "etcd %s: %s %s", ep, op,
		    cs_show(key, strlen(key), KEY_SHOW_MAX, shown, sizeof shown));
	else
		snprintf(out, n, "etcd %s: %s", ep, op);
}

static int
setup_handle(struct etcd *c, CURL *h, char *errbuf)
{
	int bad = 0;

	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L) != CURLE_OK;
	if (c->ca)
		bad |= curl_easy_setopt(h, CURLOPT_CAINFO, c->ca) != CURLE_OK;
	if (c->cert)
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert) != CURLE_OK;
	if (c->key)
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEY, c->key) != CURLE_OK;
	return bad ? -1 : 0;
}

/* Reads the password file into guarded memory: a regular file, not a link, readable by
 * its owner only (as ssh wants of a key), at most ETCD_PASSWORD_MAX bytes; one trailing
 * newline (and a CR before it) is dropped. */
static int
read_password(struct etcd *c, const char *path, struct cs_err *e)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	if (file_open_regular(path, "etcd password file", &fd, &st, e) == -1)
		return -1;
	if (st.st_mode & 077) {
		close(fd);
		return cs_err_set(e, EACCES, "%s: etcd password file is readable by others "
		    "(mode %03o): chmod 600 it", path, (unsigned)(st.st_mode & 0777));
	}
	if ((c->password = sodium_malloc(ETCD_PASSWORD_MAX + 2)) == NULL) {
		close(fd);
		return cs_err_set(e, ENOMEM, "%s: out of memory", path);
	}
	for (;;) {
		n = read(fd, c->password + len, ETCD_PASSWORD_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return cs_err_sys(e, errno, "%s: read", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > ETCD_PASSWORD_MAX) {
			close(fd);
			return cs_err_set(e, EFBIG, "%s: etcd password file is over %d bytes",
			    path, ETCD_PASSWORD_MAX);
		}
	}
	close(fd);
	if (len > 0 && c->password[len - 1] == '\n')
		len--;
	if (len > 0 && c->password[len - 1] == '\r')
		len--;
	c->password[len] = '\0';
	c->pwlen = len;
	if (len == 0)
		return cs_err_set(e, EINVAL, "%s: etcd password file is empty", path);
	if (memchr(c->password, '\0', len) != NULL || memchr(c->password, '\n', len) != NULL)
		return cs_err_set(e, EINVAL, "%s: etcd password holds a NUL or a line break", path);
	return 0;
}

static char *
dup_opt(const char *s, int *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*bad = 1;
	return d;
}

int
etcd_open(const struct etcd_opts *o, struct etcd **out, struct cs_err *e)
{
	struct etcd *c;
	size_t i, n;
	int bad = 0;

	*out = NULL;
	if (o->nendpoints == 0 || o->endpoints == NULL)
		return cs_err_set(e, EINVAL, "etcd: no endpoint given");
	if (o->nendpoints > ETCD_ENDPOINTS_MAX)
		return cs_err_set(e, EINVAL, "etcd: %zu endpoints, at most %d", o->nendpoints,
		    ETCD_ENDPOINTS_MAX);
	for (i = 0; i < o->nendpoints; i++) {
		char shown[CS_SHOW_BUF(CS_SHOW_MAX)];
		const char *ep = o->endpoints[i];

		if (ep == NULL || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) ||
		    strpbrk(ep, " \t\r\n") != NULL || strlen(ep) > 200)
			return cs_err_set(e, EINVAL, "etcd: endpoint \"%s\" is not an http:// or "
			    "https:// URL", ep ? cs_show(ep, strlen(ep), CS_SHOW_MAX, shown,
			    sizeof shown) : "(null)");
	}
	if (o->user != NULL && (o->user[0] == '\0' || o->password_file == NULL))
		return cs_err_set(e, EINVAL, "etcd: user needs a name and a password file");
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return cs_err_set(e, ENOMEM, "etcd: libcurl cannot start");
		curl_ready = 1;
	}
	if (sodium_init() < 0 || (c = calloc(1, sizeof *c)) == NULL)
		return cs_err_set(e, ENOMEM, "etcd: out of memory");
	for (i = 0; i < o->nendpoints; i++) {
		c->eps[i] = dup_opt(o->endpoints[i], &bad);
		/* "https://h:2379/" and "https://h:2379" are the same endpoint. */
		if (c->eps[i] && (n = strlen(c->eps[i])) > 0 && c->eps[i][n - 1] == '/')
			c->eps[i][n - 1] = '\0';
	}
	c->nep = o->nendpoints;
	c->ca = dup_opt(o->ca, &bad);
	c->cert = dup_opt(o->cert, &bad);
	c->key = dup_opt(o->key, &bad);
	c->user = dup_opt(o->user, &bad);
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : ETCD_TIMEOUT_MS_DEFAULT;
	c->max_response = o->max_response > 0 ? o->max_response : ETCD_MAX_RESPONSE_DEFAULT;
	c->h = curl_easy_init();
	c->wh = curl_easy_init();
	if (bad || c->h == NULL || c->wh == NULL || setup_handle(c, c->h, c->errbuf) == -1 ||
	    setup_handle(c, c->wh, c->werrbuf) == -1) {
		etcd_close(c);
		return cs_err_set(e, ENOMEM, "etcd: out of memory");
	}
	if (o->user != NULL && read_password(c, o->password_file, e) == -1) {
		etcd_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

static void
drop_token(struct etcd *c)
{
	if (c->token) {
		sodium_memzero(c->token, strlen(c->token));
		free(c->token);
		c->token = NULL;
	}
}

void
etcd_close(struct etcd *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nep; i++)
		free(c->eps[i]);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c->user);
	sodium_free(c->password);	/* wipes */
	drop_token(c);
	if (c->h)
		curl_easy_cleanup(c->h);
	if (c->wh)
		curl_easy_cleanup(c->wh);
	free(c);
}

const char *
etcd_endpoint(const struct etcd *c)
{
	return c->eps[c->cur];
}

/* The headers of every request: JSON, no Expect, hasleader, and the token. NULL when
 * out of memory. */
static struct curl_slist *
headers(const struct etcd *c, int with_token)
{
	struct curl_slist *l = NULL, *t;
	char *auth = NULL;

	if ((t = curl_slist_append(l, "Content-Type: application/json")) == NULL)
		goto fail;
	l = t;
	if ((t = curl_slist_append(l, "Expect:")) == NULL)
		goto fail;
	l = t;
	/* gRPC metadata hasleader=true (clientv3.WithRequireLeader): a member without a
	 * leader refuses at once, and cancels a watch when it loses its leader. */
	if ((t = curl_slist_append(l, "Grpc-Metadata-hasleader: true")) == NULL)
		goto fail;
	l = t;
	if (with_token && c->token) {
		if (asprintf(&auth, "Authorization: %s", c->token) < 0)
			goto fail;
		t = curl_slist_append(l, auth);
		sodium_memzero(auth, strlen(auth));
		free(auth);
		if (t == NULL)
			goto fail;
		l = t;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/* One POST of body to endpoint ep, answer into r. Returns the curl code; *status the
 * HTTP status (0 without an answer); *sent 0 when the request surely never left. */
static CURLcode
post(struct etcd *c, size_t ep, const char *path, const char *body, size_t bodylen,
    int with_token, struct resp *r, long *status, int *sent)
{
	char url[256];
	struct curl_slist *hl;
	curl_off_t pre = 0;
	CURLcode cc;

	*status = 0;
	*sent = 0;
	resp_reset(r, 0);
	r->max = c->max_response;
	snprintf(url, sizeof url, "%s%s", c->eps[ep], path);
	if ((hl = headers(c, with_token)) == NULL)
		return CURLE_OUT_OF_MEMORY;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, resp_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	cc = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, status);
	/* The pre-transfer time is 0 until the request was about to be sent. */
	if (curl_easy_getinfo(c->h, CURLINFO_PRETRANSFER_TIME_T, &pre) != CURLE_OK || pre > 0 ||
	    *status != 0)
		*sent = 1;
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	return cc;
}

/* The transport's reason, from curl's error buffer when it has one. */
static const char *
curl_reason(CURLcode cc, const char *errbuf)
{
	return errbuf[0] ? errbuf : curl_easy_strerror(cc);
}

/* Appends s to body[*len], JSON-escaped; body has room (6 bytes per input byte). */
static void
json_escape(char *body, size_t *len, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	unsigned char ch;

	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			body[(*len)++] = '\\';
			body[(*len)++] = (char)ch;
		} else if (ch < 0x20) {
			body[(*len)++] = '\\';
			body[(*len)++] = 'u';
			body[(*len)++] = '0';
			body[(*len)++] = '0';
			body[(*len)++] = hex[ch >> 4];
			body[(*len)++] = hex[ch & 15];
		} else
			body[(*len)++] = (char)ch;
	}
}

/* POST /v3/auth/authenticate to endpoint ep. Returns 0 with c->token set; -1 with e
 * set and *moveon 1 when another endpoint may do better (transport, no leader). */
static int
authenticate(struct etcd *c, size_t ep, int *moveon, struct cs_err *e)
{
	struct etcdwire_error we;
	struct resp r = {0};
	char what[WHAT_MAX], *body;
	size_t cap, len = 0;
	long status;
	int sent, code, rc = -1;
	CURLcode cc;

	*moveon = 0;
	what_of(what, sizeof what, c->eps[ep], "authenticate user", c->user);
	cap = 32 + 6 * (strlen(c->user) + c->pwlen);
	if ((body = sodium_malloc(cap)) == NULL)
		return cs_err_set(e, ENOMEM, "%s: out of memory", what);
	memcpy(body, "{\"name\":\"", 9);
	len = 9;
	json_escape(body, &len, c->user, strlen(c->user));
	memcpy(body + len, "\",\"password\":\"", 14);
	len += 14;
	json_escape(body, &len, c->password, c->pwlen);
	memcpy(body + len, "\"}", 3);
	len += 2;
	cc = post(c, ep, "/v3/auth/authenticate", body, len, 0, &r, &status, &sent);
	if (cc != CURLE_OK && !r.too_big) {
		*moveon = 1;
		cs_err_set(e, cc == CURLE_OPERATION_TIMEDOUT ? ETCD_ETIMEDOUT : ETCD_EUNREACHABLE,
		    "%s: %s", what, curl_reason(cc, c->errbuf));
		goto out;
	}
	if (r.too_big) {
		cs_err_set(e, ETCD_ETOOBIG, "%s: answer larger than %zu bytes (max_response)",
		    what, c->max_response);
		goto out;
	}
	if (status != 200) {
		etcdwire_parse_error(r.buf, r.len, status, &we);
		code = etcdwire_classify(&we);
		if (code == ETCD_ENOLEADER || code == ETCD_EUNREACHABLE || code == ETCD_ETIMEDOUT)
			*moveon = 1;
		if (code == 0 || code == ETCD_EAUTH)
			code = ETCD_EAUTH;
		cs_err_set(e, code, "%s: %s", what, code == ETCD_EAUTH && strstr(we.msg,
		    "authentication failed") ? "etcd refused the user name or password" : we.msg);
		goto out;
	}
	drop_token(c);
	if (etcdwire_parse_token(body_of(&r), r.len, what, &c->token, e) == -1)
		goto out;
	rc = 0;
out:
	sodium_free(body);
	resp_reset(&r, 1);
	return rc;
}

/* The error kept from the endpoints tried, the most telling first: an answer without a
 * leader says more than a refused connection. */
struct tried {
	int	code;
	char	msg[CS_ERR_MSG_MAX];
	size_t	n;
};

static void
tried_note(struct tried *t, int code, const char *what, const char *reason)
{
	struct cs_err m = {0};

	t->n++;
	if (t->code == 0 || code == ETCD_ENOLEADER ||
	    (code == ETCD_ETIMEDOUT && t->code == ETCD_EUNREACHABLE)) {
		t->code = code;
		if (what != NULL)
			cs_err_set(&m, code, "%s: %s", what, reason);
		else
			cs_err_set(&m, code, "%s", reason);
		memcpy(t->msg, m.msg, sizeof t->msg);
	}
}

/* A token from endpoint ep for request(): 0 with one, 1 when the next endpoint should be
 * tried (the reason noted in t), -1 with e set when no endpoint can help. */
static int
login(struct etcd *c, size_t ep, struct tried *t, struct cs_err *e)
{
	struct cs_err ae = { 0 };
	int moveon;

	if (authenticate(c, ep, &moveon, &ae) == 0)
		return 0;
	if (!moveon)
		return cs_err_set(e, ae.code, "%s", ae.msg);
	tried_note(t, ae.code, NULL, ae.msg);
	return 1;
}

/* Sends body to path on the current endpoint, then the others in turn (see etcd.h for
 * when), and leaves a 200 answer in r. write: the request changes the store. */
static int
request(struct etcd *c, const char *path, const char *body, int write, const char *op,
    const char *key, struct resp *r, struct cs_err *e)
{
	struct etcdwire_error we;
	struct tried t = {0};
	char what[WHAT_MAX];
	size_t i, ep;
	long status;
	int sent, code, rc, reauthed;
	CURLcode cc;

	for (i = 0; i < c->nep; i++) {
		ep = (c->cur + i) % c->nep;
		what_of(what, sizeof what, c->eps[ep], op, key);
		reauthed = 0;
		if (c->user && c->token == NULL) {
			if ((rc = login(c, ep, &t, e)) != 0) {
				if (rc == -1)
					return -1;
				continue;
			}
			reauthed = 1;
		}
again:
		cc = post(c, ep, path, body, strlen(body), 1, r, &status, &sent);
		if (r->too_big)
			return cs_err_set(e, ETCD_ETOOBIG, "%s: answer larger than %zu bytes "
			    "(max_response)", what, c->max_response);
		if (cc != CURLE_OK) {
			code = cc == CURLE_OPERATION_TIMEDOUT ? ETCD_ETIMEDOUT : ETCD_EUNREACHABLE;
			if (write && sent)
				return cs_err_set(e, code, "%s: %s; outcome unknown", what,
				    curl_reason(cc, c->errbuf));
			tried_note(&t, code, what, curl_reason(cc, c->errbuf));
			continue;
		}
		if (status == 200) {
			c->cur = ep;
			return 0;
		}
		etcdwire_parse_error(r->buf, r->len, status, &we);
		code = etcdwire_classify(&we);
		if (code == 0 && c->user && !reauthed) {
			/* The token expired (or etcd restarted and forgot it): a new one. */
			drop_token(c);
			if ((rc = login(c, ep, &t, e)) != 0) {
				if (rc == -1)
					return -1;
				continue;
			}
			reauthed = 1;
			goto again;
		}
		if (code == 0)
			code = ETCD_EAUTH;
		if (code == ETCD_ENOLEADER || code == ETCD_EUNREACHABLE || code == ETCD_ETIMEDOUT) {
			if (write && !etcdwire_not_applied(&we))
				return cs_err_set(e, code, "%s: %s; outcome unknown", what, we.msg);
			tried_note(&t, code, what, we.msg);
			continue;
		}
		c->cur = ep;
		if (code == ETCD_EAUTH && c->user == NULL)
			return cs_err_set(e, code, "%s: %s (etcd wants a user: none is configured)",
			    what, we.msg);
		return cs_err_set(e, code, "%s: %s", what, we.msg);
	}
	if (t.n > 1)
		return cs_err_set(e, t.code, "%s (all %zu endpoints failed)", t.msg, t.n);
	return cs_err_set(e, t.code, "%s", t.msg);
}

static int
get(struct etcd *c, const char *key, int prefix, int64_t rev, struct etcd_range *out,
    struct cs_err *e)
{
	struct resp r = {0};
	char what[WHAT_MAX], *body;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (key[0] == '\0')
		return cs_err_set(e, EINVAL, "etcd: range: empty key");
	if ((body = etcdwire_range_req(key, prefix, rev, 0, e)) == NULL)
		return -1;
	if (request(c, "/v3/kv/range", body, 0, prefix ? "range prefix" : "range", key, &r,
	    e) == 0) {
		what_of(what, sizeof what, c->eps[c->cur], prefix ? "range prefix" : "range", key);
		rc = etcdwire_parse_range(body_of(&r), r.len, what, out, e);
	}
	free(body);
	resp_reset(&r, 0);
	return rc;
}

int
etcd_get(struct etcd *c, const char *key, int prefix, struct etcd_range *out, struct cs_err *e)
{
	return get(c, key, prefix, 0, out, e);
}

int
etcd_get_rev(struct etcd *c, const char *key, int prefix, int64_t rev, struct etcd_range *out,
    struct cs_err *e)
{
	if (rev <= 0) {
		memset(out, 0, sizeof *out);
		return cs_err_set(e, EINVAL, "etcd: range: revision %lld is not positive",
		    (long long)rev);
	}
	return get(c, key, prefix, rev, out, e);
}

void
etcd_range_free(struct etcd_range *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->kvs[i].key);
		free(r->kvs[i].value);
	}
	free(r->kvs);
	memset(r, 0, sizeof *r);
}

int
etcd_put(struct etcd *c, const char *key, const void *value, size_t len, int64_t *revision,
    struct cs_err *e)
{
	struct resp r = {0};
	char what[WHAT_MAX], *body;
	int rc = -1;

	if (key[0] == '\0')
		return cs_err_set(e, EINVAL, "etcd: put: empty key");
	if ((body = etcdwire_put_req(key, value, len, e)) == NULL)
		return -1;
	if (request(c, "/v3/kv/put", body, 1, "put", key, &r, e) == 0) {
		what_of(what, sizeof what, c->eps[c->cur], "put", key);
		rc = etcdwire_parse_write(body_of(&r), r.len, what, revision, NULL, e);
	}
	free(body);
	resp_reset(&r, 0);
	return rc;
}

int
etcd_txn(struct etcd *c, const char *cmp_key, int64_t cmp_rev, const struct etcd_op *ops,
    size_t nops, int *succeeded, int64_t *revision, struct cs_err *e)
{
	struct resp r = {0};
	char what[WHAT_MAX], *body;
	const char *key = cmp_key ? cmp_key : (nops > 0 ? ops[0].key : NULL);
	int rc = -1;

	*succeeded = 0;
	if (nops == 0)
		return cs_err_set(e, EINVAL, "etcd: txn without an op");
	if (cmp_rev < 0)
		return cs_err_set(e, EINVAL, "etcd: txn: revision %lld is negative",
		    (long long)cmp_rev);
	if ((body = etcdwire_txn_req(cmp_key, cmp_rev, ops, nops, e)) == NULL)
		return -1;
	if (request(c, "/v3/kv/txn", body, 1, "txn on", key, &r, e) == 0) {
		what_of(what, sizeof what, c->eps[c->cur], "txn on", key);
		rc = etcdwire_parse_write(body_of(&r), r.len, what, revision, succeeded, e);
	}
	free(body);
	resp_reset(&r, 0);
	return rc;
}

/* One status request to endpoint ep (hasleader): 0 when it answers and names a leader. */
static int
status_of(struct etcd *c, size_t ep, struct cs_err *e)
{
	struct etcdwire_error we;
	struct resp r = {0};
	char what[WHAT_MAX];
	long status;
	int sent, leader = 0, rc = -1, moveon, code;
	CURLcode cc;

	what_of(what, sizeof what, c->eps[ep], "status", NULL);
	if (c->user && c->token == NULL && authenticate(c, ep, &moveon, e) == -1)
		return -1;
	cc = post(c, ep, "/v3/maintenance/status", "{}", 2, 1, &r, &status, &sent);
	if (r.too_big)
		cs_err_set(e, ETCD_ETOOBIG, "%s: answer larger than %zu bytes (max_response)",
		    what, c->max_response);
	else if (cc != CURLE_OK)
		cs_err_set(e, cc == CURLE_OPERATION_TIMEDOUT ? ETCD_ETIMEDOUT : ETCD_EUNREACHABLE,
		    "%s: %s", what, curl_reason(cc, c->errbuf));
	else if (status != 200) {
		etcdwire_parse_error(r.buf, r.len, status, &we);
		code = etcdwire_classify(&we);
		if (code == 0)
			drop_token(c);	/* the next request authenticates again */
		cs_err_set(e, code ? code : ETCD_EAUTH, "%s: %s", what, we.msg);
	} else if (etcdwire_parse_status(body_of(&r), r.len, what, &leader, e) == 0) {
		if (leader)
			rc = 0;
		else
			cs_err_set(e, ETCD_ENOLEADER, "%s: etcdserver: no leader", what);
	}
	resp_reset(&r, 0);
	return rc;
}

int
etcd_reachable(struct etcd *c, struct cs_err *e)
{
	struct cs_err le = {0};
	size_t i, ep;

	for (i = 0; i < c->nep; i++) {
		ep = (c->cur + i) % c->nep;
		cs_err_clear(&le);
		if (status_of(c, ep, &le) == 0) {
			c->cur = ep;
			return 0;
		}
		if (le.code == ETCD_EAUTH || le.code == ETCD_EPERM)
			break;
	}
	return cs_err_set(e, le.code, "%s", le.msg);
}

/* The state of one etcd_watch call, shared with curl's callbacks. */
struct watch {
	struct etcd *c;
	int	(*fn)(void *arg, const struct etcd_event *ev);
	void	*arg;
	int64_t	next_rev;		/* the first revision not delivered yet */
	size_t	ep;
	struct etcdwire_split sp;
	struct resp refusal;		/* a non-200 answer */
	char	what[WHAT_MAX];
	struct cs_err err;		/* why this stream ended */
	int	fatal, stop, reauth, created;
	int64_t	compact_rev;
	uint64_t last_tick, last_data, last_probe;
};

static int
deliver(struct watch *w, const struct etcd_event *ev)
{
	if (w->fn(w->arg, ev) != 0) {
		w->stop = 1;
		return 1;
	}
	return 0;
}

/* One watch message (a JSON object from the splitter). Non-zero ends the stream. */
static int
watch_msg(void *arg, const char *obj, size_t len)
{
	struct watch *w = arg;
	struct etcdwire_watch m;
	struct etcdwire_error we;
	struct etcd_event ev;
	int64_t last = 0;
	size_t i;
	int code;

	if (etcdwire_parse_watch(obj, len, w->what, &m, &w->err) == -1) {
		w->fatal = 1;
		return 1;
	}
	if (m.is_error) {
		code = etcdwire_classify(&m.err);
		if (code == 0)
			w->reauth = 1;
		else if (code == ETCD_EAUTH || code == ETCD_EPERM)
			w->fatal = 1;
		cs_err_set(&w->err, code ? code : ETCD_EAUTH, "%s: %s", w->what, m.err.msg);
		etcdwire_watch_free(&m);
		return 1;
	}
	if (m.canceled) {
		if (m.compact_rev > 0) {
			w->fatal = 1;
			w->compact_rev = m.compact_rev;
			cs_err_set(&w->err, ETCD_ECOMPACTED, "%s: revision %lld was compacted "
			    "(oldest kept: %lld): read everything again", w->what,
			    (long long)w->next_rev, (long long)m.compact_rev);
		} else {
			/* "rpc error: code = PermissionDenied desc = ...": what a short
			 * request's answer with that code would mean. */
			etcdwire_parse_cancel(m.cancel_reason, &we);
			code = we.grpc ? etcdwire_classify(&we) : ETCD_ECANCELED;
			if (code == 0)
				w->reauth = 1;
			else if (code == ETCD_EAUTH || code == ETCD_EPERM)
				w->fatal = 1;
			cs_err_set(&w->err, code ? code : ETCD_EAUTH, "%s: watch cancelled by "
			    "etcd: %s", w->what, we.msg[0] ? we.msg : "no reason given");
		}
		etcdwire_watch_free(&m);
		return 1;
	}
	memset(&ev, 0, sizeof ev);
	if (m.created) {
		w->created = 1;
		ev.type = ETCD_EV_SYNCED;
		ev.revision = m.header_rev;
		if (deliver(w, &ev)) {
			etcdwire_watch_free(&m);
			return 1;
		}
	}
	for (i = 0; i < m.nev; i++) {
		/* Already delivered before a reconnect: never twice. */
		if (m.kvs[i].mod_revision < w->next_rev)
			continue;
		ev.type = m.types[i];
		ev.kv = &m.kvs[i];
		ev.revision = m.kvs[i].mod_revision;
		last = ev.revision;
		if (deliver(w, &ev)) {
			etcdwire_watch_free(&m);
			return 1;
		}
	}
	/* A message holds whole revisions: resume after the last one. */
	if (last >= w->next_rev)
		w->next_rev = last + 1;
	if (!m.created && m.nev == 0 && m.header_rev > 0) {
		/* A progress notification: everything up to header_rev was sent. */
		if (m.header_rev >= w->next_rev)
			w->next_rev = m.header_rev + 1;
		ev.type = ETCD_EV_SYNCED;
		ev.kv = NULL;
		ev.revision = m.header_rev;
		if (deliver(w, &ev)) {
			etcdwire_watch_free(&m);
			return 1;
		}
	}
	etcdwire_watch_free(&m);
	return 0;
}

static size_t
watch_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct watch *w = arg;
	size_t n = size * nmemb;
	long status = 0;
	int rc;

	w->last_data = now_ms();
	curl_easy_getinfo(w->c->wh, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		/* Refused before the stream started: one error answer, read whole
		 * (bounded) and parsed when the transfer ends. */
		return resp_write(ptr, size, nmemb, &w->refusal);
	}
	rc = etcdwire_split_feed(&w->sp, ptr, n, watch_msg, w, w->what, &w->err);
	if (rc == -1)
		w->fatal = 1;		/* over max_response, or not JSON: no trust left */
	return rc == 0 ? n : 0;
}

static int
watch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct watch *w = arg;
	struct etcd_event ev;
	struct cs_err pe;
	uint64_t t = now_ms();

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (w->c->stop != NULL && *w->c->stop) {
		w->stop = 1;
		return 1;
	}
	if (t - w->last_tick >= WATCH_TICK_MS) {
		w->last_tick = t;
		memset(&ev, 0, sizeof ev);
		ev.type = ETCD_EV_TICK;
		ev.revision = w->next_rev - 1;
		if (deliver(w, &ev))
			return 1;
	}
	/* A stream can stay silent for good while its member is stopped (SIGSTOP, a hung
	 * disk) and TCP still answers: ask that member now and then whether it lives and
	 * has a leader, on the other handle. */
	if (t - w->last_data >= WATCH_PROBE_MS && t - w->last_probe >= WATCH_PROBE_MS) {
		w->last_probe = t;
		cs_err_clear(&pe);
		if (status_of(w->c, w->ep, &pe) == -1) {
			cs_err_set(&w->err, pe.code, "%s (watch stream silent)", pe.msg);
			return 1;
		}
	}
	return 0;
}

/* One streaming POST /v3/watch to endpoint w->ep, until it ends. */
static void
watch_once(struct watch *w, const char *prefix)
{
	struct etcd *c = w->c;
	struct curl_slist *hl = NULL;
	struct etcdwire_error we;
	struct cs_err ae;
	char url[256], *body = NULL;
	long status = 0;
	int moveon, code;
	CURLcode cc;

	cs_err_clear(&w->err);
	w->created = w->reauth = 0;
	what_of(w->what, sizeof w->what, c->eps[w->ep], "watch", prefix);
	if (c->user && c->token == NULL) {
		cs_err_clear(&ae);
		if (authenticate(c, w->ep, &moveon, &ae) == -1) {
			cs_err_set(&w->err, ae.code, "%s", ae.msg);
			w->fatal = !moveon;
			return;
		}
	}
	if ((body = etcdwire_watch_req(prefix, w->next_rev, &w->err)) == NULL ||
	    (hl = headers(c, 1)) == NULL) {
		cs_err_set(&w->err, ENOMEM, "%s: out of memory", w->what);
		w->fatal = 1;
		goto out;
	}
	etcdwire_split_init(&w->sp, c->max_response);
	resp_reset(&w->refusal, 0);
	w->refusal.max = c->max_response;
	snprintf(url, sizeof url, "%s/v3/watch", c->eps[w->ep]);
	c->werrbuf[0] = '\0';
	w->last_data = w->last_probe = now_ms();
	curl_easy_setopt(c->wh, CURLOPT_URL, url);
	curl_easy_setopt(c->wh, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->wh, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->wh, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c->wh, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(c->wh, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c->wh, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->wh, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(c->wh, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c->wh, CURLOPT_TIMEOUT_MS, 0L);
	cc = curl_easy_perform(c->wh);
	curl_easy_getinfo(c->wh, CURLINFO_RESPONSE_CODE, &status);
	if (w->stop || w->err.code)
		goto out;
	if (status != 200 && status != 0) {
		if (w->refusal.too_big) {
			w->fatal = 1;
			cs_err_set(&w->err, ETCD_ETOOBIG, "%s: answer larger than %zu bytes "
			    "(max_response)", w->what, w->refusal.max);
			goto out;
		}
		etcdwire_parse_error(w->refusal.buf, w->refusal.len, status, &we);
		code = etcdwire_classify(&we);
		if (code == 0)
			w->reauth = 1;
		else if (code == ETCD_EAUTH || code == ETCD_EPERM)
			w->fatal = 1;
		cs_err_set(&w->err, code ? code : ETCD_EAUTH, "%s: %s", w->what, we.msg);
		goto out;
	}
	if (cc != CURLE_OK)
		cs_err_set(&w->err, cc == CURLE_OPERATION_TIMEDOUT ? ETCD_ETIMEDOUT :
		    ETCD_EUNREACHABLE, "%s: %s", w->what, curl_reason(cc, c->werrbuf));
	else
		cs_err_set(&w->err, ETCD_EUNREACHABLE, "%s: stream ended", w->what);
out:
	curl_easy_setopt(c->wh, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	etcdwire_split_free(&w->sp);
	resp_reset(&w->refusal, 0);
	free(body);
}

/* Waits ms, in slices of at most WATCH_TICK_MS with a TICK after each; 1 when fn
 * stopped the watch. */
static int
watch_sleep(struct watch *w, unsigned ms)
{
	struct etcd_event ev;
	unsigned slice;

	while (ms > 0) {
		if (w->c->stop != NULL && *w->c->stop)
			return w->stop = 1;
		slice = ms < WATCH_STOP_MS ? ms : WATCH_STOP_MS;
		usleep(slice * 1000u);
		ms -= slice;
		if (now_ms() - w->last_tick < WATCH_TICK_MS && ms > 0)
			continue;
		memset(&ev, 0, sizeof ev);
		ev.type = ETCD_EV_TICK;
		ev.revision = w->next_rev - 1;
		w->last_tick = now_ms();
		if (deliver(w, &ev))
			return 1;
	}
	return 0;
}

void
etcd_set_stop(struct etcd *c, volatile sig_atomic_t *stop)
{
	c->stop = stop;
}

int
etcd_watch(struct etcd *c, const char *prefix, int64_t start_rev,
    int (*fn)(void *arg, const struct etcd_event *ev), void *arg, int64_t *compact_rev,
    struct cs_err *e)
{
	struct watch w;
	struct etcd_event ev;
	unsigned backoff = WATCH_BACKOFF_MIN_MS;

	if (compact_rev)
		*compact_rev = 0;
	if (prefix[0] == '\0')
		return cs_err_set(e, EINVAL, "etcd: watch: empty prefix");
	if (start_rev <= 0)
		return cs_err_set(e, EINVAL, "etcd: watch: start revision %lld is not positive",
		    (long long)start_rev);
	memset(&w, 0, sizeof w);
	w.c = c;
	w.fn = fn;
	w.arg = arg;
	w.next_rev = start_rev;
	w.ep = c->cur;
	w.last_tick = now_ms();
	for (;;) {
		watch_once(&w, prefix);
		if (w.stop)
			return 0;
		if (w.fatal) {
			if (w.compact_rev > 0 && compact_rev)
				*compact_rev = w.compact_rev;
			return cs_err_set(e, w.err.code, "%s", w.err.msg);
		}
		memset(&ev, 0, sizeof ev);
		ev.type = ETCD_EV_LOST;
		ev.revision = w.next_rev - 1;
		ev.err = &w.err;
		if (deliver(&w, &ev))
			return 0;
		if (w.reauth)
			drop_token(c);	/* the next attempt authenticates again */
		if (w.created)
			backoff = WATCH_BACKOFF_MIN_MS;
		/* The next endpoint; short requests follow the watch's choice once it works. */
		w.ep = (w.ep + 1) % c->nep;
		if (watch_sleep(&w, backoff))
			return 0;
		backoff = backoff * 2 > WATCH_BACKOFF_MAX_MS ? WATCH_BACKOFF_MAX_MS : backoff * 2;
	}
}
