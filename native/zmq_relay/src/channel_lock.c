/* The channel lock: one relay per channel and data dir. */
#include "zr_channel_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "zr_util.h"

/* Reads the pid the holder wrote, for the message; 0 when unknown. */
static long holder_pid(int fd)
{
    char buf[24] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long pid = 0;
    if (n > 0 && sscanf(buf, "%ld", &pid) != 1)
        pid = 0;
    return pid;
}

static void write_pid(int fd)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    /* The pid is informative only (the flock is the lock): a failed write changes nothing. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0)
        return;
}

int zr_lock_channel(const char *data_dir, const char *channel, char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/run", data_dir) >= (int)sizeof dir ||
        snprintf(path, sizeof path, "%s/%s.lock", dir, channel) >= (int)sizeof path) {
        snprintf(err, errlen, "cannot take the channel lock: data dir path too long");
        return -1;
    }
    int e = zr_mkdir_p(dir);
    if (e) {
        snprintf(err, errlen, "cannot take the channel lock: cannot create %s: %s", dir,
                 strerror(e));
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        /* A read-only data dir: an existing lock file locks as well read-only (flock needs
         * no write access; the pid is then not recorded). */
        int e = errno;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            errno = e;
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot take the channel lock: cannot open %s: %s", path,
                 strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        long pid = holder_pid(fd);
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "channel %s is already relayed for this data dir "
                     "(lock %s held by pid %ld)", channel, path, pid);
        else
            snprintf(err, errlen, "cannot take the channel lock %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    write_pid(fd);
    return fd;
}
