/*
 * test_sdk_safety.c - the SDK never sends a frame the collector rejects, and
 * a rejection never stalls the frames behind it.
 *
 * The collector's decoder rejects a whole frame when one item in it is
 * invalid (non-finite doubles, empty span names, strings over 64 KiB, more
 * than 256 attributes per item, invalid UTF-8).  Each test below puts one
 * such item among good ones into a frame sent to the real test collector
 * (test_sdk_collector.h decodes with slc_wire_decode) and checks that the
 * frame is stored with everything else intact.  The last tests cover the
 * sender: acks with a batch id of 0, and a re-dial that must not hold the
 * exporter's lock.
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

#include "sightline.h"
#include "common/slc_util.h"
#include "test_sdk_collector.h"

#define NGOOD 100

struct fx {
    struct tcol col;
    struct tcol_store store;
    char url[128];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    tcol_store_init(&f->store);
    tcol_url(f->url, sizeof(f->url));
    if (tcol_start(&f->col, f->url, &f->store) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    (void)sl_shutdown(2000);
    tcol_stop(&f->col);
    tcol_store_free(&f->store);
    free(f);
    return 0;
}

/* One frame per flush: no time or size cut, no stats records. */
static void cfg(sl_config *c, const char *url)
{
    sl_config_default(c);
    c->endpoint = url;
    c->service_name = "safety-test";
    c->batch_delay_ms = 60000;
    c->batch_bytes = 8u << 20;
    c->ack_timeout_ms = 2000;
    c->retry_min_ms = 10;
    c->retry_max_ms = 50;
    c->stats_interval_ms = UINT32_MAX;
}

static void good_spans(void)
{
    for (int i = 0; i < NGOOD; i++) {
        sl_span *s = sl_span_start("good", SL_KIND_SERVER);
        sl_span_set_int(s, "i", i);
        sl_span_set_str(s, "k", "v");
        sl_span_end(s);
    }
}

/* Flushes and checks the collector stored every frame: nothing rejected,
 * the good spans all there. */
static void expect_all_stored(struct fx *f, size_t extra_spans)
{
    assert_int_equal(sl_flush(5000), SL_OK);
    sl_stats st;
    sl_stats_get(&st);
    if (f->store.nrejected_decode != 0)
        fail_msg("collector rejected a frame: %s", f->store.last_reject);
    assert_int_equal(st.spans_dropped_by[SL_DROP_REJECTED], 0);
    assert_int_equal(st.logs_dropped_by[SL_DROP_REJECTED], 0);
    assert_int_equal(tcol_span_count(&f->store), NGOOD + extra_spans);
    assert_int_equal(st.spans_exported, NGOOD + extra_spans);
    size_t good = 0;
    for (size_t k = 0; k < f->store.nbatches; k++) {
        const slc_batch *b = f->store.batches[k];
        for (uint32_t i = 0; i < b->nspans; i++)
            good += tcol_streq(b, b->spans[i].name, "good");
    }
    assert_int_equal(good, NGOOD);
}

/* The attribute key of span name, or fails the test. */
static const slc_attr *span_attr(struct fx *f, const char *name, const char *key,
                                 const slc_batch **bp)
{
    uint32_t i;
    const slc_batch *b = tcol_find_span(&f->store, name, &i);
    assert_non_null(b);
    const slc_attr *a = tcol_attr(b, b->spans[i].attr_first, b->spans[i].attr_count, key);
    if (a == NULL)
        fail_msg("span %s has no attribute %s", name, key);
    *bp = b;
    return a;
}

static void expect_str_attr(struct fx *f, const char *name, const char *key, const char *want)
{
    const slc_batch *b;
    const slc_attr *a = span_attr(f, name, key, &b);
    assert_int_equal(a->type, SLC_V_STR);
    if (!tcol_streq(b, a->v.str, want))
        fail_msg("%s.%s is \"%.*s\", not \"%s\"", name, key, (int)b->strs[a->v.str].len,
                 b->strs[a->v.str].ptr, want);
}

/* ---- one bad item of each kind ---------------------------------------------- */

