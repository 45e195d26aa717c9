/* The archive's hooks: see zr_archive_hooks.h. */
#include "zr_archive_hooks.h"

#include <stdio.h>
#include <string.h>

#include "zr_logfmt.h"

static void on_file_opened(void *ctx, const zr_file_info *f)
{
    zr_relay *r = ctx;
    char p[1100];
    zr_logline("event=file_opened channel=%s path=%s", r->cfg.name, zr_lv(p, sizeof p, f->path));
    zr_outputs_file(r->outputs, 1, f);
}

static void on_file_closed(void *ctx, const zr_file_info *f)
{
    zr_relay *r = ctx;
    char p[1100];
    zr_logline("event=file_closed channel=%s path=%s records=%llu bytes=%llu", r->cfg.name,
               zr_lv(p, sizeof p, f->path), (unsigned long long)f->records,
               (unsigned long long)f->bytes);
    zr_outputs_file(r->outputs, 0, f);
}

static void on_archive_error(void *ctx, const char *what, int err, const char *path,
                             const char *detail, int64_t bytes)
{
    zr_relay *r = ctx;
    char key[128], p[1100], d[600], e[200];
    snprintf(key, sizeof key, "%s/%d", what, err);
    if (!strcmp(key, r->last_error))
        return; /* a retry failing the same way: reported once */
    snprintf(r->last_error, sizeof r->last_error, "%s", key);
    zr_logline("event=archive_error channel=%s what=%s err=%s path=%s detail=%s bytes=%lld",
               r->cfg.name, what, zr_lv(e, sizeof e, err ? strerror(err) : "-"),
               zr_lv(p, sizeof p, path ? path : "-"), zr_lv(d, sizeof d, detail ? detail : "-"),
               (long long)bytes);
    zr_outputs_error(r->outputs, what, err, path, detail, bytes);
}

zr_archive_hooks zr_archive_hooks_of(zr_relay *r)
{
    return (zr_archive_hooks){.ctx = r, .file_opened = on_file_opened,
                              .file_closed = on_file_closed, .error = on_archive_error};
}
