/* Unit tests of the decimator: each algorithm on crafted records of a schema with every kind of
 * field (copied, int, long, float, double, nullable in both branch orders), int rounding,
 * minmax's two records, window boundaries. Expected records are encoded independently here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zr_check.h"
#include "zr_decimate.h"
#include "zr_schema.h"
#include "zr_validate.h"
#include "zr_varint.h"

static const char *SCHEMA =
    "{\"type\": \"record\", \"name\": \"t\", \"fields\": ["
    "{\"name\": \"time\", \"type\": \"long\"},"
    "{\"name\": \"label\", \"type\": \"string\"},"
    "{\"name\": \"i\", \"type\": \"int\"},"
    "{\"name\": \"l\", \"type\": \"long\"},"
    "{\"name\": \"f\", \"type\": \"float\"},"
    "{\"name\": \"d\", \"type\": \"double\"},"
    "{\"name\": \"nd\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"ni\", \"type\": [\"int\", \"null\"]},"
    "{\"name\": \"flag\", \"type\": \"boolean\"}]}";

/* One record's values; has_nd/has_ni = 0 encodes null. */
typedef struct vals {
    int64_t time;
    const char *label;
    int32_t i;
    int64_t l;
    float f;
    double d;
    int has_nd;
    double nd;
    int has_ni;
    int32_t ni;
    int flag;
} vals;

typedef struct rec {
    uint8_t b[256];
    size_t len;
} rec;

static void put_bytes(rec *r, const void *p, size_t n)
{
    memcpy(r->b + r->len, p, n);
    r->len += n;
}

static void put_long(rec *r, int64_t v)
{
    r->len += zr_varint_put(r->b + r->len, v);
}

static rec encode(const vals *v)
{
    rec r = {.len = 0};
    put_long(&r, v->time);
    put_long(&r, (int64_t)strlen(v->label));
    put_bytes(&r, v->label, strlen(v->label));
    put_long(&r, v->i);
    put_long(&r, v->l);
    put_bytes(&r, &v->f, 4);
    put_bytes(&r, &v->d, 8);
    put_long(&r, v->has_nd ? 1 : 0);
    if (v->has_nd)
        put_bytes(&r, &v->nd, 8);
    put_long(&r, v->has_ni ? 0 : 1);
    if (v->has_ni)
        put_long(&r, v->ni);
    uint8_t flag = (uint8_t)v->flag;
    put_bytes(&r, &flag, 1);
    return r;
}

static zr_schema schema;

static void load_schema(void)
{
    char path[] = "/tmp/test_decimate_XXXXXX";
    char err[256];
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, SCHEMA, strlen(SCHEMA)) != (ssize_t)strlen(SCHEMA)) {
        perror("schema file");
        exit(1);
    }
    close(fd);
    if (zr_schema_load(&schema, path, "time", "ns", err, sizeof err)) {
        fprintf(stderr, "schema: %s\n", err);
        exit(1);
    }
    unlink(path);
}

static zr_decimator *make(zr_algorithm algo, uint32_t n)
{
    zr_decimator *d = NULL;
    char err[128];
    if (zr_decimate_create(&d, &schema, algo, n, err, sizeof err)) {
        fprintf(stderr, "create: %s\n", err);
        exit(1);
    }
    return d;
}

/* Feeds v[0..n) (rx_time = 1000 + index); returns the outputs of the last push. Every other
 * record comes with its field spans located by the caller, the others without. */
static size_t feed(zr_decimator *d, const vals *v, size_t n, zr_dec_out out[ZR_DEC_MAX_OUT])
{
    static rec held[16];
    zr_span spans[16];
    size_t got = 0;
    for (size_t k = 0; k < n; k++) {
        held[k] = encode(&v[k]);
        zr_record_fields(&schema, held[k].b, spans);
        got = zr_decimate_push(d, held[k].b, held[k].len, k % 2 ? spans : NULL,
                               1000 + (int64_t)k, out);
        if (k + 1 < n)
            CHECK(got == 0);
    }
    return got;
}

static int same(const zr_dec_out *o, const vals *expect)
{
    rec r = encode(expect);
    if (o->len == r.len && memcmp(o->rec, r.b, r.len) == 0)
        return 1;
    fprintf(stderr, "record differs (len %zu, expected %zu)\n", o->len, r.len);
    return 0;
}

/* Feeds one whole window v[0..n): whether it yields exactly one record, equal to *expect. */
static int window_gives(zr_decimator *d, const vals *v, size_t n, const vals *expect)
{
    zr_dec_out out[ZR_DEC_MAX_OUT];
    return feed(d, v, n, out) == 1 && same(&out[0], expect);
}

