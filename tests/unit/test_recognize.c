/* SPDX-License-Identifier: MIT */
/* test_recognize.c: profile recognition (recognize.h) on every real capture of tests/data (copied
 * from shared/data/captures with their provenance .txt) and on a 3-second prefix of each, and on
 * bursts encoded from every profile of the registry: unknown until sure, a mixed stream reported,
 * a change of profile mid-stream reported. Table-driven: a capture whose profile is not (yet)
 * registered must come out "unknown" or as its named fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/candump.h"
#include "batlink/profile.h"
#include "batlink/recognize.h"

#define MAXF 256

static size_t load(const char *name, struct bl_frame *out, size_t max)
{
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/%s", BL_TEST_DATA, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) fail_msg("cannot open %s", path);
    size_t n = 0;
    while (n < max && fgets(line, sizeof line, f) != NULL) {
        size_t l = strcspn(line, "\r\n");
        if (l == 0) continue;
        if (bl_candump_parse(line, l, &out[n], NULL, NULL) == BL_OK) n++;
    }
    fclose(f);
    return n;
}

/* Feed frames[0..n) with a timestamp below `until` (0 = all), then end the input. */
static void run(struct bl_recog *r, const struct bl_frame *fr, size_t n, int64_t until)
{
    bl_recog_init(r, NULL, 0);
    for (size_t i = 0; i < n; i++)
        if (until == 0 || fr[i].ts_us < until) (void)bl_recog_feed(r, &fr[i]);
    (void)bl_recog_finish(r);
}

struct capture {
    const char *file;
    const char *expect;   /* the profile the capture's source names, NULL = must stay unknown */
    const char *fallback; /* acceptable while `expect` is not registered (NULL = unknown) */
    const char *inverter; /* profile whose inverter_name the keep-alive seen must be, or NULL */
};

/* Expected profiles from each capture's provenance file (tests/data/<name>.txt). */
static const struct capture captures[] = {
    {"byd_lvs_premium_b019_and_victron_gx__dfch_BydCanProtocol.log", "victron", "pylontech",
     "victron"},
    {"discover_lynx2_serial_can_candump__ai-republic_bms-to-inverter_issue107.log",
     "pylontech-0.1v", NULL, NULL},
    /* two frames: the inverter's 0x151 and one 0x191: the battery is not recognisable from one
     * frame (byd-hvs requires 0x110 0x150 0x1D0), the inverter family is */
    {"goodwe_gw6000eh_inverter_to_byd_hvs__battery-emulator_issue28.log", NULL, NULL, "byd-hvs"},
    {"pylontech_hv_sc0500_h48050_growatt_fragment__eevblog.log", "pylontech-hv", NULL,
     "pylontech-hv"},
    {"pylontech_us2000_us3000_stack__setfirelabs_and_opendtu_pr1213.log", "pylontech", NULL, NULL},
    {"pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log", "pylontech", NULL, NULL},
    {"pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.3.log", "pylontech-v13", "pylontech", NULL},
    /* one 0x356 frame: no profile is sure of one shared frame */
    {"pytes_ess48_2u_l_logic_analyzer__opendtu_pr1088.log", NULL, NULL, NULL},
    {"pytes_v5alpha_victron_venus__AndreasBoehm_PytesCANProtocol.log", "victron", "pylontech",
     NULL},
    {"seplos_bms_victron_multiplus_candump__syssi_virtual-can-bms_issue3.log", "victron",
     "pylontech", "victron"},
    /* the inverter's side (0x151, 0x101 ...) and two 0x191: the family, not the battery */
    {"sungrow_sh10rs_inverter_to_battery_byd_style__battery-emulator_pr552.log", NULL, NULL,
     "byd-hvs"},
};

