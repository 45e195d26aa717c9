/* Schema loading: schemas that must fail to load (with their one-line message), time-unit
 * resolution, names and namespaces, and the nesting limit (ZR_MAX_DEPTH). */
#include "zr_fixtures.h"

#define REC(F) "{'type':'record','name':'r','fields':[" F "]}"

static const struct {
    const char *json;
    const char *time_field, *time_unit;
    const char *err; /* a piece of the expected message */
} bad_schemas[] = {
    {"not json", NULL, NULL, "not valid JSON"},
    {"", NULL, NULL, "not valid JSON"},
    {"{'type':'record','name':'r','fields':[],'type':'record'}", NULL, NULL, "not valid JSON"},
    {"'int'", NULL, NULL, "not a record"},
    {"['null','int']", NULL, NULL, "not a record"},
    {"{'type':'enum','name':'e','symbols':['A']}", NULL, NULL, "not a record"},
    {"{'type':'record','name':'r'}", NULL, NULL, "\"fields\""},
    {"{'type':'record','fields':[]}", NULL, NULL, "without a \"name\""},
    {"{'type':'record','name':'1r','fields':[]}", NULL, NULL, "invalid name \"1r\""},
    {"{'type':'record','name':'a..b','fields':[]}", NULL, NULL, "invalid name"},
    {"{'type':'record','name':'r','namespace':'x-y','fields':[]}", NULL, NULL, "namespace"},
    {REC("{'name':'rx_time','type':'long'}"), NULL, NULL, "\"rx_time\" is reserved"},
    {REC("{'name':'a','type':'foo'}"), NULL, NULL, "unknown type \"foo\" (field \"a\")"},
    /* names from the schema are quoted in the message, which stays one line (fuzz_schema) */
    {REC("{'name':'a','type':'bo\\nol\\u0001'}"), NULL, NULL, "unknown type \"bo\\nol\\x01\""},
    {REC("{'name':'a','type':{'type':'array','items':'foo'}}"), NULL, NULL, "unknown type"},
    {REC("{'name':'a','type':{'type':'bar'}}"), NULL, NULL, "unknown type \"bar\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'F','size':2}},{'name':'b','type':{'type':'F'}}"),
     NULL, NULL, "{\"type\": \"F\"}: a named type is referenced by its name alone"},
    {REC("{'name':'a','type':{'type':5}}"), NULL, NULL, "string \"type\""},
    {REC("{'name':'a','type':5}"), NULL, NULL, "a type must be"},
    {REC("{'name':'a'}"), NULL, NULL, "has no \"type\""},
    {REC("{'type':'int'}"), NULL, NULL, "without a \"name\""},
    {REC("{'name':'a-b','type':'int'}"), NULL, NULL, "invalid field name \"a-b\""},
    {REC("{'name':'a','type':'int'},{'name':'a','type':'long'}"), NULL, NULL, "declared twice"},
    {REC("{'name':'a','type':['null',['int','string']]}"), NULL, NULL, "union directly inside"},
    {REC("{'name':'a','type':['int','int']}"), NULL, NULL, "two branches of the same type"},
    {REC("{'name':'a','type':['null',{'type':'array','items':'int'},"
         "{'type':'array','items':'long'}]}"), NULL, NULL, "two branches"},
    {REC("{'name':'a','type':{'type':'enum','name':'e','symbols':['A']}},"
         "{'name':'b','type':['e','e']}"), NULL, NULL, "two branches"},
    {REC("{'name':'a','type':{'type':'enum','name':'e','symbols':['A','A']}}"), NULL, NULL,
     "symbol \"A\" is declared twice"},
    {REC("{'name':'a','type':{'type':'enum','name':'e','symbols':['1']}}"), NULL, NULL,
     "invalid enum symbol"},
    {REC("{'name':'a','type':{'type':'enum','name':'e'}}"), NULL, NULL, "\"symbols\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'f'}}"), NULL, NULL, "\"size\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'f','size':-1}}"), NULL, NULL, "\"size\""},
    {REC("{'name':'a','type':{'type':'array'}}"), NULL, NULL, "without \"items\""},
    {REC("{'name':'a','type':{'type':'map'}}"), NULL, NULL, "without \"values\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'int','size':1}}"), NULL, NULL,
     "cannot be called \"int\""},
    {REC("{'name':'a','type':{'type':'fixed','name':'f','size':1}},"
         "{'name':'b','type':{'type':'fixed','name':'f','size':2}}"), NULL, NULL,
     "type \"f\" is defined twice"},
    {REC("{'name':'a','type':'later'},"
         "{'name':'b','type':{'type':'fixed','name':'later','size':2}}"), NULL, NULL,
     "unknown type \"later\""},
    {REC("{'name':'a','type':{'type':'record','name':'i','namespace':'x','fields':[]}},"
         "{'name':'b','type':'i'}"), NULL, NULL, "unknown type \"i\""},
    /* a name without a dot is in the enclosing namespace, and only there (no fallback to the
     * null namespace, as in fastavro, Apache avro and avro-c) */
    {"{'type':'record','name':'r','namespace':'a.b','fields':[{'name':'q','type':{'type':'fixed',"
     "'name':'f','namespace':'','size':1}},{'name':'p','type':'f'}]}", NULL, NULL,
     "unknown type \"f\" (in namespace \"a.b\" it means \"a.b.f\") (field \"p\")"},
    /* issue 7: inside namespace a, X means a.X, not yet defined here (not the channel record) */
    {"{'type':'record','name':'X','fields':[{'name':'a','type':{'type':'record','name':'a.Y',"
     "'fields':[{'name':'r','type':['null','X']}]}},{'name':'b','type':{'type':'record',"
     "'name':'a.X','fields':[{'name':'k','type':'int'}]}}]}", NULL, NULL,
     "unknown type \"X\" (in namespace \"a\" it means \"a.X\")"},
    {REC("{'name':'t','type':'long'}"), "time", NULL, "\"time\" is not a field"},
    {REC("{'name':'time','type':'int'}"), "time", NULL, "\"time\" is not a long"},
    {REC("{'name':'time','type':['null','long']}"), "time", NULL, "not a long"},
};

