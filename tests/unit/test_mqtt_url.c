/* SPDX-License-Identifier: MIT */
/* test_mqtt_url.c: the MQTT URL's password never shows -- bl_mqtt_url_redact for messages,
 * bl_mqtt_url_hide_password for argv (issue 9 item 6); expected texts written by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/mqtt.h"

static void redact(const char *url, const char *want)
{
    char out[128];
    bl_mqtt_url_redact(url, out, sizeof out);
    assert_string_equal(out, want);
}

static void redacted_in_messages(void **st)
{
    (void)st;
    redact("mqtt://user:s3cretPW@host:1883", "mqtt://user:***@host:1883");
    redact("mqtts://user:s3cretPW@[::1]:8883", "mqtts://user:***@[::1]:8883");
    /* an unencoded '/', '?', '@' or ':' in the password must not cut the search short */
    redact("mqtt://user:pa/ss?w@rd:x@host", "mqtt://user:***@host");
    redact("http://user:s3cretPW@host", "http://user:***@host");
    redact("user:s3cretPW@host", "user:***@host");
    /* nothing to hide */
    redact("mqtt://user@host", "mqtt://user@host");
    redact("mqtt://host:1883", "mqtt://host:1883");
    redact("", "");
    /* cut to the buffer, always terminated */
    char small[12];
    bl_mqtt_url_redact("mqtt://user:s3cretPW@host", small, sizeof small);
    assert_string_equal(small, "mqtt://user");
}

static void hidden_in_place(void **st)
{
    (void)st;
    char a[] = "mqtt://user:s3cretPW@127.0.0.1:1883";
    assert_true(bl_mqtt_url_hide_password(a));
    assert_string_equal(a, "mqtt://user:********@127.0.0.1:1883");
    char b[] = "mqtt://user@127.0.0.1";
    assert_false(bl_mqtt_url_hide_password(b));
    assert_string_equal(b, "mqtt://user@127.0.0.1");
    char c[] = "mqtt://u:@h"; /* an empty password: nothing to overwrite, text unchanged */
    assert_true(bl_mqtt_url_hide_password(c));
    assert_string_equal(c, "mqtt://u:@h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redacted_in_messages),
        cmocka_unit_test(hidden_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