static void test_downsample(void)
{
    zr_decimator *d = make(ZR_ALG_DOWNSAMPLE, 3);
    zr_dec_out out[ZR_DEC_MAX_OUT];
    rec r[7];
    for (int k = 0; k < 7; k++) {
        r[k] = encode(&(vals){.time = k, .label = "x", .i = k});
        size_t got = zr_decimate_push(d, r[k].b, r[k].len, NULL, 500 + k, out);
        CHECK(got == (k % 3 == 0 ? 1u : 0u));
        if (got) {
            CHECK(out[0].rec == r[k].b && out[0].len == r[k].len);
            CHECK(out[0].rx_ns == 500 + k);
        }
    }
    zr_decimate_destroy(d);
}

static void test_mean(void)
{
    zr_decimator *d = make(ZR_ALG_MEAN, 4);
    zr_dec_out out[ZR_DEC_MAX_OUT];
    const int64_t big = (int64_t)1 << 62;
    vals v[4] = {
        {1, "a", 1, big, 0.5f, 0.1, 0, 0, 0, 0, 0},
        {2, "bb", 2, big + 1, 0.25f, 0.2, 1, 2.0, 0, 0, 1},
        {3, "ccc", 3, big + 2, 0.125f, 0.3, 0, 0, 0, 0, 0},
        {40, "dddd", 5, big + 4, 1.0f, 0.4, 1, 4.5, 0, 0, 1},
    };
    CHECK(feed(d, v, 4, out) == 1);
    /* i: 11/4 = 2.75 -> 3; l: exact sum beyond 64 bits, mean big + 1.75 -> big + 2;
     * nd: nulls skipped; ni: null in the whole window stays null; time, label, flag: last. */
    double dm = (((0.1 + 0.2) + 0.3) + 0.4) / 4;
    vals expect = {40, "dddd", 3, big + 2, (float)(1.875 / 4), dm, 1, 3.25, 0, 0, 1};
    CHECK(same(&out[0], &expect));
    CHECK(out[0].rx_ns == 1003);
    zr_decimate_destroy(d);
}

static void test_int_rounding(void)
{
    zr_decimator *d = make(ZR_ALG_MEAN, 2);
    const int32_t cases[][3] = {
        {1, 2, 2}, {-1, -2, -2}, {1, 1, 1}, {-3, 4, 1}, {3, -4, -1}, {0, -1, -1},
        {2147483647, 2147483646, 2147483647},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vals v[2] = {{.label = "", .i = cases[c][0], .has_ni = 1, .ni = cases[c][0]},
                     {.label = "", .i = cases[c][1], .has_ni = 1, .ni = cases[c][1]}};
        vals expect = {.label = "", .i = cases[c][2], .has_ni = 1, .ni = cases[c][2]};
        CHECKF(window_gives(d, v, 2, &expect), "rounding case %zu: %d, %d", c, cases[c][0],
               cases[c][1]);
    }
    zr_decimate_destroy(d);
}

static void test_minmax(void)
{
    zr_decimator *d = make(ZR_ALG_MINMAX, 3);
    zr_dec_out out[ZR_DEC_MAX_OUT];
    vals v[3] = {
        {10, "first", 5, -7, 2.5f, -1.5, 0, 0, 1, 9, 1},
        {20, "mid", -4, 8, -0.5f, 3.25, 1, 6.0, 0, 0, 0},
        {30, "last", 7, 1, 1.0f, 0.0, 1, -2.0, 1, -3, 0},
    };
    CHECK(feed(d, v, 3, out) == 2);
    vals lo = {10, "first", -4, -7, -0.5f, -1.5, 1, -2.0, 1, -3, 1};
    vals hi = {30, "last", 7, 8, 2.5f, 3.25, 1, 6.0, 1, 9, 0};
    CHECK(same(&out[0], &lo));
    CHECK(same(&out[1], &hi));
    CHECK(out[0].rx_ns == 1000 && out[1].rx_ns == 1002);
    zr_decimate_destroy(d);
}

static void test_rms(void)
{
    zr_decimator *d = make(ZR_ALG_RMS, 2);
    vals v[2] = {
        {1, "a", 3, -6, 3.0f, 3.0, 1, 1.0, 0, 0, 0},
        {2, "b", -4, 8, 4.0f, -4.0, 0, 0, 1, -5, 1},
    };
    /* i: sqrt(12.5) = 3.54 -> 4; l: sqrt(50) = 7.07 -> 7; nd: the one value; ni: |-5|. */
    double r = sqrt((3.0 * 3.0 + 4.0 * 4.0) / 2);
    vals expect = {2, "b", 4, 7, (float)r, r, 1, 1.0, 1, 5, 1};
    CHECK(window_gives(d, v, 2, &expect));
    zr_decimate_destroy(d);
}

/* RMS of the most negative values is one past the type's maximum: clamped to it (an int field
 * must stay a valid 32-bit int, a long must not overflow in llroundl). */
