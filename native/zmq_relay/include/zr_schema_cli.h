/* The schema modes of the command line, for everyone who must accept exactly the schemas the
 * relay runs (speeddata.schema, the registry): --check-schema FILE judges a channel schema,
 * --print-archive-schema prints its archive schema. Neither binds, locks or touches a data dir. */
#ifndef ZR_SCHEMA_CLI_H
#define ZR_SCHEMA_CLI_H

#include "zr_args.h"

/* Runs c->mode (not ZR_MODE_RUN) on c->schema_path with c->time_field and c->time_unit.
 * Accepted: prints "ok" (--check-schema; "ok time_unit=U" with a time field) or the archive
 * schema's JSON text on stdout and returns 0. Refused: one event=fatal line on stderr naming
 * what is wrong, and returns 2. */
int zr_schema_cli(const zr_config *c);

#endif
