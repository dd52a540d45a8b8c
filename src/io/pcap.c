/* SPDX-License-Identifier: MIT */
/* pcap.c: the `pcap:FILE` / `FILE.pcap` / `pcap:-` reader source (LINKTYPE_CAN_SOCKETCAN, either
 * byte order, µs or ns magic). Reads one chunk per poll callback so the loop stays responsive. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batlink/pcap.h"
#include "io.h"

#define CHUNK (64u * 1024u)

struct pcap_src {
    int fd;
    bool own_fd;
    struct bl_watch *w;
    bool have_header;
    struct bl_pcap_info info;
    uint64_t record; /* number of the next record, 1-based */
    uint64_t offset; /* file offset of buf[0] */
    size_t fill;
    uint8_t buf[CHUNK + BL_PCAP_MAX_RECORD + BL_PCAP_RECHDR_LEN];
};

static const char *file_of(const struct bl_source *s)
{
    return s->uri + strlen("pcap:");
}

static void finish(struct bl_source *s)
{
    struct pcap_src *p = s->impl;
    bl_watch_remove(p->w);
    p->w = NULL;
    io__set_state(s, BL_SRC_EOF);
}

static void bad_record(struct bl_source *s, uint64_t at, const struct bl_diag *d, const char *tail)
{
    struct pcap_src *p = s->impl;
    s->stats.bad_frames++;
    io__warn_limited(s, "bad records", "%s: record %" PRIu64 " at byte %" PRIu64 ": %s%s",
                     file_of(s), p->record, at + (d->what ? d->byte : 0),
                     d->what ? d->what : "bad record", tail);
}

/* Parse what is buffered. Returns false when the file must end here (framing lost). */
static bool parse_buffer(struct bl_source *s)
{
    struct pcap_src *p = s->impl;
    size_t pos = 0;
    if (!p->have_header) {
        struct bl_diag d = {0};
        enum bl_err e = bl_pcap_parse_header(p->buf, p->fill, &p->info, &d);
        if (e == BL_ERR_AGAIN) return true;
        if (e != BL_OK) {
            s->stats.bad_frames++;
            io__warn(s, "%s: header at byte %zu: %s", file_of(s), d.byte,
                     d.what ? d.what : bl_strerror(e));
            return false;
        }
        p->have_header = true;
        pos = BL_PCAP_HEADER_LEN;
    }
    bool ok = true;
    while (pos < p->fill) {
        struct bl_frame f;
        struct bl_diag d = {0};
        size_t used = 0;
        enum bl_err e = bl_pcap_parse_record(&p->info, p->buf + pos, p->fill - pos, &used, &f, &d);
        if (e == BL_ERR_AGAIN) break;
        uint64_t at = p->offset + pos;
        if (e == BL_ERR_RANGE) {
            bad_record(s, at, &d, "; rest of file ignored");
            ok = false;
            break;
        }
        if (e == BL_OK) {
            s->stats.bytes_in += used;
            io__emit_frame(s, &f);
        } else if (e == BL_ERR_UNSUPPORTED) {
            s->stats.fd_skipped++;
        } else {
            bad_record(s, at, &d, "");
        }
        p->record++;
        pos += used;
    }
    memmove(p->buf, p->buf + pos, p->fill - pos);
    p->fill -= pos;
    p->offset += pos;
    return ok;
}

static void at_eof(struct bl_source *s)
{
    struct pcap_src *p = s->impl;
    if (!p->have_header) {
        s->stats.bad_frames++;
        io__warn(s, "%s: header at byte 0: file shorter than the 24-byte pcap header", file_of(s));
    } else if (p->fill > 0) {
        struct bl_diag d = {0};
        char what[96];
        if (p->fill >= BL_PCAP_RECHDR_LEN) {
            uint32_t incl = p->info.swapped
                                ? (uint32_t)p->buf[8] << 24 | (uint32_t)p->buf[9] << 16 |
                                      (uint32_t)p->buf[10] << 8 | p->buf[11]
                                : (uint32_t)p->buf[11] << 24 | (uint32_t)p->buf[10] << 16 |
                                      (uint32_t)p->buf[9] << 8 | p->buf[8];
            snprintf(what, sizeof what, "truncated record (%zu of %" PRIu64 " bytes)", p->fill,
                     (uint64_t)incl + BL_PCAP_RECHDR_LEN);
        } else {
            snprintf(what, sizeof what, "truncated record header (%zu of 16 bytes)", p->fill);
        }
        d.what = what;
        bad_record(s, p->offset, &d, "");
    }
    finish(s);
}

