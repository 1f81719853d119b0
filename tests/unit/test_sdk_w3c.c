/*
 * test_sdk_w3c.c - W3C Trace Context: traceparent and tracestate parsing,
 * formatting, inject and extract (vectors after the W3C test suite).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "sightline.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static void test_traceparent_valid(void **state)
{
    (void)state;
    sl_context c;
    assert_int_equal(sl_traceparent_parse("00-" TID "-" SID "-01", &c), SL_OK);
    char t[33], s[17];
    sl_context_trace_hex(&c, t);
    sl_context_span_hex(&c, s);
    assert_string_equal(t, TID);
    assert_string_equal(s, SID);
    assert_int_equal(c.flags, 1);
    assert_int_equal(c.remote, 1);

    assert_int_equal(sl_traceparent_parse("00-" TID "-" SID "-00", &c), SL_OK);
    assert_int_equal(c.flags, 0);
    /* unknown flag bits are accepted but only "sampled" is kept */
    assert_int_equal(sl_traceparent_parse("00-" TID "-" SID "-09", &c), SL_OK);
    assert_int_equal(c.flags, 1);
    /* surrounding optional white space of an HTTP header value */
    assert_int_equal(sl_traceparent_parse(" \t00-" TID "-" SID "-01 ", &c), SL_OK);
}

static void test_traceparent_invalid(void **state)
{
    (void)state;
    sl_context c;
    memset(&c, 0x55, sizeof(c));
    sl_context before = c;
    static const char *bad[] = {
        "",
        "00",
        "ff-" TID "-" SID "-01",                           /* version ff is invalid  */
        "0g-" TID "-" SID "-01",                           /* non-hex version        */
        "00-" TID "-" SID "-01-extra",                     /* v00 must be 55 chars   */
        "00-" TID "-" SID "-011",                          /* v00 too long           */
        "00-00000000000000000000000000000000-" SID "-01",  /* zero trace id          */
        "00-" TID "-0000000000000000-01",                  /* zero parent id         */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01",  /* upper-case trace id    */
        "00-" TID "-00F067AA0BA902B7-01",                  /* upper-case parent id   */
        "00-" TID "-" SID "-0A",                           /* upper-case flags       */
        "0A-" TID "-" SID "-01",                           /* upper-case version     */
        "00-" TID "a-" SID "-01",                          /* trace id too long      */
        "00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01",   /* trace id too short     */
        "00-" TID "-00f067aa0ba902b-01",                   /* parent id too short    */
        "00-" TID "-" SID "-1",                            /* flags too short        */
        "00_" TID "-" SID "-01",                           /* wrong separator        */
        "00-" TID "_" SID "-01",
        "00-" TID "-" SID "_01",
        "00-" TID "-" SID "-0x",                           /* non-hex flags          */
        "00-" TID "-" SID "-01\x01",
        "cc-" TID "-" SID "-01x",                          /* future: next char not - */
        "cc-" TID "-" SID,                                 /* future: too short       */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sl_traceparent_parse(bad[i], &c) != SL_EPARSE)
            fail_msg("accepted invalid traceparent \"%s\"", bad[i]);
    }
    /* out-parameter untouched on failure */
    assert_memory_equal(&c, &before, sizeof(c));
}

static void test_traceparent_future_version(void **state)
{
    (void)state;
    sl_context c;
    /* A higher version with more fields is parsed by its v00 prefix. */
    assert_int_equal(sl_traceparent_parse("cc-" TID "-" SID "-01-what-the-future-holds", &c),
                     SL_OK);
    assert_int_equal(c.flags, 1);
    assert_int_equal(sl_traceparent_parse("cc-" TID "-" SID "-01", &c), SL_OK);
    assert_int_equal(sl_traceparent_parse("01-" TID "-" SID "-00-", &c), SL_OK);
    assert_int_equal(c.flags, 0);
    /* ...but still not with zero ids or upper case */
    assert_int_equal(sl_traceparent_parse("cc-" TID "-0000000000000000-01-x", &c), SL_EPARSE);
}

static void test_traceparent_format(void **state)
{
    (void)state;
    sl_context c, d;
    char buf[64];
    assert_int_equal(sl_traceparent_parse("00-" TID "-" SID "-01", &c), SL_OK);
    assert_int_equal(sl_traceparent_format(&c, buf, sizeof(buf)), SL_OK);
    assert_string_equal(buf, "00-" TID "-" SID "-01");
    assert_int_equal(sl_traceparent_format(&c, buf, 55), SL_EINVAL);
    /* a v-cc header is re-emitted as version 00 */
    assert_int_equal(sl_traceparent_parse("cc-" TID "-" SID "-01-x", &d), SL_OK);
    assert_int_equal(sl_traceparent_format(&d, buf, sizeof(buf)), SL_OK);
    assert_string_equal(buf, "00-" TID "-" SID "-01");
    memset(&d, 0, sizeof(d));
    assert_int_equal(sl_traceparent_format(&d, buf, sizeof(buf)), SL_EINVAL);
}

