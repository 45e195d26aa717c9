/* Table-driven tests of the schema loader and the record validator (after brubeck's
 * tests/statsd_msg.c): long lists of datagrams, as hex, that each schema must accept or reject
 * for a given reason, schemas that must fail to load, time-unit resolution and the archive
 * schema text. Schemas are written with single quotes (turned into double quotes on disk). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zr_check.h"
#include "zr_schema.h"
#include "zr_validate.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

static char tmpdir[] = "/tmp/test_validate.XXXXXX";
static int nfiles;

/* Writes `json` (single quotes standing for double quotes) to a file; returns its path. */
static const char *schema_file(const char *json)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/s%d.avsc", tmpdir, nfiles++);
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
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
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

#define ONE(T) "{'type':'record','name':'r','fields':[{'name':'v','type':" T "}]}"

/* The schemas the datagram tables refer to by name. */
static const struct {
    const char *name;
    const char *json;
} schemas[] = {
    {"example",
     "{'type':'record','name':'data','namespace':'speeddata.example','fields':["
     "{'name':'time','type':'long','logicalType':'timestamp-nanos'},"
     "{'name':'message','type':'string'},{'name':'counter','type':'int'},"
     "{'name':'sine_wave','type':'double'},{'name':'ramp','type':'double'},"
     "{'name':'square_wave','type':'double'},{'name':'noise','type':'double'}]}"},
    {"all",
     "{'type':'record','name':'all','namespace':'t','fields':["
     "{'name':'n','type':'null'},{'name':'b','type':'boolean'},{'name':'i','type':'int'},"
     "{'name':'l','type':'long'},{'name':'f','type':'float'},{'name':'d','type':'double'},"
     "{'name':'by','type':'bytes'},{'name':'s','type':'string'},"
     "{'name':'fx','type':{'type':'fixed','name':'f3','size':3}},"
     "{'name':'e','type':{'type':'enum','name':'color','symbols':['R','G','B']}},"
     "{'name':'a','type':{'type':'array','items':'int'}},"
     "{'name':'m','type':{'type':'map','values':'string'}},"
     "{'name':'u','type':['null','string']},"
     "{'name':'r','type':{'type':'record','name':'inner','fields':[{'name':'x','type':'int'}]}}]}"},
    {"boolean", ONE("'boolean'")},
    {"int", ONE("'int'")},
    {"long", ONE("'long'")},
    {"timestamp", ONE("{'type':'long','logicalType':'timestamp-micros'}")},
    {"float", ONE("'float'")},
    {"double", ONE("'double'")},
    {"bytes", ONE("'bytes'")},
    {"string", ONE("'string'")},
    {"fixed3", ONE("{'type':'fixed','name':'f','size':3}")},
    {"fixed0", "{'type':'record','name':'r','fields':[{'name':'z','type':{'type':'fixed',"
               "'name':'z','size':0}},{'name':'v','type':'int'}]}"},
    {"enum", ONE("{'type':'enum','name':'e','symbols':['A','B','C']}")},
    {"union", ONE("['null','int','string']")},
    {"array", ONE("{'type':'array','items':'int'}")},
    {"array_null", ONE("{'type':'array','items':'null'}")},
    {"array_null_int", "{'type':'record','name':'r','fields':[{'name':'a','type':{'type':'array',"
                       "'items':'null'}},{'name':'v','type':'int'}]}"},
    {"array_fixed0", "{'type':'record','name':'r','fields':[{'name':'a','type':{'type':'array',"
                     "'items':{'type':'fixed','name':'z','size':0}}},{'name':'v','type':'int'}]}"},
    {"array_nulls", "{'type':'record','name':'r','fields':[{'name':'a','type':{'type':'array',"
                    "'items':{'type':'record','name':'n','fields':[{'name':'c','type':'null'}]}}},"
                    "{'name':'v','type':'int'}]}"},
    {"map", ONE("{'type':'map','values':'string'}")},
    {"map_null", ONE("{'type':'map','values':'null'}")},
    {"nested", "{'type':'record','name':'o','fields':[{'name':'a','type':'int'},"
               "{'name':'r','type':{'type':'record','name':'i','fields':["
               "{'name':'x','type':'string'},{'name':'y','type':'boolean'}]}},"
               "{'name':'z','type':'long'}]}"},
    {"list", "{'type':'record','name':'list','fields':[{'name':'v','type':'int'},"
             "{'name':'next','type':['null','list']}]}"},
    {"chain", "{'type':'record','name':'node','fields':[{'name':'next','type':['null','node']}]}"},
    {"tree", "{'type':'record','name':'tree','fields':"
             "[{'name':'kids','type':{'type':'array','items':'tree'}}]}"},
    {"empty", "{'type':'record','name':'r','fields':[]}"},
    {"nulls", "{'type':'record','name':'r','fields':[{'name':'a','type':'null'},"
              "{'name':'b','type':{'type':'record','name':'n','fields':[{'name':'c','type':'null'}]}}]}"},
    {"int_first", "{'type':'record','name':'r','fields':[{'name':'a','type':'int'},"
                  "{'name':'b','type':'string'}]}"},
};

static zr_schema loaded[sizeof schemas / sizeof schemas[0]];

static const zr_schema *schema(const char *name)
{
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
        if (!strcmp(schemas[i].name, name))
            return &loaded[i];
    }
    fprintf(stderr, "unknown schema in test table: %s\n", name);
    exit(2);
}

static void load_schemas(void)
{
    char err[512];
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
        int rc = zr_schema_load(&loaded[i], schema_file(schemas[i].json), NULL, NULL, err,
                                sizeof err);
        CHECKF(rc == 0, "schema %s does not load: %s", schemas[i].name, err);
        if (rc) {
            fprintf(stderr, "cannot go on without the test schemas\n");
            exit(1);
        }
    }
}

/* ---- datagrams ----------------------------------------------------------------------------- */

/* The channel's fingerprint in these tests, and its single-object header. */
#define FP "8f 5c 39 3f 1a d5 75 72"
#define HDR "c3 01 " FP
#define OTHER_HDR "c3 01 01 02 03 04 05 06 07 08"
static uint8_t fingerprint[8];

/* One record of "example": time 1, message "hi", counter 5, doubles 1.0 0.5 -1.0 0.0. */
#define EX "02 04 68 69 0a 000000000000f03f 000000000000e03f 000000000000f0bf 0000000000000000"
/* One record of "all" and its field lengths. */
#define ALL "01 02 04 0000803f 000000000000f03f 04 ff 00 06 e2 82 ac 01 02 03 04 " \
            "03 04 02 04 00 02 02 6b 02 76 00 02 02 61 06"
