/* blaster: sends Avro records of bench/bench.avsc over UDP with sendmmsg, paced at a given
 * rate of datagrams per second for a given time (--ms). Each datagram carries --records whole
 * records, or as many as fit in --bytes. Prints "sent=N records=R bytes=B seconds=T" on
 * stdout. Bursts last about half a millisecond: the pacing holds over any longer window. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define RECORD_MAX 128
#define N_DOUBLES 11

static size_t put_varint(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

/* One BenchSample: time (long), v0..v10 (double, little-endian), status (int). */
static size_t encode_record(uint8_t *p)
{
    size_t n = put_varint(p, 1700000000123456789LL);
    for (int i = 0; i < N_DOUBLES; i++) {
        double d = 0.25 + 1.5 * i;
        memcpy(p + n, &d, sizeof d); /* x86-64 and aarch64 are little-endian like Avro */
        n += sizeof d;
    }
    return n + put_varint(p + n, 7);
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !bench_stop)
        ;
}

static void send_all(int fd, struct mmsghdr *msgs, int n)
{
    int done = 0;
    while (done < n) {
        int k = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
        if (k < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN))
            continue;
        if (k < 0)
            bench_die("sendmmsg");
        done += k;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: blaster --port P --rate DATAGRAMS_PER_S --ms DURATION_MS "
                    "[--records N | --bytes B] [--host IP]\n");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long long port = 0, rate = 0, duration_ms = 0, records = 1, bytes = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { usage(); return 2; }
        if (!strcmp(argv[i], "--host")) host = v;
        else if (!strcmp(argv[i], "--port")) port = bench_number("--port", v, 1, 65535);
        else if (!strcmp(argv[i], "--rate")) rate = bench_number("--rate", v, 1, 100000000);
        else if (!strcmp(argv[i], "--ms")) duration_ms = bench_number("--ms", v, 1, 3600000);
        else if (!strcmp(argv[i], "--records")) records = bench_number("--records", v, 1, 600);
        else if (!strcmp(argv[i], "--bytes")) bytes = bench_number("--bytes", v, RECORD_MAX, 65000);
        else { usage(); return 2; }
        i++;
    }
    if (!port || !rate || !duration_ms) { usage(); return 2; }

    static uint8_t dgram[65536];
    uint8_t rec[RECORD_MAX];
    size_t reclen = encode_record(rec);
    if (bytes)
        records = bytes / (long long)reclen;
    for (long long r = 0; r < records; r++)
        memcpy(dgram + (size_t)r * reclen, rec, reclen);
    size_t len = (size_t)records * reclen;

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = bench_addr(host, (int)port);
    if (fd < 0)
        bench_die("socket");
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);

    struct iovec iov = {.iov_base = dgram, .iov_len = len};
    static struct mmsghdr msgs[BENCH_BATCH];
    for (int i = 0; i < BENCH_BATCH; i++) {
        msgs[i].msg_hdr.msg_name = &to; /* unconnected: a missing receiver is a loss, not an error */
        msgs[i].msg_hdr.msg_namelen = sizeof to;
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    long long burst = rate / 2000; /* datagrams per half millisecond */
    burst = burst < 1 ? 1 : burst > BENCH_BATCH ? BENCH_BATCH : burst;
    long long total = rate * duration_ms / 1000, sent = 0;
    bench_on_signals();
    int64_t t0 = bench_now_ns();
    while (sent < total && !bench_stop) {
        sleep_until(t0 + (int64_t)((double)sent * 1e9 / (double)rate));
        int n = (int)(total - sent < burst ? total - sent : burst);
        send_all(fd, msgs, n);
        sent += n;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    printf("sent=%lld records=%lld bytes=%lld seconds=%.6f record_bytes=%zu\n", sent,
           sent * records, sent * (long long)len, secs, reclen);
    return 0;
}
