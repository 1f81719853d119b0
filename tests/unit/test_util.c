/*
 * test_util.c - hex ids, UTF-8 validation, time and duration parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sightline.h"
#include "common/slc_util.h"

static void test_hex(void **state)
{
    (void)state;
    uint8_t id[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    char s[17];
    slc_hex_encode(id, 8, s);
    assert_string_equal(s, "00f067aa0ba902b7");
    uint8_t back[8];
    assert_int_equal(slc_hex_decode(s, 16, back, 8), SL_OK);
    assert_memory_equal(back, id, 8);
    assert_int_equal(slc_hex_decode("00F067AA0BA902B7", 16, back, 8), SL_OK);
    assert_memory_equal(back, id, 8);
    memset(back, 0x11, 8);
    assert_int_equal(slc_hex_decode("00f067aa0ba902bz", 16, back, 8), SL_EPARSE);
    assert_int_equal(back[0], 0x11); /* unchanged on failure */
    assert_int_equal(slc_hex_decode("00f0", 4, back, 8), SL_EPARSE);
    assert_true(slc_is_zero((const uint8_t *)"\0\0\0", 3));
    assert_false(slc_is_zero(id, 8));
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(slc_utf8_valid("plain ascii", 11));
    assert_true(slc_utf8_valid("caf\xc3\xa9", 5));
    assert_true(slc_utf8_valid("\xe2\x9c\x93", 3));
    assert_true(slc_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(slc_utf8_valid("\xc3", 1));          /* truncated */
    assert_false(slc_utf8_valid("\xc0\xaf", 2));      /* overlong */
    assert_false(slc_utf8_valid("\xe0\x80\xaf", 3));  /* overlong */
    assert_false(slc_utf8_valid("\xed\xa0\x80", 3));  /* surrogate */
    assert_false(slc_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(slc_utf8_valid("\xff", 1));
    assert_false(slc_utf8_valid("a\x80", 2));
    assert_true(slc_utf8_valid("", 0));
}

static void test_duration(void **state)
{
    (void)state;
    uint64_t d;
    assert_int_equal(slc_duration_parse("250ms", &d), SL_OK);
    assert_true(d == 250000000ull);
    assert_int_equal(slc_duration_parse("1.5s", &d), SL_OK);
    assert_true(d == 1500000000ull);
    assert_int_equal(slc_duration_parse("15m", &d), SL_OK);
    assert_true(d == 900000000000ull);
    assert_int_equal(slc_duration_parse("7d", &d), SL_OK);
    assert_true(d == 7ull * 86400 * 1000000000ull);
    assert_int_equal(slc_duration_parse("100us", &d), SL_OK);
    assert_true(d == 100000ull);
    assert_int_equal(slc_duration_parse("42", &d), SL_OK);
    assert_true(d == 42);
    assert_int_equal(slc_duration_parse("", &d), SL_EPARSE);
    assert_int_equal(slc_duration_parse("ms", &d), SL_EPARSE);
    assert_int_equal(slc_duration_parse("5x", &d), SL_EPARSE);
    assert_int_equal(slc_duration_parse("1.5", &d), SL_EPARSE);
    assert_int_equal(slc_duration_parse("99999999999999999999d", &d), SL_EPARSE);
    assert_int_equal(slc_duration_parse("-5m", &d), SL_EPARSE);
}

static void test_time(void **state)
{
    (void)state;
    uint64_t t, now = 1764090000000000000ull;
    assert_int_equal(slc_time_parse("2025-11-25T17:00:00Z", now, &t), SL_OK);
    assert_true(t == 1764090000000000000ull);
    assert_int_equal(slc_time_parse("2025-11-25T18:00:00.5+01:00", now, &t), SL_OK);
    assert_true(t == 1764090000500000000ull);
    assert_int_equal(slc_time_parse("1970-01-01T00:00:00Z", now, &t), SL_OK);
    assert_true(t == 0);
    assert_int_equal(slc_time_parse("2024-02-29T00:00:00Z", now, &t), SL_OK);
    assert_int_equal(slc_time_parse("15m", now, &t), SL_OK);
    assert_true(t == now - 900000000000ull);
    assert_int_equal(slc_time_parse("now", now, &t), SL_OK);
    assert_true(t == now);
    assert_int_equal(slc_time_parse("1764090000000000000", now, &t), SL_OK);
    assert_true(t == 1764090000000000000ull);
    assert_int_equal(slc_time_parse("2025-13-01T00:00:00Z", now, &t), SL_EPARSE);
    assert_int_equal(slc_time_parse("2025-02-29T00:00:00Z", now, &t), SL_EPARSE); /* not leap */
    assert_int_equal(slc_time_parse("2000-02-29T00:00:00Z", now, &t), SL_OK);
    assert_int_equal(slc_time_parse("2600-01-01T00:00:00Z", now, &t), SL_EPARSE); /* would wrap */
    assert_int_equal(slc_time_parse("2025-11-25T17:00:00", now, &t), SL_EPARSE);
    assert_int_equal(slc_time_parse("2025-11-25T17:00:00Zjunk", now, &t), SL_EPARSE);
    assert_int_equal(slc_time_parse("yesterday", now, &t), SL_EPARSE);
    assert_int_equal(slc_time_parse("", now, &t), SL_EPARSE);
    assert_int_equal(slc_time_parse(NULL, now, &t), SL_EPARSE);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(sl_strerror(SL_OK), "success");
    assert_non_null(strstr(sl_strerror(SL_EWIRE_UTF8), "UTF-8"));
    assert_string_equal(sl_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),      cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_duration), cmocka_unit_test(test_time),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
