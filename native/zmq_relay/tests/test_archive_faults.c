/* Unit tests of the archive writer's faults, all real: RLIMIT_FSIZE (SIGXFSZ ignored) makes
 * a write past the limit short, then EFBIG; a file where the archive dir should be makes
 * mkdir fail. Records are counted, files stay whole, writing resumes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_util.h"
#include "zr_check.h"

/* A file size limit makes a block write short (then EFBIG): the file is cut back to its
 * last complete block and closed, records are counted; after the retry delay the next record
 * opens a new file. A file whose first block fails is removed with no event, uncounted. */
static void test_short_write(void)
{
    char tmp[64], dir[PATH_MAX], names[16][PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    zr_archive *a = create(&cfg, &ev, &st);
    int32_t n = 0;
    int64_t mono = 0;
    limit_file_size(4000);
    while (ev.errors == 0 && n < 10000) {
        for (int i = 0; i < 30; i++)
            append_n(a, mono, n++);
        mono += cfg.flush_ns;
        zr_archive_tick(a, mono);
    }
    unlimit_file_size();
    CHECK(ev.errors == 1 && strcmp(ev.what[0], "write") == 0 && ev.err[0] == EFBIG);
    CHECK(ev.closed == 1 && zr_archive_current(a) == NULL);
    CHECK(zr_archive_fault(a) != NULL);
    CHECK(st.unarchived == 30 && st.archived == (uint64_t)n - 30);
    readback *rb = read_back(ev.error_path[0], NULL);
    CHECK(rb->end == rb->size && rb->size <= 4000 && (int64_t)rb->size == file_size(ev.error_path[0]));
    CHECK(ev.closed_info[0].bytes == rb->size && ev.closed_info[0].records == rb->nrecs);
    check_in_order(rb, 0, (size_t)n - 30);
    uint64_t rb_header_end = rb->header_end;
    rb_free(rb);

    for (int i = 0; i < 10; i++)     /* while broken: counted, not kept */
        append_n(a, mono, n++);
    CHECK(st.unarchived == 40);
    zr_archive_tick(a, mono + 500 * MS);
    CHECK(zr_archive_current(a) == NULL && ev.opened == 1);
    zr_archive_tick(a, mono + 1000 * MS);      /* the retry opens nothing by itself */
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    CHECK(zr_archive_current(a) == NULL && ev.opened == 1 && list_avro(dir, names, 16) == 1);

    limit_file_size(100);            /* the next record's file cannot even take a header */
    append_n(a, mono + 1000 * MS, n++);
    unlimit_file_size();
    CHECK(ev.errors == 2 && ev.err[1] == EFBIG && zr_archive_current(a) == NULL);
    CHECK(list_avro(dir, names, 16) == 1);     /* the new file was removed */
    CHECK(st.unarchived == 41 && zr_archive_fault(a) != NULL);

    /* The header fits but the first block does not: the file goes without an event. */
    zr_archive_tick(a, mono + 2000 * MS);
    limit_file_size(rb_header_end + 10);
    for (int i = 0; i < 5; i++)
        append_n(a, mono + 2000 * MS, n++);
    CHECK(zr_archive_current(a) != NULL);
    zr_archive_tick(a, mono + 2000 * MS + cfg.flush_ns);
    unlimit_file_size();
    CHECK(ev.errors == 3 && ev.err[2] == EFBIG && zr_archive_current(a) == NULL);
    CHECK(ev.opened == 1 && ev.closed == 1 && st.files == 1 && st.unarchived == 46);
    CHECK(list_avro(dir, names, 16) == 1);

    zr_archive_tick(a, mono + 3500 * MS);      /* writing works again */
    CHECK(zr_archive_current(a) == NULL && zr_archive_fault(a) != NULL);
    int32_t resumed = n;
    for (int i = 0; i < 5; i++)
        append_n(a, mono + 3500 * MS, n++);
    CHECK(zr_archive_current(a) != NULL && zr_archive_fault(a) != NULL); /* till a block */
    zr_archive_tick(a, mono + 3600 * MS);
    CHECK(zr_archive_fault(a) == NULL && ev.opened == 2 && st.files == 2);
    zr_archive_close(a);
    zr_archive_destroy(a);
    CHECK(st.archived + st.unarchived == (uint64_t)n);
    CHECK(ev.closed == 2 && st.files == 2);
    int nfiles;
    rb = read_dir(dir, &nfiles);
    CHECK(nfiles == 2 && rb->nrecs == st.archived);
    CHECK(rb->nrecs == st.archived && rb->recs[rb->nrecs - 5].n == resumed);
    rb_free(rb);
    rm_tree(tmp);
}

/* An archive dir that cannot be created: counted and reported, retried, then works. The
 * retry itself opens no file: the next record does. */
static void test_mkdir_fault(void)
{
    char tmp[64], blocker[PATH_MAX], dir[PATH_MAX], names[8][PATH_MAX];
    events ev;
    zr_stats st;
    zr_archive_config cfg = config_for(make_tmp(tmp));
    snprintf(blocker, sizeof blocker, "%s/archive", tmp);
    write_file(blocker, "x", 1);
    zr_archive *a = create(&cfg, &ev, &st);
    append_n(a, 0, 0);
    append_n(a, 0, 1);
    CHECK(ev.errors == 1 && strcmp(ev.what[0], "mkdir") == 0 && ev.err[0] == ENOTDIR);
    CHECK(st.unarchived == 2 && st.files == 0);
    CHECK(zr_archive_fault(a) && strstr(zr_archive_fault(a), "archive dir"));
    unlink(blocker);
    zr_archive_tick(a, 900 * MS);
    CHECK(zr_archive_current(a) == NULL);
    zr_archive_tick(a, 1000 * MS);   /* the retry opens no file: no record came */
    zr_archive_close(a);
    snprintf(dir, sizeof dir, "%s/archive/ch", tmp);
    CHECK(zr_archive_current(a) == NULL && ev.opened == 0 && ev.closed == 0 && st.files == 0);
    CHECK(list_avro(dir, names, 8) == 0);
    CHECK(zr_archive_fault(a) != NULL);
    append_n(a, 2000 * MS, 2);
    zr_archive_close(a);
    CHECK(zr_archive_fault(a) == NULL && st.archived == 1);
    CHECK(ev.opened == 1 && ev.closed == 1 && ev.closed_info[0].records == 1 && st.files == 1);
    zr_archive_destroy(a);
    int nfiles;
    readback *rb = read_dir(dir, &nfiles);
    CHECK(nfiles == 1);
    check_in_order(rb, 2, 1);
    rb_free(rb);
    rm_tree(tmp);
}

int main(void)
{
    require_avrocat("test_archive_faults");
    test_short_write();
    test_mkdir_fault();
    return zr_check_summary("test_archive_faults");
}
