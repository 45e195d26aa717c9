/* archive_schema: the archive schema text of a channel record, written in every archive header:
 * the channel record with rx_time first, every attribute kept. A recursive channel record
 * (one that refers to its own name inside) cannot simply gain rx_time: its nested copies,
 * written without rx_time, would be read as the archive record. Its archive record is then a
 * new record named after it + "_archive" (once more while that name is taken), without its
 * aliases, whose first reference to the channel record (in document order) is replaced by the
 * channel record's definition; a named type is defined at its first occurrence and referred
 * to by full name after. speeddata.schema asks the relay for it (--print-archive-schema). */
#include "zr_archive_schema.h"

#include <stdlib.h>
#include <string.h>

/* State of the rewrite of the outer archive record. */
typedef struct arch {
    json_t *channel;           /* the channel record as written */
    const char *full;          /* its full name */
    json_t *defined;           /* full names defined so far (an object used as a set) */
    int inlined;               /* the channel record's definition has been placed */
} arch;

static int arch_visit(arch *a, json_t *holder, const char *key, size_t idx, const char *ns);

/* The namespace part of a full name, as a new string ("" when none). */
static char *space_of(const char *full)
{
    const char *dot = strrchr(full, '.');
    return strndup(full, dot ? (size_t)(dot - full) : 0);
}

/* Puts v (its reference taken) at holder[key], or holder[idx] when key is NULL. */
static int arch_set(json_t *holder, const char *key, size_t idx, json_t *v)
{
    if (!v)
        return -1;
    return key ? json_object_set_new(holder, key, v) : json_array_set_new(holder, idx, v);
}

/* The definition j of a named type at holder[key|idx]: the first one of its name stays (a
 * record's fields rewritten in turn), a later one becomes a reference by full name. */
static int arch_define(arch *a, json_t *holder, const char *key, size_t idx, json_t *j,
                       const char *ns)
{
    char *full = zr_schema_full_name(json_string_value(json_object_get(j, "name")),
                                     json_object_get(j, "namespace"), ns);
    char *own = full ? space_of(full) : NULL;
    int rc = full && own ? 0 : -1;
    if (!rc && json_object_get(a->defined, full)) {
        rc = arch_set(holder, key, idx, json_string(full));
    } else if (!rc) {
        rc = json_object_set_new(a->defined, full, json_true());
        json_t *fields = json_object_get(j, "fields");
        for (size_t i = 0; !rc && i < json_array_size(fields); i++)
            rc = arch_visit(a, json_array_get(fields, i), "type", 0, own);
    }
    free(full);
    free(own);
    return rc;
}

/* A reference at holder[key|idx]: the first one to the channel record becomes its definition.
 * A reference resolves in the enclosing namespace, so the channel record's own name attributes
 * give the definition the same full name there. */
static int arch_reference(arch *a, json_t *holder, const char *key, size_t idx,
                          const char *name, const char *ns)
{
    char *full = zr_schema_full_name(name, NULL, ns); /* as schema_names.c resolves it */
    if (!full)
        return -1;
    int first = !a->inlined && !strcmp(full, a->full);
    free(full);
    if (!first)
        return 0;
    json_t *def = json_deep_copy(a->channel); /* names the same full name where it lands */
    if (!def)
        return -1;
    a->inlined = 1;
    json_incref(def);
    int rc = arch_set(holder, key, idx, def);
    if (!rc)
        rc = arch_define(a, holder, key, idx, def, ns);
    json_decref(def);
    return rc;
}

