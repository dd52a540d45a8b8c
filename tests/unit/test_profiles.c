/* SPDX-License-Identifier: MIT */
/* test_profiles.c: every profile of the registry obeys the table invariants the engine relies on
 * (a broken row must fail here, not on the bus), and the engine features the profiles after
 * Pylontech LV need, on a small table built here: big-endian rows, offsets, negative factors,
 * 29-bit messages, address nibbles, stop and keep-alive. Expected values are worked out by hand
 * from shared/reference/can-profiles.md (6.5 for the Pylon HV arithmetic), never by the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/profile.h"

/* ---- the registry ---- */

static bool names_equal(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Every name and alias of every profile finds that profile and no other. */
static void test_registry(void **state)
{
    (void)state;
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    assert_true(np >= 1);
    assert_ptr_equal(bl_profile_list(NULL), list);
    assert_ptr_equal(bl_profile_find("pylontech"), &bl_profile_pylontech);
    assert_null(bl_profile_find(NULL));
    assert_null(bl_profile_find(""));
    assert_null(bl_profile_find("no-such-profile"));
    for (size_t i = 0; i < np; i++) {
        const struct bl_profile *p = list[i];
        assert_non_null(p->name);
        assert_ptr_equal(bl_profile_find(p->name), p);
        for (const char *const *a = p->aliases; a != NULL && *a != NULL; a++)
            assert_ptr_equal(bl_profile_find(*a), p);
        /* no name or alias is used twice across profiles */
        for (size_t j = 0; j < np; j++) {
            if (j == i) continue;
            const struct bl_profile *q = list[j];
            assert_false(names_equal(p->name, q->name));
            for (const char *const *a = q->aliases; a != NULL && *a != NULL; a++)
                assert_false(names_equal(p->name, *a));
        }
    }
}

/* The list `--profile` errors print: every name, aliases in parentheses, cut at a whole profile. */
static void test_names(void **state)
{
    (void)state;
    char buf[4096];
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    size_t k = bl_profile_names(buf, sizeof buf, true);
    assert_int_equal(k, strlen(buf));
    assert_memory_equal(buf, "pylontech (pylon, pylontech-lv, ", 32);
    for (size_t i = 0; i < np; i++) {
        assert_non_null(strstr(buf, list[i]->name));
        for (const char *const *a = list[i]->aliases; a != NULL && *a != NULL; a++)
            assert_non_null(strstr(buf, *a));
    }
    k = bl_profile_names(buf, sizeof buf, false);
    assert_null(strchr(buf, '('));
    assert_memory_equal(buf, "pylontech", 9);
    /* too small: nothing half-written */
    char small[12];
    k = bl_profile_names(small, sizeof small, true);
    assert_int_equal(k, strlen(small));
    assert_string_equal(small, ", ...");
    assert_int_equal(bl_profile_names(small, 0, true), 0);
}

/* The keep-alives the tracker watches: one per id and width, and none of them is a battery
 * message of any profile (the tracker takes a keep-alive before decoding). */
static void test_keepalives(void **state)
{
    (void)state;
    struct bl_keepalive ka[BL_TRACKER_MAX_KEEPALIVES];
    size_t nk = bl_profile_keepalives(ka, BL_TRACKER_MAX_KEEPALIVES);
    assert_true(nk >= 1);
    assert_int_equal(ka[0].id, 0x305);
    assert_true(ka[0].ext_also);
    assert_string_equal(ka[0].inverter, "pylontech-0x305");
    assert_int_equal(bl_profile_keepalives(ka, 0), 0);
    nk = bl_profile_keepalives(ka, BL_TRACKER_MAX_KEEPALIVES);
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < nk; i++) {
        assert_non_null(ka[i].inverter);
        for (size_t j = i + 1; j < nk; j++)
            assert_false(ka[i].id == ka[j].id && ka[i].ext == ka[j].ext);
        for (size_t p = 0; p < np; p++)
            for (int w = 0; w < 2; w++) {
                if (!(w == ka[i].ext || ka[i].ext_also)) continue;
                const struct bl_msg_desc *m = bl_profile_msg(list[p], ka[i].id, w == 1);
                assert_true(m == NULL || m->dir == BL_DIR_INVERTER_TO_BATTERY);
            }
    }
}

