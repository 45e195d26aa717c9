/* Fixtures of the schema and validator tests: schema files written to a temporary directory,
 * datagrams written as hex, the reject reasons by short names, and run(), which validates and
 * checks that the spans of an accepted datagram cover it in order. Every function is static
 * inline, so each test (one translation unit) uses what it needs. */
#ifndef ZR_FIXTURES_H
#define ZR_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zr_check.h"
#include "zr_schema.h"
#include "zr_validate.h"

static char zr_tmpdir[64];
static int zr_nfiles;

/* Makes the directory for schema files: /tmp/<name>.XXXXXX. */
static inline void fixtures_init(const char *name)
{
    snprintf(zr_tmpdir, sizeof zr_tmpdir, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp(zr_tmpdir)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Removes the schema files and their directory. */
static inline void fixtures_cleanup(void)
{
    char path[128];
    for (int i = 0; i < zr_nfiles; i++) {
        snprintf(path, sizeof path, "%s/s%d.avsc", zr_tmpdir, i);
        unlink(path);
    }
    rmdir(zr_tmpdir);
}

/* Writes `json` (single quotes standing for double quotes) to a file; returns its path. */
static inline const char *schema_file(const char *json)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/s%d.avsc", zr_tmpdir, zr_nfiles++);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    for (const char *c = json; *c; c++)
        fputc(*c == '\'' ? '"' : *c, f);
    fclose(f);
    return path;
}

/* Parses hex digits, ignoring spaces; returns the byte count. */
static inline size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *c = hex; *c; c++) {
        if (*c == ' ')
            continue;
        unsigned b;
        if (n == cap || sscanf(c, "%2x", &b) != 1) {
            fprintf(stderr, "bad hex in test table: %s\n", hex);
            exit(2);
        }
        out[n++] = (uint8_t)b;
        c++;
    }
    return n;
}

/* A record of one field v of type T. */
#define ONE(T) "{'type':'record','name':'r','fields':[{'name':'v','type':" T "}]}"

/* The channel's fingerprint in these tests, and its single-object header. */
#define FP "8f 5c 39 3f 1a d5 75 72"
#define HDR "c3 01 " FP
#define OTHER_HDR "c3 01 01 02 03 04 05 06 07 08"
static uint8_t fingerprint[8]; /* FP, set by fixtures_fingerprint */

static inline void fixtures_fingerprint(void)
{
    unhex(FP, fingerprint, sizeof fingerprint);
}

#define VARINT_11 "80 80 80 80 80 80 80 80 80 80 00"
#define INT64_MAX_V "fe ff ff ff ff ff ff ff ff 01"
#define INT64_MIN_V "ff ff ff ff ff ff ff ff ff 01"

/* Reasons by short names, for the tables. */
enum {
    OK = ZR_OK,
    EMPTY = ZR_REJ_EMPTY,
    TRUNC = ZR_REJ_TRUNCATED,
    VARINT = ZR_REJ_VARINT,
    RANGE = ZR_REJ_INT_RANGE,
    BOOL = ZR_REJ_BOOLEAN,
    LENGTH = ZR_REJ_LENGTH,
    UTF8 = ZR_REJ_UTF8,
    UNION = ZR_REJ_UNION,
    ENUM = ZR_REJ_ENUM,
    DEPTH = ZR_REJ_DEPTH,
    TRAIL = ZR_REJ_TRAILING,
    ITEMS = ZR_REJ_ITEMS,
};

/* Validates; on acceptance also checks the spans cover the datagram in order. */
static inline int run(const zr_schema *s, const uint8_t *fp, const uint8_t *buf, size_t len,
               size_t *nrecs)
{
    zr_span recs[64];
    zr_reject r = zr_validate_datagram(s, fp, buf, len, recs, 64, nrecs);
    if (r != ZR_OK)
        return r;
    size_t end = 0;
    for (size_t i = 0; i < *nrecs; i++) {
        CHECKF(recs[i].off >= end && recs[i].off + recs[i].len <= len, "span %zu out of order", i);
        end = recs[i].off + recs[i].len;
    }
    CHECKF(end == len, "spans end at %zu, datagram at %zu", end, len);
    return r;
}

#endif
