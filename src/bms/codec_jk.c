/* SPDX-License-Identifier: MIT */
/* codec_jk.c: the JK UART codec (jk.c, unchanged) behind the bmscodec.h interface. One request
 * (read all), one reply. Facts: shared/reference/bms-serial.md section 1. */
#include "batlink/jk.h"
#include "bms/codec_int.h"

static enum bl_err build(const struct bl_bms_opts *o, unsigned step, uint8_t *buf, size_t cap,
                         size_t *len)
{
    (void)o;
    if (step != 0) return BL_ERR_RANGE;
    return bl_jk_build_request(buf, cap, len);
}

static enum bl_err parse(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf, size_t len,
                         size_t *used, struct bl_bms *acc, struct bl_bms_reply *rep,
                         struct bl_diag *why)
{
    struct bl_jk_opts jo = {.temp_rule = o && o->jk_temp_rule ? BL_JK_TEMP_99 : BL_JK_TEMP_100};
    struct bl_bms tmp;
    enum bl_err e = bl_jk_parse_opts(buf, len, used, &tmp, why, &jo);
    if (e != BL_OK) return e;
    if (step != 0) {
        bl_diag_set(why, "JK: reply while no request is in flight", 0);
        return BL_ERR_INVAL;
    }
    /* the probes also as temp_dc[] (sensor 1, sensor 2), like every other codec fills it */
    if (bl_bms_known(&tmp, BL_BMS_TEMP_1) || bl_bms_known(&tmp, BL_BMS_TEMP_2)) {
        if (bl_bms_known(&tmp, BL_BMS_TEMP_1)) tmp.temp_dc[tmp.temp_count++] = tmp.temp_1_dc;
        if (bl_bms_known(&tmp, BL_BMS_TEMP_2)) tmp.temp_dc[tmp.temp_count++] = tmp.temp_2_dc;
        bms__set(&tmp, BL_BMS_TEMPS);
    }
    *acc = tmp; /* one step: the reply is the whole reading */
    rep->step = 0;
    rep->addr = -1;
    rep->step_done = true;
    return BL_OK;
}

static size_t frame_at(const uint8_t *buf, size_t len)
{
    if (len < BL_JK_FRAME_MIN || buf[0] != 0x4E || buf[1] != 0x57) return 0;
    size_t total = (size_t)bms__be16(buf + 2) + 2;
    if (total < BL_JK_FRAME_MIN || total > BL_JK_FRAME_MAX || total > len) return 0;
    if (buf[total - 5] != 0x68) return 0;
    unsigned sum = 0;
    for (size_t i = 0; i <= total - 5; i++)
        sum += buf[i];
    return (sum & 0xFFFFu) == bms__be16(buf + total - 2) ? total : 0;
}

const struct bl_bms_codec bms__jk = {
    .scheme = "jk",
    .name = "JK UART",
    .ref = "bms-serial.md 1",
    .serial = {115200, 8, 'N', 1},
    .steps = 1,
    .reply_max = BL_JK_FRAME_MAX,
    .timeout_ms = 500, /* replies complete ~26 ms after the request (1.1) */
    .gap_ms = 100,
    .build_request = build,
    .parse = parse,
    .frame_at = frame_at,
    .finish = bms__finish_check,
};
