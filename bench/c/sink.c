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
    bench_rx_opts opts = BENCH_RX_OPTS;
    const char *group = NULL, *iface = "127.0.0.1";
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { usage(); return 2; }
        if (bench_rx_option(&opts, argv[i], v)) continue;
        if (!strcmp(argv[i], "--group")) group = v;
        else if (!strcmp(argv[i], "--iface")) iface = v;
        else { usage(); return 2; }
    }
    struct sockaddr_in g;
    char gip[INET_ADDRSTRLEN];
    if (group) {
        g = bench_endpoint("--group", group);
        inet_ntop(AF_INET, &g.sin_addr, gip, sizeof gip);
        opts.ip = gip;
        opts.port = ntohs(g.sin_port);
    }
    bench_on_signals();
    int fd = bench_udp_bind(opts.ip, opts.port, opts.rcvbuf, &opts.port);
    if (group)
        bench_join(fd, g.sin_addr, iface);
    static bench_rx rx;
    bench_rx_init(&rx, fd, 200);
    bench_ready(group ? "listener" : "sink", opts.ip, opts.port);
    while (!bench_stop)
        bench_rx_batch(&rx);
    bench_rx_report(&rx, NULL);
    return 0;
}