static const uint32_t all_lens[] = {0, 1, 1, 1, 4, 8, 3, 4, 3, 1, 5, 6, 3, 1};

#define VARINT_11 "80 80 80 80 80 80 80 80 80 80 00"
#define INT64_MAX_V "fe ff ff ff ff ff ff ff ff 01"
#define INT64_MIN_V "ff ff ff ff ff ff ff ff ff 01"

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
};

typedef struct vcase {
    const char *schema;
    const char *hex;
    int want;
    size_t nrecs; /* records when accepted; 0 means 1 */
} vcase;

static const vcase cases[] = {
    /* empty datagram */
    {"int", "", EMPTY, 0},
    {"example", "", EMPTY, 0},
    /* int: zig-zag varints, 32-bit range, overlong */
    {"int", "00", OK, 0},
    {"int", "02", OK, 0},
    {"int", "01", OK, 0},
    {"int", "7f", OK, 0},
    {"int", "80 01", OK, 0},
    {"int", "c3 01", OK, 0}, /* -98: starts like a single-object header */
    {"int", "fe ff ff ff 0f", OK, 0},           /* INT32_MAX */
    {"int", "ff ff ff ff 0f", OK, 0},           /* INT32_MIN */
    {"int", "80 80 80 80 80 80 00", OK, 0},     /* padded zero: fits 32 bits */
    {"int", "80 80 80 80 10", RANGE, 0},        /* INT32_MAX + 1 */
    {"int", "81 80 80 80 10", RANGE, 0},        /* INT32_MIN - 1 */
    {"int", "fe ff ff ff 1f", RANGE, 0},
    {"int", INT64_MAX_V, RANGE, 0},
    {"int", INT64_MIN_V, RANGE, 0},
    {"int", VARINT_11, VARINT, 0},
    {"int", "ff ff ff ff ff ff ff ff ff ff", VARINT, 0},
    {"int", "80", TRUNC, 0},
    {"int", "ff ff ff", TRUNC, 0},
    {"int", "00 02 04", OK, 3},
    {"int", "00 80", TRUNC, 0},
    {"int", "00 80 80 80 80 10", RANGE, 0},
    /* long */
    {"long", "00", OK, 0},
    {"long", "80 80 80 80 10", OK, 0},
    {"long", INT64_MAX_V, OK, 0},
    {"long", INT64_MIN_V, OK, 0},
    {"long", "ff ff ff ff ff ff ff ff ff 02", VARINT, 0}, /* beyond 64 bits */
    {"long", "ff ff ff ff ff ff ff ff ff 7f", VARINT, 0},
    {"long", VARINT_11, VARINT, 0},
    {"long", "ff ff ff ff ff ff ff ff ff ff ff", VARINT, 0},
    {"long", "ff ff ff ff ff ff ff ff ff", TRUNC, 0},
    {"long", "80 00", OK, 0},
    {"long", "00 " INT64_MAX_V " 00", OK, 3},
    {"timestamp", "80 80 80 80 10", OK, 0}, /* a logical type is an annotation */
    {"timestamp", VARINT_11, VARINT, 0},
    /* boolean */
    {"boolean", "00", OK, 0},
    {"boolean", "01", OK, 0},
    {"boolean", "00 01 00 01", OK, 4},
    {"boolean", "02", BOOL, 0},
    {"boolean", "ff", BOOL, 0},
    {"boolean", "80", BOOL, 0},
    {"boolean", "01 01 03", BOOL, 0},
    /* float, double */
    {"float", "00 00 80 3f", OK, 0},
    {"float", "00 00 80 3f 00 00 c0 7f", OK, 2},
    {"float", "00 00 80", TRUNC, 0},
    {"float", "00 00 80 3f 00", TRUNC, 0},
    {"double", "00 00 00 00 00 00 f0 3f", OK, 0},
    {"double", "00 00 00 00 00 00 f0", TRUNC, 0},
    {"double", "00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 f0 3f", OK, 2},
    {"double", "00 00 00 00 00 00 f0 3f 00", TRUNC, 0},
    /* bytes: any content, non-negative length inside the datagram */
    {"bytes", "00", OK, 0},
    {"bytes", "06 01 02 03", OK, 0},
    {"bytes", "06 ff fe c0", OK, 0},
    {"bytes", "06 01 02", TRUNC, 0},
    {"bytes", "01", LENGTH, 0},
    {"bytes", "03 00", LENGTH, 0},
    {"bytes", INT64_MAX_V " 00", TRUNC, 0},
    {"bytes", INT64_MIN_V, LENGTH, 0},
    {"bytes", VARINT_11, VARINT, 0},
    {"bytes", "80", TRUNC, 0},
    /* string: valid UTF-8 */
    {"string", "00", OK, 0},
    {"string", "0a 68 65 6c 6c 6f", OK, 0},
    {"string", "28 6162636465666768696a6b6c6d6e6f7071727374", OK, 0},
    {"string", "02 00", OK, 0},                 /* NUL is valid UTF-8 */
    {"string", "04 c2 80", OK, 0},              /* U+0080 */
    {"string", "04 c3 a9", OK, 0},              /* é */
    {"string", "04 df bf", OK, 0},              /* U+07FF */
    {"string", "06 e0 a0 80", OK, 0},           /* U+0800 */
    {"string", "06 e2 82 ac", OK, 0},           /* € */
    {"string", "06 ed 9f bf", OK, 0},           /* U+D7FF */
    {"string", "06 ee 80 80", OK, 0},           /* U+E000 */
    {"string", "06 ef bf bf", OK, 0},           /* U+FFFF */
    {"string", "08 f0 90 80 80", OK, 0},        /* U+10000 */
    {"string", "08 f0 9d 84 9e", OK, 0},        /* 𝄞 */
    {"string", "08 f4 8f bf bf", OK, 0},        /* U+10FFFF */
    {"string", "2a 6161616161616161 c3a9 6161616161616161 e282ac", OK, 0},
    {"string", "04 c3 a9 06 e2 82 ac", OK, 2},
    {"string", "02 80", UTF8, 0},               /* lone continuation byte */
    {"string", "02 bf", UTF8, 0},
    {"string", "04 c0 80", UTF8, 0},            /* overlong NUL */
    {"string", "04 c1 bf", UTF8, 0},            /* overlong 2 bytes */
    {"string", "06 e0 80 80", UTF8, 0},         /* overlong 3 bytes */
    {"string", "06 e0 9f bf", UTF8, 0},
    {"string", "08 f0 80 80 80", UTF8, 0},      /* overlong 4 bytes */
    {"string", "08 f0 8f bf bf", UTF8, 0},
    {"string", "06 ed a0 80", UTF8, 0},         /* surrogate U+D800 */
    {"string", "06 ed bf bf", UTF8, 0},         /* surrogate U+DFFF */
    {"string", "08 f4 90 80 80", UTF8, 0},      /* U+110000 */
    {"string", "08 f5 80 80 80", UTF8, 0},
    {"string", "02 ff", UTF8, 0},
    {"string", "02 fe", UTF8, 0},
    {"string", "02 c3", UTF8, 0},               /* sequence cut by the string's end */
    {"string", "04 e2 82", UTF8, 0},
    {"string", "06 f0 9d 84", UTF8, 0},
    {"string", "04 c3 28", UTF8, 0},            /* bad continuation */
    {"string", "06 e2 28 a1", UTF8, 0},
    {"string", "06 e2 82 28", UTF8, 0},
    {"string", "08 f0 9d 84 41", UTF8, 0},
    {"string", "12 6161616161616161 ff", UTF8, 0}, /* after the ASCII fast path */
    {"string", "28 6161616161616161 c3a9 6161616161616161 e282", UTF8, 0},
    {"string", "04 c3 a9 02 c0", UTF8, 0},      /* in the second record */
    {"string", "0a 68 65", TRUNC, 0},
    {"string", "01", LENGTH, 0},
    {"string", "04 c3", TRUNC, 0},
    /* fixed */
    {"fixed3", "01 02 03", OK, 0},
    {"fixed3", "01 02 03 04 05 06", OK, 2},
    {"fixed3", "01 02", TRUNC, 0},
    {"fixed3", "01 02 03 04", TRUNC, 0},
    {"fixed0", "02", OK, 0},
    {"fixed0", "02 04", OK, 2},
    /* enum: symbol index in [0, 3) */
    {"enum", "00", OK, 0},
    {"enum", "04", OK, 0},
    {"enum", "00 02 04", OK, 3},
    {"enum", "06", ENUM, 0},
    {"enum", "01", ENUM, 0},
    {"enum", "80 80 80 80 10", ENUM, 0},
    {"enum", "80", TRUNC, 0},
    {"enum", VARINT_11, VARINT, 0},
    /* union ["null","int","string"] */
    {"union", "00", OK, 0},
    {"union", "02 04", OK, 0},
    {"union", "04 02 61", OK, 0},
    {"union", "00 02 04 04 02 61 00", OK, 4},
    {"union", "06", UNION, 0},
    {"union", "01", UNION, 0},
    {"union", "06 00", UNION, 0},
    {"union", INT64_MAX_V, UNION, 0},
    {"union", "02", TRUNC, 0},
    {"union", "04 02 ff", UTF8, 0},
    {"union", "02 80 80 80 80 10", RANGE, 0},
    {"union", "00 08", UNION, 0},
    /* array of int: blocks, negative counts with byte sizes */
    {"array", "00", OK, 0},
    {"array", "04 02 04 00", OK, 0},
    {"array", "03 04 02 04 00", OK, 0},                  /* count -2, size 2 */
    {"array", "02 02 03 04 02 04 00", OK, 0},            /* two blocks */
    {"array", "03 08 80 01 80 01 00", OK, 0},            /* size 4, two-byte items */
    {"array", "04 02 04 00 00 03 04 02 04 00", OK, 3},
    {"array", "03 06 02 04 00", LENGTH, 0},              /* size larger than the items */
    {"array", "03 02 02 04 00", LENGTH, 0},              /* size smaller than the items */
    {"array", "03 7e 02 04 00", LENGTH, 0},
    {"array", "03 05 02 04 00", LENGTH, 0},              /* negative size */
    {"array", "04 02 04", TRUNC, 0},                     /* no end block */
    {"array", "04 02", TRUNC, 0},
    {"array", "03", TRUNC, 0},
    {"array", "03 04 02", TRUNC, 0},
    {"array", INT64_MAX_V " 00", TRUNC, 0},              /* more items than bytes */
    {"array", INT64_MIN_V " 00 00", LENGTH, 0},
    {"array", "02 80 80 80 80 10 00", RANGE, 0},
    {"array", VARINT_11, VARINT, 0},
    /* array of null: items take no bytes */
    {"array_null", "00", OK, 0},
    {"array_null", "0a 00", OK, 0},
    {"array_null", INT64_MAX_V " 00", OK, 0},
    {"array_null", "03 00 00", OK, 0},
    {"array_null", "03 02 00", LENGTH, 0},
    {"array_null", "03 01 00", LENGTH, 0},
    {"array_null", "0a", TRUNC, 0},
    /* map of string: string keys */
    {"map", "00", OK, 0},
    {"map", "02 02 6b 02 76 00", OK, 0},
    {"map", "04 02 6b 02 76 00 00 00", OK, 0},
    {"map", "01 08 02 6b 02 76 00", OK, 0},                /* count -1, size 4 */
    {"map", "02 04 c3 a9 00 00", OK, 0},
    {"map", "01 0a 02 6b 02 76 00", LENGTH, 0},
    {"map", "01 06 02 6b 02 76 00", LENGTH, 0},
    {"map", "01 01 02 6b 02 76 00", LENGTH, 0},
    {"map", "02 02 ff 02 76 00", UTF8, 0},                 /* key not UTF-8 */
    {"map", "02 04 ed a0 02 76 00", UTF8, 0},
    {"map", "02 02 6b 02 ff 00", UTF8, 0},                 /* value not UTF-8 */
    {"map", "02 01 02 76 00", LENGTH, 0},
    {"map", "02 04 6b", TRUNC, 0},
    {"map", "02 02 6b 02 76", TRUNC, 0},
    {"map", INT64_MAX_V " 00", TRUNC, 0},
    {"map_null", "04 00 00 00", OK, 0},
    {"map_null", "0a 00 00", TRUNC, 0},
    {"map_null", "03 08 02 61 02 62 00", OK, 0},
    /* nested records */
    {"nested", "02 02 61 01 04", OK, 0},
    {"nested", "02 02 61 01 04 04 00 00 06", OK, 2},
    {"nested", "02 02 61 02 04", BOOL, 0},
    {"nested", "02 02 ff 01 04", UTF8, 0},
    {"nested", "02 02 61 01", TRUNC, 0},
    /* recursive records */
    {"list", "02 00", OK, 0},
    {"list", "02 02 04 02 06 00", OK, 0},
    {"list", "02 02 04 00 08 00", OK, 2},
    {"list", "02 02 04 02", TRUNC, 0},
    {"list", "02 04", UNION, 0},
    {"list", "02 02 80 80 80 80 10 00", RANGE, 0},
    {"tree", "00", OK, 0},
    {"tree", "04 00 00 00", OK, 0},
    {"tree", "03 04 00 00 00", OK, 0},
    {"tree", "02 02 00 00 00", OK, 0},
    {"tree", "04 00 00 00 00", OK, 2},
    {"tree", "04 00", TRUNC, 0},
    {"tree", "03 06 00 00 00", LENGTH, 0},
    /* zero-length records: never a bare datagram of them, any number single-object encoded */
    {"empty", "00", TRAIL, 0},
    {"empty", HDR, OK, 1},
    {"empty", HDR " " HDR " " HDR, OK, 3},
    {"empty", HDR " 00", TRAIL, 0},
    {"nulls", "00 00 00", TRAIL, 0},
    {"nulls", HDR " " HDR, OK, 2},
    /* the example channel: several records, both encodings */
    {"example", EX, OK, 1},
    {"example", EX " " EX, OK, 2},
    {"example", EX " " EX " " EX " " EX, OK, 4},
    {"example", HDR " " EX, OK, 1},
    {"example", HDR " " EX " " HDR " " EX " " HDR " " EX, OK, 3},
    {"example", HDR " " EX " " EX, TRAIL, 0},              /* the second record has no header */
    {"example", HDR " " EX " c3 01", TRAIL, 0},
    {"example", HDR " " EX " c3 01 8f 5c 39", TRAIL, 0},   /* cut header */
    {"example", HDR " " EX " " OTHER_HDR " " EX, TRAIL, 0}, /* another schema's header */
    {"example", HDR " " EX " 00", TRAIL, 0},
    {"example", HDR, TRUNC, 0},
    {"example", HDR " " EX " " HDR, TRUNC, 0},
    {"example", OTHER_HDR " " EX, LENGTH, 0}, /* wrong fingerprint: read as bare, rejected */
    {"example", EX " " HDR " " EX, LENGTH, 0}, /* a header after a bare record is bare data */
    {"example", EX " 00", TRUNC, 0},
    {"example", "02 04 68 69 80 80 80 80 10", RANGE, 0},
    {"example", "02 04 68 ff 0a", UTF8, 0},
    {"example", "02 05 68 69 0a", LENGTH, 0},
    /* a bare record that begins with C3 01: int -98 */
    {"int_first", "c3 01 02 61", OK, 1},
    {"int_first", "c3 01 02 61 c3 01 00", OK, 2},
    {"int_first", HDR " c3 01 02 61", OK, 1},
    {"int_first", OTHER_HDR, LENGTH, 0},
};

