/* schema: loads a channel schema (Avro JSON, parsed with jansson) once at start, compiles it into
 * the zr_node graph the validator walks, resolves the time field's unit and has the archive
 * schema text built (archive_schema.c). */
#include "zr_schema.h"

#include "zr_archive_schema.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A named type (record, enum, fixed) by its full name; ns is the namespace its children inherit. */
typedef struct named {
    char *fullname;
    char *ns;
    zr_node *node;
} named;

/* Everything zr_schema_load allocates, released by zr_schema_free. */
typedef struct owned {
    json_t *json;
    json_t *index; /* full name -> position in names */
    zr_node **nodes;
    size_t nnodes, capnodes;
    named *names;
    size_t nnames, capnames;
} owned;

/* Compilation state: the first error wins. */
typedef struct ctx {
    owned *o;
    const char *field; /* the field being compiled, named in messages */
    char msg[256];
    int failed;
} ctx;

static const struct {
    const char *name;
    zr_type type;
} primitives[] = {
    {"null", ZR_T_NULL},     {"boolean", ZR_T_BOOLEAN}, {"int", ZR_T_INT},
    {"long", ZR_T_LONG},     {"float", ZR_T_FLOAT},     {"double", ZR_T_DOUBLE},
    {"bytes", ZR_T_BYTES},   {"string", ZR_T_STRING},
};

static zr_node *compile(ctx *c, json_t *j, const char *ns);

__attribute__((format(printf, 2, 3))) static void *fail(ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return NULL;
    c->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    if (c->field && n >= 0 && (size_t)n < sizeof c->msg)
        snprintf(c->msg + n, sizeof c->msg - (size_t)n, " (field \"%s\")", c->field);
    return NULL;
}

static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, ncap * elem);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

static zr_node *new_node(ctx *c, zr_type type, size_t nchildren)
{
    owned *o = c->o;
    if (grow((void **)&o->nodes, &o->capnodes, o->nnodes, sizeof *o->nodes))
        return fail(c, "out of memory");
    zr_node *n = calloc(1, sizeof *n);
    if (n && nchildren)
        n->children = calloc(nchildren, sizeof *n->children);
    if (!n || (nchildren && !n->children)) {
        free(n);
        return fail(c, "out of memory");
    }
    n->type = type;
    o->nodes[o->nnodes++] = n;
    return n;
}

int zr_schema_primitive(const char *s, zr_type *t)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
        if (!strcmp(s, primitives[i].name)) {
            *t = primitives[i].type;
            return 1;
        }
    }
    return 0;
}

/* An Avro name: [A-Za-z_][A-Za-z0-9_]*; with dots allowed, a dotted sequence of such names. */
static int valid_name(const char *s, int dotted)
{
    int start = 1;
    for (; *s; s++) {
        char ch = *s;
        if (ch == '.' && dotted && !start) {
            start = 1;
            continue;
        }
        int alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
        if (!alpha && (start || !(ch >= '0' && ch <= '9')))
            return 0;
        start = 0;
    }
    return !start;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that occurs twice in names[0..n) (sorted in place), or NULL. */
static const char *duplicate(const char **names, size_t n)
{
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 1; i < n; i++) {
        if (!strcmp(names[i - 1], names[i]))
            return names[i];
    }
    return NULL;
}

static named *find(owned *o, const char *fullname)
{
    json_t *at = json_object_get(o->index, fullname);
    return at ? &o->names[json_integer_value(at)] : NULL;
}

static char *join(const char *ns, const char *name)
{
    size_t a = strlen(ns), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (s) {
        memcpy(s, ns, a);
        s[a] = '.';
        memcpy(s + a + 1, name, b + 1);
    }
    return s;
}

char *zr_schema_full_name(const char *name, json_t *nsattr, const char *ns)
{
    if (strchr(name, '.'))
        return strdup(name);
    if (nsattr)
        ns = json_string_value(nsattr);
    return ns && *ns ? join(ns, name) : strdup(name);
}

