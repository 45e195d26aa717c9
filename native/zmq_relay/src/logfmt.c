/* logfmt lines on stderr: see zr_logfmt.h. */
#include "zr_logfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *zr_lv(char *out, size_t n, const char *s)
{
    size_t j = 0;
    int bare = *s != '\0' && strcspn(s, " =\"\\\t\n") == strlen(s);
    if (bare) {
        snprintf(out, n, "%s", s);
        return out;
    }
    out[j++] = '"';
    for (; *s && j + 3 < n; s++) {
        if (*s == '"' || *s == '\\')
            out[j++] = '\\';
        out[j++] = *s == '\n' ? ' ' : *s;
    }
    out[j++] = '"';
    out[j] = '\0';
    return out;
}

void zr_logline(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return; /* nowhere left to report */
}

void zr_fatal(int code, const char *msg)
{
    char v[600];
    zr_logline("event=fatal service=relay pid=%ld error=%s", (long)getpid(), zr_lv(v, sizeof v, msg));
    exit(code);
}
