/* Archive writer: records with their rx_time into rolling Avro object container files
 * <data>/archive/<channel>/<channel>-<UTC start>-<seq>.avro (see zr_archive.h and the
 * "Archive" section of ARCHITECTURE.md). One block buffer, allocated at create; a block is
 * written with one writev. A failed write cuts the file back to its last complete block,
 * closes it, and drops records for about a second; then the next record opens a new file.
 * A file is announced (counted, opened event) once its first block is written. */
#include "zr_archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "zr_container.h"
#include "zr_util.h"
#include "zr_varint.h"

#define MIN_BLOCK_BYTES (128u * 1024u)   /* holds any UDP datagram (64 KiB) with room to spare */
#define RETRY_NS 1000000000LL            /* retry a broken archive about once a second */
#define STAMP_LEN 16                     /* YYYYmmddTHHMMSSZ */
#define MAX_NAME_TRIES 1000              /* O_EXCL collisions tolerated before giving up */

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

static void report(zr_archive *a, const char *what, int err, const char *path,
                   const char *detail, int64_t bytes)
{
    if (a->hooks.error)
        a->hooks.error(a->hooks.ctx, what, err, path, detail, bytes);
}

static void set_fault(zr_archive *a, const char *what, int err)
{
    if (err == ENOSPC || err == EDQUOT)
        snprintf(a->fault_buf, sizeof a->fault_buf, "disk full");
    else if (strcmp(what, "mkdir") == 0)
        snprintf(a->fault_buf, sizeof a->fault_buf, "archive dir unwritable: %s", strerror(err));
    else
        snprintf(a->fault_buf, sizeof a->fault_buf, "%s", strerror(err));
    a->fault = a->fault_buf;
}

/* Enters the broken state: records are counted as unarchived until a retry in tick. */
static void fail(zr_archive *a, int64_t mono, const char *what, int err, const char *path,
                 const char *detail)
{
    report(a, what, err, path, detail, 0);
    set_fault(a, what, err);
    a->broken = 1;
    a->dir_ok = 0;
    a->retry_mono = mono + RETRY_NS;
}

/* ---- names and directories ---- */

/* The seq of an archive file name of this channel, or -1 when the name is not one. */
static int64_t name_seq(const char *channel, const char *name)
{
    size_t cl = strlen(channel);
    if (strncmp(name, channel, cl) != 0 || name[cl] != '-')
        return -1;
    const char *p = name + cl + 1;
    if (strlen(p) < STAMP_LEN + 2 || p[8] != 'T' || p[STAMP_LEN - 1] != 'Z' || p[STAMP_LEN] != '-')
        return -1;
    p += STAMP_LEN + 1;
    int64_t seq = 0;
    const char *d = p;
    for (; *d >= '0' && *d <= '9' && d - p < 18; d++)
        seq = seq * 10 + (*d - '0');
    if (d - p < 6 || strcmp(d, ".avro") != 0)
        return -1;
    return seq;
}

/* Finds the highest seq in the channel's directory (-1 when none) and its file name. */
static int64_t highest_seq(const zr_archive *a, char *name, size_t namelen)
{
    int64_t best = -1;
    DIR *d = opendir(a->dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t seq = name_seq(a->channel, e->d_name);
        if (seq > best) {
            best = seq;
            snprintf(name, namelen, "%s", e->d_name);
        }
    }
    closedir(d);
    return best;
}

/* ---- files ---- */

/* Writes all of iov; returns 0 or an errno (a short write continues once more, which on a
 * regular file then reports why it was short: ENOSPC, EFBIG, EIO...). */
static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static void new_sync(zr_archive *a)
{
    uint8_t *sync = a->header + a->header_len - ZR_SYNC_LEN;
    /* GRND_NONBLOCK: early in boot the entropy pool may not be ready, and the relay must not
     * wait for it (EAGAIN falls through to the fallback). */
    if (getrandom(sync, ZR_SYNC_LEN, GRND_NONBLOCK) == ZR_SYNC_LEN)
        return;
    /* No entropy (yet): any marker unlikely to occur in the data will do. */
    uint64_t x = (uint64_t)zr_now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 48);
    for (int i = 0; i < ZR_SYNC_LEN; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        sync[i] = (uint8_t)(x >> 56);
    }
}

