/* zmq_relay: one channel's UDP datagrams -> validated records -> Avro archive (and quarantine).
 *
 * Start-up (arguments, schema, channel lock, UDP bind) fails with one line and a non-zero exit;
 * after the readiness line every fault is counted and reported, never fatal. One poll loop
 * serves the UDP socket, a timer (flushes, rotation) and a signalfd (SIGTERM/SIGINT). The
 * per-datagram path (on_datagram -> on_record) allocates nothing, prints nothing and makes no
 * system call; outputs hook in there and in on_tick. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "zr_archive.h"
#include "zr_args.h"
#include "zr_lock.h"
#include "zr_outputs.h"
#include "zr_quarantine.h"
#include "zr_schema.h"
#include "zr_stats.h"
#include "zr_udp.h"
#include "zr_util.h"
#include "zr_validate.h"
#include "zr_varint.h"

#define TICK_NS (5 * 1000000L)                  /* timer period */
#define QUARANTINE_FLUSH_NS (100 * 1000000LL)   /* quarantine written at least this often */
#define BLOCK_BYTES (64 * 1024)                 /* archive block size that forces a write */
#define MAX_RECS 65536                          /* records one datagram may hold */
#define BATCHES_PER_POLL 16                     /* recvmmsg batches before the timer gets a turn */
#define ERR_LEN 512

typedef struct relay {
    zr_config cfg;
    zr_schema schema;
    zr_stats stats;
    zr_udp *udp;
    zr_archive *archive;
    zr_quarantine *quarantine;
    zr_outputs *outputs;       /* multicast, decimation, bus events */
    int lock_fd, timer_fd, signal_fd;
    zr_span *recs;             /* MAX_RECS: the records of the datagram at hand */
    zr_span *fields;           /* schema.nfields: the fields of the record at hand, when located */
    zr_datagram batch[ZR_UDP_BATCH];
    const char *fault;         /* the archive fault last reported, NULL while writing works */
    int quarantine_err;        /* errno of the quarantine fault last reported, 0 when none */
    int64_t next_quarantine_flush;
    char last_error[128];      /* the archive error last printed (repeats are not printed) */
} relay;

/* ---- logfmt lines on stderr (start-up and rare events only) ---- */

/* s as a logfmt value: bare when it can be, else double-quoted with " and \ escaped. */
static const char *lv(char *out, size_t n, const char *s)
{
    size_t j = 0;
    int bare = *s != '\0' && strcspn(s, " =\"\\\t\n") == strlen(s);
    if (bare) {
        snprintf(out, n, "%s", s);
        return out;
    }
    out[j++] = '"';
    for (; *s && j + 3 < n; s++) {
        if (*s == '"' || *s == '\\')
            out[j++] = '\\';
        out[j++] = *s == '\n' ? ' ' : *s;
    }
    out[j++] = '"';
    out[j] = '\0';
    return out;
}

/* Formats one line and writes it with a single write. */
static void logline(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return; /* nowhere left to report */
}

static void fatal(int code, const char *msg)
{
    char v[ERR_LEN + 8];
    logline("event=fatal service=relay pid=%ld error=%s", (long)getpid(), lv(v, sizeof v, msg));
    exit(code);
}

/* ---- archive hooks: rare events, printed ---- */

static void on_file_opened(void *ctx, const zr_file_info *f)
{
    relay *r = ctx;
    char p[1100];
    logline("event=file_opened channel=%s path=%s", r->cfg.name, lv(p, sizeof p, f->path));
    zr_outputs_file(r->outputs, 1, f);
}

static void on_file_closed(void *ctx, const zr_file_info *f)
{
    relay *r = ctx;
    char p[1100];
    logline("event=file_closed channel=%s path=%s records=%llu bytes=%llu", r->cfg.name,
            lv(p, sizeof p, f->path), (unsigned long long)f->records,
            (unsigned long long)f->bytes);
    zr_outputs_file(r->outputs, 0, f);
}

static void on_archive_error(void *ctx, const char *what, int err, const char *path,
                             const char *detail, int64_t bytes)
{
    relay *r = ctx;
    char key[128], p[1100], d[600], e[200];
    snprintf(key, sizeof key, "%s/%d", what, err);
    if (!strcmp(key, r->last_error))
        return; /* a retry failing the same way: reported once */
    snprintf(r->last_error, sizeof r->last_error, "%s", key);
    logline("event=archive_error channel=%s what=%s err=%s path=%s detail=%s bytes=%lld",
            r->cfg.name, what, lv(e, sizeof e, err ? strerror(err) : "-"),
            lv(p, sizeof p, path ? path : "-"), lv(d, sizeof d, detail ? detail : "-"),
            (long long)bytes);
    zr_outputs_error(r->outputs, what, err, path, detail, bytes);
}

/* ---- the hot path ---- */

/* Device time of a valid record, or ZR_NO_TIME when the channel declares no time field.
 * Uses the record's field spans when they were located (else walks up to the time field). */
