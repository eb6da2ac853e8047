/* crypto/attr.h - includes base/attr.h, where this job lives (base/ is the bottom layer every
 * folder may use, docs/architecture.md); new code includes base/attr.h itself. */
#ifndef CS_CRYPTO_ATTR_H
#define CS_CRYPTO_ATTR_H

#include "../base/attr.h"

#endif
