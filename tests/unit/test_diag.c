/* SPDX-License-Identifier: MIT */
/* test_diag.c: the streaming analyser of src/diag/: period histogram (median, p95, jitter),
 * bounded per-id memory, profile identification on real frames (shared/data/captures), and
 * findings on small hand-made frame streams. Expected values are worked out by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "batlink/diag.h"
#include "batlink/profile.h"

#define T0 1700000000000000LL

static struct bl_analysis *new_analysis(void)
{
    struct bl_analysis *a = malloc(sizeof *a);
    assert_non_null(a);
    bl_analysis_init(a, NULL);
    return a;
}

static void feed(struct bl_analysis *a, int64_t ts, uint32_t id, const char *hex)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.ts_us = ts;
    f.id = id;
    if (id > 0x7FF) f.flags = BL_FRAME_EXT;
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        f.data[i] = (uint8_t)v;
    }
    f.len = (uint8_t)n;
    bl_analysis_frame(a, &f);
}

static void feed_err(struct bl_analysis *a, int64_t ts, uint32_t cls, uint8_t d1)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.ts_us = ts;
    f.id = cls;
    f.flags = BL_FRAME_ERR;
    f.len = 8;
    f.data[1] = d1;
    bl_analysis_frame(a, &f);
}

static void test_period_exact_median(void **state)
{
    (void)state;
    struct bl_period_hist *h = calloc(1, sizeof *h);
    for (int i = 0; i < 19; i++)
        bl_period_add(h, 100000);
    bl_period_add(h, 5000000);
    /* 20 periods: 19 x 0.1 s and one 5 s gap; rank(0.5) = round(9.5) = 10 -> 0.1 s,
     * rank(0.95) = round(18.05) = 18 -> still 0.1 s; the maximum is the gap */
    assert_int_equal(bl_period_quantile(h, 0.5), 100000);
    assert_int_equal(bl_period_quantile(h, 0.95), 100000);
    assert_int_equal(bl_period_quantile(h, 1.0), 5000000);
    assert_int_equal(h->max_us, 5000000);
    assert_int_equal(h->min_us, 100000);
    assert_int_equal(h->n, 20);
    free(h);
}

static void test_period_jitter(void **state)
{
    (void)state;
    struct bl_period_hist *h = calloc(1, sizeof *h);
    assert_int_equal(bl_period_quantile(h, 0.5), 0); /* empty */
    bl_period_add(h, 999000);
    bl_period_add(h, 1001000);
    /* mean 1 000 000; sample std dev = sqrt((1000^2 + 1000^2) / 1) = 1414.2 us */
    assert_true(bl_period_jitter_us(h) > 1414.0 && bl_period_jitter_us(h) < 1414.5);
    /* both fall in one 1/16-octave bin: the median is their mean, exactly 1 s */
    assert_int_equal(bl_period_quantile(h, 0.5), 1000000);
    bl_period_add(h, -5); /* ignored */
    assert_int_equal(h->n, 2);
    free(h);
}

/* Pages of [p, p + n) the process holds in memory (mincore: anonymous pages count once
 * written). */
static size_t resident_pages(const void *p, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + pg - 1) / pg * pg, hi = ((uintptr_t)p + n) / pg * pg;
    if (hi <= lo) return 0;
    size_t k = (hi - lo) / pg, r = 0;
    unsigned char *v = malloc(k);
    assert_non_null(v);
    assert_int_equal(mincore((void *)lo, hi - lo, v), 0);
    for (size_t i = 0; i < k; i++)
        r += v[i] & 1u;
    free(v);
    return r;
}

/* A small bus uses a few of the 64 id slots (~5.5 kB each): init, frames and a copy for a
 * snapshot (bl_analysis_copy) leave the unused ones untouched, so the monitor's live diagnose
 * and `diagnose` keep ~350 kB out of their resident memory; the copy finishes like the
 * original. */
static void test_unused_ids_untouched(void **state)
{
    (void)state;
    size_t sz = sizeof(struct bl_analysis);
    struct bl_analysis *a =
        mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct bl_analysis *c =
        mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED && c != MAP_FAILED);
    bl_analysis_init(a, NULL);
    for (int r = 0; r < 20; r++) {
        feed(a, T0 + r * 1000000LL, 0x351, "1402780AE8030000");
        feed(a, T0 + r * 1000000LL + 1000, 0x355, "5A006400");
    }
    assert_int_equal(a->nids, 2);
    const char *unused = (const char *)&a->ids[a->nids];
    size_t unused_n = sizeof a->ids - sizeof a->ids[0] * a->nids;
    assert_int_equal(resident_pages(unused, unused_n), 0);
    bl_analysis_copy(c, a);
    assert_int_equal(resident_pages(&c->ids[c->nids], unused_n), 0);
    bl_analysis_finish(a, T0 + 20 * 1000000LL);
    bl_analysis_finish(c, T0 + 20 * 1000000LL);
    assert_int_equal(c->nids, a->nids);
    assert_int_equal(c->frames, a->frames);
    assert_int_equal(c->nfindings, a->nfindings);
    for (unsigned i = 0; i < a->nfindings; i++)
        assert_string_equal(c->findings[i].code, a->findings[i].code);
    munmap(a, sz);
    munmap(c, sz);
}

