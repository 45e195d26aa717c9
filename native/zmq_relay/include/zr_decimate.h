/* Decimation: turns the channel's valid records into the decimated stream, one window of N
 * records at a time. All buffers are allocated once by zr_decimate_create.
 *
 * - downsample: the first record of every window, i.e. records 0, N, 2N, ... unchanged.
 * - mean, rms: one record per complete window; minmax: two (the minima, then the maxima).
 *   Aggregated are the numeric top-level fields: int, long, float, double, and unions of null
 *   with exactly one of them. Nulls are skipped; a field null in the whole window stays null.
 *   The time field and every other field take the window's last record's value (minmax: the
 *   minima record takes the window's first record's, the maxima record the last record's).
 *   int and long results are rounded to the nearest integer, halves away from zero (mean
 *   exactly; rms from a long double); float and double results are computed in double, summed
 *   in record order. A window that is not complete yet produces nothing.
 * - Output records are bare Avro records of the channel schema, built from the field spans:
 *   bytes of non-aggregated fields are copied, aggregated values encoded. */
#ifndef ZR_DECIMATE_H
#define ZR_DECIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "zr_args.h"
#include "zr_schema.h"
#include "zr_validate.h"
#include "zr_varint.h"

#define ZR_DEC_MAX_RECORD 65536 /* largest input record (a UDP datagram's payload) */
#define ZR_DEC_MAX_OUT 2        /* most records one push produces (minmax) */
/* Largest output record of a schema with nfields top-level fields: an aggregated value may
 * take more bytes than the value it replaces (a null becomes a branch and a 10-byte long). */
#define ZR_DEC_MAX_OUTPUT(nfields) (ZR_DEC_MAX_RECORD + (size_t)(nfields) * 2 * ZR_VARINT_MAX)

/* One decimated record and the rx_time of the input record it takes its other fields from.
 * `rec` stays valid until the next zr_decimate_push (downsample: it is the input record). */
typedef struct zr_dec_out {
    const uint8_t *rec;
    size_t len;
    int64_t rx_ns;
} zr_dec_out;

typedef struct zr_decimator zr_decimator;

/* Window of n >= 1 records (--decimate, --algorithm; "average" is parsed as ZR_ALG_MEAN).
 * Returns -1 (message in err) when n is 0 or allocation fails. */
int zr_decimate_create(zr_decimator **out, const zr_schema *s, zr_algorithm algo, uint32_t n,
                       char *err, size_t errlen);

/* Feeds one record that zr_validate_datagram accepted (len <= ZR_DEC_MAX_RECORD) with its
 * receive time. `fields` are its top-level field spans (zr_record_fields), valid until the
 * next push, or NULL: then the decimator locates them itself when it needs them. Returns how
 * many decimated records it completed (0..ZR_DEC_MAX_OUT), in out. */
size_t zr_decimate_push(zr_decimator *d, const uint8_t *rec, size_t len, const zr_span *fields,
                        int64_t rx_ns, zr_dec_out out[ZR_DEC_MAX_OUT]);

/* 1 when push reads the record's fields (every algorithm but downsample): a caller that has
 * them anyway passes them, else it may pass NULL. */
int zr_decimate_needs_fields(const zr_decimator *d);

/* Drops the window in progress: the next record starts a new one. */
void zr_decimate_reset(zr_decimator *d);

void zr_decimate_destroy(zr_decimator *d);

#endif
