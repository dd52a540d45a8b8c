/* SPDX-License-Identifier: MIT */
/* test_site.c: the site state: signs from a meter datagram and an inverter reading, link ageing
 * up -> stale -> down with the fields of a stale input dropping out, counters, the field table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "batlink/goodwe.h"
#include "batlink/site.h"
#include "batlink/site_json.h"
#include "batlink/speedwire.h"

static void signs_and_ageing(void **state)
{
    (void)state;
    struct bl_site s;
    bl_site_init(&s);
    assert_int_equal(bl_site_add_input(&s, BL_SITE_SMA_EM, "sma-em:lo"), 0);
    assert_int_equal(bl_site_add_input(&s, BL_SITE_GOODWE, "goodwe:127.0.0.1"), 1);
    double v;
    assert_false(bl_site_value(&s, BL_SITE_GRID_POWER, &v));
    assert_int_equal(s.in[0].link, BL_SITE_LINK_DOWN);

    struct bl_sma_em m = {0};
    m.known = 1u << BL_SMA_EM_P_IMPORT | 1u << BL_SMA_EM_P_EXPORT | 1u << BL_SMA_EM_E_IMPORT;
    m.p_export_dw = 6997; /* exporting 699.7 W */
    m.e_import_ws = 0x03950e5180ull;
    m.serial = 42;
    bl_site_apply_sma(&s, 0, &m, 1000000);
    assert_true(bl_site_value(&s, BL_SITE_GRID_POWER, &v));
    assert_true(v == -700);
    assert_true(bl_site_value(&s, BL_SITE_GRID_IMPORT_KWH, &v));
    assert_true(v > 4273.79 && v < 4273.7905);
    assert_false(bl_site_value(&s, BL_SITE_GRID_EXPORT_KWH, &v));
    assert_int_equal(s.in[0].link, BL_SITE_LINK_UP);

    struct bl_gw_state g = {0};
    g.known = 1u << BL_GW_BATTERY | 1u << BL_GW_SOC;
    g.charge_w = 1500;
    g.soc_pct = 55;
    bl_site_apply_gw(&s, 1, &g, 1500000);
    assert_true(bl_site_value(&s, BL_SITE_OTHER_BAT_POWER, &v));
    assert_true(v == 1500);

    /* 2.9 s after the meter's last datagram: still up */
    assert_int_equal(bl_site_tick(&s, 1000000 + BL_SITE_STALE_US - 1), 0);
    assert_true(bl_site_value(&s, BL_SITE_GRID_POWER, &v));
    /* 3 s: the meter is stale, its fields drop out, the inverter's stay */
    assert_int_equal(bl_site_tick(&s, 1000000 + BL_SITE_STALE_US), 1u);
    assert_int_equal(s.in[0].link, BL_SITE_LINK_STALE);
    assert_false(bl_site_value(&s, BL_SITE_GRID_POWER, &v));
    assert_false(bl_site_value(&s, BL_SITE_GRID_IMPORT_KWH, &v));
    assert_true(bl_site_value(&s, BL_SITE_OTHER_BAT_POWER, &v));
    /* 10 s: down; the inverter went stale at 4.5 s */
    assert_int_equal(bl_site_tick(&s, 1000000 + BL_SITE_DOWN_US), 3u);
    assert_int_equal(s.in[0].link, BL_SITE_LINK_DOWN);
    assert_int_equal(s.in[1].link, BL_SITE_LINK_STALE);
    assert_false(bl_site_value(&s, BL_SITE_OTHER_BAT_POWER, &v));
    /* a good reading brings it back */
    bl_site_apply_sma(&s, 0, &m, 12000000);
    assert_int_equal(bl_site_tick(&s, 12000001), 2u); /* the inverter: stale -> down */
    assert_true(bl_site_value(&s, BL_SITE_GRID_POWER, &v));

    bl_site_bad(&s, 0, BL_SITE_BAD_MALFORMED, "no \"SMA\\0\" signature");
    bl_site_foreign(&s, 0);
    bl_site_timeout(&s, 1);
    assert_int_equal(s.in[0].bad, 1);
    assert_int_equal(s.in[0].foreign, 1);
    assert_int_equal(s.in[1].timeouts, 1);
    assert_int_equal(s.in[0].good, 2);
}