static void test_bounded_ids(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    for (uint32_t r = 0; r < 3; r++) /* a foreign protocol: 200 ids, each repeated */
        for (uint32_t i = 0; i < 200; i++)
            feed(a, T0 + (int64_t)(r * 200 + i) * 1000, 0x400 + i, "00");
    assert_int_equal(a->nids, BL_ANALYSIS_MAX_IDS);
    assert_int_equal(a->other_id_frames, 3 * (200 - 64));
    assert_int_equal(a->frames, 600);
    bl_analysis_finish(a, 0);
    assert_non_null(bl_analysis_get(a, "unknown_protocol"));
    assert_null(bl_analysis_get(a, "bitrate_mismatch"));
    free(a);
    /* random ids seen once each: garbage of a wrong bit rate */
    a = new_analysis();
    for (uint32_t i = 0; i < 20; i++)
        feed(a, T0 + (int64_t)i * 1000, 0x400 + i * 7, "0102");
    bl_analysis_finish(a, 0);
    assert_non_null(bl_analysis_get(a, "bitrate_mismatch"));
    assert_null(bl_analysis_get(a, "unknown_protocol"));
    free(a);
}

/* The V1.2 burst of pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log, 1 ms apart. */
static void feed_v12(struct bl_analysis *a, int64_t t)
{
    feed(a, t + 0, 0x351, "1402C012C012C201");
    feed(a, t + 1000, 0x355, "58005E00");
    feed(a, t + 2000, 0x356, "7A13F2FE6B01");
    feed(a, t + 3000, 0x359, "0000000006504E");
    feed(a, t + 4000, 0x35C, "C000");
    feed(a, t + 5000, 0x35E, "50594C4F4E202020");
}

static void test_ident_v12_single_burst(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    feed_v12(a, T0);
    bl_analysis_finish(a, 0);
    /* the recogniser's choice and its line, as dump prints it */
    assert_ptr_equal(a->profile, &bl_profile_pylontech);
    assert_string_equal(bl_analysis_profile_name(a), "pylontech");
    assert_non_null(strstr(a->profile_evidence, "0x359"));
    assert_int_equal(strncmp(a->profile_evidence, "pylontech (", 11), 0);
    assert_int_equal(a->verdict, BL_SEV_INFO);
    assert_non_null(bl_analysis_get(a, "short_capture")); /* 5 ms: timing not judged */
    assert_null(bl_analysis_get(a, "no_inverter_heartbeat"));
    /* decoded state: 0x356 7A 13 = 4986 -> 49.86 V; 0x355 58 00 = 88 % */
    assert_true(a->range[BL_F_VOLTAGE].seen);
    assert_int_equal(a->range[BL_F_VOLTAGE].last, 49860);
    assert_int_equal(a->range[BL_F_SOC].last, 8800);
    free(a);
}

/* A Pylontech battery and the keep-alive of another inverter family of the registry (e.g. a
 * Victron GX's 0x307): diagnose says the two do not belong together (layer 1), from the same
 * recogniser as dump and monitor. Skipped while the registry has only one family. */
static void test_profile_mismatch(void **state)
{
    (void)state;
    size_t np;
    const struct bl_profile *const *list = bl_profile_list(&np);
    const struct bl_msg_desc *ka = NULL;
    const struct bl_profile *kp = NULL;
    for (size_t i = 0; i < np && ka == NULL; i++) {
        const struct bl_msg_desc *k = bl_profile_keepalive(list[i]);
        if (k != NULL && bl_profile_msg(&bl_profile_pylontech, k->id, k->ext) == NULL) {
            ka = k;
            kp = list[i];
        }
    }
    struct bl_analysis *a = new_analysis();
    feed_v12(a, T0);
    feed(a, T0 + 6000, 0x305, "0000000000000000");
    bl_analysis_finish(a, 0);
    assert_null(bl_analysis_get(a, "profile_mismatch")); /* its own family: fine */
    free(a);
    if (ka == NULL) skip();
    a = new_analysis();
    feed_v12(a, T0);
    struct bl_frame f = {.ts_us = T0 + 6000, .id = ka->id, .len = ka->dlc};
    if (ka->ext) f.flags = BL_FRAME_EXT;
    bl_analysis_frame(a, &f);
    bl_analysis_finish(a, 0);
    const struct bl_finding *m = bl_analysis_get(a, "profile_mismatch");
    assert_non_null(m);
    assert_int_equal(m->layer, 1);
    assert_non_null(strstr(m->evidence, "pylontech"));
    assert_non_null(strstr(m->evidence, kp->inverter_name));
    free(a);
}

static void test_ident_v13(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    /* pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.3.log, repeated each second for 10 s */
    for (int s = 0; s < 10; s++) {
        int64_t t = T0 + (int64_t)s * 1000000;
        feed(a, t, 0x351, "1002C012C012C201");
        feed(a, t + 1000, 0x355, "540060000000");
        feed(a, t + 2000, 0x356, "7B13E9FE6B01");
        feed(a, t + 3000, 0x35A, "0000000000000000");
        feed(a, t + 4000, 0x35E, "50594C4F4E202020");
        feed(a, t + 5000, 0x35F, "4C4901033C02AA00");
        feed(a, t + 200000, 0x305, "0000000000000000");
    }
    bl_analysis_finish(a, 0);
    assert_ptr_equal(a->profile, &bl_profile_pylontech_v13);
    assert_null(bl_analysis_get(a, "missing_message")); /* no 0x359/0x35C by design */
    assert_null(bl_analysis_get(a, "irregular_period"));
    assert_int_equal(a->verdict, BL_SEV_INFO);
    free(a);
}