static void on_ready(void *ctx, int fd, short revents)
{
    struct bl_source *s = ctx;
    struct pcap_src *p = s->impl;
    (void)revents;
    size_t room = sizeof p->buf - p->fill;
    if (room > CHUNK) room = CHUNK;
    ssize_t n = read(fd, p->buf + p->fill, room);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        io__warn(s, "%s: read: %s", file_of(s), strerror(errno));
        finish(s);
        return;
    }
    if (n == 0) {
        at_eof(s);
        return;
    }
    p->fill += (size_t)n;
    if (!parse_buffer(s)) finish(s);
}

static enum bl_err pcap_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    static const char *const keys[] = {NULL};
    enum bl_err e = io__uri_check_keys(u, keys, err);
    if (e != BL_OK) return e;
    if (u->path[0] == '\0') {
        io__errf(err, "pcap: missing file name (pcap:FILE, FILE.pcap or pcap:- for stdin)");
        return BL_ERR_USAGE;
    }
    struct pcap_src *p = calloc(1, sizeof *p);
    if (p == NULL) return BL_ERR_NOMEM;
    p->record = 1;
    if (strcmp(u->path, "-") == 0) {
        p->fd = STDIN_FILENO;
    } else {
        p->fd = open(u->path, O_RDONLY | O_CLOEXEC);
        if (p->fd < 0) {
            io__errf(err, "pcap:%s: open: %s", u->path, strerror(errno));
            free(p);
            return BL_ERR_IO;
        }
        p->own_fd = true;
        /* Check the header now so that a wrong file fails at open, not after the loop starts. */
        uint8_t hdr[BL_PCAP_HEADER_LEN];
        struct bl_pcap_info info;
        struct bl_diag d = {0};
        ssize_t n = pread(p->fd, hdr, sizeof hdr, 0);
        e = n == (ssize_t)sizeof hdr ? bl_pcap_parse_header(hdr, sizeof hdr, &info, &d) : BL_OK;
        if (e != BL_OK) {
            if (e == BL_ERR_UNSUPPORTED)
                io__errf(err, "pcap:%s: link type %" PRIu32 " is not CAN_SOCKETCAN (227)", u->path,
                         info.linktype);
            else
                io__errf(err, "pcap:%s: header at byte %zu: %s", u->path, d.byte,
                         d.what ? d.what : bl_strerror(e));
            close(p->fd);
            free(p);
            return BL_ERR_IO;
        }
    }
    if (io__set_nonblock(p->fd) < 0 && p->own_fd) {
        io__errf(err, "pcap:%s: fcntl: %s", u->path, strerror(errno));
        close(p->fd);
        free(p);
        return BL_ERR_IO;
    }
    s->impl = p;
    s->is_file = true;
    s->can_write = false;
    return BL_OK;
}

static enum bl_err pcap_attach(struct bl_source *s)
{
    struct pcap_src *p = s->impl;
    p->w = bl_loop_watch(s->loop, p->fd, POLLIN, on_ready, s);
    if (p->w == NULL) return BL_ERR_NOMEM;
    io__set_state(s, BL_SRC_UP);
    return BL_OK;
}

static void pcap_close(struct bl_source *s)
{
    struct pcap_src *p = s->impl;
    if (p == NULL) return;
    bl_watch_remove(p->w);
    if (p->own_fd) close(p->fd);
    free(p);
    s->impl = NULL;
}

const struct io__ops io__pcap_ops = {"pcap", pcap_open, pcap_attach, NULL, pcap_close};
