/* sink: the floor of the benchmark. Receives datagrams with recvmmsg and only counts them.
 * With --group it is the multicast listener: it binds the group address and joins it on
 * --iface. On SIGTERM it prints "datagrams=N bytes=B drops=D" on stdout and exits 0. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "rx.h"

static void usage(void)
{
    fprintf(stderr, "usage: sink [--bind IP] [--port P] [--rcvbuf BYTES] "
                    "[--group GROUP:PORT --iface IP]\n");
}

int main(int argc, char **argv)
{
    const char *ip = "127.0.0.1", *group = NULL, *iface = "127.0.0.1";
    int port = 0;
    long long rcvbuf = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { usage(); return 2; }
        if (!strcmp(argv[i], "--bind")) ip = v;
        else if (!strcmp(argv[i], "--port")) port = (int)bench_number("--port", v, 0, 65535);
        else if (!strcmp(argv[i], "--rcvbuf")) rcvbuf = bench_number("--rcvbuf", v, 0, 1LL << 30);
        else if (!strcmp(argv[i], "--group")) group = v;
        else if (!strcmp(argv[i], "--iface")) iface = v;
        else { usage(); return 2; }
        i++;
    }
    struct sockaddr_in g;
    char gip[INET_ADDRSTRLEN];
    if (group) {
        g = bench_endpoint("--group", group);
        inet_ntop(AF_INET, &g.sin_addr, gip, sizeof gip);
        ip = gip;
        port = ntohs(g.sin_port);
    }
    bench_on_signals();
    int fd = bench_udp_bind(ip, port, rcvbuf, &port);
    if (group)
        bench_join(fd, g.sin_addr, iface);
    static bench_rx rx;
    bench_rx_init(&rx, fd, 200);
    bench_ready(group ? "listener" : "sink", ip, port);
    while (!bench_stop)
        bench_rx_batch(&rx);
    bench_rx_report(&rx, NULL);
    return 0;
}
