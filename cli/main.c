/* cli/main.c - comfysecrets, the admin command: global options, the command table, main.
 *
 * Each subcommand lives in cmd_*.c and returns its exit status; main() only parses
 * the global options, loads the configuration and dispatches. A value is never taken
 * from argv: set, import and rotate --new-key-stdin read stdin or a file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"

#define CS_VERSION	"0.1.0"

struct command {
	const char	*name;
	int		(*run)(struct cli *, int, char **);
	const char	*usage;
	const char	*help;
};

static const struct command commands[] = {
	{ "init", cmd_init, "init",
	  "Creates the key file (mode 0600, a new random key) and an empty vault. Refuses to\n"
	  "overwrite either. With COMFYVN_SECRETS_KEY set, only the vault is created, under\n"
	  "that key. Missing parent folders are created with mode 0700. The new vault is\n"
	  "recorded as the rollback floor in state_dir.\n" },
	{ "set", cmd_set, "set [--raw] PROVIDER FIELD   (value on stdin)",
	  "Stores the value read from stdin as PROVIDER/FIELD. One trailing line end (LF\n"
	  "or CRLF) is dropped unless --raw is given. On a terminal, the value is typed at\n"
	  "a prompt without echo. The value never comes from the command line.\n"
	  "  --raw    keep the bytes exactly as read\n" },
	{ "get", cmd_get, "get PROVIDER FIELD",
	  "Writes the value of PROVIDER/FIELD to stdout, nothing added. Audited as\n"
	  "secret_read; when the audit line cannot be written (and fail_closed is on) the\n"
	  "value is not shown.\n" },
	{ "list", cmd_list, "list [--json]",
	  "Lists providers and fields, never values.\n"
	  "  --json   one JSON object: generation, fingerprint, providers\n" },
	{ "rm", cmd_rm, "rm PROVIDER [FIELD]",
	  "Removes one field, or the whole provider when FIELD is not given.\n" },
	{ "rotate", cmd_rotate, "rotate [--new-key-stdin]",
	  "Re-encrypts every value under a new key and replaces the key file, crash-safe\n"
	  "(the new key is written as KEYFILE.next first). Prints the new fingerprint.\n"
	  "Audited as key_rotated.\n"
	  "  --new-key-stdin   use the base64 key read from stdin instead of a random one\n" },
	{ "fingerprint", cmd_fingerprint, "fingerprint",
	  "Prints the active key's fingerprint (first 16 hex digits of its SHA-256).\n" },
	{ "floor", cmd_floor, "floor [--reset]",
	  "Shows the rollback floor: the generation and MAC of the newest vault written or\n"
	  "served, kept in state_dir. A vault below it, or of its generation but another\n"
	  "content, is refused, and so is a vault with no floor.\n"
	  "  --reset   verify the vault on disk and make it the floor, whatever the floor\n"
	  "            was: for a lost floor, or a rollback you accept (audited)\n" },
	{ "audit", cmd_audit, "audit [--limit N] [--verify] [--follow]",
	  "Prints the latest audit lines (JSON, one per line).\n"
	  "  --limit N   how many lines (default 20)\n"
	  "  --verify    check the hash chain; names the first bad line\n"
	  "  --follow    keep printing new lines as they are appended\n" },
	{ "import", cmd_import, "import FILE",
	  "Imports values from FILE: .json ({\"provider\": {\"field\": \"value\"}}) or .env\n"
	  "(COMFYVN_SECRET_<PROVIDER>_<FIELD>=value entries in Docker Compose's env file\n"
	  "syntax: # comments, 'export ', KEY=value # comment, 'literal', \"escapes \\n \\\"\"\n"
	  "and multi-line quoted values; no interpolation, so $NAME is refused unless\n"
	  "single-quoted). Every entry is checked before anything is written; all or\n"
	  "nothing. A line that does not fit is refused by number.\n" },
	{ "run", cmd_run, "run [-p PROVIDER[/FIELD]]... [-e NAME=PROVIDER/FIELD]... "
	  "[--restart-on-change] -- COMMAND [ARGS]",
	  "Runs COMMAND with the chosen secrets in its environment, never in argv or a file:\n"
	  "each field as COMFYVN_SECRET_<PROVIDER>_<FIELD> (the name the ComfyVN app reads),\n"
	  "or under the name -e gives. COMFYVN_SECRETS_KEY is not passed on. Each value is\n"
	  "audited as secret_read (via run, with the pid and the command). By default run\n"
	  "becomes COMMAND (exec): same pid, signals and exit status.\n"
	  "  -p PROVIDER[/FIELD]   every field of PROVIDER, or one field (repeatable)\n"
	  "  -e NAME=PROVIDER/FIELD  one field under the variable NAME (repeatable)\n"
	  "  --restart-on-change   stay as a supervisor: forward every signal to COMMAND,\n"
	  "                        and when a chosen field changes, stop COMMAND (the stop\n"
	  "                        signal, then SIGKILL after the grace time) and start it\n"
	  "                        again with the new values, at most once a second; exit\n"
	  "                        with COMMAND's status (128+N for signal N)\n"
	  "  --stop-signal SIG     the stop signal (default TERM)\n"
	  "  --grace SECONDS       from the stop signal to SIGKILL (default 10)\n"
	  "Exit status as env(1): COMMAND's, or 125 when run fails (a missing field, a name\n"
	  "that is not a valid variable name, the vault, the audit), 126 when COMMAND cannot\n"
	  "be executed, 127 when it is not found; nothing has run then.\n" },
	{ "watch", cmd_watch, "watch [--mount DIR] [PROVIDER[/FIELD]]... -- COMMAND [ARGS]",
	  "Runs COMMAND each time a watched field's value is added, changed or removed (no\n"
	  "name: every field; PROVIDER: each of its fields). Changes are read from the vault\n"
	  "file (rollback and tampering refused) and debounced, or with --mount DIR from\n"
	  "DIR/.events of a comfysecretsfs mount (no key needed; a reader that fell behind\n"
	  "gets every watched name, or \"*\"; exits 1 when the daemon stops serving).\n"
	  "COMMAND runs one at a time, never overlapping: what changes while it runs is\n"
	  "given to the next run. COMMAND gets names, never values, in its environment:\n"
	  "  COMFYSECRETS_CHANGED        the changed PROVIDER/FIELD names, space-separated\n"
	  "                              (at most 64 KiB of whole names)\n"
	  "  COMFYSECRETS_CHANGED_COUNT  how many changed\n"
	  "  COMFYSECRETS_GENERATION     the vault's generation\n"
	  "A set of the same value, or a rotate, runs nothing. A COMMAND that fails is\n"
	  "reported and watching goes on. SIGTERM or SIGINT: COMMAND, if running, gets it\n"
	  "and is waited for, then watch exits 0.\n" },
	{ "check", cmd_check, "check HOST PORT [--allow PATTERN]... [--no-network] [--json]",
	  "Answers whether a sandboxed job may connect to HOST:PORT:\n"
	  "with enable_security_sandbox_guard on, only when the job wants the network and\n"
	  "HOST:PORT matches a pattern of the job (--allow), of the config's network_allow\n"
	  "or of SANDBOX_NETWORK_ALLOW. Exit 0 allowed, 1 denied (audited as\n"
	  "sandbox_blocked), 2 error (a pattern that does not parse is named).\n"
	  "  --allow PATTERN   a pattern of the job's own list (repeatable)\n"
	  "  --no-network      the job did not ask for the network\n"
	  "  --json            print the control protocol's answer as JSON\n" },
	{ "fleet", cmd_fleet, "fleet init|host-key [PATH] | add-host NAME PUBKEY | rm-host NAME "
	  "| hosts | publish | follow [--once] | status",
	  "One vault served by many hosts through etcd (docs/fleet.md, comfysecrets(1)).\n"
	  "  init [PATH]            admin: make the signing key ([fleet] signing_key), print\n"
	  "                         its public key\n"
	  "  host-key [PATH]        member: make the host key ([fleet] host_key), print its\n"
	  "                         public key\n"
	  "  add-host NAME PUBKEY   admin: enrol a host, then publish\n"
	  "  rm-host NAME           admin: remove a host, rotate the key, then publish\n"
	  "  hosts                  admin: list the enrolled hosts\n"
	  "  publish                admin: publish the vault now (set, rm, rotate and import\n"
	  "                         publish by themselves on the admin)\n"
	  "  follow [--once]        member: watch etcd and apply each verified generation\n"
	  "  status                 the fleet, generation served, last confirmed, reachable,\n"
	  "                         stale (JSON)\n" },
	{ "defaults", cmd_defaults, "defaults",
	  "Prints the sandbox defaults as JSON: the guard flag and the effective allowlist,\n"
	  "with where each entry came from (config or env).\n" },
};

static void
usage_all(FILE *f)
{
	size_t i;

	fprintf(f, "usage: comfysecrets [--config FILE] [--vault FILE] [--key-file FILE] "
	    "COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n'comfysecrets COMMAND --help' describes one command.\n"
	    "Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

static const struct command *
find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
cli_fail(const struct cs_err *e)
{
	fprintf(stderr, "comfysecrets: %s\n", e->msg[0] ? e->msg : "failed");
	return EXIT_FAIL;
}

int
cli_usage(const char *cmd, const char *why)
{
	const struct command *c = find(cmd);

	if (why != NULL)
		fprintf(stderr, "comfysecrets %s: %s\n", cmd, why);
	if (c != NULL)
		fprintf(stderr, "usage: comfysecrets %s\n", c->usage);
	return EXIT_USAGE;
}

int
cli_bad_sub(const char *cmd, const char *sub, const char *subs)
{
	char shown[CS_SHOW_BUF(CS_SHOW_MAX)];
	size_t n = strlen(sub);
	const char *p;
	int known = 0;

	/* sub is known when it is one whole word of subs. */
	for (p = subs; n > 0 && !known && (p = strstr(p, sub)) != NULL; p += n)
		known = (p == subs || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0');
	if (known)
		fprintf(stderr, "comfysecrets %s %s: takes no operands\n", cmd, sub);
	else
		fprintf(stderr, "comfysecrets %s: unknown subcommand \"%s\" (one of: %s)\n", cmd,
		    cs_show(sub, n, CS_SHOW_MAX, shown, sizeof shown), subs);
	return cli_usage(cmd, NULL);
}