static void check_capture(const struct capture *c, const struct bl_recog *r, const char *what)
{
    char why[1024];
    (void)bl_recog_explain(r, why, sizeof why);
    const struct bl_profile *got = bl_recog_profile(r);
    const struct bl_profile *want = c->expect ? bl_profile_find(c->expect) : NULL;
    const char *gotn = got ? got->name : "unknown";
    print_message("%s%s: %s [%s]\n", c->file, what, gotn, why);
    if (want != NULL) {
        if (got != want)
            fail_msg("%s%s: want %s, got %s: %s", c->file, what, want->name, gotn, why);
    } else if (c->expect != NULL && c->fallback != NULL && got != NULL) {
        if (strcmp(got->name, c->fallback) != 0)
            fail_msg("%s%s: want %s (unregistered) or %s, got %s", c->file, what, c->expect,
                     c->fallback, gotn);
    } else if (got != NULL) {
        fail_msg("%s%s: want unknown, got %s: %s", c->file, what, gotn, why);
    }
    const struct bl_profile *inv = c->inverter ? bl_profile_find(c->inverter) : NULL;
    if (inv != NULL) {
        assert_non_null(r->inverter);
        assert_string_equal(r->inverter, inv->inverter_name);
    }
    assert_int_not_equal(r->status, BL_RECOG_MIXED);
}

static void test_captures(void **state)
{
    (void)state;
    static struct bl_frame fr[MAXF];
    for (size_t i = 0; i < sizeof captures / sizeof captures[0]; i++) {
        const struct capture *c = &captures[i];
        size_t n = load(c->file, fr, MAXF);
        assert_true(n > 0);
        struct bl_recog r;
        run(&r, fr, n, 0);
        check_capture(c, &r, "");
        run(&r, fr, n, fr[0].ts_us + 3000000);
        check_capture(c, &r, " (3 s prefix)");
    }
}

/* Every .log in tests/data is in the table above (a new capture cannot be forgotten). */
static void test_every_capture_listed(void **state)
{
    (void)state;
    char cmd[600], line[512];
    snprintf(cmd, sizeof cmd, "ls %s", BL_TEST_DATA);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        size_t l = strlen(line);
        if (l < 4 || strcmp(line + l - 4, ".log") != 0) continue;
        bool found = false;
        for (size_t i = 0; i < sizeof captures / sizeof captures[0] && !found; i++)
            found = strcmp(captures[i].file, line) == 0;
        if (!found) fail_msg("tests/data/%s: not in test_recognize's capture table", line);
    }
    pclose(p);
}

/* ---- bursts encoded from the registry ---- */

/* A state the profile's plausibility believes: a 48 V LFP pack or, if that is implausible for the
 * profile, a 400 V one. */
static void plausible_state(const struct bl_profile *p, struct bl_battery *st, bool hv)
{
    (void)p;
    bl_battery_init(st);
    int32_t k = hv ? 8 : 1;
    bl_battery_set(st, BL_F_VOLTAGE, 52000 * k, 0);
    bl_battery_set(st, BL_F_CURRENT, -5000, 0);
    bl_battery_set(st, BL_F_CHARGE_VOLTAGE_LIMIT, 56000 * k, 0);
    bl_battery_set(st, BL_F_DISCHARGE_VOLTAGE_LIMIT, 46000 * k, 0);
    bl_battery_set(st, BL_F_CHARGE_CURRENT_LIMIT, 50000, 0);
    bl_battery_set(st, BL_F_DISCHARGE_CURRENT_LIMIT, 50000, 0);
    bl_battery_set(st, BL_F_SOC, 8000, 0);
    bl_battery_set(st, BL_F_SOH, 9900, 0);
    bl_battery_set(st, BL_F_TEMPERATURE, 250, 0);
}

/* One burst of p: its cycle plus its DISTINCT battery messages, at time t (ms). */
static size_t burst(const struct bl_profile *p, bool hv, int64_t t_ms, struct bl_frame *out,
                    size_t max)
{
    struct bl_battery st;
    plausible_state(p, &st, hv);
    size_t n = bl_profile_encode_cycle(p, &st, out, max);
    for (size_t j = 0; j < p->n_msgs && n < max; j++) {
        const struct bl_msg_desc *m = &p->msgs[j];
        if (!(m->flags & BL_MSG_DISTINCT) || (m->flags & BL_MSG_CYCLE) ||
            m->dir != BL_DIR_BATTERY_TO_INVERTER)
            continue;
        if (bl_profile_encode(p, m->id, &st, &out[n]) == BL_OK) n++;
    }
    for (size_t i = 0; i < n; i++)
        out[i].ts_us = t_ms * 1000 + (int64_t)i * 1000;
    return n;
}