static void test_missing_and_heartbeat(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    for (int s = 0; s < 10; s++) {
        int64_t t = T0 + (int64_t)s * 1000000;
        feed(a, t + 1000, 0x355, "58005E00");
        feed(a, t + 2000, 0x356, "7A13F2FE6B01");
        feed(a, t + 3000, 0x359, "0000000006504E");
        feed(a, t + 4000, 0x35C, "C000");
        feed(a, t + 5000, 0x35E, "50594C4F4E202020");
    }
    bl_analysis_finish(a, 0);
    const struct bl_finding *f = bl_analysis_get(a, "missing_message");
    assert_non_null(f);
    assert_int_equal(f->severity, BL_SEV_FAIL);
    assert_int_equal(f->layer, 5);
    assert_string_equal(f->evidence, "never seen: 0x351");
    f = bl_analysis_get(a, "no_inverter_heartbeat");
    assert_non_null(f);
    assert_int_equal(f->layer, 1);
    /* Pylon LV: some inverters send no 0x305 (can-profiles.md 1.8): information */
    assert_int_equal(f->severity, BL_SEV_INFO);
    assert_int_equal(a->verdict, BL_SEV_FAIL);
    /* the cause first (a healthy battery without keep-alive: the inverter's battery type), then
     * the symptoms by layer: the layer-1 heartbeat finding before the layer-5 one */
    assert_string_equal(a->findings[0].code, "inverter_battery_type");
    assert_true(a->findings[0].cause);
    unsigned k = 0;
    while (k < a->nfindings && a->findings[k].cause)
        k++;
    assert_string_equal(a->findings[k].code, "no_inverter_heartbeat");
    free(a);
}

/* A BYD HVS inverter that asks and no battery that answers (the GoodWe 0x151 of
 * tests/data/goodwe_gw6000eh_..., 40 s): one missing_message finding, "no battery reply" -- not a
 * second one calling a silent battery's set "incomplete" once the byd-hvs table is registered. */
static void test_polling_inverter_alone(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    for (int s = 0; s < 40; s++)
        feed(a, T0 + (int64_t)s * 1000000, 0x151, "00474F4F44574500");
    bl_analysis_finish(a, 0);
    /* no battery frame: the battery's profile is unknown (as dump says), the inverter's family
     * is BYD's poll */
    assert_null(a->profile);
    assert_ptr_equal(a->recog.inverter_of, &bl_profile_byd_hvs);
    assert_string_equal(bl_analysis_inverter(a), bl_profile_byd_hvs.inverter_name);
    unsigned missing = 0;
    for (unsigned i = 0; i < a->nfindings; i++)
        if (strcmp(a->findings[i].code, "missing_message") == 0) {
            missing++;
            assert_non_null(strstr(a->findings[i].message, "no battery reply"));
        }
    assert_int_equal(missing, 1);
    free(a);
}

static void test_scaling_10x(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    /* discover_lynx2_serial_can_candump__ai-republic_bms-to-inverter_issue107.log: CVL 0x022E =
     * 55.8 V, DVL 0x01B0 = 43.2 V; 0x356 0x020A = 522 -> 5.22 V at 0.01 V: 10x low */
    feed(a, T0, 0x351, "2E02040B040BB001");
    feed(a, T0 + 2000, 0x356, "0A0211FFBE000000");
    bl_analysis_finish(a, 0);
    assert_int_equal(a->implausible_scale, 1);
    const struct bl_finding *f = bl_analysis_get(a, "implausible_value");
    assert_non_null(f);
    assert_int_equal(f->severity, BL_SEV_WARN);
    assert_non_null(strstr(f->evidence, "5.22 V"));
    free(a);
}

/* A finding about a field names the message of the battery's own profile that carries it, not
 * the Pylon LV id: Pylon HV's force-charge request is bit 3 of 0x4250 "status" (pylontech_hv.c),
 * where the Pylon set has it in 0x35C. */
static void test_finding_names_profile_message(void **state)
{
    (void)state;
    struct bl_analysis *a = malloc(sizeof *a);
    assert_non_null(a);
    struct bl_analysis_opts o = {.force = &bl_profile_pylontech_hv};
    bl_analysis_init(a, &o);
    feed(a, T0, 0x4250, "0800000000000000"); /* status: force_charge_1 */
    bl_analysis_finish(a, 0);
    const struct bl_finding *f = bl_analysis_get(a, "force_charge_requested");
    char ev[BL_FINDING_TEXT];
    snprintf(ev, sizeof ev, "%s", f != NULL ? f->evidence : "(no finding)");
    free(a);
    /* 29-bit ids are written with 8 digits, as everywhere in diagnose */
    if (strstr(ev, "0x35C") != NULL || strstr(ev, "0x00004250 status.force_charge_1") == NULL)
        fail_msg("evidence names the wrong message: %s", ev);

    /* the Pylon set still names 0x35C, with its row */
    a = new_analysis();
    o.force = &bl_profile_pylontech;
    bl_analysis_init(a, &o);
    feed(a, T0, 0x35C, "2000"); /* requests: force_charge_1 (bit 5) */
    bl_analysis_finish(a, 0);
    f = bl_analysis_get(a, "force_charge_requested");
    snprintf(ev, sizeof ev, "%s", f != NULL ? f->evidence : "(no finding)");
    free(a);
    if (strstr(ev, "0x35C requests.force_charge_1") == NULL)
        fail_msg("Pylon set: evidence without 0x35C requests.force_charge_1: %s", ev);
}

