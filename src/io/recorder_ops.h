/* SPDX-License-Identifier: MIT */
/* recorder_ops.h: internals of the recorder (not public): the object and one small ops table per
 * file format, chosen by extension in recorder.c. */
#ifndef BATLINK_RECORDER_OPS_H
#define BATLINK_RECORDER_OPS_H

#include <stdbool.h>
#include <stdio.h>

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
    /** Append one valid frame through io__rec_put. */
    enum bl_err (*frame)(struct bl_recorder *r, const struct bl_frame *f);
    /** Free r->impl (optional). */
    void (*end)(struct bl_recorder *r);
};

struct bl_recorder {
    const struct io__rec_ops *ops;
    FILE *fp;
    bool own_fp;
    bool failed; /* a write failed: later writes fail at once */
    char path[256];
    char iface[BL_CANDUMP_IFACE_MAX + 1];
    uint64_t frames;
    uint64_t bytes;
    char err[BL_ERRLEN];
    void *impl;
};

/* one per format; each defined in its own file */
extern const struct io__rec_ops io__rec_candump_ops; /* recorder.c */
extern const struct io__rec_ops io__rec_pcap_ops;    /* recorder_pcap.c */

/** Append n bytes to the file. BL_ERR_IO with r->err = "PATH: write: reason". */
enum bl_err io__rec_put(struct bl_recorder *r, const void *p, size_t n) BL_MUST_CHECK;

#endif
