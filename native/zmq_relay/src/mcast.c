/* UDP multicast sender: queue (by reference, or records packed by copy), then sendmmsg with
 * MSG_DONTWAIT. See zr_mcast.h. */
#include "zr_mcast.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RETRY_NS 1000000000LL           /* set-up retry period */

struct zr_mcast {
    int fd;                             /* -1 while the socket could not be set up */
    int last_errno;
    struct sockaddr_in dest;
    struct in_addr iface;
    int ttl;
    char dest_text[32];
    uint64_t *sent;
    zr_stats *stats;
    int64_t next_retry;
    uint64_t errors;                    /* datagrams not sent (also in stats->mcast_errors) */
    size_t n;                           /* datagrams queued */
    struct mmsghdr msgs[ZR_MCAST_BATCH];
    struct iovec iov[ZR_MCAST_BATCH];
    uint32_t records[ZR_MCAST_BATCH];   /* records in each queued datagram */
    uint8_t *copy;                      /* packed datagrams, back to back */
    size_t copy_cap, copy_used, pack_bytes;
    int open;                           /* iov[n - 1] is a packed datagram open for more */
    int64_t open_since;                 /* CLOCK_MONOTONIC when it was opened */
};

/* Opens and configures the socket; on failure keeps fd = -1 and remembers errno.
 * The socket is connected to the group: the kernel then keeps the route, instead of looking
 * it up for every datagram sent. */
static void setup(zr_mcast *m)
{
    unsigned char ttl = (unsigned char)m->ttl, loop = 1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 &&
        (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m->iface, sizeof m->iface) ||
         setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) ||
         setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) ||
         connect(fd, (const struct sockaddr *)&m->dest, sizeof m->dest))) {
        m->last_errno = errno;
        close(fd);
        return;
    }
    if (fd < 0)
        m->last_errno = errno;
    m->fd = fd;
}

int zr_mcast_create(zr_mcast **out, const zr_endpoint *dest, struct in_addr iface, int ttl,
                    size_t copy_bytes, size_t pack_bytes, uint64_t *sent, zr_stats *stats)
{
    zr_mcast *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->copy_cap = copy_bytes;
    m->pack_bytes = pack_bytes;
    m->copy = copy_bytes ? malloc(copy_bytes) : NULL;
    if (copy_bytes && !m->copy) {
        free(m);
        return -1;
    }
    m->fd = -1;
    m->dest = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(dest->port),
                                   .sin_addr = dest->group};
    m->iface = iface;
    m->ttl = ttl;
    snprintf(m->dest_text, sizeof m->dest_text, "%s", dest->text);
    m->sent = sent;
    m->stats = stats;
    for (size_t i = 0; i < ZR_MCAST_BATCH; i++) {
        m->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &m->iov[i], .msg_iovlen = 1};
    }
    setup(m);
    *out = m;
    return 0;
}

static void count_errors(zr_mcast *m, size_t n, int err)
{
    m->errors += n;
    m->stats->mcast_errors += n;
    m->last_errno = err;
}

/* A send error that holds for every datagram after it too (the socket's queue is full). */
static int queue_full(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* Sends iov[0..count). sendmmsg stops at the first datagram that fails and, when it sent
 * some before, returns their count (the next call then reports that datagram's error). A full
 * queue drops the rest; any other error (EMSGSIZE...) concerns that datagram alone: it is
 * counted and the batch goes on after it. */
static void send_first(zr_mcast *m, size_t count)
{
    size_t i = 0;
    if (m->fd < 0 && count) {
        count_errors(m, count, m->last_errno);
        i = count;
    }
    while (i < count) {
        int r = sendmmsg(m->fd, m->msgs + i, (unsigned)(count - i), MSG_DONTWAIT);
        int err = r < 0 ? errno : EAGAIN;
        if (r < 0 && err == EINTR)
            continue;
        if (r > 0) {
            for (int k = 0; k < r; k++)
                *m->sent += m->records[i + (size_t)k];
            i += (size_t)r;
        } else if (queue_full(err)) {
            count_errors(m, count - i, err);
            break;
        } else {
            count_errors(m, 1, err);
            i++;
        }
    }
}

void zr_mcast_flush(zr_mcast *m)
{
    send_first(m, m->n);
    m->n = 0;
    m->copy_used = 0;
    m->open = 0;
}

void zr_mcast_flush_due(zr_mcast *m, int64_t mono_ns, int64_t max_age_ns)
{
    if (!m->open || mono_ns - m->open_since >= max_age_ns) {
        zr_mcast_flush(m);
        return;
    }
    /* the open datagram stays: sent are the ones before it, and it moves to the front */
    struct iovec keep = m->iov[m->n - 1];
    uint32_t records = m->records[m->n - 1];
    send_first(m, m->n - 1);
    memmove(m->copy, keep.iov_base, keep.iov_len);
    m->iov[0] = (struct iovec){.iov_base = m->copy, .iov_len = keep.iov_len};
    m->records[0] = records;
    m->copy_used = keep.iov_len;
    m->n = 1;
}

void zr_mcast_queue(zr_mcast *m, const uint8_t *buf, size_t len)
{
    if (m->n == ZR_MCAST_BATCH)
        zr_mcast_flush(m);
    m->open = 0;
    m->records[m->n] = 1;
    m->iov[m->n++] = (struct iovec){.iov_base = (void *)buf, .iov_len = len};
}

/* Appends the record to the open datagram when it fits there (and in the room left). */
static int append(zr_mcast *m, const uint8_t *rec, size_t len)
{
    if (!m->open)
        return 0;
    struct iovec *last = &m->iov[m->n - 1];
    if (last->iov_len + len > m->pack_bytes || m->copy_cap - m->copy_used < len)
        return 0;
    memcpy(m->copy + m->copy_used, rec, len);
    m->copy_used += len;
    last->iov_len += len;
    m->records[m->n - 1]++;
    m->open = last->iov_len < m->pack_bytes;
    return 1;
}

void zr_mcast_pack(zr_mcast *m, const uint8_t *rec, size_t len, int64_t mono_ns)
{
    if (len > ZR_MCAST_MAX_DATAGRAM || len > m->copy_cap / 2) {
        count_errors(m, 1, EMSGSIZE);
        return;
    }
    if (append(m, rec, len))
        return;
    m->open = 0; /* the record starts a new datagram */
    if (m->n == ZR_MCAST_BATCH || m->copy_cap - m->copy_used < len)
        zr_mcast_flush(m);
    uint8_t *dst = m->copy + m->copy_used;
    memcpy(dst, rec, len);
    m->copy_used += len;
    m->records[m->n] = 1;
    m->iov[m->n++] = (struct iovec){.iov_base = dst, .iov_len = len};
    m->open = len < m->pack_bytes;
    m->open_since = mono_ns;
}

void zr_mcast_tick(zr_mcast *m, int64_t mono_ns)
{
    if (m->fd >= 0 || mono_ns < m->next_retry)
        return;
    m->next_retry = mono_ns + RETRY_NS;
    setup(m);
}

int zr_mcast_last_errno(const zr_mcast *m)
{
    return m->last_errno;
}

uint64_t zr_mcast_errors(const zr_mcast *m)
{
    return m->errors;
}

int zr_mcast_broken(const zr_mcast *m)
{
    return m->fd < 0;
}

const char *zr_mcast_dest(const zr_mcast *m)
{
    return m->dest_text;
}

void zr_mcast_destroy(zr_mcast *m)
{
    if (!m)
        return;
    zr_mcast_flush(m);
    if (m->fd >= 0)
        close(m->fd);
    free(m->copy);
    free(m);
}
