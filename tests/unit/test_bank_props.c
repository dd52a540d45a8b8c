/* SPDX-License-Identifier: MIT */
/* test_bank_props.c: properties of the bank (several packs as one battery, bank.h) over
 * thousands of random traces of 2-4 packs (fixed seed). Each pack runs a real controller
 * (control.h) fed random readings with random silences, blocks (MOSFET off, protection, cold,
 * full) and limits; the bank combines them. Checked at every step: the combined limit never
 * exceeds any online pack's limit x packs online; it never rises at a step where a pack drops;
 * it is 0 in a direction any online pack blocks; SOC stays within the online packs' range; and
 * the failsafe timing of design.md section 8 holds for the bank: limits 0 and the communication
 * alarm within stale_after + one period of the last valid reading of the last pack, or as soon
 * as fewer than min_packs are online. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/bank.h"
#include "batlink/control.h"

#define S      1000000LL
#define TRACES 2000
#define STEPS  300

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int32_t between(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* A random valid 4-cell reading; sometimes a block in one direction. */
static struct bl_bms reading(void)
{
    struct bl_bms b;
    bl_bms_init(&b);
    b.cell_count = 4;
    uint32_t sum = 0;
    int base = between(3000, 3400);
    for (unsigned i = 0; i < 4; i++) {
        b.cell_mv[i] = (uint16_t)(base + between(-20, 20));
        sum += b.cell_mv[i];
    }
    b.pack_mv = sum;
    b.current_ma = between(-50000, 50000);
    b.soc_pct = (uint8_t)between(0, 100);
    b.temp_1_dc = (int16_t)(between(0, 9) == 0 ? between(-100, -10) : between(50, 350));
    b.temp_2_dc = (int16_t)between(50, 350);
    b.status = BL_BMS_ST_CHARGE_MOSFET | BL_BMS_ST_DISCHARGE_MOSFET;
    int k = between(0, 19);
    if (k == 0) b.status &= ~BL_BMS_ST_CHARGE_MOSFET;
    if (k == 1) b.status &= ~BL_BMS_ST_DISCHARGE_MOSFET;
    if (k == 2) b.alarms = BL_BMS_AL_CELL_OVERVOLTAGE;
    if (k == 3) b.alarms = BL_BMS_AL_CELL_UNDERVOLTAGE;
    b.max_charge_ma = between(10000, 200000);
    b.max_discharge_ma = between(10000, 200000);
    b.cell_ovp_mv = 3650;
    b.full_mah = (uint32_t)between(50000, 300000);
    b.known = 1ull << BL_BMS_CELLS | 1ull << BL_BMS_PACK_VOLTAGE | 1ull << BL_BMS_CURRENT |
              1ull << BL_BMS_SOC | 1ull << BL_BMS_TEMP_1 | 1ull << BL_BMS_TEMP_2 |
              1ull << BL_BMS_ALARMS | 1ull << BL_BMS_STATUS | 1ull << BL_BMS_MAX_CHARGE_CURRENT |
              1ull << BL_BMS_MAX_DISCHARGE_CURRENT | 1ull << BL_BMS_CELL_OVP |
              1ull << BL_BMS_FULL_CAPACITY;
    return b;
}

