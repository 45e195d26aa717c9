/* The poll loop: see zr_relay.h. */
#include "zr_relay.h"

#include <poll.h>

#include "zr_datapath.h"
#include "zr_timers.h"

void zr_relay_run(zr_relay *r)
{
    struct pollfd p[3] = {
        {.fd = zr_udp_fd(r->udp), .events = POLLIN},
        {.fd = r->timer_fd, .events = POLLIN},
        {.fd = r->signal_fd, .events = POLLIN},
    };
    for (;;) {
        if (poll(p, 3, -1) < 0)
            continue; /* EINTR: nothing else can fail with valid descriptors */
        if (p[2].revents & POLLIN) {
            /* What was sent before the signal is archived too (bounded under a flood). */
            for (int i = 0; i < 64 && zr_relay_drain(r); i++)
                ;
            return;
        }
        if (p[0].revents & POLLIN)
            zr_relay_drain(r);
        if (p[1].revents & POLLIN)
            zr_timers_tick(r);
    }
}
