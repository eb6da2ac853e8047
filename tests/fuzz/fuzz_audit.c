/* tests/fuzz/fuzz_audit.c - libFuzzer target for the audit-log verifier (audit_verify).
 *
 * The input is a log file; the first line is replaced by nothing when it starts with
 * "#expect " followed by a seq and a hash, which are then passed as the state file's
 * record, so the "cut tail" and "replaced line" checks are explored too. The file is
 * written to a private folder on tmpfs (the verifier opens paths, O_NOFOLLOW).
 *
 * Beyond "no crash": a log that verifies has as many seqs as lines, and reached the
 * expected seq; a refusal names a line within the file (or one past its end for a cut
 * tail) and is a clean message; and verifying is deterministic.
 *
 *	make fuzz && build/fuzz/fuzz_audit -dict=tests/fuzz/audit.dict tests/fuzz/corpus/audit */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../policy/auditread.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return sodium_init() < 0 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[128];
	struct audit_verify_result r, r2;
	struct cs_err e = { 0 }, e2 = { 0 };
	char hash[AUDIT_HASH_HEX + 1] = "", head[128];
	uint64_t expect = 0, nl = 0;
	const uint8_t *nlp;
	size_t i, hl;
	int rc;

	if (path[0] == '\0')
		snprintf(path, sizeof path, "%s/audit.log", fuzz_dir());
	if (size > 8 && memcmp(data, "#expect ", 8) == 0 &&
	    (nlp = memchr(data, '\n', size)) != NULL && (hl = (size_t)(nlp - data)) < sizeof head) {
		memcpy(head, data, hl);
		head[hl] = '\0';
		if (sscanf(head + 8, "%" SCNu64 " %64s", &expect, hash) < 1)
			expect = 0;
		data += hl + 1;
		size -= hl + 1;
	}
	fuzz_write(path, data, size);
	for (i = 0; i < size; i++)
		nl += data[i] == '\n';

	rc = audit_verify(path, expect, hash, &r, &e);
	if (audit_verify(path, expect, hash, &r2, &e2) != rc || memcmp(&r, &r2, sizeof r) != 0 ||
	    strcmp(e.msg, e2.msg) != 0)
		abort();
	if (rc == 0) {
		/* the first line may be audit_log_continued (seq > 1): the lines still
		 * count up one by one from it */
		if (e.code != 0 || r.bad_line != 0 || r.lines != nl ||
		    (r.lines == 0 ? r.last_seq != 0 || r.first_seq != 0 :
		    r.last_seq - r.first_seq + 1 != r.lines) ||
		    (expect != 0 && r.last_seq < expect) || strlen(r.last_hash) != AUDIT_HASH_HEX)
			abort();
	} else {
		fuzz_clean_msg(&e);
		if (r.bad_line == 0 || r.bad_line > nl + 2)
			abort();
	}
	return 0;
}
