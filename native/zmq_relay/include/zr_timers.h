/* Timer work, every 5 ms on a timerfd: the archive's flushes and rotation, the outputs' flushes
 * and status, the archive's fault state and the quarantine's writes (every 100 ms). */
#ifndef ZR_TIMERS_H
#define ZR_TIMERS_H

#include "zr_relay.h"

/* Creates r->timer_fd (exits with one line when it cannot). */
void zr_timers_setup(zr_relay *r);

/* One expiry of the timer: the work due now. */
void zr_timers_tick(zr_relay *r);

/* Writes the quarantine; reports its fault when it starts (or its errno changes) on stderr
 * and the bus, and when it ends on stderr (the status shows it while it lasts). */
void zr_timers_flush_quarantine(zr_relay *r);

#endif
