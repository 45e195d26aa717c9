/* Archive writer: appends records with their rx_time to rolling Avro object container files
 * under <data>/archive/<channel>/. Records are copied into an in-memory block; a block is
 * written with one writev when full or at least every flush interval. Never exits on a
 * runtime fault: it reports through the hooks and counts in zr_stats. */
#ifndef ZR_ARCHIVE_H
#define ZR_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "zr_stats.h"

#define ZR_NO_TIME INT64_MIN   /* device time when the channel declares no time field */

typedef struct zr_file_info {
    const char *path;
    uint64_t records;
    uint64_t bytes;            /* file size */
    int64_t first_rx, last_rx; /* rx_time, ns since the epoch; ZR_NO_TIME when no record */
    int64_t first_dev, last_dev; /* device time in the channel's time unit, or ZR_NO_TIME */
} zr_file_info;

typedef struct zr_archive_hooks {
    void *ctx;
    /* A file is opened by a record, and announced once its first block is written (info as
     * opened: header only); only an announced file is closed with file_closed. A file whose
     * first block fails is removed with no event (and not counted in stats->files). */
    void (*file_opened)(void *ctx, const zr_file_info *f);
    void (*file_closed)(void *ctx, const zr_file_info *f);
    /* A runtime fault: what ("open", "write", "mkdir", "repair", ...), errno (0 when none),
     * path (or NULL), detail, and the bytes concerned (repair: bytes cut; else 0), as the
     * fields of the RelayError event. */
    void (*error)(void *ctx, const char *what, int err, const char *path, const char *detail,
                  int64_t bytes);
} zr_archive_hooks;

typedef struct zr_archive_config {
    const char *data_dir;
    const char *channel;
    const char *schema_text;   /* exact archive schema JSON (avro.schema) */
    const char *fingerprint;   /* 16 hex digits, or NULL (metadata speeddata.fingerprint) */
    const char *time_field;    /* or NULL (metadata speeddata.time_field) */
    const char *time_unit;     /* "s" | "ms" | "us" | "ns" (metadata speeddata.time_unit) */
    int64_t rotate_ns;         /* rotate after this long (CLOCK_MONOTONIC) */
    uint64_t rotate_bytes;     /* rotate once the file reaches this size */
    int64_t flush_ns;          /* write a non-empty block at least this often */
    size_t block_bytes;        /* write the block once it holds this many bytes */
} zr_archive_config;

typedef struct zr_archive zr_archive;

/* Allocates the writer (all buffers, once). Opens no file yet: the first record does.
 * Before returning it repairs the channel's newest file if a crash left it torn (cut back to
 * its last complete block) or without a complete block (removed), reported through
 * hooks->error with what="repair". Returns -1 only on allocation failure. */
int zr_archive_create(zr_archive **out, const zr_archive_config *cfg,
                      const zr_archive_hooks *hooks, zr_stats *stats, char *err, size_t errlen);

/* Appends one record; mono_ns is CLOCK_MONOTONIC of the datagram's batch, rx_ns its
 * CLOCK_REALTIME receive time, dev the device time (or ZR_NO_TIME). Copies the bytes;
 * writes the block only when it is full. While writing fails, the record is counted
 * as unarchived. */
void zr_archive_append(zr_archive *a, int64_t mono_ns, int64_t rx_ns, int64_t dev,
                       const uint8_t *rec, size_t len);

/* Timer work: writes a block older than flush_ns, rotates by time, and about a second after
 * a write error ends the broken state (the next record then opens a new file). */
void zr_archive_tick(zr_archive *a, int64_t mono_ns);

/* Writes the pending block and closes the current file (SIGTERM, or before exit). */
void zr_archive_close(zr_archive *a);

/* Path of the file being written, or NULL. */
const char *zr_archive_current(const zr_archive *a);

/* NULL while writing works, else why it does not ("disk full", "archive dir unwritable", ...). */
const char *zr_archive_fault(const zr_archive *a);

void zr_archive_destroy(zr_archive *a);

/* Cuts the container file at `path` back to its last complete block. A file without one (a
 * torn header, or a header alone: a crash before its first block was whole) is removed, and
 * *removed set. Returns the bytes cut (the file's size when removed; 0 when whole), -1 on an
 * I/O error or a file that is not a container (errno set, EINVAL for the latter). */
int64_t zr_archive_repair_file(const char *path, int *removed);

#endif