static int64_t device_time(const relay *r, const uint8_t *rec, const zr_span *fields)
{
    int64_t v;
    zr_span f;
    if (r->schema.time_field < 0)
        return ZR_NO_TIME;
    if (fields)
        f = fields[r->schema.time_field];
    else
        zr_record_field(&r->schema, rec, (size_t)r->schema.time_field, &f);
    return zr_varint_get(rec + f.off, f.len, &v) > 0 ? v : ZR_NO_TIME;
}

/* The record's fields are located once, and only when the decimator needs them all. */
static void on_record(relay *r, int64_t mono, int64_t rx_ns, const uint8_t *rec, size_t len)
{
    const zr_span *fields = NULL;
    if (zr_outputs_wants_fields(r->outputs)) {
        zr_record_fields(&r->schema, rec, r->fields);
        fields = r->fields;
    }
    zr_archive_append(r->archive, mono, rx_ns, device_time(r, rec, fields), rec, len);
    zr_outputs_record(r->outputs, mono, rx_ns, rec, len, fields);
}

static void on_datagram(relay *r, int64_t mono, const zr_datagram *d)
{
    size_t n = 0;
    const uint8_t *fp = r->cfg.has_fingerprint ? r->cfg.fingerprint : NULL;
    r->stats.received++;
    r->stats.bytes += d->len;
    zr_reject why = zr_validate_datagram(&r->schema, fp, d->data, d->len, r->recs, MAX_RECS, &n);
    if (why != ZR_OK) {
        r->stats.rejected[why]++;
        zr_quarantine_add(r->quarantine, d->rx_ns, why, d->data, d->len);
        return;
    }
    r->stats.records += n;
    zr_outputs_datagram(r->outputs, d->data, d->len);
    for (size_t i = 0; i < n; i++)
        on_record(r, mono, d->rx_ns, d->data + r->recs[i].off, r->recs[i].len);
}

/* Reads what the socket holds, a bounded number of batches so the timer keeps its turn.
 * Returns 1 when more may be waiting. */
static int drain_udp(relay *r)
{
    for (int b = 0; b < BATCHES_PER_POLL; b++) {
        size_t n = zr_udp_recv(r->udp, r->batch, &r->stats);
        if (n == 0)
            return 0;
        int64_t mono = zr_now_ns(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++)
            on_datagram(r, mono, &r->batch[i]);
        zr_outputs_batch_end(r->outputs, mono); /* before the buffers are reused */
        if (n < ZR_UDP_BATCH)
            return 0;
    }
    return 1;
}

/* ---- timer work ---- */

/* Prints the archive's fault when it starts and when it ends. */
static void report_archive_state(relay *r)
{
    const char *fault = zr_archive_fault(r->archive);
    char v[200];
    if (fault && !r->fault)
        logline("event=archive_fault channel=%s reason=%s unarchived=%llu", r->cfg.name,
                lv(v, sizeof v, fault), (unsigned long long)r->stats.unarchived);
    else if (!fault && r->fault) {
        logline("event=archive_resumed channel=%s unarchived=%llu", r->cfg.name,
                (unsigned long long)r->stats.unarchived);
        r->last_error[0] = '\0';
    }
    r->fault = fault;
}

/* Writes the quarantine; reports its fault when it starts (or its errno changes) on stderr
 * and the bus, and when it ends on stderr (the status shows it while it lasts). */
static void flush_quarantine(relay *r)
{
    int err = 0;
    const char *path = NULL, *detail = NULL;
    char v[200], p[1100];
    zr_quarantine_flush(r->quarantine);
    const char *fault = zr_quarantine_fault(r->quarantine, &err, &path, &detail);
    if (fault && err != r->quarantine_err) {
        logline("event=quarantine_fault channel=%s reason=%s path=%s quarantine_dropped=%llu",
                r->cfg.name, lv(v, sizeof v, fault), lv(p, sizeof p, path),
                (unsigned long long)r->stats.quarantine_dropped);
        zr_outputs_error(r->outputs, "quarantine", err, path, detail, 0);
    } else if (!fault && r->quarantine_err) {
        logline("event=quarantine_resumed channel=%s quarantine_dropped=%llu", r->cfg.name,
                (unsigned long long)r->stats.quarantine_dropped);
    }
    r->quarantine_err = fault ? err : 0;
}

static void on_tick(relay *r)
{
    uint64_t expirations;
    if (read(r->timer_fd, &expirations, sizeof expirations) < 0)
        return; /* spurious wake-up */
    int64_t mono = zr_now_ns(CLOCK_MONOTONIC);
    zr_archive_tick(r->archive, mono);
    zr_outputs_tick(r->outputs, mono);
    report_archive_state(r);
    if (mono >= r->next_quarantine_flush) {
        flush_quarantine(r);
        r->next_quarantine_flush = mono + QUARANTINE_FLUSH_NS;
    }
}

/* ---- start and stop ---- */

static void parse_args(relay *r, int argc, char **argv)
{
    char err[ERR_LEN];
    int rc = zr_args_parse(&r->cfg, argc, argv, err, sizeof err);
    if (rc == ZR_ARGS_HELP) {
        fputs(zr_args_usage(), stdout);
        exit(0);
    }
    if (rc != ZR_ARGS_OK)
        fatal(2, err);
}

