/* Internal to the schema loader: the archive schema text (archive_schema.c) and the Avro name
 * rules of schema.c it shares. Other modules use zr_schema.h (zr_schema.archive_schema). */
#ifndef ZR_ARCHIVE_SCHEMA_H
#define ZR_ARCHIVE_SCHEMA_H

#include <jansson.h>

#include "zr_schema.h"

/* The field the relay puts first in every archived record. */
#define ZR_RX_TIME "rx_time"

/* The archive schema of the channel record `root` (already compiled, so valid) as compact
 * JSON text (malloc'd), NULL when out of memory: the channel record with rx_time first, every
 * attribute kept, or for a recursive record a new outer record (see archive_schema.c).
 * `declared` is an object whose keys are the full names of the types the schema declares. */
char *zr_archive_schema_text(json_t *root, json_t *declared);

/* From schema.c. The full name of a named type (a new string, NULL when out of memory): its
 * dotted name, else its namespace attribute nsattr (may be NULL), else the enclosing namespace
 * ns (may be NULL), joined to its name. */
char *zr_schema_full_name(const char *name, json_t *nsattr, const char *ns);

/* From schema.c. Whether s names a primitive type (its type in *t). */
int zr_schema_primitive(const char *s, zr_type *t);

#endif