/* Validates; on acceptance also checks the spans cover the datagram in order. */
static int run(const zr_schema *s, const uint8_t *fp, const uint8_t *buf, size_t len,
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

static void test_cases(void)
{
    uint8_t buf[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const vcase *c = &cases[i];
        size_t len = unhex(c->hex, buf, sizeof buf), n = 0;
        size_t want_n = c->want == OK ? (c->nrecs ? c->nrecs : 1) : 0;
        int r = run(schema(c->schema), fingerprint, buf, len, &n);
        CHECKF(r == c->want && n == want_n, "%s [%s]: got %s (%zu records), want %s (%zu)",
               c->schema, c->hex, zr_reject_name(r), n, zr_reject_name(c->want), want_n);
        if (len >= 2 && buf[0] == 0xC3 && buf[1] == 0x01 && !memcmp(buf + 2, fingerprint, 8))
            continue;
        /* Without a header, a relay with no fingerprint reads the datagram the same way. */
        r = run(schema(c->schema), NULL, buf, len, &n);
        CHECKF(r == c->want, "%s [%s] without fingerprint: got %s, want %s", c->schema, c->hex,
               zr_reject_name(r), zr_reject_name(c->want));
    }
}

/* Without --fingerprint, every datagram is bare: a header is just bytes of the first record. */
static void test_no_fingerprint(void)
{
    uint8_t buf[256];
    size_t n, len = unhex(HDR " " EX, buf, sizeof buf);
    CHECKF(run(schema("example"), NULL, buf, len, &n) == ZR_REJ_LENGTH, "header read as bare");
    len = unhex(HDR, buf, sizeof buf);
    CHECKF(run(schema("empty"), NULL, buf, len, &n) == ZR_REJ_TRAILING, "header of empty record");
}

/* A bad byte, a surrogate or a two-byte character at (nearly) every position of a 24-byte
 * string, so that each lands in each lane of the eight-byte ASCII fast path. */
static void test_utf8_positions(void)
{
    uint8_t buf[32];
    size_t n;
    for (size_t pos = 0; pos < 24; pos++) {
        buf[0] = 48; /* length 24 */
        memset(buf + 1, 'a', 24);
        buf[1 + pos] = 0xff;
        int r = run(schema("string"), NULL, buf, 25, &n);
        CHECKF(r == ZR_REJ_UTF8, "0xff at %zu: %s", pos, zr_reject_name(r));
        if (pos >= 22)
            continue;
        memcpy(buf + 1 + pos, "\xed\xa0\x80", 3); /* a surrogate */
        r = run(schema("string"), NULL, buf, 25, &n);
        CHECKF(r == ZR_REJ_UTF8, "surrogate at %zu: %s", pos, zr_reject_name(r));
        memset(buf + 1, 'a', 24);
        buf[1 + pos] = 0xc3;
        buf[2 + pos] = 0xa9;
        r = run(schema("string"), NULL, buf, 25, &n);
        CHECKF(r == ZR_OK, "e-acute at %zu: %s", pos, zr_reject_name(r));
    }
}

/* Every cut of a valid record is truncated, bare and single-object encoded; a cut inside the
 * next record's header is trailing bytes. */
static void test_truncations(const char *name, const char *hex)
{
    uint8_t rec[512], buf[1024];
    size_t n, len = unhex(hex, rec, sizeof rec), hlen = unhex(HDR, buf, sizeof buf);
    const zr_schema *s = schema(name);
    CHECKF(run(s, fingerprint, rec, len, &n) == ZR_OK, "%s record not accepted", name);
    for (size_t cut = 1; cut < len; cut++) {
        int r = run(s, fingerprint, rec, cut, &n);
        CHECKF(r == ZR_REJ_TRUNCATED, "%s cut at %zu: got %s", name, cut, zr_reject_name(r));
        memcpy(buf + hlen, rec, cut);
        r = run(s, fingerprint, buf, hlen + cut, &n);
        CHECKF(r == ZR_REJ_TRUNCATED, "%s single-object cut at %zu: %s", name, cut,
               zr_reject_name(r));
        memcpy(buf + hlen, rec, len);
        memcpy(buf + hlen + len, rec, cut); /* a whole record, then a cut one */
        r = run(s, fingerprint, buf + hlen, len + cut, &n);
        CHECKF(r == ZR_REJ_TRUNCATED, "%s second record cut at %zu: %s", name, cut,
               zr_reject_name(r));
    }
    memcpy(buf + hlen, rec, len);
    memcpy(buf + hlen + len, buf, hlen);
    for (size_t cut = 1; cut < hlen; cut++) {
        int r = run(s, fingerprint, buf, hlen + len + cut, &n);
        CHECKF(r == ZR_REJ_TRAILING, "%s header cut at %zu: %s", name, cut, zr_reject_name(r));
    }
}

static void test_spans(void)
{
    uint8_t buf[512];
    zr_span recs[4];
    size_t n, rl = unhex(EX, buf, sizeof buf);
    size_t len = unhex(HDR " " EX " " HDR " " EX, buf, sizeof buf);
    zr_reject r = zr_validate_datagram(schema("example"), fingerprint, buf, len, recs, 4, &n);
    CHECKF(r == ZR_OK && n == 2 && recs[0].off == 10 && recs[0].len == rl &&
               recs[1].off == 20 + rl && recs[1].len == rl,
           "single-object spans");
    len = unhex(EX " " EX " " EX, buf, sizeof buf);
    r = zr_validate_datagram(schema("example"), fingerprint, buf, len, recs, 4, &n);
    CHECKF(r == ZR_OK && n == 3 && recs[2].off == 2 * rl && recs[2].len == rl, "bare spans");
    r = zr_validate_datagram(schema("example"), fingerprint, buf, len, recs, 2, &n);
    CHECKF(r == ZR_REJ_TOO_MANY && n == 0, "3 records, room for 2: %s", zr_reject_name(r));
    r = zr_validate_datagram(schema("example"), fingerprint, buf, 2 * rl, recs, 2, &n);
    CHECKF(r == ZR_OK && n == 2, "2 records, room for 2: %s", zr_reject_name(r));
    r = zr_validate_datagram(schema("example"), fingerprint, buf, rl, recs, 0, &n);
    CHECKF(r == ZR_REJ_TOO_MANY, "room for none: %s", zr_reject_name(r));
    len = unhex(HDR " " HDR " " HDR, buf, sizeof buf);
    r = zr_validate_datagram(schema("empty"), fingerprint, buf, len, recs, 2, &n);
    CHECKF(r == ZR_REJ_TOO_MANY, "3 empty records, room for 2: %s", zr_reject_name(r));
}

static void test_record_fields(void)
{
    uint8_t buf[512];
    zr_span recs[4], f[16];
    size_t n, len = unhex(ALL " " ALL, buf, sizeof buf);
    const zr_schema *s = schema("all");
    CHECKF(s->nfields == sizeof all_lens / sizeof all_lens[0], "all: %zu fields", s->nfields);
    zr_reject r = zr_validate_datagram(s, fingerprint, buf, len, recs, 4, &n);
    CHECKF(r == ZR_OK && n == 2, "all: two records: %s", zr_reject_name(r));
    zr_record_fields(s, buf + recs[1].off, f);
    uint32_t off = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        CHECKF(f[i].off == off && f[i].len == all_lens[i], "all field %s: %u+%u, want %u+%u",
               s->fields[i].name, f[i].off, f[i].len, off, all_lens[i]);
        off += all_lens[i];
    }
    CHECKF(off == recs[1].len, "all fields cover the record");
    for (size_t i = 0; i < s->nfields; i++) {
        zr_span one;
        zr_record_field(s, buf + recs[1].off, i, &one);
        CHECKF(one.off == f[i].off && one.len == f[i].len, "all field %zu alone: %u+%u", i,
               one.off, one.len);
    }
    len = unhex("04 00 00 03 04 00 00 00", buf, sizeof buf); /* a tree, blocks of both signs */
    CHECKF(zr_validate_datagram(schema("tree"), NULL, buf, len, recs, 4, &n) == ZR_OK && n == 1,
           "tree accepted");
    zr_record_fields(schema("tree"), buf, f);
    CHECKF(f[0].off == 0 && f[0].len == len, "tree field span %u+%u", f[0].off, f[0].len);
}

