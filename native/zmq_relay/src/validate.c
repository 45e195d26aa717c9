/* validate: checks every record of a datagram against the channel schema (the hot path: no
 * allocation, no printing, no syscalls). Each check returns the position after the value it
 * read, or NULL with the reason in the context. */
#include "zr_validate.h"

#include <string.h>

#include "zr_varint.h"

#define SO_HEADER 10 /* C3 01 + 8 fingerprint bytes */

typedef struct vctx {
    const uint8_t *end;
    uint64_t items; /* items the datagram may still declare (ZR_MAX_ITEMS) */
    zr_reject err;
} vctx;

static const char *const reject_names[ZR_REJ__COUNT] = {
    [ZR_OK] = "ok",
    [ZR_REJ_EMPTY] = "empty",
    [ZR_REJ_TRUNCATED] = "truncated",
    [ZR_REJ_VARINT] = "varint",
    [ZR_REJ_INT_RANGE] = "int_range",
    [ZR_REJ_BOOLEAN] = "boolean",
    [ZR_REJ_LENGTH] = "length",
    [ZR_REJ_UTF8] = "utf8",
    [ZR_REJ_UNION] = "union",
    [ZR_REJ_ENUM] = "enum",
    [ZR_REJ_DEPTH] = "depth",
    [ZR_REJ_TRAILING] = "trailing",
    [ZR_REJ_TOO_MANY] = "too_many",
    [ZR_REJ_ITEMS] = "items",
};

const char *zr_reject_name(zr_reject r)
{
    return (unsigned)r < ZR_REJ__COUNT ? reject_names[r] : "unknown";
}

static const uint8_t *fail(vctx *v, zr_reject r)
{
    v->err = r;
    return NULL;
}