static void test_bank_properties(void **state)
{
    (void)state;
    rng_state = 0x5eed0b41c0ffeeull;
    struct bl_ctl_config cc;
    bl_ctl_config_defaults(&cc);
    cc.period_us = S / 5;
    cc.stale_after_us = 1 * S;
    cc.dead_after_us = 3 * S;
    unsigned drops = 0, blocks = 0, failsafes = 0, steps_ok = 0;
    for (unsigned tr = 0; tr < TRACES; tr++) {
        unsigned n = (unsigned)between(2, 4);
        struct bl_bank_config bc;
        bl_bank_config_defaults(&bc);
        bc.min_packs = (unsigned)between(1, (int32_t)n);
        bc.hold_us = between(0, 3) * S;
        bc.ramp_ma_per_s = between(1000, 20000);
        struct bl_bank bank;
        bl_bank_init(&bank, &bc);
        struct bl_ctl ctl[4];
        struct bl_bank_pack packs[4];
        bl_us last[4] = {0};
        bool silent[4] = {false};
        for (unsigned i = 0; i < n; i++) {
            bl_ctl_init(&ctl[i], &cc, 0);
            memset(&packs[i], 0, sizeof packs[i]);
        }
        int32_t prev_c = 0, prev_d = 0;
        uint32_t prev_mask = 0;
        for (unsigned st = 1; st <= STEPS; st++) {
            bl_us now = (bl_us)st * cc.period_us;
            for (unsigned i = 0; i < n; i++) {
                if (between(0, 59) == 0) silent[i] = !silent[i]; /* a pack goes quiet or back */
                if (!silent[i] && between(0, 3) != 0) {
                    struct bl_bms r = reading();
                    if (bl_ctl_feed(&ctl[i], &r, now, NULL) == BL_OK) {
                        packs[i].reading = r;
                        last[i] = now;
                    }
                }
                bl_ctl_step(&ctl[i], now, &packs[i].out);
            }
            struct bl_bank_out o;
            bl_bank_step(&bank, packs, n, now, &o);
            int32_t minc = INT32_MAX, mind = INT32_MAX;
            bool blk_c = false, blk_d = false;
            int soc_lo = 101, soc_hi = -1;
            unsigned fresh = 0;
            for (unsigned i = 0; i < n; i++) {
                if (last[i] != 0 && now - last[i] < cc.stale_after_us) fresh++;
                if (!(o.online_mask >> i & 1u)) continue;
                const struct bl_ctl_out *p = &packs[i].out;
                assert_int_equal(p->state, BL_CTL_OK);
                if (p->charge_current_ma < minc) minc = p->charge_current_ma;
                if (p->discharge_current_ma < mind) mind = p->discharge_current_ma;
                blk_c = blk_c || p->charge_current_ma == 0 || !p->charge_enable;
                blk_d = blk_d || p->discharge_current_ma == 0 || !p->discharge_enable;
                int s = packs[i].reading.soc_pct;
                if (s < soc_lo) soc_lo = s;
                if (s > soc_hi) soc_hi = s;
            }
            /* never above the most restrictive online pack x packs online */
            if (o.online > 0) {
                assert_true((int64_t)o.out.charge_current_ma <= (int64_t)minc * o.online);
                assert_true((int64_t)o.out.discharge_current_ma <= (int64_t)mind * o.online);
                assert_true(o.soc_pct >= soc_lo && o.soc_pct <= soc_hi);
            }
            /* a block by any online pack is a block for the bank */
            if (blk_c) assert_int_equal(o.out.charge_current_ma, 0);
            if (blk_d) assert_int_equal(o.out.discharge_current_ma, 0);
            if (blk_c || blk_d) blocks++;
            /* a drop never raises a limit */
            if ((prev_mask & ~o.online_mask) != 0) {
                assert_true(o.out.charge_current_ma <= prev_c);
                assert_true(o.out.discharge_current_ma <= prev_d);
                drops++;
            }
            /* failsafe: no pack with a reading younger than stale_after, or too few online */
            if (fresh == 0 || o.online < bc.min_packs) {
                assert_true(o.failsafe);
                assert_int_equal(o.out.charge_current_ma, 0);
                assert_int_equal(o.out.discharge_current_ma, 0);
                assert_true(o.out.alarms & BL_ALARM_COMMUNICATION);
                failsafes++;
            } else {
                steps_ok++;
            }
            /* an online pack has a reading younger than stale_after + one period */
            for (unsigned i = 0; i < n; i++)
                if (o.online_mask >> i & 1u) assert_true(now - last[i] <= cc.stale_after_us);
            /* the bank runs on while enough packs are online: a dropped pack's communication
             * alarm is not the bank's (the profile would stop the inverter on it) */
            if (!o.failsafe) assert_false(o.out.alarms & BL_ALARM_COMMUNICATION);
            prev_c = o.out.charge_current_ma;
            prev_d = o.out.discharge_current_ma;
            prev_mask = o.online_mask;
        }
    }
    /* the traces visit every case */
    print_message("bank traces: %u drops, %u blocked steps, %u failsafe steps, %u ok steps\n",
                  drops, blocks, failsafes, steps_ok);
    assert_true(drops > 1000 && blocks > 1000 && failsafes > 1000 && steps_ok > 10000);
}

/* A worked example: two packs 100 Ah and 300 Ah, SOC 40 % and 80 %: SOC 70 %; limits 2 x the
 * lower; voltages 1.2 V apart: the warning; one pack drops: the limits do not rise. */
static void test_bank_example(void **state)
{
    (void)state;
    struct bl_bank_config bc;
    bl_bank_config_defaults(&bc);
    struct bl_bank bank;
    bl_bank_init(&bank, &bc);
    struct bl_bank_pack p[2];
    memset(p, 0, sizeof p);
    for (unsigned i = 0; i < 2; i++) {
        bl_bms_init(&p[i].reading);
        p[i].out.state = BL_CTL_OK;
        p[i].out.transmit = true;
        p[i].out.charge_enable = p[i].out.discharge_enable = true;
        p[i].reading.known |= 1ull << BL_BMS_FULL_CAPACITY;
    }
    p[0].reading.full_mah = 100000;
    p[0].reading.soc_pct = 40;
    p[0].reading.pack_mv = 52000;
    p[0].out.charge_current_ma = 20000;
    p[0].out.discharge_current_ma = 90000;
    p[1].reading.full_mah = 300000;
    p[1].reading.soc_pct = 80;
    p[1].reading.pack_mv = 53200;
    p[1].out.charge_current_ma = 60000;
    p[1].out.discharge_current_ma = 50000;
    struct bl_bank_out o;
    bl_bank_step(&bank, p, 2, 1 * S, &o);
    assert_int_equal(o.soc_pct, 70);
    assert_int_equal(o.out.charge_current_ma, 40000);
    assert_int_equal(o.out.discharge_current_ma, 100000);
    assert_true(o.voltage_mismatch);
    assert_int_equal(o.voltage_mv, 52600);
    p[0].out.state = BL_CTL_STALE; /* the restrictive pack drops: 60 A alone would be a rise */
    bl_bank_step(&bank, p, 2, 2 * S, &o);
    assert_int_equal(o.online, 1);
    assert_int_equal(o.out.charge_current_ma, 40000);
    assert_int_equal(o.out.discharge_current_ma, 50000);
    assert_false(o.failsafe);
    p[1].out.state = BL_CTL_STALE;
    bl_bank_step(&bank, p, 2, 3 * S, &o);
    assert_true(o.failsafe);
    assert_int_equal(o.out.charge_current_ma, 0);
    assert_true(o.out.alarms & BL_ALARM_COMMUNICATION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bank_example),
        cmocka_unit_test(test_bank_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