/* Arrays of zero-size items (null, fixed of size 0, records of such fields) may declare any
 * count the validator accepts; splitting such a record into fields must not walk the items.
 * SIGALRM ends the test (and fails it) if it does. */
static void test_zero_size_items(void)
{
    static const char *const names[] = {"array_null_int", "array_fixed0", "array_nulls"};
    uint8_t buf[64];
    zr_span recs[4], f[4];
    size_t n;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const zr_schema *s = schema(names[k]);
        size_t len = unhex(INT64_MAX_V " " INT64_MAX_V " 00 06", buf, sizeof buf);
        zr_reject r = zr_validate_datagram(s, NULL, buf, len, recs, 4, &n);
        CHECKF(r == ZR_OK && n == 1, "%s: INT64_MAX items twice accepted: %s", names[k],
               zr_reject_name(r));
        alarm(10);
        zr_record_fields(s, buf, f);
        alarm(0);
        CHECKF(f[0].off == 0 && f[0].len == 21 && f[1].off == 21 && f[1].len == 1,
               "%s: field spans %u+%u %u+%u", names[k], f[0].off, f[0].len, f[1].off, f[1].len);
    }
}

/* Records nested through a recursive union: ZR_MAX_DEPTH levels pass, one more does not. */
static void test_depth(void)
{
    uint8_t buf[256];
    size_t n;
    for (size_t levels = 1; levels <= ZR_MAX_DEPTH + 2; levels++) {
        memset(buf, 0x02, levels - 1); /* union branch 1: one more node */
        buf[levels - 1] = 0x00;        /* branch 0: null ends the chain */
        int want = levels <= ZR_MAX_DEPTH ? ZR_OK : ZR_REJ_DEPTH;
        int r = run(schema("chain"), NULL, buf, levels, &n);
        CHECKF(r == want, "chain of %zu records: %s", levels, zr_reject_name(r));
    }
    /* a tree whose single child is nested again and again, through arrays */
    size_t len = 0, levels = ZR_MAX_DEPTH + 1;
    for (size_t i = 0; i + 1 < levels; i++)
        buf[len++] = 0x02;
    buf[len++] = 0x00;
    for (size_t i = 0; i + 1 < levels; i++)
        buf[len++] = 0x00;
    CHECKF(run(schema("tree"), NULL, buf, len, &n) == ZR_REJ_DEPTH, "deep tree");
    CHECKF(run(schema("tree"), NULL, buf + 1, len - 2, &n) == ZR_OK, "tree at the limit");
}

