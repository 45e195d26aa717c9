/* Archive writer: records with their rx_time into rolling Avro object container files
 * <data>/archive/<channel>/<channel>-<UTC start>-<seq>.avro (see zr_archive.h and the
 * "Archive" section of ARCHITECTURE.md). One block buffer, allocated at create; a block is
 * written with one writev. A failed write cuts the file back to its last complete block,
 * closes it, and drops records for about a second; then the next record opens a new file.
 * A file is announced (counted, opened event) once its first block is written. This file:
 * the public API and block writing; files and names are in archive_file.c, repair at start
 * in archive_repair.c. */
#include "zr_archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zr_archive_impl.h"
#include "zr_container.h"
#include "zr_util.h"
#include "zr_varint.h"

#define MIN_BLOCK_BYTES (128u * 1024u)   /* holds any UDP datagram (64 KiB) with room to spare */

/* ---- blocks ---- */

static void reset_block(zr_archive *a)
{
    a->block_len = 0;
    a->block_count = 0;
}

/* The block could not be written: cut the file back to its last complete block, close it,
 * count the block's records as unarchived, and break until a retry. */
static void block_failed(zr_archive *a, int64_t mono, int err)
{
    char detail[160];
    int64_t lost = a->block_count;
    a->st->unarchived += (uint64_t)lost;
    reset_block(a);
    int cut = ftruncate(a->fd, (off_t)a->info.bytes);
    snprintf(detail, sizeof detail, "%lld records lost; file %s to its last complete block "
             "(%llu bytes)", (long long)lost, cut == 0 ? "cut back" : "NOT cut back",
             (unsigned long long)a->info.bytes);
    zr_archive_fail(a, mono, "write", err, a->path, detail);
    zr_archive_close_file(a);
}

static void merge_block_info(zr_archive *a)
{
    zr_file_info *f = &a->info;
    if (f->records == 0) {
        f->first_rx = a->blk_first_rx;
        f->first_dev = a->blk_first_dev;
    }
    f->last_rx = a->blk_last_rx;
    f->last_dev = a->blk_last_dev;
    f->records += (uint64_t)a->block_count;
}

/* Writes the pending block with one writev: count, size, records, sync. */
static void write_block(zr_archive *a, int64_t mono)
{
    uint8_t prefix[ZR_BLOCK_PREFIX_MAX];
    if (a->block_count == 0 || a->fd < 0)
        return;
    size_t n = zr_container_block_prefix(prefix, a->block_count, (int64_t)a->block_len);
    struct iovec iov[3] = {
        {prefix, n},
        {a->block, a->block_len},
        {a->header + a->header_len - ZR_SYNC_LEN, ZR_SYNC_LEN},
    };
    size_t total = n + a->block_len + ZR_SYNC_LEN;
    int err = zr_archive_write_all(a->fd, iov, 3);
    if (err) {
        block_failed(a, mono, err);
        return;
    }
    if (a->info.records == 0)
        zr_archive_announce_file(a);
    merge_block_info(a);
    a->info.bytes += total;
    a->st->archived += (uint64_t)a->block_count;
    a->st->archive_bytes += total;
    a->fault = NULL;
    reset_block(a);
    if (a->info.bytes >= a->rotate_bytes)
        zr_archive_close_file(a);
}

static int rotation_due(const zr_archive *a, int64_t mono)
{
    return a->fd >= 0 && mono - a->open_mono >= a->rotate_ns;
}

/* ---- public API ---- */

static int build_header(zr_archive *a, const zr_archive_config *cfg)
{
    zr_meta meta[6];
    size_t n = 0;
    meta[n++] = (zr_meta){"avro.schema", cfg->schema_text, strlen(cfg->schema_text)};
    meta[n++] = (zr_meta){"avro.codec", "null", 4};
    meta[n++] = (zr_meta){"speeddata.channel", cfg->channel, strlen(cfg->channel)};
    if (cfg->time_field && cfg->time_field[0])
        meta[n++] = (zr_meta){"speeddata.time_field", cfg->time_field, strlen(cfg->time_field)};
    if (cfg->time_unit && cfg->time_unit[0])
        meta[n++] = (zr_meta){"speeddata.time_unit", cfg->time_unit, strlen(cfg->time_unit)};
    if (cfg->fingerprint && cfg->fingerprint[0])
        meta[n++] = (zr_meta){"speeddata.fingerprint", cfg->fingerprint, strlen(cfg->fingerprint)};
    a->header = malloc(zr_container_header_size(meta, n));
    if (!a->header)
        return -1;
    static const uint8_t zero[ZR_SYNC_LEN];
    a->header_len = zr_container_header(a->header, meta, n, zero);
    return 0;
}

