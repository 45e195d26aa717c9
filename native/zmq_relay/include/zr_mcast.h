/* UDP multicast sender of one group (the full-rate or the decimated stream). Datagrams are
 * queued and sent in sendmmsg batches with MSG_DONTWAIT: sending never blocks. A datagram that
 * cannot be sent is counted in stats->mcast_errors; a socket that cannot be set up (e.g. the
 * interface address is not local) is a runtime fault too: its datagrams are counted as errors
 * and the set-up is retried about once a second.
 *
 * Two ways to queue: a datagram by reference (the full-rate stream: the datagram as received),
 * or records packed by copy (the decimated stream): records back to back in one datagram of at
 * most `pack_bytes`, never split; a record that does not fit closes the datagram and starts
 * the next, a record of `pack_bytes` or more goes alone (pack_bytes 0: one record per
 * datagram). The last datagram stays open for more records until it is full or sent.
 *
 * Runs of queued datagrams of one size are sent as one message with UDP GSO where the kernel
 * and the route's device can (the same datagrams on the wire, fewer passes of the send path). */
#ifndef ZR_MCAST_H
#define ZR_MCAST_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "zr_args.h"
#include "zr_stats.h"

#define ZR_MCAST_BATCH 64                /* datagrams per sendmmsg */
#define ZR_MCAST_MAX_DATAGRAM 65507      /* largest UDP payload over IPv4 */

typedef struct zr_mcast zr_mcast;

/* Sender to `dest` on interface `iface` with multicast TTL `ttl` and loopback delivery on.
 * Each datagram sent adds the records it holds to *sent (stats->forwarded: 1 per datagram
 * queued by reference; stats->decimated: the records packed). `copy_bytes` is the room for
 * packed records, allocated here once (0: zr_mcast_pack is not used; else at least twice the
 * largest record), `pack_bytes` the most bytes of records in one datagram (<=
 * ZR_MCAST_MAX_DATAGRAM). Returns -1 only when allocation fails. */
int zr_mcast_create(zr_mcast **out, const zr_endpoint *dest, struct in_addr iface, int ttl,
                    size_t copy_bytes, size_t pack_bytes, uint64_t *sent, zr_stats *stats);

/* Queues a datagram by reference: buf must stay valid until the next zr_mcast_flush. */
void zr_mcast_queue(zr_mcast *m, const uint8_t *buf, size_t len);

/* Packs a copy of one record (see above); `mono_ns` (CLOCK_MONOTONIC) dates a datagram it
 * opens. A record longer than ZR_MCAST_MAX_DATAGRAM or half of copy_bytes (a decimated record
 * can outgrow the datagram it came from) is counted as an error at once. */
void zr_mcast_pack(zr_mcast *m, const uint8_t *rec, size_t len, int64_t mono_ns);

/* Sends everything queued, the open datagram too (one sendmmsg per ZR_MCAST_BATCH
 * datagrams). A datagram the kernel refuses (EMSGSIZE...) is counted and skipped; a full
 * socket queue (EAGAIN, ENOBUFS) drops and counts the rest of the batch. */
void zr_mcast_flush(zr_mcast *m);

/* Sends what is queued, except an open datagram opened less than `max_age_ns` before
 * `mono_ns`: it stays open for more records. */
void zr_mcast_flush_due(zr_mcast *m, int64_t mono_ns, int64_t max_age_ns);

/* Timer work: retries a failed socket set-up about once a second. */
void zr_mcast_tick(zr_mcast *m, int64_t mono_ns);

/* errno of the last failure (set-up or send), 0 when none yet. */
int zr_mcast_last_errno(const zr_mcast *m);

/* Datagrams of this sender not sent so far. */
uint64_t zr_mcast_errors(const zr_mcast *m);

/* 1 while the socket could not be set up. */
int zr_mcast_broken(const zr_mcast *m);

/* The socket (-1 while it could not be set up), for tests that change its options. */
int zr_mcast_fd(const zr_mcast *m);

/* The destination as "GROUP:PORT". */
const char *zr_mcast_dest(const zr_mcast *m);

void zr_mcast_destroy(zr_mcast *m);

#endif
