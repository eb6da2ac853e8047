/* cli/cmd_sandbox.c - comfysecrets check and defaults: the sandbox questions.
 *
 * Both build a control request and hand it to policy/control.c, the same function the
 * daemon's .control file uses, so the CLI and the mount can never answer differently.
 * check exits 0 when allowed, 1 when denied, 2 on an error (a bad pattern, a bad port). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../policy/control.h"
#include "cli.h"

#define CHECK_ALLOW_MAX	256	/* --allow patterns on one command line */

/* Sends req (stolen) through the control protocol and returns the parsed answer. */
static json_t *
ask(struct cli *c, json_t *req, struct audit *a, struct cs_err *e)
{
	struct control_ctx ctx = { 0 };
	char *text, *answer = NULL;
	size_t alen = 0;
	json_error_t jerr;
	json_t *ans = NULL;

	ctx.cfg = c->cfg;
	ctx.pid = getpid();
	ctx.uid = getuid();
	ctx.gid = getgid();
	ctx.comm = "comfysecrets";
	ctx.via = "cli";
	ctx.audit = a;
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL) {
		cs_err_set(e, ENOMEM, "control request: out of memory");
		return NULL;
	}
	if (control_handle(&ctx, text, strlen(text), &answer, &alen) == -1)
		cs_err_set(e, ENOMEM, "control request: out of memory");
	else if ((ans = json_loadb(answer, alen, 0, &jerr)) == NULL)
		cs_err_set(e, EINVAL, "control answer is not JSON: %s", jerr.text);
	free(text);
	free(answer);
	return ans;
}

int
cmd_check(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "allow", required_argument, NULL, 'a' },
		{ "no-network", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cs_err e = { 0 };
	struct audit *a = NULL;
	json_t *req = NULL, *allow, *ans = NULL, *err;
	char *end, *text;
	long port;
	int ch, network = 1, json = 0, rc = EXIT_USAGE;

	if ((allow = json_array()) == NULL)
		return cs_err_set(&e, ENOMEM, "check: out of memory"), cli_fail(&e);
	/* No "+": options may follow HOST PORT, as the usage line shows. */
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (json_array_size(allow) == CHECK_ALLOW_MAX) {
				json_decref(allow);
				return cli_usage("check", "too many --allow patterns");
			}
			json_array_append_new(allow, json_string(optarg));
			break;
		case 'n': network = 0; break;
		case 'j': json = 1; break;
		case 'h': json_decref(allow); return cli_help("check");
		default: json_decref(allow); return cli_usage("check", NULL);
		}
	}
	if (argc - optind != 2) {
		json_decref(allow);
		return cli_usage("check", "needs HOST and PORT");
	}
	errno = 0;
	port = strtol(argv[optind + 1], &end, 10);
	if (errno != 0 || end == argv[optind + 1] || *end != '\0' || port < 1 || port > 65535) {
		json_decref(allow);
		return cli_usage("check", "PORT must be a number from 1 to 65535");
	}
	req = json_pack("{s:s, s:s, s:i, s:o, s:b}", "op", "check", "host", argv[optind],
	    "port", (int)port, "allow", allow, "network", network);
	if (req == NULL) {
		cs_err_set(&e, EINVAL, "check: the host is not valid UTF-8 text");
		goto out;
	}
	/* A denial is audited; a log that cannot be opened is the answer's business
	 * (fail_closed turns the denial into an error), not a reason to refuse here. */
	if (audit_open(c->cfg->audit_path, c->cfg->audit_flush, c->cfg->audit_timeout_ms,
	    &a, &e) == -1) {
		if (c->cfg->audit_fail_closed) {
			struct cs_err why = e;

			cs_err_clear(&e);
			cs_err_set(&e, why.code, "check: a denial must be written to the audit "
			    "log, which cannot be opened (fail_closed is on): %s; a user who "
			    "may not write the log can ask the daemon (.control, op check)",
			    why.msg);
			goto out;
		}
		fprintf(stderr, "comfysecrets: warning: %s\n", e.msg);
		cs_err_clear(&e);
	}
	if ((ans = ask(c, req, a, &e)) == NULL)
		goto out;
	req = NULL;
	if (json) {
		text = json_dumps(ans, JSON_COMPACT);
		printf("%s\n", text ? text : "{}");
		free(text);
	}
	if ((err = json_object_get(ans, "error")) != NULL) {
		cs_err_set(&e, EINVAL, "%s", json_string_value(err));
		if (json)
			rc = EXIT_USAGE;
		else
			rc = (cli_fail(&e), EXIT_USAGE);
		goto done;
	}
	rc = json_is_true(json_object_get(ans, "allowed")) ? EXIT_OK : EXIT_FAIL;
	if (!json)
		printf("%s: %s\n", rc == EXIT_OK ? "allowed" : "denied",
		    json_string_value(json_object_get(ans, "reason")));
	goto done;
out:
	json_decref(req);
	rc = (cli_fail(&e), EXIT_USAGE);
done:
	json_decref(ans);
	audit_close(a);
	return rc;
}

int
cmd_defaults(struct cli *c, int argc, char **argv)
{
	struct cs_err e = { 0 };
	json_t *ans;
	char *text;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return cli_help("defaults");
	if (argc != 1)
		return cli_usage("defaults", "takes no operands");
	if ((ans = ask(c, json_pack("{s:s}", "op", "defaults"), NULL, &e)) == NULL)
		return cli_fail(&e);
	text = json_dumps(ans, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(ans);
	if (text == NULL)
		return cs_err_set(&e, ENOMEM, "defaults: out of memory"), cli_fail(&e);
	printf("%s\n", text);
	free(text);
	return EXIT_OK;
}
