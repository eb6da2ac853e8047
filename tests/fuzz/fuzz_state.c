/* tests/fuzz/fuzz_state.c - libFuzzer target for the state file reader (state_read).
 *
 * The input is "<vault>.state", written to a private folder on tmpfs (state_read opens a
 * path, O_NOFOLLOW). Beyond "no crash": a refusal is a clean message; a state that reads
 * has its strings terminated inside their buffers, numbers that fit a JSON integer
 * (never negative), and an empty file reads as all zeros.
 *
 *	make fuzz && build/fuzz/fuzz_state -dict=tests/fuzz/state.dict tests/fuzz/corpus/state */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/state.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char vault[128], path[160];
	struct cs_state st;
	struct cs_err e = { 0 };

	if (vault[0] == '\0') {
		snprintf(vault, sizeof vault, "%s/vault.json", fuzz_dir());
		snprintf(path, sizeof path, "%s%s", vault, STATE_SUFFIX);
	}
	fuzz_write(path, data, size);
	memset(&st, 0xa5, sizeof st);
	/* No state folder: the input is read as the old file beside the vault, which the
	 * same parser reads as the floor file. */
	if (state_read("/nonexistent-state-dir", vault, &st, &e) == -1) {
		fuzz_clean_msg(&e);
		return 0;
	}
	if (e.code != 0 || memchr(st.mac, '\0', sizeof st.mac) == NULL ||
	    memchr(st.audit_hash, '\0', sizeof st.audit_hash) == NULL ||
	    memchr(st.audit_path, '\0', sizeof st.audit_path) == NULL ||
	    (size == 0 && (st.generation != 0 || st.audit_seq != 0)))
		abort();
	if ((int64_t)st.generation < 0 || (int64_t)st.audit_seq < 0)
		abort();
	return 0;
}