/* A SOC of 200 % is implausible in every profile that carries a SOC, whatever its id (0x355 in
 * the Pylon set, 0x150 BYD, 0x313 Growatt, 0x4210 Pylon HV): judged on the decoded field. */
static void test_implausible_soc_every_profile(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    bl_battery_set(&st, BL_F_VOLTAGE, 52000, 0);
    bl_battery_set(&st, BL_F_CURRENT, -5000, 0);
    bl_battery_set(&st, BL_F_CHARGE_VOLTAGE_LIMIT, 55200, 0);
    bl_battery_set(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT, 47000, 0);
    bl_battery_set(&st, BL_F_CHARGE_CURRENT_LIMIT, 50000, 0);
    bl_battery_set(&st, BL_F_DISCHARGE_CURRENT_LIMIT, 50000, 0);
    bl_battery_set(&st, BL_F_SOC, 20000, 0);
    bl_battery_set(&st, BL_F_SOH, 9900, 0);
    bl_battery_set(&st, BL_F_TEMPERATURE, 250, 0);
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++) {
        struct bl_analysis *a = new_analysis();
        struct bl_frame out[32];
        for (int s = 0; s < 3; s++) {
            size_t n = bl_profile_encode_sim(list[i], &st, out, 32);
            for (size_t j = 0; j < n; j++) {
                out[j].ts_us = T0 + (int64_t)s * 1000000 + 1000 * (int64_t)j;
                bl_analysis_frame(a, &out[j]);
            }
        }
        bl_analysis_finish(a, 0);
        if (a->range[BL_F_SOC].seen && a->range[BL_F_SOC].max > 10000 && a->implausible_soc == 0)
            fail_msg("%s: SOC %d (0.01 %%) not implausible", list[i]->name,
                     (int)a->range[BL_F_SOC].max);
        free(a);
    }
}

static void test_error_frames(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    feed_v12(a, T0);
    feed_err(a, T0 + 10000, BL_CAN_ERR_BUSOFF, 0);
    feed_err(a, T0 + 20000, BL_CAN_ERR_CRTL, BL_CAN_ERR_CRTL_RX_PASSIVE);
    bl_analysis_finish(a, 0);
    assert_int_equal(a->error_frames, 2);
    assert_int_equal(a->err_bus_off, 1);
    assert_int_equal(a->err_passive, 1);
    const struct bl_finding *f = bl_analysis_get(a, "error_frames");
    assert_non_null(f);
    assert_int_equal(f->severity, BL_SEV_FAIL); /* bus-off */
    assert_int_equal(f->layer, 2);
    assert_null(bl_analysis_get(a, "bitrate_mismatch")); /* 2 errors vs 6 good frames */
    free(a);
}

static void test_only_errors(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    for (int i = 0; i < 12; i++)
        feed_err(a, T0 + i * 100000, BL_CAN_ERR_PROT | BL_CAN_ERR_BUSERROR, 0);
    bl_analysis_finish(a, 0);
    assert_non_null(bl_analysis_get(a, "no_frames"));
    assert_non_null(bl_analysis_get(a, "bitrate_mismatch"));
    assert_null(bl_analysis_get(a, "error_frames")); /* explained by the bit rate */
    assert_int_equal(a->verdict, BL_SEV_FAIL);
    free(a);
}

static void test_time_backwards(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    feed_v12(a, T0 + 1000000);
    feed_v12(a, T0); /* a second file glued on, older */
    bl_analysis_finish(a, 0);
    assert_int_equal(a->time_backwards, 6);
    assert_non_null(bl_analysis_get(a, "bad_input"));
    free(a);
}

/* issue 9 item 7: a bit-rate scan that found the battery at 250 kbit/s is bitrate_mismatch (fail,
 * layer 1) against the profile's 500 kbit/s; at 500 kbit/s, or Victron at its GX's 250 kbit/s
 * VE.Can profile, it is not. */
static void test_scan_bitrate(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    feed_v12(a, T0);
    a->scan_bps = 250000;
    bl_analysis_finish(a, 0);
    const struct bl_finding *f = bl_analysis_get(a, "bitrate_mismatch");
    assert_non_null(f);
    assert_int_equal(f->severity, BL_SEV_FAIL);
    assert_int_equal(f->layer, 1);
    assert_non_null(strstr(f->evidence, "250 kbit/s"));
    assert_non_null(strstr(f->evidence, "500 kbit/s"));
    assert_string_equal(bl_verdict_name(a->verdict), "fail");
    free(a);
    a = new_analysis();
    feed_v12(a, T0);
    a->scan_bps = 500000;
    bl_analysis_finish(a, 0);
    assert_null(bl_analysis_get(a, "bitrate_mismatch"));
    free(a);
    /* the rates come from the profile table: 500 kbit/s everywhere, Victron's GX also 250 */
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(list[i]->bitrate, 500000);
        assert_int_equal(list[i]->bitrate_alt, list[i] == &bl_profile_victron ? 250000 : 0);
    }
}

/* ---- causes (issue 13 item 1): the top finding names the cause; a look-alike names another */

/* `secs` seconds of V1.2 bursts, with the keep-alive 0x305 when `ka`, `errs_per_s` error frames
 * each second (error-passive when `passive`), current `amps(s)` in 0x356. */