/* ---- table invariants, for every profile ---- */

/* Where the invariant checks are (profile, message, row): named in the failure message. */
static char where[160];
#define CHK(c)                                                                                     \
    do {                                                                                           \
        if (!(c)) fail_msg("%s: %s", where, #c);                                                   \
    } while (0)

static void check_row(const struct bl_profile *p, const struct bl_msg_desc *m,
                      const struct bl_signal_desc *s)
{
    snprintf(where, sizeof where, "%s 0x%X %s", p->name, (unsigned)m->id, s->name);
    CHK(s->len >= 1 && s->start + s->len <= 8u * m->max_len); /* inside the DBC length */
    CHK(s->order == BL_ORDER_LE || s->order == BL_ORDER_BE);
    if (s->order == BL_ORDER_BE) {
        /* byte-aligned, or inside one byte where the order does not matter */
        bool aligned = s->start % 8 == 0 && s->len % 8 == 0;
        bool one_byte = s->start / 8 == (s->start + s->len - 1) / 8;
        CHK(aligned || one_byte);
    }
    if (s->special != NULL) return;
    CHK(s->len <= 32 && s->factor != 0);
    int64_t lo, hi;
    bl_signal_range(s, &lo, &hi);
    CHK(lo <= hi && lo >= INT32_MIN && hi <= INT32_MAX);
    if (s->field == BL_F_NONE) return;
    const struct bl_field_desc *d = bl_field_desc(s->field);
    if (d->kind == BL_FK_BITS || d->kind == BL_FK_BOOL) CHK((s->offset) == (0));
    if (d->kind == BL_FK_BITS) {
        /* DBC name = "alarm_" / "warning_" + the JSON name of the bit */
        CHK((__builtin_popcount(s->mask)) == (1));
        unsigned bit = (unsigned)__builtin_ctz(s->mask);
        char want[64];
        snprintf(want, sizeof want, "%s%s", s->field == BL_F_ALARMS ? "alarm_" : "warning_",
                 s->field == BL_F_ALARMS ? bl_alarm_name(bit) : bl_warning_name(bit));
        CHK(strcmp(s->name, want) == 0);
        return;
    }
    if (d->kind == BL_FK_BOOL) return;
    CHK(strcmp(s->name, d->key) == 0);
    double scale = 1.0;
    for (unsigned e = 0; e < s->decimals; e++)
        scale /= 10.0;
    CHK(scale / d->scale > 0.999999 && scale / d->scale < 1.000001);
}

static void check_msg(const struct bl_profile *p, const struct bl_msg_desc *m)
{
    CHK((m->name) != NULL);
    CHK(bl_profile_msg(p, m->id, m->ext) == m);
    CHK(m->id <= (m->ext ? BL_CAN_EFF_MASK : BL_CAN_SFF_MASK));
    CHK(m->min_len <= m->dlc && m->dlc <= m->max_len && m->max_len <= 8);
    if (m->flags & BL_MSG_ADDR) {
        CHK((m->id & 0xFu) == (0));
        CHK(bl_profile_msg(p, m->id | 0xFu, m->ext) == m);
    }
    if (m->flags & (BL_MSG_POLL | BL_MSG_KEEPALIVE)) CHK((m->dir) == (BL_DIR_INVERTER_TO_BATTERY));
    if (m->flags & (BL_MSG_ANSWER | BL_MSG_CYCLE)) CHK((m->dir) == (BL_DIR_BATTERY_TO_INVERTER));
    if (m->flags & BL_MSG_POLL) CHK(p->ops != NULL && p->ops->respond != NULL);
    /* no other message answers to this id, in either width, at any address */
    for (size_t j = 0; j < p->n_msgs; j++) {
        const struct bl_msg_desc *o = &p->msgs[j];
        if (o == m) continue;
        uint32_t span = (m->flags & BL_MSG_ADDR) ? 16u : 1u;
        for (uint32_t a = 0; a < span; a++) {
            CHK(bl_profile_msg(p, m->id + a, false) != o);
            CHK(bl_profile_msg(p, m->id + a, true) != o);
        }
    }
    for (size_t k = 0; k < m->n_sigs; k++) {
        check_row(p, m, &m->sigs[k]);
        for (size_t j = k + 1; j < m->n_sigs; j++)
            CHK(strcmp(m->sigs[k].name, m->sigs[j].name) != 0);
    }
}

static bool count_sink(void *ctx, const char *s, size_t n)
{
    (void)s;
    *(size_t *)ctx += n;
    return true;
}

static void check_profile(const struct bl_profile *p)
{
    {
        snprintf(where, sizeof where, "profile %s", p->name);
        CHK((p->description) != NULL);
        CHK(p->n_msgs >= 1 && p->msgs != NULL);
        CHK(p->bitrate >= 10000 && p->bitrate <= 1000000);
        CHK(p->variant_of == NULL || p->variant_of != p);
        const struct bl_msg_desc *ka = bl_profile_keepalive(p);
        /* the state's `inverter` name exists exactly when there is a keep-alive to see */
        CHK((ka != NULL) == (p->inverter_name != NULL));
        size_t ncycle = 0;
        for (size_t k = 0; k < p->n_msgs; k++) {
            check_msg(p, &p->msgs[k]);
            ncycle += (p->msgs[k].flags & BL_MSG_CYCLE) != 0;
        }
        /* the burst the bridge and the simulator send: every cycle message, 29-bit included */
        struct bl_battery st;
        bl_battery_init(&st);
        struct bl_frame out[32];
        CHK(bl_profile_encode_cycle(p, &st, out, 32) == (ncycle < 32 ? ncycle : 32));
        /* the DBC writes */
        size_t bytes = 0;
        CHK(bl_profile_write_dbc(p, count_sink, &bytes) == BL_OK);
        CHK(bytes > 100);
    }
}

static const struct bl_profile T;

/* Every registered profile, and the engine test table below. */
static void test_table_invariants(void **state)
{
    (void)state;
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++)
        check_profile(list[i]);
    check_profile(&T);
}