static void test_nonfinite_doubles(void **state)
{
    struct fx *f = *state;
    sl_config c;
    cfg(&c, f->url);
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    sl_span *s = sl_span_start("doubles", SL_KIND_INTERNAL);
    assert_int_equal(sl_span_set_double(s, "nan", NAN), SL_OK);
    assert_int_equal(sl_span_set_double(s, "inf", INFINITY), SL_OK);
    assert_int_equal(sl_span_set_double(s, "ninf", -INFINITY), SL_OK);
    assert_int_equal(sl_span_set_double(s, "pi", 3.25), SL_OK);
    sl_attr ea = SL_ATTR_D("ev.nan", NAN);
    assert_int_equal(sl_span_add_event(s, "ev", &ea, 1), SL_OK);
    sl_span_end(s);
    sl_attr la = SL_ATTR_D("log.inf", INFINITY);
    assert_int_equal(sl_log_attrs(SL_LEVEL_INFO, &la, 1, "log with infinity"), SL_OK);
    expect_all_stored(f, 1);
    expect_str_attr(f, "doubles", "nan", "NaN");
    expect_str_attr(f, "doubles", "inf", "Infinity");
    expect_str_attr(f, "doubles", "ninf", "-Infinity");
    const slc_batch *b;
    const slc_attr *a = span_attr(f, "doubles", "pi", &b);
    assert_int_equal(a->type, SLC_V_DBL);
    assert_true(a->v.d == 3.25);
    assert_int_equal(tcol_log_count(&f->store), 1);
}

static void test_empty_names(void **state)
{
    struct fx *f = *state;
    sl_config c;
    cfg(&c, f->url);
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    sl_span_end(sl_span_start(NULL, SL_KIND_INTERNAL));
    sl_span_end(sl_span_start("", SL_KIND_INTERNAL));
    char heap_empty[1] = "";
    sl_span_end(sl_span_start(heap_empty, SL_KIND_INTERNAL)); /* copied, not a literal */
    sl_span *s = sl_span_start("renamed", SL_KIND_INTERNAL);
    assert_int_equal(sl_span_set_name(s, ""), SL_OK);
    sl_span_end(s);
    sl_span *p = sl_span_start("parent", SL_KIND_INTERNAL);
    sl_span_end(sl_span_start_child(NULL, SL_KIND_CLIENT, p));
    sl_span_end(p);
    sl_context ctx;
    memset(&ctx, 0, sizeof(ctx));
    memset(ctx.trace_id, 0x11, 16);
    memset(ctx.span_id, 0x22, 8);
    ctx.flags = SL_FLAG_SAMPLED;
    sl_span_end(sl_span_start_remote("", SL_KIND_SERVER, &ctx));
    expect_all_stored(f, 7);
    size_t unnamed = 0;
    for (size_t k = 0; k < f->store.nbatches; k++) {
        const slc_batch *b = f->store.batches[k];
        for (uint32_t i = 0; i < b->nspans; i++)
            unnamed += tcol_streq(b, b->spans[i].name, "unnamed");
    }
    assert_int_equal(unnamed, 6);
}

static char *filled(size_t n, char ch)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, ch, n);
    p[n] = '\0';
    return p;
}

static uint32_t str_len_of(struct fx *f, const char *name, const char *key)
{
    const slc_batch *b;
    const slc_attr *a = span_attr(f, name, key, &b);
    assert_int_equal(a->type, SLC_V_STR);
    return b->strs[a->v.str].len;
}

/* max_attr_value and max_item_bytes at their old maximum (1 MiB) are
 * clamped to the wire limits: a 100 KiB value and a 100 KiB log body
 * arrive cut to 64 KiB instead of getting the frame rejected. */
static void test_strings_over_wire_limit(void **state)
{
    struct fx *f = *state;
    sl_config c;
    cfg(&c, f->url);
    c.max_attr_value = 1u << 20;
    c.max_item_bytes = 1u << 20;
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    char *big = filled(100 << 10, 'x');
    sl_span *s = sl_span_start("big", SL_KIND_INTERNAL);
    assert_int_equal(sl_span_set_str(s, "big", big), SL_OK);
    assert_int_equal(sl_span_set_str(s, "small", "ok"), SL_OK);
    sl_span_end(s);
    assert_int_equal(sl_log(SL_LEVEL_WARN, "%s", big), SL_OK);
    expect_all_stored(f, 1);
    assert_int_equal(str_len_of(f, "big", "big"), 64u << 10);
    expect_str_attr(f, "big", "small", "ok");
    size_t logs = 0;
    for (size_t k = 0; k < f->store.nbatches; k++) {
        const slc_batch *b = f->store.batches[k];
        for (uint32_t i = 0; i < b->nlogs; i++) {
            assert_true(b->strs[b->logs[i].body].len <= (64u << 10));
            assert_true(b->strs[b->logs[i].body].len >= (60u << 10));
            logs++;
        }
    }
    assert_int_equal(logs, 1);
    free(big);
}

