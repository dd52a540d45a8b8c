/* SPDX-License-Identifier: MIT */
/* socketcan.c: placeholder until the socketcan transport lands; opening it is a usage error. */
#include "io.h"

static enum bl_err stub_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    (void)s;
    io__errf(err, "%s: this transport is not built yet", u->scheme);
    return BL_ERR_UNSUPPORTED;
}

const struct io__ops io__socketcan_ops = {"socketcan", stub_open, NULL, NULL, NULL};