static void feed_call(struct bl_analysis *a, int secs, bool ka, int errs_per_s, bool passive,
                      int (*amps)(int))
{
    for (int s = 0; s < secs; s++) {
        int64_t t = T0 + (int64_t)s * 1000000;
        int ia = amps != NULL ? amps(s) : -27;
        char c356[16];
        int16_t deci = (int16_t)(ia * 10);
        snprintf(c356, sizeof c356, "7A13%02X%02X6B01", (unsigned)(deci & 0xFF),
                 (unsigned)((deci >> 8) & 0xFF));
        feed(a, t + 0, 0x351, "1402C012C012C201");
        feed(a, t + 1000, 0x355, "58005E00");
        feed(a, t + 2000, 0x356, c356);
        feed(a, t + 3000, 0x359, "0000000006504E");
        feed(a, t + 4000, 0x35C, "C000");
        feed(a, t + 5000, 0x35E, "50594C4F4E202020");
        if (ka) feed(a, t + 200000, 0x305, "0000000000000000");
        int n = errs_per_s >= 0 ? errs_per_s : ia / 10; /* < 0: errors grow with current */
        for (int e = 0; e < n; e++)
            feed_err(a, t + 300000 + e * 1000, passive ? BL_CAN_ERR_CRTL : BL_CAN_ERR_PROT,
                     passive ? BL_CAN_ERR_CRTL_RX_PASSIVE : 0);
    }
}

static int amps_ramp(int s)
{
    return (s % 60) * 2; /* 0 .. 118 A charging, a minute-long ramp */
}

static enum bl_cause top(struct bl_analysis *a)
{
    bl_analysis_finish(a, 0);
    enum bl_cause c = bl_analysis_top_cause(a);
    if (c != BL_CAUSE__COUNT) {
        assert_true(a->findings[0].cause);
        assert_string_equal(a->findings[0].code, bl_cause_code(c));
        assert_true(a->findings[0].likelihood > 0.0 && a->findings[0].likelihood <= 1.0);
    }
    return c;
}

static void test_causes(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    feed_call(a, 60, true, 0, false, NULL); /* healthy: no cause */
    assert_int_equal(top(a), BL_CAUSE__COUNT);
    assert_false(a->causes_judged);
    free(a);
    /* termination: error-passive at any (constant) current, keep-alive present */
    a = new_analysis();
    feed_call(a, 60, true, 3, true, NULL);
    assert_int_equal(top(a), BL_CAUSE_TERMINATION);
    assert_int_equal(a->findings[0].layer, 2);
    assert_non_null(strstr(a->findings[0].evidence, "prior 31/100"));
    free(a);
    /* look-alike: errors rising with current = cable or EMI, layer 4 */
    a = new_analysis();
    feed_call(a, 300, true, -1, false, amps_ramp);
    assert_int_equal(top(a), BL_CAUSE_CABLE_OR_EMI);
    assert_non_null(bl_analysis_get(a, "interference_suspected"));
    assert_int_equal(a->findings[0].layer, 4);
    free(a);
    /* inverter battery type: a healthy battery and no keep-alive */
    a = new_analysis();
    feed_call(a, 60, false, 0, false, NULL);
    assert_int_equal(top(a), BL_CAUSE_INVERTER_BATTERY_TYPE);
    assert_true(a->findings[0].likelihood > 0.9);
    free(a);
    /* look-alike: no keep-alive, but error-passive too: the bus is the problem */
    a = new_analysis();
    feed_call(a, 60, false, 3, true, NULL);
    assert_int_equal(top(a), BL_CAUSE_TERMINATION);
    free(a);
    /* inverter battery type: an inverter polling as BYD (0x151) a Pylon LV battery */
    a = new_analysis();
    for (int s = 0; s < 30; s++)
        feed(a, T0 + s * 1000000 + 500000, 0x151, "00");
    feed_call(a, 30, false, 0, false, NULL);
    assert_int_equal(top(a), BL_CAUSE_INVERTER_BATTERY_TYPE);
    assert_non_null(strstr(a->findings[0].evidence, "another protocol family"));
    free(a);
    /* bit rate: random ids seen once each */
    a = new_analysis();
    for (uint32_t i = 0; i < 40; i++)
        feed(a, T0 + (int64_t)i * 50000, 0x400 + i * 7, "0102");
    assert_int_equal(top(a), BL_CAUSE_BITRATE_MISMATCH);
    assert_string_equal(a->findings[0].code, "bitrate_mismatch"); /* the symptom, now a cause */
    free(a);
    /* bit rate from a scan: certain */
    a = new_analysis();
    feed_call(a, 30, true, 0, false, NULL);
    a->scan_bps = 250000;
    assert_int_equal(top(a), BL_CAUSE_BITRATE_MISMATCH);
    assert_true(a->findings[0].likelihood > 0.9);
    free(a);
    /* battery not master: two senders of one id */
    a = new_analysis();
    for (int s = 0; s < 30; s++) {
        int64_t t = T0 + (int64_t)s * 1000000;
        feed(a, t, 0x355, "58005E00");
        feed(a, t + 500, 0x355, "20005E00");
        feed(a, t + 1000, 0x351, "1402C012C012C201");
        feed(a, t + 2000, 0x356, "7A13F2FE6B01");
        feed(a, t + 200000, 0x305, "0000000000000000");
    }
    assert_int_equal(top(a), BL_CAUSE_BATTERY_NOT_MASTER);
    free(a);
    /* battery not master: a Pylon HV module (address 2) answers, the master (address 0) not */
    a = new_analysis();
    for (int s = 0; s < 10; s++) {
        feed(a, T0 + s * 1000000, 0x4200, "00");
        feed(a, T0 + s * 1000000 + 1000, 0x4212, "0102030405060708");
    }
    assert_int_equal(top(a), BL_CAUSE_BATTERY_NOT_MASTER);
    free(a);
    /* scaling: 0x356 at 0.1 V (discover LYNX II) */
    a = new_analysis();
    for (int s = 0; s < 10; s++) {
        feed(a, T0 + s * 1000000, 0x351, "2E02040B040BB001");
        feed(a, T0 + s * 1000000 + 2000, 0x356, "0A0211FFBE000000");
        feed(a, T0 + s * 1000000 + 200000, 0x305, "0000000000000000");
    }
    assert_int_equal(top(a), BL_CAUSE_SCALING_ERROR);
    assert_int_equal(a->findings[0].layer, 5);
    free(a);
    /* silence over a listening period: the bus cannot tell; cause_undecided gives the checks */
    a = new_analysis();
    bl_analysis_finish(a, 30 * 1000000LL);
    assert_true(a->causes_judged);
    const struct bl_finding *f = bl_analysis_get(a, "cause_undecided");
    assert_non_null(f);
    assert_non_null(strstr(f->next_step, "about 5 min"));
    assert_non_null(strstr(f->next_step, "about 10 min"));
    free(a);
    /* the priors are seed 004's mix */
    double sum = 0.0;
    for (unsigned c = 0; c < BL_CAUSE__COUNT; c++)
        sum += bl_cause_prior((enum bl_cause)c);
    assert_true(sum > 0.999 && sum < 1.001);
    assert_string_equal(bl_cause_code(BL_CAUSE__COUNT), "?");
}

