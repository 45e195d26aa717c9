/* Helpers shared by the archive and quarantine unit tests (archive_util.c). Files are
 * written through the public API into temp dirs and read back twice: with the walker of
 * container.c and with avro-c's avrocat (Debian avro-bin). */
#ifndef ARCHIVE_UTIL_H
#define ARCHIVE_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "zr_archive.h"
#include "zr_container.h"
#include "zr_stats.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define RX0 1700000000000000000LL

/* The archive schema of the test channel: rx_time, time, n (int), s (string). */
extern const char TEST_SCHEMA[];

/* ---- temp dirs and files ---- */

char *make_tmp(char *buf);              /* buf: 64 bytes; exits on failure */
void rm_tree(const char *dir);
int64_t file_size(const char *path);    /* -1 when missing */
void write_file(const char *path, const void *data, size_t len);   /* exits on failure */
uint8_t *read_all(const char *path, size_t *len);                  /* malloc'ed, or NULL */
/* Paths of the .avro files of dir, sorted; returns how many (at most max). */
int list_avro(const char *dir, char names[][PATH_MAX], int max);

/* ---- records of the test schema ---- */

typedef struct rec {
    int64_t rx, time;
    int32_t n;
    char s[16];
} rec;

size_t enc_rec(uint8_t *out, int64_t time, int32_t n);   /* the record without rx_time */
/* Appends record number n: device time 1000 + n, rx_time RX0 + n µs. */
void append_n(zr_archive *a, int64_t mono, int32_t n);

/* ---- reading back with the walker ---- */

typedef struct readback {
    int header;                 /* zr_cwalk_header result */
    int fd;
    char *meta[6];              /* schema, codec, channel, time_field, time_unit, fingerprint */
    uint64_t header_end, end, size;
    size_t nblocks;
    uint64_t ends[4096];        /* end of each complete block */
    rec recs[20000];
    size_t nrecs;
    int bad_block;              /* a block whose records did not decode exactly */
} readback;

/* Reads path's header and complete blocks (appending records to rb when given, else to a
 * new one); free with rb_free. */
readback *read_back(const char *path, readback *rb);
void rb_free(readback *rb);
/* Checks the header metadata against want, in the order of readback.meta; NULL: left out. */
void check_meta(const readback *rb, const char *const want[6]);
/* Runs avrocat on path and checks every record it prints against want[0..n).
 * Returns the number of records printed, -1 when avrocat failed. */
long avrocat_check(const char *path, const rec *want, size_t n);
/* Reads every archive file of dir in order, checks each (whole, with avrocat, holding
 * records); returns the records of all files. */
readback *read_dir(const char *dir, int *nfiles);
/* Checks that rb holds exactly records first .. first + n - 1 as append_n made them. */
void check_in_order(const readback *rb, int32_t first, size_t n);

/* ---- the writer and its events ---- */

typedef struct events {
    int opened, closed, errors;
    zr_file_info closed_info[64];
    char closed_path[64][PATH_MAX];
    char what[64][16];
    int err[64];
    int64_t bytes[64];
    char error_path[64][PATH_MAX];
    char detail[64][256];
} events;

zr_archive_hooks hooks_for(events *ev);              /* clears ev */
/* Channel "ch" of TEST_SCHEMA under data_dir: 60 s / 64 MiB rotation, 100 ms flush. */
zr_archive_config config_for(const char *data_dir);
/* zr_archive_create with hooks recording into ev (cleared) and st (cleared); exits on error. */
zr_archive *create(const zr_archive_config *cfg, events *ev, zr_stats *st);

/* ---- write faults ---- */

/* RLIMIT_FSIZE (SIGXFSZ ignored): a write past the limit is short, then fails with EFBIG. */
void limit_file_size(rlim_t bytes);
void unlimit_file_size(void);

/* Exits 1 with a message when avrocat is not installed. */
void require_avrocat(const char *test);

#endif
