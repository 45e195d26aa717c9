/* Command line -> zr_config: every flag of the contract, each value checked, one line on error. */
#include "zr_args.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_NAME = 256, OPT_PORT, OPT_SCHEMA, OPT_DATA_DIR, OPT_BIND, OPT_FINGERPRINT,
    OPT_MCAST_FULL, OPT_MCAST_DEC, OPT_MCAST_IF, OPT_MCAST_TTL, OPT_DECIMATE, OPT_ALGORITHM,
    OPT_ROTATE_SECONDS, OPT_ROTATE_BYTES, OPT_FLUSH_MS, OPT_TIME_FIELD, OPT_TIME_UNIT, OPT_BUS,
    OPT_RCVBUF, OPT_QUARANTINE_BYTES, OPT_DEC_MAX_BYTES, OPT_DIE_WITH_PARENT, OPT_HELP,
    OPT_CHECK_SCHEMA, OPT_PRINT_ARCHIVE_SCHEMA
};

static const struct option OPTIONS[] = {
    {"name", required_argument, NULL, OPT_NAME},
    {"port", required_argument, NULL, OPT_PORT},
    {"schema", required_argument, NULL, OPT_SCHEMA},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"bind", required_argument, NULL, OPT_BIND},
    {"fingerprint", required_argument, NULL, OPT_FINGERPRINT},
    {"mcast-full", required_argument, NULL, OPT_MCAST_FULL},
    {"mcast-dec", required_argument, NULL, OPT_MCAST_DEC},
    {"mcast-if", required_argument, NULL, OPT_MCAST_IF},
    {"mcast-ttl", required_argument, NULL, OPT_MCAST_TTL},
    {"decimate", required_argument, NULL, OPT_DECIMATE},
    {"algorithm", required_argument, NULL, OPT_ALGORITHM},
    {"rotate-seconds", required_argument, NULL, OPT_ROTATE_SECONDS},
    {"rotate-bytes", required_argument, NULL, OPT_ROTATE_BYTES},
    {"flush-ms", required_argument, NULL, OPT_FLUSH_MS},
    {"time-field", required_argument, NULL, OPT_TIME_FIELD},
    {"time-unit", required_argument, NULL, OPT_TIME_UNIT},
    {"bus", required_argument, NULL, OPT_BUS},
    {"rcvbuf", required_argument, NULL, OPT_RCVBUF},
    {"quarantine-bytes", required_argument, NULL, OPT_QUARANTINE_BYTES},
    {"dec-max-bytes", required_argument, NULL, OPT_DEC_MAX_BYTES},
    {"die-with-parent", no_argument, NULL, OPT_DIE_WITH_PARENT},
    {"help", no_argument, NULL, OPT_HELP},
    {"check-schema", required_argument, NULL, OPT_CHECK_SCHEMA},
    {"print-archive-schema", no_argument, NULL, OPT_PRINT_ARCHIVE_SCHEMA},
    {NULL, 0, NULL, 0},
};

static const char USAGE[] =
    "usage: zmq_relay --name NAME --port PORT --schema FILE --data-dir DIR [--bind ADDR]\n"
    "                 [--fingerprint HEX16] [--mcast-full ADDR:PORT] [--mcast-dec ADDR:PORT]\n"
    "                 [--mcast-if ADDR] [--mcast-ttl N] [--decimate N]\n"
    "                 [--algorithm downsample|mean|average|minmax|rms]\n"
    "                 [--rotate-seconds S] [--rotate-bytes B] [--flush-ms MS]\n"
    "                 [--time-field FIELD] [--time-unit s|ms|us|ns] [--bus ENDPOINT]\n"
    "                 [--rcvbuf BYTES] [--quarantine-bytes B] [--dec-max-bytes B]\n"
    "                 [--die-with-parent]\n"
    "       zmq_relay --check-schema FILE [--time-field FIELD] [--time-unit s|ms|us|ns]\n"
    "       zmq_relay --print-archive-schema --schema FILE [--time-field FIELD]\n"
    "                 [--time-unit s|ms|us|ns]\n"
    "Receives one channel's Avro datagrams on UDP, validates every record and archives it\n"
    "with its receive time under DIR/archive/NAME/.\n"
    "--check-schema: whether the relay runs the channel schema in FILE (\"-\": stdin): prints\n"
    "\"ok\" (\"ok time_unit=U\" with --time-field) and exits 0, else one line and exits 2.\n"
    "--print-archive-schema: prints the archive schema of the channel schema (exit 0).\n";