/* The heap overflow in slc_batch_reset (fixed in common/) was reachable
 * through the SDK: a 100 KiB value, then in the next batch strings of
 * 61 KiB and 20 KiB.  Run under ASan (make FLAVOR=asan). */
static void test_big_strings_across_batches(void **state)
{
    struct fx *f = *state;
    sl_config c;
    cfg(&c, f->url);
    c.max_attr_value = 1u << 20;
    c.max_item_bytes = 1u << 20;
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    char *a = filled(100 << 10, 'a'), *b = filled(61 << 10, 'b'), *d = filled(20 << 10, 'd');
    sl_span *s = sl_span_start("first", SL_KIND_INTERNAL);
    sl_span_set_str(s, "a", a);
    sl_span_end(s);
    assert_int_equal(sl_flush(5000), SL_OK);
    s = sl_span_start("second", SL_KIND_INTERNAL);
    sl_span_set_str(s, "b", b);
    sl_span_set_str(s, "d", d);
    sl_span_end(s);
    expect_all_stored(f, 2);
    assert_int_equal(str_len_of(f, "first", "a"), 64u << 10);
    assert_int_equal(str_len_of(f, "second", "b"), 61u << 10);
    assert_int_equal(str_len_of(f, "second", "d"), 20u << 10);
    free(a);
    free(b);
    free(d);
}

/* Resource keys and values, and the service name, are cleaned like every
 * other string; the resource double is converted like span doubles. */
static void test_resource_and_service_utf8(void **state)
{
    struct fx *f = *state;
    sl_config c;
    cfg(&c, f->url);
    c.service_name = "svc\xff";
    sl_attr res[3] = {SL_ATTR_S("bad\xc3", "caf\xc3"), SL_ATTR_D("res.nan", NAN),
                      SL_ATTR_S("team", "core")};
    c.resource = res;
    c.nresource = 3;
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    expect_all_stored(f, 0);
    expect_str_attr(f, "good", "bad?", "caf?");
    expect_str_attr(f, "good", "res.nan", "NaN");
    expect_str_attr(f, "good", "team", "core");
    const slc_batch *b = f->store.batches[0];
    assert_true(tcol_streq(b, b->spans[0].service, "svc?"));
}

/* A local root carries its own attributes and the resource: sl_init()
 * bounds the resource so the total stays within 256. */
static void test_resource_count(void **state)
{
    struct fx *f = *state;
    enum { NRES = 126 };
    static char keys[NRES][16];
    sl_attr res[NRES];
    for (int i = 0; i < NRES; i++) {
        snprintf(keys[i], sizeof(keys[i]), "res.%d", i);
        res[i] = SL_ATTR_I(keys[i], i);
    }
    sl_config c;
    cfg(&c, f->url);
    c.resource = res;
    c.nresource = NRES;
    c.service_version = "1.0";
    c.environment = "test";
    assert_int_equal(sl_init(&c), SL_ECONFIG);
    sl_stats st;
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "nresource"));

    sl_attr empty = SL_ATTR_S("", "x");
    c.resource = &empty;
    c.nresource = 1;
    assert_int_equal(sl_init(&c), SL_ECONFIG);
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "empty key"));

    /* At the limit: 128 own + 125 + 3 built-in = 256, accepted. */
    c.resource = res;
    c.nresource = NRES - 1;
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    sl_span *s = sl_span_start("full", SL_KIND_INTERNAL);
    for (int i = 0; i < 140; i++) {
        char k[16];
        snprintf(k, sizeof(k), "own.%d", i);
        sl_span_set_int(s, k, i);
    }
    sl_span_end(s);
    expect_all_stored(f, 1);
    uint32_t i;
    const slc_batch *b = tcol_find_span(&f->store, "full", &i);
    assert_non_null(b);
    assert_int_equal(b->spans[i].attr_count, 256);
}

/* Everything at once: one frame holding one bad item of each kind among
 * good spans is stored whole. */