static void table_and_limits(void **state)
{
    (void)state;
    struct bl_site s;
    bl_site_init(&s);
    for (int i = 0; i < BL_SITE_MAX_INPUTS; i++)
        assert_int_equal(bl_site_add_input(&s, BL_SITE_GOODWE, "goodwe:h"), i);
    assert_int_equal(bl_site_add_input(&s, BL_SITE_GOODWE, "goodwe:h"), -1);
    char longuri[BL_SITE_URI_MAX + 2];
    memset(longuri, 'x', sizeof longuri - 1);
    longuri[sizeof longuri - 1] = '\0';
    bl_site_init(&s);
    assert_int_equal(bl_site_add_input(&s, BL_SITE_GOODWE, longuri), -1);
    for (int f = 0; f < BL_SITE_F__COUNT; f++) {
        const struct bl_site_field_desc *d = bl_site_field_desc((enum bl_site_field)f);
        assert_non_null(d);
        assert_int_equal(d->id, f);
        assert_non_null(d->key);
        assert_non_null(d->prom_name);
    }
    assert_string_equal(bl_site_field_desc(BL_SITE_GRID_IMPORT_KWH)->ha_state_class,
                        "total_increasing");
    assert_null(bl_site_field_desc(BL_SITE_F__COUNT));
    assert_string_equal(bl_site_link_name(BL_SITE_LINK_STALE), "stale");
}

/* The `site` JSON object: known fields under their keys, unknown ones absent, inputs with links. */
static void json_object(void **state)
{
    (void)state;
    struct bl_site s;
    bl_site_init(&s);
    assert_int_equal(bl_site_add_input(&s, BL_SITE_SMA_EM, "sma-em:eth0?serial=7"), 0);
    assert_int_equal(bl_site_add_input(&s, BL_SITE_GOODWE, "goodwe:10.0.0.9"), 1);
    struct bl_sma_em m = {0};
    m.known = 1u << BL_SMA_EM_P_IMPORT | 1u << BL_SMA_EM_P_EXPORT | 1u << BL_SMA_EM_E_EXPORT;
    m.p_import_dw = 6347;
    m.e_export_ws = 0x000000000da0c3a8ull; /* 229 kWh-ish, any value */
    m.serial = 7;
    bl_site_apply_sma(&s, 0, &m, 1000000);
    bl_site_bad(&s, 1, BL_SITE_BAD_CHECKSUM, "Modbus answer CRC mismatch");
    cJSON *o = bl_site_json(&s, 1500000);
    assert_non_null(o);
    assert_true(cJSON_GetObjectItem(o, "grid_power_w")->valuedouble == 635);
    assert_non_null(cJSON_GetObjectItem(o, "grid_export_kwh"));
    assert_null(cJSON_GetObjectItem(o, "grid_import_kwh"));
    assert_null(cJSON_GetObjectItem(o, "other_inverter_battery_power_w"));
    cJSON *in = cJSON_GetObjectItem(o, "inputs");
    assert_int_equal(cJSON_GetArraySize(in), 2);
    cJSON *a = cJSON_GetArrayItem(in, 0), *b = cJSON_GetArrayItem(in, 1);
    assert_string_equal(cJSON_GetObjectItem(a, "link")->valuestring, "up");
    assert_true(cJSON_GetObjectItem(a, "age_s")->valuedouble == 0.5);
    assert_true(cJSON_GetObjectItem(a, "serial")->valuedouble == 7);
    assert_string_equal(cJSON_GetObjectItem(b, "link")->valuestring, "down");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "age_s")));
    assert_string_equal(cJSON_GetObjectItem(b, "last_error")->valuestring,
                        "Modbus answer CRC mismatch");
    assert_true(cJSON_GetObjectItem(b, "bad")->valuedouble == 1);
    cJSON *by = cJSON_GetObjectItem(b, "bad_by");
    assert_int_equal(cJSON_GetArraySize(by), 1);
    assert_true(cJSON_GetObjectItem(by, "checksum")->valuedouble == 1);
    assert_int_equal(s.in[1].bad_by[BL_SITE_BAD_CHECKSUM], 1);
    assert_string_equal(bl_site_bad_name(BL_SITE_BAD__COUNT), "unknown");
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signs_and_ageing),
        cmocka_unit_test(table_and_limits),
        cmocka_unit_test(json_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
