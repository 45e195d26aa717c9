/* Shared helpers of the archive and quarantine unit tests (test_archive*.c,
 * test_quarantine.c): temp dirs, records of the test schema, reading files back with the
 * container walker and with avro-c's avrocat, hooks that record the writer's events, and
 * file size limits for real write faults. See archive_util.h. */
#include "archive_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zr_check.h"
#include "zr_varint.h"

const char TEST_SCHEMA[] =
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

char *make_tmp(char *buf)
{
    strcpy(buf, "/tmp/zr_test_archive_XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
    return buf;
}

void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

uint8_t *read_all(const char *path, size_t *len)
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

int list_avro(const char *dir, char names[][PATH_MAX], int max)
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

size_t enc_rec(uint8_t *out, int64_t time, int32_t n)
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
void append_n(zr_archive *a, int64_t mono, int32_t n)
{
    uint8_t buf[64];
    size_t len = enc_rec(buf, 1000 + n, n);
    zr_archive_append(a, mono, RX0 + (int64_t)n * 1000, 1000 + n, buf, len);
}

/* ---- reading back with the walker ---- */

static const char *const META_KEYS[6] = {"avro.schema", "avro.codec", "speeddata.channel",
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
void check_meta(const readback *rb, const char *const want[6])
{
    for (int i = 0; i < 6; i++) {
        const char *got = rb->meta[i];
        CHECKF(want[i] ? got && strcmp(got, want[i]) == 0 : got == NULL,
               "metadata %s: %s, want %s", META_KEYS[i], got ? got : "(none)",
               want[i] ? want[i] : "(none)");
    }
}

void rb_free(readback *rb)
{
    for (int i = 0; i < 6; i++)
        free(rb->meta[i]);
    free(rb);
}

/* Reads path's header and complete blocks (appending records to rb when given). */
readback *read_back(const char *path, readback *rb)
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
long avrocat_check(const char *path, const rec *want, size_t n)
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
    if (ev->errors < 64) {
        snprintf(ev->detail[ev->errors], 256, "%s", detail);
        snprintf(ev->what[ev->errors], 16, "%s", what);
        ev->err[ev->errors] = err;
        ev->bytes[ev->errors] = bytes;
        snprintf(ev->error_path[ev->errors], PATH_MAX, "%s", path ? path : "");
    }
    ev->errors++;
}

zr_archive_hooks hooks_for(events *ev)
{
    memset(ev, 0, sizeof *ev);
    return (zr_archive_hooks){ev, on_opened, on_closed, on_error};
}

zr_archive_config config_for(const char *data_dir)
{
    return (zr_archive_config){
        .data_dir = data_dir, .channel = "ch", .schema_text = TEST_SCHEMA,
        .fingerprint = "0123456789abcdef", .time_field = "time", .time_unit = "ns",
        .rotate_ns = 60 * SEC, .rotate_bytes = 64u << 20, .flush_ns = 100 * MS,
        .block_bytes = 1u << 20,
    };
}

zr_archive *create(const zr_archive_config *cfg, events *ev, zr_stats *st)
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
readback *read_dir(const char *dir, int *nfiles)
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

void check_in_order(const readback *rb, int32_t first, size_t n)
{
    int ok = rb->nrecs == n;
    for (size_t i = 0; ok && i < n; i++) {
        const rec *r = &rb->recs[i];
        ok = r->n == first + (int32_t)i && r->rx == RX0 + (int64_t)r->n * 1000 &&
             r->time == 1000 + r->n && strncmp(r->s, "r", 1) == 0;
    }
    CHECK(ok);
}

/* ---- write faults ---- */

static struct rlimit saved_fsize;
static int fsize_saved;

void limit_file_size(rlim_t bytes)
{
    if (!fsize_saved) {
        getrlimit(RLIMIT_FSIZE, &saved_fsize);
        signal(SIGXFSZ, SIG_IGN);
        fsize_saved = 1;
    }
    struct rlimit rl = saved_fsize;
    rl.rlim_cur = bytes;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
        perror("setrlimit");
        exit(2);
    }
}

void unlimit_file_size(void)
{
    if (fsize_saved)
        setrlimit(RLIMIT_FSIZE, &saved_fsize);
}

void require_avrocat(const char *test)
{
    if (system("command -v avrocat >/dev/null") != 0) {
        fprintf(stderr, "%s: avrocat (Debian avro-bin) is required\n", test);
        exit(1);
    }
}
