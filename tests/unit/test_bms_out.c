/* SPDX-License-Identifier: MIT */
/* test_bms_out.c: every row of the BMS quantity table reaches each of the four outputs the bridge
 * renders from it (JSON, terminal view, /metrics, Home Assistant discovery): adding a row that an
 * output leaves out fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "app/bms_out.h"
#include "batlink/bmscodec.h"

/* A reading in which every item of the table is known, with 2 cells, probes and modules. */
static void full_reading(struct bl_bms *b)
{
    memset(b, 0, sizeof *b);
    b->known = ~0ull;
    b->cell_count = 2;
    b->cell_mv[0] = 3301;
    b->cell_mv[1] = 3305;
    b->temp_count = 2;
    b->module_count = 2;
    for (unsigned m = 0; m < 2; m++)
        b->module[m].known = 0xFFFF;
    snprintf(b->software, sizeof b->software, "11.XW");
    snprintf(b->manufacturer, sizeof b->manufacturer, "TEST");
}

/* Rows Home Assistant discovery carries elsewhere or on purpose not at all, each with why. */
static const char *const not_discovered[] = {
    "cell_voltages_v",  /* the bridge's own cell_N_v entities */
    "temperatures_c",   /* probes: temperature_max_c / temperature_min_c stand for them */
    "balancing",        /* the bridge's own binary sensors */
    "charge_mosfet",    /* " */
    "discharge_mosfet", /* " */
    "soh_pct",          /* no HA device class */
    "remaining_ah",     /* " */
    "full_ah",          /* " */
    "cycles",           /* " */
    "module_count",     /* " */
    "modules_reported", /* " */
    "device_name",      /* text: in the JSON state only */
    "software",         /* text: in the JSON state only */
    "manufacturer",     /* " */
};

static bool listed(const char *key)
{
    for (size_t i = 0; i < sizeof not_discovered / sizeof not_discovered[0]; i++)
        if (strcmp(not_discovered[i], key) == 0) return true;
    return false;
}

static void every_row_in_every_output(void **state)
{
    (void)state;
    static struct bl_bms b;
    full_reading(&b);
    size_t nq = 0;
    const struct bl_bms_qty *t = bl_bms_qty_table(&nq);
    assert_true(nq > 0);

    cJSON *o = cJSON_CreateObject();
    assert_non_null(o);
    app__bms_json(&b, o);

    static char metrics[32768], view[8192];
    size_t k = 0;
    const struct bl_bms *rs[1] = {&b};
    const char *names[1] = {"bms"};
    app__bms_metrics(rs, names, 1, "battery", NULL, false, metrics, sizeof metrics, &k);
    assert_true(k < sizeof metrics - 1);
    size_t kv = 0;
    app__bms_lines(&b, false, view, sizeof view, &kv);
    assert_true(kv < sizeof view - 1);

    static struct app__bms_ents e;
    e.n = 0;
    app__bms_ents_pack(&e, "bridge.bms", "bms", "BMS");
    app__bms_ents_modules(&e, "bridge.bms", 2);

    for (size_t i = 0; i < nq; i++) {
        const struct bl_bms_qty *q = &t[i];
        /* JSON */
        if (cJSON_GetObjectItemCaseSensitive(o, q->key) == NULL) fail_msg("JSON: no %s", q->key);
        /* terminal view: the row's label and a value */
        if (strstr(view, q->label) == NULL) fail_msg("view: no \"%s\" (%s)", q->label, q->key);
        /* /metrics: every number or flag has a family, with its series */
        if (q->kind != BL_BMS_QK_TEXT) {
            if (q->prom_name == NULL) fail_msg("metrics: %s has no prom_name", q->key);
            char want[128];
            snprintf(want, sizeof want, "\n%s{battery=\"battery\"", q->prom_name);
            if (strstr(metrics, want) == NULL) fail_msg("metrics: no %s series", q->prom_name);
        }
        /* discovery: an entity whose template reads the row's JSON key, or listed above */
        char tmpl[96];
        snprintf(tmpl, sizeof tmpl, "value_json.bridge.bms.%s", q->key);
        bool found = false;
        for (unsigned j = 0; j < e.n; j++)
            if (strstr(e.e[j].value_template, tmpl) != NULL) found = true;
        if (found == listed(q->key))
            fail_msg("discovery: %s is %s", q->key,
                     found ? "an entity but listed as not discovered"
                           : "no entity (add it, or list it in not_discovered with why)");
    }
    cJSON_Delete(o);
}

/* Nothing known: no member, no series, no line. */
static void empty_reading_renders_nothing(void **state)
{
    (void)state;
    static struct bl_bms b;
    memset(&b, 0, sizeof b);
    cJSON *o = cJSON_CreateObject();
    assert_non_null(o);
    app__bms_json(&b, o);
    assert_null(o->child);
    cJSON_Delete(o);
    char buf[256] = "";
    size_t k = 0;
    const struct bl_bms *rs[1] = {&b};
    const char *names[1] = {"bms"};
    app__bms_metrics(rs, names, 1, "battery", NULL, false, buf, sizeof buf, &k);
    app__bms_lines(&b, false, buf, sizeof buf, &k);
    assert_int_equal(k, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_in_every_output),
        cmocka_unit_test(empty_reading_renders_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
