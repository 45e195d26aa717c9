/* schema_compile: compiles a channel schema (Avro JSON, parsed with jansson) into the zr_node
 * graph the validator walks: per node whether its encoding is always empty, how deep its values
 * nest, and per record the fields that take bytes. Names: schema_names.c. */
#include "zr_schema_compile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *zr_compile_fail(zr_cctx *c, const char *fmt, ...)
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

int zr_compile_grow(void **v, size_t *cap, size_t n, size_t elem)
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

static zr_node *new_node(zr_cctx *c, zr_type type, size_t nchildren)
{
    zr_owned *o = c->o;
    if (zr_compile_grow((void **)&o->nodes, &o->capnodes, o->nnodes, sizeof *o->nodes))
        return zr_compile_fail(c, "out of memory");
    zr_node *n = calloc(1, sizeof *n);
    if (n && nchildren)
        n->children = calloc(nchildren, sizeof *n->children);
    if (!n || (nchildren && !n->children)) {
        free(n);
        return zr_compile_fail(c, "out of memory");
    }
    n->type = type;
    o->nodes[o->nnodes++] = n;
    return n;
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

/* The levels a value of type n nests, from its children's (ZR_MAX_DEPTH). Called once the
 * children are compiled; a record still being defined has nest 0 until then, so a reference
 * back to it (recursion) adds nothing. */
static void set_nest(zr_node *n, size_t nchildren)
{
    uint32_t deepest = 0;
    for (size_t i = 0; i < nchildren; i++) {
        if (n->children[i]->nest > deepest)
            deepest = n->children[i]->nest;
    }
    n->nest = deepest + 1;
}

/* A record's fields that take bytes (the validator reads only those), and its nesting. */
static int sized_fields(zr_cctx *c, zr_node *n)
{
    n->sized = calloc(n->size ? n->size : 1, sizeof *n->sized);
    if (!n->sized)
        return zr_compile_fail(c, "out of memory"), -1;
    for (uint32_t i = 0; i < n->size; i++) {
        if (!n->children[i]->zero_size)
            n->sized[n->nsized++] = i;
    }
    set_nest(n, n->size);
    return 0;
}

static int compile_fields(zr_cctx *c, zr_node *n, json_t *fields, const char *ns)
{
    size_t count = json_array_size(fields);
    const char **names = calloc(count ? count : 1, sizeof *names);
    if (!names)
        return zr_compile_fail(c, "out of memory"), -1;
    int zero = 1;
    for (size_t i = 0; i < count && !c->failed; i++) {
        json_t *f = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *type = json_object_get(f, "type");
        if (!name)
            zr_compile_fail(c, "a record field without a \"name\"");
        else if (!zr_schema_valid_name(name, 0))
            zr_compile_fail(c, "invalid field name \"%s\"", name);
        else if (!type)
            zr_compile_fail(c, "field \"%s\" has no \"type\"", name);
        if (c->failed)
            break;
        names[i] = name;
        const char *outer = c->field;
        c->field = name;
        n->children[i] = zr_compile(c, type, ns);
        c->field = outer;
        zero = zero && n->children[i] && n->children[i]->zero_size;
    }
    const char *dup = c->failed ? NULL : duplicate(names, count);
    if (dup)
        zr_compile_fail(c, "field \"%s\" is declared twice", dup);
    free(names);
    n->zero_size = (uint8_t)zero;
    return c->failed ? -1 : sized_fields(c, n);
}

static zr_node *record(zr_cctx *c, json_t *j, const char *ns)
{
    json_t *fields = json_object_get(j, "fields");
    if (!json_is_array(fields))
        return zr_compile_fail(c, "a record without a \"fields\" array");
    zr_node *n = new_node(c, ZR_T_RECORD, json_array_size(fields));
    zr_named *d = n ? zr_names_declare(c, j, ns, n) : NULL;
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

static zr_node *enumeration(zr_cctx *c, json_t *j, const char *ns)
{
    json_t *symbols = json_object_get(j, "symbols");
    if (!json_is_array(symbols))
        return zr_compile_fail(c, "an enum without a \"symbols\" array");
    size_t count = json_array_size(symbols);
    const char **names = calloc(count ? count : 1, sizeof *names);
    if (!names)
        return zr_compile_fail(c, "out of memory");
    for (size_t i = 0; i < count && !c->failed; i++) {
        names[i] = json_string_value(json_array_get(symbols, i));
        if (!names[i] || !zr_schema_valid_name(names[i], 0))
            zr_compile_fail(c, "invalid enum symbol");
    }
    const char *dup = c->failed ? NULL : duplicate(names, count);
    if (dup)
        zr_compile_fail(c, "enum symbol \"%s\" is declared twice", dup);
    free(names);
    zr_node *n = c->failed ? NULL : new_node(c, ZR_T_ENUM, 0);
    if (!n || !zr_names_declare(c, j, ns, n))
        return NULL;
    n->size = (uint32_t)count;
    return n;
}

static zr_node *fixed(zr_cctx *c, json_t *j, const char *ns)
{
    json_t *size = json_object_get(j, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > INT32_MAX)
        return zr_compile_fail(c, "a fixed without a valid \"size\"");
    zr_node *n = new_node(c, ZR_T_FIXED, 0);
    if (!n || !zr_names_declare(c, j, ns, n))
        return NULL;
    n->size = (uint32_t)json_integer_value(size);
    n->zero_size = n->size == 0;
    return n;
}

static zr_node *container(zr_cctx *c, json_t *j, const char *ns, zr_type type)
{
    const char *key = type == ZR_T_ARRAY ? "items" : "values";
    json_t *inner = json_object_get(j, key);
    if (!inner)
        return zr_compile_fail(c, "%s without \"%s\"", type == ZR_T_ARRAY ? "an array" : "a map",
                               key);
    zr_node *n = new_node(c, type, 1);
    if (!n || !(n->children[0] = zr_compile(c, inner, ns)))
        return NULL;
    set_nest(n, 1);
    return n;
}

/* Two union branches clash when they have the same unnamed type or are the same named type. */
static int same_branch(const zr_node *a, const zr_node *b)
{
    int named_type = a->type == ZR_T_RECORD || a->type == ZR_T_ENUM || a->type == ZR_T_FIXED;
    return a->type == b->type && (!named_type || a == b);
}

static zr_node *union_of(zr_cctx *c, json_t *j, const char *ns)
{
    size_t count = json_array_size(j);
    zr_node *n = new_node(c, ZR_T_UNION, count);
    if (!n)
        return NULL;
    n->size = (uint32_t)count;
    for (size_t i = 0; i < count; i++) {
        zr_node *b = zr_compile(c, json_array_get(j, i), ns);
        if (!b)
            return NULL;
        if (b->type == ZR_T_UNION)
            return zr_compile_fail(c, "a union directly inside a union");
        for (size_t k = 0; k < i; k++) {
            if (same_branch(n->children[k], b))
                return zr_compile_fail(c, "a union with two branches of the same type");
        }
        n->children[i] = b;
    }
    set_nest(n, count);
    return n;
}

static zr_node *complex_type(zr_cctx *c, json_t *j, const char *ns)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    zr_type t;
    if (!type)
        return zr_compile_fail(c, "a schema object without a string \"type\"");
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
    /* {"type": "<name>"}: Java's parser reads it as a reference, but fastavro and Apache avro
     * (Python) refuse it, so an archive schema holding it would be unreadable to our readers. */
    if (!zr_names_reference(c, type, ns))
        return NULL;
    return zr_compile_fail(c, "{\"type\": \"%s\"}: a named type is referenced by its name alone",
                           type);
}

zr_node *zr_compile(zr_cctx *c, json_t *j, const char *ns)
{
    if (json_is_string(j)) {
        zr_type t;
        if (zr_schema_primitive(json_string_value(j), &t)) {
            zr_node *n = new_node(c, t, 0);
            if (n)
                n->zero_size = t == ZR_T_NULL;
            return n;
        }
        return zr_names_reference(c, json_string_value(j), ns);
    }
    if (json_is_array(j))
        return union_of(c, j, ns);
    if (json_is_object(j)) {
        zr_node *n = complex_type(c, j, ns);
        if (n && n->type == ZR_T_NULL)
            n->zero_size = 1;
        return n;
    }
    return zr_compile_fail(c, "a type must be a name, an object or an array");
}