/* Random bytes and single-byte corruptions of valid records never crash; accepted records
 * split into fields that cover them exactly. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void accepted_fields_cover(const zr_schema *s, const uint8_t *buf, size_t len, int *bad)
{
    zr_span recs[64], f[16];
    size_t n;
    if (zr_validate_datagram(s, fingerprint, buf, len, recs, 64, &n) != ZR_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        zr_record_fields(s, buf + recs[i].off, f);
        uint32_t end = s->nfields ? f[s->nfields - 1].off + f[s->nfields - 1].len : 0;
        *bad += end != recs[i].len;
        for (size_t k = 0; k < s->nfields; k++) {
            zr_span one;
            zr_record_field(s, buf + recs[i].off, k, &one);
            *bad += one.off != f[k].off || one.len != f[k].len;
        }
    }
}

static void test_fuzz(void)
{
    static const char *names[] = {"example", "all", "union", "array", "map", "list", "tree"};
    uint8_t rec[512], buf[512];
    int bad = 0;
    size_t len = unhex(ALL, rec, sizeof rec);
    for (size_t pos = 0; pos < len; pos++) {
        for (int v = 0; v < 256; v++) {
            memcpy(buf, rec, len);
            buf[pos] = (uint8_t)v;
            accepted_fields_cover(schema("all"), buf, len, &bad);
        }
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        for (int i = 0; i < 20000; i++) {
            size_t n = 1 + next_rand() % 48;
            for (size_t j = 0; j < n; j++)
                buf[j] = (uint8_t)(next_rand() >> 32);
            if (i % 4 == 0) /* small values: more plausible varints */
                for (size_t j = 0; j < n; j++)
                    buf[j] &= 0x07;
            accepted_fields_cover(schema(names[k]), buf, n, &bad);
        }
    }
    CHECKF(bad == 0, "fuzz: %d accepted records whose fields do not cover them (or differ "
                     "when located alone)", bad);
}

