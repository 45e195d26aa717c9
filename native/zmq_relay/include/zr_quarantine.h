/* Quarantine: rejected datagrams kept, size-capped, in <data>/quarantine/<channel>.bin.
 * Entry format (little-endian): u32 payload length, i64 rx_time ns, u16 reason (zr_reject),
 * then the datagram as received. Buffered; written on flush or when the buffer is full.
 * Once the file would pass its cap, further datagrams are counted as quarantine_dropped. */
#ifndef ZR_QUARANTINE_H
#define ZR_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>

#include "zr_stats.h"
#include "zr_validate.h"

typedef struct zr_quarantine zr_quarantine;

int zr_quarantine_create(zr_quarantine **out, const char *data_dir, const char *channel,
                         uint64_t cap_bytes, zr_stats *stats);
void zr_quarantine_add(zr_quarantine *q, int64_t rx_ns, zr_reject reason,
                       const uint8_t *buf, size_t len);
/* Writes buffered entries; on error they are counted as dropped. Returns -1 while the
 * quarantine has a fault. With nothing buffered, a fault that kept the file from opening
 * (directory or file cannot be created) is retried. */
int zr_quarantine_flush(zr_quarantine *q);

/* NULL while writing works; else a short reason for the status ("disk full", "cannot create
 * the quarantine directory: Not a directory"), with the errno, the path concerned and what
 * failed (for the RelayError event). The fault lasts until a flush writes (or, for a file
 * that could not be opened, opens it). */
const char *zr_quarantine_fault(const zr_quarantine *q, int *err, const char **path,
                                const char **detail);
void zr_quarantine_destroy(zr_quarantine *q);

#endif