const char *zr_args_usage(void)
{
    return USAGE;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A whole decimal number within [min, max]. */
static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                     char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || *end || errno || v < min || v > max)
        return fail(err, errlen, "--%s: \"%s\" is not a whole number in [%llu, %llu]", opt, s,
                    (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *s, int min, int max, int *out, char *err,
                     size_t errlen)
{
    uint64_t v;
    if (parse_u64(opt, s, (uint64_t)min, (uint64_t)max, &v, err, errlen))
        return -1;
    *out = (int)v;
    return 0;
}

/* Seconds (a positive decimal number, fractions allowed) -> ns. */
static int parse_seconds(const char *opt, const char *s, int64_t *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > 1e9)
        return fail(err, errlen, "--%s: \"%s\" is not a positive number of seconds", opt, s);
    *out = (int64_t)(v * 1e9);
    return 0;
}

static int parse_name(const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);
    int ok = n >= 1 && n <= ZR_NAME_MAX && s[0] >= 'a' && s[0] <= 'z';
    for (size_t i = 1; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || isdigit((unsigned char)s[i]) || s[i] == '_' ||
             s[i] == '-';
    if (!ok)
        return fail(err, errlen, "--name: \"%s\" does not match [a-z][a-z0-9_-]{0,62}", s);
    return 0;
}

static int parse_fingerprint(zr_config *c, const char *s, char *err, size_t errlen)
{
    if (strlen(s) != 16)
        return fail(err, errlen, "--fingerprint: \"%s\" is not 16 hex digits", s);
    for (int i = 0; i < 16; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return fail(err, errlen, "--fingerprint: \"%s\" is not 16 hex digits", s);
        c->fingerprint_hex[i] = (char)tolower((unsigned char)s[i]);
    }
    c->fingerprint_hex[16] = '\0';
    for (int i = 0; i < 8; i++) {
        char byte[3] = {c->fingerprint_hex[2 * i], c->fingerprint_hex[2 * i + 1], '\0'};
        c->fingerprint[i] = (uint8_t)strtoul(byte, NULL, 16);
    }
    c->has_fingerprint = 1;
    return 0;
}

/* `group:port` with an IPv4 multicast group. */
static int parse_endpoint(const char *opt, const char *s, zr_endpoint *e, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    char group[INET_ADDRSTRLEN];
    size_t glen = colon ? (size_t)(colon - s) : 0;
    uint64_t port;
    if (!colon || glen == 0 || glen >= sizeof group || strlen(s) >= sizeof e->text)
        return fail(err, errlen, "--%s: \"%s\" is not GROUP:PORT", opt, s);
    memcpy(group, s, glen);
    group[glen] = '\0';
    if (inet_pton(AF_INET, group, &e->group) != 1 || !IN_MULTICAST(ntohl(e->group.s_addr)))
        return fail(err, errlen, "--%s: \"%s\" is not an IPv4 multicast group (224.0.0.0/4)",
                    opt, group);
    if (parse_u64(opt, colon + 1, 1, 65535, &port, err, errlen))
        return -1;
    e->port = (uint16_t)port;
    snprintf(e->text, sizeof e->text, "%s", s);
    e->set = 1;
    return 0;
}

