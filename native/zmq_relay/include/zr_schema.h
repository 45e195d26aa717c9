/* Channel schema: parsed once at start (jansson) into a tree the validator walks. */
#ifndef ZR_SCHEMA_H
#define ZR_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

typedef enum zr_type {
    ZR_T_NULL, ZR_T_BOOLEAN, ZR_T_INT, ZR_T_LONG, ZR_T_FLOAT, ZR_T_DOUBLE,
    ZR_T_BYTES, ZR_T_STRING, ZR_T_FIXED, ZR_T_ENUM, ZR_T_ARRAY, ZR_T_MAP,
    ZR_T_UNION, ZR_T_RECORD
} zr_type;

/* The deepest nesting a schema may declare and a datagram may hold: records, arrays, maps and
 * unions each count one level (the channel record is level 1). Deeper schemas are refused at
 * load; deeper values (only recursive schemas have them) are rejected ("depth"). 64 keeps every
 * reader well inside its own limits, Python's recursion included: Apache avro parses the
 * archive schema of a recursive channel, nested up to twice as deep (archive_schema.c). */
#define ZR_MAX_DEPTH 64

typedef struct zr_node zr_node;
struct zr_node {
    zr_type type;
    /* fixed: byte size; enum: symbol count; union: branch count; record: field count */
    uint32_t size;
    /* union: branches; record: field types; array: items (children[0]); map: values (children[0]).
     * Recursive records point back to an ancestor node, so the tree may be a graph. */
    zr_node **children;
    /* The encoding is always zero bytes long (null, fixed of size 0, records of such fields):
     * lets the validator skip arrays of such items and stop on zero-length records. */
    uint8_t zero_size;
    /* Levels of its deepest value (ZR_MAX_DEPTH): 1 for a record, array, map or union plus the
     * deepest child's; a reference back to a record still being defined (recursion) adds 0. */
    uint32_t nest;
    /* record: the indices of its fields that take bytes (not zero_size), in order; validating
     * and skipping walk only these, so a record costs steps in proportion to its bytes. */
    uint32_t nsized;
    uint32_t *sized;
};

typedef struct zr_field {
    char *name;
    const zr_node *type;
} zr_field;

typedef struct zr_schema {
    const zr_node *root;       /* the channel record */
    size_t nfields;            /* top-level fields of the channel record */
    zr_field *fields;          /* fields[0..nfields) */
    char *archive_schema;      /* JSON text of the archive schema: rx_time first, every attribute kept */
    int time_field;            /* index into fields of the declared time field, -1 when none */
    const char *time_unit;     /* "s" | "ms" | "us" | "ns": resolved unit of the time field ("ns" if none) */
    void *owned;               /* private: everything allocated by zr_schema_load */
} zr_schema;

/* Loads and compiles the channel schema in `path`. `time_field` (may be NULL) names a long field;
 * `time_unit` (may be NULL) is the --time-unit fallback, one of s|ms|us|ns (zr_args_parse checks
 * it; it must outlive the schema). Resolution of the unit: the field type's
 * logicalType, then a logicalType on the field itself, then time_unit, else "ns".
 * Fails (returns -1, one-line message in err) when the file cannot be read, is not JSON, is not
 * a record, is not a valid Avro schema, nests deeper than ZR_MAX_DEPTH, declares the reserved
 * field rx_time, or the time field is missing or not a long. */
int zr_schema_load(zr_schema *s, const char *path, const char *time_field, const char *time_unit,
                   char *err, size_t errlen);

/* The same from the schema's JSON text text[0..len); `name` stands for the file in messages. */
int zr_schema_load_text(zr_schema *s, const char *name, const char *text, size_t len,
                        const char *time_field, const char *time_unit, char *err, size_t errlen);
void zr_schema_free(zr_schema *s);

#endif
