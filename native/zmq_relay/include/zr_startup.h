/* Start and stop of the relay. Start-up (schema, channel lock, UDP bind, archive, outputs,
 * signals, timer) fails with one logfmt line (event=fatal) and a non-zero exit; it ends with
 * the readiness line. Stop closes everything and prints the counters once. */
#ifndef ZR_STARTUP_H
#define ZR_STARTUP_H

#include "zr_relay.h"

/* Everything the poll loop needs, from r->cfg (already parsed); prints the readiness line. */
void zr_relay_start(zr_relay *r);

/* Closes the current archive file, writes the quarantine, publishes the last events, prints
 * event=stopped with the counters and releases everything. */
void zr_relay_stop(zr_relay *r);

#endif
