/* Internal to the schema loader: the archive schema text (archive_schema.c), built with the
 * name rules of schema_names.c. Other modules use zr_schema.h (zr_schema.archive_schema). */
#ifndef ZR_ARCHIVE_SCHEMA_H
#define ZR_ARCHIVE_SCHEMA_H

#include <jansson.h>

#include "zr_schema_compile.h"

/* The field the relay puts first in every archived record. */
#define ZR_RX_TIME "rx_time"

/* The archive schema of the channel record `root` (already compiled, so valid) as compact
 * JSON text (malloc'd), NULL when out of memory: the channel record with rx_time first, every
 * attribute kept, or for a recursive record a new outer record (see archive_schema.c).
 * `declared` is an object whose keys are the full names of the types the schema declares. */
char *zr_archive_schema_text(json_t *root, json_t *declared);

#endif
