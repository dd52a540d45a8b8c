/* SPDX-License-Identifier: MIT */
/* recorder.c: bl_recorder (capture files chosen by extension through a small ops table) and the
 * candump -L writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Write the buffer out. On a short or failed write(2) (ENOSPC, EFBIG under RLIMIT_FSIZE) only the
 * records that reached the file whole count; a cut last record is truncated away so the file ends
 * on a record boundary. */
static enum bl_err write_out(struct bl_recorder *r)
{
    if (r->failed) return BL_ERR_IO;
    size_t off = 0;
    int err = 0;
    while (off < r->blen) {
        ssize_t w = write(r->fd, r->buf + off, r->blen - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            err = w < 0 ? errno : EIO;
            break;
        }
    }
    size_t k = 0;
    while (k < r->nends && r->ends[k] <= off)
        k++;
    size_t whole = k > 0 ? r->ends[k - 1] : 0;
    unsigned hdr = k < r->header_pending ? (unsigned)k : r->header_pending;
    r->header_pending -= hdr;
    r->frames_disk += k - hdr;
    r->bytes_disk += whole;
    r->blen = 0;
    r->nends = 0;
    if (err == 0) return BL_OK;
    r->failed = true;
    /* a header that did not fit whole is cut like a record: an empty file, not a broken one */
    char tail[160] = "";
    if (off > whole) {
        if (r->regular && ftruncate(r->fd, (off_t)r->bytes_disk) == 0)
            snprintf(tail, sizeof tail, ", the cut last record removed");
        else
            snprintf(tail, sizeof tail, ", its last record is cut (truncate: %s)",
                     r->regular ? strerror(errno) : "not a regular file");
    }
    io__errf(r->err, "%s: write: %s; the file holds %llu complete frames (%llu bytes)%s", r->path,
             strerror(err), (unsigned long long)r->frames_disk, (unsigned long long)r->bytes_disk,
             tail);
    return BL_ERR_IO;
}

enum bl_err io__rec_put(struct bl_recorder *r, const void *p, size_t n)
{
    if (r->failed) return BL_ERR_IO;
    if (n > sizeof r->buf) return BL_ERR_INVAL; /* records are < 100 bytes */
    if (r->blen + n > sizeof r->buf || r->nends == IO__REC_ENDS) {
        enum bl_err e = write_out(r);
        if (e != BL_OK) return e;
    }
    memcpy(r->buf + r->blen, p, n);
    r->blen += n;
    r->ends[r->nends++] = (uint32_t)r->blen;
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
        r->fd = STDOUT_FILENO;
    } else {
        r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (r->fd < 0) {
            io__errf(err, "%s: open: %s", path, strerror(errno));
            free(r);
            return BL_ERR_IO;
        }
        r->own_fd = true;
    }
    struct stat sb;
    r->regular = fstat(r->fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (ops->begin != NULL) {
        enum bl_err e = ops->begin(r);
        r->header_pending = (unsigned)r->nends;
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
    return r->ops->frame(r, f); /* one record per frame: counted by the buffer */
}

enum bl_err bl_recorder_flush(struct bl_recorder *r)
{
    return write_out(r);
}

uint64_t bl_recorder_frames(const struct bl_recorder *r)
{
    return r->failed ? r->frames_disk : r->frames_disk + r->nends - r->header_pending;
}

const char *bl_recorder_error(const struct bl_recorder *r)
{
    return r->err;
}

enum bl_err bl_recorder_close(struct bl_recorder *r, char err[BL_ERRLEN])
{
    if (r == NULL) return BL_OK;
    enum bl_err e = write_out(r);
    if (r->ops->end != NULL) r->ops->end(r);
    /* a regular file: make sure what was counted is really stored (delayed allocation can still
     * fail with ENOSPC at writeback) */
    if (e == BL_OK && r->regular && fsync(r->fd) != 0 && errno != EINVAL) {
        io__errf(r->err, "%s: fsync: %s", r->path, strerror(errno));
        e = BL_ERR_IO;
    }
    if (r->own_fd && close(r->fd) != 0 && e == BL_OK) {
        io__errf(r->err, "%s: close: %s", r->path, strerror(errno));
        e = BL_ERR_IO;
    }
    if (e != BL_OK && err != NULL) io__errf(err, "%s", r->err);
    free(r);
    return e;
}
