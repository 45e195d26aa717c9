/* The validator's limits, each of which once let one datagram crash, poison or stall the relay
 * (issue 7): the nesting budget (records, arrays, maps and unions together, ZR_MAX_DEPTH) on a
 * small stack, the cap on the items a datagram may declare (ZR_MAX_ITEMS), and a cost bounded
 * by the datagram's bytes whatever the schema (fields that take no bytes are not walked). */
#include <pthread.h>
#include <signal.h>

#include "zr_fixtures.h"

/* A schema loaded from JSON (single quotes for double quotes); exits when it does not load. */
static void load(zr_schema *s, const char *json)
{
    char err[512];
    if (zr_schema_load(s, schema_file(json), NULL, NULL, err, sizeof err)) {
        CHECKF(0, "schema does not load: %s", err);
        fixtures_cleanup();
        exit(1);
    }
}

/* R {a: array of array of ... (`arrays` deep) of ["null", R]}, as JSON (malloc'd). */
static char *nested_arrays_schema(int arrays)
{
    size_t cap = 128 + (size_t)arrays * 40;
    char *json = malloc(cap);
    size_t n = (size_t)snprintf(json, cap, "{'type':'record','name':'R','fields':[{'name':'a',"
                                           "'type':");
    for (int i = 0; i < arrays; i++)
        n += (size_t)snprintf(json + n, cap - n, "{'type':'array','items':");
    n += (size_t)snprintf(json + n, cap - n, "['null','R']");
    for (int i = 0; i < arrays; i++)
        json[n++] = '}';
    snprintf(json + n, cap - n, "}]}");
    return json;
}

/* A value of nested_arrays_schema(arrays) nesting `records` records: each record's arrays
 * hold one item each down to the union, which holds the next record (the last one: null). */
static size_t nested_arrays_datagram(uint8_t *buf, int arrays, int records)
{
    size_t n = 0;
    for (int r = 0; r < records; r++) {
        memset(buf + n, 0x02, (size_t)arrays); /* one item per array */
        n += (size_t)arrays;
        buf[n++] = r + 1 < records ? 0x02 : 0x00; /* union: the next record, or null */
    }
    for (int r = 0; r < records; r++) {
        memset(buf + n, 0x00, (size_t)arrays); /* the end block of every array */
        n += (size_t)arrays;
    }
    return n;
}

typedef struct deep_job {
    const zr_schema *s;
    const uint8_t *buf;
    size_t len;
    zr_reject got;
} deep_job;

static void *validate_job(void *arg)
{
    deep_job *j = arg;
    zr_span recs[4];
    size_t n;
    j->got = zr_validate_datagram(j->s, NULL, j->buf, j->len, recs, 4, &n);
    return NULL;
}

/* Validates on a thread with a 128 KB stack: deep recursion crashes the test. */
static zr_reject validate_small_stack(const zr_schema *s, const uint8_t *buf, size_t len)
{
    deep_job job = {s, buf, len, ZR_OK};
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    if (pthread_create(&t, &attr, validate_job, &job)) {
        perror("pthread_create");
        exit(2);
    }
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    return job.got;
}

/* The deepest schema that loads, with a 64 KB datagram nesting hundreds of records through
 * its arrays (thousands of levels): rejected "depth" at ZR_MAX_DEPTH levels, on a small stack.
 * Every record it does accept nests at most the schema's levels. */
static void test_depth_budget(void)
{
    static uint8_t buf[65507];
    int arrays = ZR_MAX_DEPTH - 2; /* R, 62 arrays, the union: 64 levels */
    char *json = nested_arrays_schema(arrays);
    zr_schema s;
    load(&s, json);
    CHECKF(s.root->nest == ZR_MAX_DEPTH, "nest %u", s.root->nest);
    for (int records = 1; records < 500; records = records * 2 + 1) {
        size_t len = nested_arrays_datagram(buf, arrays, records);
        zr_reject want = records == 1 ? ZR_OK : ZR_REJ_DEPTH;
        zr_reject got = validate_small_stack(&s, buf, len);
        CHECKF(got == want, "%d records through %d arrays: %s", records, arrays,
               zr_reject_name(got));
    }
    zr_schema_free(&s);
    free(json);
}

/* Records nested through a recursive union or an array: each record and each union or array
 * is a level, so ZR_MAX_DEPTH / 2 records pass and one more does not. */
