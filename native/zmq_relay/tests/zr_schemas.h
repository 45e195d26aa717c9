/* The schemas the validator tests (test_validate.c, test_validate_walk.c) refer to by name,
 * loaded once by load_schemas(), and valid records of some of them. */
#ifndef ZR_SCHEMAS_H
#define ZR_SCHEMAS_H

#include "zr_fixtures.h"


/* The schemas the datagram tables refer to by name. */
static const struct {
    const char *name;
    const char *json;
} schemas[] = {
    {"example",
     "{'type':'record','name':'data','namespace':'speeddata.example','fields':["
     "{'name':'time','type':'long','logicalType':'timestamp-nanos'},"
     "{'name':'message','type':'string'},{'name':'counter','type':'int'},"
     "{'name':'sine_wave','type':'double'},{'name':'ramp','type':'double'},"
     "{'name':'square_wave','type':'double'},{'name':'noise','type':'double'}]}"},
    {"all",
     "{'type':'record','name':'all','namespace':'t','fields':["
     "{'name':'n','type':'null'},{'name':'b','type':'boolean'},{'name':'i','type':'int'},"
     "{'name':'l','type':'long'},{'name':'f','type':'float'},{'name':'d','type':'double'},"
     "{'name':'by','type':'bytes'},{'name':'s','type':'string'},"
     "{'name':'fx','type':{'type':'fixed','name':'f3','size':3}},"
     "{'name':'e','type':{'type':'enum','name':'color','symbols':['R','G','B']}},"
     "{'name':'a','type':{'type':'array','items':'int'}},"
     "{'name':'m','type':{'type':'map','values':'string'}},"
     "{'name':'u','type':['null','string']},"
     "{'name':'r','type':{'type':'record','name':'inner','fields':[{'name':'x','type':'int'}]}}]}"},
    {"boolean", ONE("'boolean'")},
    {"int", ONE("'int'")},
    {"long", ONE("'long'")},
    {"timestamp", ONE("{'type':'long','logicalType':'timestamp-micros'}")},
    {"float", ONE("'float'")},
    {"double", ONE("'double'")},
    {"bytes", ONE("'bytes'")},
    {"string", ONE("'string'")},
    {"fixed3", ONE("{'type':'fixed','name':'f','size':3}")},
    {"fixed0", "{'type':'record','name':'r','fields':[{'name':'z','type':{'type':'fixed',"
               "'name':'z','size':0}},{'name':'v','type':'int'}]}"},
    {"enum", ONE("{'type':'enum','name':'e','symbols':['A','B','C']}")},
    {"union", ONE("['null','int','string']")},
    {"array", ONE("{'type':'array','items':'int'}")},
    {"array_null", ONE("{'type':'array','items':'null'}")},
    {"array_null_int", "{'type':'record','name':'r','fields':[{'name':'a','type':{'type':'array',"
                       "'items':'null'}},{'name':'v','type':'int'}]}"},
    {"array_fixed0", "{'type':'record','name':'r','fields':[{'name':'a','type':{'type':'array',"
                     "'items':{'type':'fixed','name':'z','size':0}}},{'name':'v','type':'int'}]}"},
    {"array_nulls", "{'type':'record','name':'r','fields':[{'name':'a','type':{'type':'array',"
                    "'items':{'type':'record','name':'n','fields':[{'name':'c','type':'null'}]}}},"
                    "{'name':'v','type':'int'}]}"},
    {"map", ONE("{'type':'map','values':'string'}")},
    {"map_null", ONE("{'type':'map','values':'null'}")},
    {"nested", "{'type':'record','name':'o','fields':[{'name':'a','type':'int'},"
               "{'name':'r','type':{'type':'record','name':'i','fields':["
               "{'name':'x','type':'string'},{'name':'y','type':'boolean'}]}},"
               "{'name':'z','type':'long'}]}"},
    {"list", "{'type':'record','name':'list','fields':[{'name':'v','type':'int'},"
             "{'name':'next','type':['null','list']}]}"},
    {"chain", "{'type':'record','name':'node','fields':[{'name':'next','type':['null','node']}]}"},
    {"tree", "{'type':'record','name':'tree','fields':"
             "[{'name':'kids','type':{'type':'array','items':'tree'}}]}"},
    {"empty", "{'type':'record','name':'r','fields':[]}"},
    {"nulls", "{'type':'record','name':'r','fields':[{'name':'a','type':'null'},"
              "{'name':'b','type':{'type':'record','name':'n','fields':[{'name':'c','type':'null'}]}}]}"},
    {"int_first", "{'type':'record','name':'r','fields':[{'name':'a','type':'int'},"
                  "{'name':'b','type':'string'}]}"},
};

static zr_schema loaded[sizeof schemas / sizeof schemas[0]];

static inline const zr_schema *schema(const char *name)
{
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
        if (!strcmp(schemas[i].name, name))
            return &loaded[i];
    }
    fprintf(stderr, "unknown schema in test table: %s\n", name);
    exit(2);
}

static inline void load_schemas(void)
{
    char err[512];
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
        int rc = zr_schema_load(&loaded[i], schema_file(schemas[i].json), NULL, NULL, err,
                                sizeof err);
        CHECKF(rc == 0, "schema %s does not load: %s", schemas[i].name, err);
        if (rc) {
            fprintf(stderr, "cannot go on without the test schemas\n");
            exit(1);
        }
    }
}

static inline void free_schemas(void)
{
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
        zr_schema_free(&loaded[i]);
}

/* One record of "example": time 1, message "hi", counter 5, doubles 1.0 0.5 -1.0 0.0. */
#define EX "02 04 68 69 0a 000000000000f03f 000000000000e03f 000000000000f0bf 0000000000000000"
/* One record of "all" and its field lengths. */
#define ALL "01 02 04 0000803f 000000000000f03f 04 ff 00 06 e2 82 ac 01 02 03 04 " \
            "03 04 02 04 00 02 02 6b 02 76 00 02 02 61 06"
static const uint32_t all_lens[] = {0, 1, 1, 1, 4, 8, 3, 4, 3, 1, 5, 6, 3, 1};

#endif