/* Feed `bursts` bursts of p, one a second, starting at t0 (ms); returns the time after. */
static int64_t feed(struct bl_recog *r, const struct bl_profile *p, bool hv, int bursts, int64_t t0)
{
    struct bl_frame fr[64];
    for (int b = 0; b < bursts; b++) {
        size_t n = burst(p, hv, t0, fr, 64);
        for (size_t i = 0; i < n; i++)
            (void)bl_recog_feed(r, &fr[i]);
        t0 += 1000;
    }
    return t0;
}

/* What each profile's own bursts are recognised as (NULL = it stays unknown: legitimately, when
 * its burst is a subset of another's). */
static const struct bl_profile *self_recognised(const struct bl_profile *p, bool *hv)
{
    struct bl_recog r;
    for (int h = 0; h < 2; h++) {
        bl_recog_init(&r, NULL, 0);
        (void)feed(&r, p, h, 3, 1000);
        if (bl_recog_profile(&r) == p) {
            *hv = h;
            return p;
        }
    }
    return bl_recog_profile(&r);
}

/* Bursts of a profile are never taken for another profile. */
static void test_own_bursts(void **state)
{
    (void)state;
    size_t n;
    const struct bl_profile *const *list = bl_profile_list(&n);
    assert_true(n <= BL_RECOG_MAX_PROFILES);
    for (size_t i = 0; i < n; i++) {
        assert_true(list[i]->n_msgs <= BL_RECOG_MAX_MSGS);
        bool hv = false;
        const struct bl_profile *got = self_recognised(list[i], &hv);
        print_message("%s bursts: %s\n", list[i]->name, got ? got->name : "unknown");
        if (got != NULL && got != list[i])
            fail_msg("bursts of %s recognised as %s", list[i]->name, got->name);
    }
    /* at least the first profile is recognised from its own bursts */
    bool hv;
    assert_ptr_equal(self_recognised(list[0], &hv), list[0]);
}

/* Unknown until sure: the first frames of a Pylontech V1.2 burst say nothing yet. */
static void test_unknown_until_sure(void **state)
{
    (void)state;
    static struct bl_frame fr[MAXF];
    size_t n = load("pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log", fr, MAXF);
    struct bl_recog r;
    bl_recog_init(&r, NULL, 0);
    (void)bl_recog_feed(&r, &fr[0]); /* 0x351 */
    assert_null(bl_recog_profile(&r));
    assert_int_equal(r.status, BL_RECOG_UNKNOWN);
    char why[512];
    (void)bl_recog_explain(&r, why, sizeof why);
    assert_non_null(strstr(why, "unknown"));
    for (size_t i = 1; i < n; i++)
        (void)bl_recog_feed(&r, &fr[i]);
    assert_ptr_equal(bl_recog_profile(&r), &bl_profile_pylontech);
    (void)bl_recog_explain(&r, why, sizeof why);
    assert_non_null(strstr(why, "pylontech"));
    assert_non_null(strstr(why, "required 0x351 0x355 0x356"));
    /* a frame no profile knows stays raw and changes nothing */
    struct bl_frame odd = {.id = 0x123, .len = 2, .data = {1, 2}};
    assert_false(bl_recog_feed(&r, &odd));
    assert_ptr_equal(bl_recog_profile(&r), &bl_profile_pylontech);
    assert_int_equal(r.raw, 1);
    /* error and remote frames are ignored */
    struct bl_frame err = {.id = 0x40, .flags = BL_FRAME_ERR, .len = 8};
    assert_false(bl_recog_feed(&r, &err));
}

/* A battery message of a that b does not know (a settled recogniser sees it as b's end). */
static bool has_own(const struct bl_profile *a, const struct bl_profile *b)
{
    for (size_t j = 0; j < a->n_msgs; j++)
        if (a->msgs[j].dir == BL_DIR_BATTERY_TO_INVERTER && (a->msgs[j].flags & BL_MSG_CYCLE) &&
            bl_profile_msg(b, a->msgs[j].id, a->msgs[j].ext) == NULL)
            return true;
    return false;
}

/* Two profiles each recognised from their own bursts, and each with a message the other lacks. */
static bool pick_pair(const struct bl_profile **a, bool *ha, const struct bl_profile **b, bool *hb)
{
    size_t n;
    const struct bl_profile *const *list = bl_profile_list(&n);
    for (size_t i = 0; i < n; i++) {
        if (self_recognised(list[i], ha) != list[i]) continue;
        for (size_t j = i + 1; j < n; j++) {
            if (list[j]->variant_of == list[i] || list[i]->variant_of == list[j]) continue;
            if (!has_own(list[i], list[j]) || !has_own(list[j], list[i])) continue;
            if (self_recognised(list[j], hb) != list[j]) continue;
            *a = list[i];
            *b = list[j];
            return true;
        }
    }
    return false;
}

