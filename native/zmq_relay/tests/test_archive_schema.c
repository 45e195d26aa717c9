/* The archive schema text (archive_schema.c): rx_time first, every attribute kept; the
 * archive record of a recursive channel record; names resolved as the validator's are. */
#include "zr_fixtures.h"

/* The archive schema: rx_time first, everything else as written, compact. It is itself a valid
 * schema except for using the reserved name. */
static void test_archive_schema(void)
{
    const char *in =
        "{\n  'type': 'record', 'name': 'data', 'namespace': 'speeddata.example',\n"
        "  'doc': 'Demo \xc2\xb5 \\\"q\\\"', 'unit_system': {'k': [1, 2.5, null, true]},\n"
        "  'fields': [\n"
        "    {'name': 'time', 'type': 'long', 'logicalType': 'timestamp-nanos', 'doc': 'Device'},\n"
        "    {'name': 'v', 'type': {'type': 'double', 'unit': 'V'}, 'default': 0.5},\n"
        "    {'name': 'e', 'type': {'type': 'enum', 'name': 'E', 'symbols': ['A'], 'default': 'A'}}\n"
        "  ],\n  'aliases': ['old']\n}\n";
    const char *want =
        "{'type':'record','name':'data','namespace':'speeddata.example',"
        "'doc':'Demo \xc2\xb5 \\\"q\\\"','unit_system':{'k':[1,2.5,null,true]},'fields':["
        "{'name':'rx_time','type':{'type':'long','logicalType':'timestamp-nanos'},"
        "'doc':'Kernel receive time of the datagram (CLOCK_REALTIME), ns since the Unix epoch'},"
        "{'name':'time','type':'long','logicalType':'timestamp-nanos','doc':'Device'},"
        "{'name':'v','type':{'type':'double','unit':'V'},'default':0.5},"
        "{'name':'e','type':{'type':'enum','name':'E','symbols':['A'],'default':'A'}}],"
        "'aliases':['old']}";
    char expect[1024], err[512];
    size_t k = 0;
    for (const char *c = want; *c; c++)
        expect[k++] = *c == '\'' ? '"' : *c;
    expect[k] = 0;
    zr_schema s;
    int rc = zr_schema_load(&s, schema_file(in), "time", NULL, err, sizeof err);
    CHECKF(rc == 0, "archive test schema: %s", err);
    if (rc)
        return;
    CHECKF(!strcmp(s.archive_schema, expect), "archive schema\n got %s\nwant %s", s.archive_schema,
           expect);
    CHECKF(s.nfields == 3 && !strcmp(s.fields[2].name, "e") && s.fields[2].type->type == ZR_T_ENUM,
           "fields of the channel record");
    CHECKF(s.time_field == 0 && !strcmp(s.time_unit, "ns"), "time field of the archive test");
    zr_schema again;
    rc = zr_schema_load(&again, schema_file(s.archive_schema), NULL, NULL, err, sizeof err);
    CHECKF(rc == -1 && strstr(err, "rx_time"), "archive schema reloads: %s", err);
    zr_schema_free(&s);
}

/* A recursive channel record: the archive record is a new one (name + "_archive", once more
 * when taken; no aliases) whose first reference to the channel record holds its definition,
 * so nested records are the channel record, without rx_time. Named types are defined once,
 * at their first occurrence, and referred to by full name after. The first two cases are
 * tests/test_schema.py's too (speeddata.schema builds the same); the third is issue 7's names
 * case (tests/test_relay_schema_limits.py reads its archive with fastavro, Apache avro and
 * avrocat); fastavro refuses the last (a {'type': name} reference). */
#define RX "{'name':'rx_time','type':{'type':'long','logicalType':'timestamp-nanos'},'doc':" \
           "'Kernel receive time of the datagram (CLOCK_REALTIME), ns since the Unix epoch'}"
