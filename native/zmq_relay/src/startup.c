/* Start and stop of the relay: see zr_startup.h. */
#include "zr_startup.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "zr_archive_hooks.h"
#include "zr_channel_lock.h"
#include "zr_logfmt.h"
#include "zr_timers.h"
#include "zr_util.h"

#define BLOCK_BYTES (64 * 1024) /* archive block size that forces a write */

/* SIGTERM/SIGINT arrive on a signalfd; the parent's death (--die-with-parent) sends SIGTERM. */
static void setup_signals(zr_relay *r)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    r->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (r->signal_fd < 0)
        zr_fatal(1, "cannot create the signalfd");
    if (r->cfg.die_with_parent) {
        pid_t parent = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
            zr_fatal(1, "--die-with-parent: the parent is already gone");
    }
}

static void open_archive(zr_relay *r)
{
    char err[ZR_ERR_LEN] = "out of memory";
    zr_archive_config ac = {
        .data_dir = r->cfg.data_dir,
        .channel = r->cfg.name,
        .schema_text = r->schema.archive_schema,
        .fingerprint = r->cfg.has_fingerprint ? r->cfg.fingerprint_hex : NULL,
        .time_field = r->cfg.time_field,
        .time_unit = r->schema.time_unit,
        .rotate_ns = r->cfg.rotate_ns,
        .rotate_bytes = r->cfg.rotate_bytes,
        .flush_ns = r->cfg.flush_ns,
        .block_bytes = BLOCK_BYTES,
    };
    zr_archive_hooks hooks = zr_archive_hooks_of(r);
    if (zr_archive_create(&r->archive, &ac, &hooks, &r->stats, err, sizeof err))
        zr_fatal(1, err);
    zr_outputs_set_archive(r->outputs, r->archive);
    if (zr_quarantine_create(&r->quarantine, r->cfg.data_dir, r->cfg.name,
                             r->cfg.quarantine_bytes, &r->stats))
        zr_fatal(1, "cannot set up the quarantine (out of memory)");
    zr_outputs_set_quarantine(r->outputs, r->quarantine);
}

static void print_ready(const zr_relay *r)
{
    char dir[1100];
    int eff = zr_udp_rcvbuf(r->udp);
    /* The kernel reports twice the size it was asked for (bookkeeping overhead included). */
    if (eff / 2 < r->cfg.rcvbuf)
        zr_logline("event=rcvbuf_limited channel=%s requested=%d effective=%d", r->cfg.name,
                   r->cfg.rcvbuf, eff);
    zr_logline("event=ready service=relay pid=%ld channel=%s udp=%s mcast_full=%s mcast_dec=%s "
               "data_dir=%s rcvbuf=%d",
               (long)getpid(), r->cfg.name, zr_udp_local(r->udp),
               r->cfg.mcast_full.set ? r->cfg.mcast_full.text : "-",
               r->cfg.mcast_dec.set ? r->cfg.mcast_dec.text : "-",
               zr_lv(dir, sizeof dir, r->cfg.data_dir), eff);
}

void zr_relay_start(zr_relay *r)
{
    char err[ZR_ERR_LEN];
    setup_signals(r);
    if (zr_schema_load(&r->schema, r->cfg.schema_path, r->cfg.time_field, r->cfg.time_unit, err,
                       sizeof err))
        zr_fatal(1, err);
    r->lock_fd = zr_lock_channel(r->cfg.data_dir, r->cfg.name, err, sizeof err);
    if (r->lock_fd < 0)
        zr_fatal(1, err);
    if (zr_udp_open(&r->udp, r->cfg.bind, r->cfg.port, r->cfg.rcvbuf, err, sizeof err))
        zr_fatal(1, err);
    r->recs = calloc(ZR_MAX_RECS, sizeof *r->recs);
    r->fields = calloc(r->schema.nfields + 1, sizeof *r->fields);
    if (!r->recs || !r->fields)
        zr_fatal(1, "out of memory");
    if (zr_outputs_create(&r->outputs, &r->cfg, &r->schema, &r->stats, err, sizeof err))
        zr_fatal(1, err);
    open_archive(r);
    zr_timers_setup(r);
    print_ready(r);
}

/* The counters, once, as the relay stops. */
static void print_stopped(const zr_relay *r)
{
    const zr_stats *s = &r->stats;
    char reasons[600] = "";
    uint64_t rejected = 0;
    size_t used = 0;
    for (int i = 1; i < ZR_REJ__COUNT; i++) {
        rejected += s->rejected[i];
        if (s->rejected[i] && used < sizeof reasons)
            used += (size_t)snprintf(reasons + used, sizeof reasons - used, " rejected.%s=%llu",
                                     zr_reject_name((zr_reject)i),
                                     (unsigned long long)s->rejected[i]);
    }
    zr_logline("event=stopped service=relay pid=%ld channel=%s received=%llu bytes=%llu "
               "records=%llu rejected=%llu kernel_drops=%llu archived=%llu unarchived=%llu "
               "files=%llu quarantined=%llu quarantine_dropped=%llu forwarded=%llu "
               "decimated=%llu mcast_errors=%llu bus_dropped=%llu%s",
               (long)getpid(), r->cfg.name, (unsigned long long)s->received,
               (unsigned long long)s->bytes, (unsigned long long)s->records,
               (unsigned long long)rejected, (unsigned long long)s->kernel_drops,
               (unsigned long long)s->archived, (unsigned long long)s->unarchived,
               (unsigned long long)s->files, (unsigned long long)s->quarantined,
               (unsigned long long)s->quarantine_dropped, (unsigned long long)s->forwarded,
               (unsigned long long)s->decimated, (unsigned long long)s->mcast_errors,
               (unsigned long long)s->bus_dropped, reasons);
}

void zr_relay_stop(zr_relay *r)
{
    zr_archive_close(r->archive);
    zr_timers_flush_quarantine(r);
    zr_outputs_close(r->outputs, zr_now_ns(CLOCK_MONOTONIC));
    print_stopped(r);
    zr_outputs_destroy(r->outputs);
    zr_archive_destroy(r->archive);
    zr_quarantine_destroy(r->quarantine);
    zr_udp_close(r->udp);
    zr_schema_free(&r->schema);
    free(r->recs);
    free(r->fields);
    close(r->timer_fd);
    close(r->signal_fd);
    close(r->lock_fd);
}
