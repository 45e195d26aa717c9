/* UDP multicast sender: queue (by reference, or records packed by copy), then sendmmsg with
 * MSG_DONTWAIT. See zr_mcast.h.
 *
 * Consecutive queued datagrams of one size (the last of a run may be shorter) go to the
 * kernel as one message with UDP generic segmentation offload (UDP_SEGMENT): it makes the same
 * datagrams on the wire, but the send path (route, headers, one buffer) runs once per run
 * instead of once per datagram. A kernel or device that refuses it turns it off for the
 * sender, and the run is sent datagram by datagram. */
#include "zr_mcast.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#define RETRY_NS 1000000000LL           /* set-up retry period */
#define GSO_SEGMENTS 64                 /* most datagrams in one message (UDP_MAX_SEGMENTS) */
#define UDP_IP_HEADERS 28               /* IPv4 + UDP header bytes */

typedef union gso_cmsg {                /* room for one UDP_SEGMENT control message */
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} gso_cmsg;

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
    struct iovec iov[ZR_MCAST_BATCH];
    struct mmsghdr msgs[ZR_MCAST_BATCH]; /* one per run of datagrams sent together */
    size_t first[ZR_MCAST_BATCH];       /* the first datagram (iov index) of each message */
    gso_cmsg cmsg[ZR_MCAST_BATCH];
    size_t gso_max;                     /* largest GSO segment (path MTU - headers); 0: no GSO */
    uint32_t records[ZR_MCAST_BATCH];   /* records in each queued datagram */
    uint8_t *copy;                      /* packed datagrams, back to back */
    size_t copy_cap, copy_used, pack_bytes;
    int open;                           /* iov[n - 1] is a packed datagram open for more */
    int64_t open_since;                 /* CLOCK_MONOTONIC when it was opened */
};

/* GSO when the kernel knows UDP_SEGMENT (set to 0 on the socket: each message asks for its
 * own), for segments that fit the route's MTU (a longer datagram is sent alone). */
static void probe_gso(zr_mcast *m)
{
    int mtu = 0, seg = 0;
    socklen_t len = sizeof mtu;
    m->gso_max = 0;
    if (m->fd >= 0 && !getsockopt(m->fd, IPPROTO_IP, IP_MTU, &mtu, &len) &&
        mtu > UDP_IP_HEADERS && !setsockopt(m->fd, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg))
        m->gso_max = (size_t)mtu - UDP_IP_HEADERS;
}

/* Opens and configures the socket; on failure keeps fd = -1 and remembers errno. The socket
 * is connected to the group (so that IP_MTU tells the route's MTU; the kernel still looks the
 * route up for each message sent to a multicast group, once per GSO run). */
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
    probe_gso(m);
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

/* How many datagrams from iov[i] (of count) one message takes: a run of one size, the last
 * possibly shorter (not empty), within GSO's limits; 1 without GSO. */
static size_t run_length(const zr_mcast *m, size_t i, size_t count)
{
    size_t size = m->iov[i].iov_len, total = size, j = i + 1;
    if (size == 0 || size > m->gso_max)
        return 1;
    while (j < count && j - i < GSO_SEGMENTS && m->iov[j].iov_len <= size &&
           m->iov[j].iov_len > 0 && total + m->iov[j].iov_len <= ZR_MCAST_MAX_DATAGRAM) {
        total += m->iov[j].iov_len;
        if (m->iov[j++].iov_len < size)
            break;
    }
    return j - i;
}

/* Messages for iov[from..count); returns how many. */
static size_t build_messages(zr_mcast *m, size_t from, size_t count)
{
    size_t g = 0;
    for (size_t i = from; i < count; g++) {
        size_t k = run_length(m, i, count);
        struct msghdr *h = &m->msgs[g].msg_hdr;
        *h = (struct msghdr){.msg_iov = &m->iov[i], .msg_iovlen = k};
        m->first[g] = i;
        if (k > 1) {
            uint16_t seg = (uint16_t)m->iov[i].iov_len;
            h->msg_control = m->cmsg[g].buf;
            h->msg_controllen = sizeof m->cmsg[g].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = IPPROTO_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof seg);
            memcpy(CMSG_DATA(c), &seg, sizeof seg);
        }
        i += k;
    }
    m->first[g] = count;
    return g;
}

/* A send error that GSO caused (the kernel or the route's device cannot segment). */
static int gso_refused(int err)
{
    return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

/* Sends iov[from..count) as messages; returns `count`, or the first datagram of a message GSO
 * could not send (GSO is then off: the caller sends again from there). sendmmsg stops at the
 * first message that fails and, when it sent some before, returns their count (the next call
 * then reports that message's error). A full queue drops the rest; any other error (EMSGSIZE...)
 * concerns that message alone: it is counted and the batch goes on after it. */
static size_t send_messages(zr_mcast *m, size_t from, size_t count)
{
    size_t nmsg = build_messages(m, from, count), g = 0;
    while (g < nmsg) {
        int r = sendmmsg(m->fd, m->msgs + g, (unsigned)(nmsg - g), MSG_DONTWAIT);
        int err = r < 0 ? errno : EAGAIN;
        if (r < 0 && err == EINTR)
            continue;
        if (r > 0) {
            for (size_t i = m->first[g]; i < m->first[g + (size_t)r]; i++)
                *m->sent += m->records[i];
            g += (size_t)r;
        } else if (queue_full(err)) {
            count_errors(m, count - m->first[g], err);
            break;
        } else if (m->msgs[g].msg_hdr.msg_controllen && gso_refused(err)) {
            m->gso_max = 0;
            return m->first[g];
        } else {
            count_errors(m, m->first[g + 1] - m->first[g], err);
            g++;
        }
    }
    return count;
}

/* Sends iov[0..count). */
static void send_first(zr_mcast *m, size_t count)
{
    if (m->fd < 0) {
        if (count)
            count_errors(m, count, m->last_errno);
        return;
    }
    for (size_t done = 0; done < count;)
        done = send_messages(m, done, count);
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

int zr_mcast_fd(const zr_mcast *m)
{
    return m->fd;
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
