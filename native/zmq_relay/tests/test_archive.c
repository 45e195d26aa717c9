/* Unit tests of the archive writer, the container walker, repair and the quarantine.
 * Files are written through the public API into temp dirs and read back twice: with the
 * walker of container.c and with avro-c's avrocat (Debian avro-bin). Write faults are
 * real: RLIMIT_FSIZE (SIGXFSZ ignored) makes a write past the limit short, then EFBIG. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zr_archive.h"
#include "zr_check.h"
#include "zr_container.h"
#include "zr_quarantine.h"
#include "zr_varint.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define RX0 1700000000000000000LL

static const char SCHEMA[] =
    "{\"type\": \"record\", \"name\": \"t\", \"namespace\": \"test\", \"doc\": \"a channel\","
    " \"fields\": [{\"name\": \"rx_time\", \"type\": {\"type\": \"long\","
    " \"logicalType\": \"timestamp-nanos\"}},"
    " {\"name\": \"time\", \"type\": \"long\", \"logicalType\": \"timestamp-nanos\","
    " \"x-custom\": [1, 2]},"
    " {\"name\": \"n\", \"type\": \"int\", \"doc\": \"counter, \\u00e9\"},"
    " {\"name\": \"s\", \"type\": \"string\"}]}";

/* ---- temp dirs ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static char *make_tmp(char *buf)
{
    strcpy(buf, "/tmp/zr_test_archive_XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
    return buf;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Names of the .avro files of dir, sorted; returns how many (at most max). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_avro(const char *dir, char names[][PATH_MAX], int max)
{
    char *ptr[256];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < max) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".avro") == 0)
            snprintf(names[n++], PATH_MAX, "%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    for (int i = 0; i < n; i++)
        ptr[i] = strdup(names[i]);
    qsort(ptr, (size_t)n, sizeof ptr[0], cmp_str);
    for (int i = 0; i < n; i++) {
        snprintf(names[i], PATH_MAX, "%s", ptr[i]);
        free(ptr[i]);
    }
    return n;
}

/* ---- records of the test schema ---- */

typedef struct rec {
    int64_t rx, time;
    int32_t n;
    char s[16];
} rec;

static size_t enc_rec(uint8_t *out, int64_t time, int32_t n)
{
    char s[16];
    int sl = snprintf(s, sizeof s, "r%d", n);
    size_t p = zr_varint_put(out, time);
    p += zr_varint_put(out + p, n);
    p += zr_varint_put(out + p, sl);
    memcpy(out + p, s, (size_t)sl);
    return p + (size_t)sl;
}

static size_t dec_rec(const uint8_t *p, size_t len, rec *r)
{
    int64_t v[4];
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        int n = zr_varint_get(p + off, len - off, &v[i]);
        if (n <= 0)
            return 0;
        off += (size_t)n;
    }
    if (v[3] < 0 || (size_t)v[3] >= sizeof r->s || (size_t)v[3] > len - off)
        return 0;
    r->rx = v[0];
    r->time = v[1];
    r->n = (int32_t)v[2];
    memcpy(r->s, p + off, (size_t)v[3]);
    r->s[v[3]] = '\0';
    return off + (size_t)v[3];
}

/* Appends record number n: device time 1000 + n, rx_time RX0 + n µs. */
static void append_n(zr_archive *a, int64_t mono, int32_t n)
{
    uint8_t buf[64];
    size_t len = enc_rec(buf, 1000 + n, n);
    zr_archive_append(a, mono, RX0 + (int64_t)n * 1000, 1000 + n, buf, len);
}

/* ---- reading back with the walker ---- */

typedef struct readback {
    int header;                 /* zr_cwalk_header result */
    int fd;
    char *meta[6];              /* schema, codec, channel, time_field, time_unit, fingerprint */
    uint64_t header_end, end, size;
    size_t nblocks;
    uint64_t ends[4096];        /* end of each complete block */
    rec recs[20000];
    size_t nrecs;
    int bad_block;              /* a block whose records did not decode exactly */
} readback;

static const char *META_KEYS[6] = {"avro.schema", "avro.codec", "speeddata.channel",
                                   "speeddata.time_field", "speeddata.time_unit",
                                   "speeddata.fingerprint"};

static void on_meta(void *ctx, const char *key, size_t keylen, uint64_t off, uint64_t len)
{
    readback *rb = ctx;
    (void)keylen;
    for (int i = 0; i < 6; i++) {
        if (strcmp(key, META_KEYS[i]) != 0)
            continue;
        rb->meta[i] = calloc(1, len + 1);
        if (pread(rb->fd, rb->meta[i], len, (off_t)off) != (ssize_t)len)
            rb->meta[i][0] = '\0';
    }
}