/* SIGTERM/SIGINT arrive on a signalfd; the parent's death (--die-with-parent) sends SIGTERM. */
static void setup_signals(relay *r)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    r->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (r->signal_fd < 0)
        fatal(1, "cannot create the signalfd");
    if (r->cfg.die_with_parent) {
        pid_t parent = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
            fatal(1, "--die-with-parent: the parent is already gone");
    }
}

static void setup_timer(relay *r)
{
    struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
    r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (r->timer_fd < 0 || timerfd_settime(r->timer_fd, 0, &its, NULL))
        fatal(1, "cannot create the timerfd");
}

static void open_archive(relay *r)
{
    char err[ERR_LEN] = "out of memory";
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
    zr_archive_hooks hooks = {.ctx = r, .file_opened = on_file_opened,
                              .file_closed = on_file_closed, .error = on_archive_error};
    if (zr_archive_create(&r->archive, &ac, &hooks, &r->stats, err, sizeof err))
        fatal(1, err);
    zr_outputs_set_archive(r->outputs, r->archive);
    if (zr_quarantine_create(&r->quarantine, r->cfg.data_dir, r->cfg.name,
                             r->cfg.quarantine_bytes, &r->stats))
        fatal(1, "cannot set up the quarantine (out of memory)");
    zr_outputs_set_quarantine(r->outputs, r->quarantine);
}

static void start(relay *r)
{
    char err[ERR_LEN];
    if (zr_schema_load(&r->schema, r->cfg.schema_path, r->cfg.time_field, r->cfg.time_unit, err,
                       sizeof err))
        fatal(1, err);
    r->lock_fd = zr_lock_channel(r->cfg.data_dir, r->cfg.name, err, sizeof err);
    if (r->lock_fd < 0)
        fatal(1, err);
    if (zr_udp_open(&r->udp, r->cfg.bind, r->cfg.port, r->cfg.rcvbuf, err, sizeof err))
        fatal(1, err);
    r->recs = calloc(MAX_RECS, sizeof *r->recs);
    r->fields = calloc(r->schema.nfields + 1, sizeof *r->fields);
    if (!r->recs || !r->fields)
        fatal(1, "out of memory");
    if (zr_outputs_create(&r->outputs, &r->cfg, &r->schema, &r->stats, err, sizeof err))
        fatal(1, err);
    open_archive(r);
    setup_timer(r);
}

static void print_ready(const relay *r)
{
    char dir[1100];
    int eff = zr_udp_rcvbuf(r->udp);
    /* The kernel reports twice the size it was asked for (bookkeeping overhead included). */
    if (eff / 2 < r->cfg.rcvbuf)
        logline("event=rcvbuf_limited channel=%s requested=%d effective=%d", r->cfg.name,
                r->cfg.rcvbuf, eff);
    logline("event=ready service=relay pid=%ld channel=%s udp=%s mcast_full=%s mcast_dec=%s "
            "data_dir=%s rcvbuf=%d",
            (long)getpid(), r->cfg.name, zr_udp_local(r->udp),
            r->cfg.mcast_full.set ? r->cfg.mcast_full.text : "-",
            r->cfg.mcast_dec.set ? r->cfg.mcast_dec.text : "-",
            lv(dir, sizeof dir, r->cfg.data_dir), eff);
}

/* The counters, once, as the relay stops. */
static void print_stopped(const relay *r)
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
    logline("event=stopped service=relay pid=%ld channel=%s received=%llu bytes=%llu "
            "records=%llu rejected=%llu kernel_drops=%llu archived=%llu unarchived=%llu "
            "files=%llu quarantined=%llu quarantine_dropped=%llu forwarded=%llu decimated=%llu "
            "mcast_errors=%llu bus_dropped=%llu%s",
            (long)getpid(), r->cfg.name, (unsigned long long)s->received,
            (unsigned long long)s->bytes, (unsigned long long)s->records,
            (unsigned long long)rejected, (unsigned long long)s->kernel_drops,
            (unsigned long long)s->archived, (unsigned long long)s->unarchived,
            (unsigned long long)s->files, (unsigned long long)s->quarantined,
            (unsigned long long)s->quarantine_dropped, (unsigned long long)s->forwarded,
            (unsigned long long)s->decimated, (unsigned long long)s->mcast_errors,
            (unsigned long long)s->bus_dropped, reasons);
}

/* The poll loop; returns once SIGTERM or SIGINT arrives. */
static void run(relay *r)
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
            for (int i = 0; i < 64 && drain_udp(r); i++)
                ;
            return;
        }
        if (p[0].revents & POLLIN)
            drain_udp(r);
        if (p[1].revents & POLLIN)
            on_tick(r);
    }
}

static void stop(relay *r)
{
    zr_archive_close(r->archive);
    flush_quarantine(r);
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

int main(int argc, char **argv)
{
    static relay r;
    parse_args(&r, argc, argv);
    setup_signals(&r);
    start(&r);
    print_ready(&r);
    run(&r);
    stop(&r);
    return 0;
}