/* Every row of every registered profile states its name's length (`dump` copies keys of known
 * length, engine.c o_key): a row written without it, or with the length of something else (a
 * pointer's sizeof), fails here. Rows of other tables (the one below) may leave it 0 (measured). */
static void test_name_len(void **state)
{
    (void)state;
    size_t np = 0, rows = 0, bad = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++)
        for (size_t k = 0; k < list[i]->n_msgs; k++) {
            const struct bl_msg_desc *m = &list[i]->msgs[k];
            for (size_t r = 0; r < m->n_sigs; r++, rows++) {
                const struct bl_signal_desc *s = &m->sigs[r];
                if (s->name_len == strlen(s->name)) continue;
                print_error("%s %s row %s: name_len %u, name has %zu characters\n", list[i]->name,
                            m->name, s->name, (unsigned)s->name_len, strlen(s->name));
                bad++;
            }
        }
    assert_true(rows > 0);
    assert_int_equal(bad, 0);
}

/* ---- engine features on a table built here ---- */

#define ROWS(a) .sigs = a, .n_sigs = sizeof a / sizeof a[0]

/* 0x4210 as can-profiles.md 6.3 (little-endian, offsets, address nibble, 29-bit). */
static const struct bl_signal_desc t_4210[] = {
    {.name = "voltage_v",
     .len = 16,
     .factor = 100,
     .decimals = 3,
     .unit = "V",
     .field = BL_F_VOLTAGE},
    {.name = "current_a",
     .start = 16,
     .len = 16,
     .factor = 100,
     .decimals = 3,
     .unit = "A",
     .field = BL_F_CURRENT,
     .offset = 30000},
    {.name = "temperature_c",
     .start = 32,
     .len = 16,
     .factor = 1,
     .decimals = 1,
     .unit = "degC",
     .field = BL_F_TEMPERATURE,
     .offset = 1000},
    {.name = "soc_pct",
     .start = 48,
     .len = 8,
     .factor = 100,
     .decimals = 2,
     .unit = "%",
     .field = BL_F_SOC},
    {.name = "soh_pct", .start = 56, .len = 8, .factor = 1, .unit = "%", .field = BL_F_SOH},
};

