/* Avro zig-zag varints. */
#ifndef ZR_VARINT_H
#define ZR_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define ZR_VARINT_MAX 10

/* Writes the zig-zag varint of v into out (at least ZR_VARINT_MAX bytes); returns its length. */
static inline size_t zr_varint_put(uint8_t *out, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        out[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    out[n++] = (uint8_t)z;
    return n;
}

/* Reads a zig-zag varint from p[0..len). Returns its length, 0 when truncated,
 * -1 when longer than ZR_VARINT_MAX bytes. */
static inline int zr_varint_get(const uint8_t *p, size_t len, int64_t *v)
{
    uint64_t z = 0;
    for (size_t i = 0; i < ZR_VARINT_MAX; i++) {
        if (i >= len)
            return 0;
        z |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return (int)i + 1;
        }
    }
    return -1;
}

#endif
