/* logfmt lines on stderr, for start-up and rare events only (never per record). */
#ifndef ZR_LOGFMT_H
#define ZR_LOGFMT_H

#include <stddef.h>

/* s as a logfmt value in out[n]: bare when it can be, else double-quoted with " and \ escaped
 * (newlines become spaces). Returns out. */
const char *zr_lv(char *out, size_t n, const char *s);

/* Formats one line (up to 2 KB, newline added) and writes it to stderr with a single write. */
void zr_logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints `event=fatal service=relay pid=... error=<msg>` and exits with `code`. */
_Noreturn void zr_fatal(int code, const char *msg);

#endif
