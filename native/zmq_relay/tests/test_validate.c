/* Table-driven tests of the record validator (after brubeck's tests/statsd_msg.c): long lists
 * of datagrams, as hex, that each schema must accept or reject for a given reason. */
#include "zr_schemas.h"

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
    {"array_null", INT64_MAX_V " 00", ITEMS, 0}, /* the poison record: test_validate_limits.c */
    {"array_null", "82 01 00", OK, 0},           /* 65 items in 3 bytes: within ZR_MAX_ITEMS */
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

static void test_reject_names(void)
{
    static const char *const want[] = {"ok", "empty", "truncated", "varint", "int_range",
                                       "boolean", "length", "utf8", "union", "enum", "depth",
                                       "trailing", "too_many", "items"};
    CHECKF(ZR_REJ__COUNT == sizeof want / sizeof want[0], "reject reason count");
    for (int r = 0; r < ZR_REJ__COUNT; r++)
        CHECKF(!strcmp(zr_reject_name((zr_reject)r), want[r]), "reject name %d", r);
}

int main(void)
{
    fixtures_init("test_validate");
    fixtures_fingerprint();
    load_schemas();
    test_cases();
    test_no_fingerprint();
    test_reject_names();
    free_schemas();
    fixtures_cleanup();
    return zr_check_summary("test_validate");
}