/* <data>/archive/<channel>, made absolute (file events carry absolute paths). */
static int build_dir(zr_archive *a, const zr_archive_config *cfg)
{
    char cwd[PATH_MAX] = "";
    if (cfg->data_dir[0] != '/' && !getcwd(cwd, sizeof cwd))
        return -1;
    int n = snprintf(a->dir, sizeof a->dir, "%s%s%s/archive/%s", cwd, cwd[0] ? "/" : "",
                     cfg->data_dir, cfg->channel);
    /* room for "/<channel>-<stamp>-<seq>.avro" */
    return n < 0 || (size_t)n + strlen(cfg->channel) + 64 >= sizeof a->dir ? -1 : 0;
}

int zr_archive_create(zr_archive **out, const zr_archive_config *cfg,
                      const zr_archive_hooks *hooks, zr_stats *stats, char *err, size_t errlen)
{
    zr_archive *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a) {
        snprintf(err, errlen, "archive: out of memory");
        return -1;
    }
    a->fd = -1;
    a->hooks = *hooks;
    a->st = stats;
    a->rotate_ns = cfg->rotate_ns;
    a->rotate_bytes = cfg->rotate_bytes;
    a->flush_ns = cfg->flush_ns;
    a->block_cap = cfg->block_bytes > MIN_BLOCK_BYTES ? cfg->block_bytes : MIN_BLOCK_BYTES;
    if (strlen(cfg->channel) > NAME_MAX - 32 || build_dir(a, cfg) != 0) {
        snprintf(err, errlen, "archive: path of the archive directory too long");
        free(a);
        return -1;
    }
    snprintf(a->channel, sizeof a->channel, "%s", cfg->channel);
    a->block = malloc(a->block_cap);
    if (!a->block || build_header(a, cfg) != 0) {
        snprintf(err, errlen, "archive: out of memory");
        zr_archive_destroy(a);
        return -1;
    }
    char name[NAME_MAX + 1];
    int64_t seq = zr_archive_highest_seq(a, name, sizeof name);
    if (seq >= 0)
        zr_archive_repair_newest(a, seq, name);
    a->next_seq = (uint64_t)(seq + 1);
    *out = a;
    return 0;
}

void zr_archive_append(zr_archive *a, int64_t mono_ns, int64_t rx_ns, int64_t dev,
                       const uint8_t *rec, size_t len)
{
    size_t need = ZR_VARINT_MAX + len;
    if (need > a->block_cap) {   /* cannot happen for UDP: the block holds 128 KiB at least */
        a->st->unarchived++;
        zr_archive_report(a, "write", EMSGSIZE, NULL,
                          "record larger than the archive block buffer", 0);
        return;
    }
    if (rotation_due(a, mono_ns)) {
        write_block(a, mono_ns);
        zr_archive_close_file(a);
    }
    if (a->block_len + need > a->block_cap)
        write_block(a, mono_ns);
    if (a->broken || (a->fd < 0 && zr_archive_open_file(a, mono_ns) != 0)) {
        a->st->unarchived++;
        return;
    }
    if (a->block_count == 0) {
        a->block_mono = mono_ns;
        a->blk_first_rx = rx_ns;
        a->blk_first_dev = dev;
    }
    a->blk_last_rx = rx_ns;
    a->blk_last_dev = dev;
    a->block_len += zr_varint_put(a->block + a->block_len, rx_ns);
    memcpy(a->block + a->block_len, rec, len);
    a->block_len += len;
    a->block_count++;
    /* Write now if the file reaches its rotation size with this block (its prefix is
     * 2 bytes at least), so files close at rotate_bytes or just above. */
    if (a->info.bytes + 2 + a->block_len + ZR_SYNC_LEN >= a->rotate_bytes)
        write_block(a, mono_ns);
}

void zr_archive_tick(zr_archive *a, int64_t mono_ns)
{
    if (a->broken) {
        if (mono_ns - a->retry_mono >= 0)
            a->broken = 0;       /* the next record opens a file (the fault stays till then) */
        return;
    }
    if (a->block_count && mono_ns - a->block_mono >= a->flush_ns)
        write_block(a, mono_ns);
    if (rotation_due(a, mono_ns)) {
        write_block(a, mono_ns);
        zr_archive_close_file(a);
    }
}

void zr_archive_close(zr_archive *a)
{
    write_block(a, zr_now_ns(CLOCK_MONOTONIC));
    zr_archive_close_file(a);
}

const char *zr_archive_current(const zr_archive *a)
{
    return a->fd >= 0 ? a->path : NULL;
}

const char *zr_archive_fault(const zr_archive *a)
{
    return a->fault;
}

void zr_archive_destroy(zr_archive *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    free(a->block);
    free(a->header);
    free(a);
}