/* ---- inverter compliance (issue 13 item 3) ---- */

static void state_at(struct bl_battery *b, int64_t now, int32_t i_ma, int32_t ccl_ma,
                     int32_t dcl_ma, bool ce, bool de, bool full)
{
    bl_battery_set(b, BL_F_CURRENT, i_ma, now);
    bl_battery_set(b, BL_F_CHARGE_CURRENT_LIMIT, ccl_ma, now);
    bl_battery_set(b, BL_F_DISCHARGE_CURRENT_LIMIT, dcl_ma, now);
    bl_battery_set(b, BL_F_CHARGE_ENABLE, ce, now);
    bl_battery_set(b, BL_F_DISCHARGE_ENABLE, de, now);
    bl_battery_set(b, BL_F_FULL_CHARGE_REQUEST, full, now);
}

static void test_comply(void **state)
{
    (void)state;
    struct bl_comply c;
    struct bl_battery b;
    bl_comply_init(&c, NULL);
    bl_battery_init(&b);
    const int64_t S = 1000000;
    /* discharge 43 A against a 40 A limit: 3 A over, beyond the tolerance max(2 A, 5 %) = 2 A;
     * a violation after the 10 s grace, not before */
    for (int s = 0; s <= 20; s++) {
        state_at(&b, T0 + s * S, -43000, 40000, 40000, true, true, false);
        bl_comply_battery(&c, &b, T0 + s * S);
        if (s == 9) assert_false(c.rec[BL_COMPLY_OVER_DISCHARGE].active);
    }
    assert_true(c.rec[BL_COMPLY_OVER_DISCHARGE].active);
    assert_int_equal(c.rec[BL_COMPLY_OVER_DISCHARGE].episodes, 1);
    assert_int_equal(c.rec[BL_COMPLY_OVER_DISCHARGE].worst_ma, 3000);
    assert_int_equal(bl_comply_active(&c), 1u << BL_COMPLY_OVER_DISCHARGE);
    /* back under the limit + tolerance (41.5 A): cleared at once */
    state_at(&b, T0 + 21 * S, -41500, 40000, 40000, true, true, false);
    bl_comply_battery(&c, &b, T0 + 21 * S);
    assert_int_equal(bl_comply_active(&c), 0);
    /* a 5 s spike does not count */
    for (int s = 22; s < 27; s++) {
        state_at(&b, T0 + s * S, -80000, 40000, 40000, true, true, false);
        bl_comply_battery(&c, &b, T0 + s * S);
    }
    state_at(&b, T0 + 27 * S, 0, 40000, 40000, true, true, false);
    bl_comply_battery(&c, &b, T0 + 27 * S);
    assert_int_equal(c.rec[BL_COMPLY_OVER_DISCHARGE].episodes, 1);
    /* charging 5 A while charge is disabled (limit still 40 A), 12 s */
    for (int s = 30; s <= 42; s++) {
        state_at(&b, T0 + s * S, 5000, 40000, 40000, false, true, false);
        bl_comply_battery(&c, &b, T0 + s * S);
    }
    assert_true(c.rec[BL_COMPLY_CHARGE_DISABLED].active);
    assert_false(c.rec[BL_COMPLY_OVER_CHARGE].active);
    /* discharging while the DCL is 0 */
    for (int s = 50; s <= 62; s++) {
        state_at(&b, T0 + s * S, -3000, 40000, 0, true, true, false);
        bl_comply_battery(&c, &b, T0 + s * S);
    }
    assert_true(c.rec[BL_COMPLY_DISCHARGE_DISABLED].active);
    /* a full-charge request not followed by charging within 600 s; then followed */
    for (int s = 70; s <= 680; s += 10) {
        state_at(&b, T0 + s * S, -2000, 40000, 40000, true, true, true);
        bl_comply_battery(&c, &b, T0 + s * S);
        if (s == 660) assert_false(c.rec[BL_COMPLY_REQUEST_IGNORED].active);
    }
    assert_true(c.rec[BL_COMPLY_REQUEST_IGNORED].active);
    state_at(&b, T0 + 690 * S, 20000, 40000, 40000, true, true, true);
    bl_comply_battery(&c, &b, T0 + 690 * S);
    assert_false(c.rec[BL_COMPLY_REQUEST_IGNORED].active);
    /* keep-alive: never seen is never lost; seen then 11 s of silence is lost */
    bl_comply_tick(&c, T0 + 700 * S);
    assert_false(c.rec[BL_COMPLY_KEEPALIVE_LOST].active);
    bl_comply_keepalive(&c, T0 + 700 * S);
    bl_comply_tick(&c, T0 + 709 * S);
    assert_false(c.rec[BL_COMPLY_KEEPALIVE_LOST].active);
    bl_comply_tick(&c, T0 + 711 * S);
    assert_true(c.rec[BL_COMPLY_KEEPALIVE_LOST].active);
    bl_comply_keepalive(&c, T0 + 712 * S);
    assert_false(c.rec[BL_COMPLY_KEEPALIVE_LOST].active);
    /* late against the family's period (Pylon LV 0x305: 1 s): a 2.5 s gap is late, 1 s is not */
    bl_comply_keepalive_period(&c, 1 * S);
    bl_comply_keepalive(&c, T0 + 713 * S);
    assert_false(c.rec[BL_COMPLY_KEEPALIVE_LATE].active);
    bl_comply_tick(&c, T0 + 714 * S + S / 2);
    assert_false(c.rec[BL_COMPLY_KEEPALIVE_LATE].active);
    bl_comply_tick(&c, T0 + 715 * S + S / 2);
    assert_true(c.rec[BL_COMPLY_KEEPALIVE_LATE].active);
    assert_true(bl_comply_active(&c) & (1u << BL_COMPLY_KEEPALIVE_LATE));
    bl_comply_keepalive(&c, T0 + 716 * S);
    assert_false(c.rec[BL_COMPLY_KEEPALIVE_LATE].active);
    assert_string_equal(bl_comply_code(BL_COMPLY_KEEPALIVE_LATE), "inverter_keepalive_late");
    assert_string_equal(bl_comply_code(BL_COMPLY_OVER_CHARGE), "inverter_exceeds_charge_limit");
    assert_string_equal(bl_comply_code(BL_COMPLY__COUNT), "?");
}

