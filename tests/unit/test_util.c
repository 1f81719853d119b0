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
#include "common/slc_bytes.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"

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

/* Byte order: fixed layouts, not the host's; big-endian keys sort like
 * the numbers. */
static void test_bytes(void **state)
{
    uint8_t b[8], c[8];
    (void)state;
    slc_put_le32(b, 0x01020304u);
    assert_memory_equal(b, "\x04\x03\x02\x01", 4);
    assert_int_equal(slc_get_le32(b), 0x01020304u);
    slc_put_le64(b, 0x0102030405060708ULL);
    assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_true(slc_get_le64(b) == 0x0102030405060708ULL);
    slc_put_le16(b, 0xabcd);
    assert_int_equal(slc_get_le16(b), 0xabcd);
    slc_put_be64(b, 0x0102030405060708ULL);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(slc_get_be64(b) == 0x0102030405060708ULL);
    slc_put_be64(c, 0x0102030405060709ULL);
    assert_true(memcmp(b, c, 8) < 0);
    slc_put_be32(b, 0xdeadbeefu);
    assert_int_equal(slc_get_be32(b), 0xdeadbeefu);
}

/* Varints: every length round-trips; truncated, over-long and over-64-bit
 * ones are refused. */
static void test_varint(void **state)
{
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, (1ULL << 35) + 7,
                                    UINT64_MAX >> 1, UINT64_MAX};
    uint8_t buf[SLC_VARINT_MAX + 2];
    (void)state;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = slc_varint_put(buf, vals[i]);
        const uint8_t *p = buf;
        uint64_t v = 0;
        assert_true(n >= 1 && n <= SLC_VARINT_MAX);
        assert_int_equal(slc_varint_get(&p, buf + n, &v), 0);
        assert_true(v == vals[i]);
        assert_ptr_equal(p, buf + n);
        p = buf; /* one byte short */
        assert_int_equal(slc_varint_get(&p, buf + n - 1, &v), -1);
    }
    assert_int_equal(slc_varint_put(buf, UINT64_MAX), 10);
    buf[9] = 0x02; /* an 11th bit group beyond 64 bits */
    {
        const uint8_t *p = buf;
        uint64_t v;
        assert_int_equal(slc_varint_get(&p, buf + 10, &v), -1);
    }
    memset(buf, 0x80, sizeof buf); /* never ends */
    {
        const uint8_t *p = buf;
        uint64_t v;
        assert_int_equal(slc_varint_get(&p, buf + sizeof buf, &v), -1);
    }
}

static void test_ids_and_kinds(void **state)
{
    uint8_t id[16];
    (void)state;
    assert_int_equal(slc_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e4736", id), 0);
    assert_int_equal(id[0], 0x4b);
    assert_int_equal(id[15], 0x36);
    assert_int_equal(slc_trace_id_parse("4BF92F3577B34DA6A3CE929D0E0E4736", id), 0);
    assert_int_equal(slc_trace_id_parse("00000000000000000000000000000000", id), SL_EPARSE);
    assert_int_equal(slc_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e473", id), SL_EPARSE);
    assert_int_equal(slc_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e47360", id), SL_EPARSE);
    assert_int_equal(slc_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e473g", id), SL_EPARSE);
    assert_int_equal(slc_trace_id_parse(NULL, id), SL_EPARSE);
    assert_string_equal(slc_kind_name(SLC_KIND_SERVER), "server");
    assert_string_equal(slc_kind_name(SLC_KIND_CONSUMER), "consumer");
    assert_string_equal(slc_kind_name(SLC_KIND_UNSPECIFIED), "unspecified");
    assert_string_equal(slc_kind_name(200), "unspecified");
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
        cmocka_unit_test(test_strerror), cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_varint),   cmocka_unit_test(test_ids_and_kinds),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