/* Checks the name of a named type and registers `node` under its full name. */
static named *declare(ctx *c, json_t *j, const char *ns, zr_node *node)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    json_t *nsattr = json_object_get(j, "namespace");
    if (!name)
        return fail(c, "a named type without a \"name\"");
    if (!valid_name(name, 1))
        return fail(c, "invalid name \"%s\"", name);
    if (nsattr && (!json_is_string(nsattr) ||
                   (*json_string_value(nsattr) && !valid_name(json_string_value(nsattr), 1))))
        return fail(c, "invalid namespace of \"%s\"", name);
    const char *simple = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
    zr_type t;
    if (zr_schema_primitive(simple, &t))
        return fail(c, "a named type cannot be called \"%s\"", simple);
    owned *o = c->o;
    char *full = zr_schema_full_name(name, nsattr, ns);
    if (full && find(o, full)) {
        fail(c, "type \"%s\" is defined twice", full);
        free(full);
        return NULL;
    }
    char *dot = full ? strrchr(full, '.') : NULL;
    char *own_ns = full ? strndup(full, dot ? (size_t)(dot - full) : 0) : NULL;
    if (!full || !own_ns || grow((void **)&o->names, &o->capnames, o->nnames, sizeof *o->names) ||
        json_object_set_new(o->index, full, json_integer((json_int_t)o->nnames))) {
        free(full);
        free(own_ns);
        return fail(c, "out of memory");
    }
    named *d = &o->names[o->nnames++];
    *d = (named){full, own_ns, node};
    return d;
}

static zr_node *reference(ctx *c, const char *name, const char *ns)
{
    named *d = NULL;
    if (!strchr(name, '.') && ns && *ns) {
        char *full = join(ns, name);
        if (!full)
            return fail(c, "out of memory");
        d = find(c->o, full);
        free(full);
    }
    if (!d)
        d = find(c->o, name);
    if (!d)
        return fail(c, "unknown type \"%s\"", name);
    return d->node;
}

static int compile_fields(ctx *c, zr_node *n, json_t *fields, const char *ns)
{
    size_t count = json_array_size(fields);
    const char **names = calloc(count ? count : 1, sizeof *names);
    if (!names)
        return fail(c, "out of memory"), -1;
    int zero = 1;
    for (size_t i = 0; i < count && !c->failed; i++) {
        json_t *f = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *type = json_object_get(f, "type");
        if (!name)
            fail(c, "a record field without a \"name\"");
        else if (!valid_name(name, 0))
            fail(c, "invalid field name \"%s\"", name);
        else if (!type)
            fail(c, "field \"%s\" has no \"type\"", name);
        if (c->failed)
            break;
        names[i] = name;
        const char *outer = c->field;
        c->field = name;
        n->children[i] = compile(c, type, ns);
        c->field = outer;
        zero = zero && n->children[i] && n->children[i]->zero_size;
    }
    const char *dup = c->failed ? NULL : duplicate(names, count);
    if (dup)
        fail(c, "field \"%s\" is declared twice", dup);
    free(names);
    n->zero_size = (uint8_t)zero;
    return c->failed ? -1 : 0;
}

static zr_node *record(ctx *c, json_t *j, const char *ns)
{
    json_t *fields = json_object_get(j, "fields");
    if (!json_is_array(fields))
        return fail(c, "a record without a \"fields\" array");
    zr_node *n = new_node(c, ZR_T_RECORD, json_array_size(fields));
    named *d = n ? declare(c, j, ns, n) : NULL;
    if (!d)
        return NULL;
    n->size = (uint32_t)json_array_size(fields);
    /* The record is registered before its fields, so they may refer to it (recursion). */
    const char *saved = c->field;
    c->field = NULL;
    int rc = compile_fields(c, n, fields, d->ns);
    c->field = saved;
    return rc ? NULL : n;
}