/* ---- the fallback (issue 13 item 4): seed 004's settings scaled to the pack ---- */

static void test_fallback(void **state)
{
    (void)state;
    struct bl_fallback fb;
    /* 15S: US5000 V1.2 (CVL 53.2 V, DVL 45.0 V, 49.87 V): 15 x 3.40 = 51.0 V, 15 x 3.00 = 45.0 V;
     * no capacity on the bus: no currents, size unknown */
    struct bl_analysis *a = new_analysis();
    for (int s = 0; s < 3; s++)
        feed_v12(a, T0 + s * 1000000);
    bl_analysis_finish(a, 0);
    bl_fallback_compute(a, &fb);
    assert_int_equal(fb.cells, 15);
    assert_true(fabs(fb.charge_v - 51.0) < 1e-9 && fabs(fb.cutoff_v - 45.0) < 1e-9);
    assert_true(fb.capacity_ah == 0.0 && fb.current_lo_a == 0.0);
    assert_int_equal(fb.cond[BL_FB_SIZE].state, BL_FB_UNKNOWN);
    assert_int_equal(fb.verdict, BL_FB_UNKNOWN);
    free(a);
    /* 16S: CVL 56.8 V (0x0238), DVL 48.0 V (0x01E0), 52.50 V (0x1482): seed 004's own figures,
     * 54.4 V and 48.0 V; one 100 Ah module (0x379 = 100): 30-50 A, 5.1 kWh (< 10 kWh); cells
     * 3.300 / 3.280 V (0x70, 10 mV): 20 mV spread; 22.0-25.0 degC: indoors */
    a = new_analysis();
    for (int s = 0; s < 3; s++) {
        int64_t t = T0 + s * 1000000;
        feed(a, t, 0x351, "3802E803E803E001");
        feed(a, t + 1000, 0x355, "3C006400");
        feed(a, t + 2000, 0x356, "8214D8FFFA00"); /* -4.0 A, 25.0 degC */
        feed(a, t + 3000, 0x359, "0000000001504E");
        feed(a, t + 4000, 0x35C, "C000");
        feed(a, t + 5000, 0x70, "FA00DC004A014801");
        feed(a, t + 6000, 0x379, "6400000000000000");
    }
    bl_analysis_finish(a, 0);
    bl_fallback_compute(a, &fb);
    assert_int_equal(fb.cells, 16);
    assert_true(fabs(fb.charge_v - 54.4) < 1e-9 && fabs(fb.cutoff_v - 48.0) < 1e-9);
    assert_true(fabs(fb.capacity_ah - 100.0) < 1e-9);
    assert_true(fabs(fb.current_lo_a - 30.0) < 1e-9 && fabs(fb.current_hi_a - 50.0) < 1e-9);
    assert_true(fabs(fb.energy_kwh - 5.12) < 1e-9);
    assert_int_equal(fb.cond[BL_FB_SIZE].state, BL_FB_MET);
    assert_int_equal(fb.cond[BL_FB_SPREAD].state, BL_FB_MET);
    assert_true(fabs(fb.cond[BL_FB_SPREAD].value - 20.0) < 1e-9);
    assert_int_equal(fb.cond[BL_FB_RATE].state, BL_FB_MET); /* 4 A of 100 Ah */
    assert_int_equal(fb.cond[BL_FB_TEMP].state, BL_FB_MET);
    assert_int_equal(fb.cond[BL_FB_ACK].state, BL_FB_UNKNOWN); /* only the customer can say */
    assert_int_equal(fb.verdict, BL_FB_UNKNOWN);
    free(a);
    /* a 4-module 16S stack of 100 Ah (0x379 = 400 Ah, 0x359 modules 4): 120-200 A, 20.48 kWh:
     * above 20 kWh, not acceptable */
    a = new_analysis();
    for (int s = 0; s < 3; s++) {
        int64_t t = T0 + s * 1000000;
        feed(a, t, 0x351, "3802A00FA00FE001");
        feed(a, t + 2000, 0x356, "8214D8FFFA00");
        feed(a, t + 3000, 0x359, "0000000004504E");
        feed(a, t + 6000, 0x379, "9001000000000000");
    }
    bl_analysis_finish(a, 0);
    bl_fallback_compute(a, &fb);
    assert_int_equal(fb.cells, 16);
    assert_int_equal(fb.modules, 4);
    assert_true(fabs(fb.current_lo_a - 120.0) < 1e-9 && fabs(fb.current_hi_a - 200.0) < 1e-9);
    assert_true(fabs(fb.energy_kwh - 20.48) < 1e-9);
    assert_int_equal(fb.cond[BL_FB_SIZE].state, BL_FB_NOT_MET);
    assert_int_equal(fb.verdict, BL_FB_NOT_MET);
    free(a);
}

