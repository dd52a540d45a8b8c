/* SPDX-License-Identifier: MIT */
/* test_tracker.c: link watchdog, heartbeat, rates, implausible values and two-sender detection of
 * src/core/tracker.c, through a small hand-written decoder so only the tracker is under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/tracker.h"

#define S  1000000LL
#define MS 1000LL

/* Minimal decoder for three Pylon LV ids (can-profiles.md section 1.3, little-endian):
 * 0x355 SOC % u16, SOH % u16; 0x356 voltage 0.01 V u16, current 0.1 A s16, temperature 0.1 degC
 * s16; 0x35E ASCII name. Anything else is unknown. */
static enum bl_err stub_decode(void *ctx, const struct bl_frame *f, bl_us now,
                               struct bl_battery *st, struct bl_diag *why)
{
    (void)ctx;
    const uint8_t *d = f->data;
    switch (f->id) {
    case 0x355:
        if (f->len < 4) {
            bl_diag_set(why, "0x355 shorter than 4 bytes", f->len);
            return BL_ERR_SHORT;
        }
        bl_battery_set(st, BL_F_SOC, (int32_t)(d[0] | d[1] << 8) * 100, now);
        bl_battery_set(st, BL_F_SOH, (int32_t)(d[2] | d[3] << 8), now);
        return BL_OK;
    case 0x356:
        if (f->len < 6) return BL_ERR_SHORT;
        bl_battery_set(st, BL_F_VOLTAGE, (int32_t)(d[0] | d[1] << 8) * 10, now);
        bl_battery_set(st, BL_F_CURRENT, (int16_t)(d[2] | d[3] << 8) * 100, now);
        bl_battery_set(st, BL_F_TEMPERATURE, (int16_t)(d[4] | d[5] << 8), now);
        return BL_OK;
    case 0x35E:
        memcpy(st->manufacturer, d, f->len);
        st->manufacturer[f->len] = '\0';
        bl_battery_set(st, BL_F_MANUFACTURER, 0, now);
        return BL_OK;
    default:
        return BL_ERR_UNKNOWN_ID;
    }
}

static struct bl_frame fr(uint32_t id, uint8_t len, const uint8_t *data)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.len = len;
    if (len > 0) memcpy(f.data, data, len);
    return f;
}

/* The tracker knows no protocol: the keep-alive comes from the profile in the application. Here
 * the Pylon LV one by hand (can-profiles.md 1.8: 0x305, also 29-bit on the Schneider XW Pro). */
static const struct bl_keepalive pylon_ka = {0x305, false, true, "pylontech-0x305"};

static void tinit(struct bl_tracker *t, const struct bl_tracker_opts *opt, bl_us now)
{
    struct bl_tracker_opts o = {0};
    if (opt != NULL) o = *opt;
    if (o.n_keepalive == 0) {
        o.keepalive[0] = pylon_ka;
        o.n_keepalive = 1;
    }
    bl_tracker_init(t, &o, now);
}

static struct bl_track_note feed(struct bl_tracker *t, struct bl_frame f, bl_us now)
{
    struct bl_track_note n;
    bl_tracker_frame(t, &f, now, stub_decode, NULL, &n);
    return n;
}

/* Real US5000 bytes, can-profiles.md section 1.4 ([SETFIRE-2] capture) */
static const uint8_t soc84[] = {0x54, 0x00, 0x60, 0x00};            /* SOC 84 %, SOH 96 % */
static const uint8_t soc26[] = {0x1A, 0x00, 0x64, 0x00};            /* SOC 26 %, SOH 100 % */
static const uint8_t meas[] = {0x7B, 0x13, 0xE9, 0xFE, 0x6B, 0x01}; /* 49.87 V -27.9 A 36.3 */
static const uint8_t zeros[8] = {0};

