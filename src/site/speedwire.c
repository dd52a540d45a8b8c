/* SPDX-License-Identifier: MIT */
/* speedwire.c: SMA Energy Meter datagram parser and encoder (see speedwire.h). The layout comes
 * from shared/reference/transports.md section 9: big-endian (length, tag) pairs after "SMA\0";
 * inside data tag 0x0010 the protocol id, SUSy-ID, serial, ticker, then OBIS records
 * (channel, index, type, tariff) with a 4- or 8-byte value. */
#include "batlink/speedwire.h"

#include <string.h>

#define TAG_END   0x0000u
#define TAG_DATA  0x0010u
#define TAG_GROUP 0x02A0u

#define CHANNEL_VERSION 0x90u

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static void set_bit(uint32_t *known, unsigned bit)
{
    *known |= 1u << bit;
}

/* One instantaneous (type 4) value of a phase: index relative to the phase base (1..20). */
static void take_phase(struct bl_sma_em *m, unsigned ph, unsigned rel, uint32_t v)
{
    struct bl_sma_em_phase *p = &m->phase[ph];
    unsigned bit;
    switch (rel) {
    case 1:
        p->p_import_dw = v;
        bit = BL_SMA_EM_PH_P_IMPORT;
        break;
    case 2:
        p->p_export_dw = v;
        bit = BL_SMA_EM_PH_P_EXPORT;
        break;
    case 11:
        p->current_ma = v;
        bit = BL_SMA_EM_PH_CURRENT;
        break;
    case 12:
        p->voltage_mv = v;
        bit = BL_SMA_EM_PH_VOLTAGE;
        break;
    case 13:
        p->pf_milli = v;
        bit = BL_SMA_EM_PH_PF;
        break;
    default:
        return; /* reactive / apparent per phase: not kept */
    }
    set_bit(&p->known, bit);
    set_bit(&m->known, BL_SMA_EM_L1 + ph);
}

static void take_u32(struct bl_sma_em *m, unsigned index, uint32_t v)
{
    switch (index) {
    case 1:
        m->p_import_dw = v;
        set_bit(&m->known, BL_SMA_EM_P_IMPORT);
        return;
    case 2:
        m->p_export_dw = v;
        set_bit(&m->known, BL_SMA_EM_P_EXPORT);
        return;
    case 3:
        m->q_import_dvar = v;
        set_bit(&m->known, BL_SMA_EM_Q_IMPORT);
        return;
    case 4:
        m->q_export_dvar = v;
        set_bit(&m->known, BL_SMA_EM_Q_EXPORT);
        return;
    case 9:
        m->s_import_dva = v;
        set_bit(&m->known, BL_SMA_EM_S_IMPORT);
        return;
    case 10:
        m->s_export_dva = v;
        set_bit(&m->known, BL_SMA_EM_S_EXPORT);
        return;
    case 13:
        m->pf_milli = v;
        set_bit(&m->known, BL_SMA_EM_PF);
        return;
    case 14:
        m->freq_mhz = v;
        set_bit(&m->known, BL_SMA_EM_FREQ);
        return;
    default:
        break;
    }
    if (index >= 21 && index <= 80) take_phase(m, (index - 21) / 20, (index - 21) % 20 + 1, v);
}

static void take_u64(struct bl_sma_em *m, unsigned index, uint64_t v)
{
    if (index == 1) {
        m->e_import_ws = v;
        set_bit(&m->known, BL_SMA_EM_E_IMPORT);
    } else if (index == 2) {
        m->e_export_ws = v;
        set_bit(&m->known, BL_SMA_EM_E_EXPORT);
    }
}