int
cli_help(const char *cmd)
{
	const struct command *c = find(cmd);

	if (c == NULL)
		return EXIT_USAGE;
	printf("usage: comfysecrets [--config FILE] [--vault FILE] [--key-file FILE] %s\n\n%s",
	    c->usage, c->help);
	return EXIT_OK;
}

/* No core file may hold a key or a value; nothing we create is for others to read.
 * Returns the caller's umask. */
static mode_t
harden(void)
{
	struct rlimit rl = { 0, 0 };

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
	return umask(077);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "vault",	required_argument,	NULL, 'v' },
		{ "key-file",	required_argument,	NULL, 'k' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *vault = NULL, *key_file = NULL;
	char shown[CS_SHOW_BUF(CS_SHOW_MAX)];
	const struct command *cmd;
	struct cs_err e = { 0 };
	struct cli c = { 0 };
	int ch, rc, changes;

	c.umask = harden();
	json_set_alloc_funcs(malloc, secret_wipe_free);
	/* "+": stop at the command, so its own options are left for it. */
	while ((ch = getopt_long(argc, argv, "+c:v:k:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'v': vault = optarg; break;
		case 'k': key_file = optarg; break;
		case 'h': usage_all(stdout); return EXIT_OK;
		case 'V': printf("comfysecrets %s\n", CS_VERSION); return EXIT_OK;
		default: usage_all(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "comfysecrets: no command given\n");
		usage_all(stderr);
		return EXIT_USAGE;
	}
	if ((cmd = find(argv[optind])) == NULL) {
		fprintf(stderr, "comfysecrets: unknown command \"%s\"\n", cs_show(argv[optind],
		    strlen(argv[optind]), CS_SHOW_MAX, shown, sizeof shown));
		usage_all(stderr);
		return EXIT_USAGE;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "comfysecrets: libsodium could not be initialised\n");
		return EXIT_FAIL;
	}
	if (cfg_load(config, &c.cfg, &e) == -1 ||
	    (vault != NULL && cfg_set_path(&c.cfg->vault_path, vault, &e) == -1) ||
	    (key_file != NULL && cfg_set_path(&c.cfg->key_file, key_file, &e) == -1)) {
		/* --help must work even with a broken configuration. */
		if (argc - optind == 2 && strcmp(argv[optind + 1], "--help") == 0)
			return cli_help(cmd->name);
		cfg_free(c.cfg);
		return cli_fail(&e);
	}
	argv += optind;
	argc -= optind;
	optind = 0;		/* GNU getopt: start afresh for the command's options */
	/* The commands that change the vault: refused on a fleet member, published on
	 * its admin. */
	changes = strcmp(cmd->name, "set") == 0 || strcmp(cmd->name, "rm") == 0 ||
	    strcmp(cmd->name, "rotate") == 0 || strcmp(cmd->name, "import") == 0;
	if (changes && !(argc == 2 && strcmp(argv[1], "--help") == 0) &&
	    cli_fleet_guard(&c, cmd->name) != EXIT_OK) {
		cfg_free(c.cfg);
		return EXIT_FAIL;
	}
	rc = cmd->run(&c, argc, argv);
	if (changes && rc == EXIT_OK && !(argc == 2 && strcmp(argv[1], "--help") == 0))
		rc = cli_fleet_after(&c, cmd->name);
	cfg_free(c.cfg);
	return rc;
}
