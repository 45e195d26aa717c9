/* Avro object container file primitives (Avro 1.x spec, "Object Container Files"):
 * the header ("Obj\x01", metadata map<bytes>, 16-byte sync marker), block framing
 * (record count, byte size, data, sync) and a walker over a file's header and complete
 * blocks, used by repair and by tests. The archive writer (archive.c) builds on these. */
#ifndef ZR_CONTAINER_H
#define ZR_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "zr_varint.h"

#define ZR_SYNC_LEN 16
#define ZR_MAGIC_LEN 4
#define ZR_BLOCK_PREFIX_MAX (2 * ZR_VARINT_MAX)  /* count varint + size varint */
#define ZR_META_KEY_MAX 255                      /* longest key the walker reports */

/* One metadata entry of the header: a UTF-8 key and a byte value. */
typedef struct zr_meta {
    const char *key;
    const void *value;
    size_t len;
} zr_meta;

/* Upper bound of the header's size for these entries (what zr_container_header needs). */
size_t zr_container_header_size(const zr_meta *meta, size_t n);

/* Encodes the header into out (at least zr_container_header_size bytes): magic, the
 * metadata map as one block of n entries, then sync. Returns its exact length; the sync
 * marker is always its last ZR_SYNC_LEN bytes. */
size_t zr_container_header(uint8_t *out, const zr_meta *meta, size_t n,
                           const uint8_t sync[ZR_SYNC_LEN]);

/* Encodes the prefix of a block (count and byte size varints) into out
 * (ZR_BLOCK_PREFIX_MAX bytes); returns its length. */
size_t zr_container_block_prefix(uint8_t *out, int64_t count, int64_t size);

/* Results of the walker. */
enum {
    ZR_CW_IO = -1,      /* read error (errno set) */
    ZR_CW_OK = 0,       /* header parsed */
    ZR_CW_TORN = 1,     /* the file ends inside the header */
    ZR_CW_INVALID = 2,  /* not an Avro container: wrong magic or malformed metadata */
};

/* A walk over one file. After zr_cwalk_header, off is the end of the header; after each
 * block zr_cwalk_next returns, off is the end of that block, i.e. the end of the last
 * complete block. size is the file size when the walk began. */
typedef struct zr_cwalk {
    int fd;
    uint64_t size;
    uint64_t off;
    uint8_t sync[ZR_SYNC_LEN];
} zr_cwalk;

/* A complete block: its record count and where its data lie in the file. */
typedef struct zr_cblock {
    int64_t count;
    uint64_t start;     /* offset of the block's count varint */
    uint64_t data_off;
    uint64_t data_len;
} zr_cblock;

/* Called for each metadata entry: the key (keys longer than ZR_META_KEY_MAX bytes are not
 * reported) and where its value lies in the file (read it with pread if needed). */
typedef void (*zr_meta_fn)(void *ctx, const char *key, size_t keylen,
                           uint64_t value_off, uint64_t value_len);

/* Reads the header of the container open (readable) as fd; fn may be NULL. */
int zr_cwalk_header(zr_cwalk *w, int fd, zr_meta_fn fn, void *ctx);

/* Steps over the next complete block: 1 with *b filled, 0 when no complete block follows
 * (w->off == w->size: the file ends there; w->off < w->size: a torn or corrupt tail from
 * w->off on), ZR_CW_IO on a read error. A block is complete when its count and size are
 * non-negative varints, its data lie inside the file and the header's sync follows them. */
int zr_cwalk_next(zr_cwalk *w, zr_cblock *b);

#endif
