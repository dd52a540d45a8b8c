/* SPDX-License-Identifier: MIT */
/* pcap_codec.c: pure libpcap + LINKTYPE_CAN_SOCKETCAN record codec (shared/reference/transports.md
 * section 5.5). Every byte of a file is untrusted: bounded reads, errors name the byte. */
#include <string.h>

#include "batlink/pcap.h"

#define MAGIC_US         0xa1b2c3d4u
#define MAGIC_NS         0xa1b23c4du
#define MAGIC_US_SWAPPED 0xd4c3b2a1u
#define MAGIC_NS_SWAPPED 0x4d3cb2a1u
#define CANFD_FDF        0x04u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

/* Header and record-header fields are in the writer's byte order; the magic tells which. */
static uint32_t rd32(const struct bl_pcap_info *h, const uint8_t *p)
{
    return h->swapped ? be32(p) : le32(p);
}

static uint16_t rd16(const struct bl_pcap_info *h, const uint8_t *p)
{
    return h->swapped ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

enum bl_err bl_pcap_parse_header(const uint8_t *buf, size_t len, struct bl_pcap_info *out,
                                 struct bl_diag *why)
{
    if (len < BL_PCAP_HEADER_LEN) return BL_ERR_AGAIN;
    struct bl_pcap_info h;
    memset(&h, 0, sizeof h);
    /* The magic is read as little-endian; a big-endian writer's magic then reads swapped. */
    switch (le32(buf)) {
    case MAGIC_US:
        break;
    case MAGIC_NS:
        h.nanosecond = true;
        break;
    case MAGIC_US_SWAPPED:
        h.swapped = true;
        break;
    case MAGIC_NS_SWAPPED:
        h.swapped = true;
        h.nanosecond = true;
        break;
    case 0x0a0d0d0au:
        bl_diag_set(why, "pcapng file: only classic pcap is read", 0);
        return BL_ERR_INVAL;
    default:
        bl_diag_set(why, "not a pcap file (unknown magic)", 0);
        return BL_ERR_INVAL;
    }
    h.version_major = rd16(&h, buf + 4);
    h.version_minor = rd16(&h, buf + 6);
    h.snaplen = rd32(&h, buf + 16);
    h.linktype = rd32(&h, buf + 20) & 0x0FFFFFFFu; /* upper bits: FCS length flags */
    if (h.version_major != 2) {
        bl_diag_set(why, "unsupported pcap major version (expected 2)", 4);
        return BL_ERR_INVAL;
    }
    *out = h;
    if (h.linktype != BL_PCAP_LINKTYPE_CAN) {
        bl_diag_set(why, "link type is not CAN_SOCKETCAN (227)", 20);
        return BL_ERR_UNSUPPORTED;
    }
    return BL_OK;
}

enum bl_err bl_pcap_parse_record(const struct bl_pcap_info *h, const uint8_t *buf, size_t len,
                                 size_t *used, struct bl_frame *out, struct bl_diag *why)
{
    *used = 0;
    if (len < BL_PCAP_RECHDR_LEN) return BL_ERR_AGAIN;
    uint32_t sec = rd32(h, buf), frac = rd32(h, buf + 4);
    uint32_t incl = rd32(h, buf + 8), orig = rd32(h, buf + 12);
    uint32_t snap = h->snaplen >= BL_PCAP_CAN_LEN ? h->snaplen : BL_PCAP_MAX_RECORD;
    if (incl > BL_PCAP_MAX_RECORD || incl > snap) {
        bl_diag_set(why, "record length beyond any CAN record or the snaplen", 8);
        return BL_ERR_RANGE;
    }
    size_t total = BL_PCAP_RECHDR_LEN + (size_t)incl;
    if (len < total) return BL_ERR_AGAIN;
    const uint8_t *b = buf + BL_PCAP_RECHDR_LEN;
    enum bl_err e = BL_ERR_INVAL;
    *used = total;
    if (incl > orig) {
        bl_diag_set(why, "captured length above original length", 8);
        return e;
    }
    if (incl < 8) {
        bl_diag_set(why, "record shorter than the 8-byte CAN header", 8);
        return e;
    }
    uint8_t plen = b[4], fdflags = b[5];
    if ((fdflags & CANFD_FDF) || incl == BL_PCAP_CANFD_LEN) {
        bl_diag_set(why, "CAN FD frame (skipped)", BL_PCAP_RECHDR_LEN + 5);
        return BL_ERR_UNSUPPORTED;
    }
    if (plen > 8) {
        bl_diag_set(why, "payload length above 8 in a classic CAN record", BL_PCAP_RECHDR_LEN + 4);
        return e;
    }
    uint32_t canid = be32(b);
    bool rtr = (canid & BL_CAN_RTR_FLAG) && !(canid & BL_CAN_ERR_FLAG);
    if (!rtr && (size_t)plen + 8 > incl) {
        bl_diag_set(why, "payload length beyond the record", BL_PCAP_RECHDR_LEN + 4);
        return e;
    }
    uint32_t frac_max = h->nanosecond ? 999999999u : 999999u;
    if (frac > frac_max) {
        bl_diag_set(why, "fraction of a second out of range", 4);
        return e;
    }
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    if (bl_frame_from_canid(&f, canid) != BL_OK) {
        bl_diag_set(why, "standard id above 0x7FF", BL_PCAP_RECHDR_LEN);
        return e;
    }
    f.len = plen;
    if (!rtr) memcpy(f.data, b + 8, plen);
    f.ts_us = (int64_t)sec * 1000000 + (h->nanosecond ? (int64_t)(frac / 1000u) : (int64_t)frac);
    *out = f;
    return BL_OK;
}

void bl_pcap_format_header(uint8_t out[BL_PCAP_HEADER_LEN])
{
    put_le32(out, MAGIC_US);
    out[4] = 2; /* version 2.4, little-endian u16s */
    out[5] = 0;
    out[6] = 4;
    out[7] = 0;
    put_le32(out + 8, 0);  /* thiszone */
    put_le32(out + 12, 0); /* sigfigs */
    put_le32(out + 16, BL_PCAP_SNAPLEN);
    put_le32(out + 20, BL_PCAP_LINKTYPE_CAN);
}

enum bl_err bl_pcap_format_record(const struct bl_frame *f, uint8_t out[BL_PCAP_FRAME_BYTES])
{
    if (!bl_frame_valid(f) || f->ts_us < 0 || f->ts_us / 1000000 > (int64_t)UINT32_MAX)
        return BL_ERR_INVAL;
    put_le32(out, (uint32_t)(f->ts_us / 1000000));
    put_le32(out + 4, (uint32_t)(f->ts_us % 1000000));
    put_le32(out + 8, BL_PCAP_CAN_LEN);
    put_le32(out + 12, BL_PCAP_CAN_LEN);
    uint8_t *b = out + BL_PCAP_RECHDR_LEN;
    uint32_t canid = bl_frame_canid(f);
    b[0] = (uint8_t)(canid >> 24); /* can_id is big-endian in LINKTYPE_CAN_SOCKETCAN */
    b[1] = (uint8_t)(canid >> 16);
    b[2] = (uint8_t)(canid >> 8);
    b[3] = (uint8_t)canid;
    b[4] = f->len;
    b[5] = 0;
    b[6] = 0;
    b[7] = 0;
    memset(b + 8, 0, 8);
    if (!(f->flags & BL_FRAME_RTR)) memcpy(b + 8, f->data, f->len);
    return BL_OK;
}