static void test_one_frame_every_kind(void **state)
{
    struct fx *f = *state;
    sl_config c;
    cfg(&c, f->url);
    c.max_attr_value = 1u << 20;
    c.max_item_bytes = 1u << 20;
    sl_attr res[2] = {SL_ATTR_S("k\xfe", "v\xfe"), SL_ATTR_D("r.inf", -INFINITY)};
    c.resource = res;
    c.nresource = 2;
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    char *big = filled(70 << 10, 'z');
    sl_span *s = sl_span_start("", SL_KIND_INTERNAL);
    sl_span_set_double(s, "d", NAN);
    sl_span_set_str(s, "s", big);
    sl_span_set_str(s, "u", "\xc0\xaf");
    sl_span_end(s);
    sl_log(SL_LEVEL_ERROR, "%s", big);
    expect_all_stored(f, 1);
    assert_int_equal(f->store.nbatches, 1);
    expect_str_attr(f, "unnamed", "d", "NaN");
    expect_str_attr(f, "unnamed", "u", "??");
    expect_str_attr(f, "unnamed", "k?", "v?");
    expect_str_attr(f, "unnamed", "r.inf", "-Infinity");
    assert_int_equal(str_len_of(f, "unnamed", "s"), 64u << 10);
    free(big);
}

/* ---- the sender -------------------------------------------------------------- */

/* An (older) collector that rejects with batch id 0: the frame is dropped
 * and counted, and later frames flow, instead of the same frame being
 * resent forever. */
static void test_reject_with_zero_batch_id(void **state)
{
    struct fx *f = *state;
    sl_config c;
    cfg(&c, f->url);
    f->col.reject_all = 1;
    f->col.zero_reject_id = 1;
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    assert_int_equal(sl_flush(3000), SL_OK);
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.spans_dropped_by[SL_DROP_REJECTED], NGOOD);
    assert_int_equal(st.frames_sent, 1);
    assert_int_equal(tcol_span_count(&f->store), 0);

    f->col.reject_all = 0; /* the next frame is sent after this flush */
    good_spans();
    assert_int_equal(sl_flush(3000), SL_OK);
    sl_stats_get(&st);
    assert_int_equal(st.spans_exported, NGOOD);
    assert_int_equal(tcol_span_count(&f->store), NGOOD);
}

/* With no collector, the sender re-dials after two ack timeouts; closing
 * a socket that never connected waits up to 100 ms.  That wait must not
 * hold the exporter's lock, which sl_flush and the batcher (for every
 * frame it cuts) take.  Holding it blocks an sl_flush(1) for ~100 ms on
 * every re-dial (about every 120 ms here); a loaded machine (sanitizers,
 * 2 cores) may stall one or two calls, so a few slow calls are allowed. */
static void test_redial_does_not_hold_lock(void **state)
{
    (void)state;
    char url[128];
    tcol_url(url, sizeof(url)); /* nobody listens there */
    sl_config c;
    cfg(&c, url);
    c.batch_delay_ms = 1;
    c.ack_timeout_ms = 10;
    c.retry_min_ms = 1;
    c.retry_max_ms = 2;
    c.breaker_failures = 0; /* never open: re-dial as often as possible */
    assert_int_equal(sl_init(&c), SL_OK);
    good_spans();
    uint64_t worst = 0, t_end = slc_now_ns() + 1500ull * 1000000ull;
    int calls = 0, slow = 0;
    while (slc_now_ns() < t_end) {
        uint64_t t0 = slc_now_ns();
        (void)sl_flush(1);
        uint64_t d = slc_now_ns() - t0;
        if (d > worst)
            worst = d;
        slow += d > 50ull * 1000000ull;
        calls++;
        good_spans();
    }
    sl_stats st;
    sl_stats_get(&st);
    assert_true(st.frames_retried >= 4); /* at least one re-dial happened */
    if (slow >= 3)
        fail_msg("%d of %d sl_flush(1) calls took over 50 ms (worst %llu ms): the sender "
                 "held the lock",
                 slow, calls, (unsigned long long)(worst / 1000000ull));
    assert_int_equal(sl_shutdown(100), SL_ETIMEDOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nonfinite_doubles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings_over_wire_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_strings_across_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_and_service_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_frame_every_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_with_zero_batch_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redial_does_not_hold_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