/* 0x4220 bytes 6-7 per diyBMS: raw = 30000 - I (can-profiles.md 6.3, 6.6): a negative factor. */
static const struct bl_signal_desc t_4220[] = {
    {.name = "discharge_current_limit_a",
     .start = 48,
     .len = 16,
     .factor = -100,
     .decimals = 3,
     .unit = "A",
     .field = BL_F_DISCHARGE_CURRENT_LIMIT,
     .offset = 30000},
};

/* Big-endian rows as BYD HVS 0x1D0 / Growatt (can-profiles.md 7.1, 8), plus a 4-bit row. */
static const struct bl_signal_desc t_1d0[] = {
    {.name = "voltage_v",
     .len = 16,
     .factor = 100,
     .decimals = 3,
     .unit = "V",
     .field = BL_F_VOLTAGE,
     .order = BL_ORDER_BE},
    {.name = "current_a",
     .start = 16,
     .len = 16,
     .is_signed = true,
     .factor = 100,
     .decimals = 3,
     .unit = "A",
     .field = BL_F_CURRENT,
     .order = BL_ORDER_BE},
    {.name = "capacity_ah",
     .start = 32,
     .len = 32,
     .is_signed = true,
     .factor = 1,
     .unit = "Ah",
     .field = BL_F_CAPACITY,
     .order = BL_ORDER_BE},
};

static const struct bl_signal_desc t_1e0[] = {
    {.name = "module_count",
     .start = 4,
     .len = 4,
     .factor = 1,
     .unit = "",
     .field = BL_F_MODULE_COUNT,
     .order = BL_ORDER_BE},
    {.name = "charge_enable",
     .start = 8,
     .len = 1,
     .factor = 1,
     .unit = "",
     .field = BL_F_CHARGE_ENABLE},
};

static unsigned stop_calls, stop_what;

static void t_stop(struct bl_battery *st, unsigned what, bl_us now)
{
    stop_calls++;
    stop_what = what;
    bl_battery_set(st, BL_F_MODULE_COUNT, 7, now);
}

static size_t t_respond(const struct bl_profile *p, const struct bl_frame *req,
                        const struct bl_battery *st, uint8_t addr, struct bl_frame *out, size_t max)
{
    (void)req;
    if (max < 1) return 0;
    return bl_profile_encode(p, 0x4210u + addr, st, &out[0]) == BL_OK ? 1 : 0;
}

static const struct bl_profile_ops t_ops = {.stop = t_stop, .respond = t_respond};

static const struct bl_msg_desc t_msgs[] = {
    {.id = 0x4210,
     .ext = true,
     .name = "ensemble",
     .dlc = 8,
     .max_len = 8,
     .min_len = 8,
     .flags = BL_MSG_CYCLE | BL_MSG_ADDR | BL_MSG_ANSWER,
     ROWS(t_4210)},
    {.id = 0x4220,
     .ext = true,
     .name = "limits",
     .dlc = 8,
     .max_len = 8,
     .min_len = 8,
     .flags = BL_MSG_ADDR | BL_MSG_ANSWER,
     ROWS(t_4220)},
    {.id = 0x1D0,
     .name = "measurements",
     .dlc = 8,
     .max_len = 8,
     .min_len = 4,
     .flags = BL_MSG_CYCLE,
     ROWS(t_1d0)},
    {.id = 0x1E0,
     .name = "small",
     .dlc = 2,
     .min_len = 1,
     .max_len = 2,
     .flags = BL_MSG_CYCLE,
     ROWS(t_1e0)},
    {.id = 0x4200,
     .ext = true,
     .name = "poll",
     .dir = BL_DIR_INVERTER_TO_BATTERY,
     .dlc = 8,
     .max_len = 8,
     .flags = BL_MSG_POLL | BL_MSG_KEEPALIVE,
     .period_ms = 1000},
};

