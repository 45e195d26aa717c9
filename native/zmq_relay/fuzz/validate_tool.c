/* validate_tool: the relay's validator on the command line, for tests that compare it with
 * other Avro implementations (tests/test_validator_differential.py).
 *
 *     validate_tool [-t REPEATS] SCHEMA.avsc [FINGERPRINT]  < datagrams
 *
 * FINGERPRINT: 16 hex digits, the channel's 8 wire bytes (then single-object datagrams are
 * read as such). Each input line is one datagram in hex; each output line its verdict:
 * "ok OFF+LEN ..." (the records' spans, as the relay archives them) or "reject REASON". With
 * -t, each datagram is validated REPEATS times and the line is "ok records=N ns=T" or
 * "reject REASON ns=T", T the median time of one validation (bench/worst_datagram.py). A
 * schema that does not load: its one-line message on stderr, exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zr_schema.h"
#include "zr_validate.h"

#define MAX_DGRAM 65536

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                 : -1;
}

/* Parses the hex digits of `line` into out; returns the byte count, -1 when malformed. */
static long unhex(const char *line, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *c = line; *c && *c != '\n'; c += 2) {
        int hi = hexval(c[0]), lo = hi < 0 ? -1 : hexval(c[1]);
        if (lo < 0 || n == cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
    }
    return (long)n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The median time of one validation over `repeats` (at most 1001); the verdict in *r, *n. */
static int64_t timed(const zr_schema *s, const uint8_t *fp, const uint8_t *buf, size_t len,
                     zr_span *recs, long repeats, zr_reject *r, size_t *n)
{
    static int64_t ns[1001];
    if (repeats > 1001)
        repeats = 1001;
    for (long i = 0; i < repeats; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        *r = zr_validate_datagram(s, fp, buf, len, recs, MAX_DGRAM, n);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns[i] = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    }
    qsort(ns, (size_t)repeats, sizeof ns[0], cmp_i64);
    return ns[repeats / 2];
}

int main(int argc, char **argv)
{
    static char line[2 * MAX_DGRAM + 16];
    static uint8_t buf[MAX_DGRAM];
    static zr_span recs[MAX_DGRAM];
    uint8_t fp[8];
    char err[512];
    zr_schema s;
    long repeats = 0;
    if (argc >= 3 && !strcmp(argv[1], "-t")) {
        repeats = strtol(argv[2], NULL, 10);
        argc -= 2;
        argv += 2;
    }
    if (argc < 2 || argc > 3 || (argc == 3 && unhex(argv[2], fp, sizeof fp) != 8) ||
        repeats < 0) {
        fprintf(stderr, "usage: validate_tool [-t REPEATS] SCHEMA.avsc [FINGERPRINT]  < hex "
                        "datagrams\n");
        return 2;
    }
    if (zr_schema_load(&s, argv[1], NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    while (fgets(line, sizeof line, stdin)) {
        long len = unhex(line, buf, sizeof buf);
        size_t n = 0;
        if (len < 0) {
            printf("error malformed line\n");
            continue;
        }
        const uint8_t *f = argc == 3 ? fp : NULL;
        zr_reject r;
        if (repeats) {
            int64_t ns = timed(&s, f, buf, (size_t)len, recs, repeats, &r, &n);
            if (r == ZR_OK)
                printf("ok records=%zu ns=%lld\n", n, (long long)ns);
            else
                printf("reject %s ns=%lld\n", zr_reject_name(r), (long long)ns);
            continue;
        }
        r = zr_validate_datagram(&s, f, buf, (size_t)len, recs, MAX_DGRAM, &n);
        if (r != ZR_OK) {
            printf("reject %s\n", zr_reject_name(r));
            continue;
        }
        fputs("ok", stdout);
        for (size_t i = 0; i < n; i++)
            printf(" %u+%u", recs[i].off, recs[i].len);
        putchar('\n');
    }
    zr_schema_free(&s);
    return 0;
}
