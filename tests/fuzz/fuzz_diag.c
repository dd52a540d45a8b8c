/* SPDX-License-Identifier: MIT */
/* fuzz_diag.c: random frame streams into the diagnose analyser (src/diag/), asserting its
 * invariants after finish: every frame counted exactly once, bounded tables, findings well
 * formed (known code, layer 1-5, NUL-terminated text) and ordered, verdict = worst severity,
 * median <= p95 <= max per id. Each 16-byte record is one frame: s16 time step (ms, may go
 * backwards), u32 can id, flags, len, 8 data bytes. The tail also drives the pinout lookup. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/diag.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const codes[] = {
    "no_frames",
    "bitrate_mismatch",
    "error_frames",
    "unknown_protocol",
    "missing_message",
    "irregular_period",
    "link_gap",
    "no_inverter_heartbeat",
    "late_inverter_heartbeat",
    "conflicting_senders",
    "implausible_value",
    "short_dlc",
    "battery_protection",
    "battery_alarm",
    "charge_blocked",
    "discharge_blocked",
    "force_charge_requested",
    "full_charge_requested",
    "interference_suspected",
    "short_capture",
    "bad_input",
    /* cause findings (src/diag/causes.c) */
    "inverter_battery_type",
    "termination",
    "cable_or_emi",
    "battery_not_master",
    "scaling_error",
    "cause_undecided",
    /* the inverter's compliance (src/diag/compliance.c) and the recogniser */
    "inverter_exceeds_limit",
    "inverter_exceeds_charge_limit",
    "inverter_exceeds_discharge_limit",
    "inverter_charges_when_disabled",
    "inverter_discharges_when_disabled",
    "inverter_ignores_charge_request",
    "inverter_keepalive_late",
    "inverter_keepalive_lost",
    "inverter_keepalive_missing",
    "profile_mismatch",
};

static int known_code(const char *c)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i], c) == 0) return 1;
    return 0;
}

static struct bl_analysis *a;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (a == NULL) a = malloc(sizeof *a);
    CHECK(a != NULL);
    bl_analysis_init(a, NULL);
    int64_t ts = 1700000000000000LL;
    size_t n = size / 16;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = data + 16 * i;
        int16_t step = (int16_t)(r[0] | r[1] << 8);
        ts += (int64_t)step * 1000;
        struct bl_frame f;
        f.ts_us = ts;
        f.id = (uint32_t)r[2] | (uint32_t)r[3] << 8 | (uint32_t)r[4] << 16 | (uint32_t)r[5] << 24;
        f.flags = r[6];
        f.len = r[7];
        memcpy(f.data, r + 8, 8);
        bl_analysis_frame(a, &f);
    }
    bl_analysis_finish(a, size & 1 ? ts + 5000000 : 0);
    CHECK(a->frames == n);
    CHECK(a->data_frames + a->error_frames + a->rtr_frames + a->invalid_frames == n);
    CHECK(a->nids <= BL_ANALYSIS_MAX_IDS);
    CHECK(a->nfindings <= BL_ANALYSIS_MAX_FINDINGS);
    uint64_t per_id = 0;
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_analysis_id *s = &a->ids[i];
        CHECK(s->frames > 0);
        CHECK(s->period.n == s->frames - 1 || s->period.n < s->frames);
        per_id += s->frames;
        int64_t med = bl_period_quantile(&s->period, 0.5);
        int64_t p95 = bl_period_quantile(&s->period, 0.95);
        CHECK(med <= p95 && p95 <= s->period.max_us);
        CHECK(s->period.n == 0 || s->period.min_us <= med);
        CHECK(bl_period_jitter_us(&s->period) >= 0.0);
    }
    CHECK(per_id + a->other_id_frames == a->data_frames);
    enum bl_severity worst = BL_SEV_INFO;
    for (unsigned i = 0; i < a->nfindings; i++) {
        const struct bl_finding *f = &a->findings[i];
        CHECK(f->code != NULL && known_code(f->code));
        CHECK(f->layer >= 1 && f->layer <= 5);
        CHECK(f->severity <= BL_SEV_FAIL);
        CHECK(memchr(f->message, 0, sizeof f->message) != NULL && f->message[0] != '\0');
        CHECK(memchr(f->evidence, 0, sizeof f->evidence) != NULL);
        CHECK(f->next_step != NULL && f->next_step[0] != '\0');
        CHECK(f->cause ? f->likelihood >= 0.0 && f->likelihood <= 1.0 : f->likelihood == 0.0);
        if (f->severity > worst) worst = f->severity;
        if (i > 0) {
            const struct bl_finding *p = &a->findings[i - 1];
            /* cause findings first, most likely first; then the symptoms by layer, worst first */
            CHECK(p->cause || !f->cause);
            if (f->cause) CHECK(p->likelihood >= f->likelihood);
            if (!p->cause && !f->cause)
                CHECK(p->layer < f->layer || (p->layer == f->layer && p->severity >= f->severity));
        }
        for (unsigned j = 0; j < i; j++) /* each code at most once, except missing_message */
            CHECK(strcmp(a->findings[j].code, f->code) != 0 ||
                  strcmp(f->code, "missing_message") == 0);
    }
    CHECK(a->verdict == worst);
    CHECK(memchr(a->profile_evidence, 0, sizeof a->profile_evidence) != NULL);
    {
        /* the profile is one of the registry's (or none) */
        size_t np = 0;
        const struct bl_profile *const *list = bl_profile_list(&np);
        bool in = a->profile == NULL;
        for (size_t i = 0; i < np; i++)
            in = in || list[i] == a->profile;
        CHECK(in);
        CHECK(bl_analysis_profile_name(a) != NULL);
    }
    if (a->data_frames == 0) CHECK(bl_analysis_get(a, "no_frames") != NULL);

    /* the tail as a device name */
    char name[64];
    size_t k = size % 16 < sizeof name ? size % 16 : sizeof name - 1;
    memcpy(name, data + (size - k), k);
    name[k] = '\0';
    const struct bl_pinout *close[5];
    size_t m = bl_pinout_close(name, close, 5);
    CHECK(m <= 5);
    const struct bl_pinout *d = bl_pinout_find(name);
    if (d != NULL) {
        struct bl_cable c;
        bl_pinout_cable(d, d, &c);
        CHECK(!c.known || c.straight);
        CHECK(c.nwarn <= 6);
    }
    return 0;
}
