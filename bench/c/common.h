/* Shared helpers of the benchmark programs: option values, endpoints, sockets, signals. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_BATCH 64         /* datagrams per recvmmsg/sendmmsg call */
#define BENCH_MAX_DGRAM 65536  /* largest datagram a receiver takes */

/* Set by SIGTERM/SIGINT (installed without SA_RESTART, so blocking calls return EINTR).
 * bench_on_signals also asks for SIGTERM when the parent (the bench runner) dies. */
extern volatile sig_atomic_t bench_stop;

void bench_on_signals(void);
/* The options every receiver takes: --bind IP, --port P (0: ephemeral), --rcvbuf BYTES
 * (0: the system's default). */
typedef struct bench_rx_opts {
    const char *ip;
    int port;
    long long rcvbuf;
} bench_rx_opts;
#define BENCH_RX_OPTS {"127.0.0.1", 0, 0}

/* Takes `v` as the value of `opt` when opt is a receiver option (exits on a bad value);
 * returns whether it was one. */
int bench_rx_option(bench_rx_opts *o, const char *opt, const char *v);
/* Exits with a usage line when `s` is not a whole number in [min, max]. */
long long bench_number(const char *opt, const char *s, long long min, long long max);
/* "A.B.C.D:PORT" -> address; exits with a clear line when malformed. */
struct sockaddr_in bench_endpoint(const char *opt, const char *s);
struct sockaddr_in bench_addr(const char *ip, int port);
int64_t bench_now_ns(void);
/* UDP socket bound to ip:port (port 0: ephemeral); rcvbuf > 0 forces that buffer size.
 * Exits on failure. Returns the fd and writes the bound port. */
int bench_udp_bind(const char *ip, int port, long long rcvbuf, int *bound_port);
/* Joins `group` on interface `iface` for a socket bound to the group address. */
void bench_join(int fd, struct in_addr group, const char *iface);
/* Prints the readiness line on stderr: event=ready service=NAME pid=... udp=IP:PORT */
void bench_ready(const char *service, const char *ip, int port);
void bench_die(const char *what);

#endif
