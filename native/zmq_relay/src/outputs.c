/* The relay's outputs (multicast, decimation, bus events) behind one facade: see zr_outputs.h. */
#include "zr_outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zr_bus.h"
#include "zr_decimate.h"
#include "zr_events.h"
#include "zr_mcast.h"
#include "zr_util.h"
#include "zr_varint.h"

#define EVENT_BYTES (16 * 1024)    /* room for one status, file or error event */
#define DATA_HEAD_BYTES 512        /* room for a DataBatch up to its records */
#define TOPIC_BYTES 96             /* "relay.status." and a channel name of <= 63 bytes */
#define PACK_ROOM (1024 * 1024)    /* most room for decimated datagrams beyond two records */

struct zr_outputs {
    const zr_config *cfg;
    const zr_schema *schema;
    zr_stats *stats;
    const zr_archive *archive;
    const zr_quarantine *quarantine;
    zr_mcast *full, *dec;          /* NULL when the endpoint was not given */
    zr_decimator *decimator;       /* NULL when nobody takes decimated records */
    zr_bus *bus;                   /* NULL without --bus */
    char source[128];
    int64_t started, seq;
    char t_status[TOPIC_BYTES], t_file[TOPIC_BYTES], t_error[TOPIC_BYTES], t_data[TOPIC_BYTES];
    uint8_t ev[EVENT_BYTES];
    uint8_t data_head[DATA_HEAD_BYTES];
    int data_wanted;               /* the bus subscribes to data.<channel> */
    uint8_t *batch;                /* data.<channel>: archive records back to back */
    size_t batch_len, batch_cap;
    int32_t batch_count;
    int64_t batch_since;           /* CLOCK_MONOTONIC of the batch's first record */
    int64_t next_status, last_status;
    zr_stats last;                 /* the counters at the previous status */
    uint64_t full_errors, dec_errors; /* each sender's errors at the previous status */
    char reason[512];
};

static zr_ev_head next_head(zr_outputs *o)
{
    return (zr_ev_head){o->source, ++o->seq, zr_now_ns(CLOCK_REALTIME), o->cfg->name};
}

/* Sends the event encoded in o->ev (len 0: it did not fit, counted as dropped). */
static void publish(zr_outputs *o, const char *topic, size_t len)
{
    if (len == 0)
        o->stats->bus_dropped++;
    else
        zr_bus_send(o->bus, topic, o->ev, len, NULL, 0);
}

/* ---- set-up ---- */

static int fail(zr_outputs *o, char *err, size_t errlen, const char *msg)
{
    if (msg)
        snprintf(err, errlen, "%s", msg);
    zr_outputs_destroy(o);
    return -1;
}

static int create_senders(zr_outputs *o)
{
    const zr_config *c = o->cfg;
    /* room for two of the largest records, and a sendmmsg batch of datagrams of the budget */
    size_t batch = (size_t)ZR_MCAST_BATCH * c->dec_max_bytes;
    size_t copy = 2 * ZR_DEC_MAX_OUTPUT(o->schema->nfields);
    copy += batch < PACK_ROOM ? batch : PACK_ROOM;
    if (c->mcast_full.set && zr_mcast_create(&o->full, &c->mcast_full, c->mcast_if,
                                             c->mcast_ttl, 0, 0, &o->stats->forwarded, o->stats))
        return -1;
    if (c->mcast_dec.set &&
        zr_mcast_create(&o->dec, &c->mcast_dec, c->mcast_if, c->mcast_ttl, copy,
                        c->dec_max_bytes, &o->stats->decimated, o->stats))
        return -1;
    return 0;
}

static void name_topics(zr_outputs *o)
{
    const char *ch = o->cfg->name;
    snprintf(o->t_status, TOPIC_BYTES, "relay.status.%s", ch);
    snprintf(o->t_file, TOPIC_BYTES, "relay.file.%s", ch);
    snprintf(o->t_error, TOPIC_BYTES, "relay.error.%s", ch);
    snprintf(o->t_data, TOPIC_BYTES, "data.%s", ch);
}

/* The bus publisher and the data.<channel> batch buffer (a batch holds two records at least). */
static int create_bus(zr_outputs *o, char *err, size_t errlen)
{
    o->batch_cap = 2 * (ZR_DEC_MAX_OUTPUT(o->schema->nfields) + ZR_VARINT_MAX);
    o->batch = malloc(o->batch_cap);
    if (!o->batch) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (zr_bus_create(&o->bus, o->cfg->bus, o->stats, err, errlen))
        return -1;
    o->data_wanted = zr_bus_wants(o->bus, o->t_data);
    return 0;
}