static void test_depth_recursive(void)
{
    zr_schema chain, tree;
    load(&chain, "{'type':'record','name':'node','fields':[{'name':'next','type':['null','node']}]}");
    load(&tree, "{'type':'record','name':'tree','fields':"
                "[{'name':'kids','type':{'type':'array','items':'tree'}}]}");
    uint8_t buf[256];
    size_t n;
    for (size_t records = 1; records <= ZR_MAX_DEPTH / 2 + 2; records++) {
        memset(buf, 0x02, records - 1); /* union branch 1: one more node */
        buf[records - 1] = 0x00;        /* branch 0: null ends the chain */
        int want = 2 * records <= ZR_MAX_DEPTH ? ZR_OK : ZR_REJ_DEPTH;
        int r = run(&chain, NULL, buf, records, &n);
        CHECKF(r == want, "chain of %zu records: %s", records, zr_reject_name(r));
        /* a tree whose single child is nested again and again */
        size_t len = 0;
        for (size_t i = 0; i + 1 < records; i++)
            buf[len++] = 0x02;
        buf[len++] = 0x00;
        for (size_t i = 0; i + 1 < records; i++)
            buf[len++] = 0x00;
        r = validate_small_stack(&tree, buf, len);
        CHECKF(r == want, "tree of %zu records: %s", records, zr_reject_name(r));
    }
    zr_schema_free(&chain);
    zr_schema_free(&tree);
}

/* Arrays of items that take no bytes declare at most ZR_MAX_ITEMS(len) items, all arrays of
 * the datagram together: the 12-byte poison record of issue 7 (an array<null> of 2^63-1
 * items) is rejected "items". Items that take bytes are bounded by the bytes first. */
static void test_item_cap(void)
{
    static const struct {
        const char *schema, *hex;
        int want;
        size_t nrecs;
    } cases[] = {
        {ONE("{'type':'array','items':'null'}"), INT64_MAX_V " 00", ITEMS, 0},
        {ONE("{'type':'array','items':'null'}"), "02 " INT64_MAX_V " 00", ITEMS, 0},
        {ONE("{'type':'array','items':'null'}"), "01 00 00", OK, 1},
        {ONE("{'type':'array','items':'null'}"), "0a 00", OK, 1},
        {ONE("{'type':'array','items':'null'}"), "84 01 00", OK, 1},  /* 66 items, 3 bytes */
        {ONE("{'type':'array','items':'null'}"), "86 01 00", OK, 1},  /* 67 = 3 + 64 */
        {ONE("{'type':'array','items':'null'}"), "88 01 00", ITEMS, 0}, /* 68 */
        {ONE("{'type':'array','items':'null'}"), "85 01 00 00", OK, 1}, /* -67, size 0 */
        {ONE("{'type':'array','items':'null'}"), "80 01 80 01 00", ITEMS, 0}, /* 64 + 64 > 69 */
        {ONE("{'type':'array','items':'null'}"), "7e 00 7e 00", ITEMS, 0}, /* 2 records, 126 */
        {ONE("{'type':'array','items':'null'}"), "40 00 08 00", OK, 2}, /* 32 + 4 <= 68 */
        {ONE("{'type':'array','items':{'type':'fixed','name':'z','size':0}}"),
         INT64_MAX_V " 00", ITEMS, 0},
        {ONE("{'type':'array','items':{'type':'record','name':'n','fields':["
             "{'name':'a','type':'null'},{'name':'b','type':'null'}]}}"), "fe 01 00", ITEMS, 0},
        {ONE("{'type':'array','items':{'type':'array','items':'null'}}"),
         "04 80 01 00 80 01 00 00", ITEMS, 0}, /* nested: 2 + 64 + 64 > 72 */
        {ONE("{'type':'array','items':{'type':'array','items':'null'}}"),
         "04 40 00 40 00 00", OK, 1}, /* 2 + 32 + 32 <= 70 */
        {ONE("{'type':'array','items':'int'}"), INT64_MAX_V " 00", TRUNC, 0},
        {ONE("{'type':'map','values':'null'}"), INT64_MAX_V " 00", TRUNC, 0},
        {ONE("['null',{'type':'array','items':'null'}]"), "02 " INT64_MAX_V " 00", ITEMS, 0},
    };
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zr_schema s;
        load(&s, cases[i].schema);
        size_t n = 0, len = unhex(cases[i].hex, buf, sizeof buf);
        int r = run(&s, NULL, buf, len, &n);
        CHECKF(r == cases[i].want && n == cases[i].nrecs, "%s [%s]: %s (%zu records)",
               cases[i].schema, cases[i].hex, zr_reject_name(r), n);
        zr_schema_free(&s);
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_validate_limits: validation did not end within its deadline "
                              "(cost not bounded by the datagram's bytes)\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(3);
    _exit(1);
}