static const struct {
    const char *json;
    const char *time_field, *time_unit;
    int index;
    const char *unit;
} good_schemas[] = {
    {REC("{'name':'a','type':'int'},{'name':'time','type':'long','logicalType':'timestamp-nanos'}"),
     "time", NULL, 1, "ns"},
    {REC("{'name':'time','type':{'type':'long','logicalType':'timestamp-millis'},"
         "'logicalType':'timestamp-nanos'}"), "time", "s", 0, "ms"},
    {REC("{'name':'time','type':{'type':'long','logicalType':'timestamp-micros'}}"), "time", NULL,
     0, "us"},
    {REC("{'name':'time','type':'long','logicalType':'timestamp-micros'}"), "time", "s", 0, "us"},
    {REC("{'name':'time','type':'long','logicalType':'timestamp-millis'}"), "time", NULL, 0, "ms"},
    {REC("{'name':'time','type':{'type':'long','logicalType':'time-micros'}}"), "time", "ms", 0,
     "ms"},
    {REC("{'name':'time','type':'long'}"), "time", "s", 0, "s"},
    {REC("{'name':'time','type':{'type':'long'}}"), "time", "us", 0, "us"},
    {REC("{'name':'time','type':'long'}"), "time", NULL, 0, "ns"},
    {REC("{'name':'time','type':'long'}"), NULL, NULL, -1, "ns"},
    {REC("{'name':'time','type':'long'}"), NULL, "ms", -1, "ns"},
    /* names: namespaces, references, recursion, named types in unions */
    {"{'type':'record','name':'r','namespace':'a.b','fields':["
     "{'name':'x','type':{'type':'record','name':'inner','fields':[{'name':'v','type':'int'}]}},"
     "{'name':'y','type':'inner'},{'name':'z','type':'a.b.inner'},"
     "{'name':'w','type':{'type':'enum','name':'c.e','symbols':['A']}},"
     "{'name':'q','type':['null','c.e','inner',{'type':'fixed','name':'f','namespace':'','size':1}]},"
     "{'name':'self','type':{'type':'array','items':'r'}}]}",
     NULL, NULL, -1, "ns"},
    {REC("{'name':'a','type':['null','int','long','float','double','bytes','string','boolean',"
         "{'type':'array','items':'int'},{'type':'map','values':'int'},"
         "{'type':'record','name':'x','fields':[]},{'type':'record','name':'y','fields':[]}]}"),
     NULL, NULL, -1, "ns"},
    {REC("{'name':'a','type':{'type':'enum','name':'none','symbols':[]}}"), NULL, NULL, -1, "ns"},
};

