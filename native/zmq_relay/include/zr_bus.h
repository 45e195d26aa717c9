/* The relay's bus publisher: one ZeroMQ XPUB socket connected to the bus (the proxy's XSUB).
 * XPUB rather than PUB so that a full queue is visible (ZMQ_XPUB_NODROP: EAGAIN) instead of a
 * silent drop; it speaks the same protocol to the proxy. Sends never block (ZMQ_DONTWAIT).
 * An event that cannot go out (bus unreachable, queue at its high-water mark) is counted in
 * stats->bus_dropped. ZeroMQ reconnects by itself; a socket monitor tells whether the bus is
 * connected. */
#ifndef ZR_BUS_H
#define ZR_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "zr_stats.h"

#define ZR_BUS_HWM 1000                  /* queued messages at most (bounded memory) */
#define ZR_BUS_LINGER_MS 500             /* how long closing may still deliver */
#define ZR_BUS_RECONNECT_MS 100          /* first reconnect delay ... */
#define ZR_BUS_RECONNECT_MAX_MS 1000     /* ... doubling up to this */
#define ZR_BUS_START_WAIT_MS 200         /* create waits this long at most for a subscriber */

typedef struct zr_bus zr_bus;

/* Connects to `endpoint` and waits (at most ZR_BUS_START_WAIT_MS, less when the connection is
 * refused) until the bus subscribes, so that start-up events are not lost to a slow joiner.
 * An unreachable bus is not an error. Returns -1 (message in err) when ZeroMQ refuses the
 * endpoint or cannot create the socket. */
int zr_bus_create(zr_bus **out, const char *endpoint, zr_stats *stats, char *err, size_t errlen);

/* Publishes [topic, head + body] (body may be NULL/0). Never blocks; a drop is counted. */
void zr_bus_send(zr_bus *b, const char *topic, const uint8_t *head, size_t head_len,
                 const uint8_t *body, size_t body_len);

/* Timer work: reads the connection monitor and the subscriptions the bus sent. Returns 1
 * when a new subscription arrived (the bus (re)joined: time to repeat the current state). */
int zr_bus_poll(zr_bus *b);

/* 1 when the bus currently subscribes to a prefix of `topic` (else sending it is wasted:
 * XPUB would filter it out). */
int zr_bus_wants(const zr_bus *b, const char *topic);

/* Why events could not go out since the previous call ("bus unreachable", "bus queue full"),
 * or NULL when all went well and the bus is connected. Resets the interval. */
const char *zr_bus_take_fault(zr_bus *b);

/* Closes the socket, delivering what is queued for at most ZR_BUS_LINGER_MS. */
void zr_bus_destroy(zr_bus *b);

#endif
