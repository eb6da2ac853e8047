/* base/clock.h - the monotonic clock in milliseconds, for deadlines and back-off that a
 * change of the wall clock must not move. */
#ifndef CS_BASE_CLOCK_H
#define CS_BASE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds (since an unspecified start, typically boot): only
 * differences mean anything. Cannot fail on Linux. */
int64_t	cs_now_ms(void);
/* The same clock in nanoseconds, for timing short work (the bench programs). */
int64_t	cs_now_ns(void);

#endif