static void test_tracestate(void **state)
{
    (void)state;
    char out[SL_TRACESTATE_MAX + 1];
    assert_int_equal(sl_tracestate_parse("congo=t61rcWkgMzE", out, sizeof(out)), SL_OK);
    assert_string_equal(out, "congo=t61rcWkgMzE");
    assert_int_equal(sl_tracestate_parse(" rojo=00f067aa0ba902b7 ,, congo=t61rcWkgMzE\t", out,
                                         sizeof(out)),
                     SL_OK);
    assert_string_equal(out, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    assert_int_equal(sl_tracestate_parse("tenant@vendor=v, a-b_c*d/e=1", out, sizeof(out)), SL_OK);
    assert_string_equal(out, "tenant@vendor=v,a-b_c*d/e=1");
    assert_int_equal(sl_tracestate_parse("1tenant@vendor=v", out, sizeof(out)), SL_OK);
    assert_int_equal(sl_tracestate_parse("", out, sizeof(out)), SL_OK);
    assert_string_equal(out, "");
    assert_int_equal(sl_tracestate_parse("k=a b", out, sizeof(out)), SL_OK); /* inner space ok */

    static const char *bad[] = {
        "Congo=x",           /* upper-case key                */
        "1abc=x",            /* simple key must start a-z     */
        "k=",                /* empty value                   */
        "=v",                /* empty key                     */
        "k",                 /* no '='                        */
        "k=a,k=b",           /* duplicate key                 */
        "k=a=b",             /* '=' in value                  */
        "k=\x7f",            /* outside printable ASCII       */
        "t@=v",              /* empty system id               */
        "@v=x",              /* empty tenant id               */
        "t@Vendor=x",        /* upper-case system id          */
        "t@vendor567890123=x", /* system id over 14 chars     */
        "k=v\x01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sl_tracestate_parse(bad[i], out, sizeof(out)) != SL_EPARSE)
            fail_msg("accepted invalid tracestate \"%s\"", bad[i]);
        assert_string_equal(out, "");
    }

    /* 32 members are fine, 33 are not */
    char many[1024];
    size_t o = 0;
    for (int i = 0; i < 32; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "%sk%d=v", i ? "," : "", i);
    assert_int_equal(sl_tracestate_parse(many, out, sizeof(out)), SL_OK);
    snprintf(many + o, sizeof(many) - o, ",k32=v");
    assert_int_equal(sl_tracestate_parse(many, out, sizeof(out)), SL_EPARSE);

    /* a 256-character key is the longest allowed */
    char key[300];
    memset(key, 'a', 256);
    memcpy(key + 256, "=v", 3);
    assert_int_equal(sl_tracestate_parse(key, out, sizeof(out)), SL_OK);
    memset(key, 'a', 257);
    memcpy(key + 257, "=v", 3);
    assert_int_equal(sl_tracestate_parse(key, out, sizeof(out)), SL_EPARSE);

    /* too long to keep: members dropped from the end */
    char small[16];
    assert_int_equal(sl_tracestate_parse("aaa=1,bbb=2,ccc=3", small, sizeof(small)), SL_OK);
    assert_string_equal(small, "aaa=1,bbb=2");
}

/* ---- carrier: a tiny header list -------------------------------------------- */

struct hdrs {
    char name[8][32];
    char value[8][600];
    int n;
};

static const char *hget(void *carrier, const char *key)
{
    struct hdrs *h = carrier;
    for (int i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], key) == 0)
            return h->value[i];
    return NULL;
}

static void hset(void *carrier, const char *key, const char *value)
{
    struct hdrs *h = carrier;
    if (h->n < 8) {
        snprintf(h->name[h->n], sizeof(h->name[0]), "%s", key);
        snprintf(h->value[h->n], sizeof(h->value[0]), "%s", value);
        h->n++;
    }
}

static void test_inject_extract(void **state)
{
    (void)state;
    struct hdrs in = {0}, out = {0};
    sl_context c;
    assert_int_equal(sl_extract(&in, hget, &c), SL_ENOTFOUND);
    hset(&in, "TraceParent", "00-" TID "-" SID "-01");
    hset(&in, "tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    assert_int_equal(sl_extract(&in, hget, &c), SL_OK);
    assert_int_equal(c.remote, 1);
    assert_string_equal(c.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    assert_int_equal(sl_inject_context(&c, &out, hset), SL_OK);
    assert_int_equal(out.n, 2);
    assert_string_equal(hget(&out, "traceparent"), "00-" TID "-" SID "-01");
    assert_string_equal(hget(&out, "tracestate"), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");

    /* an invalid tracestate is dropped, the traceparent still counts */
    struct hdrs in2 = {0};
    hset(&in2, "traceparent", "00-" TID "-" SID "-00");
    hset(&in2, "tracestate", "BAD=1");
    assert_int_equal(sl_extract(&in2, hget, &c), SL_OK);
    assert_int_equal(c.tracestate_len, 0);
    assert_int_equal(c.flags, 0);

    /* an invalid traceparent is reported */
    struct hdrs in3 = {0};
    hset(&in3, "traceparent", "00-" TID "-" SID "-0");
    assert_int_equal(sl_extract(&in3, hget, &c), SL_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traceparent_valid),
        cmocka_unit_test(test_traceparent_invalid),
        cmocka_unit_test(test_traceparent_future_version),
        cmocka_unit_test(test_traceparent_format),
        cmocka_unit_test(test_tracestate),
        cmocka_unit_test(test_inject_extract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