static void test_rms_clamped(void)
{
    zr_decimator *d = make(ZR_ALG_RMS, 2);
    vals bottom[2] = {
        {1, "a", INT32_MIN, INT64_MIN, 0, 0, 0, 0, 1, INT32_MIN, 0},
        {2, "b", INT32_MIN, INT64_MIN, 0, 0, 0, 0, 1, INT32_MIN, 0},
    };
    vals expect_bottom = {2, "b", INT32_MAX, INT64_MAX, 0, 0, 0, 0, 1, INT32_MAX, 0};
    CHECK(window_gives(d, bottom, 2, &expect_bottom));
    vals top[2] = {
        {1, "a", INT32_MAX, INT64_MAX, 0, 0, 0, 0, 0, 0, 0},
        {2, "b", INT32_MAX, INT64_MAX, 0, 0, 0, 0, 0, 0, 0},
    };
    vals expect_top = {2, "b", INT32_MAX, INT64_MAX, 0, 0, 0, 0, 0, 0, 0};
    CHECK(window_gives(d, top, 2, &expect_top));
    zr_decimate_destroy(d);
}

/* Windows are independent: the second window's result knows nothing of the first. */
static void test_window_boundaries(void)
{
    zr_decimator *d = make(ZR_ALG_MEAN, 2);
    zr_dec_out out[ZR_DEC_MAX_OUT];
    vals v[5] = {
        {1, "a", 100, 0, 0, 0, 1, 1.0, 0, 0, 0}, {2, "b", 200, 0, 0, 0, 1, 3.0, 0, 0, 0},
        {3, "c", 10, 0, 0, 0, 0, 0, 0, 0, 0},    {4, "d", 20, 0, 0, 0, 0, 0, 0, 0, 0},
        {5, "e", 1, 0, 0, 0, 1, 7.0, 0, 0, 0},
    };
    rec r[5];
    size_t got[5];
    zr_dec_out keep[2];
    int kept = 0;
    for (int k = 0; k < 5; k++) {
        r[k] = encode(&v[k]);
        got[k] = zr_decimate_push(d, r[k].b, r[k].len, NULL, k, out);
        if (got[k] && kept < 2) {
            static uint8_t copy[2][256];
            memcpy(copy[kept], out[0].rec, out[0].len);
            keep[kept] = (zr_dec_out){copy[kept], out[0].len, out[0].rx_ns};
            kept++;
        }
    }
    CHECK(!got[0] && got[1] == 1 && !got[2] && got[3] == 1 && !got[4]);
    CHECK(kept == 2);
    vals w1 = {2, "b", 150, 0, 0, 0, 1, 2.0, 0, 0, 0};
    vals w2 = {4, "d", 15, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(same(&keep[0], &w1) && keep[0].rx_ns == 1);
    CHECK(same(&keep[1], &w2) && keep[1].rx_ns == 3);
    zr_decimate_destroy(d);
}

/* A reset drops the window in progress: the next record starts a new one. */
static void test_reset(void)
{
    zr_decimator *d = make(ZR_ALG_MEAN, 2);
    zr_dec_out out[ZR_DEC_MAX_OUT];
    vals stale = {1, "a", 1000, 1000, 0, 0, 0, 0, 0, 0, 0};
    CHECK(feed(d, &stale, 1, out) == 0);
    zr_decimate_reset(d);
    vals v[2] = {{2, "b", 10, 0, 0, 0, 0, 0, 0, 0, 0}, {3, "c", 20, 0, 0, 0, 0, 0, 0, 0, 0}};
    vals expect = {3, "c", 15, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(window_gives(d, v, 2, &expect));
    CHECK(zr_decimate_needs_fields(d));
    zr_decimate_destroy(d);
    d = make(ZR_ALG_DOWNSAMPLE, 2);
    CHECK(!zr_decimate_needs_fields(d));
    zr_decimate_destroy(d);
}

/* A window of 1 re-encodes every record unchanged (mean of one value is the value). */
static void test_window_of_one(void)
{
    zr_decimator *d = make(ZR_ALG_RMS, 1);
    vals v = {7, "z", 9, 11, 2.0f, 5.5, 1, 0.25, 1, 3, 1};
    CHECK(window_gives(d, &v, 1, &v));
    zr_decimate_destroy(d);
}

static void test_bad_window(void)
{
    zr_decimator *d = NULL;
    char err[128] = "";
    CHECK(zr_decimate_create(&d, &schema, ZR_ALG_MEAN, 0, err, sizeof err) == -1);
    CHECK(d == NULL && strstr(err, "at least 1"));
}

int main(void)
{
    load_schema();
    test_downsample();
    test_mean();
    test_int_rounding();
    test_minmax();
    test_rms();
    test_rms_clamped();
    test_window_boundaries();
    test_reset();
    test_window_of_one();
    test_bad_window();
    zr_schema_free(&schema);
    return zr_check_summary("test_decimate");
}
