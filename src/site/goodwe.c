/* SPDX-License-Identifier: MIT */
/* goodwe.c: GoodWe local protocol framings and ET/EH register decoders (see goodwe.h). */
#include "batlink/goodwe.h"

#include <string.h>

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

uint16_t bl_gw_crc16(const uint8_t *p, size_t n)
{
    unsigned crc = 0xFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0xA001u : crc >> 1;
    }
    return (uint16_t)crc;
}

void bl_gw_rtu_read_req(uint8_t addr, uint16_t reg, uint16_t count, uint8_t out[BL_GW_RTU_REQ])
{
    out[0] = addr;
    out[1] = BL_GW_FC_READ;
    put16(out + 2, reg);
    put16(out + 4, count);
    uint16_t crc = bl_gw_crc16(out, 6);
    out[6] = (uint8_t)crc;
    out[7] = (uint8_t)(crc >> 8);
}

void bl_gw_tcp_read_req(uint16_t tid, uint8_t addr, uint16_t reg, uint16_t count,
                        uint8_t out[BL_GW_TCP_REQ])
{
    put16(out, tid);
    put16(out + 2, 0);
    put16(out + 4, 6);
    out[6] = addr;
    out[7] = BL_GW_FC_READ;
    put16(out + 8, reg);
    put16(out + 10, count);
}

size_t bl_gw_aa55_req(const uint8_t *payload, size_t n, uint8_t *out, size_t cap)
{
    if (cap < 6 || n > cap - 6) return 0;
    static const uint8_t head[4] = {0xAA, 0x55, 0xC0, 0x7F};
    memcpy(out, head, 4);
    memcpy(out + 4, payload, n);
    unsigned sum = 0;
    for (size_t i = 0; i < 4 + n; i++)
        sum += out[i];
    put16(out + 4 + n, sum & 0xFFFFu);
    return n + 6;
}

enum bl_err bl_gw_aa55_parse(const uint8_t *buf, size_t len, uint16_t *type, const uint8_t **data,
                             size_t *dlen, struct bl_diag *why)
{
    if (len < 9) {
        bl_diag_set(why, "AA55 answer shorter than its 9-byte frame", len);
        return BL_ERR_SHORT;
    }
    if (buf[0] != 0xAA || buf[1] != 0x55 || buf[2] != 0x7F || buf[3] != 0xC0) {
        bl_diag_set(why, "AA55 answer does not start with AA 55 7F C0", 0);
        return BL_ERR_INVAL;
    }
    size_t total = (size_t)buf[6] + 9;
    if (len < total) {
        bl_diag_set(why, "AA55 answer shorter than its length byte says", 6);
        return BL_ERR_SHORT;
    }
    unsigned sum = 0;
    for (size_t i = 0; i < total - 2; i++)
        sum += buf[i];
    if ((sum & 0xFFFFu) != be16(buf + total - 2)) {
        bl_diag_set(why, "AA55 answer checksum mismatch", total - 2);
        return BL_ERR_CHECKSUM;
    }
    *type = be16(buf + 4);
    *data = buf + 7;
    *dlen = buf[6];
    return BL_OK;
}

