/* crypto/file.h - includes base/file.h, where this job lives (base/ is the bottom layer every
 * folder may use, docs/architecture.md); new code includes base/file.h itself. */
#ifndef CS_CRYPTO_FILE_H
#define CS_CRYPTO_FILE_H

#include "../base/file.h"

#endif
