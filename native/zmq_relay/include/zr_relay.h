/* The relay's state, shared by its parts: start-up and stop (startup.c), archive hooks
 * (archive_hooks.c), the hot path (datapath.c), timer work (timers.c) and the poll loop that
 * drives them (relay.c). One relay per process, single-threaded. */
#ifndef ZR_RELAY_H
#define ZR_RELAY_H

#include <stdint.h>

#include "zr_archive.h"
#include "zr_args.h"
#include "zr_outputs.h"
#include "zr_quarantine.h"
#include "zr_schema.h"
#include "zr_stats.h"
#include "zr_udp_input.h"
#include "zr_validate.h"

#define ZR_MAX_RECS 65536          /* records one datagram may hold */
#define ZR_ERR_LEN 512             /* start-up error messages */

typedef struct zr_relay {
    zr_config cfg;
    zr_schema schema;
    zr_stats stats;
    zr_udp *udp;
    zr_archive *archive;
    zr_quarantine *quarantine;
    zr_outputs *outputs;       /* multicast, decimation, bus events */
    int lock_fd, timer_fd, signal_fd;
    zr_span *recs;             /* ZR_MAX_RECS: the records of the datagram at hand */
    zr_span *fields;           /* schema.nfields: the fields of the record at hand, when located */
    zr_datagram batch[ZR_UDP_BATCH];
    const char *fault;         /* the archive fault last reported, NULL while writing works */
    int quarantine_err;        /* errno of the quarantine fault last reported, 0 when none */
    int64_t next_quarantine_flush;
    char last_error[128];      /* the archive error last printed (repeats are not printed) */
} zr_relay;

/* The poll loop over the UDP socket, the timer and the signalfd; returns once SIGTERM or
 * SIGINT arrives (after draining, bounded, what was sent before it). */
void zr_relay_run(zr_relay *r);

#endif
