/* SPDX-License-Identifier: MIT */
/* test_link_hook.c: the transitions of [monitor] on_link_down / on_link_up on GPIO lines, with a
 * mock backend (struct bl_gpio_ops) that records every request and set. link_hook.c lives in the
 * app layer, so this test compiles it in (#include), as style.md rule 14 allows; app__err_key
 * is replaced by one that keeps the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/app/link_hook.c"

static char last_err[1024];

void app__err_key(const struct bl_config *c, const char *section, const char *key, const char *msg)
{
    (void)c;
    snprintf(last_err, sizeof last_err, "[%s] %s: %s", section, key, msg);
}

/* ---- the mock chip: 4 lines, line 3 busy; `fail` makes sets fail ---- */
struct mock {
    int value[4];     /* logical; -1 = not requested */
    char log[64][24]; /* "req 1 0", "set 1 1" */
    unsigned n;
    bool fail;
    unsigned failed;
};

static struct mock mk;

static void rec(const char *what, unsigned line, bool v)
{
    if (mk.n < 64) snprintf(mk.log[mk.n++], sizeof mk.log[0], "%s %u %d", what, line, v ? 1 : 0);
}

static enum bl_err m_open(void *ctx, const struct bl_gpio_spec *s, const char *consumer,
                          bool active, void **line, char err[BL_ERRLEN])
{
    (void)ctx;
    assert_string_equal(consumer, "batlink");
    if (strcmp(s->chip, "mock") != 0) {
        snprintf(err, BL_ERRLEN, "no GPIO chip \"%s\"", s->chip);
        return BL_ERR_USAGE;
    }
    if (s->line >= 4) {
        snprintf(err, BL_ERRLEN, "line %u out of range", s->line);
        return BL_ERR_USAGE;
    }
    if (s->line == 3 || mk.value[s->line] >= 0) {
        snprintf(err, BL_ERRLEN, "line %u is busy", s->line);
        return BL_ERR_USAGE;
    }
    mk.value[s->line] = active;
    rec("req", s->line, active);
    *line = &mk.value[s->line];
    return BL_OK;
}

static enum bl_err m_set(void *ctx, void *line, bool active, char err[BL_ERRLEN])
{
    (void)ctx;
    unsigned i = (unsigned)((int *)line - mk.value);
    if (mk.fail) {
        mk.failed++;
        snprintf(err, BL_ERRLEN, "mock: EIO");
        return BL_ERR_IO;
    }
    mk.value[i] = active;
    rec("set", i, active);
    return BL_OK;
}

static void m_close(void *ctx, void *line)
{
    (void)ctx;
    unsigned i = (unsigned)((int *)line - mk.value);
    rec("rel", i, mk.value[i] != 0);
    mk.value[i] = -1;
}

static const struct bl_gpio_ops mock_ops = {m_open, m_set, m_close, NULL};

static struct bl_config cfg;
static struct app__link_hook hook;
static struct bl_battery batt;

static int setup(void **state)
{
    (void)state;
    memset(&mk, 0, sizeof mk);
    for (unsigned i = 0; i < 4; i++)
        mk.value[i] = -1;
    memset(&cfg, 0, sizeof cfg);
    memset(&batt, 0, sizeof batt);
    last_err[0] = '\0';
    return 0;
}

static int open_keys(const char *down, const char *up)
{
    snprintf(cfg.monitor.on_link_down, sizeof cfg.monitor.on_link_down, "%s", down);
    snprintf(cfg.monitor.on_link_up, sizeof cfg.monitor.on_link_up, "%s", up);
    return app__link_hook_open_with(&hook, &cfg, &mock_ops);
}

static void st(enum bl_link_state s)
{
    app__link_hook_state(&hook, s, &batt, "mock:", 0.0);
}

static void expect_log(const char *const *want, unsigned n)
{
    for (unsigned i = 0; i < n && i < mk.n; i++)
        assert_string_equal(mk.log[i], want[i]);
    assert_int_equal(mk.n, n);
}

/* on_link_down's line: 0 at start-up, a down before the first up is not a loss, 1 once per loss
 * (repeated DOWN / STALE states set nothing), 0 when up again; released at its last value */
static void test_down_line(void **state)
{
    (void)state;
    assert_int_equal(open_keys("gpio:mock:1", ""), -1);
    st(BL_LINK_DOWN); /* start-up: no frame yet */
    st(BL_LINK_UP);
    st(BL_LINK_STALE);
    st(BL_LINK_DOWN);
    st(BL_LINK_DOWN);
    st(BL_LINK_STALE);
    st(BL_LINK_UP);
    st(BL_LINK_UP);
    st(BL_LINK_DOWN);
    app__link_hook_reap(&hook);
    app__link_hook_close(&hook);
    const char *want[] = {"req 1 0", "set 1 1", "set 1 0", "set 1 1", "rel 1 1"};
    expect_log(want, 5);
    assert_int_equal(hook.gpio_errors, 0);
}

