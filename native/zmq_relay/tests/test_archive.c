/* Unit tests of the archive writer: records in order with their rx_time, header metadata,
 * flushing by age, rotation by size and time, file names and seqs (O_EXCL never overwrites),
 * large records. Repair is in test_archive_repair.c, write faults in test_archive_faults.c. */
#include <sys/file.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_util.h"
#include "zr_check.h"
#include "zr_varint.h"

static void test_roundtrip(void)
{
    char tmp[64], dir[PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    zr_archive *a = create(&cfg, &ev, &st);
    CHECK(zr_archive_current(a) == NULL);
    for (int i = 0; i < 1000; i++) {
        append_n(a, i * MS, i);
        if (i % 10 == 9)
            zr_archive_tick(a, i * MS);
    }
    CHECK(zr_archive_current(a) != NULL);
    CHECK(zr_archive_fault(a) == NULL);
    zr_archive_close(a);
    CHECK(zr_archive_current(a) == NULL);
    zr_archive_destroy(a);

    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    int nfiles;
    readback *rb = read_dir(dir, &nfiles);
    CHECK(nfiles == 1);
    check_in_order(rb, 0, 1000);
    CHECK(rb->nblocks >= 9);
    check_meta(rb, (const char *[6]){TEST_SCHEMA, "null", "ch", "time", "ns", "0123456789abcdef"});
    CHECK(st.archived == 1000 && st.unarchived == 0 && st.files == 1);
    CHECK(st.archive_bytes == rb->size);
    CHECK(ev.opened == 1 && ev.closed == 1 && ev.errors == 0);
    const zr_file_info *f = &ev.closed_info[0];
    CHECK(f->records == 1000 && f->bytes == rb->size);
    CHECK(f->first_rx == RX0 && f->last_rx == RX0 + 999 * 1000);
    CHECK(f->first_dev == 1000 && f->last_dev == 1999);
    CHECK(ev.closed_path[0][0] == '/');
    rb_free(rb);
    rm_tree(tmp);
}

/* No time field, no fingerprint: those metadata keys are left out. */
static void test_optional_metadata(void)
{
    char tmp[64], dir[PATH_MAX], names[4][PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    cfg.time_field = NULL;
    cfg.fingerprint = NULL;
    zr_archive *a = create(&cfg, &ev, &st);
    append_n(a, 0, 1);
    zr_archive_close(a);
    zr_archive_destroy(a);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    CHECK(list_avro(dir, names, 4) == 1);
    readback *rb = read_back(names[0], NULL);
    CHECK(rb->header == ZR_CW_OK && rb->nrecs == 1);
    check_meta(rb, (const char *[6]){TEST_SCHEMA, "null", "ch", NULL, "ns", NULL});
    rb_free(rb);
    rm_tree(tmp);
}

/* A block is written once its oldest record is flush_ns old; a reader sees it while the
 * file is open; the writer holds an exclusive flock. */
static void test_flush_by_age(void)
{
    char tmp[64], path[PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    zr_archive *a = create(&cfg, &ev, &st);
    for (int i = 0; i < 3; i++)
        append_n(a, 10 * MS + i, i);
    snprintf(path, sizeof path, "%s", zr_archive_current(a));
    CHECK(ev.opened == 0 && st.files == 0);     /* announced with its first block */
    zr_archive_tick(a, 10 * MS + cfg.flush_ns - 1);
    readback *rb = read_back(path, NULL);
    CHECK(rb->header == ZR_CW_OK && rb->nblocks == 0 && rb->size == rb->header_end);
    CHECK(st.archived == 0);
    zr_archive_tick(a, 10 * MS + cfg.flush_ns);
    CHECK(ev.opened == 1 && st.files == 1);
    rb->nrecs = 0;
    read_back(path, rb);
    CHECK(rb->nblocks == 1 && rb->end == rb->size);
    check_in_order(rb, 0, 3);
    CHECK(st.archived == 3 && st.archive_bytes == rb->size);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK);
    close(fd);
    zr_archive_close(a);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    close(fd);
    zr_archive_destroy(a);
    rb_free(rb);
    rm_tree(tmp);
}

/* Checks the names of the files: <channel>-<UTC stamp>-<seq>.avro, seqs from first on. */
static void check_names(char names[][PATH_MAX], int n, int first_seq)
{
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(names[i], '/') + 1;
        int y, mo, d, h, mi, s, seq, len = 0;
        int got = sscanf(base, "ch-%4d%2d%2dT%2d%2d%2dZ-%6d.avro%n", &y, &mo, &d, &h, &mi, &s,
                         &seq, &len);
        CHECK(got == 7 && len == (int)strlen(base) && y >= 2024 && seq == first_seq + i);
    }
}

static void test_rotate_by_size(void)
{
    char tmp[64], dir[PATH_MAX], names[256][PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    cfg.rotate_bytes = 4096;
    zr_archive *a = create(&cfg, &ev, &st);
    for (int i = 0; i < 3000; i++) {
        append_n(a, i * MS, i);
        zr_archive_tick(a, i * MS);
    }
    zr_archive_close(a);
    zr_archive_destroy(a);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    int nfiles = list_avro(dir, names, 256);
    CHECK(nfiles > 5);
    check_names(names, nfiles, 0);
    for (int i = 0; i < nfiles - 1; i++) {
        int64_t size = file_size(names[i]);
        CHECK(size >= 4096 && size < 4096 + 64);
    }
    readback *rb = read_dir(dir, &nfiles);
    check_in_order(rb, 0, 3000);
    CHECK(st.files == (uint64_t)nfiles && ev.opened == nfiles && ev.closed == nfiles);
    CHECK(st.archived == 3000);
    rb_free(rb);
    rm_tree(tmp);
}

static void test_rotate_by_time(void)
{
    char tmp[64], dir[PATH_MAX], names[8][PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    cfg.rotate_ns = 1 * SEC;
    zr_archive *a = create(&cfg, &ev, &st);
    append_n(a, 100 * MS, 0);
    append_n(a, 500 * MS, 1);
    zr_archive_tick(a, 600 * MS);
    append_n(a, 1100 * MS, 2);   /* the file opened at 100 ms is 1 s old: rotate */
    CHECK(ev.opened == 1 && ev.closed == 1 && ev.closed_info[0].records == 2);
    zr_archive_tick(a, 2000 * MS);
    CHECK(ev.opened == 2 && ev.closed == 1);
    zr_archive_tick(a, 2100 * MS);   /* the second file is 1 s old: closed by the timer */
    CHECK(ev.closed == 2 && ev.closed_info[1].records == 1);
    CHECK(zr_archive_current(a) == NULL);
    zr_archive_tick(a, 5000 * MS);
    append_n(a, 5100 * MS, 3);
    zr_archive_close(a);
    zr_archive_destroy(a);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    CHECK(list_avro(dir, names, 8) == 3);
    int nfiles;
    readback *rb = read_dir(dir, &nfiles);
    check_in_order(rb, 0, 4);
    CHECK(st.files == 3 && st.archived == 4);
    rb_free(rb);
    rm_tree(tmp);
}

/* The seq continues from the highest in the directory; O_EXCL never overwrites. */
static void test_seq_and_excl(void)
{
    char tmp[64], dir[PATH_MAX], names[32][PATH_MAX], path[PATH_MAX + 64], old[PATH_MAX + 64];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    zr_archive *a = create(&cfg, &ev, &st);
    append_n(a, 0, 0);
    zr_archive_close(a);
    zr_archive_destroy(a);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    CHECK(list_avro(dir, names, 32) == 1);
    snprintf(old, sizeof old, "%s/ch-20200101T000000Z-000041.avro", dir);
    CHECK(rename(names[0], old) == 0);

    a = create(&cfg, &ev, &st);
    CHECK(ev.errors == 0);           /* the newest file is whole: nothing to repair */
    time_t now = time(NULL);
    for (int d = -2; d <= 5; d++) {  /* every name the next file could take with seq 42 */
        char stamp[20];
        time_t t = now + d;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(path, sizeof path, "%s/ch-%s-000042.avro", dir, stamp);
        write_file(path, "precious", 8);
    }
    append_n(a, 0, 1);
    const char *cur = zr_archive_current(a);
    CHECK(cur && strstr(cur, "-000043.avro"));
    zr_archive_close(a);
    zr_archive_destroy(a);
    int n = list_avro(dir, names, 32);
    CHECK(n == 10);
    int precious = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        uint8_t *data = read_all(names[i], &len);
        precious += len == 8 && memcmp(data, "precious", 8) == 0;
        free(data);
    }
    CHECK(precious == 8);
    readback *rb = read_back(old, NULL);
    CHECK(rb->nrecs == 1 && rb->end == rb->size);
    rb_free(rb);
    rm_tree(tmp);
}

/* Records up to 64 KiB (a whole datagram) fit: the block is never smaller than 128 KiB. */
static void test_large_records(void)
{
    char tmp[64], dir[PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    cfg.block_bytes = 1000;
    zr_archive *a = create(&cfg, &ev, &st);
    uint8_t *big = calloc(1, 300 * 1024);
    size_t p = zr_varint_put(big, 1000);
    p += zr_varint_put(big + p, 7);
    p += zr_varint_put(big + p, 65000);
    big[p] = 'r';
    for (int i = 0; i < 4; i++)
        zr_archive_append(a, 0, RX0 + i, 1000, big, p + 65000);
    CHECK(st.archived == 2 && st.unarchived == 0);   /* two fit a block, the third flushed it */
    zr_archive_append(a, 0, RX0, 1000, big, 300 * 1024);
    CHECK(st.unarchived == 1 && ev.errors == 1 && ev.err[0] == EMSGSIZE);
    zr_archive_close(a);
    zr_archive_destroy(a);
    CHECK(st.archived == 4);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    int nfiles;
    readback *rb = calloc(1, sizeof *rb);
    char names[4][PATH_MAX];
    nfiles = list_avro(dir, names, 4);
    read_back(names[0], rb);
    CHECK(nfiles == 1 && rb->nblocks == 2 && rb->end == rb->size);
    rb_free(rb);
    free(big);
    rm_tree(tmp);
}

int main(void)
{
    require_avrocat("test_archive");
    test_roundtrip();
    test_optional_metadata();
    test_flush_by_age();
    test_rotate_by_size();
    test_rotate_by_time();
    test_seq_and_excl();
    test_large_records();
    return zr_check_summary("test_archive");
}
