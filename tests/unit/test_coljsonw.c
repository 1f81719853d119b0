/*
 * test_coljsonw.c - the JSON writer (collector/http/jsonw.c): its output must
 * be what jansson's json_dumps(JSON_COMPACT) prints for the same values
 * (the API answers it writes used to be jansson trees), and valid JSON
 * where jansson would have refused the value (invalid UTF-8, NaN).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http/jsonw.h"
#include "sightline.h"

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char *jansson_real(double v)
{
    json_t *j = json_real(v);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}

static void check_real(double v)
{
    char buf[32], *want = jansson_real(v);
    size_t n = col_jw_fmt_real(v, buf);

    assert_non_null(want);
    if (n != strlen(want) || strcmp(buf, want) != 0) {
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        fail_msg("%.17g (bits %016llx): wrote '%s', jansson '%s'", v, (unsigned long long)bits,
                 buf, want);
    }
    free(want);
}

/* The values an answer holds (rates c/60, ratios e/c, ages, integers) and
 * random doubles over the whole fast range and beyond it. */
static void test_reals_match_jansson(void **state)
{
    static const double fixed[] = {0.0,   -0.0,  1.0,     -1.0,   0.5,    1e-5,   1.5e-5, 1e-4,
                                   1e-7,  1e16,  1e17,    1e18,   123.0,  1e300,  -2.5e-8,
                                   0.1,   0.2,   1.0 / 3, 2.0 / 3, 472.0 / 240, 3.0 / 472,
                                   9007199254740992.0, 9007199254740993.0, 99999999999999999.0,
                                   4.9406564584124654e-324, 2.2250738585072014e-308,
                                   1.7976931348623157e308, 0.30000000000000004,
                                   0.99999999999999989, 1e-6, 9.9999999999999995e-7};
    uint64_t s = 0x9e3779b97f4a7c15ULL;

    (void)state;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_real(fixed[i]);
    for (uint64_t c = 0; c < 20000; c++) {
        check_real((double)c / 60.0);
        check_real((double)c / 7.0);
        check_real(c ? (double)(c % 97) / (double)c : 0);
        check_real((double)c / 86400.0);
        check_real((double)c / 3.0e6);
    }
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = xs(&s);
        double v;
        if (i % 3 != 0) /* mostly 1e-8 .. 1e18, the fast path and its edges */
            bits = (bits & 0x800FFFFFFFFFFFFFULL) | ((uint64_t)(0x3E4 + xs(&s) % 0x70) << 52);
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v))
            check_real(v);
    }
}

static void test_nonfinite_is_null(void **state)
{
    col_jw w;
    size_t n;
    char *out, buf[32];

    (void)state;
    assert_int_equal(col_jw_fmt_real(NAN, buf), 0);
    assert_int_equal(col_jw_fmt_real(INFINITY, buf), 0);
    col_jw_init(&w, 0, 0);
    col_jw_arr(&w);
    col_jw_real(&w, NAN);
    col_jw_real(&w, -INFINITY);
    col_jw_real(&w, 2.5);
    col_jw_arr_end(&w);
    out = col_jw_take(&w, &n);
    assert_string_equal(out, "[null,null,2.5]");
    assert_int_equal(n, strlen(out));
    free(out);
}

/* A string through the writer; the caller frees the result. */
static char *jw_string(const char *s, size_t len)
{
    col_jw w;
    size_t n;
    char *out;

    col_jw_init(&w, 0, 0);
    col_jw_str(&w, s, len);
    out = col_jw_take(&w, &n);
    assert_non_null(out);
    return out;
}