/* ---- schema loading ------------------------------------------------------------------------ */

#define REC(F) "{'type':'record','name':'r','fields':[" F "]}"

static const struct {
    const char *json;
    const char *time_field, *time_unit;
    const char *err; /* a piece of the expected message */
} bad_schemas[] = {
    {"not json", NULL, NULL, "not valid JSON"},
    {"", NULL, NULL, "not valid JSON"},
    {"{'type':'record','name':'r','fields':[],'type':'record'}", NULL, NULL, "not valid JSON"},
    {"'int'", NULL, NULL, "not a record"},
    {"['null','int']", NULL, NULL, "not a record"},
    {"{'type':'enum','name':'e','symbols':['A']}", NULL, NULL, "not a record"},
    {"{'type':'record','name':'r'}", NULL, NULL, "\"fields\""},
    {"{'type':'record','fields':[]}", NULL, NULL, "without a \"name\""},
    {"{'type':'record','name':'1r','fields':[]}", NULL, NULL, "invalid name \"1r\""},
    {"{'type':'record','name':'a..b','fields':[]}", NULL, NULL, "invalid name"},
    {"{'type':'record','name':'r','namespace':'x-y','fields':[]}", NULL, NULL, "namespace"},
    {REC("{'name':'rx_time','type':'long'}"), NULL, NULL, "\"rx_time\" is reserved"},
    {REC("{'name':'a','type':'foo'}"), NULL, NULL, "unknown type \"foo\" (field \"a\")"},
    {REC("{'name':'a','type':{'type':'array','items':'foo'}}"), NULL, NULL, "unknown type"},
    {REC("{'name':'a','type':{'type':'bar'}}"), NULL, NULL, "unknown type \"bar\""},
    {REC("{'name':'a','type':{'type':5}}"), NULL, NULL, "string \"type\""},
    {REC("{'name':'a','type':5}"), NULL, NULL, "a type must be"},
    {REC("{'name':'a'}"), NULL, NULL, "has no \"type\""},
    {REC("{'type':'int'}"), NULL, NULL, "without a \"name\""},
    {REC("{'name':'a-b','type':'int'}"), NULL, NULL, "invalid field name \"a-b\""},
    {REC("{'name':'a','type':'int'},{'name':'a','type':'long'}"), NULL, NULL, "declared twice"},
    {REC("{'name':'a','type':['null',['int','string']]}"), NULL, NULL, "union directly inside"},
    {REC("{'name':'a','type':['int','int']}"), NULL, NULL, "two branches of the same type"},
    {REC("{'name':'a','type':['null',{'type':'array','items':'int'},"
         "{'type':'array','items':'long'}]}"), NULL, NULL, "two branches"},
    {REC("{'name':'a','type':{'type':'enum','name':'e','symbols':['A']}},"
         "{'name':'b','type':['e','e']}"), NULL, NULL, "two branches"},
    {REC("{'name':'a','type':{'type':'enum','name':'e','symbols':['A','A']}}"), NULL, NULL,
     "symbol \"A\" is declared twice"},
    {REC("{'name':'a','type':{'type':'enum','name':'e','symbols':['1']}}"), NULL, NULL,
     "invalid enum symbol"},
    {REC("{'name':'a','type':{'type':'enum','name':'e'}}"), NULL, NULL, "\"symbols\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'f'}}"), NULL, NULL, "\"size\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'f','size':-1}}"), NULL, NULL, "\"size\""},
    {REC("{'name':'a','type':{'type':'array'}}"), NULL, NULL, "without \"items\""},
    {REC("{'name':'a','type':{'type':'map'}}"), NULL, NULL, "without \"values\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'int','size':1}}"), NULL, NULL,
     "cannot be called \"int\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'f','size':1}},"
         "{'name':'b','type':{'type':'fixed','name':'f','size':2}}"), NULL, NULL,
     "type \"f\" is defined twice"},
    {REC("{'name':'a','type':'later'},"
         "{'name':'b','type':{'type':'fixed','name':'later','size':2}}"), NULL, NULL,
     "unknown type \"later\""},
    {REC("{'name':'a','type':{'type':'record','name':'i','namespace':'x','fields':[]}},"
         "{'name':'b','type':'i'}"), NULL, NULL, "unknown type \"i\""},
    {REC("{'name':'t','type':'long'}"), "time", NULL, "\"time\" is not a field"},
    {REC("{'name':'time','type':'int'}"), "time", NULL, "\"time\" is not a long"},
    {REC("{'name':'time','type':['null','long']}"), "time", NULL, "not a long"},
};

