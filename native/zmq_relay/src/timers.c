/* Timer work: see zr_timers.h. */
#include "zr_timers.h"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "zr_logfmt.h"
#include "zr_util.h"

#define TICK_NS (5 * 1000000L)                  /* timer period */
#define QUARANTINE_FLUSH_NS (100 * 1000000LL)   /* quarantine written at least this often */

void zr_timers_setup(zr_relay *r)
{
    struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
    r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (r->timer_fd < 0 || timerfd_settime(r->timer_fd, 0, &its, NULL))
        zr_fatal(1, "cannot create the timerfd");
}

/* Prints the archive's fault when it starts and when it ends. */
static void report_archive_state(zr_relay *r)
{
    const char *fault = zr_archive_fault(r->archive);
    char v[200];
    if (fault && !r->fault)
        zr_logline("event=archive_fault channel=%s reason=%s unarchived=%llu", r->cfg.name,
                   zr_lv(v, sizeof v, fault), (unsigned long long)r->stats.unarchived);
    else if (!fault && r->fault) {
        zr_logline("event=archive_resumed channel=%s unarchived=%llu", r->cfg.name,
                   (unsigned long long)r->stats.unarchived);
        r->last_error[0] = '\0';
    }
    r->fault = fault;
}

void zr_timers_flush_quarantine(zr_relay *r)
{
    int err = 0;
    const char *path = NULL, *detail = NULL;
    char v[200], p[1100];
    zr_quarantine_flush(r->quarantine);
    const char *fault = zr_quarantine_fault(r->quarantine, &err, &path, &detail);
    if (fault && err != r->quarantine_err) {
        zr_logline("event=quarantine_fault channel=%s reason=%s path=%s quarantine_dropped=%llu",
                   r->cfg.name, zr_lv(v, sizeof v, fault), zr_lv(p, sizeof p, path),
                   (unsigned long long)r->stats.quarantine_dropped);
        zr_outputs_error(r->outputs, "quarantine", err, path, detail, 0);
    } else if (!fault && r->quarantine_err) {
        zr_logline("event=quarantine_resumed channel=%s quarantine_dropped=%llu", r->cfg.name,
                   (unsigned long long)r->stats.quarantine_dropped);
    }
    r->quarantine_err = fault ? err : 0;
}

void zr_timers_tick(zr_relay *r)
{
    uint64_t expirations;
    if (read(r->timer_fd, &expirations, sizeof expirations) < 0)
        return; /* spurious wake-up */
    int64_t mono = zr_now_ns(CLOCK_MONOTONIC);
    zr_archive_tick(r->archive, mono);
    zr_outputs_tick(r->outputs, mono);
    report_archive_state(r);
    if (mono >= r->next_quarantine_flush) {
        zr_timers_flush_quarantine(r);
        r->next_quarantine_flush = mono + QUARANTINE_FLUSH_NS;
    }
}