static void test_strings_match_jansson(void **state)
{
    static const char *const cases[] = {"", "plain", "quote \" back \\ slash /",
                                        "tab\there\nnew\rline\b\f", "\x01\x1f\x7f", "h\xc3\xa9llo ✓ 😀",
                                        "GET /api/v1/{id}", "\xe2\x80\xa8 sep"};
    uint64_t s = 42;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_string(cases[i]);
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY), *got;
        got = jw_string(cases[i], strlen(cases[i]));
        assert_string_equal(got, want);
        free(got);
        free(want);
        json_decref(j);
    }
    /* Random short strings of ASCII, control bytes and valid UTF-8. */
    for (int i = 0; i < 20000; i++) {
        static const char *const pieces[] = {"a", "\"", "\\", "\n", "\x02", "é", "€", "😀", " ", "/",
                                             "\x1b", "\x7f"};
        char str[64];
        size_t n = 0;
        int k = (int)(xs(&s) % 10);
        for (int p = 0; p < k; p++) {
            const char *x = pieces[xs(&s) % (sizeof pieces / sizeof pieces[0])];
            memcpy(str + n, x, strlen(x));
            n += strlen(x);
        }
        str[n] = '\0';
        json_t *j = json_string(str);
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY), *got = jw_string(str, n);
        assert_string_equal(got, want);
        free(got);
        free(want);
        json_decref(j);
    }
}

/* Bytes jansson refuses (cut sequences, stray continuation bytes,
 * overlong forms, surrogates, U+0000 inside a name) still give valid JSON:
 * U+FFFD for each bad byte, \u0000 for NUL. */
static void test_bad_utf8_is_valid_json(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want; /* the decoded string */
    } cases[] = {
        {"ab\xc3", 3, "ab\xef\xbf\xbd"},
        {"\x80x", 2, "\xef\xbf\xbdx"},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"caf\xc3\xa9\xe2", 6, "caf\xc3\xa9\xef\xbf\xbd"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = jw_string(cases[i].in, cases[i].len);
        json_error_t err;
        json_t *j = json_loads(got, JSON_DECODE_ANY, &err);
        assert_non_null(j);
        assert_string_equal(json_string_value(j), cases[i].want);
        json_decref(j);
        free(got);
    }
    {
        char *got = jw_string("a\0b", 3);
        json_error_t err;
        json_t *j = json_loads(got, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        assert_string_equal(got, "\"a\\u0000b\"");
        assert_non_null(j);
        assert_int_equal(json_string_length(j), 3);
        json_decref(j);
        free(got);
    }
}

/* Nesting, commas and keys as json_dumps places them. */
static void test_structure(void **state)
{
    col_jw w;
    size_t n;
    char *out;
    json_t *j;
    char *want;

    (void)state;
    col_jw_init(&w, 4, 0);
    col_jw_obj(&w);
    col_jw_key(&w, "since_ns");
    col_jw_u64_str(&w, 1795625640000000000ULL);
    col_jw_key(&w, "step_ns");
    col_jw_u64(&w, 60000000000ULL);
    col_jw_key(&w, "neg");
    col_jw_i64(&w, -42);
    col_jw_key(&w, "empty");
    col_jw_arr(&w);
    col_jw_arr_end(&w);
    col_jw_key(&w, "series");
    col_jw_arr(&w);
    for (int i = 0; i < 3; i++) {
        col_jw_obj(&w);
        col_jw_key(&w, "service");
        col_jw_cstr(&w, "pay\"ment");
        col_jw_key(&w, "ok");
        col_jw_bool(&w, i & 1);
        col_jw_key(&w, "p");
        col_jw_arr(&w);
        col_jw_null(&w);
        col_jw_u64(&w, (uint64_t)i);
        col_jw_real(&w, i / 3.0);
        col_jw_arr_end(&w);
        col_jw_obj_end(&w);
    }
    col_jw_arr_end(&w);
    col_jw_obj_end(&w);
    out = col_jw_take(&w, &n);
    assert_non_null(out);
    j = json_pack("{s:s,s:I,s:I,s:[],s:[{s:s,s:b,s:[n,I,f]},{s:s,s:b,s:[n,I,f]},"
                  "{s:s,s:b,s:[n,I,f]}]}",
                  "since_ns", "1795625640000000000", "step_ns", (json_int_t)60000000000LL, "neg",
                  (json_int_t)-42, "empty", "series", "service", "pay\"ment", "ok", 0, "p",
                  (json_int_t)0, 0.0, "service", "pay\"ment", "ok", 1, "p", (json_int_t)1,
                  1 / 3.0, "service", "pay\"ment", "ok", 0, "p", (json_int_t)2, 2 / 3.0);
    want = json_dumps(j, JSON_COMPACT);
    assert_string_equal(out, want);
    free(want);
    json_decref(j);
    free(out);
}

