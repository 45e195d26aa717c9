/* Small helpers the relay's modules share: the clocks in ns and mkdir -p. */
#ifndef ZR_UTIL_H
#define ZR_UTIL_H

#include <stdint.h>
#include <time.h>

#define ZR_NS_PER_S 1000000000LL

/* The time of `clock` (CLOCK_MONOTONIC, CLOCK_REALTIME) in ns. */
int64_t zr_now_ns(clockid_t clock);

/* mkdir -p: creates every missing directory of path (mode 0755). Returns 0 or an errno
 * (ENOTDIR when a component is not a directory). */
int zr_mkdir_p(const char *path);

#endif