/* A varint of 2..10 bytes; the tenth byte may only carry bit 63. */
static const uint8_t *get_long_slow(vctx *v, const uint8_t *p, int64_t *out)
{
    size_t avail = (size_t)(v->end - p);
    uint64_t z = 0;
    for (size_t i = 0; i < ZR_VARINT_MAX; i++) {
        if (i == avail)
            return fail(v, ZR_REJ_TRUNCATED);
        uint8_t b = p[i];
        z |= (uint64_t)(b & 0x7f) << (7 * i);
        if (i == ZR_VARINT_MAX - 1 && b > 1)
            return fail(v, ZR_REJ_VARINT);
        if (!(b & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return p + i + 1;
        }
    }
    return fail(v, ZR_REJ_VARINT);
}

static inline const uint8_t *get_long(vctx *v, const uint8_t *p, int64_t *out)
{
    if (p < v->end && !(*p & 0x80)) {
        *out = (int64_t)(*p >> 1) ^ -(int64_t)(*p & 1);
        return p + 1;
    }
    return get_long_slow(v, p, out);
}

static inline const uint8_t *get_int(vctx *v, const uint8_t *p)
{
    int64_t x;
    p = get_long(v, p, &x);
    if (p && (x < INT32_MIN || x > INT32_MAX))
        return fail(v, ZR_REJ_INT_RANGE);
    return p;
}

static inline const uint8_t *need(vctx *v, const uint8_t *p, size_t n)
{
    return (size_t)(v->end - p) >= n ? p + n : fail(v, ZR_REJ_TRUNCATED);
}

/* Checks a multi-byte UTF-8 sequence at s[0..n), s[0] >= 0x80; returns its length or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c < 0xC2 || c > 0xF4 || n < len)
        return 0;
    /* The second byte's range excludes overlong forms, surrogates and code points > U+10FFFF. */
    uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    return len;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        /* ASCII fast path: eight bytes at a time. */
        for (uint64_t w; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
        }
        while (i < n && s[i] < 0x80)
            i++;
        if (i == n)
            return 1;
        size_t len = utf8_seq(s + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
}

/* bytes or string: a non-negative length, then that many bytes (valid UTF-8 for a string). */
static const uint8_t *get_bytes(vctx *v, const uint8_t *p, int utf8)
{
    int64_t len;
    if (!(p = get_long(v, p, &len)))
        return NULL;
    if (len < 0)
        return fail(v, ZR_REJ_LENGTH);
    if ((uint64_t)len > (size_t)(v->end - p))
        return fail(v, ZR_REJ_TRUNCATED);
    if (utf8 && !utf8_valid(p, (size_t)len))
        return fail(v, ZR_REJ_UTF8);
    return p + len;
}

static const uint8_t *value(vctx *v, const zr_node *n, const uint8_t *p, int depth);

/* A branch or symbol index in [0, count). */
static const uint8_t *get_index(vctx *v, const uint8_t *p, uint32_t count, zr_reject why,
                                int64_t *idx)
{
    if ((p = get_long(v, p, idx)) && (*idx < 0 || *idx >= count))
        return fail(v, why);
    return p;
}

/* A block's item count against what is left of the datagram's bytes and item budget. Items
 * that take bytes cannot outnumber the bytes left; every item counts against the budget. */
static const uint8_t *take_items(vctx *v, const uint8_t *p, uint64_t count, int zero_items)
{
    if (!zero_items && count > (uint64_t)(v->end - p))
        return fail(v, ZR_REJ_TRUNCATED);
    if (count > v->items)
        return fail(v, ZR_REJ_ITEMS);
    v->items -= count;
    return p;
}

/* Array and map blocks: a count, (negative count: then the block's byte size), items (map
 * entries are a string key and a value); a zero count ends them. Items that take no bytes
 * are not walked. `depth` counts the array or map itself. */
static const uint8_t *blocks(vctx *v, const zr_node *n, const uint8_t *p, int depth)
{
    const zr_node *item = n->children[0];
    int map = n->type == ZR_T_MAP, zero_items = !map && item->zero_size;
    for (;;) {
        int64_t count, size = -1;
        if (!(p = get_long(v, p, &count)))
            return NULL;
        if (count == 0)
            return p;
        if (count < 0) {
            if (count == INT64_MIN)
                return fail(v, ZR_REJ_LENGTH);
            count = -count;
            if (!(p = get_long(v, p, &size)))
                return NULL;
            if (size < 0)
                return fail(v, ZR_REJ_LENGTH);
        }
        if (!take_items(v, p, (uint64_t)count, zero_items))
            return NULL;
        if (zero_items) {
            if (size > 0)
                return fail(v, ZR_REJ_LENGTH);
            continue;
        }
        const uint8_t *start = p;
        for (int64_t i = 0; i < count && p; i++) {
            if (map && !(p = get_bytes(v, p, 1)))
                return NULL;
            p = value(v, item, p, depth);
        }
        if (!p)
            return NULL;
        if (size >= 0 && p - start != size)
            return fail(v, ZR_REJ_LENGTH);
    }
}

/* Bytes of a value whose encoding has one width (float, double, fixed), else 0. */
static inline size_t fixed_width(const zr_node *n)
{
    switch (n->type) {
    case ZR_T_FLOAT:
        return 4;
    case ZR_T_DOUBLE:
        return 8;
    case ZR_T_FIXED:
        return n->size;
    default:
        return 0;
    }
}

/* A record: only its fields that take bytes need reading (the others are always valid). A run
 * of fixed-width fields is one length check, made before the next field is read, so a datagram
 * fails at the same field, for the same reason, as field by field. */
static const uint8_t *fields(vctx *v, const zr_node *n, const uint8_t *p, int depth)
{
    size_t run = 0;
    for (uint32_t i = 0; i < n->nsized; i++) {
        const zr_node *f = n->children[n->sized[i]];
        size_t width = fixed_width(f);
        if (width) {
            run += width;
            continue;
        }
        if (run && !(p = need(v, p, run)))
            return NULL;
        run = 0;
        if (!(p = value(v, f, p, depth)))
            return NULL;
    }
    return run ? need(v, p, run) : p;
}

/* One value; `depth` is the nesting levels its ancestors take. Records, arrays, maps and
 * unions take one more, up to ZR_MAX_DEPTH (which also bounds the recursion of this walk). */
static const uint8_t *value(vctx *v, const zr_node *n, const uint8_t *p, int depth)
{
    int64_t idx;
    switch (n->type) {
    case ZR_T_NULL:
        return p;
    case ZR_T_BOOLEAN:
        if (p == v->end)
            return fail(v, ZR_REJ_TRUNCATED);
        return *p > 1 ? fail(v, ZR_REJ_BOOLEAN) : p + 1;
    case ZR_T_INT:
        return get_int(v, p);
    case ZR_T_LONG:
        return get_long(v, p, &idx);
    case ZR_T_FLOAT:
        return need(v, p, 4);
    case ZR_T_DOUBLE:
        return need(v, p, 8);
    case ZR_T_BYTES:
        return get_bytes(v, p, 0);
    case ZR_T_STRING:
        return get_bytes(v, p, 1);
    case ZR_T_FIXED:
        return need(v, p, n->size);
    case ZR_T_ENUM:
        return get_index(v, p, n->size, ZR_REJ_ENUM, &idx);
    default:
        break;
    }
    if (depth >= ZR_MAX_DEPTH)
        return fail(v, ZR_REJ_DEPTH);
    switch (n->type) {
    case ZR_T_UNION:
        if (!(p = get_index(v, p, n->size, ZR_REJ_UNION, &idx)))
            return NULL;
        return value(v, n->children[idx], p, depth + 1);
    case ZR_T_ARRAY:
    case ZR_T_MAP:
        return blocks(v, n, p, depth + 1);
    case ZR_T_RECORD:
        return fields(v, n, p, depth + 1);
    default:
        return fail(v, ZR_REJ_TRUNCATED);
    }
}

static int has_header(const uint8_t *p, size_t avail, const uint8_t *fingerprint)
{
    return avail >= SO_HEADER && p[0] == 0xC3 && p[1] == 0x01 && !memcmp(p + 2, fingerprint, 8);
}

zr_reject zr_validate_datagram(const zr_schema *s, const uint8_t *fingerprint,
                               const uint8_t *buf, size_t len,
                               zr_span *recs, size_t max_recs, size_t *nrecs)
{
    *nrecs = 0;
    if (len == 0)
        return ZR_REJ_EMPTY;
    if (len > UINT32_MAX)
        return ZR_REJ_LENGTH;
    vctx v = {buf + len, ZR_MAX_ITEMS(len), ZR_OK};
    int single = fingerprint && has_header(buf, len, fingerprint);
    const uint8_t *p = buf;
    size_t n = 0;
    while (p < v.end) {
        if (single) {
            if (!has_header(p, (size_t)(v.end - p), fingerprint))
                return ZR_REJ_TRAILING;
            p += SO_HEADER;
        }
        if (n == max_recs)
            return ZR_REJ_TOO_MANY;
        const uint8_t *q = value(&v, s->root, p, 0);
        if (!q)
            return v.err;
        if (q == p && !single)
            return ZR_REJ_TRAILING; /* zero-length records cannot account for the bytes left */
        recs[n++] = (zr_span){(uint32_t)(p - buf), (uint32_t)(q - p)};
        p = q;
    }
    *nrecs = n;
    return ZR_OK;
}
