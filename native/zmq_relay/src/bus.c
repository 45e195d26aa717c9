/* The relay's bus publisher: see zr_bus.h. */
#include "zr_bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "zr_util.h"

#define MONITOR_EVENTS \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_CLOSED)

#define MAX_SUBS 64                     /* distinct subscriptions tracked */
#define MAX_SUB_LEN 128                 /* longer prefixes match none of the relay's topics */

struct zr_bus {
    void *ctx, *pub, *mon;
    zr_stats *stats;
    char subs[MAX_SUBS][MAX_SUB_LEN];   /* the bus's current subscriptions (prefixes) */
    size_t sub_len[MAX_SUBS];
    int nsubs;
    int subs_overflow;                  /* more than MAX_SUBS: assume every topic is wanted */
    int connected;
    int unreachable;                    /* since the last zr_bus_take_fault */
    int queue_full;                     /* since the last zr_bus_take_fault */
};

static int fail(zr_bus *b, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "bus: %s: %s", what, zmq_strerror(zmq_errno()));
    zr_bus_destroy(b);
    return -1;
}

static int set_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value);
}

/* Handles one monitor event (frame 1: u16 event, u32 value; frame 2: endpoint). */
static int read_monitor(zr_bus *b, int flags)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, b->mon, flags) < 0) {
        zmq_msg_close(&msg);
        return 0;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&msg) >= sizeof event)
        memcpy(&event, zmq_msg_data(&msg), sizeof event);
    while (zmq_msg_more(&msg) && zmq_msg_recv(&msg, b->mon, 0) >= 0)
        ; /* the endpoint frame */
    zmq_msg_close(&msg);
    if (event == ZMQ_EVENT_CONNECTED) {
        b->connected = 1;
    } else {
        b->connected = 0;
        b->unreachable = 1;
    }
    return 1;
}

static int find_sub(const zr_bus *b, const char *prefix, size_t len)
{
    for (int i = 0; i < b->nsubs; i++) {
        if (b->sub_len[i] == len && !memcmp(b->subs[i], prefix, len))
            return i;
    }
    return -1;
}

/* Applies one message: byte 1 then a prefix subscribes, byte 0 unsubscribes. XPUB passes on
 * each distinct prefix once, and its unsubscription when the last subscriber of it is gone
 * (a disconnected bus included). */
static void apply_subscription(zr_bus *b, const char *msg, size_t len)
{
    const char *prefix = msg + 1;
    size_t plen = len - 1;
    int at = find_sub(b, prefix, plen);
    if (msg[0] == 0 && at >= 0) {
        b->nsubs--;
        memcpy(b->subs[at], b->subs[b->nsubs], b->sub_len[b->nsubs]);
        b->sub_len[at] = b->sub_len[b->nsubs];
    } else if (msg[0] == 1 && at < 0 && b->nsubs == MAX_SUBS) {
        b->subs_overflow = 1;
    } else if (msg[0] == 1 && at < 0) {
        memcpy(b->subs[b->nsubs], prefix, plen);
        b->sub_len[b->nsubs++] = plen;
    }
}