static int parse_algorithm(zr_config *c, const char *s, char *err, size_t errlen)
{
    if (!strcmp(s, "downsample"))
        c->algorithm = ZR_ALG_DOWNSAMPLE;
    else if (!strcmp(s, "mean") || !strcmp(s, "average"))
        c->algorithm = ZR_ALG_MEAN;
    else if (!strcmp(s, "minmax"))
        c->algorithm = ZR_ALG_MINMAX;
    else if (!strcmp(s, "rms"))
        c->algorithm = ZR_ALG_RMS;
    else
        return fail(err, errlen,
                    "--algorithm: \"%s\" is not one of downsample, mean, average, minmax, rms", s);
    return 0;
}

static int parse_time_unit(zr_config *c, const char *s, char *err, size_t errlen)
{
    if (strcmp(s, "s") && strcmp(s, "ms") && strcmp(s, "us") && strcmp(s, "ns"))
        return fail(err, errlen, "--time-unit: \"%s\" is not one of s, ms, us, ns", s);
    c->time_unit = s;
    return 0;
}

static int parse_address(const char *opt, const char *s, char *err, size_t errlen)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1)
        return fail(err, errlen, "--%s: \"%s\" is not a numeric IPv4 or IPv6 address", opt, s);
    return 0;
}

static int nonempty(const char *opt, const char *s, char *err, size_t errlen)
{
    return *s ? 0 : fail(err, errlen, "--%s: empty value", opt);
}

/* The schema file ("-": standard input) of --schema, or of --check-schema (not both). */
static int set_schema(zr_config *c, const char *opt, const char *v, char *err, size_t errlen)
{
    if (c->mode == ZR_MODE_CHECK_SCHEMA && (c->schema_path || !strcmp(opt, "schema")))
        return fail(err, errlen, "--%s: give the schema file once (--check-schema FILE)", opt);
    c->schema_path = strcmp(v, "-") ? v : "/dev/stdin";
    return nonempty(opt, v, err, errlen);
}

static void set_defaults(zr_config *c)
{
    memset(c, 0, sizeof *c);
    c->port = -1;
    c->bind = "127.0.0.1";
    c->mcast_if.s_addr = htonl(INADDR_LOOPBACK);
    c->decimate = 1;
    c->algorithm = ZR_ALG_DOWNSAMPLE;
    c->rotate_ns = 60 * (int64_t)1000000000;
    c->rotate_bytes = 64ull << 20;
    c->flush_ns = 100 * (int64_t)1000000;
    c->rcvbuf = 32 << 20;
    c->quarantine_bytes = 16ull << 20;
    c->dec_max_bytes = ZR_DEC_MAX_BYTES_DEFAULT;
}

