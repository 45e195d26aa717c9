/* The relay's counters: one struct, incremented in place by each module (single-threaded),
 * published as relay.status.<channel>. Every counter is listed in proto/topics.yaml. */
#ifndef ZR_STATS_H
#define ZR_STATS_H

#include <stdint.h>

#include "zr_validate.h"

typedef struct zr_stats {
    uint64_t received;               /* datagrams received */
    uint64_t bytes;                  /* payload bytes received */
    uint64_t records;                /* valid records received */
    uint64_t rejected[ZR_REJ__COUNT];/* datagrams rejected, by reason ([ZR_OK] unused) */
    uint64_t kernel_drops;           /* datagrams the kernel dropped (SO_RXQ_OVFL) */
    uint64_t archived;               /* records written to the archive in complete blocks */
    uint64_t unarchived;             /* valid records lost to archive write errors */
    uint64_t archive_bytes;          /* bytes written to archive files (headers included) */
    uint64_t files;                  /* archive files opened */
    uint64_t quarantined;            /* datagrams kept in the quarantine file */
    uint64_t quarantine_dropped;     /* rejected datagrams not kept: quarantine full or unwritable */
    uint64_t forwarded;              /* datagrams sent on the full-rate multicast group */
    uint64_t decimated;              /* records sent on the decimated multicast group */
    uint64_t mcast_errors;           /* multicast datagrams that could not be sent */
    uint64_t bus_dropped;            /* bus events dropped: bus unreachable or its queue full */
} zr_stats;

#endif