/* {'type':'record','name':'r','fields':[f0 null, ..., f<nulls-1> null, <last>]} (malloc'd). */
static char *null_fields_schema(int nulls, const char *last)
{
    size_t cap = 128 + (size_t)nulls * 32 + strlen(last);
    char *json = malloc(cap);
    size_t n = (size_t)snprintf(json, cap, "{'type':'record','name':'r','fields':[");
    for (int i = 0; i < nulls; i++)
        n += (size_t)snprintf(json + n, cap - n, "{'name':'f%d','type':'null'},", i);
    snprintf(json + n, cap - n, "%s]}", last);
    return json;
}

/* Issue 7's CPU amplification: 10,000 null fields and one boolean, and a 65,507-byte datagram
 * of 65,507 records. Validating it and locating the time field of every record must take
 * steps in proportion to the bytes (once ~655 M steps, seconds of the relay's only thread).
 * The deadline is generous: a hundred passes take milliseconds when only bytes are walked. */
static void test_cost_bounded_by_bytes(void)
{
    static uint8_t buf[65507];
    static zr_span recs[65507];
    char *json = null_fields_schema(10000, "{'name':'b','type':'boolean'},"
                                           "{'name':'t','type':'long'}");
    zr_schema s;
    char err[512];
    CHECKF(!zr_schema_load(&s, schema_file(json), "t", NULL, err, sizeof err), "%s", err);
    free(json);
    CHECKF(s.root->nsized == 2 && s.root->sized[0] == 10000, "fields that take bytes: %u",
           s.root->nsized);
    for (size_t i = 0; i < sizeof buf; i += 2) {
        buf[i] = (uint8_t)(i & 2 ? 1 : 0); /* the boolean */
        if (i + 1 < sizeof buf)
            buf[i + 1] = 0x04; /* the long: 2 */
    }
    size_t len = sizeof buf - 1, n = 0; /* an even length: whole records */
    signal(SIGALRM, on_alarm);
    alarm(20);
    zr_reject r = ZR_OK;
    for (int pass = 0; pass < 100 && r == ZR_OK; pass++)
        r = zr_validate_datagram(&s, NULL, buf, len, recs, sizeof buf, &n);
    CHECKF(r == ZR_OK && n == len / 2, "10,000 nulls: %s, %zu records", zr_reject_name(r), n);
    int bad = 0;
    for (int pass = 0; pass < 100; pass++) {
        for (size_t i = 0; i < n; i++) {
            zr_span f;
            zr_record_field(&s, buf + recs[i].off, (size_t)s.time_field, &f);
            bad += f.off != 1 || f.len != 1;
        }
    }
    alarm(0);
    CHECKF(bad == 0, "time field located wrongly %d times", bad);
    zr_schema_free(&s);
}

/* Records of only null fields take no bytes and are skipped whole, at any depth. */
static void test_zero_size_records_skipped(void)
{
    char *inner = null_fields_schema(1000, "{'name':'z','type':'null'}");
    size_t cap = strlen(inner) * 2 + 256;
    char *json = malloc(cap);
    snprintf(json, cap, "{'type':'record','name':'o','fields':[{'name':'a','type':%s},"
                        "{'name':'v','type':'int'}]}", inner);
    zr_schema s;
    load(&s, json);
    CHECKF(s.root->nsized == 1 && s.root->children[0]->zero_size, "zero-size record field");
    uint8_t buf[] = {0x02, 0x04};
    size_t n;
    CHECKF(run(&s, NULL, buf, sizeof buf, &n) == ZR_OK && n == 2, "two records of one int");
    zr_schema_free(&s);
    free(json);
    free(inner);
}

int main(void)
{
    fixtures_init("test_validate_limits");
    test_depth_budget();
    test_depth_recursive();
    test_item_cap();
    test_cost_bounded_by_bytes();
    test_zero_size_records_skipped();
    fixtures_cleanup();
    return zr_check_summary("test_validate_limits");
}