static void link_states_up_stale_down_and_back(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 100 * S);
    assert_int_equal(t.link.state, BL_LINK_DOWN);
    assert_false(bl_tracker_tick(&t, 110 * S)); /* no frame yet: stays down */
    assert_int_equal(t.link.state, BL_LINK_DOWN);

    struct bl_track_note n = feed(&t, fr(0x355, 4, soc84), 111 * S);
    assert_int_equal(n.kind, BL_TRACK_APPLIED);
    assert_true(n.link_changed);
    assert_int_equal(t.link.state, BL_LINK_UP);
    assert_int_equal(t.link.last_frame_us, 111 * S);

    assert_false(bl_tracker_tick(&t, 111 * S + 4999 * MS)); /* 4.999 s: still up */
    assert_true(bl_tracker_tick(&t, 116 * S));              /* 5 s: stale */
    assert_int_equal(t.link.state, BL_LINK_STALE);
    assert_false(bl_tracker_tick(&t, 140 * S + 999 * MS)); /* 29.999 s: still stale */
    assert_true(bl_tracker_tick(&t, 141 * S));             /* 30 s: down */
    assert_int_equal(t.link.state, BL_LINK_DOWN);
    assert_string_equal(bl_link_state_name(t.link.state), "down");

    n = feed(&t, fr(0x356, 6, meas), 150 * S);
    assert_true(n.link_changed);
    assert_int_equal(t.link.state, BL_LINK_UP);
    assert_string_equal(bl_link_state_name(BL_LINK_STALE), "stale");
    assert_string_equal(bl_link_state_name((enum bl_link_state)7), "?");
}

static void custom_thresholds(void **state)
{
    (void)state;
    struct bl_tracker t;
    struct bl_tracker_opts o = {.stale_after_us = 2 * S, .down_after_us = 3 * S};
    tinit(&t, &o, 0);
    (void)feed(&t, fr(0x355, 4, soc84), 1 * S);
    assert_false(bl_tracker_tick(&t, 2 * S));
    assert_true(bl_tracker_tick(&t, 3 * S));
    assert_int_equal(t.link.state, BL_LINK_STALE);
    assert_true(bl_tracker_tick(&t, 4 * S));
    assert_int_equal(t.link.state, BL_LINK_DOWN);
}

static void inverter_and_unknown_frames_do_not_make_the_link_up(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    struct bl_track_note n = feed(&t, fr(0x305, 8, zeros), 1 * S);
    assert_int_equal(n.kind, BL_TRACK_HEARTBEAT);
    n = feed(&t, fr(0x123, 2, zeros), 1 * S + 10 * MS);
    assert_int_equal(n.kind, BL_TRACK_UNKNOWN);
    assert_int_equal(n.err, BL_ERR_UNKNOWN_ID);
    assert_int_equal(t.link.state, BL_LINK_DOWN);
    assert_int_equal(t.link.frames, 2);
    assert_int_equal(t.link.unknown, 1);
    assert_int_equal(t.link.errors, 0);
    assert_int_equal(t.link.last_frame_us, 0);
    assert_int_equal(bl_tracker_id_count(&t), 2);
}

static void heartbeat_seen_age_and_period(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    assert_false(t.link.heartbeat_seen);
    (void)feed(&t, fr(0x305, 8, zeros), 10 * S);
    assert_true(t.link.heartbeat_seen);
    assert_int_equal(t.link.heartbeat_period_us, 0); /* one frame: period unknown */
    (void)feed(&t, fr(0x305, 8, zeros), 11 * S);
    assert_int_equal(t.link.heartbeat_period_us, 1 * S);
    (void)feed(&t, fr(0x305, 8, zeros), 12 * S);
    assert_int_equal(t.link.heartbeat_period_us, 1 * S);
    /* 0.8 s interval: 1 s + (0.8 s - 1 s) / 8 = 0.975 s */
    (void)feed(&t, fr(0x305, 8, zeros), 12 * S + 800 * MS);
    assert_int_equal(t.link.heartbeat_period_us, 975 * MS);
    assert_int_equal(t.link.heartbeat_last_us, 12 * S + 800 * MS);
    /* a 60 s outage is not a period */
    (void)feed(&t, fr(0x305, 8, zeros), 72 * S + 800 * MS);
    assert_int_equal(t.link.heartbeat_period_us, 975 * MS);
    /* a 29-bit 0x305 (Schneider XW Pro, can-profiles.md 1.8) is a heartbeat too */
    struct bl_frame x = fr(0x305, 8, zeros);
    x.flags = BL_FRAME_EXT;
    struct bl_track_note n;
    bl_tracker_frame(&t, &x, 73 * S + 800 * MS, stub_decode, NULL, &n);
    assert_int_equal(n.kind, BL_TRACK_HEARTBEAT);
    assert_int_equal(t.link.heartbeat_last_us, 73 * S + 800 * MS);
}

