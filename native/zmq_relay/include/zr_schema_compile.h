/* Internal to the schema loader (schema.c, schema_compile.c, schema_names.c): the compilation
 * state and the Avro name rules. Other modules use zr_schema.h. */
#ifndef ZR_SCHEMA_COMPILE_H
#define ZR_SCHEMA_COMPILE_H

#include <jansson.h>

#include "zr_schema.h"

/* A named type (record, enum, fixed) by its full name; ns is the namespace its children inherit. */
typedef struct zr_named {
    char *fullname;
    char *ns;
    zr_node *node;
} zr_named;

/* Everything zr_schema_load allocates, released by zr_schema_free. */
typedef struct zr_owned {
    json_t *json;
    json_t *index; /* full name -> position in names: the types defined so far */
    zr_node **nodes;
    size_t nnodes, capnodes;
    zr_named *names;
    size_t nnames, capnames;
} zr_owned;

/* Compilation state: the first error wins. */
typedef struct zr_cctx {
    zr_owned *o;
    const char *field; /* the field being compiled, named in messages */
    char msg[256];
    int failed;
} zr_cctx;

/* Records the first error (printf-style; the field being compiled is appended); returns NULL. */
__attribute__((format(printf, 2, 3))) void *zr_compile_fail(zr_cctx *c, const char *fmt, ...);

/* Grows *v (elements of `elem` bytes, capacity *cap) to hold more than n; -1 when out of memory. */
int zr_compile_grow(void **v, size_t *cap, size_t n, size_t elem);

/* Compiles the Avro schema j, in the enclosing namespace ns (NULL: the null namespace). */
zr_node *zr_compile(zr_cctx *c, json_t *j, const char *ns);

/* ---- names (schema_names.c), after the Avro specification ---- */

/* Whether s names a primitive type (its type in *t). */
int zr_schema_primitive(const char *s, zr_type *t);

/* An Avro name: [A-Za-z_][A-Za-z0-9_]*; with `dotted`, a dotted sequence of such names. */
int zr_schema_valid_name(const char *s, int dotted);

/* The full name of a name (a new string, NULL when out of memory): a name with a dot is a full
 * name; else it is in the namespace nsattr (a type's "namespace" attribute, may be NULL), else in
 * the enclosing namespace ns (may be NULL or "": the null namespace). References resolve the
 * same way with nsattr NULL: inside namespace "a", "X" means "a.X" and nothing else, as in
 * fastavro, Apache avro and avro-c (a type in the null namespace cannot be referred to from
 * inside another namespace). */
char *zr_schema_full_name(const char *name, json_t *nsattr, const char *ns);

/* Checks the name of the named type j and defines `node` under its full name. */
zr_named *zr_names_declare(zr_cctx *c, json_t *j, const char *ns, zr_node *node);

/* The type a reference `name` in namespace ns stands for; it must be defined before. */
zr_node *zr_names_reference(zr_cctx *c, const char *name, const char *ns);

#endif