static void test_schema_errors(void)
{
    char err[512];
    zr_schema s;
    for (size_t i = 0; i < sizeof bad_schemas / sizeof bad_schemas[0]; i++) {
        err[0] = 0;
        int rc = zr_schema_load(&s, schema_file(bad_schemas[i].json), bad_schemas[i].time_field,
                                bad_schemas[i].time_unit, err, sizeof err);
        CHECKF(rc == -1 && strstr(err, bad_schemas[i].err) && !strchr(err, '\n'),
               "bad schema %s: rc %d, message \"%s\", want \"%s\"", bad_schemas[i].json, rc, err,
               bad_schemas[i].err);
        CHECKF(s.root == NULL && s.owned == NULL, "failed load leaves nothing behind");
    }
    int rc = zr_schema_load(&s, "/nonexistent/x.avsc", NULL, NULL, err, sizeof err);
    CHECKF(rc == -1 && strstr(err, "/nonexistent/x.avsc") && strstr(err, "cannot read"),
           "missing file: %s", err);
}

static void test_schema_units(void)
{
    char err[512];
    zr_schema s;
    for (size_t i = 0; i < sizeof good_schemas / sizeof good_schemas[0]; i++) {
        int rc = zr_schema_load(&s, schema_file(good_schemas[i].json), good_schemas[i].time_field,
                                good_schemas[i].time_unit, err, sizeof err);
        CHECKF(rc == 0, "good schema %s: %s", good_schemas[i].json, err);
        if (rc)
            continue;
        CHECKF(s.time_field == good_schemas[i].index && !strcmp(s.time_unit, good_schemas[i].unit),
               "schema %s: time field %d unit %s, want %d %s", good_schemas[i].json, s.time_field,
               s.time_unit, good_schemas[i].index, good_schemas[i].unit);
        zr_schema_free(&s);
    }
}

/* A schema nesting `levels` levels (the record counts one) of the given kind, as JSON. */
static char *nested(const char *kind, int levels)
{
    size_t cap = 256 + (size_t)levels * 80;
    char *json = malloc(cap);
    size_t n = (size_t)snprintf(json, cap, "{'type':'record','name':'r0','fields':[{'name':'f',"
                                           "'type':");
    int opened = 0;
    for (int i = 1; i < levels; i++, opened++) {
        if (!strcmp(kind, "array"))
            n += (size_t)snprintf(json + n, cap - n, "{'type':'array','items':");
        else if (!strcmp(kind, "map"))
            n += (size_t)snprintf(json + n, cap - n, "{'type':'map','values':");
        else if (!strcmp(kind, "record"))
            n += (size_t)snprintf(json + n, cap - n, "{'type':'record','name':'r%d','fields':"
                                                     "[{'name':'f','type':", i);
        else /* union: alternately a union and an array */
            n += (size_t)snprintf(json + n, cap - n, i % 2 ? "['null'," : "{'type':'array',"
                                                                          "'items':");
    }
    n += (size_t)snprintf(json + n, cap - n, "'int'");
    for (int i = opened; i >= 1; i--) {
        const char *close = !strcmp(kind, "record") ? "}]}" : !strcmp(kind, "union") && i % 2
                                                                  ? "]"
                                                                  : "}";
        n += (size_t)snprintf(json + n, cap - n, "%s", close);
    }
    snprintf(json + n, cap - n, "}]}");
    return json;
}

/* One nesting limit for loading and validating: a schema of ZR_MAX_DEPTH levels loads (its
 * deepest record is accepted: test_validate_limits.c), one level more is refused with a line
 * that says so, whatever nests (records, arrays, maps, unions), and also when jansson's own
 * depth limit stops the parse first. */