int zr_outputs_create(zr_outputs **out, const zr_config *cfg, const zr_schema *schema,
                      zr_stats *stats, char *err, size_t errlen)
{
    zr_outputs *o = calloc(1, sizeof *o);
    if (!o)
        return fail(o, err, errlen, "out of memory");
    o->cfg = cfg;
    o->schema = schema;
    o->stats = stats;
    o->started = zr_now_ns(CLOCK_REALTIME);
    o->last_status = zr_now_ns(CLOCK_MONOTONIC);
    snprintf(o->source, sizeof o->source, "relay/%s/%ld-%lld", cfg->name, (long)getpid(),
             (long long)o->started);
    name_topics(o);
    if (create_senders(o))
        return fail(o, err, errlen, "out of memory");
    if ((cfg->mcast_dec.set || cfg->bus) &&
        zr_decimate_create(&o->decimator, schema, cfg->algorithm, cfg->decimate, err, errlen))
        return fail(o, err, errlen, NULL);
    if (cfg->bus && create_bus(o, err, errlen))
        return fail(o, err, errlen, NULL);
    *out = o;
    return 0;
}

void zr_outputs_set_archive(zr_outputs *o, const zr_archive *a)
{
    o->archive = a;
}

void zr_outputs_set_quarantine(zr_outputs *o, const zr_quarantine *q)
{
    o->quarantine = q;
}

/* ---- the hot path ---- */

void zr_outputs_datagram(zr_outputs *o, const uint8_t *buf, size_t len)
{
    if (o->full)
        zr_mcast_queue(o->full, buf, len);
}

static void flush_data(zr_outputs *o)
{
    if (!o->batch_count)
        return;
    zr_ev_head h = next_head(o);
    const char *fp = o->cfg->has_fingerprint ? o->cfg->fingerprint_hex : "";
    size_t n = zr_ev_data_head_encode(o->data_head, sizeof o->data_head, &h, fp, o->batch_count,
                                      o->batch_len);
    if (n)
        zr_bus_send(o->bus, o->t_data, o->data_head, n, o->batch, o->batch_len);
    else
        o->stats->bus_dropped++;
    o->batch_len = 0;
    o->batch_count = 0;
}

/* Appends one decimated record as an archive record (rx_time varint, then the record). */
static void add_to_batch(zr_outputs *o, int64_t mono_ns, const zr_dec_out *d)
{
    if (o->batch_cap - o->batch_len < ZR_VARINT_MAX + d->len)
        flush_data(o);
    if (!o->batch_count)
        o->batch_since = mono_ns;
    o->batch_len += zr_varint_put(o->batch + o->batch_len, d->rx_ns);
    memcpy(o->batch + o->batch_len, d->rec, d->len);
    o->batch_len += d->len;
    o->batch_count++;
}

/* The decimator runs only while its records go somewhere: the decimated group, or the bus
 * while it subscribes to data.<channel>. */
static int decimating(const zr_outputs *o)
{
    return o->decimator && (o->dec || o->data_wanted);
}

int zr_outputs_wants_fields(const zr_outputs *o)
{
    return decimating(o) && zr_decimate_needs_fields(o->decimator);
}

void zr_outputs_record(zr_outputs *o, int64_t mono_ns, int64_t rx_ns, const uint8_t *rec,
                       size_t len, const zr_span *fields)
{
    zr_dec_out out[ZR_DEC_MAX_OUT];
    if (!decimating(o))
        return;
    size_t n = zr_decimate_push(o->decimator, rec, len, fields, rx_ns, out);
    for (size_t i = 0; i < n; i++) {
        if (o->dec)
            zr_mcast_pack(o->dec, out[i].rec, out[i].len, mono_ns);
        if (o->data_wanted)
            add_to_batch(o, mono_ns, &out[i]);
    }
}

void zr_outputs_batch_end(zr_outputs *o, int64_t mono_ns)
{
    if (o->full)
        zr_mcast_flush(o->full);
    if (o->dec)
        zr_mcast_flush_due(o->dec, mono_ns, ZR_DATA_FLUSH_NS);
    if (o->batch_count && mono_ns - o->batch_since >= ZR_DATA_FLUSH_NS)
        flush_data(o);
}

/* ---- status ---- */

/* Appends one fault to o->reason, "; "-separated. */
static void add_reason(zr_outputs *o, const char *text)
{
    size_t used = strlen(o->reason);
    snprintf(o->reason + used, sizeof o->reason - used, "%s%s", used ? "; " : "", text);
}

/* A sender that failed in the last interval (or cannot be set up): a reason and an error. */
static void check_sender(zr_outputs *o, const zr_mcast *m, uint64_t *seen)
{
    char detail[256], reason[128];
    uint64_t errors = zr_mcast_errors(m) - *seen;
    *seen = zr_mcast_errors(m);
    if (!errors && !zr_mcast_broken(m))
        return;
    int e = zr_mcast_last_errno(m);
    snprintf(reason, sizeof reason, "multicast %s: %s", zr_mcast_dest(m), strerror(e));
    add_reason(o, reason);
    if (!errors || !o->bus)
        return;
    snprintf(detail, sizeof detail, "%llu datagrams not sent to %s: %s",
             (unsigned long long)errors, zr_mcast_dest(m), strerror(e));
    zr_ev_head h = next_head(o);
    publish(o, o->t_error, zr_ev_error_encode(o->ev, sizeof o->ev, &h, "mcast", e, detail,
                                              NULL, 0));
}

