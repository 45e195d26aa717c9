/* libFuzzer harness of the record validator (zr_validate_datagram, zr_record_fields,
 * zr_record_field). Input: byte 0 chooses a schema of fuzz/schemas/ (every Avro type, named
 * types, recursion, items that take no bytes, the nesting limit), bit 0 of byte 1 whether the
 * channel has a fingerprint (then single-object datagrams are read as such: both encodings),
 * the rest is the datagram. Invariants: fuzz_check.h. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_check.h"

static zr_schema schemas[64];
static size_t nschemas;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nschemas)
        nschemas = zr_fuzz_load_schemas(schemas, sizeof schemas / sizeof schemas[0]);
    if (size < 2)
        return 0;
    const zr_schema *s = &schemas[data[0] % nschemas];
    zr_fuzz_check_datagram(s, data[1] & 1 ? zr_fuzz_fp : NULL, data + 2, size - 2);
    return 0;
}
