/* The hot path: see zr_datapath.h. */
#include "zr_datapath.h"

#include <time.h>

#include "zr_util.h"
#include "zr_varint.h"

#define BATCHES_PER_POLL 16 /* recvmmsg batches before the timer gets a turn */
#define RECORDS_PER_POLL 8192 /* or fewer batches, once they held this many records */

/* Device time of a valid record, or ZR_NO_TIME when the channel declares no time field.
 * Uses the record's field spans when they were located (else walks up to the time field). */
static int64_t device_time(const zr_relay *r, const uint8_t *rec, const zr_span *fields)
{
    int64_t v;
    zr_span f;
    if (r->schema.time_field < 0)
        return ZR_NO_TIME;
    if (fields)
        f = fields[r->schema.time_field];
    else
        zr_record_field(&r->schema, rec, (size_t)r->schema.time_field, &f);
    return zr_varint_get(rec + f.off, f.len, &v) > 0 ? v : ZR_NO_TIME;
}

/* The record's fields are located once, and only when the decimator needs them all. */
static void on_record(zr_relay *r, int64_t mono, int64_t rx_ns, const uint8_t *rec, size_t len)
{
    const zr_span *fields = NULL;
    if (zr_outputs_wants_fields(r->outputs)) {
        zr_record_fields(&r->schema, rec, r->fields);
        fields = r->fields;
    }
    zr_archive_append(r->archive, mono, rx_ns, device_time(r, rec, fields), rec, len);
    zr_outputs_record(r->outputs, mono, rx_ns, rec, len, fields);
}

static void on_datagram(zr_relay *r, int64_t mono, const zr_datagram *d)
{
    size_t n = 0;
    const uint8_t *fp = r->cfg.has_fingerprint ? r->cfg.fingerprint : NULL;
    r->stats.received++;
    r->stats.bytes += d->len;
    zr_reject why =
        zr_validate_datagram(&r->schema, fp, d->data, d->len, r->recs, ZR_MAX_RECS, &n);
    if (why != ZR_OK) {
        r->stats.rejected[why]++;
        zr_quarantine_add(r->quarantine, d->rx_ns, why, d->data, d->len);
        return;
    }
    r->stats.records += n;
    zr_outputs_datagram(r->outputs, d->data, d->len);
    for (size_t i = 0; i < n; i++)
        on_record(r, mono, d->rx_ns, d->data + r->recs[i].off, r->recs[i].len);
}

int zr_relay_drain(zr_relay *r)
{
    /* Datagrams of 65 k one-byte records (bench/worst_datagram.py) take ~1.5 ms each: the
     * timer's turn comes after a record budget too, not only after BATCHES_PER_POLL. */
    uint64_t records = r->stats.records;
    for (int b = 0; b < BATCHES_PER_POLL && r->stats.records - records < RECORDS_PER_POLL; b++) {
        size_t n = zr_udp_recv(r->udp, r->batch, &r->stats);
        if (n == 0)
            return 0;
        int64_t mono = zr_now_ns(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++)
            on_datagram(r, mono, &r->batch[i]);
        zr_outputs_batch_end(r->outputs, mono); /* before the buffers are reused */
        if (n < ZR_UDP_BATCH)
            return 0;
    }
    return 1;
}
