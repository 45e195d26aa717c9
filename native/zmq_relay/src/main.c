/* zmq_relay: one channel's UDP datagrams -> validated records -> Avro archive (and quarantine),
 * multicast and bus events.
 *
 * main parses the arguments and starts: start-up (startup.c) fails with one line and a
 * non-zero exit; after the readiness line every fault is counted and reported, never fatal.
 * One poll loop (relay.c) serves the UDP socket, a timer (timers.c: flushes, rotation, status)
 * and a signalfd (SIGTERM/SIGINT). The hot path (datapath.c) allocates nothing, prints nothing
 * and makes no system call per record: recvmmsg reads datagrams in batches, the outputs send
 * with sendmmsg once per batch and the archive writes whole blocks with one writev.
 * --check-schema and --print-archive-schema (schema_cli.c) judge a schema and exit. */
#include <stdio.h>
#include <stdlib.h>

#include "zr_args.h"
#include "zr_logfmt.h"
#include "zr_relay.h"
#include "zr_schema_cli.h"
#include "zr_startup.h"

int main(int argc, char **argv)
{
    static zr_relay r;
    char err[ZR_ERR_LEN];
    int rc = zr_args_parse(&r.cfg, argc, argv, err, sizeof err);
    if (rc == ZR_ARGS_HELP) {
        fputs(zr_args_usage(), stdout);
        return 0;
    }
    if (rc != ZR_ARGS_OK)
        zr_fatal(2, err);
    if (r.cfg.mode != ZR_MODE_RUN)
        return zr_schema_cli(&r.cfg);
    zr_relay_start(&r);
    zr_relay_run(&r);
    zr_relay_stop(&r);
    return 0;
}