static const struct bl_profile T = {
    .name = "test",
    .description = "engine test table",
    .msgs = t_msgs,
    .n_msgs = sizeof t_msgs / sizeof t_msgs[0],
    .bitrate = 500000,
    .inverter_name = "test-0x4200",
    .fault_alarms = BL_ALARM_SYSTEM_ERROR,
    .ops = &t_ops,
};

static struct bl_frame mk(uint32_t id, bool ext, uint8_t len, const uint8_t *bytes)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.flags = ext ? BL_FRAME_EXT : 0;
    f.len = len;
    memset(f.data, 0xEE, sizeof f.data); /* bytes past len are never read */
    memcpy(f.data, bytes, len);
    return f;
}

#define MK(id, ext, ...)                                                                           \
    mk(id, ext, sizeof((const uint8_t[]){__VA_ARGS__}), (const uint8_t[]){__VA_ARGS__})

static int32_t val(const struct bl_battery *st, enum bl_field f)
{
    assert_true(bl_battery_known(st, f));
    return st->v[f];
}

/* can-profiles.md 6.5: 400.0 V, -15.0 A, 25.0 degC, 80 %, 100 % -> A0 0F 9A 74 E2 04 50 64,
 * here from battery address 3 (0x4213). */
static void test_offsets_and_address(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    struct bl_frame f = MK(0x4213, true, 0xA0, 0x0F, 0x9A, 0x74, 0xE2, 0x04, 0x50, 0x64);
    struct bl_diag why = {0};
    assert_int_equal(bl_profile_decode(&T, &f, 1, &st, &why), BL_OK);
    assert_int_equal(val(&st, BL_F_VOLTAGE), 400000);
    assert_int_equal(val(&st, BL_F_CURRENT), -15000);
    assert_int_equal(val(&st, BL_F_TEMPERATURE), 250);
    assert_int_equal(val(&st, BL_F_SOC), 8000);
    assert_int_equal(val(&st, BL_F_SOH), 100);
    const struct bl_msg_desc *m = bl_profile_msg(&T, 0x4213, true);
    assert_non_null(m);
    assert_int_equal(m->id, 0x4210);
    assert_int_equal(bl_profile_addr(m, 0x4213), 3);
    assert_int_equal(bl_profile_addr(bl_profile_msg(&T, 0x1D0, false), 0x1D0), 0);
    /* the same id as an 11-bit frame, and an id outside the nibble, are not this message */
    assert_null(bl_profile_msg(&T, 0x4213, false));
    assert_null(bl_profile_msg(&T, 0x4203, true));

    /* encode with an address: the id keeps it, the frame is 29-bit, the bytes are 6.5's */
    struct bl_frame out;
    assert_int_equal(bl_profile_encode(&T, 0x4213, &st, &out), BL_OK);
    assert_int_equal(out.id, 0x4213);
    assert_int_equal(out.flags, BL_FRAME_EXT);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.data, f.data, 8);
    /* unknown fields encode as "zero" = the offset: 0 A is 30000 = 0x7530 */
    struct bl_battery empty;
    bl_battery_init(&empty);
    assert_int_equal(bl_profile_encode(&T, 0x4210, &empty, &out), BL_OK);
    assert_int_equal(out.data[2], 0x30);
    assert_int_equal(out.data[3], 0x75);
    assert_int_equal(out.data[4], 0xE8); /* temperature 0 degC = 1000 = 0x03E8 */
    assert_int_equal(out.data[5], 0x03);
    /* saturation at the raw range: +3276.8 A and more is raw 65535 */
    bl_battery_set(&empty, BL_F_CURRENT, 4000000, 0);
    assert_int_equal(bl_profile_encode(&T, 0x4210, &empty, &out), BL_OK);
    assert_int_equal(out.data[2], 0xFF);
    assert_int_equal(out.data[3], 0xFF);
    bl_battery_set(&empty, BL_F_CURRENT, -4000000, 0);
    assert_int_equal(bl_profile_encode(&T, 0x4210, &empty, &out), BL_OK);
    assert_int_equal(out.data[2], 0x00);
    assert_int_equal(out.data[3], 0x00);
    assert_int_equal(bl_profile_encode(&T, 0x4310, &empty, &out), BL_ERR_UNKNOWN_ID);
}

