#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t bench_stop;

static void on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

void bench_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* a killed bench leaves no tool running */
}

void bench_die(const char *what)
{
    fprintf(stderr, "event=fatal what=\"%s\" error=\"%s\"\n", what, strerror(errno));
    exit(1);
}

long long bench_number(const char *opt, const char *s, long long min, long long max)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "%s: expected a whole number in [%lld, %lld], got '%s'\n", opt, min, max, s);
        exit(2);
    }
    return v;
}

int bench_rx_option(bench_rx_opts *o, const char *opt, const char *v)
{
    if (!strcmp(opt, "--bind"))
        o->ip = v;
    else if (!strcmp(opt, "--port"))
        o->port = (int)bench_number("--port", v, 0, 65535);
    else if (!strcmp(opt, "--rcvbuf"))
        o->rcvbuf = bench_number("--rcvbuf", v, 0, 1LL << 30);
    else
        return 0;
    return 1;
}

struct sockaddr_in bench_addr(const char *ip, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        fprintf(stderr, "not an IPv4 address: '%s'\n", ip);
        exit(2);
    }
    return a;
}

struct sockaddr_in bench_endpoint(const char *opt, const char *s)
{
    char ip[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof ip) {
        fprintf(stderr, "%s: expected ADDR:PORT, got '%s'\n", opt, s);
        exit(2);
    }
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';
    return bench_addr(ip, (int)bench_number(opt, colon + 1, 1, 65535));
}

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_rcvbuf(int fd, long long bytes)
{
    int v = (int)bytes;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) == 0)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0)
        bench_die("SO_RCVBUF");
}

int bench_udp_bind(const char *ip, int port, long long rcvbuf, int *bound_port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        bench_die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    if (rcvbuf > 0)
        set_rcvbuf(fd, rcvbuf);
    struct sockaddr_in a = bench_addr(ip, port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        bench_die("bind");
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *bound_port = ntohs(a.sin_port);
    return fd;
}

void bench_join(int fd, struct in_addr group, const char *iface)
{
    struct ip_mreq m;
    m.imr_multiaddr = group;
    m.imr_interface = bench_addr(iface, 0).sin_addr;
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
        bench_die("IP_ADD_MEMBERSHIP");
    int zero = 0;
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero) != 0)
        bench_die("IP_MULTICAST_ALL");
}

void bench_ready(const char *service, const char *ip, int port)
{
    fprintf(stderr, "event=ready service=%s pid=%d udp=%s:%d\n", service, (int)getpid(), ip, port);
    fflush(stderr);
}