/* Drains the (un)subscription messages the bus sent; returns 1 when one was a subscription. */
static int read_subscriptions(zr_bus *b)
{
    char buf[MAX_SUB_LEN + 1];
    int got = 0;
    for (int n; (n = zmq_recv(b->pub, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0;) {
        if (n == 0 || (size_t)n > sizeof buf)
            continue; /* empty, or a prefix longer than any topic of the relay */
        apply_subscription(b, buf, (size_t)n);
        got |= buf[0] == 1;
    }
    return got;
}

static int64_t mono_ms(void)
{
    return zr_now_ns(CLOCK_MONOTONIC) / 1000000;
}

/* Waits for the first subscription; gives up early when the connection is refused. */
static void wait_for_subscriber(zr_bus *b)
{
    int64_t deadline = mono_ms() + ZR_BUS_START_WAIT_MS;
    for (int64_t left; (left = deadline - mono_ms()) > 0;) {
        zmq_pollitem_t items[2] = {{b->pub, 0, ZMQ_POLLIN, 0}, {b->mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, (long)left) < 0 && zmq_errno() != EINTR)
            return;
        while (read_monitor(b, ZMQ_DONTWAIT))
            ;
        if (read_subscriptions(b) || b->unreachable)
            return;
    }
}

int zr_bus_create(zr_bus **out, const char *endpoint, zr_stats *stats, char *err, size_t errlen)
{
    char mon_ep[64];
    zr_bus *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "bus: out of memory");
        return -1;
    }
    b->stats = stats;
    b->ctx = zmq_ctx_new();
    if (!b->ctx)
        return fail(b, err, errlen, "context");
    b->pub = zmq_socket(b->ctx, ZMQ_XPUB);
    if (!b->pub || set_int(b->pub, ZMQ_SNDHWM, ZR_BUS_HWM) ||
        set_int(b->pub, ZMQ_LINGER, ZR_BUS_LINGER_MS) || set_int(b->pub, ZMQ_XPUB_NODROP, 1) ||
        set_int(b->pub, ZMQ_IMMEDIATE, 1) ||
        set_int(b->pub, ZMQ_RECONNECT_IVL, ZR_BUS_RECONNECT_MS) ||
        set_int(b->pub, ZMQ_RECONNECT_IVL_MAX, ZR_BUS_RECONNECT_MAX_MS))
        return fail(b, err, errlen, "socket");
    snprintf(mon_ep, sizeof mon_ep, "inproc://zr-bus-monitor-%p", (void *)b);
    if (zmq_socket_monitor(b->pub, mon_ep, MONITOR_EVENTS))
        return fail(b, err, errlen, "monitor");
    b->mon = zmq_socket(b->ctx, ZMQ_PAIR);
    if (!b->mon || set_int(b->mon, ZMQ_LINGER, 0) || zmq_connect(b->mon, mon_ep))
        return fail(b, err, errlen, "monitor");
    if (zmq_connect(b->pub, endpoint))
        return fail(b, err, errlen, endpoint);
    wait_for_subscriber(b);
    *out = b;
    return 0;
}

static void drop(zr_bus *b)
{
    b->stats->bus_dropped++;
}

void zr_bus_send(zr_bus *b, const char *topic, const uint8_t *head, size_t head_len,
                 const uint8_t *body, size_t body_len)
{
    zmq_msg_t msg;
    if (!b->connected) {
        b->unreachable = 1;
        drop(b);
        return;
    }
    if (zmq_send(b->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        b->queue_full |= zmq_errno() == EAGAIN;
        drop(b);
        return;
    }
    /* The first frame went out, so the second is accepted: ZeroMQ checks the HWM per message. */
    if (zmq_msg_init_size(&msg, head_len + body_len)) {
        zmq_send(b->pub, "", 0, ZMQ_DONTWAIT); /* complete the message with an empty payload */
        drop(b);
        return;
    }
    memcpy(zmq_msg_data(&msg), head, head_len);
    if (body_len)
        memcpy((uint8_t *)zmq_msg_data(&msg) + head_len, body, body_len);
    if (zmq_msg_send(&msg, b->pub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        drop(b);
    }
}

int zr_bus_poll(zr_bus *b)
{
    while (read_monitor(b, ZMQ_DONTWAIT))
        ;
    return read_subscriptions(b);
}

int zr_bus_wants(const zr_bus *b, const char *topic)
{
    size_t len = strlen(topic);
    if (b->subs_overflow)
        return 1;
    for (int i = 0; i < b->nsubs; i++) {
        if (b->sub_len[i] <= len && !memcmp(b->subs[i], topic, b->sub_len[i]))
            return 1;
    }
    return 0;
}

const char *zr_bus_take_fault(zr_bus *b)
{
    const char *why = NULL;
    if (b->unreachable || !b->connected)
        why = "bus unreachable";
    else if (b->queue_full)
        why = "bus queue full";
    b->unreachable = 0;
    b->queue_full = 0;
    return why;
}

void zr_bus_destroy(zr_bus *b)
{
    if (!b)
        return;
    if (b->pub) {
        zmq_socket_monitor(b->pub, NULL, 0);
        zmq_close(b->pub);
    }
    if (b->mon)
        zmq_close(b->mon);
    if (b->ctx)
        zmq_ctx_term(b->ctx);
    free(b);
}