static void test_nesting_limit(void)
{
    static const char *const kinds[] = {"array", "map", "record", "union"};
    char err[512], want[128];
    zr_schema s;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char *json = nested(kinds[k], ZR_MAX_DEPTH);
        int rc = zr_schema_load(&s, schema_file(json), NULL, NULL, err, sizeof err);
        CHECKF(rc == 0 && s.root->nest == ZR_MAX_DEPTH, "%s x %d: %s", kinds[k], ZR_MAX_DEPTH,
               rc ? err : "loads");
        if (!rc)
            zr_schema_free(&s);
        free(json);
        json = nested(kinds[k], ZR_MAX_DEPTH + 1);
        rc = zr_schema_load(&s, schema_file(json), NULL, NULL, err, sizeof err);
        snprintf(want, sizeof want, "nests %d levels (records, arrays, maps and unions), the "
                                    "limit is %d", ZR_MAX_DEPTH + 1, ZR_MAX_DEPTH);
        CHECKF(rc == -1 && strstr(err, want) && !strchr(err, '\n'), "%s x %d: %s", kinds[k],
               ZR_MAX_DEPTH + 1, err);
        free(json);
    }
    /* jansson refuses JSON nested deeper than 2048 before any Avro is read */
    char *json = nested("array", 3000);
    int rc = zr_schema_load(&s, schema_file(json), NULL, NULL, err, sizeof err);
    snprintf(want, sizeof want, "nests more than %d levels", ZR_MAX_DEPTH);
    CHECKF(rc == -1 && strstr(err, want) && strstr(err, "the limit is 64"), "3000 arrays: %s",
           err);
    free(json);
}

/* How nesting is counted: a named type adds its levels where it is referred to; a reference
 * back to a record being defined (recursion) adds none (values of recursive schemas are
 * bounded when validated instead); issue 7's 500 arrays are refused. */
static void test_nesting_count(void)
{
    static const struct {
        const char *json;
        int nest; /* 0: refused */
    } cases[] = {
        {REC("{'name':'a','type':'int'}"), 1},
        {REC("{'name':'a','type':['null','int']}"), 2},
        {REC("{'name':'a','type':{'type':'record','name':'i','fields':[{'name':'x','type':"
             "{'type':'array','items':'int'}}]}},{'name':'b','type':{'type':'map','values':'i'}}"),
         4},
        {"{'type':'record','name':'l','fields':[{'name':'n','type':['null','l']}]}", 2},
        {"{'type':'record','name':'t','fields':[{'name':'k','type':{'type':'array','items':"
         "{'type':'map','values':'t'}}}]}", 3},
    };
    char err[512];
    zr_schema s;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = zr_schema_load(&s, schema_file(cases[i].json), NULL, NULL, err, sizeof err);
        CHECKF(rc == 0 && (int)s.root->nest == cases[i].nest, "%s: %s, nest %u want %d",
               cases[i].json, rc ? err : "loads", rc ? 0 : s.root->nest, cases[i].nest);
        if (!rc)
            zr_schema_free(&s);
    }
    /* R {a: array of array of ... (500 deep) of ["null", R]} */
    size_t cap = 128 + 500 * 32, n = 0;
    char *json = malloc(cap);
    n += (size_t)snprintf(json, cap, "{'type':'record','name':'R','fields':[{'name':'a','type':");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(json + n, cap - n, "{'type':'array','items':");
    n += (size_t)snprintf(json + n, cap - n, "['null','R']");
    for (int i = 0; i < 500; i++)
        json[n++] = '}';
    snprintf(json + n, cap - n, "}]}");
    int rc = zr_schema_load(&s, schema_file(json), NULL, NULL, err, sizeof err);
    CHECKF(rc == -1 && strstr(err, "nests 502 levels"), "500 arrays: %s", err);
    free(json);
}

int main(void)
{
    fixtures_init("test_schema");
    test_schema_errors();
    test_schema_units();
    test_nesting_limit();
    test_nesting_count();
    fixtures_cleanup();
    return zr_check_summary("test_schema");
}
