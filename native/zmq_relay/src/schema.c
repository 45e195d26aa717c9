/* schema: loads a channel schema (Avro JSON, parsed with jansson) once at start, has it compiled
 * (schema_compile.c) into the zr_node graph the validator walks, checks its nesting, resolves
 * the time field's unit and has the archive schema text built (archive_schema.c). */
#include "zr_schema.h"

#include "zr_archive_schema.h"
#include "zr_schema_compile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The unit named by a timestamp logicalType, else NULL. */
static const char *logical_unit(json_t *logical)
{
    static const char *const map[][2] = {
        {"timestamp-millis", "ms"},       {"timestamp-micros", "us"},
        {"timestamp-nanos", "ns"},        {"local-timestamp-millis", "ms"},
        {"local-timestamp-micros", "us"}, {"local-timestamp-nanos", "ns"},
    };
    const char *s = json_string_value(logical);
    for (size_t i = 0; s && i < sizeof map / sizeof map[0]; i++) {
        if (!strcmp(s, map[i][0]))
            return map[i][1];
    }
    return NULL;
}

static int resolve_time(zr_cctx *c, zr_schema *s, json_t *fields, const char *time_field,
                        const char *time_unit)
{
    if (!time_field || !*time_field)
        return 0;
    for (size_t i = 0; i < s->nfields; i++) {
        if (strcmp(s->fields[i].name, time_field))
            continue;
        if (s->fields[i].type->type != ZR_T_LONG)
            return zr_compile_fail(c, "time field \"%s\" is not a long", time_field), -1;
        json_t *field = json_array_get(fields, i);
        const char *unit = logical_unit(json_object_get(json_object_get(field, "type"), "logicalType"));
        if (!unit)
            unit = logical_unit(json_object_get(field, "logicalType"));
        s->time_field = (int)i;
        s->time_unit = unit ? unit : time_unit ? time_unit : "ns";
        return 0;
    }
    return zr_compile_fail(c, "time field \"%s\" is not a field of the record", time_field), -1;
}

static int fill_fields(zr_cctx *c, zr_schema *s)
{
    const zr_node *root = s->root;
    json_t *fields = json_object_get(c->o->json, "fields");
    s->fields = calloc(root->size ? root->size : 1, sizeof *s->fields);
    if (!s->fields)
        return zr_compile_fail(c, "out of memory"), -1;
    s->nfields = root->size;
    for (size_t i = 0; i < s->nfields; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(fields, i), "name"));
        if (!strcmp(name, ZR_RX_TIME))
            return zr_compile_fail(c, "field \"rx_time\" is reserved (the relay adds it)"), -1;
        s->fields[i] = (zr_field){strdup(name), root->children[i]};
        if (!s->fields[i].name)
            return zr_compile_fail(c, "out of memory"), -1;
    }
    return 0;
}

/* The JSON of the schema, or NULL with the error recorded. jansson stops at 2048 levels of
 * JSON nesting, far beyond ZR_MAX_DEPTH: that is reported as the nesting limit too. */
static json_t *parse(zr_cctx *c, json_t *j, json_error_t *je)
{
    if (j)
        return j;
    if (json_error_code(je) == json_error_cannot_open_file)
        return zr_compile_fail(c, "cannot read the file: %s", je->text);
    if (json_error_code(je) == json_error_stack_overflow)
        return zr_compile_fail(c, "nests more than %d levels (its JSON nests deeper than %d), "
                                  "the limit is %d", ZR_MAX_DEPTH, JSON_PARSER_MAX_DEPTH,
                               ZR_MAX_DEPTH);
    return zr_compile_fail(c, "not valid JSON: %s (line %d, column %d)", je->text, je->line,
                           je->column);
}

static int load(zr_cctx *c, zr_schema *s, json_t *j, const char *time_field,
                const char *time_unit)
{
    c->o->json = j;
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "type")) ||
        strcmp(json_string_value(json_object_get(j, "type")), "record"))
        return zr_compile_fail(c, "the top level is not a record"), -1;
    s->root = zr_compile(c, j, NULL);
    if (!s->root)
        return -1;
    if (s->root->nest > ZR_MAX_DEPTH)
        return zr_compile_fail(c, "nests %u levels (records, arrays, maps and unions), the limit "
                                  "is %d", s->root->nest, ZR_MAX_DEPTH), -1;
    if (fill_fields(c, s) || resolve_time(c, s, json_object_get(j, "fields"), time_field,
                                          time_unit))
        return -1;
    s->archive_schema = zr_archive_schema_text(j, c->o->index);
    if (!s->archive_schema)
        return zr_compile_fail(c, "out of memory"), -1;
    return 0;
}

/* "schema PATH: MSG" in err, on one line: names from the schema (or the path) may hold any
 * character; control characters are written as \n, \t, \r or \xNN. */
static void one_line(char *err, size_t errlen, const char *path, const char *msg)
{
    char raw[1024];
    snprintf(raw, sizeof raw, "schema %s: %s", path, msg);
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)raw; *c && n + 5 < errlen; c++) {
        if (*c >= 0x20 && *c != 0x7f)
            err[n++] = (char)*c;
        else if (*c == '\n' || *c == '\t' || *c == '\r')
            n += (size_t)snprintf(err + n, errlen - n, "\\%c",
                                  *c == '\n' ? 'n' : *c == '\t' ? 't' : 'r');
        else
            n += (size_t)snprintf(err + n, errlen - n, "\\x%02x", *c);
    }
    err[n < errlen ? n : errlen - 1] = '\0';
}

/* Loads from the file `path`, or from text[0..len) when text is not NULL. */
static int load_any(zr_schema *s, const char *path, const char *text, size_t len,
                    const char *time_field, const char *time_unit, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->time_field = -1;
    s->time_unit = "ns";
    zr_cctx c = {.o = calloc(1, sizeof(zr_owned))};
    s->owned = c.o;
    json_error_t je;
    size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;
    json_t *j = NULL;
    if (!c.o || !(c.o->index = json_object()))
        zr_compile_fail(&c, "out of memory");
    else if ((j = parse(&c, text ? json_loadb(text, len, flags, &je)
                                 : json_load_file(path, flags, &je), &je)) &&
             !load(&c, s, j, time_field, time_unit))
        return 0;
    if (err && errlen)
        one_line(err, errlen, path, c.msg);
    zr_schema_free(s);
    return -1;
}

int zr_schema_load(zr_schema *s, const char *path, const char *time_field, const char *time_unit,
                   char *err, size_t errlen)
{
    return load_any(s, path, NULL, 0, time_field, time_unit, err, errlen);
}

int zr_schema_load_text(zr_schema *s, const char *name, const char *text, size_t len,
                        const char *time_field, const char *time_unit, char *err, size_t errlen)
{
    return load_any(s, name, text, len, time_field, time_unit, err, errlen);
}

void zr_schema_free(zr_schema *s)
{
    zr_owned *o = s->owned;
    for (size_t i = 0; s->fields && i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    free(s->archive_schema);
    if (o) {
        for (size_t i = 0; i < o->nnodes; i++) {
            free(o->nodes[i]->children);
            free(o->nodes[i]->sized);
            free(o->nodes[i]);
        }
        for (size_t i = 0; i < o->nnames; i++) {
            free(o->names[i].fullname);
            free(o->names[i].ns);
        }
        free(o->nodes);
        free(o->names);
        json_decref(o->json);
        json_decref(o->index);
        free(o);
    }
    memset(s, 0, sizeof *s);
    s->time_field = -1;
}
