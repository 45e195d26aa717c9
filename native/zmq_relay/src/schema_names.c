/* schema_names: the Avro name rules of the schema loader, in one place. Full names are made
 * and references resolved by the specification ("if they do not contain a dot, the namespace is
 * the namespace of the enclosing definition"), with no fallback to the null namespace, as
 * fastavro, Apache avro and avro-c read them; archive_schema.c resolves with the same function,
 * so the archive schema always describes the type that was validated. */
#include "zr_schema_compile.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    zr_type type;
} primitives[] = {
    {"null", ZR_T_NULL},     {"boolean", ZR_T_BOOLEAN}, {"int", ZR_T_INT},
    {"long", ZR_T_LONG},     {"float", ZR_T_FLOAT},     {"double", ZR_T_DOUBLE},
    {"bytes", ZR_T_BYTES},   {"string", ZR_T_STRING},
};

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

int zr_schema_valid_name(const char *s, int dotted)
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

static zr_named *find(zr_owned *o, const char *fullname)
{
    json_t *at = json_object_get(o->index, fullname);
    return at ? &o->names[json_integer_value(at)] : NULL;
}

zr_named *zr_names_declare(zr_cctx *c, json_t *j, const char *ns, zr_node *node)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    json_t *nsattr = json_object_get(j, "namespace");
    if (!name)
        return zr_compile_fail(c, "a named type without a \"name\"");
    if (!zr_schema_valid_name(name, 1))
        return zr_compile_fail(c, "invalid name \"%s\"", name);
    const char *nsval = json_string_value(nsattr);
    if (nsattr && (!nsval || (*nsval && !zr_schema_valid_name(nsval, 1))))
        return zr_compile_fail(c, "invalid namespace of \"%s\"", name);
    const char *simple = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
    zr_type t;
    if (zr_schema_primitive(simple, &t))
        return zr_compile_fail(c, "a named type cannot be called \"%s\"", simple);
    zr_owned *o = c->o;
    char *full = zr_schema_full_name(name, nsattr, ns);
    if (full && find(o, full)) {
        zr_compile_fail(c, "type \"%s\" is defined twice", full);
        free(full);
        return NULL;
    }
    char *dot = full ? strrchr(full, '.') : NULL;
    char *own_ns = full ? strndup(full, dot ? (size_t)(dot - full) : 0) : NULL;
    if (!full || !own_ns ||
        zr_compile_grow((void **)&o->names, &o->capnames, o->nnames, sizeof *o->names) ||
        json_object_set_new(o->index, full, json_integer((json_int_t)o->nnames))) {
        free(full);
        free(own_ns);
        return zr_compile_fail(c, "out of memory");
    }
    zr_named *d = &o->names[o->nnames++];
    *d = (zr_named){full, own_ns, node};
    return d;
}

zr_node *zr_names_reference(zr_cctx *c, const char *name, const char *ns)
{
    char *full = zr_schema_full_name(name, NULL, ns);
    if (!full)
        return zr_compile_fail(c, "out of memory");
    zr_named *d = find(c->o, full);
    if (!d && strcmp(full, name))
        zr_compile_fail(c, "unknown type \"%s\" (in namespace \"%s\" it means \"%s\")", name, ns,
                        full);
    else if (!d)
        zr_compile_fail(c, "unknown type \"%s\"", name);
    free(full);
    return d ? d->node : NULL;
}
