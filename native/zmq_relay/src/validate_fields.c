/* validate_fields: locates the top-level fields of a record that zr_validate_datagram accepted
 * (zr_validate.h). The input is valid, so nothing is checked; like the validator, only fields
 * and items that take bytes are walked, so the cost is bounded by the record's bytes. */
#include "zr_validate.h"

static const uint8_t *skip_long(const uint8_t *p, int64_t *out)
{
    uint64_t z = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t b = *p++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return p;
}

static const uint8_t *skip(const zr_node *n, const uint8_t *p);

static const uint8_t *skip_bytes(const uint8_t *p)
{
    int64_t len;
    p = skip_long(p, &len);
    return p + len;
}

/* A block with a negative count is skipped whole by its byte size. Items of an array that
 * take no bytes are not walked: the validator accepts up to ZR_MAX_ITEMS of them. */
static const uint8_t *skip_blocks(const zr_node *n, const uint8_t *p)
{
    int zero_items = n->type == ZR_T_ARRAY && n->children[0]->zero_size;
    for (;;) {
        int64_t count;
        p = skip_long(p, &count);
        if (count == 0)
            return p;
        if (count < 0) {
            p = skip_bytes(p);
            continue;
        }
        if (zero_items)
            continue;
        for (int64_t i = 0; i < count; i++) {
            if (n->type == ZR_T_MAP)
                p = skip_bytes(p);
            p = skip(n->children[0], p);
        }
    }
}

static const uint8_t *skip(const zr_node *n, const uint8_t *p)
{
    int64_t x;
    switch (n->type) {
    case ZR_T_NULL:
        return p;
    case ZR_T_BOOLEAN:
        return p + 1;
    case ZR_T_FLOAT:
        return p + 4;
    case ZR_T_DOUBLE:
        return p + 8;
    case ZR_T_FIXED:
        return p + n->size;
    case ZR_T_INT:
    case ZR_T_LONG:
    case ZR_T_ENUM:
        return skip_long(p, &x);
    case ZR_T_BYTES:
    case ZR_T_STRING:
        return skip_bytes(p);
    case ZR_T_UNION:
        p = skip_long(p, &x);
        return skip(n->children[x], p);
    case ZR_T_ARRAY:
    case ZR_T_MAP:
        return skip_blocks(n, p);
    case ZR_T_RECORD:
        for (uint32_t i = 0; i < n->nsized; i++)
            p = skip(n->children[n->sized[i]], p);
        return p;
    }
    return p;
}

void zr_record_field(const zr_schema *s, const uint8_t *rec, size_t index, zr_span *span)
{
    const zr_node *root = s->root;
    const uint8_t *p = rec;
    for (uint32_t k = 0; k < root->nsized && root->sized[k] < index; k++)
        p = skip(root->children[root->sized[k]], p);
    const uint8_t *q = skip(s->fields[index].type, p);
    *span = (zr_span){(uint32_t)(p - rec), (uint32_t)(q - p)};
}

void zr_record_fields(const zr_schema *s, const uint8_t *rec, zr_span *fields)
{
    const uint8_t *p = rec;
    for (size_t i = 0; i < s->nfields; i++) {
        const zr_node *t = s->fields[i].type;
        const uint8_t *q = t->zero_size ? p : skip(t, p);
        fields[i] = (zr_span){(uint32_t)(p - rec), (uint32_t)(q - p)};
        p = q;
    }
}
