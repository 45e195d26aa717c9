/* The invariants the fuzz harnesses check on every datagram the validator sees, and the fixed
 * set of schemas (fuzz/schemas/*.avsc, in name order) the validator harness chooses from. A
 * broken invariant prints what broke and aborts, which libFuzzer and replay.c report. */
#ifndef ZR_FUZZ_CHECK_H
#define ZR_FUZZ_CHECK_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zr_schema.h"
#include "zr_validate.h"

/* The channel fingerprint of the harnesses: a single-object datagram starts C3 01 and these. */
static const uint8_t zr_fuzz_fp[8] = {0x8f, 0x5c, 0x39, 0x3f, 0x1a, 0xd5, 0x75, 0x72};

#define ZR_FUZZ_MAX_RECS 65536

#define FUZZ_ASSERT(cond, ...)                                                                   \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz invariant broken (%s:%d): %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* An independent walk of one accepted value, every field and item (items that take no bytes
 * counted by their block counts): where it ends, how deep it nests (records, arrays, maps and
 * unions each one level) and how many items its arrays and maps declare. */
typedef struct zr_fuzz_walk {
    int deepest;
    uint64_t items;
} zr_fuzz_walk;

static const uint8_t *zr_fuzz_long(const uint8_t *p, int64_t *v)
{
    uint64_t z = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        z |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p++ & 0x80))
            break;
    }
    *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return p;
}

static const uint8_t *zr_fuzz_value(const zr_node *n, const uint8_t *p, int level,
                                    zr_fuzz_walk *w)
{
    int64_t x;
    int nests = n->type == ZR_T_RECORD || n->type == ZR_T_ARRAY || n->type == ZR_T_MAP ||
                n->type == ZR_T_UNION;
    level += nests;
    if (level > w->deepest)
        w->deepest = level;
    switch (n->type) {
    case ZR_T_NULL:
        return p;
    case ZR_T_BOOLEAN:
        return p + 1;
    case ZR_T_FLOAT:
        return p + 4;
    case ZR_T_DOUBLE:
        return p + 8;
    case ZR_T_FIXED:
        return p + n->size;
    case ZR_T_INT:
    case ZR_T_LONG:
    case ZR_T_ENUM:
        return zr_fuzz_long(p, &x);
    case ZR_T_BYTES:
    case ZR_T_STRING:
        p = zr_fuzz_long(p, &x);
        return p + x;
    case ZR_T_UNION:
        p = zr_fuzz_long(p, &x);
        return zr_fuzz_value(n->children[x], p, level, w);
    case ZR_T_RECORD:
        for (uint32_t i = 0; i < n->size; i++)
            p = zr_fuzz_value(n->children[i], p, level, w);
        return p;
    case ZR_T_ARRAY:
    case ZR_T_MAP:
        for (;;) {
            p = zr_fuzz_long(p, &x);
            if (x == 0)
                return p;
            if (x < 0) {
                int64_t size;
                x = -x;
                p = zr_fuzz_long(p, &size);
            }
            w->items += (uint64_t)x;
            if (n->type == ZR_T_ARRAY && n->children[0]->zero_size) {
                zr_fuzz_value(n->children[0], p, level, w); /* its depth, once */
                continue;
            }
            for (int64_t i = 0; i < x; i++) {
                if (n->type == ZR_T_MAP)
                    p = zr_fuzz_value(&(zr_node){.type = ZR_T_STRING}, p, level - 1, w);
                p = zr_fuzz_value(n->children[0], p, level, w);
            }
        }
    }
    return p;
}

/* Validates buf[0..len) (copied to a buffer of exactly len bytes, so that the sanitizers see
 * any read past the end) and checks, when accepted: the records tile the datagram in order
 * (single-object: each after its 10-byte header), each splits into top-level fields that
 * cover it exactly, each field located alone is where the split put it, and an independent
 * walk of it ends where the record does, within ZR_MAX_DEPTH levels, and all the records
 * declare at most ZR_MAX_ITEMS(len) items; when rejected: no
 * records and a named reason. The same datagram always gets the same verdict. */