static const struct {
    const char *json;
    const char *time_field, *time_unit;
    int index;
    const char *unit;
} good_schemas[] = {
    {REC("{'name':'a','type':'int'},{'name':'time','type':'long','logicalType':'timestamp-nanos'}"),
     "time", NULL, 1, "ns"},
    {REC("{'name':'time','type':{'type':'long','logicalType':'timestamp-millis'},"
         "'logicalType':'timestamp-nanos'}"), "time", "s", 0, "ms"},
    {REC("{'name':'time','type':{'type':'long','logicalType':'timestamp-micros'}}"), "time", NULL,
     0, "us"},
    {REC("{'name':'time','type':'long','logicalType':'timestamp-micros'}"), "time", "s", 0, "us"},
    {REC("{'name':'time','type':'long','logicalType':'timestamp-millis'}"), "time", NULL, 0, "ms"},
    {REC("{'name':'time','type':{'type':'long','logicalType':'time-micros'}}"), "time", "ms", 0,
     "ms"},
    {REC("{'name':'time','type':'long'}"), "time", "s", 0, "s"},
    {REC("{'name':'time','type':{'type':'long'}}"), "time", "us", 0, "us"},
    {REC("{'name':'time','type':'long'}"), "time", NULL, 0, "ns"},
    {REC("{'name':'time','type':'long'}"), NULL, NULL, -1, "ns"},
    {REC("{'name':'time','type':'long'}"), NULL, "ms", -1, "ns"},
    /* names: namespaces, references, recursion, named types in unions */
    {"{'type':'record','name':'r','namespace':'a.b','fields':["
     "{'name':'x','type':{'type':'record','name':'inner','fields':[{'name':'v','type':'int'}]}},"
     "{'name':'y','type':'inner'},{'name':'z','type':'a.b.inner'},"
     "{'name':'w','type':{'type':'enum','name':'c.e','symbols':['A']}},"
     "{'name':'q','type':['null','c.e','inner',{'type':'fixed','name':'f','namespace':'','size':1}]},"
     "{'name':'p','type':'f'},{'name':'self','type':{'type':'array','items':'r'}}]}",
     NULL, NULL, -1, "ns"},
    {REC("{'name':'a','type':['null','int','long','float','double','bytes','string','boolean',"
         "{'type':'array','items':'int'},{'type':'map','values':'int'},"
         "{'type':'record','name':'x','fields':[]},{'type':'record','name':'y','fields':[]}]}"),
     NULL, NULL, -1, "ns"},
    {REC("{'name':'a','type':{'type':'enum','name':'none','symbols':[]}}"), NULL, NULL, -1, "ns"},
};

static void test_schema_errors(void)
{
    char err[512];
    zr_schema s;
    for (size_t i = 0; i < sizeof bad_schemas / sizeof bad_schemas[0]; i++) {
        err[0] = 0;
        int rc = zr_schema_load(&s, schema_file(bad_schemas[i].json), bad_schemas[i].time_field,
                                bad_schemas[i].time_unit, err, sizeof err);
        CHECKF(rc == -1 && strstr(err, bad_schemas[i].err) && !strchr(err, '\n'),
               "bad schema %s: rc %d, message \"%s\", want \"%s\"", bad_schemas[i].json, rc, err,
               bad_schemas[i].err);
        CHECKF(s.root == NULL && s.owned == NULL, "failed load leaves nothing behind");
    }
    int rc = zr_schema_load(&s, "/nonexistent/x.avsc", NULL, NULL, err, sizeof err);
    CHECKF(rc == -1 && strstr(err, "/nonexistent/x.avsc") && strstr(err, "cannot read"),
           "missing file: %s", err);
}

static void test_schema_units(void)
{
    char err[512];
    zr_schema s;
    for (size_t i = 0; i < sizeof good_schemas / sizeof good_schemas[0]; i++) {
        int rc = zr_schema_load(&s, schema_file(good_schemas[i].json), good_schemas[i].time_field,
                                good_schemas[i].time_unit, err, sizeof err);
        CHECKF(rc == 0, "good schema %s: %s", good_schemas[i].json, err);
        if (rc)
            continue;
        CHECKF(s.time_field == good_schemas[i].index && !strcmp(s.time_unit, good_schemas[i].unit),
               "schema %s: time field %d unit %s, want %d %s", good_schemas[i].json, s.time_field,
               s.time_unit, good_schemas[i].index, good_schemas[i].unit);
        zr_schema_free(&s);
    }
}

/* The archive schema: rx_time first, everything else as written, compact. It is itself a valid
 * schema except for using the reserved name. */
static void test_archive_schema(void)
{
    const char *in =
        "{\n  'type': 'record', 'name': 'data', 'namespace': 'speeddata.example',\n"
        "  'doc': 'Demo \xc2\xb5 \\\"q\\\"', 'unit_system': {'k': [1, 2.5, null, true]},\n"
        "  'fields': [\n"
        "    {'name': 'time', 'type': 'long', 'logicalType': 'timestamp-nanos', 'doc': 'Device'},\n"
        "    {'name': 'v', 'type': {'type': 'double', 'unit': 'V'}, 'default': 0.5},\n"
        "    {'name': 'e', 'type': {'type': 'enum', 'name': 'E', 'symbols': ['A'], 'default': 'A'}}\n"
        "  ],\n  'aliases': ['old']\n}\n";
    const char *want =
        "{'type':'record','name':'data','namespace':'speeddata.example',"
        "'doc':'Demo \xc2\xb5 \\\"q\\\"','unit_system':{'k':[1,2.5,null,true]},'fields':["
        "{'name':'rx_time','type':{'type':'long','logicalType':'timestamp-nanos'},"
        "'doc':'Kernel receive time of the datagram (CLOCK_REALTIME), ns since the Unix epoch'},"
        "{'name':'time','type':'long','logicalType':'timestamp-nanos','doc':'Device'},"
        "{'name':'v','type':{'type':'double','unit':'V'},'default':0.5},"
        "{'name':'e','type':{'type':'enum','name':'E','symbols':['A'],'default':'A'}}],"
        "'aliases':['old']}";
    char expect[1024], err[512];
    size_t k = 0;
    for (const char *c = want; *c; c++)
        expect[k++] = *c == '\'' ? '"' : *c;
    expect[k] = 0;
    zr_schema s;
    int rc = zr_schema_load(&s, schema_file(in), "time", NULL, err, sizeof err);
    CHECKF(rc == 0, "archive test schema: %s", err);
    if (rc)
        return;
    CHECKF(!strcmp(s.archive_schema, expect), "archive schema\n got %s\nwant %s", s.archive_schema,
           expect);
    CHECKF(s.nfields == 3 && !strcmp(s.fields[2].name, "e") && s.fields[2].type->type == ZR_T_ENUM,
           "fields of the channel record");
    CHECKF(s.time_field == 0 && !strcmp(s.time_unit, "ns"), "time field of the archive test");
    zr_schema again;
    rc = zr_schema_load(&again, schema_file(s.archive_schema), NULL, NULL, err, sizeof err);
    CHECKF(rc == -1 && strstr(err, "rx_time"), "archive schema reloads: %s", err);
    zr_schema_free(&s);
}