static void read_block(readback *rb, const zr_cblock *b)
{
    uint8_t *data = malloc(b->data_len + 1);
    size_t off = 0;
    if (pread(rb->fd, data, b->data_len, (off_t)b->data_off) != (ssize_t)b->data_len)
        rb->bad_block++;
    for (int64_t i = 0; i < b->count && rb->nrecs < 20000; i++) {
        size_t n = dec_rec(data + off, b->data_len - off, &rb->recs[rb->nrecs++]);
        if (n == 0) {
            rb->bad_block++;
            break;
        }
        off += n;
    }
    if (off != b->data_len)
        rb->bad_block++;
    free(data);
}

/* The header metadata against want, in META_KEYS order; NULL: the key is left out. */
static void check_meta(const readback *rb, const char *const want[6])
{
    for (int i = 0; i < 6; i++) {
        const char *got = rb->meta[i];
        CHECKF(want[i] ? got && strcmp(got, want[i]) == 0 : got == NULL,
               "metadata %s: %s, want %s", META_KEYS[i], got ? got : "(none)",
               want[i] ? want[i] : "(none)");
    }
}

static void rb_free(readback *rb)
{
    for (int i = 0; i < 6; i++)
        free(rb->meta[i]);
    free(rb);
}

/* Reads path's header and complete blocks (appending records to rb when given). */
static readback *read_back(const char *path, readback *rb)
{
    zr_cwalk w;
    zr_cblock b;
    if (!rb)
        rb = calloc(1, sizeof *rb);
    for (int i = 0; i < 6; i++) {
        free(rb->meta[i]);
        rb->meta[i] = NULL;
    }
    rb->fd = open(path, O_RDONLY);
    rb->nblocks = 0;
    rb->header = rb->fd < 0 ? -1 : zr_cwalk_header(&w, rb->fd, on_meta, rb);
    if (rb->header == ZR_CW_OK) {
        rb->header_end = w.off;
        while (zr_cwalk_next(&w, &b) == 1) {
            read_block(rb, &b);
            if (rb->nblocks < 4096)
                rb->ends[rb->nblocks] = w.off;
            rb->nblocks++;
        }
        rb->end = w.off;
        rb->size = w.size;
    }
    if (rb->fd >= 0)
        close(rb->fd);
    return rb;
}

/* Runs avrocat on path and checks every record it prints against want[0..n).
 * Returns the number of records printed, -1 when avrocat failed. */
static long avrocat_check(const char *path, const rec *want, size_t n)
{
    char cmd[PATH_MAX + 64], line[1024];
    long count = 0;
    snprintf(cmd, sizeof cmd, "avrocat '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    while (fgets(line, sizeof line, p)) {
        long long rx = -1, t = -1;
        int num = -1;
        const char *q;
        line[strcspn(line, "\n")] = '\0';
        if ((q = strstr(line, "\"rx_time\": ")))
            sscanf(q + 11, "%lld", &rx);
        if ((q = strstr(line, "\"time\": ")))
            sscanf(q + 8, "%lld", &t);
        if ((q = strstr(line, "\"n\": ")))
            sscanf(q + 5, "%d", &num);
        if ((size_t)count < n)
            CHECKF(rx == want[count].rx && t == want[count].time && num == want[count].n &&
                       strstr(line, want[count].s),
                   "avrocat %s record %ld: %s", path, count, line);
        count++;
    }
    return pclose(p) == 0 ? count : -1;
}

/* ---- hooks ---- */

typedef struct events {
    int opened, closed, errors;
    zr_file_info closed_info[64];
    char closed_path[64][PATH_MAX];
    char what[64][16];
    int err[64];
    int64_t bytes[64];
    char error_path[64][PATH_MAX];
} events;

static void on_opened(void *ctx, const zr_file_info *f)
{
    events *ev = ctx;
    (void)f;
    ev->opened++;
}

static void on_closed(void *ctx, const zr_file_info *f)
{
    events *ev = ctx;
    if (ev->closed < 64) {
        ev->closed_info[ev->closed] = *f;
        snprintf(ev->closed_path[ev->closed], PATH_MAX, "%s", f->path);
    }
    ev->closed++;
}

static void on_error(void *ctx, const char *what, int err, const char *path, const char *detail,
                     int64_t bytes)
{
    events *ev = ctx;
    (void)detail;
    if (ev->errors < 64) {
        snprintf(ev->what[ev->errors], 16, "%s", what);
        ev->err[ev->errors] = err;
        ev->bytes[ev->errors] = bytes;
        snprintf(ev->error_path[ev->errors], PATH_MAX, "%s", path ? path : "");
    }
    ev->errors++;
}

static zr_archive_hooks hooks_for(events *ev)
{
    memset(ev, 0, sizeof *ev);
    return (zr_archive_hooks){ev, on_opened, on_closed, on_error};
}