/* on_link_up's line, active_low parsed: 1 while the link is up (from the first up), 0 on a loss */
static void test_up_line(void **state)
{
    (void)state;
    assert_int_equal(open_keys("", "gpio:mock:2?active_low=1"), -1);
    st(BL_LINK_DOWN);
    st(BL_LINK_UP);
    st(BL_LINK_STALE);
    st(BL_LINK_UP);
    st(BL_LINK_DOWN);
    st(BL_LINK_UP);
    app__link_hook_close(&hook);
    const char *want[] = {"req 2 0", "set 2 1", "set 2 0", "set 2 1", "rel 2 1"};
    expect_log(want, 5);
}

/* both keys, each with a line and the down one with a command too: the command is argv after
 * the gpio word */
static void test_both_and_command(void **state)
{
    (void)state;
    assert_int_equal(open_keys("gpio:mock:0  true \"a b\"", "gpio:mock:1"), -1);
    assert_int_equal(hook.down.argc, 2);
    assert_string_equal(hook.down.argv[0], "true");
    assert_string_equal(hook.down.argv[1], "a b");
    assert_int_equal(hook.up.argc, 0);
    st(BL_LINK_UP);
    st(BL_LINK_DOWN);
    st(BL_LINK_UP);
    app__link_hook_close(&hook);
    const char *want[] = {"req 0 0", "req 1 0", "set 1 1", "set 0 1", "set 1 0",
                          "set 0 0", "set 1 1", "rel 0 0", "rel 1 1"};
    expect_log(want, 9);
    /* reap the `true` child: poll, at most 10 s */
    for (int i = 0; i < 1000 && hook.pids[0] != 0; i++) {
        app__link_hook_reap(&hook);
        if (hook.pids[0] != 0) usleep(10000);
    }
}

/* a failed set is counted, retried on each tick (reap) until it works, never repeated after */
static void test_set_fails(void **state)
{
    (void)state;
    assert_int_equal(open_keys("gpio:mock:1", ""), -1);
    st(BL_LINK_UP);
    mk.fail = true;
    st(BL_LINK_DOWN);
    assert_int_equal(hook.gpio_errors, 1);
    app__link_hook_reap(&hook);
    app__link_hook_reap(&hook);
    assert_int_equal(hook.gpio_errors, 3);
    mk.fail = false;
    app__link_hook_reap(&hook);
    app__link_hook_reap(&hook);
    st(BL_LINK_DOWN);
    assert_int_equal(hook.gpio_errors, 3);
    app__link_hook_close(&hook);
    const char *want[] = {"req 1 0", "set 1 1", "rel 1 1"};
    expect_log(want, 3);
}

/* bad values: an exit code of 2 and a message naming the key and what is wrong */
static void test_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *down, *up, *msg;
    } bad[] = {
        {"gpio:nochip:1", "", "[monitor] on_link_down: gpio:nochip:1: no GPIO chip \"nochip\""},
        {"gpio:mock:7", "", "[monitor] on_link_down: gpio:mock:7: line 7 out of range"},
        {"", "gpio:mock:3", "[monitor] on_link_up: gpio:mock:3: line 3 is busy"},
        {"gpio:mock:1?x=1", "", "[monitor] on_link_down: gpio:mock:1?x=1: unknown query"},
        {"gpio:mock:-1", "", "[monitor] on_link_down: gpio:mock:-1: line \"-1\" is not an offset"},
        {"gpio:mock:70000", "", "[monitor] on_link_down: gpio:mock:70000: line"},
        {"gpio::1", "", "[monitor] on_link_down: gpio::1: want gpio:CHIP:LINE"},
        {"gpio:mock:1", "gpio:mock:1", "[monitor] on_link_up: gpio:mock:1 is on_link_down's line"},
        {"gpio:mock:1 \"x", "", "[monitor] on_link_down: unbalanced double quote"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        assert_int_equal(open_keys(bad[i].down, bad[i].up), BL_EXIT_USAGE);
        if (strncmp(last_err, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("%s | %s: got \"%s\", want \"%s...\"", bad[i].down, bad[i].up, last_err,
                     bad[i].msg);
        app__link_hook_close(&hook);
    }
}

/* the parser on its own */
static void test_parse(void **state)
{
    (void)state;
    struct bl_gpio_spec s;
    char err[BL_ERRLEN];
    assert_int_equal(bl_gpio_parse("gpio:/dev/gpiochip0:17", &s, err), BL_OK);
    assert_string_equal(s.chip, "/dev/gpiochip0");
    assert_int_equal(s.line, 17);
    assert_false(s.active_low);
    assert_int_equal(bl_gpio_parse("gpio:pinctrl-bcm2711:4?active_low=1", &s, err), BL_OK);
    assert_string_equal(s.chip, "pinctrl-bcm2711");
    assert_int_equal(s.line, 4);
    assert_true(s.active_low);
    assert_int_equal(bl_gpio_parse("gpio:a:b:65535?active_low=0", &s, err), BL_OK);
    assert_string_equal(s.chip, "a:b");
    assert_int_equal(s.line, 65535);
    assert_int_equal(bl_gpio_parse("gpio:x:65536", &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_gpio_parse("gpio:x:", &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_gpio_parse("gpio:x:1?active_low", &s, err), BL_ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_down_line, setup),
        cmocka_unit_test_setup(test_up_line, setup),
        cmocka_unit_test_setup(test_both_and_command, setup),
        cmocka_unit_test_setup(test_set_fails, setup),
        cmocka_unit_test_setup(test_bad_values, setup),
        cmocka_unit_test_setup(test_parse, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
