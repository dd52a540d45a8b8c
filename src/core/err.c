/* SPDX-License-Identifier: MIT */
/* err.c: bl_strerror and the first-error-wins diag record. */
#include "batlink/err.h"

const char *bl_strerror(enum bl_err e)
{
    switch (e) {
    case BL_OK:
        return "success";
    case BL_ERR_INVAL:
        return "invalid input";
    case BL_ERR_SHORT:
        return "input too short";
    case BL_ERR_AGAIN:
        return "need more data";
    case BL_ERR_CHECKSUM:
        return "checksum mismatch";
    case BL_ERR_RANGE:
        return "value out of range";
    case BL_ERR_UNKNOWN_ID:
        return "unknown identifier";
    case BL_ERR_IO:
        return "I/O error";
    case BL_ERR_NOMEM:
        return "out of memory";
    case BL_ERR_EOF:
        return "end of input";
    case BL_ERR_UNSUPPORTED:
        return "operation not supported";
    case BL_ERR_USAGE:
        return "usage error";
    case BL_ERR_TIMEOUT:
        return "timed out";
    case BL_ERR_DOWN:
        return "link down";
    case BL_ERR__COUNT:
        break;
    }
    return "unknown error";
}

void bl_diag_set(struct bl_diag *d, const char *what, size_t byte)
{
    if (d == NULL || d->what != NULL) return;
    d->what = what;
    d->byte = byte;
}

void bl_diag_clear(struct bl_diag *d)
{
    if (d == NULL) return;
    d->what = NULL;
    d->byte = 0;
    d->line = 0;
}