/* Any profile's keep-alive, 29-bit only (Pylon HV's poll 0x4200, can-profiles.md 6.2), names
 * the inverter in the state; without keep-alives configured 0x305 is an ordinary frame. */
static void keepalive_from_the_profile_names_the_inverter(void **state)
{
    (void)state;
    struct bl_tracker t;
    struct bl_tracker_opts o = {0};
    o.keepalive[0] = (struct bl_keepalive){0x4200, true, false, "hv-0x4200"};
    o.keepalive[1] = pylon_ka;
    o.n_keepalive = 2;
    tinit(&t, &o, 0);
    assert_null(t.state.inverter);
    struct bl_frame poll = fr(0x4200, 8, zeros);
    poll.flags = BL_FRAME_EXT;
    struct bl_track_note n;
    bl_tracker_frame(&t, &poll, 1 * S, stub_decode, NULL, &n);
    assert_int_equal(n.kind, BL_TRACK_HEARTBEAT);
    assert_true(t.link.heartbeat_seen);
    assert_string_equal(t.state.inverter, "hv-0x4200");
    assert_int_equal(t.link.state, BL_LINK_DOWN);
    /* the same id as an 11-bit frame is not that keep-alive (nor a valid frame) */
    poll.flags = 0;
    bl_tracker_frame(&t, &poll, 2 * S, stub_decode, NULL, &n);
    assert_int_not_equal(n.kind, BL_TRACK_HEARTBEAT);
    n = feed(&t, fr(0x305, 8, zeros), 3 * S);
    assert_int_equal(n.kind, BL_TRACK_HEARTBEAT);
    assert_string_equal(t.state.inverter, "pylontech-0x305");
    /* the inverter name survives battery frames */
    (void)feed(&t, fr(0x355, 4, soc84), 4 * S);
    assert_string_equal(t.state.inverter, "pylontech-0x305");

    struct bl_tracker bare;
    bl_tracker_init(&bare, NULL, 0);
    n = feed(&bare, fr(0x305, 8, zeros), 1 * S);
    assert_int_equal(n.kind, BL_TRACK_UNKNOWN);
    assert_false(bare.link.heartbeat_seen);
    assert_null(bare.state.inverter);
}

static void state_power_and_field_age(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    assert_int_equal(bl_tracker_field_age(&t, BL_F_SOC, 1 * S), -1);
    (void)feed(&t, fr(0x355, 4, soc84), 1 * S);
    (void)feed(&t, fr(0x356, 6, meas), 1 * S + 5 * MS);
    (void)feed(&t, fr(0x35E, 8, (const uint8_t *)"PYLON   "), 1 * S + 9 * MS);
    assert_int_equal(t.state.v[BL_F_SOC], 8400);
    assert_int_equal(t.state.v[BL_F_SOH], 96);
    assert_int_equal(t.state.v[BL_F_VOLTAGE], 49870);
    assert_int_equal(t.state.v[BL_F_CURRENT], -27900);
    assert_int_equal(t.state.v[BL_F_TEMPERATURE], 363);
    /* 49.87 V x -27.9 A = -1391.373 W -> -13914 x 0.1 W */
    assert_true(bl_battery_known(&t.state, BL_F_POWER));
    assert_int_equal(t.state.v[BL_F_POWER], -13914);
    assert_string_equal(t.state.manufacturer, "PYLON   ");
    assert_int_equal(t.implausible_mask, 0);
    assert_int_equal(bl_tracker_field_age(&t, BL_F_SOC, 3 * S), 2 * S);
    assert_int_equal(bl_tracker_field_age(&t, BL_F_VOLTAGE, 3 * S), 2 * S - 5 * MS);
    /* a frame of another id does not refresh the power's age */
    (void)feed(&t, fr(0x355, 4, soc84), 2 * S);
    assert_int_equal(t.state.updated_us[BL_F_POWER], 1 * S + 5 * MS);
}

