/* Quarantine: rejected datagrams appended, size-capped, to <data>/quarantine/<channel>.bin
 * (entry format in zr_quarantine.h and proto/WIRE.md). Entries are buffered in memory and
 * written on flush; the directory and file are created on demand. Never fatal: what cannot
 * be kept is counted as quarantine_dropped. */
#include "zr_quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zr_util.h"

#define BUF_BYTES (256u * 1024u)   /* several entries of the largest datagram (64 KiB) */
#define ENTRY_HEAD 14              /* u32 length, i64 rx_time, u16 reason */

struct zr_quarantine {
    zr_stats *st;
    char dir[PATH_MAX];
    char path[PATH_MAX + NAME_MAX + 8];
    int fd;                        /* -1 until the first flush opens it (again after an error) */
    uint64_t cap;
    uint64_t size;                 /* bytes in the file */
    uint8_t *buf;
    size_t len;                    /* bytes buffered */
    uint64_t pending;              /* entries buffered */
    int err;                       /* errno of the fault, 0 while writing works */
    int write_fault;               /* the fault is a failed write (else mkdir or open) */
    const char *fault_path;        /* q->dir or q->path */
    const char *detail;            /* what failed, for the error event */
    char reason[128];              /* why, for the status */
};

int zr_quarantine_create(zr_quarantine **out, const char *data_dir, const char *channel,
                         uint64_t cap_bytes, zr_stats *stats)
{
    struct stat st;
    zr_quarantine *q = calloc(1, sizeof *q);
    *out = NULL;
    if (!q || !(q->buf = malloc(BUF_BYTES))) {
        free(q);
        return -1;
    }
    q->st = stats;
    q->fd = -1;
    q->cap = cap_bytes;
    snprintf(q->dir, sizeof q->dir, "%s/quarantine", data_dir);
    snprintf(q->path, sizeof q->path, "%s/%s.bin", q->dir, channel);
    /* The cap holds across restarts: count what earlier runs kept. */
    if (stat(q->path, &st) == 0)
        q->size = (uint64_t)st.st_size;
    *out = q;
    return 0;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void zr_quarantine_add(zr_quarantine *q, int64_t rx_ns, zr_reject reason,
                       const uint8_t *buf, size_t len)
{
    size_t need = ENTRY_HEAD + len;
    if (need > BUF_BYTES || len > UINT32_MAX || q->size + q->len + need > q->cap) {
        q->st->quarantine_dropped++;
        return;
    }
    if (q->len + need > BUF_BYTES)
        zr_quarantine_flush(q);
    uint8_t *p = q->buf + q->len;
    put_le(p, len, 4);
    put_le(p + 4, (uint64_t)rx_ns, 8);
    put_le(p + 12, (uint64_t)reason, 2);
    if (len)
        memcpy(p + ENTRY_HEAD, buf, len);
    q->len += need;
    q->pending++;
}

/* Records a fault: err, the path concerned, what failed and a short reason. Returns -1. */
static int set_fault(zr_quarantine *q, int err, int writing, const char *path,
                     const char *detail)
{
    q->err = err;
    q->write_fault = writing;
    q->fault_path = path;
    q->detail = detail;
    if (err == ENOSPC || err == EDQUOT)
        snprintf(q->reason, sizeof q->reason, "disk full");
    else
        snprintf(q->reason, sizeof q->reason, "%s: %s", detail, strerror(err));
    return -1;
}

static int open_file(zr_quarantine *q)
{
    int err = zr_mkdir_p(q->dir);
    if (err != 0)
        return set_fault(q, err, 0, q->dir, "cannot create the quarantine directory");
    q->fd = open(q->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (q->fd < 0)
        return set_fault(q, errno, 0, q->path, "cannot open the quarantine file");
    return 0;
}

/* Writes the whole buffer; on a short write the file is cut back to its last whole entry. */
static int write_buffer(zr_quarantine *q)
{
    size_t done = 0;
    while (done < q->len) {
        ssize_t w = write(q->fd, q->buf + done, q->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : EIO;
            if (ftruncate(q->fd, (off_t)q->size) != 0)
                q->size += done;   /* left as it is: the cap still counts those bytes */
            return set_fault(q, err, 1, q->path, "cannot write the quarantine file");
        }
        done += (size_t)w;
    }
    return 0;
}

/* Nothing to write: a fault that kept the file from opening is retried, so that it ends
 * when its cause is gone (a write fault ends with the next write that works). */
static int idle_flush(zr_quarantine *q)
{
    if (!q->err)
        return 0;
    if (q->write_fault || open_file(q) != 0)
        return -1;
    q->err = 0;
    return 0;
}

int zr_quarantine_flush(zr_quarantine *q)
{
    if (q->len == 0)
        return idle_flush(q);
    int r = q->fd < 0 ? open_file(q) : 0;
    if (r == 0)
        r = write_buffer(q);
    if (r == 0) {
        q->size += q->len;
        q->st->quarantined += q->pending;
        q->err = 0;
    } else {
        q->st->quarantine_dropped += q->pending;
        if (q->fd >= 0)
            close(q->fd);
        q->fd = -1;              /* reopen (and mkdir) on the next flush */
    }
    q->len = 0;
    q->pending = 0;
    return r;
}

const char *zr_quarantine_fault(const zr_quarantine *q, int *err, const char **path,
                                const char **detail)
{
    if (!q->err)
        return NULL;
    *err = q->err;
    *path = q->fault_path;
    *detail = q->detail;
    return q->reason;
}

void zr_quarantine_destroy(zr_quarantine *q)
{
    if (!q)
        return;
    zr_quarantine_flush(q);
    if (q->fd >= 0)
        close(q->fd);
    free(q->buf);
    free(q);
}
