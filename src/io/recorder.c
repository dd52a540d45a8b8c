/* SPDX-License-Identifier: MIT */
/* recorder.c: bl_recorder (capture files chosen by extension through a small ops table) and the
 * candump -L writer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"
#include "recorder_ops.h"

static const struct io__rec_ops *const formats[] = {&io__rec_candump_ops, &io__rec_pcap_ops};

static enum bl_err candump_frame(struct bl_recorder *r, const struct bl_frame *f)
{
    char line[BL_CANDUMP_LINE_MAX];
    size_t n = 0;
    enum bl_err e = bl_candump_format(f, r->iface, line, sizeof line, &n);
    if (e != BL_OK) return e;
    return io__rec_put(r, line, n);
}

const struct io__rec_ops io__rec_candump_ops = {".log", "candump log", NULL, candump_frame, NULL};

static bool iface_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BL_CANDUMP_IFACE_MAX) return false;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)s[k] < 0x21 || (unsigned char)s[k] > 0x7e) return false;
    return true;
}

enum bl_err io__rec_put(struct bl_recorder *r, const void *p, size_t n)
{
    if (r->failed) return BL_ERR_IO;
    if (fwrite(p, 1, n, r->fp) != n) {
        io__errf(r->err, "%s: write: %s", r->path, strerror(errno));
        r->failed = true;
        return BL_ERR_IO;
    }
    r->bytes += n;
    return BL_OK;
}

enum bl_err bl_recorder_open(const char *path, const char *iface, struct bl_recorder **out,
                             char err[BL_ERRLEN])
{
    if (iface == NULL) iface = "can0";
    if (!iface_ok(iface)) {
        io__errf(err, "%s: interface name \"%s\" must be 1..%d printable characters, no blanks",
                 path, iface, BL_CANDUMP_IFACE_MAX);
        return BL_ERR_USAGE;
    }
    const struct io__rec_ops *ops = NULL;
    bool to_stdout = strcmp(path, "-") == 0;
    if (to_stdout) {
        ops = &io__rec_candump_ops;
    } else {
        const char *dot = strrchr(path, '.');
        for (size_t k = 0; dot != NULL && k < sizeof formats / sizeof formats[0]; k++)
            if (strcasecmp(dot, formats[k]->ext) == 0) ops = formats[k];
    }
    if (ops == NULL) {
        char list[128] = "";
        for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
            strncat(list, k ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, formats[k]->ext, sizeof list - strlen(list) - 1);
        }
        io__errf(err, "%s: unknown capture file extension (accepted: %s, or - for stdout)", path,
                 list);
        return BL_ERR_USAGE;
    }
    struct bl_recorder *r = calloc(1, sizeof *r);
    if (r == NULL) return BL_ERR_NOMEM;
    r->ops = ops;
    snprintf(r->path, sizeof r->path, "%s", to_stdout ? "<stdout>" : path);
    snprintf(r->iface, sizeof r->iface, "%s", iface);
    if (to_stdout) {
        r->fp = stdout;
    } else {
        r->fp = fopen(path, "we");
        if (r->fp == NULL) {
            io__errf(err, "%s: open: %s", path, strerror(errno));
            free(r);
            return BL_ERR_IO;
        }
        r->own_fp = true;
        /* large buffer: fewer write(2) calls; the record command flushes every second */
        setvbuf(r->fp, NULL, _IOFBF, 64 * 1024);
    }
    if (ops->begin != NULL) {
        enum bl_err e = ops->begin(r);
        if (e != BL_OK) {
            io__errf(err, "%s", r->err[0] ? r->err : bl_strerror(e));
            enum bl_err ignored = bl_recorder_close(r, NULL); /* the begin error is the one */
            (void)ignored;
            return e;
        }
    }
    *out = r;
    return BL_OK;
}

enum bl_err bl_recorder_write(struct bl_recorder *r, const struct bl_frame *f)
{
    if (!bl_frame_valid(f) || f->ts_us < 0) return BL_ERR_INVAL;
    enum bl_err e = r->ops->frame(r, f);
    if (e == BL_OK) r->frames++;
    return e;
}

enum bl_err bl_recorder_flush(struct bl_recorder *r)
{
    if (r->failed) return BL_ERR_IO;
    if (fflush(r->fp) != 0) {
        io__errf(r->err, "%s: write: %s", r->path, strerror(errno));
        r->failed = true;
        return BL_ERR_IO;
    }
    return BL_OK;
}

uint64_t bl_recorder_frames(const struct bl_recorder *r)
{
    return r->frames;
}

const char *bl_recorder_error(const struct bl_recorder *r)
{
    return r->err;
}

enum bl_err bl_recorder_close(struct bl_recorder *r, char err[BL_ERRLEN])
{
    if (r == NULL) return BL_OK;
    enum bl_err e = bl_recorder_flush(r);
    if (r->ops->end != NULL) r->ops->end(r);
    if (r->own_fp && fclose(r->fp) != 0 && e == BL_OK) {
        io__errf(r->err, "%s: close: %s", r->path, strerror(errno));
        e = BL_ERR_IO;
    }
    if (e != BL_OK) io__errf(err, "%s", r->err);
    free(r);
    return e;
}
