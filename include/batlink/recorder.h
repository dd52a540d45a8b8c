/* SPDX-License-Identifier: MIT */
/* recorder.h: write received frames to a capture file whose format follows the extension:
 * `.log` = can-utils `candump -L` (PCAP `.pcap` is added by its own writer). */
#ifndef BATLINK_RECORDER_H
#define BATLINK_RECORDER_H

#include <stdint.h>

#include "batlink/err.h"
#include "batlink/frame.h"
#include "batlink/source.h"

struct bl_recorder;

/**
 * Create (or truncate) `path` and write the format's header. The format is chosen by the
 * extension, case-insensitively: `.log` (candump -L), `.pcap` (LINKTYPE_CAN_SOCKETCAN); `-` writes
 * a candump log to stdout. `iface` is the interface name written into candump lines (NULL = "can0";
 * at most BL_CANDUMP_IFACE_MAX printable characters, no blanks).
 * Returns BL_OK, BL_ERR_USAGE (unknown extension or bad iface; `err` lists what is accepted),
 * BL_ERR_IO (`err` = "PATH: open: No such file or directory"), BL_ERR_NOMEM.
 * Ownership: *out is released with bl_recorder_close. Blocking: file I/O only.
 */
enum bl_err bl_recorder_open(const char *path, const char *iface, struct bl_recorder **out,
                             char err[BL_ERRLEN]) BL_MUST_CHECK;

/**
 * Append one frame (buffered; reaches the file on bl_recorder_flush, when the buffer fills, or on
 * close). Returns BL_OK, BL_ERR_INVAL (frame fails bl_frame_valid or has a negative timestamp;
 * nothing written), BL_ERR_IO (write failed, e.g. disk full or EFBIG over RLIMIT_FSIZE; the file
 * is cut back to its last complete record, bl_recorder_error says why and how many frames it
 * holds; later writes keep failing). The caller should ignore SIGXFSZ so that an over-size write
 * fails instead of killing the process. Cost: O(1), no allocation. Blocking: may block on a full
 * buffer write.
 */
enum bl_err bl_recorder_write(struct bl_recorder *r, const struct bl_frame *f) BL_MUST_CHECK;

/** Push buffered lines to the file (call every second). Returns BL_OK or BL_ERR_IO. */
enum bl_err bl_recorder_flush(struct bl_recorder *r) BL_MUST_CHECK;

/** Frames accepted so far; right after a bl_recorder_flush that succeeded, and after any failed
 * write, exactly the complete frames in the file. */
uint64_t bl_recorder_frames(const struct bl_recorder *r);

/** Text of the last I/O error ("PATH: write: No space left on device"), "" when none. */
const char *bl_recorder_error(const struct bl_recorder *r);

/**
 * Flush, close and free (accepts NULL: BL_OK). Returns BL_ERR_IO when the final flush or close
 * failed (`err`, may be NULL, says why); the recorder is freed in every case.
 */
enum bl_err bl_recorder_close(struct bl_recorder *r, char err[BL_ERRLEN]) BL_MUST_CHECK;

#endif