static inline zr_reject zr_fuzz_check_datagram(const zr_schema *s, const uint8_t *fp,
                                               const uint8_t *data, size_t len)
{
    static zr_span recs[ZR_FUZZ_MAX_RECS];
    uint8_t *buf = malloc(len ? len : 1);
    zr_span *fields = calloc(s->nfields ? s->nfields : 1, sizeof *fields);
    FUZZ_ASSERT(buf && fields, "out of memory");
    memcpy(buf, data, len);
    size_t n = 7;
    zr_reject r = zr_validate_datagram(s, fp, buf, len, recs, ZR_FUZZ_MAX_RECS, &n);
    FUZZ_ASSERT(r >= ZR_OK && r < ZR_REJ__COUNT, "verdict %d", (int)r);
    if (r != ZR_OK) {
        FUZZ_ASSERT(n == 0, "%zu records in a rejected datagram", n);
    } else {
        int single = fp && len >= 10 && buf[0] == 0xC3 && buf[1] == 0x01 && !memcmp(buf + 2, fp, 8);
        size_t at = 0;
        zr_fuzz_walk walk = {0, 0};
        for (size_t i = 0; i < n; i++) {
            size_t start = at + (single ? 10 : 0);
            FUZZ_ASSERT(recs[i].off == start, "record %zu at %u, want %zu", i, recs[i].off, start);
            FUZZ_ASSERT(single || recs[i].len > 0, "empty bare record %zu", i);
            at = (size_t)recs[i].off + recs[i].len;
            FUZZ_ASSERT(at <= len, "record %zu ends at %zu of %zu", i, at, len);
            const uint8_t *rec = buf + recs[i].off;
            zr_record_fields(s, rec, fields);
            uint32_t end = 0;
            for (size_t k = 0; k < s->nfields; k++) {
                FUZZ_ASSERT(fields[k].off == end, "field %zu at %u, want %u", k, fields[k].off,
                            end);
                end += fields[k].len;
                zr_span one;
                zr_record_field(s, rec, k, &one);
                FUZZ_ASSERT(one.off == fields[k].off && one.len == fields[k].len,
                            "field %zu alone at %u+%u, split at %u+%u", k, one.off, one.len,
                            fields[k].off, fields[k].len);
            }
            FUZZ_ASSERT(end == recs[i].len, "fields end at %u, record at %u", end, recs[i].len);
            const uint8_t *wend = zr_fuzz_value(s->root, rec, 0, &walk);
            FUZZ_ASSERT(wend == rec + recs[i].len, "record %zu walked to %td of %u", i, wend - rec,
                        recs[i].len);
            FUZZ_ASSERT(walk.deepest <= ZR_MAX_DEPTH, "record %zu nests %d levels", i,
                        walk.deepest);
        }
        FUZZ_ASSERT(walk.items <= ZR_MAX_ITEMS(len), "%llu items in %zu bytes",
                    (unsigned long long)walk.items, len);
        FUZZ_ASSERT(at == len && n > 0, "records end at %zu of %zu (%zu records)", at, len, n);
    }
    size_t again;
    FUZZ_ASSERT(zr_validate_datagram(s, fp, buf, len, recs, ZR_FUZZ_MAX_RECS, &again) == r,
                "a second validation disagrees");
    free(fields);
    free(buf);
    return r;
}

static int zr_fuzz_is_schema(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && !strcmp(e->d_name + n - 5, ".avsc");
}

/* Loads every fuzz/schemas/*.avsc (ZR_FUZZ_SCHEMAS is that directory) in name order into
 * out[0..cap); returns how many. Exits when one does not load: the set is fixed. */
static inline size_t zr_fuzz_load_schemas(zr_schema *out, size_t cap)
{
    struct dirent **names;
    int n = scandir(ZR_FUZZ_SCHEMAS, &names, zr_fuzz_is_schema, alphasort);
    if (n <= 0) {
        fprintf(stderr, "no schemas in %s\n", ZR_FUZZ_SCHEMAS);
        exit(2);
    }
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        char path[512], err[512];
        snprintf(path, sizeof path, "%s/%s", ZR_FUZZ_SCHEMAS, names[i]->d_name);
        if (count < cap && zr_schema_load(&out[count], path, NULL, NULL, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            exit(2);
        }
        count += count < cap;
        free(names[i]);
    }
    free(names);
    return count;
}

#endif
