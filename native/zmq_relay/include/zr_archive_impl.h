/* Internals of the archive writer, shared by its three files (not for other modules):
 * archive.c (the public API and block writing), archive_file.c (file names, opening,
 * announcing and closing files, faults) and archive_repair.c (repair at start). */
#ifndef ZR_ARCHIVE_IMPL_H
#define ZR_ARCHIVE_IMPL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "zr_archive.h"
#include "zr_stats.h"

#define ZR_ARCHIVE_RETRY_NS 1000000000LL  /* retry a broken archive about once a second */

struct zr_archive {
    zr_archive_hooks hooks;
    zr_stats *st;
    char channel[NAME_MAX + 1];
    char dir[PATH_MAX];          /* <data>/archive/<channel> */
    char path[PATH_MAX + NAME_MAX + 64];  /* file being written (when fd >= 0) */
    int64_t rotate_ns, flush_ns;
    uint64_t rotate_bytes;

    uint8_t *header;             /* encoded once; its last ZR_SYNC_LEN bytes are the sync */
    size_t header_len;

    uint8_t *block;              /* records of the pending block: varint rx_time, record */
    size_t block_cap, block_len;
    int64_t block_count, block_mono;   /* records in it; mono time of its oldest */
    int64_t blk_first_rx, blk_last_rx, blk_first_dev, blk_last_dev;

    int fd;
    int64_t open_mono;
    zr_file_info info;           /* of the file being written: complete blocks only */
    uint64_t next_seq;
    int dir_ok;                  /* archive dir created (or found) since the last failure */

    int broken;                  /* writing failed: records are dropped until a retry works */
    int64_t retry_mono;
    const char *fault;
    char fault_buf[128];
};

/* archive_file.c */

/* Reports a runtime fault through hooks->error. */
void zr_archive_report(zr_archive *a, const char *what, int err, const char *path,
                       const char *detail, int64_t bytes);

/* Reports the fault and enters the broken state: records are counted as unarchived until
 * a retry in zr_archive_tick, about a second after mono. */
void zr_archive_fail(zr_archive *a, int64_t mono, const char *what, int err, const char *path,
                     const char *detail);

/* The highest seq among the channel's archive file names in a->dir (-1 when none), with
 * that file's name in name. */
int64_t zr_archive_highest_seq(const zr_archive *a, char *name, size_t namelen);

/* Writes all of iov; returns 0 or an errno. */
int zr_archive_write_all(int fd, struct iovec *iov, int n);

/* Opens the next file (mkdir as needed, O_EXCL name, flock, header with a new sync).
 * Returns 0, or -1 with the writer broken and nothing left behind. */
int zr_archive_open_file(zr_archive *a, int64_t mono);

/* Counts the file and sends its opened event: called once its first block is written. */
void zr_archive_announce_file(zr_archive *a);

/* Closes the file being written (if any); a file without a complete block is removed. */
void zr_archive_close_file(zr_archive *a);

/* archive_repair.c */

/* Repairs the channel's newest file (name in a->dir, its seq) and reports what it did. */
void zr_archive_repair_newest(zr_archive *a, int64_t seq, const char *name);

#endif