static void implausible_values_are_flagged_and_counted(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    static const uint8_t soc150[] = {0x96, 0x00, 0x64, 0x00}; /* SOC 150 % */
    struct bl_track_note n = feed(&t, fr(0x355, 4, soc150), 1 * S);
    assert_int_equal(n.kind, BL_TRACK_IMPLAUSIBLE);
    assert_int_equal(n.field, BL_F_SOC);
    assert_int_equal(n.value, 15000);
    assert_int_equal(t.implausible_mask, 1u << BL_F_SOC);
    assert_int_equal(t.link.implausible, 1);
    /* voltage 0: flagged, and no power is derived from it */
    static const uint8_t v0[] = {0x00, 0x00, 0x64, 0x00, 0xC8, 0x00}; /* 0 V, 10 A, 20 degC */
    n = feed(&t, fr(0x356, 6, v0), 2 * S);
    assert_int_equal(n.kind, BL_TRACK_IMPLAUSIBLE);
    assert_int_equal(n.field, BL_F_VOLTAGE);
    assert_int_equal(t.implausible_mask, (1u << BL_F_SOC) | (1u << BL_F_VOLTAGE));
    assert_false(bl_battery_known(&t.state, BL_F_POWER));
    assert_int_equal(t.link.implausible, 2);
    /* plausible values clear the flags */
    (void)feed(&t, fr(0x355, 4, soc84), 3 * S);
    (void)feed(&t, fr(0x356, 6, meas), 3 * S + 1 * MS);
    assert_int_equal(t.implausible_mask, 0);
    assert_true(bl_battery_known(&t.state, BL_F_POWER));
    assert_int_equal(t.link.implausible, 2);
}

static void two_senders_are_detected_and_not_averaged(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    /* battery A (SOC 84 %) and battery B (SOC 26 %) both send 0x355 once a second */
    struct bl_track_note n = feed(&t, fr(0x355, 4, soc84), 10 * S);
    assert_int_equal(n.kind, BL_TRACK_APPLIED);
    n = feed(&t, fr(0x355, 4, soc26), 10 * S + 300 * MS);
    assert_int_equal(n.kind, BL_TRACK_APPLIED); /* one change alone may be real */
    n = feed(&t, fr(0x355, 4, soc84), 11 * S);
    assert_int_equal(n.kind, BL_TRACK_CONFLICT);
    assert_true(n.conflict_new);
    assert_int_equal(n.field, BL_F_SOC);
    assert_int_equal(n.value, 8400);
    assert_int_equal(n.other, 2600);
    assert_int_equal(t.state.v[BL_F_SOC], 8400);
    assert_int_equal(t.link.conflicts, 1);
    assert_true(bl_tracker_conflict_active(&t, 11 * S));

    n = feed(&t, fr(0x355, 4, soc26), 11 * S + 300 * MS);
    assert_int_equal(n.kind, BL_TRACK_CONFLICT);
    assert_false(n.conflict_new);
    assert_int_equal(t.state.v[BL_F_SOC], 8400); /* B dropped, never 55 % */
    assert_int_equal(t.state.v[BL_F_SOH], 96);
    n = feed(&t, fr(0x355, 4, soc84), 12 * S);
    assert_int_equal(n.kind, BL_TRACK_APPLIED);
    assert_int_equal(t.state.updated_us[BL_F_SOC], 12 * S);
    assert_int_equal(t.link.conflicts, 2);
    const struct bl_id_stat *s = bl_tracker_find(&t, 0x355, false);
    assert_non_null(s);
    assert_int_equal(s->conflicts, 2);
    assert_int_equal(s->frames, 5);
    /* B goes away: the episode ends down_after (30 s) after its last frame */
    assert_true(bl_tracker_conflict_active(&t, 41 * S + 299 * MS));
    assert_false(bl_tracker_conflict_active(&t, 41 * S + 300 * MS));
}

