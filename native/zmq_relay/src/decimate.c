/* Decimation of the channel's records: see zr_decimate.h for the rules. */
#include "zr_decimate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zr_validate.h"
#include "zr_varint.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "decimate.c reads Avro float/double (little-endian) by memcpy"
#endif

/* How a top-level field is treated. */
typedef enum kind { K_COPY, K_INT, K_LONG, K_FLOAT, K_DOUBLE } kind;

typedef struct field_plan {
    kind kind;
    int null_branch;   /* union index of null, -1 when the field is not nullable */
    int value_branch;  /* union index of the number */
} field_plan;

/* Window accumulator of one aggregated field. */
typedef struct acc {
    uint32_t count;    /* non-null values */
    __int128 isum;     /* int/long: exact sum */
    long double isq;   /* int/long: sum of squares */
    double dsum, dsq;  /* float/double: sum and sum of squares, in record order */
    int64_t imin, imax;
    double dmin, dmax;
} acc;

/* A record with its field spans. */
typedef struct held {
    const uint8_t *rec;
    const zr_span *spans;
    int64_t rx_ns;
} held;

struct zr_decimator {
    const zr_schema *schema;
    zr_algorithm algo;
    uint32_t n, pos;
    field_plan *plan;
    acc *accs;
    held cur, first;
    zr_span *spans;                    /* the record's spans when the caller gives none */
    uint8_t *first_buf;                /* minmax: a copy of the window's first record */
    zr_span *first_spans;              /* ... and of its spans */
    uint8_t *outbuf[ZR_DEC_MAX_OUT];
};

static kind numeric_kind(const zr_node *t)
{
    switch (t->type) {
    case ZR_T_INT: return K_INT;
    case ZR_T_LONG: return K_LONG;
    case ZR_T_FLOAT: return K_FLOAT;
    case ZR_T_DOUBLE: return K_DOUBLE;
    default: return K_COPY;
    }
}

static field_plan plan_field(const zr_node *t)
{
    field_plan p = {numeric_kind(t), -1, -1};
    if (t->type != ZR_T_UNION || t->size != 2)
        return p;
    for (int b = 0; b < 2; b++) {
        const zr_node *other = t->children[1 - b];
        if (t->children[b]->type == ZR_T_NULL && numeric_kind(other) != K_COPY)
            return (field_plan){numeric_kind(other), b, 1 - b};
    }
    return p;
}

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int zr_decimate_create(zr_decimator **out, const zr_schema *s, zr_algorithm algo, uint32_t n,
                       char *err, size_t errlen)
{
    if (n == 0)
        return fail(err, errlen, "decimation must be at least 1");
    zr_decimator *d = calloc(1, sizeof *d);
    size_t nf = s->nfields ? s->nfields : 1;
    size_t outcap = ZR_DEC_MAX_OUTPUT(nf);
    if (d) {
        d->plan = calloc(nf, sizeof *d->plan);
        d->accs = calloc(nf, sizeof *d->accs);
        d->spans = calloc(nf, sizeof(zr_span));
        d->first_spans = calloc(nf, sizeof(zr_span));
        d->first_buf = malloc(ZR_DEC_MAX_RECORD);
        for (int i = 0; i < ZR_DEC_MAX_OUT; i++)
            d->outbuf[i] = malloc(outcap);
    }
    if (!d || !d->plan || !d->accs || !d->spans || !d->first_spans || !d->first_buf ||
        !d->outbuf[0] || !d->outbuf[1]) {
        zr_decimate_destroy(d);
        return fail(err, errlen, "out of memory");
    }
    d->schema = s;
    d->algo = algo;
    d->n = n;
    for (size_t i = 0; i < s->nfields; i++)
        d->plan[i] = (int)i == s->time_field ? (field_plan){K_COPY, -1, -1}
                                              : plan_field(s->fields[i].type);
    *out = d;
    return 0;
}

void zr_decimate_destroy(zr_decimator *d)
{
    if (!d)
        return;
    free(d->plan);
    free(d->accs);
    free(d->spans);
    free(d->first_spans);
    free(d->first_buf);
    for (int i = 0; i < ZR_DEC_MAX_OUT; i++)
        free(d->outbuf[i]);
    free(d);
}

/* Adds one value (at p, the field's bytes) to its accumulator, only what the algorithm
 * reads of it (mean: the sum, rms: the sum of squares, minmax: the extremes); nulls are
 * skipped. */
static void accumulate(acc *a, const field_plan *f, zr_algorithm algo, const uint8_t *p,
                       size_t len)
{
    int64_t branch = 0, iv = 0;
    double dv = 0;
    if (f->null_branch >= 0) {
        int used = zr_varint_get(p, len, &branch);
        if (branch == f->null_branch)
            return;
        p += used;
        len -= (size_t)used;
    }
    if (f->kind == K_INT || f->kind == K_LONG) {
        zr_varint_get(p, len, &iv);
        if (algo == ZR_ALG_MEAN) {
            a->isum += iv;
        } else if (algo == ZR_ALG_RMS) {
            a->isq += (long double)iv * (long double)iv;
        } else {
            a->imin = a->count && a->imin <= iv ? a->imin : iv;
            a->imax = a->count && a->imax >= iv ? a->imax : iv;
        }
    } else {
        if (f->kind == K_FLOAT) {
            float fv;
            memcpy(&fv, p, 4);
            dv = fv;
        } else {
            memcpy(&dv, p, 8);
        }
        if (algo == ZR_ALG_MEAN) {
            a->dsum += dv;
        } else if (algo == ZR_ALG_RMS) {
            a->dsq += dv * dv;
        } else {
            a->dmin = a->count && !(dv < a->dmin) ? a->dmin : dv;
            a->dmax = a->count && !(dv > a->dmax) ? a->dmax : dv;
        }
    }
    a->count++;
}

