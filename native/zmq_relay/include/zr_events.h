/* The relay's bus events, Avro single-object encoded by hand: C3 01, the schema's fingerprint
 * (zr_proto.h), then the binary record with the fields of proto/<Event>.avsc in order.
 * Each encoder writes into buf[0..cap) and returns the length, or 0 when it does not fit. */
#ifndef ZR_EVENTS_H
#define ZR_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "zr_archive.h"
#include "zr_stats.h"

/* The fields every relay event starts with. */
typedef struct zr_ev_head {
    const char *source;        /* relay/<channel>/<pid>-<start ns> */
    int64_t seq;               /* from 1 per source */
    int64_t time_ns;           /* CLOCK_REALTIME when the event was made */
    const char *channel;
} zr_ev_head;

/* RelayState symbols, in schema order. */
typedef enum zr_relay_state {
    ZR_STATE_RUNNING, ZR_STATE_DEGRADED
} zr_relay_state;

typedef struct zr_ev_status {
    zr_relay_state state;
    const char *reason;        /* "" when running; starts with "stopping" in the last status */
    const zr_stats *stats;     /* every counter; rejected as a map keyed by zr_reject_name */
    double rate, record_rate;  /* datagrams and valid records per second, last interval */
    const char *current_file;  /* or NULL */
    int64_t started;           /* ns since the epoch */
} zr_ev_status;

/* RelayStatus. */
size_t zr_ev_status_encode(uint8_t *buf, size_t cap, const zr_ev_head *h, const zr_ev_status *s);

/* RelayFile: opened (1) or closed (0). ZR_NO_TIME times become null. */
size_t zr_ev_file_encode(uint8_t *buf, size_t cap, const zr_ev_head *h, int opened,
                         const zr_file_info *f, const char *time_unit);

/* RelayError: kind as listed in proto/topics.yaml; path may be NULL. */
size_t zr_ev_error_encode(uint8_t *buf, size_t cap, const zr_ev_head *h, const char *kind,
                          int err, const char *detail, const char *path, int64_t bytes);

/* DataBatch up to and including the length of `records`: the caller sends the records_len
 * bytes of archive records right after these bytes (same frame). */
size_t zr_ev_data_head_encode(uint8_t *buf, size_t cap, const zr_ev_head *h,
                              const char *fingerprint, int32_t count, size_t records_len);

#endif