static void one_sender_changing_is_not_a_conflict(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    /* a step that stays */
    assert_int_equal(feed(&t, fr(0x355, 4, soc84), 1 * S).kind, BL_TRACK_APPLIED);
    assert_int_equal(feed(&t, fr(0x355, 4, soc26), 2 * S).kind, BL_TRACK_APPLIED);
    assert_int_equal(feed(&t, fr(0x355, 4, soc26), 3 * S).kind, BL_TRACK_APPLIED);
    /* back and forth at the normal 1 s period: three frames span 2 s > 1.5 s */
    assert_int_equal(feed(&t, fr(0x355, 4, soc84), 4 * S).kind, BL_TRACK_APPLIED);
    assert_int_equal(feed(&t, fr(0x355, 4, soc26), 5 * S).kind, BL_TRACK_APPLIED);
    assert_int_equal(t.state.v[BL_F_SOC], 2600);
    /* current swinging at 10 frames/s: current is not compared */
    static const uint8_t chg[] = {0x7B, 0x13, 0x64, 0x00, 0x6B, 0x01}; /* +10.0 A */
    for (int i = 0; i < 10; i++)
        assert_int_equal(feed(&t, fr(0x356, 6, i % 2 ? chg : meas), 6 * S + i * 100 * MS).kind,
                         BL_TRACK_APPLIED);
    /* SOC moving by 1 % (within the 2 % tolerance) at 10 frames/s */
    static const uint8_t soc27[] = {0x1B, 0x00, 0x64, 0x00};
    for (int i = 0; i < 6; i++)
        assert_int_equal(feed(&t, fr(0x355, 4, i % 2 ? soc27 : soc26), 8 * S + i * 100 * MS).kind,
                         BL_TRACK_APPLIED);
    assert_int_equal(t.link.conflicts, 0);
    assert_false(bl_tracker_conflict_active(&t, 9 * S));
}

static void manufacturer_names_from_two_senders(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    (void)feed(&t, fr(0x35E, 8, (const uint8_t *)"PYLON   "), 1 * S);
    (void)feed(&t, fr(0x35E, 5, (const uint8_t *)"PYTES"), 1 * S + 100 * MS);
    struct bl_track_note n = feed(&t, fr(0x35E, 8, (const uint8_t *)"PYLON   "), 2 * S);
    assert_int_equal(n.kind, BL_TRACK_CONFLICT);
    assert_int_equal(n.field, BL_F_MANUFACTURER);
    n = feed(&t, fr(0x35E, 5, (const uint8_t *)"PYTES"), 2 * S + 100 * MS);
    assert_int_equal(n.kind, BL_TRACK_CONFLICT);
    assert_string_equal(t.state.manufacturer, "PYLON   ");
}

static void bad_frames_are_counted(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    struct bl_track_note n = feed(&t, fr(0x355, 3, soc84), 1 * S); /* short */
    assert_int_equal(n.kind, BL_TRACK_BAD);
    assert_int_equal(n.err, BL_ERR_SHORT);
    assert_string_equal(n.why.what, "0x355 shorter than 4 bytes");
    assert_int_equal(n.why.byte, 3);
    assert_int_equal(t.link.errors, 1);
    assert_int_equal(t.link.state, BL_LINK_DOWN);
    assert_false(bl_battery_known(&t.state, BL_F_SOC));

    struct bl_frame e = fr(BL_CAN_ERR_BUSOFF, 8, zeros);
    e.flags = BL_FRAME_ERR;
    bl_tracker_frame(&t, &e, 2 * S, stub_decode, NULL, &n);
    assert_int_equal(n.kind, BL_TRACK_BAD);
    assert_int_equal(t.error_frames, 1);
    struct bl_frame r = fr(0x355, 0, NULL);
    r.flags = BL_FRAME_RTR;
    bl_tracker_frame(&t, &r, 3 * S, stub_decode, NULL, &n);
    struct bl_frame big = fr(0x355, 4, soc84);
    big.len = 9; /* invalid */
    bl_tracker_frame(&t, &big, 4 * S, stub_decode, NULL, NULL);
    assert_int_equal(t.link.errors, 4);
    assert_int_equal(t.decode_errors, 3);
    assert_int_equal(t.link.frames, 4);
    assert_false(bl_battery_known(&t.state, BL_F_SOC));
}