/* Creates the next file name with O_EXCL: an existing file is never overwritten. */
static int create_file(zr_archive *a)
{
    char stamp[STAMP_LEN + 1];
    time_t now = (time_t)(zr_now_ns(CLOCK_REALTIME) / ZR_NS_PER_S);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    for (int i = 0; i < MAX_NAME_TRIES; i++, a->next_seq++) {
        snprintf(a->path, sizeof a->path, "%s/%s-%s-%06llu.avro", a->dir, a->channel, stamp,
                 (unsigned long long)a->next_seq);
        int fd = open(a->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST) {
            a->next_seq += fd >= 0;
            return fd;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Opens a new file and writes its header. Returns 0, or -1 with the writer broken. */
static int open_file(zr_archive *a, int64_t mono)
{
    int err;
    if (!a->dir_ok && (err = zr_mkdir_p(a->dir)) != 0) {
        fail(a, mono, "mkdir", err, a->dir, "cannot create the archive directory");
        return -1;
    }
    a->dir_ok = 1;
    int fd = create_file(a);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        err = errno;
        if (fd >= 0) {           /* created by us, still empty: leave nothing behind */
            unlink(a->path);
            close(fd);
        }
        fail(a, mono, "open", err, a->path, "cannot create an archive file");
        return -1;
    }
    new_sync(a);
    struct iovec iov = {a->header, a->header_len};
    if ((err = write_all(fd, &iov, 1)) != 0) {
        unlink(a->path);
        close(fd);
        fail(a, mono, "write", err, a->path, "cannot write the file header; file removed");
        return -1;
    }
    a->fd = fd;
    a->open_mono = mono;
    a->info = (zr_file_info){a->path, 0, a->header_len, ZR_NO_TIME, ZR_NO_TIME,
                             ZR_NO_TIME, ZR_NO_TIME};
    return 0;
}

/* The file's first block is written: from now on it exists for good, so it is counted and
 * its opened event goes out (with the file as it was opened: header only). */
static void announce_file(zr_archive *a)
{
    a->st->files++;
    a->st->archive_bytes += a->header_len;
    if (a->hooks.file_opened)
        a->hooks.file_opened(a->hooks.ctx, &a->info);
}

/* Closes the file being written. A file without a complete block (its first block failed)
 * was never announced: it is removed without a trace (the archive holds no empty files). */
static void close_file(zr_archive *a)
{
    if (a->fd < 0)
        return;
    if (a->info.records == 0)
        unlink(a->path);
    else if (a->hooks.file_closed)
        a->hooks.file_closed(a->hooks.ctx, &a->info);
    close(a->fd);
    a->fd = -1;
}

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
    fail(a, mono, "write", err, a->path, detail);
    close_file(a);
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
    int err = write_all(a->fd, iov, 3);
    if (err) {
        block_failed(a, mono, err);
        return;
    }
    if (a->info.records == 0)
        announce_file(a);
    merge_block_info(a);
    a->info.bytes += total;
    a->st->archived += (uint64_t)a->block_count;
    a->st->archive_bytes += total;
    a->fault = NULL;
    reset_block(a);
    if (a->info.bytes >= a->rotate_bytes)
        close_file(a);
}

static int rotation_due(const zr_archive *a, int64_t mono)
{
    return a->fd >= 0 && mono - a->open_mono >= a->rotate_ns;
}

/* ---- repair ---- */

int64_t zr_archive_repair_file(const char *path)
{
    zr_cwalk w;
    zr_cblock b;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        goto fail;               /* someone is writing it: not ours to cut */
    int r = zr_cwalk_header(&w, fd, NULL, NULL);
    if (r == ZR_CW_IO)
        goto fail;
    if (r == ZR_CW_INVALID) {
        errno = EINVAL;
        goto fail;
    }
    if (r == ZR_CW_TORN) {
        if (unlink(path) != 0)
            goto fail;
        close(fd);
        return (int64_t)w.size;
    }
    while ((r = zr_cwalk_next(&w, &b)) == 1)
        ;
    if (r == ZR_CW_IO || (w.off < w.size && ftruncate(fd, (off_t)w.off) != 0))
        goto fail;
    close(fd);
    return (int64_t)(w.size - w.off);
fail:;
    int err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* Repairs the channel's newest file. Only that one can be torn: files are written one at a
 * time, in increasing seq (the next seq is always above every existing one), and every
 * earlier file was closed whole (a failed write cuts its file back before closing it), so
 * a crash (kill -9, power loss) can only leave the file with the highest seq torn. */
static void repair_newest(zr_archive *a, int64_t seq, const char *name)
{
    char path[PATH_MAX + NAME_MAX + 2];
    char detail[160];
    snprintf(path, sizeof path, "%s/%s", a->dir, name);
    int64_t cut = zr_archive_repair_file(path);
    if (cut < 0) {
        snprintf(detail, sizeof detail, "cannot repair file %06lld: %s", (long long)seq,
                 strerror(errno));
        report(a, "repair", errno, path, detail, 0);
    } else if (cut > 0) {
        int removed = access(path, F_OK) != 0;
        snprintf(detail, sizeof detail, removed ? "torn header: file removed (%lld bytes)"
                 : "torn tail: cut %lld bytes back to the last complete block",
                 (long long)cut);
        report(a, "repair", 0, path, detail, cut);
    }
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
    int64_t seq = highest_seq(a, name, sizeof name);
    if (seq >= 0)
        repair_newest(a, seq, name);
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
        report(a, "write", EMSGSIZE, NULL, "record larger than the archive block buffer", 0);
        return;
    }
    if (rotation_due(a, mono_ns)) {
        write_block(a, mono_ns);
        close_file(a);
    }
    if (a->block_len + need > a->block_cap)
        write_block(a, mono_ns);
    if (a->broken || (a->fd < 0 && open_file(a, mono_ns) != 0)) {
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
        close_file(a);
    }
}

void zr_archive_close(zr_archive *a)
{
    write_block(a, zr_now_ns(CLOCK_MONOTONIC));
    close_file(a);
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
