/* Hand-written Avro single-object encoders of the relay's events (schemas in proto/). */
#include "zr_events.h"

#include <string.h>

#include "zr_proto.h"
#include "zr_validate.h"
#include "zr_varint.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "events.c writes Avro doubles (little-endian) by memcpy"
#endif

/* An output buffer that remembers running out of room instead of writing past it. */
typedef struct enc {
    uint8_t *p;
    size_t cap, len;
    int full;
} enc;

static void put_raw(enc *e, const void *src, size_t n)
{
    if (e->full || e->cap - e->len < n) {
        e->full = 1;
        return;
    }
    memcpy(e->p + e->len, src, n);
    e->len += n;
}

static void put_long(enc *e, int64_t v)
{
    uint8_t tmp[ZR_VARINT_MAX];
    put_raw(e, tmp, zr_varint_put(tmp, v));
}

static void put_string(enc *e, const char *s)
{
    size_t n = strlen(s);
    put_long(e, (int64_t)n);
    put_raw(e, s, n);
}

static void put_double(enc *e, double v)
{
    put_raw(e, &v, sizeof v);
}

/* ["null", string]: branch 0 for NULL. */
static void put_opt_string(enc *e, const char *s)
{
    put_long(e, s ? 1 : 0);
    if (s)
        put_string(e, s);
}

/* ["null", long]: branch 0 for ZR_NO_TIME. */
static void put_opt_time(enc *e, int64_t t)
{
    put_long(e, t == ZR_NO_TIME ? 0 : 1);
    if (t != ZR_NO_TIME)
        put_long(e, t);
}

static enc start(uint8_t *buf, size_t cap, const uint8_t fp[8], const zr_ev_head *h)
{
    static const uint8_t magic[2] = {0xc3, 0x01};
    enc e = {buf, cap, 0, 0};
    put_raw(&e, magic, 2);
    put_raw(&e, fp, 8);
    put_string(&e, h->source);
    put_long(&e, h->seq);
    put_long(&e, h->time_ns);
    put_string(&e, h->channel);
    return e;
}

static size_t finish(const enc *e)
{
    return e->full ? 0 : e->len;
}

/* The rejected map: one block holding every reason, then the end marker. */
static void put_rejected(enc *e, const zr_stats *s)
{
    put_long(e, ZR_REJ__COUNT - 1);
    for (int r = 1; r < ZR_REJ__COUNT; r++) {
        put_string(e, zr_reject_name((zr_reject)r));
        put_long(e, (int64_t)s->rejected[r]);
    }
    put_long(e, 0);
}

size_t zr_ev_status_encode(uint8_t *buf, size_t cap, const zr_ev_head *h, const zr_ev_status *s)
{
    static const uint8_t fp[8] = ZR_FP_RELAY_STATUS;
    const zr_stats *c = s->stats;
    enc e = start(buf, cap, fp, h);
    put_long(&e, s->state);
    put_string(&e, s->reason);
    put_long(&e, (int64_t)c->received);
    put_long(&e, (int64_t)c->bytes);
    put_long(&e, (int64_t)c->records);
    put_rejected(&e, c);
    const uint64_t counters[] = {
        c->kernel_drops, c->archived, c->unarchived, c->archive_bytes, c->files,
        c->quarantined, c->quarantine_dropped, c->forwarded, c->decimated, c->mcast_errors,
        c->bus_dropped,
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        put_long(&e, (int64_t)counters[i]);
    put_double(&e, s->rate);
    put_double(&e, s->record_rate);
    put_opt_string(&e, s->current_file);
    put_long(&e, s->started);
    return finish(&e);
}

size_t zr_ev_file_encode(uint8_t *buf, size_t cap, const zr_ev_head *h, int opened,
                         const zr_file_info *f, const char *time_unit)
{
    static const uint8_t fp[8] = ZR_FP_RELAY_FILE;
    enc e = start(buf, cap, fp, h);
    put_long(&e, opened ? 0 : 1); /* FileState: opened, closed */
    put_string(&e, f->path);
    put_long(&e, (int64_t)f->records);
    put_long(&e, (int64_t)f->bytes);
    put_opt_time(&e, f->first_rx);
    put_opt_time(&e, f->last_rx);
    put_opt_time(&e, f->first_dev);
    put_opt_time(&e, f->last_dev);
    put_string(&e, time_unit);
    return finish(&e);
}

size_t zr_ev_error_encode(uint8_t *buf, size_t cap, const zr_ev_head *h, const char *kind,
                          int err, const char *detail, const char *path, int64_t bytes)
{
    static const uint8_t fp[8] = ZR_FP_RELAY_ERROR;
    enc e = start(buf, cap, fp, h);
    put_string(&e, kind);
    put_long(&e, err);
    put_string(&e, detail ? detail : "");
    put_opt_string(&e, path);
    put_long(&e, bytes);
    return finish(&e);
}

size_t zr_ev_data_head_encode(uint8_t *buf, size_t cap, const zr_ev_head *h,
                              const char *fingerprint, int32_t count, size_t records_len)
{
    static const uint8_t fp[8] = ZR_FP_DATA_BATCH;
    enc e = start(buf, cap, fp, h);
    put_string(&e, fingerprint);
    put_long(&e, count);
    put_long(&e, (int64_t)records_len);
    return finish(&e);
}