enum bl_err bl_gw_rtu_parse(const uint8_t *buf, size_t len, uint8_t addr, uint16_t count,
                            const uint8_t **data, uint8_t *exc, struct bl_diag *why)
{
    if (len < 5) {
        bl_diag_set(why, "Modbus answer shorter than its header", len);
        return BL_ERR_SHORT;
    }
    if (buf[0] != 0xAA || buf[1] != 0x55) {
        bl_diag_set(why, "Modbus-over-UDP answer does not start with AA 55", 0);
        return BL_ERR_INVAL;
    }
    if (buf[2] != addr) {
        bl_diag_set(why, "Modbus answer from another address", 2);
        return BL_ERR_INVAL;
    }
    if (buf[3] == (BL_GW_FC_READ | 0x80u)) {
        if (bl_gw_crc16(buf + 2, 3) != (uint16_t)(len >= 7 ? buf[5] | buf[6] << 8 : -1)) {
            bl_diag_set(why,
                        len < 7 ? "Modbus exception answer truncated"
                                : "Modbus exception answer CRC mismatch",
                        len < 7 ? len : 5);
            return len < 7 ? BL_ERR_SHORT : BL_ERR_CHECKSUM;
        }
        if (exc != NULL) *exc = buf[4];
        bl_diag_set(why, "Modbus exception answer", 4);
        return BL_ERR_UNSUPPORTED;
    }
    if (buf[3] != BL_GW_FC_READ) {
        bl_diag_set(why, "Modbus answer with another function code", 3);
        return BL_ERR_INVAL;
    }
    size_t n = buf[4];
    if (count != 0 && n != 2u * count) {
        bl_diag_set(why, "Modbus byte count is not twice the registers asked for", 4);
        return BL_ERR_INVAL;
    }
    if (len < 5 + n + 2) {
        bl_diag_set(why, "Modbus answer shorter than its byte count says", len);
        return BL_ERR_SHORT;
    }
    uint16_t crc = bl_gw_crc16(buf + 2, 3 + n);
    if ((buf[5 + n] | buf[6 + n] << 8) != crc) {
        bl_diag_set(why, "Modbus answer CRC mismatch", 5 + n);
        return BL_ERR_CHECKSUM;
    }
    *data = buf + 5;
    return BL_OK;
}

enum bl_err bl_gw_tcp_parse(const uint8_t *buf, size_t len, size_t *used, uint16_t tid,
                            uint8_t addr, uint16_t count, const uint8_t **data, uint8_t *exc,
                            struct bl_diag *why)
{
    *used = 0;
    if (len < 6) return BL_ERR_AGAIN;
    size_t mlen = be16(buf + 4);
    if (be16(buf + 2) != 0 || mlen < 3 || mlen > 253) {
        /* not resynchronisable inside a TCP stream: the caller drops the connection */
        *used = len;
        bl_diag_set(why,
                    be16(buf + 2) != 0 ? "MBAP protocol id is not 0" : "MBAP length out of range",
                    be16(buf + 2) != 0 ? 2 : 4);
        return BL_ERR_INVAL;
    }
    if (len < 6 + mlen) return BL_ERR_AGAIN;
    *used = 6 + mlen;
    if (be16(buf) != tid) {
        bl_diag_set(why, "Modbus/TCP answer to another transaction", 0);
        return BL_ERR_INVAL;
    }
    if (buf[6] != addr) {
        bl_diag_set(why, "Modbus/TCP answer from another unit", 6);
        return BL_ERR_INVAL;
    }
    if (buf[7] == (BL_GW_FC_READ | 0x80u)) {
        if (exc != NULL) *exc = buf[8];
        bl_diag_set(why, "Modbus exception answer", 8);
        return BL_ERR_UNSUPPORTED;
    }
    if (buf[7] != BL_GW_FC_READ) {
        bl_diag_set(why, "Modbus answer with another function code", 7);
        return BL_ERR_INVAL;
    }
    if ((count != 0 && buf[8] != 2u * count) || mlen != 3u + buf[8]) {
        bl_diag_set(why, "Modbus byte count does not match the registers asked for", 8);
        return BL_ERR_INVAL;
    }
    *data = buf + 9;
    return BL_OK;
}

const char *bl_gw_bat_mode_name(unsigned mode)
{
    static const char *const names[] = {"no battery", "standby",       "discharge",
                                        "charge",     "to be charged", "to be discharged"};
    return mode < sizeof names / sizeof names[0] ? names[mode] : "unknown";
}

/* Copy `n` bytes of an ASCII text register run: stop at NUL, non-printable bytes become '?',
 * trailing blanks are cut. */
