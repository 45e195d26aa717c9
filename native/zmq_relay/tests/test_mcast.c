/* Unit tests of the multicast sender on loopback (a random 239.255.x.y group, interface
 * 127.0.0.1, TTL 0): a datagram the kernel refuses in the middle of a sendmmsg batch is counted
 * alone and the rest of the batch still goes out; packed records fill datagrams up to the
 * budget exactly, never split, a record over the budget goes alone, budget 0 sends one record
 * per datagram, the open datagram waits for its age, more datagrams than one sendmmsg batch
 * keep their order; a record larger than UDP allows is counted and never sent; runs of
 * datagrams of one size (sent with UDP GSO where the kernel can) arrive as the datagrams
 * queued, whatever their sizes, and one by one where the socket refuses GSO. */
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

#define KEEP 128 /* bytes of each datagram received kept for comparison */

typedef struct gram {
    size_t len;
    uint8_t data[KEEP];
} gram;

/* The datagrams that arrive until `quiet_ms` pass without one (at most max), in order. */
static size_t receive_for(int fd, gram *out, size_t max, int quiet_ms)
{
    static uint8_t buf[70000];
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n < max && poll(&p, 1, quiet_ms) == 1) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0)
            continue;
        out[n].len = (size_t)r;
        memcpy(out[n].data, buf, (size_t)r < KEEP ? (size_t)r : KEEP);
        n++;
    }
    return n;
}

static size_t receive(int fd, gram *out, size_t max)
{
    return receive_for(fd, out, max, 1000);
}

/* 1 when the datagram is exactly `text`. */
static int is(const gram *g, const char *text)
{
    return g->len == strlen(text) && memcmp(g->data, text, g->len) == 0;
}

/* A receiver joined to the group and a sender to it, with the sender's counters. */
typedef struct rig {
    int rx;
    zr_endpoint dest;
    zr_stats st;
    uint64_t sent;
    zr_mcast *m;
} rig;

