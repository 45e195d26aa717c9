/* UDP input: one non-blocking socket read in recvmmsg batches into buffers allocated once,
 * with kernel receive times (SO_TIMESTAMPNS) and kernel drop counts (SO_RXQ_OVFL). */
#ifndef ZR_UDP_INPUT_H
#define ZR_UDP_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "zr_stats.h"

#define ZR_UDP_BATCH 64        /* datagrams per recvmmsg */
#define ZR_UDP_MAX 65536       /* buffer per datagram (the largest UDP payload fits) */

typedef struct zr_datagram {
    const uint8_t *data;       /* valid until the next zr_udp_recv */
    size_t len;
    int64_t rx_ns;             /* kernel receive time, CLOCK_REALTIME ns */
} zr_datagram;

typedef struct zr_udp zr_udp;

/* Binds `addr`:`port` (numeric IPv4 or IPv6; port 0: ephemeral) with a receive buffer of
 * `rcvbuf` bytes if the kernel allows (else the largest it grants). Returns -1 with one line
 * in err when the socket cannot be bound. */
int zr_udp_open(zr_udp **out, const char *addr, int port, int rcvbuf, char *err, size_t errlen);

int zr_udp_fd(const zr_udp *u);

/* The bound address as "ADDR:PORT" ("[ADDR]:PORT" for IPv6) with the actual port. */
const char *zr_udp_local(const zr_udp *u);

/* The effective receive buffer (as the kernel reports it). */
int zr_udp_rcvbuf(const zr_udp *u);

/* Reads up to ZR_UDP_BATCH waiting datagrams into dg[]. Returns how many (0: none waiting).
 * Adds the kernel's drops since the previous batch to stats->kernel_drops. */
size_t zr_udp_recv(zr_udp *u, zr_datagram dg[ZR_UDP_BATCH], zr_stats *stats);

void zr_udp_close(zr_udp *u);

#endif
