/* Command line of the relay: parsed and validated once at start into a zr_config. */
#ifndef ZR_ARGS_H
#define ZR_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#define ZR_NAME_MAX 63
#define ZR_DEC_MAX_BYTES_DEFAULT 1472   /* decimated datagrams: one Ethernet frame's payload */

/* A multicast endpoint `group:port` (IPv4). */
typedef struct zr_endpoint {
    int set;                   /* 0 when the flag was not given */
    char text[32];             /* as given, e.g. "239.1.1.1:36000" */
    struct in_addr group;
    uint16_t port;
} zr_endpoint;

typedef enum zr_algorithm {
    ZR_ALG_DOWNSAMPLE, ZR_ALG_MEAN, ZR_ALG_MINMAX, ZR_ALG_RMS
} zr_algorithm;

/* What the process does: run the relay, or judge a schema and exit. */
typedef enum zr_mode {
    ZR_MODE_RUN,               /* the relay (the default) */
    ZR_MODE_CHECK_SCHEMA,      /* --check-schema FILE */
    ZR_MODE_PRINT_ARCHIVE_SCHEMA /* --print-archive-schema */
} zr_mode;

typedef struct zr_config {
    zr_mode mode;
    const char *name;          /* channel name, [a-z][a-z0-9_-]{0,62} */
    int port;                  /* UDP port; 0 binds an ephemeral one */
    const char *schema_path;   /* "/dev/stdin" when given as "-" */
    const char *data_dir;
    const char *bind;          /* numeric address to receive on */
    int has_fingerprint;
    char fingerprint_hex[17];  /* 16 lowercase hex digits when has_fingerprint */
    uint8_t fingerprint[8];    /* the wire bytes */
    zr_endpoint mcast_full, mcast_dec;
    struct in_addr mcast_if;
    int mcast_ttl;
    uint32_t decimate;         /* >= 1 */
    zr_algorithm algorithm;
    int64_t rotate_ns;
    uint64_t rotate_bytes;
    int64_t flush_ns;
    const char *time_field;    /* or NULL */
    const char *time_unit;     /* "s" | "ms" | "us" | "ns", or NULL (not given) */
    const char *bus;           /* ZeroMQ endpoint, or NULL */
    int rcvbuf;                /* requested UDP receive buffer, bytes */
    uint64_t quarantine_bytes;
    uint32_t dec_max_bytes;    /* records per decimated datagram: as many as fit; 0: one */
    int die_with_parent;
} zr_config;

enum { ZR_ARGS_OK = 0, ZR_ARGS_HELP = 1, ZR_ARGS_BAD = 2 };

/* Fills `c` from argv (getopt_long). Returns ZR_ARGS_OK, ZR_ARGS_HELP (--help was given), or
 * ZR_ARGS_BAD with one line in err. Strings in `c` point into argv. */
int zr_args_parse(zr_config *c, int argc, char **argv, char *err, size_t errlen);

/* The usage text (for --help). */
const char *zr_args_usage(void);

#endif