static void test_midstream_change(void **state)
{
    (void)state;
    const struct bl_profile *a, *b;
    bool ha, hb;
    if (!pick_pair(&a, &ha, &b, &hb)) skip();
    print_message("change %s -> %s\n", a->name, b->name);
    struct bl_recog r;
    bl_recog_init(&r, NULL, 0);
    int64_t t = feed(&r, a, ha, 3, 1000);
    assert_ptr_equal(bl_recog_profile(&r), a);
    assert_int_equal(r.changes, 0);
    t = feed(&r, b, hb, 3, t);
    assert_ptr_equal(bl_recog_profile(&r), b);
    assert_int_equal(r.changes, 1);
    assert_ptr_equal(r.previous, a);
}

static void test_mixed_reported(void **state)
{
    (void)state;
    const struct bl_profile *a, *b;
    bool ha, hb;
    if (!pick_pair(&a, &ha, &b, &hb)) skip();
    struct bl_recog r;
    bl_recog_init(&r, NULL, 0);
    struct bl_frame fa[64], fb[64];
    for (int k = 0; k < 4; k++) {
        size_t na = burst(a, ha, 1000 * k, fa, 64), nb = burst(b, hb, 1000 * k + 500, fb, 64);
        for (size_t i = 0; i < na || i < nb; i++) {
            if (i < na) (void)bl_recog_feed(&r, &fa[i]);
            if (i < nb) (void)bl_recog_feed(&r, &fb[i]);
        }
    }
    char why[1024];
    (void)bl_recog_explain(&r, why, sizeof why);
    print_message("%s\n", why);
    assert_int_equal(r.status, BL_RECOG_MIXED);
    assert_null(bl_recog_profile(&r));
    assert_non_null(strstr(why, "mixed"));
    assert_non_null(strstr(why, a->name));
    assert_non_null(strstr(why, b->name));
}

/* A Pylon LV stream with a foreign keep-alive: the inverter family is named, a mismatch said. */
static void test_inverter_family(void **state)
{
    (void)state;
    static struct bl_frame fr[MAXF];
    size_t n = load("pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log", fr, MAXF);
    struct bl_recog r;
    bl_recog_init(&r, NULL, 0);
    for (size_t i = 0; i < n; i++)
        (void)bl_recog_feed(&r, &fr[i]);
    assert_null(r.inverter);
    assert_false(bl_recog_mismatch(&r));
    struct bl_frame hb = {.id = 0x305, .len = 8};
    assert_true(bl_recog_feed(&r, &hb));
    assert_string_equal(r.inverter, bl_profile_pylontech.inverter_name);
    assert_false(bl_recog_mismatch(&r));
    /* every other keep-alive family of the registry is a mismatch for a Pylontech battery */
    size_t np;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++) {
        const struct bl_msg_desc *k = bl_profile_keepalive(list[i]);
        if (k == NULL || bl_profile_msg(&bl_profile_pylontech, k->id, k->ext) != NULL) continue;
        struct bl_recog q = r;
        struct bl_frame f = {.id = k->id, .flags = k->ext ? BL_FRAME_EXT : 0, .len = k->dlc};
        (void)bl_recog_feed(&q, &f);
        assert_ptr_equal(bl_recog_profile(&q), &bl_profile_pylontech);
        assert_string_equal(q.inverter, list[i]->inverter_name);
        assert_true(bl_recog_mismatch(&q));
    }
}

/* Every profile with its own inverter: the keep-alive comes first (before the battery's profile
 * is known it may be named as another family's, as a Sunny Island's 0x305 is Pylon's), then the
 * battery's burst; the family is the profile's own and there is no mismatch. */