/* A recursive channel record: the archive record is a new one (name + "_archive", once more
 * when taken; no aliases) whose first reference to the channel record holds its definition,
 * so nested records are the channel record, without rx_time. Named types are defined once,
 * at their first occurrence, and referred to by full name after. The first two cases are
 * tests/test_schema.py's too (speeddata.schema builds the same); fastavro refuses the others
 * (a null-namespace name referred to from another namespace; a {'type': name} reference). */
#define RX "{'name':'rx_time','type':{'type':'long','logicalType':'timestamp-nanos'},'doc':" \
           "'Kernel receive time of the datagram (CLOCK_REALTIME), ns since the Unix epoch'}"
static const struct {
    const char *channel, *archive;
} recursive[] = {
    {"{'type':'record','name':'list','fields':[{'name':'v','type':'int'},"
     "{'name':'next','type':['null','list']}]}",
     "{'type':'record','name':'list_archive','fields':[" RX ",{'name':'v','type':'int'},"
     "{'name':'next','type':['null',{'type':'record','name':'list','fields':["
     "{'name':'v','type':'int'},{'name':'next','type':['null','list']}]}]}]}"},
    {"{'type':'record','name':'node','namespace':'t','aliases':['old'],'doc':'d','fields':["
     "{'name':'kind','type':{'type':'enum','name':'node_archive','symbols':['A','B']}},"
     "{'name':'kids','type':{'type':'array','items':'node'}},"
     "{'name':'again','type':'node_archive'},"
     "{'name':'w','type':{'type':'record','name':'wrap','namespace':'b','fields':["
     "{'name':'n','type':['null','t.node']}]}}]}",
     "{'type':'record','name':'node_archive_archive','namespace':'t','doc':'d','fields':[" RX ","
     "{'name':'kind','type':{'type':'enum','name':'node_archive','symbols':['A','B']}},"
     "{'name':'kids','type':{'type':'array','items':{'type':'record','name':'node',"
     "'namespace':'t','aliases':['old'],'doc':'d','fields':["
     "{'name':'kind','type':'t.node_archive'},"
     "{'name':'kids','type':{'type':'array','items':'node'}},"
     "{'name':'again','type':'node_archive'},"
     "{'name':'w','type':{'type':'record','name':'wrap','namespace':'b','fields':["
     "{'name':'n','type':['null','t.node']}]}}]}}},"
     "{'name':'again','type':'node_archive'},{'name':'w','type':'b.wrap'}]}"},
    {"{'type':'record','name':'n0','fields':[{'name':'w','type':{'type':'record','name':'wrap',"
     "'namespace':'b','fields':[{'name':'x','type':['null','n0']}]}}]}",
     "{'type':'record','name':'n0_archive','fields':[" RX ",{'name':'w','type':{'type':'record',"
     "'name':'wrap','namespace':'b','fields':[{'name':'x','type':['null',{'type':'record',"
     "'name':'n0','fields':[{'name':'w','type':'b.wrap'}],'namespace':''}]}]}}]}"},
    /* a reference written as {'type': name} */
    {"{'type':'record','name':'o','fields':[{'name':'a','type':{'type':'map','values':"
     "{'type':'o'}}}]}",
     "{'type':'record','name':'o_archive','fields':[" RX ",{'name':'a','type':{'type':'map',"
     "'values':{'type':'record','name':'o','fields':[{'name':'a','type':{'type':'map','values':"
     "{'type':'o'}}}]}}}]}"},
};

static void test_recursive_archive_schema(void)
{
    char expect[2048], err[512];
    for (size_t i = 0; i < sizeof recursive / sizeof recursive[0]; i++) {
        size_t k = 0;
        for (const char *c = recursive[i].archive; *c && k + 1 < sizeof expect; c++)
            expect[k++] = *c == '\'' ? '"' : *c;
        expect[k] = 0;
        zr_schema s;
        int rc = zr_schema_load(&s, schema_file(recursive[i].channel), NULL, NULL, err,
                                sizeof err);
        CHECKF(rc == 0, "recursive schema %zu: %s", i, err);
        if (rc)
            continue;
        CHECKF(!strcmp(s.archive_schema, expect), "recursive archive schema %zu\n got %s\nwant %s",
               i, s.archive_schema, expect);
        zr_schema_free(&s);
    }
}

static void test_reject_names(void)
{
    static const char *const want[] = {"ok", "empty", "truncated", "varint", "int_range",
                                       "boolean", "length", "utf8", "union", "enum", "depth",
                                       "trailing", "too_many"};
    CHECKF(ZR_REJ__COUNT == sizeof want / sizeof want[0], "reject reason count");
    for (int r = 0; r < ZR_REJ__COUNT; r++)
        CHECKF(!strcmp(zr_reject_name((zr_reject)r), want[r]), "reject name %d", r);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    unhex(FP, fingerprint, sizeof fingerprint);
    load_schemas();
    test_cases();
    test_no_fingerprint();
    test_utf8_positions();
    test_truncations("example", EX);
    test_truncations("all", ALL);
    test_truncations("nested", "02 02 61 01 04");
    test_truncations("list", "02 02 04 02 06 00");
    test_spans();
    test_record_fields();
    test_zero_size_items();
    test_depth();
    test_fuzz();
    test_schema_errors();
    test_schema_units();
    test_archive_schema();
    test_recursive_archive_schema();
    test_reject_names();
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
        zr_schema_free(&loaded[i]);
    char path[256];
    for (int i = 0; i < nfiles; i++) {
        snprintf(path, sizeof path, "%s/s%d.avsc", tmpdir, i);
        unlink(path);
    }
    rmdir(tmpdir);
    return zr_check_summary("test_validate");
}