static void test_empty(void **state)
{
    (void)state;
    struct bl_analysis *a = new_analysis();
    bl_analysis_finish(a, 0);
    assert_int_equal(a->nfindings, 1);
    assert_string_equal(a->findings[0].code, "no_frames");
    assert_string_equal(bl_verdict_name(a->verdict), "fail");
    assert_true(bl_analysis_duration_s(a) == 0.0);
    free(a);
}

static void test_checklist_and_names(void **state)
{
    (void)state;
    struct bl_check c[32];
    size_t n = bl_checklist(&bl_profile_sma, c, 32);
    assert_true(n > 10);
    bool sma = false;
    for (size_t i = 0; i < n; i++) {
        assert_true(c[i].layer >= 1 && c[i].layer <= 4);
        if (i > 0) assert_true(c[i].layer >= c[i - 1].layer); /* layers in order */
        if (strstr(c[i].text, "100 ohm") != NULL) sma = true;
    }
    assert_true(sma);
    n = bl_checklist(&bl_profile_pylontech, c, 32);
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(c[i].text, "Sunny Island terminates"));
    /* every profile of the registry: an installer setting, its own steps in the checklist, in
     * layer order; unknown gets the registry's first profile's steps */
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i <= np; i++) {
        const struct bl_profile *p = i < np ? list[i] : NULL;
        const struct bl_profile *steps = p != NULL ? p : list[0];
        if (p != NULL) assert_non_null(p->inverter_setting);
        assert_true(steps->n_install > 0);
        n = bl_checklist(p, c, 32);
        assert_true(n > 10 && n < 32);
        size_t own = 0;
        for (size_t k = 0; k < n; k++) {
            if (k > 0) assert_true(c[k].layer >= c[k - 1].layer);
            for (size_t j = 0; j < steps->n_install; j++)
                own += c[k].text == steps->install[j].text;
        }
        assert_int_equal(own, steps->n_install);
    }
    /* diagnose's old profile names are aliases of the registry (--profile takes them) */
    assert_ptr_equal(bl_profile_find("pylontech-lv-v1.2"), &bl_profile_pylontech);
    assert_ptr_equal(bl_profile_find("pylontech-lv"), &bl_profile_pylontech);
    assert_ptr_equal(bl_profile_find("pylontech-compatible"), &bl_profile_pylontech);
    assert_ptr_equal(bl_profile_find("pylontech-lv-v1.3"), &bl_profile_pylontech_v13);
    assert_ptr_equal(bl_profile_find("growatt"), &bl_profile_growatt_lv);
    assert_ptr_equal(bl_profile_find("byd"), &bl_profile_byd_hvs);
    assert_ptr_equal(bl_profile_find("aobo"), &bl_profile_sma);
    assert_ptr_equal(bl_profile_find("can-l52"), &bl_profile_pylontech);
    assert_string_equal(bl_layer_name(4), "electrical environment");
    assert_string_equal(bl_layer_name(9), "?");
    assert_string_equal(bl_verdict_name(BL_SEV_INFO), "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_exact_median),
        cmocka_unit_test(test_period_jitter),
        cmocka_unit_test(test_bounded_ids),
        cmocka_unit_test(test_ident_v12_single_burst),
        cmocka_unit_test(test_ident_v13),
        cmocka_unit_test(test_profile_mismatch),
        cmocka_unit_test(test_missing_and_heartbeat),
        cmocka_unit_test(test_scaling_10x),
        cmocka_unit_test(test_finding_names_profile_message),
        cmocka_unit_test(test_implausible_soc_every_profile),
        cmocka_unit_test(test_error_frames),
        cmocka_unit_test(test_only_errors),
        cmocka_unit_test(test_time_backwards),
        cmocka_unit_test(test_scan_bitrate),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_checklist_and_names),
        cmocka_unit_test(test_causes),
        cmocka_unit_test(test_unused_ids_untouched),
        cmocka_unit_test(test_comply),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_polling_inverter_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
