/* Unit tests of the event encoders: header bytes, exact bytes of a small error event, and
 * refusal to write past the buffer. With a directory argument it also writes each encoded
 * event there (status.bin, file_opened.bin, ...) for tests/test_relay_events.py, which decodes
 * them with fastavro against proto/ and checks every field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zr_check.h"
#include "zr_events.h"
#include "zr_proto.h"
#include "zr_validate.h"

static const zr_ev_head HEAD = {"relay/ch/42-1700000000000000000", 7, 1700000000123456789, "ch"};

typedef struct encoded {
    const char *name;
    uint8_t buf[4096];
    size_t len;
} encoded;

static encoded events[6];

static int has_header(const encoded *e, const uint8_t fp[8])
{
    return e->len >= 10 && e->buf[0] == 0xc3 && e->buf[1] == 0x01 && !memcmp(e->buf + 2, fp, 8);
}

static void encode_status(encoded *e)
{
    zr_stats s;
    memset(&s, 0, sizeof s);
    s.received = 1;
    s.bytes = 2;
    s.records = 3;
    for (int r = 1; r < ZR_REJ__COUNT; r++)
        s.rejected[r] = (uint64_t)(100 + r);
    s.kernel_drops = 4;
    s.archived = 5;
    s.unarchived = 6;
    s.archive_bytes = 7;
    s.files = 8;
    s.quarantined = 9;
    s.quarantine_dropped = 10;
    s.forwarded = 11;
    s.decimated = 12;
    s.mcast_errors = 13;
    s.bus_dropped = 14;
    zr_ev_status st = {ZR_STATE_DEGRADED, "archive: disk full", &s, 1.5, 2.25,
                       "/data/archive/ch/x.avro", 1700000000000000000};
    e->name = "status";
    e->len = zr_ev_status_encode(e->buf, sizeof e->buf, &HEAD, &st);
    static const uint8_t fp[8] = ZR_FP_RELAY_STATUS;
    CHECK(has_header(e, fp));
}

static void encode_files(encoded *opened, encoded *closed)
{
    static const uint8_t fp[8] = ZR_FP_RELAY_FILE;
    zr_file_info f = {"/d/a.avro", 0, 123, ZR_NO_TIME, ZR_NO_TIME, ZR_NO_TIME, ZR_NO_TIME};
    opened->name = "file_opened";
    opened->len = zr_ev_file_encode(opened->buf, sizeof opened->buf, &HEAD, 1, &f, "ns");
    CHECK(has_header(opened, fp));
    f = (zr_file_info){"/d/a.avro", 3, 456, 10, -20, 30, 40};
    closed->name = "file_closed";
    closed->len = zr_ev_file_encode(closed->buf, sizeof closed->buf, &HEAD, 0, &f, "ms");
    CHECK(has_header(closed, fp));
}

/* The error event byte by byte: every field type the relay writes, checked by hand. */
static void encode_error(encoded *e, encoded *nopath)
{
    static const uint8_t fp[8] = ZR_FP_RELAY_ERROR;
    static const zr_ev_head h = {"s", 1, -1, "c"};
    const uint8_t expect[] = {
        0xc3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, /* fingerprint, filled below */
        2, 's',                             /* source */
        2,                                  /* seq 1 */
        1,                                  /* time -1 */
        2, 'c',                             /* channel */
        8, 'o', 'p', 'e', 'n',              /* kind */
        56,                                 /* errno 28 */
        2, 'x',                             /* detail */
        0,                                  /* path: null */
        0x80, 0x01,                         /* bytes 64 */
    };
    uint8_t want[sizeof expect];
    memcpy(want, expect, sizeof expect);
    memcpy(want + 2, fp, 8);
    nopath->name = "error_nopath";
    nopath->len =
        zr_ev_error_encode(nopath->buf, sizeof nopath->buf, &h, "open", 28, "x", NULL, 64);
    CHECK(nopath->len == sizeof want && !memcmp(nopath->buf, want, sizeof want));
    e->name = "error";
    e->len = zr_ev_error_encode(e->buf, sizeof e->buf, &HEAD, "repair", 0,
                                "cut back to the last block", "/d/b.avro", 1234);
    CHECK(has_header(e, fp));
}

/* A DataBatch: the head, then two archive records (rx_time varint + an int record). */
static void encode_data(encoded *e)
{
    static const uint8_t fp[8] = ZR_FP_DATA_BATCH;
    const uint8_t records[] = {0x02, 0x54, 0x04, 0x56}; /* (rx 1, 42), (rx 2, 43) */
    e->name = "data";
    e->len = zr_ev_data_head_encode(e->buf, sizeof e->buf, &HEAD, "8f5c393f1ad57572", 2,
                                    sizeof records);
    CHECK(has_header(e, fp));
    memcpy(e->buf + e->len, records, sizeof records);
    e->len += sizeof records;
}

/* Every encoder returns 0 instead of writing past a buffer that is too small. */
static void test_overflow(void)
{
    uint8_t small[64];
    zr_stats s;
    memset(&s, 0, sizeof s);
    zr_ev_status st = {ZR_STATE_RUNNING, "", &s, 0, 0, NULL, 0};
    zr_file_info f = {"/d/a.avro", 0, 0, ZR_NO_TIME, ZR_NO_TIME, ZR_NO_TIME, ZR_NO_TIME};
    CHECK(zr_ev_status_encode(small, sizeof small, &HEAD, &st) == 0);
    CHECK(zr_ev_file_encode(small, sizeof small, &HEAD, 1, &f, "ns") == 0);
    CHECK(zr_ev_error_encode(small, 20, &HEAD, "open", 1, "x", NULL, 0) == 0);
    CHECK(zr_ev_data_head_encode(small, 30, &HEAD, "", 0, 0) == 0);
}

static void write_files(const char *dir)
{
    char path[1024];
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.bin", dir, events[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(events[i].buf, 1, events[i].len, f) != events[i].len || fclose(f)) {
            perror(path);
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    encode_status(&events[0]);
    encode_files(&events[1], &events[2]);
    encode_error(&events[3], &events[4]);
    encode_data(&events[5]);
    test_overflow();
    if (argc > 1)
        write_files(argv[1]);
    return zr_check_summary("test_events");
}
