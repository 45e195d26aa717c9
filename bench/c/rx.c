#include "rx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_rx_init(bench_rx *rx, int fd, int timeout_ms)
{
    memset(rx, 0, sizeof *rx);
    rx->fd = fd;
    rx->bufs = malloc((size_t)BENCH_BATCH * BENCH_MAX_DGRAM);
    if (!rx->bufs)
        bench_die("malloc");
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        bench_die("SO_RCVTIMEO");
}

static void reset(bench_rx *rx)
{
    for (int i = 0; i < BENCH_BATCH; i++) {
        rx->iov[i].iov_base = rx->bufs + (size_t)i * BENCH_MAX_DGRAM;
        rx->iov[i].iov_len = BENCH_MAX_DGRAM;
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_iov = &rx->iov[i];
        h->msg_iovlen = 1;
        h->msg_control = rx->ctrl[i];
        h->msg_controllen = sizeof rx->ctrl[i];
    }
}

static void note_drops(bench_rx *rx, struct msghdr *h)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
            memcpy(&rx->drops, CMSG_DATA(c), sizeof rx->drops);
}

int bench_rx_batch(bench_rx *rx)
{
    reset(rx);
    int n = recvmmsg(rx->fd, rx->msgs, BENCH_BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        bench_die("recvmmsg");
    }
    for (int i = 0; i < n; i++) {
        rx->bytes += rx->msgs[i].msg_len;
        rx->iov[i].iov_len = rx->msgs[i].msg_len;
    }
    if (n > 0)
        note_drops(rx, &rx->msgs[n - 1].msg_hdr);
    rx->datagrams += (uint64_t)n;
    return n;
}

void bench_rx_report(const bench_rx *rx, const char *extra)
{
    printf("datagrams=%" PRIu64 " bytes=%" PRIu64 " drops=%" PRIu32 "%s%s\n", rx->datagrams,
           rx->bytes, rx->drops, extra && *extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}