static void frame_rates_per_id(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    /* 0x355 at 1 Hz from 0.2 s, 0x356 at 10 Hz, for one 5 s window */
    for (int i = 0; i < 50; i++) {
        (void)feed(&t, fr(0x356, 6, meas), 50 * MS + i * 100 * MS);
        if (i % 10 == 1) /* after the frame at i x 100 + 50 ms: 0.2, 1.2 ... 4.2 s */
            (void)feed(&t, fr(0x355, 4, soc84), 200 * MS + (i / 10) * S);
    }
    assert_false(bl_tracker_tick(&t, 4900 * MS));
    assert_int_equal(bl_tracker_find(&t, 0x355, false)->rate_mhz, 0); /* window still open */
    (void)bl_tracker_tick(&t, 5 * S);
    assert_int_equal(bl_tracker_find(&t, 0x355, false)->rate_mhz, 1000);  /* 4 periods in 4 s */
    assert_int_equal(bl_tracker_find(&t, 0x356, false)->rate_mhz, 10000); /* 49 in 4.9 s */
    /* all frames: 55 frames from 0.05 s to 4.95 s -> 54 / 4.9 s = 11.020 Hz */
    assert_int_equal(t.rate_mhz, 11020);
    /* silent window -> 0 */
    (void)bl_tracker_tick(&t, 10 * S);
    assert_int_equal(bl_tracker_find(&t, 0x355, false)->rate_mhz, 0);
    assert_int_equal(t.rate_mhz, 0);
    /* one frame in a window: 1 per 5 s = 200 mHz */
    (void)feed(&t, fr(0x355, 4, soc84), 12 * S);
    (void)bl_tracker_tick(&t, 15 * S);
    assert_int_equal(bl_tracker_find(&t, 0x355, false)->rate_mhz, 200);
}

static void id_table_full(void **state)
{
    (void)state;
    struct bl_tracker t;
    tinit(&t, NULL, 0);
    for (uint32_t i = 0; i < 40; i++)
        (void)feed(&t, fr(0x600 + i, 1, zeros), 1 * S);
    assert_int_equal(bl_tracker_id_count(&t), BL_TRACKER_MAX_IDS);
    assert_int_equal(t.other_ids, 8);
    assert_int_equal(t.link.frames, 40);
    assert_int_equal(t.link.unknown, 40);
    assert_null(bl_tracker_id(&t, BL_TRACKER_MAX_IDS));
    assert_int_equal(bl_tracker_id(&t, 0)->id, 0x600);
    assert_null(bl_tracker_find(&t, 0x620, false));
    /* 11-bit and 29-bit ids with the same number are different ids */
    struct bl_frame x = fr(0x600, 1, zeros);
    x.flags = BL_FRAME_EXT;
    bl_tracker_frame(&t, &x, 2 * S, stub_decode, NULL, NULL);
    assert_null(bl_tracker_find(&t, 0x600, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(link_states_up_stale_down_and_back),
        cmocka_unit_test(custom_thresholds),
        cmocka_unit_test(inverter_and_unknown_frames_do_not_make_the_link_up),
        cmocka_unit_test(heartbeat_seen_age_and_period),
        cmocka_unit_test(keepalive_from_the_profile_names_the_inverter),
        cmocka_unit_test(state_power_and_field_age),
        cmocka_unit_test(implausible_values_are_flagged_and_counted),
        cmocka_unit_test(two_senders_are_detected_and_not_averaged),
        cmocka_unit_test(one_sender_changing_is_not_a_conflict),
        cmocka_unit_test(manufacturer_names_from_two_senders),
        cmocka_unit_test(bad_frames_are_counted),
        cmocka_unit_test(frame_rates_per_id),
        cmocka_unit_test(id_table_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
