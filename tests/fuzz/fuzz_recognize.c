/* SPDX-License-Identifier: MIT */
/* fuzz_recognize.c: libFuzzer target for the recogniser (recognize.h) over every profile of the
 * registry. Asserts its contract, not merely "no crash": the status and the chosen profiles are
 * consistent and from the registry, bytes past a frame's len change nothing, the same input gives
 * the same answer, the explanation is bounded and NUL-terminated for any buffer size, the inverter
 * family is some profile's inverter_name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/profile.h"
#include "batlink/recognize.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "contract violated: %s (%s:%d)\n", #c, __FILE__, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Each record: id selector (2), flags, len, time step (ms), 8 data bytes. */
#define REC 13

static bool in_list(const struct bl_profile *p)
{
    size_t n;
    const struct bl_profile *const *l = bl_profile_list(&n);
    for (size_t i = 0; i < n; i++)
        if (l[i] == p) return true;
    return false;
}

static bool is_inverter_name(const char *s)
{
    size_t n;
    const struct bl_profile *const *l = bl_profile_list(&n);
    for (size_t i = 0; i < n; i++)
        if (l[i]->inverter_name == s) return true;
    return false;
}

static void check_state(const struct bl_recog *r, bool explain)
{
    switch (r->status) {
    case BL_RECOG_SURE:
        CHECK(r->profile != NULL && in_list(r->profile));
        CHECK(bl_recog_profile(r) == r->profile);
        break;
    case BL_RECOG_MIXED:
        CHECK(r->profile != NULL && r->other != NULL && r->profile != r->other);
        CHECK(in_list(r->profile) && in_list(r->other));
        CHECK(bl_recog_profile(r) == NULL);
        break;
    case BL_RECOG_UNKNOWN:
        CHECK(bl_recog_profile(r) == NULL);
        break;
    default:
        CHECK(!"bad status");
    }
    CHECK(r->inverter == NULL || is_inverter_name(r->inverter));
    CHECK(!bl_recog_mismatch(r) || (r->status == BL_RECOG_SURE && r->inverter != NULL));
    if (!explain) return;
    char big[4096];
    size_t k = bl_recog_explain(r, big, sizeof big);
    CHECK(k < sizeof big && strlen(big) == k);
    for (size_t n = 0; n < 48; n++) {
        char small[48 + 1];
        memset(small, 'X', sizeof small);
        (void)bl_recog_explain(r, small, n);
        CHECK(small[n] == 'X'); /* nothing written past n */
        if (n > 0) CHECK(memchr(small, '\0', n) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t np;
    const struct bl_profile *const *list = bl_profile_list(&np);
    static struct bl_recog a, b, c;
    bl_recog_init(&a, NULL, 0);
    bl_recog_init(&b, NULL, 0);
    bl_recog_init(&c, NULL, 0);
    int64_t t = 0;
    for (size_t off = 0; off + REC <= size; off += REC) {
        const uint8_t *q = data + off;
        struct bl_frame f;
        memset(&f, 0, sizeof f);
        /* mostly ids of the registry's messages (with an address nibble), sometimes anything */
        unsigned sel = (unsigned)q[0] | (unsigned)q[1] << 8;
        const struct bl_profile *p = list[sel % np];
        if ((sel >> 12) != 0xF && p->n_msgs > 0) {
            const struct bl_msg_desc *m = &p->msgs[(sel >> 4) % p->n_msgs];
            f.id = m->id | ((m->flags & BL_MSG_ADDR) ? (sel & 0xFu) : 0u);
            f.flags = m->ext ? BL_FRAME_EXT : 0;
        } else {
            f.id = sel & 0x7FF;
        }
        f.flags |= q[2] & (BL_FRAME_EXT | BL_FRAME_RTR | BL_FRAME_ERR);
        f.len = q[3] % 10; /* also len > 8: ignored */
        t += q[4];
        f.ts_us = t * 1000;
        memcpy(f.data, q + 5, 8);
        bool ca = bl_recog_feed(&a, &f);
        bool cc = bl_recog_feed(&c, &f);
        CHECK(ca == cc); /* deterministic */
        for (unsigned i = f.len; i < 8; i++)
            f.data[i] ^= 0xA5; /* bytes past len must not matter */
        bool cb = bl_recog_feed(&b, &f);
        CHECK(ca == cb);
        CHECK(a.status == b.status && a.profile == b.profile && a.other == b.other);
        CHECK(a.inverter == b.inverter && a.changes == b.changes);
        check_state(&a, false);
    }
    check_state(&a, true);
    (void)bl_recog_finish(&a);
    check_state(&a, true);
    return 0;
}