/* sum / n rounded to the nearest integer, halves away from zero, exactly. */
static int64_t div_round(__int128 sum, uint32_t n)
{
    __int128 q = sum / n, r = sum % n;
    if (2 * (r < 0 ? -r : r) >= n)
        q += sum < 0 ? -1 : 1;
    return (int64_t)q;
}

/* Which window result an output record carries. */
typedef enum which { W_MEAN, W_RMS, W_MIN, W_MAX } which;

/* The root mean square, rounded, clamped to the field type's maximum: the RMS of the most
 * negative value is one past it (2^31, 2^63), which llroundl cannot return as an int64 and an
 * int field cannot hold. (The mean lies between the window's extremes: it never needs this.) */
static int64_t rms_result(const acc *a, kind k)
{
    long double x = sqrtl(a->isq / a->count);
    if (x >= 0x1p63L)
        return INT64_MAX;
    int64_t v = llroundl(x);
    return k == K_INT && v > INT32_MAX ? INT32_MAX : v;
}

static int64_t int_result(const acc *a, kind k, which w)
{
    switch (w) {
    case W_MEAN: return div_round(a->isum, a->count);
    case W_RMS: return rms_result(a, k);
    case W_MIN: return a->imin;
    default: return a->imax;
    }
}

static double real_result(const acc *a, which w)
{
    switch (w) {
    case W_MEAN: return a->dsum / a->count;
    case W_RMS: return sqrt(a->dsq / a->count);
    case W_MIN: return a->dmin;
    default: return a->dmax;
    }
}

/* Encodes an aggregated field's window result at out; returns its length. */
static size_t encode_result(uint8_t *out, const field_plan *f, const acc *a, which w)
{
    size_t n = 0;
    if (f->null_branch >= 0)
        n += zr_varint_put(out, a->count ? f->value_branch : f->null_branch);
    if (!a->count)
        return n;
    if (f->kind == K_INT || f->kind == K_LONG)
        return n + zr_varint_put(out + n, int_result(a, f->kind, w));
    double v = real_result(a, w);
    if (f->kind == K_DOUBLE) {
        memcpy(out + n, &v, 8);
        return n + 8;
    }
    float fv = (float)v;
    memcpy(out + n, &fv, 4);
    return n + 4;
}

/* Builds one output record: src's bytes for copied fields, window results for the others. */
static zr_dec_out build(zr_decimator *d, int slot, const held *src, which w)
{
    uint8_t *out = d->outbuf[slot];
    size_t len = 0;
    for (size_t i = 0; i < d->schema->nfields; i++) {
        const field_plan *f = &d->plan[i];
        if (f->kind == K_COPY) {
            memcpy(out + len, src->rec + src->spans[i].off, src->spans[i].len);
            len += src->spans[i].len;
        } else {
            len += encode_result(out + len, f, &d->accs[i], w);
        }
    }
    return (zr_dec_out){out, len, src->rx_ns};
}

static size_t emit_window(zr_decimator *d, zr_dec_out out[ZR_DEC_MAX_OUT])
{
    size_t n = 1;
    if (d->algo == ZR_ALG_MINMAX) {
        out[0] = build(d, 0, &d->first, W_MIN);
        out[1] = build(d, 1, &d->cur, W_MAX);
        n = 2;
    } else {
        out[0] = build(d, 0, &d->cur, d->algo == ZR_ALG_MEAN ? W_MEAN : W_RMS);
    }
    zr_decimate_reset(d);
    return n;
}

int zr_decimate_needs_fields(const zr_decimator *d)
{
    return d->algo != ZR_ALG_DOWNSAMPLE;
}

void zr_decimate_reset(zr_decimator *d)
{
    memset(d->accs, 0, d->schema->nfields * sizeof *d->accs);
    d->pos = 0;
}

size_t zr_decimate_push(zr_decimator *d, const uint8_t *rec, size_t len, const zr_span *fields,
                        int64_t rx_ns, zr_dec_out out[ZR_DEC_MAX_OUT])
{
    if (d->algo == ZR_ALG_DOWNSAMPLE) {
        uint32_t pos = d->pos;
        d->pos = pos + 1 == d->n ? 0 : pos + 1;
        if (pos)
            return 0;
        out[0] = (zr_dec_out){rec, len, rx_ns};
        return 1;
    }
    const zr_schema *s = d->schema;
    if (!fields) {
        zr_record_fields(s, rec, d->spans);
        fields = d->spans;
    }
    d->cur = (held){rec, fields, rx_ns};
    for (size_t i = 0; i < s->nfields; i++) {
        if (d->plan[i].kind != K_COPY)
            accumulate(&d->accs[i], &d->plan[i], d->algo, rec + fields[i].off, fields[i].len);
    }
    if (d->pos == 0 && d->algo == ZR_ALG_MINMAX) {
        memcpy(d->first_buf, rec, len);
        memcpy(d->first_spans, fields, s->nfields * sizeof(zr_span));
        d->first = (held){d->first_buf, d->first_spans, rx_ns};
    }
    if (++d->pos < d->n)
        return 0;
    return emit_window(d, out);
}
