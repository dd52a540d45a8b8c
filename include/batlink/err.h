/* SPDX-License-Identifier: MIT */
/* err.h: the one error enum of batlink, its strerror, and the "where" record that
 * parsers fill for bad input. */
#ifndef BATLINK_ERR_H
#define BATLINK_ERR_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define BL_MUST_CHECK __attribute__((warn_unused_result))
#else
#define BL_MUST_CHECK
#endif

/** Monotonic time in microseconds (deadlines, staleness). Never mixed with wall time. */
typedef int64_t bl_us;

/** Every fallible batlink function returns one of these. BL_OK is 0; errors are positive. */
enum bl_err {
    BL_OK = 0,
    BL_ERR_INVAL,       /**< invalid argument or malformed input */
    BL_ERR_SHORT,       /**< input shorter than its format requires */
    BL_ERR_AGAIN,       /**< need more bytes / nothing ready yet */
    BL_ERR_CHECKSUM,    /**< checksum or CRC mismatch */
    BL_ERR_RANGE,       /**< value outside its documented range */
    BL_ERR_UNKNOWN_ID,  /**< CAN id / item not described by the table */
    BL_ERR_IO,          /**< an I/O call failed (errno captured by the caller's message) */
    BL_ERR_NOMEM,       /**< out of memory or a fixed table is full */
    BL_ERR_EOF,         /**< end of a finite source (file, stdin) */
    BL_ERR_UNSUPPORTED, /**< the operation does not exist for this object (e.g. write to a file) */
    BL_ERR_USAGE,       /**< usage or configuration error (exit code 2) */
    BL_ERR_TIMEOUT,     /**< no answer in time */
    BL_ERR_DOWN,        /**< link or connection currently down */
    BL_ERR__COUNT
};

/** Short English text for an error. Never returns NULL, also for out-of-range values. */
const char *bl_strerror(enum bl_err e);

/**
 * Where bad input was found. `what` is a static string; the first error recorded wins
 * (later calls of bl_diag_set do not overwrite it). `byte` is the offset in the frame,
 * record or line; `line` is the 1-based line in a text file (0 when not applicable).
 */
struct bl_diag {
    const char *what;
    size_t byte;
    unsigned line;
};

/** Record `what` at `byte` in `d` unless `d` is NULL or already holds an error. O(1). */
void bl_diag_set(struct bl_diag *d, const char *what, size_t byte);

/** Clear a diag record. */
void bl_diag_clear(struct bl_diag *d);

#endif
