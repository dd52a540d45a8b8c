/* SPDX-License-Identifier: MIT */
/* recorder_ops.h: internals of the recorder (not public): the object and one small ops table per
 * file format, chosen by extension in recorder.c. */
#ifndef BATLINK_RECORDER_OPS_H
#define BATLINK_RECORDER_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/candump.h"
#include "batlink/recorder.h"

struct bl_recorder;

/** One output format. */
struct io__rec_ops {
    const char *ext;  /**< ".log", compared case-insensitively */
    const char *name; /**< for messages: "candump log" */
    /** Write the file header and set up r->impl (optional: NULL = nothing). BL_ERR_IO with
     * r->err set on failure. */
    enum bl_err (*begin)(struct bl_recorder *r);
    /** Append one valid frame through exactly one io__rec_put (one record = one frame). */
    enum bl_err (*frame)(struct bl_recorder *r, const struct bl_frame *f);
    /** Free r->impl (optional). */
    void (*end)(struct bl_recorder *r);
};

/* Records are buffered whole, with where each ends, so a failed write(2) (disk full, EFBIG) can
 * be cut back to the last complete record and the frame count stays exact. */
#define IO__REC_BUF  (64u * 1024u)
#define IO__REC_ENDS 4096u /* records per buffer; the shortest candump line is ~26 bytes */

struct bl_recorder {
    const struct io__rec_ops *ops;
    int fd;
    bool own_fd;
    bool regular; /* a regular file: can be truncated back to a record boundary */
    bool failed;  /* a write failed: later writes fail at once */
    char path[256];
    char iface[BL_CANDUMP_IFACE_MAX + 1];
    uint64_t frames_disk;    /* complete frames in the file */
    uint64_t bytes_disk;     /* file length, always at a record boundary */
    unsigned header_pending; /* buffered records that are the file header, not frames */
    size_t blen, nends;
    uint32_t ends[IO__REC_ENDS]; /* end offset in buf of each buffered record */
    char err[BL_ERRLEN];
    void *impl;
    uint8_t buf[IO__REC_BUF];
};

/* one per format; each defined in its own file */
extern const struct io__rec_ops io__rec_candump_ops; /* recorder.c */
extern const struct io__rec_ops io__rec_pcap_ops;    /* recorder_pcap.c */

/** Append one whole record of n bytes (at most IO__REC_BUF) to the buffer, writing the buffer
 * out first when it is full. BL_ERR_IO with r->err = "PATH: write: reason; ...". */
enum bl_err io__rec_put(struct bl_recorder *r, const void *p, size_t n) BL_MUST_CHECK;

#endif