static void copy_text(char *dst, const uint8_t *src, size_t n)
{
    size_t k = 0;
    for (; k < n && src[k] != 0; k++)
        dst[k] = (src[k] >= 0x20 && src[k] < 0x7F) ? (char)src[k] : '?';
    while (k > 0 && dst[k - 1] == ' ')
        k--;
    dst[k] = '\0';
}

static size_t reg_off(unsigned reg, unsigned base)
{
    return 2u * (reg - base);
}

enum bl_err bl_gw_et_info(const uint8_t *data, size_t n, struct bl_gw_state *st,
                          struct bl_diag *why)
{
    if (n < 2u * BL_GW_ET_INFO_COUNT) {
        bl_diag_set(why, "device-info block shorter than 0x21 registers", n);
        return BL_ERR_SHORT;
    }
    st->rated_power_w = be16(data + 2);
    copy_text(st->serial, data + 6, BL_GW_SERIAL_MAX);
    copy_text(st->model, data + 22, BL_GW_MODEL_MAX);
    st->known |= 1u << BL_GW_INFO;
    return BL_OK;
}

enum bl_err bl_gw_et_runtime(const uint8_t *data, size_t n, struct bl_gw_state *st,
                             struct bl_diag *why)
{
    size_t need = reg_off(BL_GW_ET_REG_BAT_MODE, BL_GW_ET_RUN_REG) + 2;
    if (n < need) {
        bl_diag_set(why, "runtime block does not reach the battery registers", n);
        return BL_ERR_SHORT;
    }
    uint16_t v = be16(data + reg_off(BL_GW_ET_REG_VBAT, BL_GW_ET_RUN_REG));
    int16_t i = (int16_t)be16(data + reg_off(BL_GW_ET_REG_IBAT, BL_GW_ET_RUN_REG));
    st->vbat_dv = v;
    st->ibat_da = i;
    /* W = (V/10) x (I/10); the inverter counts discharge positive, batlink charge positive */
    int32_t p = (int32_t)v * (int32_t)i;
    st->charge_w = -(p >= 0 ? (p + 50) / 100 : (p - 50) / 100);
    st->bat_mode = be16(data + reg_off(BL_GW_ET_REG_BAT_MODE, BL_GW_ET_RUN_REG));
    st->known |= 1u << BL_GW_BATTERY;
    return BL_OK;
}

enum bl_err bl_gw_et_battery(const uint8_t *data, size_t n, struct bl_gw_state *st,
                             struct bl_diag *why)
{
    size_t need = reg_off(BL_GW_ET_REG_SOH, BL_GW_ET_BAT_REG) + 2;
    if (n < need) {
        bl_diag_set(why, "battery block does not reach the SOC/SOH registers", n);
        return BL_ERR_SHORT;
    }
    uint16_t soc = be16(data + reg_off(BL_GW_ET_REG_SOC, BL_GW_ET_BAT_REG));
    uint16_t soh = be16(data + reg_off(BL_GW_ET_REG_SOH, BL_GW_ET_BAT_REG));
    if (soc > 100 || soh > 100) {
        bl_diag_set(why, soc > 100 ? "battery SOC above 100 %" : "battery SOH above 100 %",
                    reg_off(soc > 100 ? BL_GW_ET_REG_SOC : BL_GW_ET_REG_SOH, BL_GW_ET_BAT_REG));
        return BL_ERR_RANGE;
    }
    st->soc_pct = (uint8_t)soc;
    st->soh_pct = (uint8_t)soh;
    st->known |= 1u << BL_GW_SOC;
    return BL_OK;
}

enum bl_err bl_gw_aa55_model(const uint8_t *payload, size_t n, struct bl_gw_state *st,
                             struct bl_diag *why)
{
    if (n < 5 + BL_GW_MODEL_MAX) {
        bl_diag_set(why, "AA55 probe answer too short for the model name", n);
        return BL_ERR_SHORT;
    }
    copy_text(st->model, payload + 5, BL_GW_MODEL_MAX);
    st->known |= 1u << BL_GW_INFO;
    return BL_OK;
}