static void rig_up(rig *r, struct in_addr group, size_t pack_bytes)
{
    struct in_addr iface;
    uint16_t port;
    *r = (rig){.rx = join(group, &port)};
    inet_pton(AF_INET, "127.0.0.1", &iface);
    r->dest = (zr_endpoint){.set = 1, .group = group, .port = port};
    snprintf(r->dest.text, sizeof r->dest.text, "%s:%u", inet_ntoa(group), port);
    if (zr_mcast_create(&r->m, &r->dest, iface, 0, 2 * TOO_BIG, pack_bytes, &r->sent, &r->st) ||
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

static void pack(rig *r, const char *rec, int64_t mono_ns)
{
    zr_mcast_pack(r->m, (const uint8_t *)rec, strlen(rec), mono_ns);
}

static void test_one_bad_datagram_in_a_batch(struct in_addr group)
{
    rig r;
    rig_up(&r, group, 0);
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
    gram got[16];
    size_t n = receive(r.rx, got, 16);
    CHECK(n == 5);
    for (size_t i = 0; i < n && i < 5; i++)
        CHECK(got[i].len == 8 && got[i].data[0] == 'a' + i);
    CHECK(r.sent == 5 && zr_mcast_errors(r.m) == 2 && r.st.mcast_errors == 2);
    CHECK(zr_mcast_last_errno(r.m) == EMSGSIZE);
    rig_down(&r);
}

/* Sizes that make GSO runs and break them: a shorter datagram ends a run, a longer one starts
 * the next, an empty one is sent alone; more than GSO's 64 segments of one size. */
static void test_runs_of_one_size_arrive_as_queued(struct in_addr group)
{
    static const size_t sizes[] = {5, 5, 5, 3, 5, 5, 0, 5, 7, 7, 2, 2, 9, 1, 1, 1};
    enum { NSIZES = sizeof sizes / sizeof sizes[0], SAME = 70, TOTAL = NSIZES + SAME };
    static uint8_t data[TOTAL][16];
    static gram got[TOTAL + 4];
    rig r;
    rig_up(&r, group, 0);
    size_t len[TOTAL];
    for (size_t i = 0; i < TOTAL; i++) {
        len[i] = i < NSIZES ? sizes[i] : 12;
        memset(data[i], (int)('A' + i % 50), sizeof data[i]);
        zr_mcast_queue(r.m, data[i], len[i]);   /* flushes itself after ZR_MCAST_BATCH */
    }
    zr_mcast_flush(r.m);
    size_t n = receive(r.rx, got, TOTAL + 4);
    int ok = n == TOTAL;
    for (size_t i = 0; ok && i < TOTAL; i++)
        ok = got[i].len == len[i] && memcmp(got[i].data, data[i], len[i]) == 0;
    CHECKF(ok, "%zu of %d datagrams arrived as queued", n, TOTAL);
    CHECK(r.sent == TOTAL && zr_mcast_errors(r.m) == 0);
    rig_down(&r);
}

/* A socket that refuses GSO (SO_NO_CHECK: the kernel will not segment without checksums):
 * the run goes out datagram by datagram, nothing is lost or counted as an error. */
static void test_gso_refused_falls_back(struct in_addr group)
{
    rig r;
    rig_up(&r, group, 0);
    int on = 1;
    if (setsockopt(zr_mcast_fd(r.m), SOL_SOCKET, SO_NO_CHECK, &on, sizeof on)) {
        perror("SO_NO_CHECK");
        exit(2);
    }
    uint8_t data[6][4];
    for (int i = 0; i < 6; i++) {
        memset(data[i], 'a' + i, sizeof data[i]);
        zr_mcast_queue(r.m, data[i], i == 5 ? 2 : 4);
    }
    zr_mcast_flush(r.m);
    zr_mcast_queue(r.m, data[0], 4);   /* GSO stays off: these go alone at once */
    zr_mcast_queue(r.m, data[1], 4);
    zr_mcast_flush(r.m);
    gram got[10];
    size_t n = receive(r.rx, got, 10);
    CHECK(n == 8 && is(&got[0], "aaaa") && is(&got[4], "eeee") && is(&got[5], "ff") &&
          is(&got[6], "aaaa") && is(&got[7], "bbbb"));
    CHECK(r.sent == 8 && zr_mcast_errors(r.m) == 0);
    rig_down(&r);
}

/* Budget 10: records fill a datagram to exactly 10 bytes; the next one starts another. */
static void test_pack_exact_fit(struct in_addr group)
{
    rig r;
    rig_up(&r, group, 10);
    const char *recs[] = {"abcd", "efghij", "kl", "mnopqrst", "u"};
    for (int i = 0; i < 5; i++)
        pack(&r, recs[i], 0);
    zr_mcast_flush(r.m);
    gram got[8];
    size_t n = receive(r.rx, got, 8);
    CHECK(n == 3 && is(&got[0], "abcdefghij") && is(&got[1], "klmnopqrst") && is(&got[2], "u"));
    CHECK(r.sent == 5 && zr_mcast_errors(r.m) == 0);
    rig_down(&r);
}

/* A record over the budget closes the open datagram and goes alone; the next one that fits
 * starts a new datagram; a record of exactly the budget goes alone too. */
static void test_pack_larger_than_budget_goes_alone(struct in_addr group)
{
    rig r;
    rig_up(&r, group, 10);
    const char *recs[] = {"ab", "0123456789AB", "cd", "ef", "0123456789", "gh"};
    for (int i = 0; i < 6; i++)
        pack(&r, recs[i], 0);
    zr_mcast_flush(r.m);
    gram got[8];
    size_t n = receive(r.rx, got, 8);
    CHECK(n == 5 && is(&got[0], "ab") && is(&got[1], "0123456789AB") && is(&got[2], "cdef") &&
          is(&got[3], "0123456789") && is(&got[4], "gh"));
    CHECK(r.sent == 6);
    rig_down(&r);
}

static void test_pack_budget_zero_sends_one_record_per_datagram(struct in_addr group)
{
    rig r;
    rig_up(&r, group, 0);
    pack(&r, "a", 0);
    pack(&r, "bc", 0);
    pack(&r, "d", 0);
    zr_mcast_flush(r.m);
    gram got[8];
    size_t n = receive(r.rx, got, 8);
    CHECK(n == 3 && is(&got[0], "a") && is(&got[1], "bc") && is(&got[2], "d"));
    CHECK(r.sent == 3);
    rig_down(&r);
}

/* flush_due sends the closed datagrams at once and the open one when it is old enough; the
 * open one kept goes on taking records. */
static void test_flush_due_waits_for_the_open_datagram(struct in_addr group)
{
    const int64_t ms = 1000000, age = 10 * ms;
    rig r;
    rig_up(&r, group, 8);
    gram got[8];
    pack(&r, "abc", 0);
    zr_mcast_flush_due(r.m, 5 * ms, age);
    CHECK(receive_for(r.rx, got, 8, 200) == 0);   /* 5 ms old: kept */
    pack(&r, "defgh", 6 * ms);                     /* fills it: closed */
    pack(&r, "ijk", 7 * ms);                       /* opens the next */
    zr_mcast_flush_due(r.m, 8 * ms, age);
    size_t n = receive_for(r.rx, got, 8, 200);
    CHECK(n == 1 && is(&got[0], "abcdefgh"));
    pack(&r, "lm", 9 * ms);
    zr_mcast_flush_due(r.m, 16 * ms, age);         /* opened at 7 ms: 9 ms old, kept */
    CHECK(receive_for(r.rx, got, 8, 200) == 0);
    zr_mcast_flush_due(r.m, 17 * ms, age);
    n = receive_for(r.rx, got, 8, 200);
    CHECK(n == 1 && is(&got[0], "ijklm"));
    CHECK(r.sent == 4);
    rig_down(&r);
}

/* More packed datagrams than one sendmmsg batch: every record arrives, in order, each
 * datagram as full as the budget allows. */
static void test_pack_many(struct in_addr group)
{
    enum { RECS = 1000, LEN = 7, BUDGET = 100, PER = BUDGET / LEN };
    rig r;
    rig_up(&r, group, BUDGET);
    static gram got[RECS];
    char rec[16];
    for (int i = 0; i < RECS; i++) {
        snprintf(rec, sizeof rec, "r%06d", i % 1000000);
        pack(&r, rec, 0);
    }
    zr_mcast_flush(r.m);
    size_t n = receive(r.rx, got, RECS);
    CHECK(n == (RECS + PER - 1) / PER && r.sent == RECS && zr_mcast_errors(r.m) == 0);
    int next = 0, ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= got[i].len == (i + 1 < n ? PER * LEN : (RECS % PER) * LEN);
        for (size_t off = 0; off + LEN <= got[i].len; off += LEN, next++) {
            snprintf(rec, sizeof rec, "r%06d", next % 1000000);
            ok &= memcmp(got[i].data + off, rec, LEN) == 0;
        }
    }
    CHECKF(ok && next == RECS, "%d of %d records in order", next, RECS);
    rig_down(&r);
}

static void test_pack_too_big(struct in_addr group)
{
    rig r;
    rig_up(&r, group, 1472);
    static uint8_t big[TOO_BIG];
    big[0] = 'X';
    pack(&r, "a", 0);
    zr_mcast_pack(r.m, big, sizeof big, 0);         /* counted at once, never queued */
    CHECK(zr_mcast_errors(r.m) == 1 && zr_mcast_last_errno(r.m) == EMSGSIZE);
    zr_mcast_pack(r.m, big, ZR_MCAST_MAX_DATAGRAM, 0);
    pack(&r, "b", 0);
    zr_mcast_flush(r.m);
    gram got[8];
    size_t n = receive(r.rx, got, 8);
    CHECK(n == 3 && is(&got[0], "a") && got[1].len == ZR_MCAST_MAX_DATAGRAM &&
          got[1].data[0] == 'X' && is(&got[2], "b"));
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
    test_runs_of_one_size_arrive_as_queued(group);
    test_gso_refused_falls_back(group);
    test_pack_exact_fit(group);
    test_pack_larger_than_budget_goes_alone(group);
    test_pack_budget_zero_sends_one_record_per_datagram(group);
    test_flush_due_waits_for_the_open_datagram(group);
    test_pack_many(group);
    test_pack_too_big(group);
    return zr_check_summary("test_mcast");
}
