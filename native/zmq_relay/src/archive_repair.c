/* Repair at start: a crash (kill -9, power loss) can leave the file being written torn, or
 * without any complete block. The newest file is cut back to its last complete block, or
 * removed when it has none; either is reported (see zr_archive.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "zr_archive_impl.h"
#include "zr_container.h"

int64_t zr_archive_repair_file(const char *path, int *removed)
{
    zr_cwalk w;
    zr_cblock b;
    int64_t blocks = 0;
    *removed = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        goto fail;               /* someone is writing it: not ours to cut */
    int r = zr_cwalk_header(&w, fd, NULL, NULL);
    if (r == ZR_CW_IO)
        goto fail;
    if (r == ZR_CW_INVALID) {
        errno = EINVAL;
        goto fail;
    }
    if (r == ZR_CW_OK) {
        while ((r = zr_cwalk_next(&w, &b)) == 1)
            blocks++;
        if (r == ZR_CW_IO)
            goto fail;
    }
    if (blocks == 0) {           /* a torn header, or no block written: nothing to keep */
        if (unlink(path) != 0)
            goto fail;
        *removed = 1;
        close(fd);
        return (int64_t)w.size;
    }
    if (w.off < w.size && ftruncate(fd, (off_t)w.off) != 0)
        goto fail;
    close(fd);
    return (int64_t)(w.size - w.off);
fail:;
    int err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* Only the newest file can be torn: files are written one at a time, in increasing seq (the
 * next seq is always above every existing one), and every earlier file was closed whole (a
 * failed write cuts its file back before closing it; a file whose first block fails is
 * removed), so a crash can only leave the file with the highest seq torn or empty. */
void zr_archive_repair_newest(zr_archive *a, int64_t seq, const char *name)
{
    char path[PATH_MAX + NAME_MAX + 2];
    char detail[160];
    int removed;
    snprintf(path, sizeof path, "%s/%s", a->dir, name);
    int64_t cut = zr_archive_repair_file(path, &removed);
    if (cut < 0) {
        int err = errno;
        snprintf(detail, sizeof detail, "cannot repair file %06lld: %s", (long long)seq,
                 strerror(err));
        zr_archive_report(a, "repair", err, path, detail, 0);
    } else if (removed) {
        snprintf(detail, sizeof detail, "no complete block (a crash before its first block "
                 "was whole): file removed (%lld bytes)", (long long)cut);
        zr_archive_report(a, "repair", 0, path, detail, cut);
    } else if (cut > 0) {
        snprintf(detail, sizeof detail,
                 "torn tail: cut %lld bytes back to the last complete block", (long long)cut);
        zr_archive_report(a, "repair", 0, path, detail, cut);
    }
}
