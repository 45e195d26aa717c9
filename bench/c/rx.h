/* Batched receive (recvmmsg) with the kernel's drop counter (SO_RXQ_OVFL). */
#ifndef BENCH_RX_H
#define BENCH_RX_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common.h"

typedef struct bench_rx {
    int fd;
    struct mmsghdr msgs[BENCH_BATCH];
    struct iovec iov[BENCH_BATCH];
    uint8_t *bufs;                              /* BENCH_BATCH x BENCH_MAX_DGRAM */
    char ctrl[BENCH_BATCH][CMSG_SPACE(sizeof(uint32_t))];
    uint64_t datagrams, bytes;
    uint32_t drops;                             /* kernel drops seen so far (SO_RXQ_OVFL) */
} bench_rx;

/* Allocates the buffers; a receive timeout of timeout_ms lets callers run timers. */
void bench_rx_init(bench_rx *rx, int fd, int timeout_ms);
/* Receives up to BENCH_BATCH datagrams; returns how many (0 on timeout or signal).
 * Datagram i is rx->iov[i].iov_base with length rx->msgs[i].msg_len. */
int bench_rx_batch(bench_rx *rx);
/* Prints "datagrams=N bytes=B drops=D" plus `extra` on stdout. */
void bench_rx_report(const bench_rx *rx, const char *extra);

#endif