/* raw = 30000 - I: 29850 = 0x749A is a 15.0 A limit, and 15.0 A encodes back to it. */
static void test_negative_factor(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    struct bl_frame f = MK(0x4220, true, 0, 0, 0, 0, 0, 0, 0x9A, 0x74);
    assert_int_equal(bl_profile_decode(&T, &f, 1, &st, NULL), BL_OK);
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), 15000);
    struct bl_frame out;
    bl_battery_set(&st, BL_F_DISCHARGE_CURRENT_LIMIT, 15049, 1); /* 15.0 A */
    assert_int_equal(bl_profile_encode(&T, 0x4220, &st, &out), BL_OK);
    assert_int_equal(out.data[6], 0x9A);
    assert_int_equal(out.data[7], 0x74);
    /* a limit never rounds up (engine.c is_upper_limit): 15.099 A is sent as 15.0 A */
    bl_battery_set(&st, BL_F_DISCHARGE_CURRENT_LIMIT, 15099, 1);
    assert_int_equal(bl_profile_encode(&T, 0x4220, &st, &out), BL_OK);
    assert_int_equal(out.data[6], 0x9A);
    bl_battery_set(&st, BL_F_DISCHARGE_CURRENT_LIMIT, 15100, 1);
    assert_int_equal(bl_profile_encode(&T, 0x4220, &st, &out), BL_OK);
    assert_int_equal(out.data[6], 0x99);
    int64_t lo, hi;
    bl_signal_range(&t_4220[0], &lo, &hi);
    assert_int_equal(lo, (0 - 65535 + 30000) * 100); /* raw 65535: -3553.5 A */
    assert_int_equal(hi, 30000 * 100);               /* raw 0: 3000.0 A */
}

/* High byte first: 02 0F = 527 (52.7 V), FF 9C = -100 (-10.0 A), 00 00 01 2C = 300 Ah. */
static void test_big_endian(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    struct bl_frame f = MK(0x1D0, false, 0x02, 0x0F, 0xFF, 0x9C, 0x00, 0x00, 0x01, 0x2C);
    assert_int_equal(bl_profile_decode(&T, &f, 1, &st, NULL), BL_OK);
    assert_int_equal(val(&st, BL_F_VOLTAGE), 52700);
    assert_int_equal(val(&st, BL_F_CURRENT), -10000);
    assert_int_equal(val(&st, BL_F_CAPACITY), 300);
    struct bl_frame out;
    assert_int_equal(bl_profile_encode(&T, 0x1D0, &st, &out), BL_OK);
    assert_int_equal(out.flags, 0);
    assert_memory_equal(out.data, f.data, 8);
    /* a 4-byte frame: the 32-bit row is absent and skipped, the others decode */
    struct bl_battery st2;
    bl_battery_init(&st2);
    struct bl_frame s4 = MK(0x1D0, false, 0x02, 0x0F, 0xFF, 0x9C);
    assert_int_equal(bl_profile_decode(&T, &s4, 1, &st2, NULL), BL_OK);
    assert_false(bl_battery_known(&st2, BL_F_CAPACITY));
    assert_int_equal(val(&st2, BL_F_CURRENT), -10000);
    /* a row inside one byte reads the same in either order: high nibble 0xA = 10 modules */
    struct bl_frame sm = MK(0x1E0, false, 0xA5, 0x01);
    assert_int_equal(bl_profile_decode(&T, &sm, 1, &st2, NULL), BL_OK);
    assert_int_equal(val(&st2, BL_F_MODULE_COUNT), 10);
    assert_int_equal(val(&st2, BL_F_CHARGE_ENABLE), 1);
    /* dump shows the values, not the byte-swapped raw */
    char line[BL_FORMAT_LINE_MAX];
    bl_profile_format_frame(&T, &f, BL_FMT_JSON, line, sizeof line);
    assert_non_null(strstr(line, "\"voltage_v\":52.7,\"current_a\":-10,\"capacity_ah\":300}"));
    struct bl_frame hv = MK(0x4211, true, 0xA0, 0x0F, 0x9A, 0x74, 0xE2, 0x04, 0x50, 0x64);
    bl_profile_format_frame(&T, &hv, BL_FMT_TEXT, line, sizeof line);
    assert_non_null(strstr(line,
                           "00004211  [8]  A0 0F 9A 74 E2 04 50 64  ensemble: voltage_v=400 V, "
                           "current_a=-15 A, temperature_c=25 degC, soc_pct=80 %"));
}