static void test_own_inverter_first(void **state)
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
    bl_battery_set(&st, BL_F_SOC, 6000, 0);
    bl_battery_set(&st, BL_F_SOH, 9900, 0);
    bl_battery_set(&st, BL_F_TEMPERATURE, 250, 0);
    size_t np;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++) {
        const struct bl_profile *p = list[i];
        const struct bl_msg_desc *k = bl_profile_keepalive(p);
        if (k == NULL) continue;
        struct bl_recog r;
        bl_recog_init(&r, NULL, 0);
        struct bl_frame out[32];
        for (int s = 0; s < 10; s++) {
            struct bl_frame ka = {.id = k->id, .flags = k->ext ? BL_FRAME_EXT : 0, .len = k->dlc};
            ka.ts_us = (int64_t)s * 1000000;
            (void)bl_recog_feed(&r, &ka);
            size_t n = bl_profile_encode_sim(p, &st, out, 32);
            for (size_t j = 0; j < n; j++) {
                out[j].ts_us = ka.ts_us + 1000 * (int64_t)(j + 1);
                (void)bl_recog_feed(&r, &out[j]);
            }
        }
        (void)bl_recog_finish(&r);
        if (bl_recog_profile(&r) != p) fail_msg("%s: recognised as another profile", p->name);
        assert_non_null(r.inverter);
        if (strcmp(r.inverter, p->inverter_name) != 0)
            fail_msg("%s: inverter family %s, want %s", p->name, r.inverter, p->inverter_name);
        assert_false(bl_recog_mismatch(&r));
    }
}

/* ---- captures of tests/data/diag written by `batlink sim` (tests/data/diag/README.md) ---- */

/* Feed a whole capture, line by line (no size limit), then end the input. */
static size_t run_file(struct bl_recog *r, const char *name)
{
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/diag/%s", BL_TEST_DATA, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) fail_msg("cannot open %s", path);
    bl_recog_init(r, NULL, 0);
    size_t n = 0;
    struct bl_frame fr;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t l = strcspn(line, "\r\n");
        if (l == 0) continue;
        if (bl_candump_parse(line, l, &fr, NULL, NULL) != BL_OK) continue;
        (void)bl_recog_feed(r, &fr);
        n++;
    }
    fclose(f);
    (void)bl_recog_finish(r);
    return n;
}

/* Genuine 0.01 V Pylontech LV V1.2 frames, whatever odd state the scenario puts the pack in
 * (alarms, over-limit current, SOC 200 %, a missing message), are pylontech: never the 0.1 V
 * variant, which leaves 0x359/0x35C foreign. The recipe's own profile where it names one. */
