/* The hot path: every datagram the socket holds -> validated -> its records archived and
 * handed to the outputs; a rejected datagram -> quarantine. No allocation, no printing and no
 * system call per record or per datagram: the socket is read in recvmmsg batches, the outputs
 * send with sendmmsg/writev once per batch and the archive writes whole blocks. */
#ifndef ZR_DATAPATH_H
#define ZR_DATAPATH_H

#include "zr_relay.h"

/* Reads what the socket holds, a bounded number of batches so the timer keeps its turn.
 * Returns 1 when more may be waiting. */
int zr_relay_drain(zr_relay *r);

#endif
