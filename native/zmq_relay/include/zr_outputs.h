/* The relay's outputs besides the archive, behind one facade for the relay: full-rate and
 * decimated multicast (decimated records packed back to back into datagrams of at most
 * --dec-max-bytes, sent within ZR_DATA_FLUSH_NS), and the bus events relay.status.<channel>
 * (1 Hz), relay.file.<channel>, relay.error.<channel> and data.<channel> (decimated records
 * as archive records, flushed at least every ZR_DATA_FLUSH_NS while data flows). Nothing here
 * blocks or fails the relay: faults are counted in zr_stats and reported as state=degraded
 * with a reason.
 *
 * Wiring, in the relay's order of events:
 *   create (before the archive, so its hooks can report) -> set_archive, set_quarantine ->
 *   per receive batch: datagram() for each valid datagram, record() for each of its records,
 *   batch_end() before the receive buffers are reused -> tick() on the timer -> file()/error()
 *   from the archive hooks and quarantine flushes -> close() once the archive is closed (a
 *   last status, reason "stopping"). */
#ifndef ZR_OUTPUTS_H
#define ZR_OUTPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "zr_archive.h"
#include "zr_args.h"
#include "zr_quarantine.h"
#include "zr_schema.h"
#include "zr_stats.h"
#include "zr_validate.h"

#define ZR_DATA_FLUSH_NS (10 * 1000000LL)   /* data.<channel> batches wait at most this long */
#define ZR_STATUS_NS 1000000000LL           /* relay.status period */

typedef struct zr_outputs zr_outputs;

/* Sets up multicast senders, the decimator and the bus publisher from the parsed arguments
 * (they and the schema must outlive the outputs). The event source is
 * relay/<channel>/<pid>-<start ns>. Returns -1 (message in err) on allocation failure or an
 * endpoint ZeroMQ rejects; an unreachable bus or a multicast fault is not an error. */
int zr_outputs_create(zr_outputs **out, const zr_config *cfg, const zr_schema *schema,
                      zr_stats *stats, char *err, size_t errlen);

/* The archive whose current file and fault the status reports (may be NULL). */
void zr_outputs_set_archive(zr_outputs *o, const zr_archive *a);

/* The quarantine whose fault the status reports (may be NULL). */
void zr_outputs_set_quarantine(zr_outputs *o, const zr_quarantine *q);

/* A valid datagram, forwarded full-rate as received. It must stay valid until batch_end. */
void zr_outputs_datagram(zr_outputs *o, const uint8_t *buf, size_t len);

/* 1 when zr_outputs_record would locate the record's fields (it decimates now, by an
 * algorithm that reads them): the caller that locates them anyway passes them on. */
int zr_outputs_wants_fields(const zr_outputs *o);

/* A valid record, with its field spans (zr_record_fields) or NULL: fed to the decimator while
 * its outputs go somewhere (the decimated group, or data.<ch> while the bus subscribes). */
void zr_outputs_record(zr_outputs *o, int64_t mono_ns, int64_t rx_ns, const uint8_t *rec,
                       size_t len, const zr_span *fields);

/* End of a receive batch: sends the queued full-rate datagrams and the full decimated ones;
 * the open decimated datagram and the data batch when they are ZR_DATA_FLUSH_NS old. */
void zr_outputs_batch_end(zr_outputs *o, int64_t mono_ns);

/* Timer work: sends the open decimated datagram and flushes the data batch (so neither waits
 * longer than a timer period: the main loop's tick is shorter than ZR_DATA_FLUSH_NS), retries
 * multicast set-up, reads the bus monitor, publishes relay.status every ZR_STATUS_NS, and at
 * once when the bus (re)subscribes (so a restarted bus learns the relay's state without
 * waiting for the next beat). */
void zr_outputs_tick(zr_outputs *o, int64_t mono_ns);

/* Archive hooks: relay.file.<channel> (opened = 1 or 0) and relay.error.<channel> (also for
 * the quarantine's faults, kind "quarantine"). */
void zr_outputs_file(zr_outputs *o, int opened, const zr_file_info *f);
void zr_outputs_error(zr_outputs *o, const char *kind, int err, const char *path,
                      const char *detail, int64_t bytes);

/* Flushes everything and publishes the last status: state running or degraded as ever, its
 * reason "stopping" (then "; " and the faults, if any). */
void zr_outputs_close(zr_outputs *o, int64_t mono_ns);

void zr_outputs_destroy(zr_outputs *o);

#endif