/* Applies one option; returns 0, or -1 with err set. */
static int apply(zr_config *c, int opt, const char *v, char *err, size_t errlen)
{
    uint64_t u;
    switch (opt) {
    case OPT_NAME: c->name = v; return parse_name(v, err, errlen);
    case OPT_PORT: return parse_int("port", v, 0, 65535, &c->port, err, errlen);
    case OPT_SCHEMA: return set_schema(c, "schema", v, err, errlen);
    case OPT_CHECK_SCHEMA:
        if (c->mode != ZR_MODE_RUN)
            return fail(err, errlen, "--check-schema: only one of --check-schema and "
                                     "--print-archive-schema");
        c->mode = ZR_MODE_CHECK_SCHEMA;
        return set_schema(c, "check-schema", v, err, errlen);
    case OPT_PRINT_ARCHIVE_SCHEMA:
        if (c->mode != ZR_MODE_RUN)
            return fail(err, errlen, "--print-archive-schema: only one of --check-schema and "
                                     "--print-archive-schema");
        c->mode = ZR_MODE_PRINT_ARCHIVE_SCHEMA;
        return 0;
    case OPT_DATA_DIR: c->data_dir = v; return nonempty("data-dir", v, err, errlen);
    case OPT_BIND: c->bind = v; return parse_address("bind", v, err, errlen);
    case OPT_FINGERPRINT: return parse_fingerprint(c, v, err, errlen);
    case OPT_MCAST_FULL: return parse_endpoint("mcast-full", v, &c->mcast_full, err, errlen);
    case OPT_MCAST_DEC: return parse_endpoint("mcast-dec", v, &c->mcast_dec, err, errlen);
    case OPT_MCAST_IF:
        if (inet_pton(AF_INET, v, &c->mcast_if) != 1)
            return fail(err, errlen, "--mcast-if: \"%s\" is not a numeric IPv4 address", v);
        return 0;
    case OPT_MCAST_TTL: return parse_int("mcast-ttl", v, 0, 255, &c->mcast_ttl, err, errlen);
    case OPT_DECIMATE:
        if (parse_u64("decimate", v, 1, 1000000, &u, err, errlen))
            return -1;
        c->decimate = (uint32_t)u;
        return 0;
    case OPT_ALGORITHM: return parse_algorithm(c, v, err, errlen);
    case OPT_ROTATE_SECONDS: return parse_seconds("rotate-seconds", v, &c->rotate_ns, err, errlen);
    case OPT_ROTATE_BYTES:
        return parse_u64("rotate-bytes", v, 1, UINT64_MAX >> 1, &c->rotate_bytes, err, errlen);
    case OPT_FLUSH_MS:
        if (parse_u64("flush-ms", v, 1, 60000, &u, err, errlen))
            return -1;
        c->flush_ns = (int64_t)u * 1000000;
        return 0;
    case OPT_TIME_FIELD: c->time_field = v; return nonempty("time-field", v, err, errlen);
    case OPT_TIME_UNIT: return parse_time_unit(c, v, err, errlen);
    case OPT_BUS:
        c->bus = v;
        return strstr(v, "://") ? 0 : fail(err, errlen, "--bus: \"%s\" is not a ZeroMQ endpoint "
                                                        "(e.g. tcp://127.0.0.1:5550)", v);
    case OPT_RCVBUF: return parse_int("rcvbuf", v, 4096, 1 << 30, &c->rcvbuf, err, errlen);
    case OPT_QUARANTINE_BYTES:
        return parse_u64("quarantine-bytes", v, 0, UINT64_MAX >> 1, &c->quarantine_bytes, err,
                         errlen);
    case OPT_DEC_MAX_BYTES:
        if (parse_u64("dec-max-bytes", v, 0, 65507, &u, err, errlen))
            return -1;
        c->dec_max_bytes = (uint32_t)u;
        return 0;
    case OPT_DIE_WITH_PARENT: c->die_with_parent = 1; return 0;
    default: return fail(err, errlen, "unknown option (see --help)");
    }
}

static int check_required(const zr_config *c, char *err, size_t errlen)
{
    if (c->mode != ZR_MODE_RUN)
        return c->schema_path ? 0 : fail(err, errlen, "--schema is required (see --help)");
    if (!c->name)
        return fail(err, errlen, "--name is required (see --help)");
    if (c->port < 0)
        return fail(err, errlen, "--port is required (see --help)");
    if (!c->schema_path)
        return fail(err, errlen, "--schema is required (see --help)");
    if (!c->data_dir)
        return fail(err, errlen, "--data-dir is required (see --help)");
    return 0;
}

int zr_args_parse(zr_config *c, int argc, char **argv, char *err, size_t errlen)
{
    set_defaults(c);
    opterr = 0;
    optind = 1;
    for (;;) {
        int prev = optind;
        int opt = getopt_long(argc, argv, ":", OPTIONS, NULL);
        if (opt == -1)
            break;
        if (opt == OPT_HELP)
            return ZR_ARGS_HELP;
        if (opt == '?' || opt == ':') {
            const char *arg = prev < argc ? argv[prev] : "?";
            fail(err, errlen, opt == ':' ? "%s needs a value" : "unknown option %s (see --help)",
                 arg);
            return ZR_ARGS_BAD;
        }
        if (apply(c, opt, optarg, err, errlen))
            return ZR_ARGS_BAD;
    }
    if (optind < argc) {
        fail(err, errlen, "unexpected argument \"%s\" (see --help)", argv[optind]);
        return ZR_ARGS_BAD;
    }
    return check_required(c, err, errlen) ? ZR_ARGS_BAD : ZR_ARGS_OK;
}
