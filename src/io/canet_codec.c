/* SPDX-License-Identifier: MIT */
/* canet_codec.c: 13-byte CAN-to-Ethernet records <-> struct bl_frame, with resynchronisation
 * after a bad record. Pure: no I/O, no malloc, no clock (style.md rule 3). */
#include <string.h>

#include "batlink/canet.h"

#define RESYNC_LOOKAHEAD 3u /* further whole records scored behind a candidate */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The sanity rules of shared/reference/transports.md section 1.3. */
static enum bl_err check(const uint8_t *r, const char **what, size_t *byte)
{
    uint8_t info = r[0];
    uint32_t id = be32(r + 1);
    *byte = 0;
    if (info & BL_CANET_INFO_RESERVED) {
        *what = "canet record: reserved bits 5-4 of the info byte are set";
        return BL_ERR_INVAL;
    }
    if ((info & BL_CANET_INFO_DLC) > 8u) {
        *what = "canet record: DLC above 8";
        return BL_ERR_RANGE;
    }
    *byte = 1;
    if ((info & BL_CANET_INFO_EXT) && id > BL_CAN_EFF_MASK) {
        *what = "canet record: extended id above 0x1FFFFFFF";
        return BL_ERR_RANGE;
    }
    if (!(info & BL_CANET_INFO_EXT) && id > BL_CAN_SFF_MASK) {
        *what = "canet record: standard id above 0x7FF";
        return BL_ERR_RANGE;
    }
    return BL_OK;
}

static bool good(const uint8_t *r)
{
    const char *what;
    size_t byte;
    return check(r, &what, &byte) == BL_OK;
}

/* Good and zero-padded as the manual prescribes: the stricter test a resync candidate must pass,
 * because zero padding inside misaligned records otherwise looks like "std id 0, DLC 0". */
static bool plausible(const uint8_t *r)
{
    if (!good(r)) return false;
    unsigned dlc = (r[0] & BL_CANET_INFO_RTR) ? 0u : (unsigned)(r[0] & BL_CANET_INFO_DLC);
    for (unsigned i = 5u + dlc; i < BL_CANET_RECORD_LEN; i++)
        if (r[i] != 0) return false;
    return true;
}

static size_t resync_distance(const uint8_t *buf, size_t len)
{
    /* 13 first: a whole bad record keeps the alignment; then 1..12 for a foreign odd packet.
     * Each plausible candidate scores the good whole records buffered behind it (a later bad
     * record only ends the chain: garbage may come again); the best score wins, ties by order. */
    static const uint8_t order[] = {13, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    size_t best = BL_CANET_RECORD_LEN;
    int best_score = -1;
    for (size_t i = 0; i < sizeof order; i++) {
        size_t k = order[i];
        if (k + BL_CANET_RECORD_LEN > len || !plausible(buf + k)) continue;
        int score = 0;
        for (size_t j = 1; j <= RESYNC_LOOKAHEAD; j++) {
            size_t off = k + j * BL_CANET_RECORD_LEN;
            if (off + BL_CANET_RECORD_LEN > len || !good(buf + off)) break;
            score++;
        }
        if (score > best_score) {
            best_score = score;
            best = k;
        }
    }
    return best;
}

enum bl_err bl_canet_parse(const uint8_t *buf, size_t len, size_t *used, struct bl_frame *out,
                           struct bl_diag *why)
{
    *used = 0;
    if (len < BL_CANET_RECORD_LEN) return BL_ERR_AGAIN;
    const char *what = NULL;
    size_t byte = 0;
    enum bl_err e = check(buf, &what, &byte);
    if (e != BL_OK) {
        if (len < BL_CANET_RESYNC_NEED) return BL_ERR_AGAIN;
        bl_diag_set(why, what, byte);
        *used = resync_distance(buf, len);
        return e;
    }
    uint8_t info = buf[0];
    memset(out, 0, sizeof *out);
    out->id = be32(buf + 1);
    out->len = (uint8_t)(info & BL_CANET_INFO_DLC);
    if (info & BL_CANET_INFO_EXT) out->flags |= BL_FRAME_EXT;
    if (info & BL_CANET_INFO_RTR)
        out->flags |= BL_FRAME_RTR;
    else
        memcpy(out->data, buf + 5, out->len);
    *used = BL_CANET_RECORD_LEN;
    return BL_OK;
}

enum bl_err bl_canet_encode(const struct bl_frame *f, uint8_t out[BL_CANET_RECORD_LEN])
{
    if (f->len > 8u || (f->flags & BL_FRAME_ERR)) return BL_ERR_INVAL;
    uint32_t max = (f->flags & BL_FRAME_EXT) ? BL_CAN_EFF_MASK : BL_CAN_SFF_MASK;
    if (f->id > max) return BL_ERR_INVAL;
    uint8_t rec[BL_CANET_RECORD_LEN] = {0};
    rec[0] = (uint8_t)(f->len | ((f->flags & BL_FRAME_EXT) ? BL_CANET_INFO_EXT : 0u) |
                       ((f->flags & BL_FRAME_RTR) ? BL_CANET_INFO_RTR : 0u));
    rec[1] = (uint8_t)(f->id >> 24);
    rec[2] = (uint8_t)(f->id >> 16);
    rec[3] = (uint8_t)(f->id >> 8);
    rec[4] = (uint8_t)f->id;
    if (!(f->flags & BL_FRAME_RTR)) memcpy(rec + 5, f->data, f->len);
    memcpy(out, rec, sizeof rec);
    return BL_OK;
}