/* The schema at holder[key|idx], in namespace ns. */
static int arch_visit(arch *a, json_t *holder, const char *key, size_t idx, const char *ns)
{
    json_t *j = key ? json_object_get(holder, key) : json_array_get(holder, idx);
    for (size_t i = 0; json_is_array(j) && i < json_array_size(j); i++) {
        if (arch_visit(a, j, NULL, i, ns))
            return -1;
    }
    const char *type = json_is_string(j) ? json_string_value(j)
                                         : json_string_value(json_object_get(j, "type"));
    zr_type t;
    if (!type || zr_schema_primitive(type, &t))
        return 0;
    if (json_is_object(j) && !strcmp(type, "array"))
        return arch_visit(a, j, "items", 0, ns);
    if (json_is_object(j) && !strcmp(type, "map"))
        return arch_visit(a, j, "values", 0, ns);
    if (json_is_object(j) &&
        (!strcmp(type, "record") || !strcmp(type, "enum") || !strcmp(type, "fixed")))
        return arch_define(a, holder, key, idx, j, ns);
    return arch_reference(a, holder, key, idx, type, ns);
}

/* The name attribute of the archive record of a recursive channel record (a new string):
 * the channel's + "_archive", as often as it takes to name no declared type. */
static char *archive_name(json_t *root, json_t *declared)
{
    const char *name = json_string_value(json_object_get(root, "name"));
    json_t *ns = json_object_get(root, "namespace");
    size_t len = strlen(name);
    for (size_t k = 1;; k++) {
        char *cand = malloc(len + k * 8 + 1);
        if (!cand)
            return NULL;
        memcpy(cand, name, len);
        for (size_t i = 0; i < k; i++)
            memcpy(cand + len + i * 8, "_archive", 8);
        cand[len + k * 8] = '\0';
        char *full = zr_schema_full_name(cand, ns, NULL);
        int taken = !full || json_object_get(declared, full);
        free(full);
        if (!taken)
            return cand;
        free(cand);
    }
}

/* Turns `out` (the channel record with rx_time first) into the archive record of a recursive
 * channel record; sets *recursive to whether the channel record is one. */
static int make_recursive(json_t *root, json_t *declared, json_t *out, int *recursive)
{
    arch a = {.channel = root, .defined = json_object()};
    char *full = zr_schema_full_name(json_string_value(json_object_get(root, "name")),
                                     json_object_get(root, "namespace"), NULL);
    char *name = archive_name(root, declared);
    a.full = full;
    int rc = a.defined && full && name ? 0 : -1;
    if (!rc)
        rc = json_object_set_new(out, "name", json_string(name));
    if (!rc && json_object_get(out, "aliases"))
        rc = json_object_del(out, "aliases");
    if (!rc)
        rc = arch_define(&a, NULL, NULL, 0, out, NULL);
    *recursive = a.inlined;
    json_decref(a.defined);
    free(full);
    free(name);
    return rc;
}

/* The channel record with rx_time first, everything else as it was (a new JSON value). */
static json_t *with_rx_time(json_t *root)
{
    json_t *out = json_object();
    json_t *fields = json_array();
    json_t *rx = json_pack("{s:s, s:{s:s, s:s}, s:s}", "name", ZR_RX_TIME, "type", "type", "long",
                           "logicalType", "timestamp-nanos", "doc",
                           "Kernel receive time of the datagram (CLOCK_REALTIME), ns since the "
                           "Unix epoch");
    const char *key;
    json_t *val;
    int rc = out && fields && rx ? json_array_append(fields, rx) : -1;
    json_object_foreach(root, key, val) {
        if (!rc && strcmp(key, "fields"))
            rc = json_object_set_new(out, key, json_deep_copy(val));
        else if (!rc)
            rc = json_array_extend(fields, val) || json_object_set(out, key, fields);
    }
    json_decref(rx);
    json_decref(fields);
    if (rc) {
        json_decref(out);
        return NULL;
    }
    return out;
}

char *zr_archive_schema_text(json_t *root, json_t *declared)
{
    json_t *plain = with_rx_time(root);
    json_t *rec = plain ? json_deep_copy(plain) : NULL;
    int recursive = 0;
    char *text = NULL;
    if (rec && !make_recursive(root, declared, rec, &recursive))
        text = json_dumps(recursive ? rec : plain, JSON_COMPACT);
    json_decref(plain);
    json_decref(rec);
    return text;
}
