/* Record validation: every datagram is checked against the channel schema before anything
 * is archived or forwarded. No allocation; the only state is the caller's output arrays.
 * The cost is bounded by the datagram's bytes, whatever the schema: every step reads at least
 * one byte (fields that take none are skipped), and recursion stops at ZR_MAX_DEPTH levels. */
#ifndef ZR_VALIDATE_H
#define ZR_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "zr_schema.h"

/* Why a datagram was rejected. Names (zr_reject_name) are the counter keys on the bus. */
typedef enum zr_reject {
    ZR_OK = 0,
    ZR_REJ_EMPTY,      /* "empty": zero-length datagram */
    ZR_REJ_TRUNCATED,  /* "truncated": a value runs past the end of the datagram */
    ZR_REJ_VARINT,     /* "varint": varint longer than 10 bytes (long) */
    ZR_REJ_INT_RANGE,  /* "int_range": int varint outside 32 bits */
    ZR_REJ_BOOLEAN,    /* "boolean": boolean byte other than 0 or 1 */
    ZR_REJ_LENGTH,     /* "length": negative bytes/string length or block size */
    ZR_REJ_UTF8,       /* "utf8": string is not valid UTF-8 */
    ZR_REJ_UNION,      /* "union": union branch index out of range */
    ZR_REJ_ENUM,       /* "enum": enum symbol index out of range */
    ZR_REJ_DEPTH,      /* "depth": nesting deeper than ZR_MAX_DEPTH (recursive schemas) */
    ZR_REJ_TRAILING,   /* "trailing": bytes after the last record that are not a record */
    ZR_REJ_TOO_MANY,   /* "too_many": more records in one datagram than the caller can hold */
    ZR_REJ_ITEMS,      /* "items": arrays and maps declare more items than ZR_MAX_ITEMS allows */
    ZR_REJ__COUNT
} zr_reject;

/* The items (array items and map entries, at every level, all together) a datagram of `len`
 * bytes may declare. Items that take bytes cannot exceed the bytes anyway; the cap bounds items
 * that take none (null, fixed of size 0, records of such fields), which readers still build one
 * by one: a few bytes cannot declare 2^63 of them. */
#define ZR_MAX_ITEMS(len) ((uint64_t)(len) + 64)

/* A record's binary encoding inside the datagram (any single-object header excluded). */
typedef struct zr_span {
    uint32_t off;
    uint32_t len;
} zr_span;

const char *zr_reject_name(zr_reject r);

/* Validates one datagram. `fingerprint` is the channel's 8 wire bytes, or NULL when only bare
 * records are accepted. The datagram is single-object encoded when it starts with C3 01 and the
 * fingerprint (then every record carries that header), else bare. On ZR_OK, recs[0..*nrecs)
 * hold the records in order; on any other result nothing of the datagram is to be used. */
zr_reject zr_validate_datagram(const zr_schema *s, const uint8_t *fingerprint,
                               const uint8_t *buf, size_t len,
                               zr_span *recs, size_t max_recs, size_t *nrecs);

/* Locates the top-level fields of one record that zr_validate_datagram accepted:
 * fields[i] receives field i's bytes (offsets relative to `rec`). No checks: input is valid. */
void zr_record_fields(const zr_schema *s, const uint8_t *rec, zr_span *fields);

/* The bytes of top-level field `index` (< s->nfields) alone: walks the fields before it and
 * stops there (the device time of a record without splitting all of it). Same rules. */
void zr_record_field(const zr_schema *s, const uint8_t *rec, size_t index, zr_span *span);

#endif