/* col_jw_real remembers the reals it formatted: an array of values that
 * repeat (and collide in the cache), negative zero next to zero, the
 * longest forms, prints what jansson prints for the same array. */
static void test_reals_cached(void **state)
{
    json_t *arr = json_array();
    uint64_t s = 12345;
    col_jw w;
    size_t n;
    char *out, *want;

    (void)state;
    col_jw_init(&w, 0, 0);
    col_jw_arr(&w);
    for (int i = 0; i < 30000; i++) {
        double v;
        switch (i % 5) {
        case 0: v = (double)(xs(&s) % 300) / 60.0; break;           /* rates: repeat */
        case 1: v = (double)(xs(&s) % 50) / (double)(1 + xs(&s) % 900); break;
        case 2: v = i % 10 == 2 ? -0.0 : 0.0; break;
        case 3: v = -1.2345678901234567e-300 * (double)(1 + xs(&s) % 3); break; /* long */
        default: {
            uint64_t bits = xs(&s);
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v))
                v = 1.5;
        }
        }
        col_jw_real(&w, v);
        assert_int_equal(json_array_append_new(arr, json_real(v)), 0);
    }
    col_jw_arr_end(&w);
    out = col_jw_take(&w, &n);
    assert_non_null(out);
    assert_null(w.memo); /* take() freed the cache */
    want = json_dumps(arr, JSON_COMPACT);
    assert_string_equal(out, want);
    free(want);
    free(out);
    json_decref(arr);
    /* free() after a few reals frees the cache too (under ASan: no leak) */
    col_jw_init(&w, 0, 0);
    col_jw_arr(&w);
    col_jw_real(&w, 0.25);
    col_jw_free(&w);
    assert_null(w.memo);
}

/* Misuse and limits make take() fail instead of writing broken JSON. */
static void test_errors_are_sticky(void **state)
{
    col_jw w;
    size_t n;

    (void)state;
    col_jw_init(&w, 0, 0);
    col_jw_obj(&w);
    assert_null(col_jw_take(&w, &n)); /* still open */
    col_jw_init(&w, 0, 0);
    col_jw_arr_end(&w);
    col_jw_null(&w);
    assert_null(col_jw_take(&w, &n)); /* closed what was never opened */
    col_jw_init(&w, 0, 64);
    col_jw_arr(&w);
    for (int i = 0; i < 100; i++)
        col_jw_u64(&w, 12345);
    col_jw_arr_end(&w);
    assert_int_equal(w.err, SL_ETOOBIG);
    assert_null(col_jw_take(&w, &n));
    col_jw_init(&w, 0, 0);
    for (int i = 0; i < COL_JW_DEPTH + 2; i++)
        col_jw_arr(&w);
    assert_int_equal(w.err, SL_EINVAL);
    assert_null(col_jw_take(&w, &n));
    col_jw_init(&w, 0, 0);
    assert_null(col_jw_take(&w, &n)); /* nothing written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reals_match_jansson),   cmocka_unit_test(test_nonfinite_is_null),
        cmocka_unit_test(test_strings_match_jansson), cmocka_unit_test(test_bad_utf8_is_valid_json),
        cmocka_unit_test(test_structure),             cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_reals_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
