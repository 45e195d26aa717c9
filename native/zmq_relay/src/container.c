/* Avro object container file primitives: header and block encoding, and a walker that
 * finds the end of a file's last complete block (see zr_container.h). */
#include "zr_container.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t MAGIC[ZR_MAGIC_LEN] = {'O', 'b', 'j', 1};

size_t zr_container_header_size(const zr_meta *meta, size_t n)
{
    size_t size = ZR_MAGIC_LEN + 2 * ZR_VARINT_MAX + ZR_SYNC_LEN;
    for (size_t i = 0; i < n; i++)
        size += 2 * ZR_VARINT_MAX + strlen(meta[i].key) + meta[i].len;
    return size;
}

static size_t put_bytes(uint8_t *out, const void *p, size_t len)
{
    size_t n = zr_varint_put(out, (int64_t)len);
    if (len)
        memcpy(out + n, p, len);
    return n + len;
}

size_t zr_container_header(uint8_t *out, const zr_meta *meta, size_t n,
                           const uint8_t sync[ZR_SYNC_LEN])
{
    size_t p = 0;
    memcpy(out, MAGIC, ZR_MAGIC_LEN);
    p += ZR_MAGIC_LEN;
    if (n) {
        p += zr_varint_put(out + p, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            p += put_bytes(out + p, meta[i].key, strlen(meta[i].key));
            p += put_bytes(out + p, meta[i].value, meta[i].len);
        }
    }
    p += zr_varint_put(out + p, 0);
    memcpy(out + p, sync, ZR_SYNC_LEN);
    return p + ZR_SYNC_LEN;
}

size_t zr_container_block_prefix(uint8_t *out, int64_t count, int64_t size)
{
    size_t n = zr_varint_put(out, count);
    return n + zr_varint_put(out + n, size);
}

/* Reads exactly len bytes at off: 1, or 0 when the file ends first, -1 on error. */
static int read_at(int fd, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        got += (size_t)r;
    }
    return 1;
}

/* Reads the varint at *off (within the walk's size) and advances past it. */
static int read_varint(const zr_cwalk *w, uint64_t *off, int64_t *v)
{
    uint8_t buf[ZR_VARINT_MAX];
    uint64_t left = *off < w->size ? w->size - *off : 0;
    size_t avail = left < ZR_VARINT_MAX ? (size_t)left : ZR_VARINT_MAX;
    int r = read_at(w->fd, *off, buf, avail);
    if (r < 0)
        return ZR_CW_IO;
    if (r == 0)
        return ZR_CW_TORN;
    int n = zr_varint_get(buf, avail, v);
    if (n == 0)
        return ZR_CW_TORN;
    if (n < 0)
        return ZR_CW_INVALID;
    *off += (uint64_t)n;
    return ZR_CW_OK;
}

/* Reads a length varint and checks that many bytes follow it inside the file. */
static int read_length(const zr_cwalk *w, uint64_t *off, uint64_t *len)
{
    int64_t v;
    int r = read_varint(w, off, &v);
    if (r != ZR_CW_OK)
        return r;
    if (v < 0)
        return ZR_CW_INVALID;
    if ((uint64_t)v > w->size - *off)
        return ZR_CW_TORN;
    *len = (uint64_t)v;
    return ZR_CW_OK;
}

static int meta_entry(const zr_cwalk *w, uint64_t *off, zr_meta_fn fn, void *ctx)
{
    char key[ZR_META_KEY_MAX + 1];
    uint64_t klen, vlen;
    int r = read_length(w, off, &klen);
    if (r != ZR_CW_OK)
        return r;
    if (klen <= ZR_META_KEY_MAX && read_at(w->fd, *off, key, (size_t)klen) < 0)
        return ZR_CW_IO;
    *off += klen;
    r = read_length(w, off, &vlen);
    if (r != ZR_CW_OK)
        return r;
    if (fn && klen <= ZR_META_KEY_MAX) {
        key[klen] = '\0';
        fn(ctx, key, (size_t)klen, *off, vlen);
    }
    *off += vlen;
    return ZR_CW_OK;
}

/* The metadata map: blocks of entries ended by a zero count (a negative count is
 * followed by the block's byte size, as in any Avro map). */
static int meta_map(const zr_cwalk *w, uint64_t *off, zr_meta_fn fn, void *ctx)
{
    for (;;) {
        int64_t count, bytes;
        int r = read_varint(w, off, &count);
        if (r != ZR_CW_OK)
            return r;
        if (count == 0)
            return ZR_CW_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return ZR_CW_INVALID;
            count = -count;
            if ((r = read_varint(w, off, &bytes)) != ZR_CW_OK)
                return r;
        }
        for (int64_t i = 0; i < count; i++)
            if ((r = meta_entry(w, off, fn, ctx)) != ZR_CW_OK)
                return r;
    }
}

int zr_cwalk_header(zr_cwalk *w, int fd, zr_meta_fn fn, void *ctx)
{
    struct stat st;
    uint8_t magic[ZR_MAGIC_LEN];
    if (fstat(fd, &st) != 0)
        return ZR_CW_IO;
    w->fd = fd;
    w->size = (uint64_t)st.st_size;
    w->off = 0;
    size_t avail = w->size < ZR_MAGIC_LEN ? (size_t)w->size : ZR_MAGIC_LEN;
    int r = read_at(fd, 0, magic, avail);
    if (r < 0)
        return ZR_CW_IO;
    if (r == 0 || memcmp(magic, MAGIC, avail) != 0)
        return r == 0 ? ZR_CW_TORN : ZR_CW_INVALID;
    if (avail < ZR_MAGIC_LEN)
        return ZR_CW_TORN;
    uint64_t off = ZR_MAGIC_LEN;
    if ((r = meta_map(w, &off, fn, ctx)) != ZR_CW_OK)
        return r;
    if (w->size - off < ZR_SYNC_LEN)
        return ZR_CW_TORN;
    r = read_at(fd, off, w->sync, ZR_SYNC_LEN);
    if (r <= 0)
        return r < 0 ? ZR_CW_IO : ZR_CW_TORN;
    w->off = off + ZR_SYNC_LEN;
    return ZR_CW_OK;
}

int zr_cwalk_next(zr_cwalk *w, zr_cblock *b)
{
    uint64_t off = w->off;
    int64_t count;
    uint64_t len;
    uint8_t sync[ZR_SYNC_LEN];
    int r = read_varint(w, &off, &count);
    if (r == ZR_CW_OK)
        r = read_length(w, &off, &len);
    if (r == ZR_CW_IO)
        return ZR_CW_IO;
    if (r != ZR_CW_OK || count < 0 || w->size - off - len < ZR_SYNC_LEN)
        return 0;
    r = read_at(w->fd, off + len, sync, ZR_SYNC_LEN);
    if (r < 0)
        return ZR_CW_IO;
    if (r == 0 || memcmp(sync, w->sync, ZR_SYNC_LEN) != 0)
        return 0;
    b->count = count;
    b->start = w->off;
    b->data_off = off;
    b->data_len = len;
    w->off = off + len + ZR_SYNC_LEN;
    return 1;
}