static zr_archive_config config_for(const char *data_dir)
{
    return (zr_archive_config){
        .data_dir = data_dir, .channel = "ch", .schema_text = SCHEMA,
        .fingerprint = "0123456789abcdef", .time_field = "time", .time_unit = "ns",
        .rotate_ns = 60 * SEC, .rotate_bytes = 64u << 20, .flush_ns = 100 * MS,
        .block_bytes = 1u << 20,
    };
}

static zr_archive *create(const zr_archive_config *cfg, events *ev, zr_stats *st)
{
    char err[256];
    zr_archive *a = NULL;
    zr_archive_hooks h = hooks_for(ev);
    memset(st, 0, sizeof *st);
    if (zr_archive_create(&a, cfg, &h, st, err, sizeof err) != 0) {
        fprintf(stderr, "zr_archive_create: %s\n", err);
        exit(2);
    }
    return a;
}

/* Reads every archive file of dir in order, checks each with avrocat and that it holds
 * records; returns the records of all files in rb. */
static readback *read_dir(const char *dir, int *nfiles)
{
    static char names[256][PATH_MAX];
    readback *all = calloc(1, sizeof *all);
    *nfiles = list_avro(dir, names, 256);
    for (int i = 0; i < *nfiles; i++) {
        size_t before = all->nrecs;
        read_back(names[i], all);
        CHECK(all->header == ZR_CW_OK);
        CHECK(all->end == all->size);
        CHECK(all->bad_block == 0);
        CHECK(all->nrecs > before);
        CHECK(avrocat_check(names[i], all->recs + before, all->nrecs - before) ==
              (long)(all->nrecs - before));
    }
    return all;
}

static void check_in_order(const readback *rb, int32_t first, size_t n)
{
    int ok = rb->nrecs == n;
    for (size_t i = 0; ok && i < n; i++) {
        const rec *r = &rb->recs[i];
        ok = r->n == first + (int32_t)i && r->rx == RX0 + (int64_t)r->n * 1000 &&
             r->time == 1000 + r->n && strncmp(r->s, "r", 1) == 0;
    }
    CHECK(ok);
}

/* ---- archive tests ---- */

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
    check_meta(rb, (const char *[6]){SCHEMA, "null", "ch", "time", "ns", "0123456789abcdef"});
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
    check_meta(rb, (const char *[6]){SCHEMA, "null", "ch", NULL, "ns", NULL});
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
    int removed_ok = 1, cut_ok = 1, avrocat_ok = 1;
    for (size_t cut = 0; cut <= len; cut++) {
        write_file(path, data, cut);
        int64_t r = zr_archive_repair_file(path);
        if (cut < whole->header_end) {
            removed_ok &= r == (int64_t)cut && access(path, F_OK) != 0;
            continue;
        }
        uint64_t end = expected_end(whole, cut);
        cut_ok &= r == (int64_t)(cut - end) && file_size(path) == (int64_t)end;
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
    CHECK(zr_archive_repair_file(path) == (int64_t)(len - whole->ends[1]));
    CHECK(file_size(path) == (int64_t)whole->ends[1]);

    /* Not a container: left alone. */
    memcpy(bad, data, len);
    bad[0] = 'X';
    write_file(path, bad, len);
    errno = 0;
    CHECK(zr_archive_repair_file(path) == -1 && errno == EINVAL);
    CHECK(file_size(path) == (int64_t)len);
    CHECK(zr_archive_repair_file("/nonexistent/x.avro") == -1 && errno == ENOENT);
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
    zr_archive_destroy(a);
    free(data);
    rb_free(whole);
    rm_tree(tmp);
}

/* ---- write faults ---- */

static struct rlimit saved_fsize;

static void limit_file_size(rlim_t bytes)
{
    struct rlimit rl = saved_fsize;
    rl.rlim_cur = bytes;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
        perror("setrlimit");
        exit(2);
    }
}

static void unlimit_file_size(void)
{
    setrlimit(RLIMIT_FSIZE, &saved_fsize);
}

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
    getrlimit(RLIMIT_FSIZE, &saved_fsize);
    signal(SIGXFSZ, SIG_IGN);
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

/* ---- quarantine ---- */

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
    getrlimit(RLIMIT_FSIZE, &saved_fsize);
    signal(SIGXFSZ, SIG_IGN);
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

/* ---- container primitives ---- */

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
    if (system("command -v avrocat >/dev/null") != 0) {
        fprintf(stderr, "test_archive: avrocat (Debian avro-bin) is required\n");
        return 1;
    }
    test_header_encoding();
    test_roundtrip();
    test_optional_metadata();
    test_flush_by_age();
    test_rotate_by_size();
    test_rotate_by_time();
    test_seq_and_excl();
    test_repair_every_cut();
    test_create_repairs_newest();
    test_short_write();
    test_mkdir_fault();
    test_large_records();
    test_quarantine();
    test_quarantine_short_write();
    return zr_check_summary("test_archive");
}
