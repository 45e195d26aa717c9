/* Archive files: their names <channel>-<UTC start>-<seq>.avro, creating one (O_EXCL, flock,
 * header), announcing it once its first block is written, closing it, and the writer's
 * faults (see zr_archive_impl.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "zr_archive_impl.h"
#include "zr_container.h"
#include "zr_util.h"

#define STAMP_LEN 16                     /* YYYYmmddTHHMMSSZ */
#define MAX_NAME_TRIES 1000              /* O_EXCL collisions tolerated before giving up */

void zr_archive_report(zr_archive *a, const char *what, int err, const char *path,
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

void zr_archive_fail(zr_archive *a, int64_t mono, const char *what, int err, const char *path,
                     const char *detail)
{
    zr_archive_report(a, what, err, path, detail, 0);
    set_fault(a, what, err);
    a->broken = 1;
    a->dir_ok = 0;
    a->retry_mono = mono + ZR_ARCHIVE_RETRY_NS;
}

/* ---- names ---- */

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

int64_t zr_archive_highest_seq(const zr_archive *a, char *name, size_t namelen)
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

/* A short write continues once more, which on a regular file then reports why it was
 * short: ENOSPC, EFBIG, EIO... */
int zr_archive_write_all(int fd, struct iovec *iov, int n)
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

int zr_archive_open_file(zr_archive *a, int64_t mono)
{
    int err;
    if (!a->dir_ok && (err = zr_mkdir_p(a->dir)) != 0) {
        zr_archive_fail(a, mono, "mkdir", err, a->dir, "cannot create the archive directory");
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
        zr_archive_fail(a, mono, "open", err, a->path, "cannot create an archive file");
        return -1;
    }
    new_sync(a);
    struct iovec iov = {a->header, a->header_len};
    if ((err = zr_archive_write_all(fd, &iov, 1)) != 0) {
        unlink(a->path);
        close(fd);
        zr_archive_fail(a, mono, "write", err, a->path,
                        "cannot write the file header; file removed");
        return -1;
    }
    a->fd = fd;
    a->open_mono = mono;
    a->info = (zr_file_info){a->path, 0, a->header_len, ZR_NO_TIME, ZR_NO_TIME,
                             ZR_NO_TIME, ZR_NO_TIME};
    return 0;
}

/* From now on the file exists for good, so it is counted and its opened event goes out
 * (with the file as it was opened: header only). */
void zr_archive_announce_file(zr_archive *a)
{
    a->st->files++;
    a->st->archive_bytes += a->header_len;
    if (a->hooks.file_opened)
        a->hooks.file_opened(a->hooks.ctx, &a->info);
}

/* A file without a complete block (its first block failed) was never announced: it is
 * removed without a trace (the archive holds no empty files). */
void zr_archive_close_file(zr_archive *a)
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
