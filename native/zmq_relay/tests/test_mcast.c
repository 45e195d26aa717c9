/* Unit tests of the multicast sender on loopback (a random 239.255.x.y group, interface
 * 127.0.0.1, TTL 0): a datagram the kernel refuses in the middle of a sendmmsg batch is counted
 * alone and the rest of the batch still goes out; a copied datagram larger than UDP allows
 * is counted and never sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zr_check.h"
#include "zr_mcast.h"

#define TOO_BIG (ZR_MCAST_MAX_DATAGRAM + 1)

/* A member of `group` on 127.0.0.1, bound to an ephemeral port (written to *port). */
static int join(struct in_addr group, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = group};
    struct ip_mreq mreq = {.imr_multiaddr = group};
    int off = 0;
    socklen_t alen = sizeof a;
    inet_pton(AF_INET, "127.0.0.1", &mreq.imr_interface);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off) ||
        getsockname(fd, (struct sockaddr *)&a, &alen)) {
        perror("multicast receiver");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* The first byte of each datagram that arrives within a second of quiet, in order. */
static size_t receive(int fd, uint8_t *firsts, size_t max)
{
    static uint8_t buf[70000];
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n < max && poll(&p, 1, 1000) == 1) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0)
            firsts[n++] = buf[0];
    }
    return n;
}

/* A receiver joined to the group and a sender to it, with the sender's counters. */
typedef struct rig {
    int rx;
    zr_endpoint dest;
    zr_stats st;
    uint64_t sent;
    zr_mcast *m;
} rig;

static void rig_up(rig *r, struct in_addr group)
{
    struct in_addr iface;
    uint16_t port;
    *r = (rig){.rx = join(group, &port)};
    inet_pton(AF_INET, "127.0.0.1", &iface);
    r->dest = (zr_endpoint){.set = 1, .group = group, .port = port};
    snprintf(r->dest.text, sizeof r->dest.text, "%s:%u", inet_ntoa(group), port);
    if (zr_mcast_create(&r->m, &r->dest, iface, 0, 2 * TOO_BIG, &r->sent, &r->st) ||
        zr_mcast_broken(r->m)) {
        fprintf(stderr, "cannot set up the multicast sender\n");
        exit(2);
    }
}

static void rig_down(rig *r)
{
    zr_mcast_destroy(r->m);
    close(r->rx);
}

static void test_one_bad_datagram_in_a_batch(struct in_addr group)
{
    rig r;
    rig_up(&r, group);
    static uint8_t big[TOO_BIG];
    uint8_t small[5][8];
    big[0] = 'X';
    for (int i = 0; i < 5; i++)
        small[i][0] = (uint8_t)('a' + i);
    zr_mcast_queue(r.m, small[0], sizeof small[0]);
    zr_mcast_queue(r.m, small[1], sizeof small[1]);
    zr_mcast_queue(r.m, big, sizeof big);          /* the kernel refuses it: EMSGSIZE */
    zr_mcast_queue(r.m, small[2], sizeof small[2]);
    zr_mcast_queue(r.m, big, sizeof big);
    zr_mcast_queue(r.m, small[3], sizeof small[3]);
    zr_mcast_queue(r.m, small[4], sizeof small[4]);
    zr_mcast_flush(r.m);
    uint8_t got[16];
    size_t n = receive(r.rx, got, sizeof got);
    CHECK(n == 5 && memcmp(got, "abcde", 5) == 0);
    CHECK(r.sent == 5 && zr_mcast_errors(r.m) == 2 && r.st.mcast_errors == 2);
    CHECK(zr_mcast_last_errno(r.m) == EMSGSIZE);
    rig_down(&r);
}

static void test_copy_too_big(struct in_addr group)
{
    rig r;
    rig_up(&r, group);
    static uint8_t big[TOO_BIG];
    big[0] = 'X';
    zr_mcast_queue_copy(r.m, (const uint8_t *)"a", 1);
    zr_mcast_queue_copy(r.m, big, sizeof big);     /* counted at once, never queued */
    CHECK(zr_mcast_errors(r.m) == 1 && zr_mcast_last_errno(r.m) == EMSGSIZE);
    zr_mcast_queue_copy(r.m, big, ZR_MCAST_MAX_DATAGRAM);
    zr_mcast_queue_copy(r.m, (const uint8_t *)"b", 1);
    zr_mcast_flush(r.m);
    uint8_t got[8];
    size_t n = receive(r.rx, got, sizeof got);
    CHECK(n == 3 && got[0] == 'a' && got[1] == 'X' && got[2] == 'b');
    CHECK(r.sent == 3 && zr_mcast_errors(r.m) == 1 && r.st.mcast_errors == 1);
    rig_down(&r);
}

int main(void)
{
    struct in_addr group;
    char text[32];
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(text, sizeof text, "239.255.%d.%d", 1 + rand() % 254, 1 + rand() % 254);
    inet_pton(AF_INET, text, &group);
    test_one_bad_datagram_in_a_batch(group);
    test_copy_too_big(group);
    return zr_check_summary("test_mcast");
}
