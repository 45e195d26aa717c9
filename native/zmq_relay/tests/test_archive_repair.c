/* Unit tests of repair at start (archive_repair.c) and of the container primitives it walks
 * with: a file cut at every byte is cut back to its last complete block, or removed when it
 * has none; the writer repairs only the newest file and reports what it did. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_util.h"
#include "zr_check.h"

/* Writes a file of several blocks; returns its bytes. */
static uint8_t *several_blocks(const char *tmp, size_t *len, readback *rb)
{
    char dir[PATH_MAX], names[4][PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(tmp);
    zr_archive *a = create(&cfg, &ev, &st);
    for (int i = 0; i < 20; i++) {
        append_n(a, i * 50 * MS, i);
        zr_archive_tick(a, i * 50 * MS);
    }
    zr_archive_close(a);
    zr_archive_destroy(a);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    CHECK(list_avro(dir, names, 4) == 1);
    read_back(names[0], rb);
    CHECK(rb->nblocks >= 5 && rb->end == rb->size);
    return read_all(names[0], len);
}

/* Expected end after repairing a file cut at `cut`: the last block end at or before it. */
static uint64_t expected_end(const readback *rb, uint64_t cut)
{
    uint64_t end = rb->header_end;
    for (size_t i = 0; i < rb->nblocks; i++)
        if (rb->ends[i] <= cut)
            end = rb->ends[i];
    return end;
}

static void test_repair_every_cut(void)
{
    char tmp[64], path[PATH_MAX];
    size_t len;
    readback *whole = calloc(1, sizeof *whole);
    uint8_t *data = several_blocks(make_tmp(tmp), &len, whole);
    snprintf(path, sizeof path, "%s/cut.avro", tmp);
    int removed_ok = 1, cut_ok = 1, avrocat_ok = 1, removed;
    for (size_t cut = 0; cut <= len; cut++) {
        write_file(path, data, cut);
        int64_t r = zr_archive_repair_file(path, &removed);
        if (cut < whole->ends[0]) {  /* a torn header, a header alone, a torn first block */
            removed_ok &= r == (int64_t)cut && removed && access(path, F_OK) != 0;
            continue;
        }
        uint64_t end = expected_end(whole, cut);
        cut_ok &= r == (int64_t)(cut - end) && !removed && file_size(path) == (int64_t)end;
        /* avrocat on every cut inside the last block and around each boundary */
        if (cut > whole->ends[whole->nblocks - 2] || cut == end || cut == end + 1) {
            readback *rb = read_back(path, NULL);
            avrocat_ok &= rb->end == rb->size &&
                          avrocat_check(path, rb->recs, rb->nrecs) == (long)rb->nrecs;
            rb_free(rb);
        }
    }
    CHECK(removed_ok);
    CHECK(cut_ok);
    CHECK(avrocat_ok);

    /* A corrupt sync marker ends the file at the block before it. */
    uint8_t *bad = malloc(len);
    memcpy(bad, data, len);
    bad[whole->ends[2] - 1] ^= 0xff;
    write_file(path, bad, len);
    CHECK(zr_archive_repair_file(path, &removed) == (int64_t)(len - whole->ends[1]) && !removed);
    CHECK(file_size(path) == (int64_t)whole->ends[1]);

    /* Not a container: left alone. */
    memcpy(bad, data, len);
    bad[0] = 'X';
    write_file(path, bad, len);
    errno = 0;
    CHECK(zr_archive_repair_file(path, &removed) == -1 && errno == EINVAL && !removed);
    CHECK(file_size(path) == (int64_t)len);
    CHECK(zr_archive_repair_file("/nonexistent/x.avro", &removed) == -1 && errno == ENOENT);
    free(bad);
    free(data);
    rb_free(whole);
    rm_tree(tmp);
}

/* zr_archive_create repairs the newest file only and reports the bytes cut. */
static void test_create_repairs_newest(void)
{
    char tmp[64], dir[PATH_MAX], p1[PATH_MAX + 64], p2[PATH_MAX + 64], names[8][PATH_MAX];
    size_t len;
    events ev;
    zr_stats st;
    readback *whole = calloc(1, sizeof *whole);
    uint8_t *data = several_blocks(make_tmp(tmp), &len, whole);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    CHECK(list_avro(dir, names, 8) == 1);
    unlink(names[0]);
    snprintf(p1, sizeof p1, "%s/ch-20250101T000000Z-000007.avro", dir);
    snprintf(p2, sizeof p2, "%s/ch-20250101T000001Z-000008.avro", dir);
    write_file(p1, data, len - 3);
    write_file(p2, data, len - 5);
    zr_archive_config cfg = config_for(tmp);
    zr_archive *a = create(&cfg, &ev, &st);
    uint64_t end = expected_end(whole, len - 5);
    CHECK(ev.errors == 1 && strcmp(ev.what[0], "repair") == 0 && ev.err[0] == 0);
    CHECK(ev.bytes[0] == (int64_t)(len - 5 - end) && strcmp(ev.error_path[0], p2) == 0);
    CHECK(file_size(p2) == (int64_t)end);
    CHECK(file_size(p1) == (int64_t)(len - 3));
    append_n(a, 0, 0);
    CHECK(strstr(zr_archive_current(a), "-000009.avro") != NULL);
    zr_archive_close(a);
    zr_archive_destroy(a);

    /* A newest file torn inside its header is removed. */
    snprintf(p2, sizeof p2, "%s/ch-20250101T000002Z-000010.avro", dir);
    write_file(p2, data, whole->header_end - 1);
    a = create(&cfg, &ev, &st);
    CHECK(ev.errors == 1 && ev.bytes[0] == (int64_t)whole->header_end - 1);
    CHECK(access(p2, F_OK) != 0);

    /* Killed between a new file's header and its first block (destroy without close: the
     * pending block is never written): the header-only file is removed and reported. */
    append_n(a, 0, 1);
    char opened[PATH_MAX + 64];
    snprintf(opened, sizeof opened, "%s", zr_archive_current(a));
    CHECK(strstr(opened, "-000011.avro") && file_size(opened) == (int64_t)whole->header_end);
    zr_archive_destroy(a);
    a = create(&cfg, &ev, &st);
    CHECK(ev.errors == 1 && strcmp(ev.what[0], "repair") == 0 && ev.err[0] == 0);
    CHECK(strcmp(ev.error_path[0], opened) == 0 && ev.bytes[0] == (int64_t)whole->header_end);
    CHECKF(strstr(ev.detail[0], "no complete block") && strstr(ev.detail[0], "removed"),
           "detail: %s", ev.detail[0]);
    CHECK(access(opened, F_OK) != 0);
    append_n(a, 0, 2);
    CHECK(strstr(zr_archive_current(a), "-000012.avro") != NULL);
    zr_archive_close(a);
    zr_archive_destroy(a);
    CHECK(list_avro(dir, names, 8) == 4);  /* 7, 8 (cut back), 9 and 12: whole files only */
    for (int i = 0; i < 4; i++) {
        readback *rb = read_back(names[i], NULL);
        CHECK(rb->header == ZR_CW_OK && rb->nblocks > 0);
        rb_free(rb);
    }
    free(data);
    rb_free(whole);
    rm_tree(tmp);
}

static void test_header_encoding(void)
{
    uint8_t sync[ZR_SYNC_LEN], out[256];
    for (int i = 0; i < ZR_SYNC_LEN; i++)
        sync[i] = (uint8_t)(0xa0 + i);
    zr_meta meta[1] = {{"k", "vv", 2}};
    size_t n = zr_container_header(out, meta, 1, sync);
    static const uint8_t want[] = {'O', 'b', 'j', 1, 2, 2, 'k', 4, 'v', 'v', 0};
    CHECK(n == sizeof want + ZR_SYNC_LEN && n <= zr_container_header_size(meta, 1));
    CHECK(memcmp(out, want, sizeof want) == 0 && memcmp(out + sizeof want, sync, 16) == 0);
    CHECK(zr_container_block_prefix(out, 3, 200) == 3 && out[0] == 6 && out[1] == 0x90 &&
          out[2] == 0x03);
}

int main(void)
{
    require_avrocat("test_archive_repair");
    test_header_encoding();
    test_repair_every_cut();
    test_create_repairs_newest();
    return zr_check_summary("test_archive_repair");
}
