/* The validator walking valid and broken records: UTF-8 in every lane of the fast path, every
 * truncation, record spans, field spans (zr_record_fields, zr_record_field), arrays of items
 * that take no bytes, and random bytes. */
#include "zr_schemas.h"

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

/* Arrays of zero-size items (null, fixed of size 0, records of such fields): up to
 * ZR_MAX_ITEMS of them are accepted (2^63-1 twice is not), and splitting such a record into
 * fields skips them by their counts. */
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
        CHECKF(r == ZR_REJ_ITEMS, "%s: INT64_MAX items twice: %s", names[k], zr_reject_name(r));
        len = unhex("3c 3b 00 00 06", buf, sizeof buf); /* 30 items, then -30 of 0 bytes */
        r = zr_validate_datagram(s, NULL, buf, len, recs, 4, &n);
        CHECKF(r == ZR_OK && n == 1, "%s: 60 items: %s", names[k], zr_reject_name(r));
        zr_record_fields(s, buf, f);
        CHECKF(f[0].off == 0 && f[0].len == 4 && f[1].off == 4 && f[1].len == 1,
               "%s: field spans %u+%u %u+%u", names[k], f[0].off, f[0].len, f[1].off, f[1].len);
    }
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

int main(void)
{
    fixtures_init("test_validate_walk");
    fixtures_fingerprint();
    load_schemas();
    test_utf8_positions();
    test_truncations("example", EX);
    test_truncations("all", ALL);
    test_truncations("nested", "02 02 61 01 04");
    test_truncations("list", "02 02 04 02 06 00");
    test_spans();
    test_record_fields();
    test_zero_size_items();
    test_fuzz();
    free_schemas();
    fixtures_cleanup();
    return zr_check_summary("test_validate_walk");
}
