/* tests/test_allow.c - the sandbox decision, as the ComfyVN app documents it, one row per
 * case: patterns (the job's, the config's, SANDBOX_NETWORK_ALLOW's), the host:port asked
 * about, the job's network flag and the guard, and the answer expected. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../policy/allow.h"
#include "../policy/config.h"

#define LIST_MAX	4
#define NET		1	/* the job asks for the network */
#define NONET		0
#define GUARD		1	/* enable_security_sandbox_guard */
#define OPEN		0

enum expect { ALLOWED, DENIED, ERROR };

struct allow_case {
	const char	*job[LIST_MAX];		/* the job's own allow list */
	const char	*config[LIST_MAX];	/* [sandbox] network_allow */
	const char	*env[LIST_MAX];		/* SANDBOX_NETWORK_ALLOW, already split */
	const char	*host;
	int		 port;
	int		 network;
	int		 guard;
	enum expect	 expect;
	const char	*matched;	/* ALLOWED: the pattern; ERROR: words of the message */
	const char	*source;	/* ALLOWED: "job", "config", "env" */
};

#define NONE	{ NULL }
#define SEED_ENV	{ "localhost:8080", "api.example.com:443" }	/* the app's, verbatim */

static const struct allow_case cases[] = {
	/* the app's SANDBOX_NETWORK_ALLOW=localhost:8080,api.example.com:443 */
	{ NONE, NONE, SEED_ENV, "localhost", 8080, NET, GUARD, ALLOWED, "localhost:8080", "env" },
	{ NONE, NONE, SEED_ENV, "api.example.com", 443, NET, GUARD, ALLOWED,
	  "api.example.com:443", "env" },
	{ NONE, NONE, SEED_ENV, "api.example.com", 80, NET, GUARD, DENIED, NULL, NULL },
	{ NONE, NONE, SEED_ENV, "localhost", 8081, NET, GUARD, DENIED, NULL, NULL },
	{ NONE, NONE, SEED_ENV, "evil.example.net", 443, NET, GUARD, DENIED, NULL, NULL },
	/* curl example: {"host":"127.0.0.1","port":8080,"allow":["localhost:8080"]} */
	{ { "localhost:8080" }, NONE, NONE, "127.0.0.1", 8080, NET, GUARD, ALLOWED,
	  "localhost:8080", "job" },
	/* the app's rule: the network flag AND a pattern */
	{ { "localhost:8080" }, NONE, NONE, "127.0.0.1", 8080, NONET, GUARD, DENIED, NULL, NULL },
	{ NONE, NONE, NONE, "127.0.0.1", 8080, NET, GUARD, DENIED, NULL, NULL },
	{ { "[::1]:8000" }, NONE, NONE, "::1", 8000, NET, GUARD, ALLOWED, "[::1]:8000", "job" },
	{ { "[::1]:8000" }, NONE, NONE, "::1", 8001, NET, GUARD, DENIED, NULL, NULL },
	{ { "https://api.example.com:443" }, NONE, NONE, "api.example.com", 443, NET, GUARD,
	  ALLOWED, "https://api.example.com:443", "job" },
	{ { "*.example.com" }, NONE, NONE, "cdn.example.com", 443, NET, GUARD, ALLOWED,
	  "*.example.com", "job" },
	{ { "*" }, NONE, NONE, "anything.invalid", 1, NET, GUARD, ALLOWED, "*", "job" },
	/* the app's rule: guard off is the legacy boolean */
	{ NONE, NONE, NONE, "anything.invalid", 443, NET, OPEN, ALLOWED, NULL, NULL },
	{ NONE, NONE, NONE, "anything.invalid", 443, NONET, OPEN, DENIED, NULL, NULL },
	{ { "localhost:8080" }, NONE, NONE, "localhost", 8080, NONET, OPEN, DENIED, NULL, NULL },
	{ NONE, NONE, SEED_ENV, "evil.example.net", 9, NET, OPEN, ALLOWED, NULL, NULL },

	/* bare host: any port */
	{ { "api.example.com" }, NONE, NONE, "api.example.com", 1, NET, GUARD, ALLOWED,
	  "api.example.com", "job" },
	{ { "api.example.com" }, NONE, NONE, "api.example.com", 65535, NET, GUARD, ALLOWED,
	  "api.example.com", "job" },
	{ { "api.example.com" }, NONE, NONE, "www.api.example.com", 443, NET, GUARD, DENIED,
	  NULL, NULL },
	/* host:port */
	{ { "db.internal:5432" }, NONE, NONE, "db.internal", 5432, NET, GUARD, ALLOWED,
	  "db.internal:5432", "job" },
	{ { "db.internal:5432" }, NONE, NONE, "db.internal", 5433, NET, GUARD, DENIED, NULL, NULL },
	/* IPv4 */
	{ { "10.1.2.3" }, NONE, NONE, "10.1.2.3", 22, NET, GUARD, ALLOWED, "10.1.2.3", "job" },
	{ { "10.1.2.3:22" }, NONE, NONE, "10.1.2.4", 22, NET, GUARD, DENIED, NULL, NULL },
	{ { "10.1.2.3:22" }, NONE, NONE, "10.1.2.3", 22, NET, GUARD, ALLOWED, "10.1.2.3:22",
	  "job" },
	/* IPv6: bracketed with a port, bare without */
	{ { "::1" }, NONE, NONE, "::1", 9999, NET, GUARD, ALLOWED, "::1", "job" },
	{ { "2001:db8::1" }, NONE, NONE, "2001:db8::1", 443, NET, GUARD, ALLOWED, "2001:db8::1",
	  "job" },
	{ { "[2001:db8::1]" }, NONE, NONE, "2001:db8::2", 443, NET, GUARD, DENIED, NULL, NULL },
	{ { "[2001:db8::1]:443" }, NONE, NONE, "[2001:db8::1]", 443, NET, GUARD, ALLOWED,
	  "[2001:db8::1]:443", "job" },
	/* a bare IPv6 never has a port: ::1:8000 is the address 0::1:8000 */
	{ { "::1:8000" }, NONE, NONE, "::1", 8000, NET, GUARD, DENIED, NULL, NULL },
	{ { "::1:8000" }, NONE, NONE, "0::1:8000", 1, NET, GUARD, ALLOWED, "::1:8000", "job" },
	/* URLs: the scheme gives a missing port; the path is ignored */
	{ { "http://example.com" }, NONE, NONE, "example.com", 80, NET, GUARD, ALLOWED,
	  "http://example.com", "job" },
	{ { "http://example.com" }, NONE, NONE, "example.com", 443, NET, GUARD, DENIED, NULL, NULL },
	{ { "https://example.com/v1/models?x=1#top" }, NONE, NONE, "example.com", 443, NET, GUARD,
	  ALLOWED, "https://example.com/v1/models?x=1#top", "job" },
	{ { "HTTPS://Example.COM" }, NONE, NONE, "example.com", 443, NET, GUARD, ALLOWED,
	  "HTTPS://Example.COM", "job" },
	{ { "http://example.com:8080/" }, NONE, NONE, "example.com", 8080, NET, GUARD, ALLOWED,
	  "http://example.com:8080/", "job" },
	{ { "https://[::1]/health" }, NONE, NONE, "::1", 443, NET, GUARD, ALLOWED,
	  "https://[::1]/health", "job" },
	{ { "https://10.0.0.7" }, NONE, NONE, "10.0.0.7", 443, NET, GUARD, ALLOWED,
	  "https://10.0.0.7", "job" },
	{ { "wss://stream.example.com" }, NONE, NONE, "stream.example.com", 443, NET, GUARD,
	  ALLOWED, "wss://stream.example.com", "job" },
	{ { "ws://stream.example.com" }, NONE, NONE, "stream.example.com", 80, NET, GUARD,
	  ALLOWED, "ws://stream.example.com", "job" },
	{ { "ftp://files.example.com:21" }, NONE, NONE, "files.example.com", 21, NET, GUARD,
	  ALLOWED, "ftp://files.example.com:21", "job" },
	{ { "https://*.example.com" }, NONE, NONE, "a.example.com", 443, NET, GUARD, ALLOWED,
	  "https://*.example.com", "job" },
	/* *.domain: any depth, never the domain itself, never a look-alike */
	{ { "*.example.com" }, NONE, NONE, "a.b.c.example.com", 8443, NET, GUARD, ALLOWED,
	  "*.example.com", "job" },
	{ { "*.example.com" }, NONE, NONE, "example.com", 443, NET, GUARD, DENIED, NULL, NULL },
	{ { "*.example.com" }, NONE, NONE, "badexample.com", 443, NET, GUARD, DENIED, NULL, NULL },
	{ { "*.example.com" }, NONE, NONE, "example.com.evil.net", 443, NET, GUARD, DENIED,
	  NULL, NULL },
	{ { "*.example.com:443" }, NONE, NONE, "a.example.com", 80, NET, GUARD, DENIED, NULL, NULL },
	{ { "*.example.com:443" }, NONE, NONE, "A.Example.Com.", 443, NET, GUARD, ALLOWED,
	  "*.example.com:443", "job" },
	{ { "*.example.com" }, NONE, NONE, "93.184.216.34", 443, NET, GUARD, DENIED, NULL, NULL },
	/* * is everything; *:PORT is everything on one port */
	{ { "*" }, NONE, NONE, "2001:db8::5", 65535, NET, GUARD, ALLOWED, "*", "job" },
	{ { "*:443" }, NONE, NONE, "anything.invalid", 443, NET, GUARD, ALLOWED, "*:443", "job" },
	{ { "*:443" }, NONE, NONE, "anything.invalid", 80, NET, GUARD, DENIED, NULL, NULL },
	{ { "*" }, NONE, NONE, "anything.invalid", 443, NONET, GUARD, DENIED, NULL, NULL },
	/* CIDR */
	{ { "10.0.0.0/8" }, NONE, NONE, "10.255.0.1", 5, NET, GUARD, ALLOWED, "10.0.0.0/8", "job" },
	{ { "10.0.0.0/8" }, NONE, NONE, "11.0.0.1", 5, NET, GUARD, DENIED, NULL, NULL },
	{ { "10.0.0.0/8:443" }, NONE, NONE, "10.1.1.1", 443, NET, GUARD, ALLOWED,
	  "10.0.0.0/8:443", "job" },
	{ { "10.0.0.0/8:443" }, NONE, NONE, "10.1.1.1", 80, NET, GUARD, DENIED, NULL, NULL },
	{ { "172.16.0.0/12" }, NONE, NONE, "172.31.255.255", 1, NET, GUARD, ALLOWED,
	  "172.16.0.0/12", "job" },
	{ { "172.16.0.0/12" }, NONE, NONE, "172.32.0.0", 1, NET, GUARD, DENIED, NULL, NULL },
	{ { "192.168.1.0/24" }, NONE, NONE, "::ffff:192.168.1.9", 1, NET, GUARD, ALLOWED,
	  "192.168.1.0/24", "job" },
	{ { "[fd00::/8]:443" }, NONE, NONE, "fd12:3456::1", 443, NET, GUARD, ALLOWED,
	  "[fd00::/8]:443", "job" },
	{ { "[fd00::/8]:443" }, NONE, NONE, "fe00::1", 443, NET, GUARD, DENIED, NULL, NULL },
	{ { "[fd00::/8]:443" }, NONE, NONE, "fd00::1", 444, NET, GUARD, DENIED, NULL, NULL },
	{ { "fd00::/8" }, NONE, NONE, "fdff:ffff::1", 9, NET, GUARD, ALLOWED, "fd00::/8", "job" },
	{ { "0.0.0.0/0" }, NONE, NONE, "8.8.8.8", 53, NET, GUARD, ALLOWED, "0.0.0.0/0", "job" },
	{ { "0.0.0.0/0" }, NONE, NONE, "2001:db8::1", 53, NET, GUARD, DENIED, NULL, NULL },
	{ { "10.0.0.0/8" }, NONE, NONE, "ten.example.com", 5, NET, GUARD, DENIED, NULL, NULL },
	{ { "10.1.2.3/32" }, NONE, NONE, "10.1.2.3", 5, NET, GUARD, ALLOWED, "10.1.2.3/32", "job" },

	/* names: case-insensitive, without a trailing dot */
	{ { "API.Example.COM:443" }, NONE, NONE, "api.example.com", 443, NET, GUARD, ALLOWED,
	  "API.Example.COM:443", "job" },
	{ { "api.example.com:443" }, NONE, NONE, "API.EXAMPLE.COM", 443, NET, GUARD, ALLOWED,
	  "api.example.com:443", "job" },
	{ { "api.example.com.:443" }, NONE, NONE, "api.example.com", 443, NET, GUARD, ALLOWED,
	  "api.example.com.:443", "job" },
	{ { "api.example.com:443" }, NONE, NONE, "api.example.com.", 443, NET, GUARD, ALLOWED,
	  "api.example.com:443", "job" },
	/* IP literals by value */
	{ { "[0:0::1]:8000" }, NONE, NONE, "::1", 8000, NET, GUARD, ALLOWED, "[0:0::1]:8000",
	  "job" },
	{ { "[::1]:8000" }, NONE, NONE, "0:0:0:0:0:0:0:1", 8000, NET, GUARD, ALLOWED,
	  "[::1]:8000", "job" },
	{ { "[2001:DB8:0:0:0:0:0:1]" }, NONE, NONE, "2001:db8::1", 1, NET, GUARD, ALLOWED,
	  "[2001:DB8:0:0:0:0:0:1]", "job" },
	{ { "::ffff:10.0.0.1" }, NONE, NONE, "10.0.0.1", 80, NET, GUARD, ALLOWED,
	  "::ffff:10.0.0.1", "job" },
	{ { "10.0.0.1" }, NONE, NONE, "::ffff:10.0.0.1", 80, NET, GUARD, ALLOWED, "10.0.0.1",
	  "job" },
	{ { "[::ffff:127.0.0.1]:8080" }, NONE, NONE, "127.0.0.1", 8080, NET, GUARD, ALLOWED,
	  "[::ffff:127.0.0.1]:8080", "job" },
	/* localhost and the loopback stand for each other; nothing else is resolved */
	{ { "localhost" }, NONE, NONE, "127.0.0.1", 3000, NET, GUARD, ALLOWED, "localhost",
	  "job" },
	{ { "localhost" }, NONE, NONE, "::1", 3000, NET, GUARD, ALLOWED, "localhost", "job" },
	{ { "localhost" }, NONE, NONE, "127.8.9.10", 3000, NET, GUARD, ALLOWED, "localhost",
	  "job" },
	{ { "127.0.0.1:8080" }, NONE, NONE, "localhost", 8080, NET, GUARD, ALLOWED,
	  "127.0.0.1:8080", "job" },
	{ { "127.0.0.1:8080" }, NONE, NONE, "localhost", 8081, NET, GUARD, DENIED, NULL, NULL },
	{ { "[::1]:8000" }, NONE, NONE, "LOCALHOST.", 8000, NET, GUARD, ALLOWED, "[::1]:8000",
	  "job" },
	{ { "[::1]:8000" }, NONE, NONE, "127.0.0.1", 8000, NET, GUARD, ALLOWED, "[::1]:8000",
	  "job" },
	{ { "LocalHost." }, NONE, NONE, "localhost", 1, NET, GUARD, ALLOWED, "LocalHost.", "job" },
	{ { "127.0.0.0/8" }, NONE, NONE, "localhost", 1, NET, GUARD, ALLOWED, "127.0.0.0/8",
	  "job" },
	{ { "localhost" }, NONE, NONE, "localhost.example.com", 1, NET, GUARD, DENIED, NULL,
	  NULL },
	{ { "localhost" }, NONE, NONE, "10.0.0.1", 1, NET, GUARD, DENIED, NULL, NULL },
	{ { "localhost" }, NONE, NONE, "0.0.0.0", 1, NET, GUARD, DENIED, NULL, NULL },
	{ { "example.com" }, NONE, NONE, "93.184.216.34", 443, NET, GUARD, DENIED, NULL, NULL },
	{ { "93.184.216.34" }, NONE, NONE, "example.com", 443, NET, GUARD, DENIED, NULL, NULL },
	{ { "10.0.0.0/8" }, NONE, NONE, "localhost", 1, NET, GUARD, DENIED, NULL, NULL },

	/* where the match came from: the job first, then the config, then the environment */
	{ NONE, { "api.example.com:443" }, NONE, "api.example.com", 443, NET, GUARD, ALLOWED,
	  "api.example.com:443", "config" },
	{ { "api.example.com" }, { "api.example.com:443" }, SEED_ENV, "api.example.com", 443,
	  NET, GUARD, ALLOWED, "api.example.com", "job" },
	{ { "other.example" }, { "api.example.com" }, SEED_ENV, "api.example.com", 443, NET,
	  GUARD, ALLOWED, "api.example.com", "config" },
	{ { "other.example" }, { "localhost:9" }, SEED_ENV, "api.example.com", 443, NET, GUARD,
	  ALLOWED, "api.example.com:443", "env" },
	{ { "  localhost:8080\t" }, NONE, NONE, "127.0.0.1", 8080, NET, GUARD, ALLOWED,
	  "  localhost:8080\t", "job" },
	{ NONE, { "api.example.com:443" }, NONE, "api.example.com", 443, NONET, GUARD, DENIED,
	  NULL, NULL },

	/* malformed patterns: an error naming the pattern, never an allow or a deny */
	{ { "localhost:0" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "allow[0]: pattern \"localhost:0\": the port is out of range 1-65535", NULL },
	{ { "localhost:65536" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "\"localhost:65536\": the port is out of range", NULL },
	{ { "localhost:99999999" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "out of range", NULL },
	{ { "localhost:" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "empty port", NULL },
	{ { "localhost:http" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "the port is not a number", NULL },
	{ { "localhost:-1" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "the port is not a number", NULL },
	{ { ":8080" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "pattern \":8080\": empty host", NULL },
	{ { "" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "allow[0]: empty pattern", NULL },
	{ { " \t " }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "empty pattern", NULL },
	{ { "[::1" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "\"[::1\": '[' without its ']'", NULL },
	{ { "[::1]x" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "only \":PORT\" may follow ']'", NULL },
	{ { "[]:80" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "empty host", NULL },
	{ { "[example.com]:80" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "not a valid IPv6 address", NULL },
	{ { "[10.0.0.1]:80" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "not a valid IPv6 address", NULL },
	{ { "http://" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "pattern \"http://\": empty host", NULL },
	{ { "https://:443" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "empty host", NULL },
	{ { "https://user@example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "user info", NULL },
	{ { "https://::1" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "in brackets", NULL },
	{ { "gopher://example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "no default port for this URL scheme", NULL },
	{ { "://example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "empty URL scheme", NULL },
	{ { "1http://example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "not a URL scheme", NULL },
	{ { "*." }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "\"*.\": '*.' needs a domain after it", NULL },
	{ { "*.:443" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "needs a domain", NULL },
	{ { "*.*.example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "'*' may only stand alone", NULL },
	{ { "a*.example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "'*' may only stand alone", NULL },
	{ { "**" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "'*' may only", NULL },
	{ { "a b" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "pattern \"a b\": a space inside the pattern", NULL },
	{ { "a\x01" "b" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "\"a\\x01b\": a control or non-ASCII byte", NULL },
	{ { "bücher.example" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "non-ASCII", NULL },
	{ { "exa$mple.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "a character other than", NULL },
	{ { "a..example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "empty label", NULL },
	{ { ".example.com" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "empty label", NULL },
	{ { "a.b:1:2" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "not a valid IPv6 address", NULL },
	{ { "127.1" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "not a valid IPv4 address", NULL },
	{ { "1.2.3.256" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "not a valid IPv4 address", NULL },
	{ { "10.0.0.0/33" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "the prefix length must be 0-32", NULL },
	{ { "fd00::/129" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "the prefix length must be 0-128", NULL },
	{ { "10.0.0.0/" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "prefix length", NULL },
	{ { "10.0.0.1/8" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "host bits", NULL },
	{ { "example.com/8" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "a /prefix needs an IP address", NULL },
	{ { "fe80::1%eth0" }, NONE, NONE, "localhost", 1, NET, GUARD, ERROR, "zones", NULL },
	/* a broken entry is an error even where another entry matches, guard on or off */
	{ { "localhost:8080", "a b" }, NONE, NONE, "localhost", 8080, NET, GUARD, ERROR,
	  "allow[1]: pattern \"a b\"", NULL },
	{ { "a b" }, NONE, NONE, "localhost", 8080, NET, OPEN, ERROR, "allow[0]", NULL },
	{ NONE, { "localhost:0" }, NONE, "localhost", 1, NET, GUARD, ERROR,
	  "/etc/comfysecrets/test.ini: network_allow: pattern \"localhost:0\"", NULL },
	{ NONE, NONE, { "[::1" }, "localhost", 1, NET, GUARD, ERROR,
	  "SANDBOX_NETWORK_ALLOW: pattern \"[::1\"", NULL },
	/* the host being checked is validated too */
	{ NONE, NONE, SEED_ENV, "", 8080, NET, GUARD, ERROR, "empty host", NULL },
	{ NONE, NONE, SEED_ENV, "localhost", 0, NET, GUARD, ERROR,
	  "port 0 is out of range 1-65535", NULL },
	{ NONE, NONE, SEED_ENV, "localhost", 65536, NET, GUARD, ERROR,
	  "port 65536 is out of range", NULL },
	{ NONE, NONE, SEED_ENV, "localhost", -1, NET, OPEN, ERROR, "port -1 is out of range",
	  NULL },
	{ NONE, NONE, SEED_ENV, "local host", 8080, NET, GUARD, ERROR, "host \"local host\"",
	  NULL },
	{ NONE, NONE, SEED_ENV, "localhost:8080", 8080, NET, GUARD, ERROR, "no :PORT", NULL },
	{ NONE, NONE, SEED_ENV, "*.example.com", 443, NET, GUARD, ERROR, "host \"*.example.com\"",
	  NULL },
	{ NONE, NONE, SEED_ENV, "10.0.0.0/8", 443, NET, GUARD, ERROR, "host \"10.0.0.0/8\"", NULL },
	{ NONE, NONE, SEED_ENV, "[::1", 443, NET, GUARD, ERROR, "'[' without its ']'", NULL },
	{ NONE, NONE, SEED_ENV, "[127.0.0.1]", 443, NET, GUARD, ERROR, "not a valid IPv6", NULL },
	{ NONE, NONE, SEED_ENV, "[]", 443, NET, GUARD, ERROR, "empty host", NULL },
	{ NONE, NONE, SEED_ENV, "127.1", 8080, NET, GUARD, ERROR, "not a valid IPv4", NULL },
	{ NONE, NONE, SEED_ENV, "a..b", 8080, NET, GUARD, ERROR, "empty label", NULL },
};

static size_t
count(const char *const *l)
{
	size_t n = 0;

	while (n < LIST_MAX && l[n] != NULL)
		n++;
	return n;
}

static void
make_cfg(const struct allow_case *c, struct cfg *cfg, struct cfg_allow *al)
{
	size_t i, n = 0;

	memset(cfg, 0, sizeof *cfg);
	cfg->path = (char *)"/etc/comfysecrets/test.ini";
	cfg->enable_security_sandbox_guard = c->guard;
	for (i = 0; i < count(c->config); i++, n++) {
		al[n].pattern = (char *)c->config[i];
		al[n].source = ALLOW_FROM_CONFIG;
	}
	for (i = 0; i < count(c->env); i++, n++) {
		al[n].pattern = (char *)c->env[i];
		al[n].source = ALLOW_FROM_ENV;
	}
	cfg->allow = al;
	cfg->nallow = n;
}

static void
run_case(size_t i, const struct allow_case *c)
{
	struct cfg cfg;
	struct cfg_allow al[2 * LIST_MAX];
	struct allow_answer a;
	struct cs_err e = { 0 };
	int rc;

	make_cfg(c, &cfg, al);
	rc = allow_decide(&cfg, c->job, count(c->job), c->network, c->host, c->port, &a, &e);
	switch (c->expect) {
	case ERROR:
		if (rc != -1)
			fail_msg("case %zu (%s:%d): no error, allowed=%d: %s", i, c->host, c->port,
			    a.allowed, a.reason);
		assert_int_equal(e.code, EINVAL);
		if (strstr(e.msg, c->matched) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, e.msg, c->matched);
		assert_int_equal(a.allowed, 0);
		assert_null(a.matched);
		break;
	case ALLOWED:
	case DENIED:
		if (rc != 0)
			fail_msg("case %zu (%s:%d): error: %s", i, c->host, c->port, e.msg);
		if (a.allowed != (c->expect == ALLOWED))
			fail_msg("case %zu (%s:%d): expected %s, got: %s", i, c->host, c->port,
			    c->expect == ALLOWED ? "allowed" : "denied", a.reason);
		if (c->matched == NULL) {
			if (a.matched != NULL)
				fail_msg("case %zu: matched \"%s\", expected none", i, a.matched);
			assert_null(a.source);
		} else {
			if (a.matched == NULL || strcmp(a.matched, c->matched) != 0)
				fail_msg("case %zu: matched \"%s\", expected \"%s\"", i,
				    a.matched ? a.matched : "(none)", c->matched);
			assert_string_equal(a.source, c->source);
		}
		assert_true(a.reason[0] != '\0');
		break;
	}
}

static void
test_table_of_app_examples_patterns_and_rules(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(i, &cases[i]);
}

static void
test_table_has_at_least_sixty_cases(void **state)
{
	(void)state;
	print_message("%zu decision cases\n", sizeof cases / sizeof cases[0]);
	assert_true(sizeof cases / sizeof cases[0] >= 60);
}

static void
test_parse_fills_the_pattern(void **state)
{
	struct allow_pat p;
	struct cs_err e = { 0 };
	static const unsigned char fd00[16] = { 0xfd };

	(void)state;
	assert_int_equal(allow_parse("https://API.example.com./x", &p, &e), 0);
	assert_int_equal(p.kind, ALLOW_NAME);
	assert_string_equal(p.name, "api.example.com");
	assert_int_equal(p.port, 443);
	assert_int_equal(allow_parse("*.Example.com", &p, &e), 0);
	assert_int_equal(p.kind, ALLOW_SUFFIX);
	assert_string_equal(p.name, "example.com");
	assert_int_equal(p.port, 0);
	assert_int_equal(allow_parse("[fd00::/8]:443", &p, &e), 0);
	assert_int_equal(p.kind, ALLOW_NET);
	assert_int_equal(p.prefix, 8);
	assert_memory_equal(p.addr, fd00, 16);
	assert_int_equal(p.port, 443);
	assert_int_equal(allow_parse("10.0.0.0/8", &p, &e), 0);
	assert_int_equal(p.kind, ALLOW_NET);
	assert_int_equal(p.prefix, 96 + 8);
	assert_int_equal(allow_parse("*", &p, &e), 0);
	assert_int_equal(p.kind, ALLOW_ANY);
	assert_int_equal(allow_parse("127.0.0.1:8080", &p, &e), 0);
	assert_int_equal(p.kind, ALLOW_ADDR);
	assert_int_equal(p.port, 8080);
	assert_int_equal(e.msg[0], '\0');
}

static void
test_huge_pattern_is_refused_with_a_short_message(void **state)
{
	struct allow_pat p;
	struct cs_err e = { 0 };
	char *big = malloc(100001);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', 100000);
	big[100000] = '\0';
	assert_int_equal(allow_parse(big, &p, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "longer than 1024 bytes"));
	assert_non_null(strstr(e.msg, "..."));
	assert_true(strlen(e.msg) < 200);
	/* just under the limit, but a 1000-byte label: still refused, still short */
	big[1000] = '\0';
	cs_err_clear(&e);
	assert_int_equal(allow_parse(big, &p, &e), -1);
	assert_non_null(strstr(e.msg, "longer than 253 bytes"));
	assert_true(strlen(e.msg) < 200);
	free(big);
}

static void
test_longest_name_is_accepted(void **state)
{
	struct allow_pat p;
	struct allow_target t;
	struct cs_err e = { 0 };
	char name[ALLOW_NAME_MAX + 8];
	size_t i;

	(void)state;
	/* four labels of 63 bytes minus one byte: 253 bytes in all */
	memset(name, 'a', sizeof name);
	for (i = 63; i < ALLOW_NAME_MAX; i += 64)
		name[i] = '.';
	name[ALLOW_NAME_MAX] = '\0';
	assert_int_equal(allow_parse(name, &p, &e), 0);
	assert_int_equal(allow_target(name, 1, &t, &e), 0);
	assert_int_equal(allow_match(&p, &t), 1);
	name[ALLOW_NAME_MAX] = '.';
	name[ALLOW_NAME_MAX + 1] = '\0';
	assert_int_equal(allow_parse(name, &p, &e), 0);		/* the dot is not counted */
	name[ALLOW_NAME_MAX] = 'a';
	assert_int_equal(allow_parse(name, &p, &e), -1);	/* 254 */
}

static void
test_control_characters_are_escaped_in_messages(void **state)
{
	struct cfg cfg = { 0 };
	struct allow_answer a;
	struct cs_err e = { 0 };
	const char *job[] = { "evil\x1b[31m.com" };

	(void)state;
	cfg.enable_security_sandbox_guard = 1;
	assert_int_equal(allow_decide(&cfg, job, 1, 1, "x.com", 1, &a, &e), -1);
	assert_null(strchr(e.msg, '\x1b'));
	assert_non_null(strstr(e.msg, "\\x1b"));
	cs_err_clear(&e);
	assert_int_equal(allow_decide(&cfg, NULL, 0, 1, "a\"b\nc", 1, &a, &e), -1);
	assert_null(strchr(e.msg, '\n'));
	assert_non_null(strstr(e.msg, "a\\x22b\\x0ac"));
}

static void
test_reasons_name_the_pair(void **state)
{
	struct cfg cfg = { 0 };
	struct allow_answer a;
	struct cs_err e = { 0 };
	const char *job[] = { "localhost:8080" };

	(void)state;
	cfg.enable_security_sandbox_guard = 1;
	assert_int_equal(allow_decide(&cfg, job, 1, 1, "127.0.0.1", 8080, &a, &e), 0);
	assert_string_equal(a.reason, "127.0.0.1:8080 matches \"localhost:8080\" (job)");
	assert_int_equal(allow_decide(&cfg, job, 1, 1, "0:0::1", 9, &a, &e), 0);
	assert_string_equal(a.reason, "[::1]:9 matches no pattern in the job's allow, "
	    "network_allow or SANDBOX_NETWORK_ALLOW");
	assert_int_equal(allow_decide(&cfg, NULL, 0, 1, "Example.COM.", 443, &a, &e), 0);
	assert_non_null(strstr(a.reason, "example.com:443: the allowlist is empty"));
	assert_int_equal(allow_decide(&cfg, job, 1, 0, "localhost", 8080, &a, &e), 0);
	assert_non_null(strstr(a.reason, "did not ask for the network"));
	cfg.enable_security_sandbox_guard = 0;
	assert_int_equal(allow_decide(&cfg, job, 1, 1, "localhost", 8080, &a, &e), 0);
	assert_non_null(strstr(a.reason, "the sandbox guard is off"));
	assert_int_equal(e.msg[0], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_of_app_examples_patterns_and_rules),
		cmocka_unit_test(test_table_has_at_least_sixty_cases),
		cmocka_unit_test(test_parse_fills_the_pattern),
		cmocka_unit_test(test_huge_pattern_is_refused_with_a_short_message),
		cmocka_unit_test(test_longest_name_is_accepted),
		cmocka_unit_test(test_control_characters_are_escaped_in_messages),
		cmocka_unit_test(test_reasons_name_the_pair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