/* Walk the OBIS records of the data tag body [p, p + n); `base` = offset of p in the datagram. */
static enum bl_err walk_records(const uint8_t *p, size_t n, size_t base, struct bl_sma_em *m,
                                struct bl_diag *why)
{
    size_t off = 0;
    while (off < n) {
        if (n - off < 4) {
            bl_diag_set(why, "OBIS record header runs past the end of the data tag", base + off);
            return BL_ERR_INVAL;
        }
        unsigned channel = p[off], index = p[off + 1], type = p[off + 2];
        size_t vlen;
        if (channel == CHANNEL_VERSION)
            vlen = 4;
        else if (type == 4)
            vlen = 4;
        else if (type == 8)
            vlen = 8;
        else if (channel == 0 && index == 0 && type == 0 && p[off + 3] == 0)
            return BL_OK; /* end-of-data marker inside the tag */
        else {
            bl_diag_set(why, "OBIS record of unknown type (not 4 or 8)", base + off + 2);
            return BL_ERR_INVAL;
        }
        if (n - off - 4 < vlen) {
            bl_diag_set(why, "OBIS record value runs past the end of the data tag", base + off);
            return BL_ERR_INVAL;
        }
        const uint8_t *v = p + off + 4;
        if (channel == CHANNEL_VERSION) {
            memcpy(m->software, v, 4);
            set_bit(&m->known, BL_SMA_EM_SOFTWARE);
        } else if (channel == 0 && vlen == 4) {
            take_u32(m, index, be32(v));
        } else if (channel == 0) {
            take_u64(m, index, be64(v));
        }
        off += 4 + vlen;
    }
    return BL_OK;
}

enum bl_err bl_sma_em_parse(const uint8_t *buf, size_t len, struct bl_sma_em *out,
                            struct bl_diag *why)
{
    if (len < BL_SMA_EM_MIN_LEN) {
        bl_diag_set(why, "datagram shorter than the smallest energy-meter datagram", len);
        return BL_ERR_SHORT;
    }
    if (len > BL_SMA_EM_MAX_LEN) {
        bl_diag_set(why, "datagram longer than BL_SMA_EM_MAX_LEN", BL_SMA_EM_MAX_LEN);
        return BL_ERR_RANGE;
    }
    if (memcmp(buf, "SMA\0", 4) != 0) {
        bl_diag_set(why, "no \"SMA\\0\" signature", 0);
        return BL_ERR_INVAL;
    }
    struct bl_sma_em m;
    memset(&m, 0, sizeof m);
    bool have_data = false;
    size_t off = 4;
    for (;;) {
        if (len - off < 4) {
            bl_diag_set(why, "tag header runs past the end (no end tag)", off);
            return BL_ERR_INVAL;
        }
        size_t tlen = be16(buf + off);
        unsigned tag = be16(buf + off + 2);
        if (tlen == 0 && tag == TAG_END) break;
        if (tlen > len - off - 4) {
            bl_diag_set(why, "tag length runs past the end of the datagram", off);
            return BL_ERR_INVAL;
        }
        const uint8_t *body = buf + off + 4;
        if (tag == TAG_DATA && !have_data) {
            if (tlen < 2) {
                bl_diag_set(why, "data tag too short for its protocol id", off);
                return BL_ERR_INVAL;
            }
            if (be16(body) != BL_SMA_EM_PROTOCOL) {
                bl_diag_set(why, "protocol id is not 0x6069 (energy meter)", off + 4);
                return BL_ERR_UNSUPPORTED;
            }
            if (tlen < 12) {
                bl_diag_set(why, "data tag too short for SUSy-ID, serial and ticker", off);
                return BL_ERR_INVAL;
            }
            m.susy_id = be16(body + 2);
            m.serial = be32(body + 4);
            m.ticker_ms = be32(body + 8);
            enum bl_err e = walk_records(body + 12, tlen - 12, off + 16, &m, why);
            if (e != BL_OK) return e;
            have_data = true;
        }
        off += 4 + tlen;
        if (off == len) break; /* tolerate a missing end tag at the very end */
    }
    if (!have_data) {
        bl_diag_set(why, "no data tag 0x0010", off);
        return BL_ERR_INVAL;
    }
    *out = m;
    return BL_OK;
}

bool bl_sma_em_grid_power_w(const struct bl_sma_em *m, int32_t *w)
{
    uint32_t need = 1u << BL_SMA_EM_P_IMPORT | 1u << BL_SMA_EM_P_EXPORT;
    if ((m->known & need) != need) return false;
    int64_t dw = (int64_t)m->p_import_dw - (int64_t)m->p_export_dw;
    /* round half away from zero: 0.1 W -> W */
    int64_t r = dw >= 0 ? (dw + 5) / 10 : (dw - 5) / 10;
    *w = (int32_t)r; /* |u32 / 10| always fits */
    return true;
}

