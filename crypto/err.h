/* crypto/err.h - includes base/err.h, where this job lives (base/ is the bottom layer every
 * folder may use, docs/architecture.md); new code includes base/err.h itself. */
#ifndef CS_CRYPTO_ERR_H
#define CS_CRYPTO_ERR_H

#include "../base/err.h"

#endif