static const struct {
    const char *channel, *archive;
} recursive[] = {
    {"{'type':'record','name':'list','fields':[{'name':'v','type':'int'},"
     "{'name':'next','type':['null','list']}]}",
     "{'type':'record','name':'list_archive','fields':[" RX ",{'name':'v','type':'int'},"
     "{'name':'next','type':['null',{'type':'record','name':'list','fields':["
     "{'name':'v','type':'int'},{'name':'next','type':['null','list']}]}]}]}"},
    {"{'type':'record','name':'node','namespace':'t','aliases':['old'],'doc':'d','fields':["
     "{'name':'kind','type':{'type':'enum','name':'node_archive','symbols':['A','B']}},"
     "{'name':'kids','type':{'type':'array','items':'node'}},"
     "{'name':'again','type':'node_archive'},"
     "{'name':'w','type':{'type':'record','name':'wrap','namespace':'b','fields':["
     "{'name':'n','type':['null','t.node']}]}}]}",
     "{'type':'record','name':'node_archive_archive','namespace':'t','doc':'d','fields':[" RX ","
     "{'name':'kind','type':{'type':'enum','name':'node_archive','symbols':['A','B']}},"
     "{'name':'kids','type':{'type':'array','items':{'type':'record','name':'node',"
     "'namespace':'t','aliases':['old'],'doc':'d','fields':["
     "{'name':'kind','type':'t.node_archive'},"
     "{'name':'kids','type':{'type':'array','items':'node'}},"
     "{'name':'again','type':'node_archive'},"
     "{'name':'w','type':{'type':'record','name':'wrap','namespace':'b','fields':["
     "{'name':'n','type':['null','t.node']}]}}]}}},"
     "{'name':'again','type':'node_archive'},{'name':'w','type':'b.wrap'}]}"},
    /* a recursive reference from another namespace: by full name (issue 7's schema with a
     * namespace, so that X inside namespace a can name the channel record: n.X) */
    {"{'type':'record','name':'X','namespace':'n','fields':[{'name':'a','type':{'type':'record',"
     "'name':'a.Y','fields':[{'name':'r','type':['null','n.X']}]}},{'name':'b','type':{"
     "'type':'record','name':'a.X','fields':[{'name':'k','type':'int'}]}}]}",
     "{'type':'record','name':'X_archive','namespace':'n','fields':[" RX ",{'name':'a','type':{"
     "'type':'record','name':'a.Y','fields':[{'name':'r','type':['null',{'type':'record',"
     "'name':'X','namespace':'n','fields':[{'name':'a','type':'a.Y'},{'name':'b','type':{"
     "'type':'record','name':'a.X','fields':[{'name':'k','type':'int'}]}}]}]}]}},"
     "{'name':'b','type':'a.X'}]}"},
};

static void test_recursive_archive_schema(void)
{
    char expect[2048], err[512];
    for (size_t i = 0; i < sizeof recursive / sizeof recursive[0]; i++) {
        size_t k = 0;
        for (const char *c = recursive[i].archive; *c && k + 1 < sizeof expect; c++)
            expect[k++] = *c == '\'' ? '"' : *c;
        expect[k] = 0;
        zr_schema s;
        int rc = zr_schema_load(&s, schema_file(recursive[i].channel), NULL, NULL, err,
                                sizeof err);
        CHECKF(rc == 0, "recursive schema %zu: %s", i, err);
        if (rc)
            continue;
        CHECKF(!strcmp(s.archive_schema, expect), "recursive archive schema %zu\n got %s\nwant %s",
               i, s.archive_schema, expect);
        zr_schema_free(&s);
    }
}

/* Issue 7: names resolve once, by the specification, for the validator and the archive schema
 * alike. Inside namespace a, X means a.X (here defined before), not the channel record X: the
 * channel record is not recursive and its archive record is itself with rx_time. */
static void test_names(void)
{
    const char *json =
        "{'type':'record','name':'X','fields':[{'name':'b','type':{'type':'record','name':'a.X',"
        "'fields':[{'name':'k','type':'int'}]}},{'name':'a','type':{'type':'record','name':'a.Y',"
        "'fields':[{'name':'r','type':['null','X']}]}}]}";
    char err[512];
    zr_schema s;
    int rc = zr_schema_load(&s, schema_file(json), NULL, NULL, err, sizeof err);
    CHECKF(rc == 0, "names: %s", err);
    if (rc)
        return;
    const zr_node *ax = s.root->children[0], *y = s.root->children[1];
    CHECKF(y->children[0]->children[1] == ax, "X inside namespace a is a.X");
    CHECKF(s.root->nest == 4, "not recursive: nest %u", s.root->nest);
    CHECKF(strstr(s.archive_schema, "{\"type\":\"record\",\"name\":\"X\",\"fields\":[{\"name\""
                                    ":\"rx_time\"") == s.archive_schema &&
               !strstr(s.archive_schema, "_archive"),
           "plain archive record: %s", s.archive_schema);
    zr_schema_free(&s);
}

int main(void)
{
    fixtures_init("test_archive_schema");
    test_archive_schema();
    test_recursive_archive_schema();
    test_names();
    fixtures_cleanup();
    return zr_check_summary("test_archive_schema");
}