static size_t rec4(uint8_t *p, unsigned index, uint32_t v)
{
    p[0] = 0;
    p[1] = (uint8_t)index;
    p[2] = 4;
    p[3] = 0;
    put32(p + 4, v);
    return 8;
}

static size_t rec8(uint8_t *p, unsigned index, uint64_t v)
{
    p[0] = 0;
    p[1] = (uint8_t)index;
    p[2] = 8;
    p[3] = 0;
    put64(p + 4, v);
    return 12;
}

static bool has(uint32_t known, unsigned bit)
{
    return (known >> bit) & 1u;
}

size_t bl_sma_em_encode(const struct bl_sma_em *m, uint8_t *buf, size_t cap)
{
    /* worst case: header 28 + 10 x 8 + 2 x 12 + 3 x 5 x 8 + version 8 + end 4 = 264 */
    uint8_t tmp[300];
    size_t n = 28;
    if (has(m->known, BL_SMA_EM_P_IMPORT)) n += rec4(tmp + n, 1, m->p_import_dw);
    if (has(m->known, BL_SMA_EM_E_IMPORT)) n += rec8(tmp + n, 1, m->e_import_ws);
    if (has(m->known, BL_SMA_EM_P_EXPORT)) n += rec4(tmp + n, 2, m->p_export_dw);
    if (has(m->known, BL_SMA_EM_E_EXPORT)) n += rec8(tmp + n, 2, m->e_export_ws);
    if (has(m->known, BL_SMA_EM_Q_IMPORT)) n += rec4(tmp + n, 3, m->q_import_dvar);
    if (has(m->known, BL_SMA_EM_Q_EXPORT)) n += rec4(tmp + n, 4, m->q_export_dvar);
    if (has(m->known, BL_SMA_EM_S_IMPORT)) n += rec4(tmp + n, 9, m->s_import_dva);
    if (has(m->known, BL_SMA_EM_S_EXPORT)) n += rec4(tmp + n, 10, m->s_export_dva);
    if (has(m->known, BL_SMA_EM_PF)) n += rec4(tmp + n, 13, m->pf_milli);
    if (has(m->known, BL_SMA_EM_FREQ)) n += rec4(tmp + n, 14, m->freq_mhz);
    for (unsigned ph = 0; ph < 3; ph++) {
        const struct bl_sma_em_phase *p = &m->phase[ph];
        unsigned b = 20 + 20 * ph;
        if (has(p->known, BL_SMA_EM_PH_P_IMPORT)) n += rec4(tmp + n, b + 1, p->p_import_dw);
        if (has(p->known, BL_SMA_EM_PH_P_EXPORT)) n += rec4(tmp + n, b + 2, p->p_export_dw);
        if (has(p->known, BL_SMA_EM_PH_CURRENT)) n += rec4(tmp + n, b + 11, p->current_ma);
        if (has(p->known, BL_SMA_EM_PH_VOLTAGE)) n += rec4(tmp + n, b + 12, p->voltage_mv);
        if (has(p->known, BL_SMA_EM_PH_PF)) n += rec4(tmp + n, b + 13, p->pf_milli);
    }
    if (has(m->known, BL_SMA_EM_SOFTWARE)) {
        tmp[n] = CHANNEL_VERSION;
        tmp[n + 1] = 0;
        tmp[n + 2] = 0;
        tmp[n + 3] = 0;
        memcpy(tmp + n + 4, m->software, 4);
        n += 8;
    }
    size_t total = n + 4;
    if (total > cap) return 0;
    memcpy(tmp, "SMA\0", 4);
    put16(tmp + 4, 4);
    put16(tmp + 6, TAG_GROUP);
    put32(tmp + 8, 1);
    put16(tmp + 12, (unsigned)(n - 16));
    put16(tmp + 14, TAG_DATA);
    put16(tmp + 16, BL_SMA_EM_PROTOCOL);
    put16(tmp + 18, m->susy_id);
    put32(tmp + 20, m->serial);
    put32(tmp + 24, m->ticker_ms);
    put32(tmp + n, 0);
    memcpy(buf, tmp, total);
    return total;
}
