/* copyrelay: the minimal copy relay of the benchmark, the yardstick for the real relay.
 * recvmmsg -> each datagram appended (u32 length + bytes) to a buffered file, written once the
 * buffer is full or every 100 ms -> the same batch sent with one sendmmsg to a multicast group.
 * No validation, no timestamps, no bus. With --gso 1, runs of datagrams of one size (the last
 * may be shorter) go to the kernel as one message with UDP GSO (UDP_SEGMENT), as the relay
 * sends them. On SIGTERM it writes what it holds and prints
 * "datagrams=N bytes=B drops=D forwarded=F written=W" on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "rx.h"

#define FILE_BUF (1 << 20)
#define FLUSH_NS 100000000LL
#define GSO_SEGMENTS 64
#define GSO_MAX_BYTES 65507

typedef struct out {
    int file, mc, gso;
    struct sockaddr_in group;
    uint8_t *buf;
    size_t used;
    uint64_t written, forwarded;
    int64_t flushed_at;
} out;

static void flush_file(out *o)
{
    size_t off = 0;
    while (off < o->used) {
        ssize_t w = write(o->file, o->buf + off, o->used - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            bench_die("write");
        off += (size_t)w;
    }
    o->written += o->used;
    o->used = 0;
    o->flushed_at = bench_now_ns();
}

static void append(out *o, const uint8_t *p, uint32_t len)
{
    if (o->used + sizeof len + len > FILE_BUF)
        flush_file(o);
    memcpy(o->buf + o->used, &len, sizeof len);
    memcpy(o->buf + o->used + sizeof len, p, len);
    o->used += sizeof len + len;
}

/* Datagrams from iov[i] (of n) that one GSO message takes: one size, the last maybe shorter. */
static int run_length(const bench_rx *rx, int i, int n)
{
    size_t size = rx->iov[i].iov_len, total = size;
    int j = i + 1;
    if (size == 0)
        return 1;
    while (j < n && j - i < GSO_SEGMENTS && rx->iov[j].iov_len <= size &&
           rx->iov[j].iov_len > 0 && total + rx->iov[j].iov_len <= GSO_MAX_BYTES) {
        total += rx->iov[j].iov_len;
        if (rx->iov[j++].iov_len < size)
            break;
    }
    return j - i;
}

static void forward(out *o, bench_rx *rx, int n)
{
    static struct mmsghdr tx[BENCH_BATCH];
    static union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } cmsg[BENCH_BATCH];
    static int first[BENCH_BATCH + 1];
    int m = 0;
    for (int i = 0; i < n; m++) {
        int k = o->gso ? run_length(rx, i, n) : 1;
        struct msghdr *h = &tx[m].msg_hdr;
        *h = (struct msghdr){.msg_name = &o->group, .msg_namelen = sizeof o->group,
                             .msg_iov = &rx->iov[i], .msg_iovlen = (size_t)k};
        if (k > 1) {
            uint16_t seg = (uint16_t)rx->iov[i].iov_len;
            h->msg_control = cmsg[m].buf;
            h->msg_controllen = sizeof cmsg[m].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            *c = (struct cmsghdr){.cmsg_level = IPPROTO_UDP, .cmsg_type = UDP_SEGMENT,
                                  .cmsg_len = CMSG_LEN(sizeof seg)};
            memcpy(CMSG_DATA(c), &seg, sizeof seg);
        }
        first[m] = i;
        i += k;
    }
    first[m] = n;
    int sent = sendmmsg(o->mc, tx, (unsigned)m, 0);
    if (sent > 0)
        o->forwarded += (uint64_t)first[sent];
}

static int mcast_socket(const char *iface, long long ttl)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        bench_die("socket");
    struct in_addr ifa = bench_addr(iface, 0).sin_addr;
    unsigned char t = (unsigned char)ttl, loop = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof t) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0)
        bench_die("multicast options");
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: copyrelay --file PATH --mcast GROUP:PORT [--bind IP] [--port P] "
                    "[--rcvbuf BYTES] [--mcast-if IP] [--mcast-ttl N] [--gso 0|1]\n");
}

int main(int argc, char **argv)
{
    bench_rx_opts opts = BENCH_RX_OPTS;
    const char *path = NULL, *group = NULL, *iface = "127.0.0.1";
    long long ttl = 0, gso = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { usage(); return 2; }
        if (bench_rx_option(&opts, argv[i], v)) continue;
        if (!strcmp(argv[i], "--file")) path = v;
        else if (!strcmp(argv[i], "--mcast")) group = v;
        else if (!strcmp(argv[i], "--mcast-if")) iface = v;
        else if (!strcmp(argv[i], "--mcast-ttl")) ttl = bench_number("--mcast-ttl", v, 0, 255);
        else if (!strcmp(argv[i], "--gso")) gso = bench_number("--gso", v, 0, 1);
        else { usage(); return 2; }
    }
    if (!path || !group) { usage(); return 2; }
    out o = {.group = bench_endpoint("--mcast", group), .mc = mcast_socket(iface, ttl),
             .gso = (int)gso};
    o.file = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    o.buf = malloc(FILE_BUF);
    if (o.file < 0 || !o.buf)
        bench_die(path);
    bench_on_signals();
    int fd = bench_udp_bind(opts.ip, opts.port, opts.rcvbuf, &opts.port);
    static bench_rx rx;
    bench_rx_init(&rx, fd, 50);
    bench_ready("copyrelay", opts.ip, opts.port);
    o.flushed_at = bench_now_ns();
    while (!bench_stop) {
        int n = bench_rx_batch(&rx);
        for (int i = 0; i < n; i++)
            append(&o, rx.iov[i].iov_base, rx.msgs[i].msg_len);
        if (n > 0)
            forward(&o, &rx, n);
        if (o.used && bench_now_ns() - o.flushed_at >= FLUSH_NS)
            flush_file(&o);
    }
    flush_file(&o);
    char extra[96];
    snprintf(extra, sizeof extra, "forwarded=%" PRIu64 " written=%" PRIu64, o.forwarded, o.written);
    bench_rx_report(&rx, extra);
    return 0;
}