static zr_node *enumeration(ctx *c, json_t *j, const char *ns)
{
    json_t *symbols = json_object_get(j, "symbols");
    if (!json_is_array(symbols))
        return fail(c, "an enum without a \"symbols\" array");
    size_t count = json_array_size(symbols);
    const char **names = calloc(count ? count : 1, sizeof *names);
    if (!names)
        return fail(c, "out of memory");
    for (size_t i = 0; i < count && !c->failed; i++) {
        names[i] = json_string_value(json_array_get(symbols, i));
        if (!names[i] || !valid_name(names[i], 0))
            fail(c, "invalid enum symbol");
    }
    const char *dup = c->failed ? NULL : duplicate(names, count);
    if (dup)
        fail(c, "enum symbol \"%s\" is declared twice", dup);
    free(names);
    zr_node *n = c->failed ? NULL : new_node(c, ZR_T_ENUM, 0);
    if (!n || !declare(c, j, ns, n))
        return NULL;
    n->size = (uint32_t)count;
    return n;
}

static zr_node *fixed(ctx *c, json_t *j, const char *ns)
{
    json_t *size = json_object_get(j, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > INT32_MAX)
        return fail(c, "a fixed without a valid \"size\"");
    zr_node *n = new_node(c, ZR_T_FIXED, 0);
    if (!n || !declare(c, j, ns, n))
        return NULL;
    n->size = (uint32_t)json_integer_value(size);
    n->zero_size = n->size == 0;
    return n;
}

static zr_node *container(ctx *c, json_t *j, const char *ns, zr_type type)
{
    const char *key = type == ZR_T_ARRAY ? "items" : "values";
    json_t *inner = json_object_get(j, key);
    if (!inner)
        return fail(c, "%s without \"%s\"", type == ZR_T_ARRAY ? "an array" : "a map", key);
    zr_node *n = new_node(c, type, 1);
    if (!n || !(n->children[0] = compile(c, inner, ns)))
        return NULL;
    return n;
}

/* Two union branches clash when they have the same unnamed type or are the same named type. */
static int same_branch(const zr_node *a, const zr_node *b)
{
    int named_type = a->type == ZR_T_RECORD || a->type == ZR_T_ENUM || a->type == ZR_T_FIXED;
    return a->type == b->type && (!named_type || a == b);
}

static zr_node *union_of(ctx *c, json_t *j, const char *ns)
{
    size_t count = json_array_size(j);
    zr_node *n = new_node(c, ZR_T_UNION, count);
    if (!n)
        return NULL;
    n->size = (uint32_t)count;
    for (size_t i = 0; i < count; i++) {
        zr_node *b = compile(c, json_array_get(j, i), ns);
        if (!b)
            return NULL;
        if (b->type == ZR_T_UNION)
            return fail(c, "a union directly inside a union");
        for (size_t k = 0; k < i; k++) {
            if (same_branch(n->children[k], b))
                return fail(c, "a union with two branches of the same type");
        }
        n->children[i] = b;
    }
    return n;
}

static zr_node *complex_type(ctx *c, json_t *j, const char *ns)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    zr_type t;
    if (!type)
        return fail(c, "a schema object without a string \"type\"");
    if (zr_schema_primitive(type, &t))
        return new_node(c, t, 0);
    if (!strcmp(type, "record"))
        return record(c, j, ns);
    if (!strcmp(type, "enum"))
        return enumeration(c, j, ns);
    if (!strcmp(type, "fixed"))
        return fixed(c, j, ns);
    if (!strcmp(type, "array"))
        return container(c, j, ns, ZR_T_ARRAY);
    if (!strcmp(type, "map"))
        return container(c, j, ns, ZR_T_MAP);
    return reference(c, type, ns);
}

