/* UDP input: recvmmsg batches with kernel receive times and drop counts. */
#include "zr_udp_input.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zr_util.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

/* Room for one SO_TIMESTAMPNS and one SO_RXQ_OVFL control message. */
#define CTRL_LEN (CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t)) + 64)

struct zr_udp {
    int fd;
    int rcvbuf;
    uint32_t ovfl;             /* the kernel's cumulative drop counter, last seen */
    char local[80];
    uint8_t *bufs;             /* ZR_UDP_BATCH * ZR_UDP_MAX */
    struct mmsghdr msgs[ZR_UDP_BATCH];
    struct iovec iov[ZR_UDP_BATCH];
    uint8_t ctrl[ZR_UDP_BATCH][CTRL_LEN];
};

static int set_rcvbuf(int fd, int want)
{
    int got = 0;
    socklen_t len = sizeof got;
    /* SO_RCVBUFFORCE passes net.core.rmem_max when privileged; else the kernel caps SO_RCVBUF. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want))
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len))
        got = 0;
    return got;
}

static void format_local(zr_udp *u, const struct sockaddr_storage *ss)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        port = ntohs(s6->sin6_port);
        snprintf(u->local, sizeof u->local, "[%s]:%d", host, port);
        return;
    }
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    port = ntohs(s4->sin_port);
    snprintf(u->local, sizeof u->local, "%s:%d", host, port);
}

static void init_batch(zr_udp *u)
{
    for (size_t i = 0; i < ZR_UDP_BATCH; i++) {
        u->iov[i].iov_base = u->bufs + i * ZR_UDP_MAX;
        u->iov[i].iov_len = ZR_UDP_MAX;
        memset(&u->msgs[i], 0, sizeof u->msgs[i]);
        u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
        u->msgs[i].msg_hdr.msg_iovlen = 1;
    }
}

/* Creates and binds the socket; returns the fd or -1 with err set. */
static int bind_socket(const char *addr, int port, struct sockaddr_storage *bound, char *err,
                       size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(addr, service, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "cannot bind UDP %s:%d: %s", addr, port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen)) {
        snprintf(err, errlen, "cannot bind UDP %s:%d: %s", addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    socklen_t len = sizeof *bound;
    getsockname(fd, (struct sockaddr *)bound, &len);
    return fd;
}

int zr_udp_open(zr_udp **out, const char *addr, int port, int rcvbuf, char *err, size_t errlen)
{
    struct sockaddr_storage bound = {0};
    int one = 1;
    int fd = bind_socket(addr, port, &bound, err, errlen);
    if (fd < 0)
        return -1;
    zr_udp *u = calloc(1, sizeof *u);
    uint8_t *bufs = malloc((size_t)ZR_UDP_BATCH * ZR_UDP_MAX);
    if (!u || !bufs) {
        snprintf(err, errlen, "cannot allocate the UDP buffers");
        free(u);
        free(bufs);
        close(fd);
        return -1;
    }
    /* Without timestamps we fall back to the batch's clock; without the drop counter we count
     * no kernel drops. Neither stops the relay. */
    (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    u->fd = fd;
    u->bufs = bufs;
    u->rcvbuf = set_rcvbuf(fd, rcvbuf);
    format_local(u, &bound);
    init_batch(u);
    *out = u;
    return 0;
}

int zr_udp_fd(const zr_udp *u)
{
    return u->fd;
}

const char *zr_udp_local(const zr_udp *u)
{
    return u->local;
}

int zr_udp_rcvbuf(const zr_udp *u)
{
    return u->rcvbuf;
}

/* Reads the receive time and drop counter of one message. */
static int64_t read_ctrl(zr_udp *u, struct msghdr *h, int64_t fallback_ns, zr_stats *stats)
{
    int64_t rx = fallback_ns;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SO_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            rx = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        } else if (c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t drops;
            memcpy(&drops, CMSG_DATA(c), sizeof drops);
            stats->kernel_drops += (uint32_t)(drops - u->ovfl);
            u->ovfl = drops;
        }
    }
    return rx;
}

size_t zr_udp_recv(zr_udp *u, zr_datagram dg[ZR_UDP_BATCH], zr_stats *stats)
{
    for (size_t i = 0; i < ZR_UDP_BATCH; i++) {
        u->msgs[i].msg_hdr.msg_control = u->ctrl[i];
        u->msgs[i].msg_hdr.msg_controllen = CTRL_LEN;
    }
    int n;
    do
        n = recvmmsg(u->fd, u->msgs, ZR_UDP_BATCH, MSG_DONTWAIT, NULL);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    int64_t now = zr_now_ns(CLOCK_REALTIME);
    for (int i = 0; i < n; i++) {
        dg[i].data = u->iov[i].iov_base;
        dg[i].len = u->msgs[i].msg_len;
        dg[i].rx_ns = read_ctrl(u, &u->msgs[i].msg_hdr, now, stats);
    }
    return (size_t)n;
}

void zr_udp_close(zr_udp *u)
{
    if (!u)
        return;
    close(u->fd);
    free(u->bufs);
    free(u);
}
