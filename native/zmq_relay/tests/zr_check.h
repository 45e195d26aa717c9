/* The checks of the relay's C unit tests, shared by every tests/test_*.c (and the helpers
 * some of them link, such as archive_util.c: the counters are weak globals, one pair per test
 * binary). A failed check prints where it is and what failed on stderr and the test goes on;
 * main ends with
 *     return zr_check_summary("test_x");
 * which prints "test_x: N passed, M failed" and returns the exit code (1 on any failure). */
#ifndef ZR_CHECK_H
#define ZR_CHECK_H

#include <stdarg.h>
#include <stdio.h>

__attribute__((weak)) int zr_check_passed, zr_check_failed;

/* Counts one check; on failure prints "file:line: function: " and the formatted message. */
__attribute__((format(printf, 5, 6))) static inline int
zr_check_at(int ok, const char *file, int line, const char *func, const char *fmt, ...)
{
    if (ok) {
        zr_check_passed++;
        return 1;
    }
    zr_check_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: %s: ", file, line, func);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 0;
}

/* CHECK(cond): the condition's text is the message. CHECKF(cond, fmt, ...): a message of
 * its own, with the values that explain the failure. Both return whether cond held. */
#define CHECK(cond) \
    zr_check_at((cond) != 0, __FILE__, __LINE__, __func__, "CHECK failed: %s", #cond)
#define CHECKF(cond, ...) zr_check_at((cond) != 0, __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Prints "<name>: N passed, M failed" on stdout; returns the test's exit code. */
static inline int zr_check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, zr_check_passed, zr_check_failed);
    return zr_check_failed ? 1 : 0;
}

#endif