static zr_node *compile(ctx *c, json_t *j, const char *ns)
{
    if (json_is_string(j)) {
        zr_type t;
        if (zr_schema_primitive(json_string_value(j), &t)) {
            zr_node *n = new_node(c, t, 0);
            if (n)
                n->zero_size = t == ZR_T_NULL;
            return n;
        }
        return reference(c, json_string_value(j), ns);
    }
    if (json_is_array(j))
        return union_of(c, j, ns);
    if (json_is_object(j)) {
        zr_node *n = complex_type(c, j, ns);
        if (n && n->type == ZR_T_NULL)
            n->zero_size = 1;
        return n;
    }
    return fail(c, "a type must be a name, an object or an array");
}

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

static int resolve_time(ctx *c, zr_schema *s, json_t *fields, const char *time_field,
                        const char *time_unit)
{
    if (!time_field || !*time_field)
        return 0;
    for (size_t i = 0; i < s->nfields; i++) {
        if (strcmp(s->fields[i].name, time_field))
            continue;
        if (s->fields[i].type->type != ZR_T_LONG)
            return fail(c, "time field \"%s\" is not a long", time_field), -1;
        json_t *field = json_array_get(fields, i);
        const char *unit = logical_unit(json_object_get(json_object_get(field, "type"), "logicalType"));
        if (!unit)
            unit = logical_unit(json_object_get(field, "logicalType"));
        s->time_field = (int)i;
        s->time_unit = unit ? unit : time_unit ? time_unit : "ns";
        return 0;
    }
    return fail(c, "time field \"%s\" is not a field of the record", time_field), -1;
}

static int fill_fields(ctx *c, zr_schema *s)
{
    const zr_node *root = s->root;
    json_t *fields = json_object_get(c->o->json, "fields");
    s->fields = calloc(root->size ? root->size : 1, sizeof *s->fields);
    if (!s->fields)
        return fail(c, "out of memory"), -1;
    s->nfields = root->size;
    for (size_t i = 0; i < s->nfields; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(fields, i), "name"));
        if (!strcmp(name, ZR_RX_TIME))
            return fail(c, "field \"rx_time\" is reserved (the relay adds it)"), -1;
        s->fields[i] = (zr_field){strdup(name), root->children[i]};
        if (!s->fields[i].name)
            return fail(c, "out of memory"), -1;
    }
    return 0;
}

static int load(ctx *c, zr_schema *s, const char *path, const char *time_field,
                const char *time_unit)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j && json_error_code(&je) == json_error_cannot_open_file)
        return fail(c, "cannot read the file: %s", je.text), -1;
    if (!j)
        return fail(c, "not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column), -1;
    c->o->json = j;
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "type")) ||
        strcmp(json_string_value(json_object_get(j, "type")), "record"))
        return fail(c, "the top level is not a record"), -1;
    s->root = compile(c, j, NULL);
    if (!s->root || fill_fields(c, s) || resolve_time(c, s, json_object_get(j, "fields"),
                                                      time_field, time_unit))
        return -1;
    s->archive_schema = zr_archive_schema_text(j, c->o->index);
    if (!s->archive_schema)
        return fail(c, "out of memory"), -1;
    return 0;
}

int zr_schema_load(zr_schema *s, const char *path, const char *time_field, const char *time_unit,
                   char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->time_field = -1;
    s->time_unit = "ns";
    ctx c = {.o = calloc(1, sizeof(owned))};
    s->owned = c.o;
    if (!c.o || !(c.o->index = json_object()))
        fail(&c, "out of memory");
    else if (!load(&c, s, path, time_field, time_unit))
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "schema %s: %s", path, c.msg);
    zr_schema_free(s);
    return -1;
}

void zr_schema_free(zr_schema *s)
{
    owned *o = s->owned;
    for (size_t i = 0; s->fields && i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    free(s->archive_schema);
    if (o) {
        for (size_t i = 0; i < o->nnodes; i++) {
            free(o->nodes[i]->children);
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