/* Fills o->reason with every fault of the last interval ("" when there was none), after
 * "stopping" in the last status. Returns 1 when there was a fault. */
static int collect_faults(zr_outputs *o, int stopping)
{
    char text[256];
    const char *why, *path, *detail;
    int err;
    snprintf(o->reason, sizeof o->reason, "%s", stopping ? "stopping" : "");
    size_t mark = strlen(o->reason);
    if (o->archive && (why = zr_archive_fault(o->archive))) {
        snprintf(text, sizeof text, "archive: %s", why);
        add_reason(o, text);
    }
    if (o->quarantine && (why = zr_quarantine_fault(o->quarantine, &err, &path, &detail))) {
        snprintf(text, sizeof text, "quarantine: %s", why);
        add_reason(o, text);
    }
    if (o->full)
        check_sender(o, o->full, &o->full_errors);
    if (o->dec)
        check_sender(o, o->dec, &o->dec_errors);
    if (o->bus && (why = zr_bus_take_fault(o->bus)))
        add_reason(o, why);
    return strlen(o->reason) > mark;
}

/* The status: running or degraded (the contract's two states); the last one, as the relay
 * stops, says so in its reason. */
static void publish_status(zr_outputs *o, int64_t mono_ns, int stopping)
{
    const zr_stats *s = o->stats;
    double dt = (double)(mono_ns - o->last_status) / 1e9;
    int faults = collect_faults(o, stopping);
    zr_ev_status st = {
        .state = faults ? ZR_STATE_DEGRADED : ZR_STATE_RUNNING,
        .reason = o->reason,
        .stats = s,
        .rate = dt > 0 ? (double)(s->received - o->last.received) / dt : 0,
        .record_rate = dt > 0 ? (double)(s->records - o->last.records) / dt : 0,
        .current_file = o->archive ? zr_archive_current(o->archive) : NULL,
        .started = o->started,
    };
    o->last = *s;
    o->last_status = mono_ns;
    if (!o->bus)
        return;
    zr_ev_head h = next_head(o);
    publish(o, o->t_status, zr_ev_status_encode(o->ev, sizeof o->ev, &h, &st));
}

void zr_outputs_tick(zr_outputs *o, int64_t mono_ns)
{
    if (o->full)
        zr_mcast_tick(o->full, mono_ns);
    if (o->dec) {
        zr_mcast_flush(o->dec); /* the open decimated datagram: one tick old at most */
        zr_mcast_tick(o->dec, mono_ns);
    }
    int rejoined = 0;
    if (o->bus) {
        rejoined = zr_bus_poll(o->bus);
        flush_data(o);
        int was = decimating(o);
        o->data_wanted = zr_bus_wants(o->bus, o->t_data);
        if (!was && decimating(o))
            zr_decimate_reset(o->decimator); /* no window spans the time nobody listened */
    }
    if (mono_ns >= o->next_status || rejoined) {
        publish_status(o, mono_ns, 0);
        o->next_status = mono_ns + ZR_STATUS_NS;
    }
}

/* ---- archive hooks ---- */

void zr_outputs_file(zr_outputs *o, int opened, const zr_file_info *f)
{
    if (!o->bus)
        return;
    zr_ev_head h = next_head(o);
    publish(o, o->t_file,
            zr_ev_file_encode(o->ev, sizeof o->ev, &h, opened, f, o->schema->time_unit));
}

void zr_outputs_error(zr_outputs *o, const char *kind, int err, const char *path,
                      const char *detail, int64_t bytes)
{
    if (!o->bus)
        return;
    zr_ev_head h = next_head(o);
    publish(o, o->t_error,
            zr_ev_error_encode(o->ev, sizeof o->ev, &h, kind, err, detail, path, bytes));
}

/* ---- stop ---- */

void zr_outputs_close(zr_outputs *o, int64_t mono_ns)
{
    zr_outputs_batch_end(o, mono_ns);
    if (o->dec)
        zr_mcast_flush(o->dec);
    if (o->bus) {
        zr_bus_poll(o->bus);
        flush_data(o);
    }
    publish_status(o, mono_ns, 1);
}

void zr_outputs_destroy(zr_outputs *o)
{
    if (!o)
        return;
    zr_bus_destroy(o->bus);
    zr_mcast_destroy(o->full);
    zr_mcast_destroy(o->dec);
    zr_decimate_destroy(o->decimator);
    free(o->batch);
    free(o);
}