static void test_sim_captures(void **state)
{
    (void)state;
    static const struct {
        const char *file, *expect;
    } sim[] = {
        {"normal_30s.log", "pylontech"},
        {"alarm_60s.log", "pylontech"},
        {"missing_0x351_30s.log", "pylontech"},
        {"late_frames_30s.log", "pylontech"},
        {"two_senders_30s.log", "pylontech"},
        {"error_bursts_300s.log", "pylontech"},
        {"constant_errors_120s.log", "pylontech"},
        {"no_inverter_30s.log", "pylontech"},
        {"late_heartbeat_30s.log", "pylontech"},
        {"force_full_request_30s.log", "pylontech"},
        {"soc_200pct_30s.log", "pylontech"},
        {"truncated.log", "pylontech"},
        {"termination_30s.log", "pylontech"},
        {"termination_no_inverter_30s.log", "pylontech"},
        {"emi_steps_40s.log", "pylontech"},
        {"emi_time_60s.log", "pylontech"},
        {"wrong_inverter_30s.log", "pylontech"},
        {"over_limit_30s.log", "pylontech"},
        {"scale_0.1v_30s.log", "pylontech-0.1v"},
        {"v1.3_repeated_10s.log", "pylontech-v13"},
        /* the real Discover capture: 0x356 at 0.1 V */
        {"discover_lynx2_serial_can_candump__ai-republic_bms-to-inverter_issue107.log",
         "pylontech-0.1v"},
    };
    struct bl_recog r;
    char why[1024];
    unsigned bad = 0;
    for (size_t i = 0; i < sizeof sim / sizeof sim[0]; i++) {
        size_t n = run_file(&r, sim[i].file);
        assert_true(n > 0);
        (void)bl_recog_explain(&r, why, sizeof why);
        const struct bl_profile *got = bl_recog_profile(&r);
        const char *gotn = got ? got->name : "unknown";
        print_message("diag/%s: %s [%s]\n", sim[i].file, gotn, why);
        /* the expected profile's own view of the whole capture must be believed (scale, not
         * alarm states), whenever in the capture the recogniser made up its mind */
        for (size_t k = 0; k < r.n; k++) {
            const struct bl_profile *p = r.list[k];
            if (strcmp(p->name, sim[i].expect) != 0 || p->ops == NULL ||
                p->ops->plausibility == NULL)
                continue;
            int pl = p->ops->plausibility(&r.c[k].st);
            if (pl < 60) {
                print_error("diag/%s: %s plausibility %d of its own frames\n", sim[i].file, p->name,
                            pl);
                bad++;
            }
        }
        if (strcmp(gotn, sim[i].expect) != 0) {
            print_error("diag/%s: want %s, got %s\n", sim[i].file, sim[i].expect, gotn);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* A genuine 0.01 V pylontech pack in a state a diagnostic scenario provokes: under-voltage
 * protection (30 V against a 53.2 V charge limit and a 47 V discharge limit), limits at 0 A,
 * SOC 200 %. Odd, but consistent in scale: pylontech, not unknown nor the 0.1 V variant. */
static const struct bl_profile *odd_pack(int32_t mv)
{
    const struct bl_profile *p = bl_profile_find("pylontech");
    assert_non_null(p);
    struct bl_battery st;
    bl_battery_init(&st);
    bl_battery_set(&st, BL_F_VOLTAGE, mv, 0);
    bl_battery_set(&st, BL_F_CURRENT, 0, 0);
    bl_battery_set(&st, BL_F_CHARGE_VOLTAGE_LIMIT, 53200, 0);
    bl_battery_set(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT, 47000, 0);
    bl_battery_set(&st, BL_F_CHARGE_CURRENT_LIMIT, 0, 0);
    bl_battery_set(&st, BL_F_DISCHARGE_CURRENT_LIMIT, 0, 0);
    bl_battery_set(&st, BL_F_SOC, 20000, 0);
    bl_battery_set(&st, BL_F_SOH, 9900, 0);
    bl_battery_set(&st, BL_F_TEMPERATURE, 550, 0);
    struct bl_frame fr[32];
    struct bl_recog r;
    bl_recog_init(&r, NULL, 0);
    for (int b = 0; b < 5; b++) {
        size_t n = bl_profile_encode_cycle(p, &st, fr, 32);
        for (size_t j = 0; j < p->n_msgs && n < 32; j++) {
            const struct bl_msg_desc *m = &p->msgs[j];
            if ((m->flags & BL_MSG_DISTINCT) && !(m->flags & BL_MSG_CYCLE) &&
                m->dir == BL_DIR_BATTERY_TO_INVERTER &&
                bl_profile_encode(p, m->id, &st, &fr[n]) == BL_OK)
                n++;
        }
        for (size_t i = 0; i < n; i++) {
            fr[i].ts_us = (int64_t)b * 1000000 + (int64_t)i * 1000;
            (void)bl_recog_feed(&r, &fr[i]);
        }
    }
    (void)bl_recog_finish(&r);
    char why[1024];
    (void)bl_recog_explain(&r, why, sizeof why);
    const struct bl_profile *got = bl_recog_profile(&r);
    print_message("odd pack %d mV: %s [%s]\n", (int)mv, got ? got->name : "unknown", why);
    return got;
}

static void test_odd_genuine_pack(void **state)
{
    (void)state;
    assert_ptr_equal(odd_pack(30000), bl_profile_find("pylontech"));
}

/* Ranking: pylontech's DISTINCT 0x359/0x35C seen and every frame decoded beats the 0.1 V variant
 * that leaves those frames foreign, even when the voltage reads implausibly (5.3 V against a
 * 53.2 V limit): a variant wins on plausibility only where the ids are the same. */
static void test_ids_beat_plausibility(void **state)
{
    (void)state;
    assert_ptr_equal(odd_pack(5300), bl_profile_find("pylontech"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captures),
        cmocka_unit_test(test_every_capture_listed),
        cmocka_unit_test(test_own_bursts),
        cmocka_unit_test(test_unknown_until_sure),
        cmocka_unit_test(test_midstream_change),
        cmocka_unit_test(test_mixed_reported),
        cmocka_unit_test(test_inverter_family),
        cmocka_unit_test(test_own_inverter_first),
        cmocka_unit_test(test_sim_captures),
        cmocka_unit_test(test_odd_genuine_pack),
        cmocka_unit_test(test_ids_beat_plausibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
