/* libFuzzer harness of the schema compiler (zr_schema_load_text and the archive schema).
 * Input: a schema's JSON text. Invariants: a refused schema leaves one line that names it and
 * nothing allocated; a loaded one nests at most ZR_MAX_DEPTH levels, its archive schema is a
 * JSON record whose first field is rx_time, and the validator holds its invariants
 * (fuzz_check.h) on datagrams made of the input's own bytes. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_check.h"
#include "zr_archive_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_loaded(const zr_schema *s, const uint8_t *data, size_t size)
{
    FUZZ_ASSERT(s->root && s->root->type == ZR_T_RECORD, "no channel record");
    FUZZ_ASSERT(s->root->nest >= 1 && s->root->nest <= ZR_MAX_DEPTH, "nest %u", s->root->nest);
    json_error_t je;
    json_t *a = json_loads(s->archive_schema, 0, &je);
    FUZZ_ASSERT(a, "archive schema is not JSON: %s", je.text);
    json_t *first = json_array_get(json_object_get(a, "fields"), 0);
    FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(a, "type")), "record") &&
                    !strcmp(json_string_value(json_object_get(first, "name")), ZR_RX_TIME),
                "archive schema %s", s->archive_schema);
    json_decref(a);
    static const uint8_t zeros[16];
    for (size_t len = 1; len <= sizeof zeros; len++)
        zr_fuzz_check_datagram(s, NULL, zeros, len);
    size_t tail = size < 256 ? size : 256;
    zr_fuzz_check_datagram(s, NULL, data + size - tail, tail);
    zr_fuzz_check_datagram(s, zr_fuzz_fp, data, size < 512 ? size : 512);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_schema s;
    char err[512];
    err[0] = 0;
    if (zr_schema_load_text(&s, "fuzz", (const char *)data, size, NULL, NULL, err, sizeof err)) {
        FUZZ_ASSERT(!strncmp(err, "schema fuzz: ", 13) && !strchr(err, '\n') && strlen(err) > 13,
                    "message \"%s\"", err);
        FUZZ_ASSERT(!s.root && !s.owned && !s.archive_schema, "a refused schema left state");
        return 0;
    }
    check_loaded(&s, data, size);
    /* its first field as the time field: a long, or refused in one line */
    if (s.nfields) {
        zr_schema t;
        int rc = zr_schema_load_text(&t, "fuzz", (const char *)data, size, s.fields[0].name, "ms",
                                     err, sizeof err);
        FUZZ_ASSERT(rc == 0 ? s.fields[0].type->type == ZR_T_LONG && t.time_field == 0
                            : s.fields[0].type->type != ZR_T_LONG && !strchr(err, '\n'),
                    "time field %s: rc %d %s", s.fields[0].name, rc, err);
        if (!rc)
            zr_schema_free(&t);
    }
    zr_schema_free(&s);
    return 0;
}
