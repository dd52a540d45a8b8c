/* SPDX-License-Identifier: MIT */
/* recorder_pcap.c: the `.pcap` format of the recorder: classic libpcap, LINKTYPE_CAN_SOCKETCAN,
 * 16-byte classic CAN records (bytes from the pure codec in pcap_codec.c). */
#include "batlink/pcap.h"
#include "recorder_ops.h"

static enum bl_err pcap_begin(struct bl_recorder *r)
{
    uint8_t hdr[BL_PCAP_HEADER_LEN];
    bl_pcap_format_header(hdr);
    return io__rec_put(r, hdr, sizeof hdr);
}

static enum bl_err pcap_frame(struct bl_recorder *r, const struct bl_frame *f)
{
    uint8_t rec[BL_PCAP_FRAME_BYTES];
    enum bl_err e = bl_pcap_format_record(f, rec);
    if (e != BL_OK) return e;
    return io__rec_put(r, rec, sizeof rec);
}

const struct io__rec_ops io__rec_pcap_ops = {".pcap", "pcap (LINKTYPE_CAN_SOCKETCAN)", pcap_begin,
                                             pcap_frame, NULL};
