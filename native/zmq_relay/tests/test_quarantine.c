/* Unit tests of the quarantine: entries in the format of zr_quarantine.h, the size cap
 * (across restarts), buffering, faults that are counted and retried, and a short write cut
 * back to whole entries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_util.h"
#include "zr_check.h"
#include "zr_quarantine.h"

static void test_quarantine(void)
{
    char tmp[64], path[PATH_MAX];
    zr_stats st = {0};
    zr_quarantine *q;
    uint8_t dg[2000];
    for (size_t i = 0; i < sizeof dg; i++)
        dg[i] = (uint8_t)i;
    make_tmp(tmp);
    snprintf(path, sizeof path, "%s/quarantine/ch.bin", tmp);
    CHECK(zr_quarantine_create(&q, tmp, "ch", 100, &st) == 0);
    for (int i = 0; i < 5; i++)      /* 24-byte entries: four fit in 100 */
        zr_quarantine_add(q, RX0 + i, ZR_REJ_TRUNCATED, dg, 10);
    CHECK(st.quarantine_dropped == 1 && st.quarantined == 0);
    CHECK(zr_quarantine_flush(q) == 0);
    CHECK(st.quarantined == 4 && file_size(path) == 96);
    zr_quarantine_destroy(q);
    size_t len;
    uint8_t *data = read_all(path, &len);
    int ok = len == 96;
    for (int i = 0; ok && i < 4; i++) {
        const uint8_t *e = data + 24 * i;
        uint64_t rx = 0;
        for (int b = 7; b >= 0; b--)
            rx = rx << 8 | e[4 + b];
        ok = e[0] == 10 && e[1] == 0 && e[2] == 0 && e[3] == 0 && rx == (uint64_t)(RX0 + i) &&
             e[12] == ZR_REJ_TRUNCATED && e[13] == 0 && memcmp(e + 14, dg, 10) == 0;
    }
    CHECK(ok);
    free(data);

    /* The cap holds across restarts. */
    memset(&st, 0, sizeof st);
    CHECK(zr_quarantine_create(&q, tmp, "ch", 120, &st) == 0);
    zr_quarantine_add(q, RX0, ZR_REJ_UTF8, dg, 10);
    zr_quarantine_add(q, RX0, ZR_REJ_UTF8, dg, 0);
    zr_quarantine_destroy(q);       /* flushes */
    CHECK(st.quarantined == 1 && st.quarantine_dropped == 1 && file_size(path) == 120);

    /* More than the buffer holds: written as it fills. */
    memset(&st, 0, sizeof st);
    CHECK(zr_quarantine_create(&q, tmp, "big", 10u << 20, &st) == 0);
    for (int i = 0; i < 300; i++)
        zr_quarantine_add(q, RX0, ZR_REJ_TRAILING, dg, sizeof dg);
    CHECK(st.quarantined > 0);
    CHECK(zr_quarantine_flush(q) == 0 && zr_quarantine_flush(q) == 0);
    zr_quarantine_destroy(q);
    snprintf(path, sizeof path, "%s/quarantine/big.bin", tmp);
    CHECK(st.quarantined == 300 && file_size(path) == 300 * (14 + (int64_t)sizeof dg));
    rm_tree(tmp);

    /* Unwritable: counted as dropped, never fatal; works once the obstacle is gone. */
    make_tmp(tmp);
    snprintf(path, sizeof path, "%s/quarantine", tmp);
    write_file(path, "x", 1);
    memset(&st, 0, sizeof st);
    CHECK(zr_quarantine_create(&q, tmp, "ch", 1000, &st) == 0);
    int err = 0;
    const char *fpath = NULL, *detail = NULL, *why;
    CHECK(zr_quarantine_fault(q, &err, &fpath, &detail) == NULL);
    zr_quarantine_add(q, RX0, ZR_REJ_EMPTY, dg, 0);
    CHECK(zr_quarantine_flush(q) == -1 && st.quarantine_dropped == 1);
    why = zr_quarantine_fault(q, &err, &fpath, &detail);
    CHECK(why && strstr(why, "directory") && err == ENOTDIR && strcmp(fpath, path) == 0);
    CHECK(zr_quarantine_flush(q) == -1);       /* idle: retried, still failing */
    unlink(path);
    CHECK(zr_quarantine_flush(q) == 0);        /* idle: the retry opens the file */
    CHECK(zr_quarantine_fault(q, &err, &fpath, &detail) == NULL);
    zr_quarantine_add(q, RX0, ZR_REJ_EMPTY, dg, 0);
    CHECK(zr_quarantine_flush(q) == 0 && st.quarantined == 1);
    zr_quarantine_destroy(q);
    rm_tree(tmp);
}

/* A short write of the quarantine is cut back: the file holds whole entries only. */
static void test_quarantine_short_write(void)
{
    char tmp[64], path[PATH_MAX];
    zr_stats st = {0};
    zr_quarantine *q;
    uint8_t dg[100] = {0};
    make_tmp(tmp);
    snprintf(path, sizeof path, "%s/quarantine/ch.bin", tmp);
    CHECK(zr_quarantine_create(&q, tmp, "ch", 1u << 20, &st) == 0);
    zr_quarantine_add(q, RX0, ZR_REJ_EMPTY, dg, sizeof dg);
    CHECK(zr_quarantine_flush(q) == 0);
    limit_file_size(300);
    for (int i = 0; i < 3; i++)
        zr_quarantine_add(q, RX0, ZR_REJ_EMPTY, dg, sizeof dg);
    CHECK(zr_quarantine_flush(q) == -1);
    unlimit_file_size();
    CHECK(st.quarantined == 1 && st.quarantine_dropped == 3 && file_size(path) == 114);
    int err = 0;
    const char *fpath = NULL, *detail = NULL;
    CHECK(zr_quarantine_fault(q, &err, &fpath, &detail) && err == EFBIG);
    CHECK(zr_quarantine_flush(q) == -1);       /* a write fault lasts until a write works */
    zr_quarantine_add(q, RX0, ZR_REJ_EMPTY, dg, sizeof dg);
    CHECK(zr_quarantine_flush(q) == 0 && file_size(path) == 228);
    CHECK(zr_quarantine_fault(q, &err, &fpath, &detail) == NULL);
    zr_quarantine_destroy(q);
    rm_tree(tmp);
}

int main(void)
{
    test_quarantine();
    test_quarantine_short_write();
    return zr_check_summary("test_quarantine");
}