/* encode_cycle sends 29-bit cycle messages too (address 0). */
static void test_cycle_ext(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    struct bl_frame out[8];
    assert_int_equal(bl_profile_encode_cycle(&T, &st, out, 8), 3);
    assert_int_equal(out[0].id, 0x4210);
    assert_int_equal(out[0].flags, BL_FRAME_EXT);
    assert_int_equal(out[1].id, 0x1D0);
    assert_int_equal(out[2].id, 0x1E0);
    assert_int_equal(bl_profile_encode_cycle(&T, &st, out, 1), 1);
}

struct sbuf {
    char b[16384];
    size_t n;
};

static bool sink(void *ctx, const char *s, size_t n)
{
    struct sbuf *sb = ctx;
    if (sb->n + n >= sizeof sb->b) return false;
    memcpy(sb->b + sb->n, s, n);
    sb->n += n;
    sb->b[sb->n] = '\0';
    return true;
}

/* DBC: Motorola rows start at the MSB of their first byte; offset = -offset x factor. */
static void test_dbc(void **state)
{
    (void)state;
    static struct sbuf sb;
    sb.n = 0;
    assert_int_equal(bl_profile_write_dbc(&T, sink, &sb), BL_OK);
    static const char *const lines[] = {
        "BO_ 2147500560 ensemble: 8 BATTERY\n",
        " SG_ voltage_v : 0|16@1+ (0.1,0) [0|6553.5] \"V\" INVERTER\n",
        " SG_ current_a : 16|16@1+ (0.1,-3000) [-3000|3553.5] \"A\" INVERTER\n",
        " SG_ temperature_c : 32|16@1+ (0.1,-100) [-100|6453.5] \"degC\" INVERTER\n",
        " SG_ discharge_current_limit_a : 48|16@1+ (-0.1,3000) [-3553.5|3000] \"A\" INVERTER\n",
        " SG_ voltage_v : 7|16@0+ (0.1,0) [0|6553.5] \"V\" INVERTER\n",
        " SG_ current_a : 23|16@0- (0.1,0) [-3276.8|3276.7] \"A\" INVERTER\n",
        " SG_ capacity_ah : 39|32@0- (1,0) [-2147483648|2147483647] \"Ah\" INVERTER\n",
        " SG_ module_count : 7|4@0+ (1,0) [0|15] \"\" INVERTER\n",
        "BO_ 2147500544 poll: 8 INVERTER\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (strstr(sb.b, lines[i]) == NULL) fail_msg("DBC lacks: %s\n%s", lines[i], sb.b);
}

static void test_stop(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    const struct bl_profile *p = &bl_profile_pylontech;
    bl_battery_set(&st, BL_F_CHARGE_CURRENT_LIMIT, 50000, 0);
    bl_battery_set(&st, BL_F_DISCHARGE_CURRENT_LIMIT, 60000, 0);
    bl_battery_set(&st, BL_F_CHARGE_ENABLE, 1, 0);
    bl_battery_set(&st, BL_F_DISCHARGE_ENABLE, 1, 0);
    bl_battery_set(&st, BL_F_FORCE_CHARGE_1, 1, 0);
    bl_battery_set(&st, BL_F_CHARGE_VOLTAGE_LIMIT, 53200, 0);
    bl_battery_set(&st, BL_F_WARNINGS, BL_WARN_HIGH_VOLTAGE, 0);
    bl_profile_apply_stop(p, &st, BL_STOP_CHARGE, 5);
    assert_int_equal(val(&st, BL_F_CHARGE_CURRENT_LIMIT), 0);
    assert_int_equal(val(&st, BL_F_CHARGE_ENABLE), 0);
    assert_int_equal(val(&st, BL_F_FORCE_CHARGE_1), 0);
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), 60000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_ENABLE), 1);
    assert_int_equal(val(&st, BL_F_CHARGE_VOLTAGE_LIMIT), 53200);
    assert_false(bl_battery_known(&st, BL_F_ALARMS));
    bl_profile_apply_stop(p, &st, BL_STOP_DISCHARGE | BL_STOP_FAULT, 6);
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), 0);
    assert_int_equal(val(&st, BL_F_DISCHARGE_ENABLE), 0);
    assert_int_equal(val(&st, BL_F_ALARMS), BL_ALARM_COMMUNICATION);
    /* Pylon LV says "fault" with the internal communication warning; others are kept */
    assert_int_equal(val(&st, BL_F_WARNINGS),
                     BL_WARN_HIGH_VOLTAGE | BL_WARN_INTERNAL_COMMUNICATION_FAIL);
    /* the encoded 0x35C says both directions are off */
    struct bl_frame out;
    assert_int_equal(bl_profile_encode(p, 0x35C, &st, &out), BL_OK);
    assert_int_equal(out.data[0], 0x00);

    /* a profile's own fault bits and its stop callback */
    bl_battery_init(&st);
    stop_calls = 0;
    bl_profile_apply_stop(&T, &st, BL_STOP_FAULT, 7);
    assert_int_equal(val(&st, BL_F_ALARMS), BL_ALARM_COMMUNICATION | BL_ALARM_SYSTEM_ERROR);
    assert_false(bl_battery_known(&st, BL_F_WARNINGS));
    assert_int_equal(stop_calls, 1);
    assert_int_equal(stop_what, BL_STOP_FAULT);
    assert_int_equal(val(&st, BL_F_MODULE_COUNT), 7);
}

