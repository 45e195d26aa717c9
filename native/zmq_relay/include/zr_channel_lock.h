/* The channel lock: <data>/run/<channel>.lock, held (flock LOCK_EX|LOCK_NB) for the relay's
 * lifetime, so a second relay for the same channel and data dir refuses to start. */
#ifndef ZR_CHANNEL_LOCK_H
#define ZR_CHANNEL_LOCK_H

#include <stddef.h>

/* Creates <data>/run if needed, takes the lock and writes our pid into the file (a lock file
 * that exists in a read-only data dir is opened read-only: locked, no pid). Returns the
 * descriptor to keep open (close-on-exec), or -1 with one line in err. */
int zr_lock_channel(const char *data_dir, const char *channel, char *err, size_t errlen);

#endif
