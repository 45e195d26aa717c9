/* The schema modes of the command line: see zr_schema_cli.h. */
#include "zr_schema_cli.h"

#include <stdio.h>
#include <unistd.h>

#include "zr_logfmt.h"
#include "zr_schema.h"

int zr_schema_cli(const zr_config *c)
{
    zr_schema s;
    char err[512], v[600];
    if (zr_schema_load(&s, c->schema_path, c->time_field, c->time_unit, err, sizeof err)) {
        zr_logline("event=fatal service=relay pid=%ld error=%s", (long)getpid(),
                   zr_lv(v, sizeof v, err));
        return 2;
    }
    if (c->mode == ZR_MODE_PRINT_ARCHIVE_SCHEMA)
        printf("%s\n", s.archive_schema);
    else if (c->time_field)
        printf("ok time_unit=%s\n", s.time_unit);
    else
        printf("ok\n");
    zr_schema_free(&s);
    return fflush(stdout) ? 1 : 0;
}