static void test_keepalive_and_poll(void **state)
{
    (void)state;
    const struct bl_msg_desc *k = bl_profile_keepalive(&bl_profile_pylontech);
    assert_non_null(k);
    assert_int_equal(k->id, 0x305);
    assert_true(k->flags & BL_MSG_EXT_ALSO);
    assert_int_equal(k->period_ms, 1000);
    assert_string_equal(bl_profile_pylontech.inverter_name, "pylontech-0x305");
    k = bl_profile_keepalive(&T);
    assert_non_null(k);
    assert_int_equal(k->id, 0x4200);
    /* the poll is answered through the profile's hook, as the battery at address 2 */
    struct bl_battery st;
    bl_battery_init(&st);
    struct bl_frame req = MK(0x4200, true, 0, 0, 0, 0, 0, 0, 0, 0), out[4];
    assert_int_equal(T.ops->respond(&T, &req, &st, 2, out, 4), 1);
    assert_int_equal(out[0].id, 0x4212);
    static const struct bl_profile none = {.name = "none", .description = "", .n_msgs = 0};
    assert_null(bl_profile_keepalive(&none));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_keepalives),
        cmocka_unit_test(test_table_invariants),
        cmocka_unit_test(test_name_len),
        cmocka_unit_test(test_offsets_and_address),
        cmocka_unit_test(test_negative_factor),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_cycle_ext),
        cmocka_unit_test(test_dbc),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_keepalive_and_poll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
