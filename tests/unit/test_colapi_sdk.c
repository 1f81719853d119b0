/*
 * test_colapi_sdk.c - GET /api/v1/sdk (collector/http/api_sdk.c) on a real store
 * in a temp dir: "sightline.sdk.stats" records written through the store's
 * write path, read back through col_api_dispatch().  Checks that the newest
 * record of each (service, instance) wins, that instances of a service are
 * summed (except per-process values), that look-alike bodies are ignored and
 * that the service filter and argument errors work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/api.h"
#include "sightline.h"
#include "store/store.h"
#include "test_colutil.h"

#define SEC 1000000000ULL

struct fx {
    char *dir;
    col_store *s;
    col_stats stats;
    col_api api;
    uint64_t t0;
    uint64_t bid;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (tu_store_open(&f->dir, &f->s) != 0)
        return -1;
    tu_api_init(&f->api, f->s, &f->stats);
    f->t0 = slc_now_ns() - 600 * SEC;
    f->bid = 1000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tu_store_close(f->dir, f->s);
    free(f);
    return 0;
}

static void add_int(slc_batch *b, const char *k, int64_t v, uint32_t *first)
{
    slc_attr a;
    memset(&a, 0, sizeof a);
    a.key = tu_str(b, k);
    a.type = SLC_V_INT;
    a.v.i = v;
    if (slc_batch_add_attr(b, &a, first) != 0)
        abort();
}

static void add_str(slc_batch *b, const char *k, const char *v, uint32_t *first)
{
    slc_attr a;
    memset(&a, 0, sizeof a);
    a.key = tu_str(b, k);
    a.type = SLC_V_STR;
    a.v.str = tu_str(b, v);
    if (slc_batch_add_attr(b, &a, first) != 0)
        abort();
}

/* Stores one frame with one stats-like record (body given) of service svc,
 * instance inst, at t0 + sec seconds. */
static void store_stats(struct fx *f, const char *svc, const char *inst, const char *body,
                        uint64_t sec, int64_t created, int64_t dropped)
{
    slc_batch *b = slc_batch_new();
    slc_log l;
    uint32_t first = 0;
    uint8_t *frame;
    size_t len;

    b->batch_id = ++f->bid;
    add_int(b, "sightline.sdk.spans.created", created, &first);
    add_int(b, "sightline.sdk.spans.dropped", dropped, NULL);
    add_int(b, "sightline.sdk.interval_ms", 10000, NULL);
    add_str(b, "sightline.sdk.instance", inst, NULL);
    add_str(b, "sightline.sdk.version", "0.1.0", NULL);
    add_str(b, "thread.name", "exporter", NULL);
    memset(&l, 0, sizeof l);
    l.time_ns = f->t0 + sec * SEC;
    l.level = SLC_LVL_INFO;
    l.service = tu_str(b, svc);
    l.body = tu_str(b, body);
    l.attr_first = first;
    l.attr_count = 6;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
    tu_encode(b, &frame, &len);
    tu_store_put(f->s, frame, len, (uint32_t)b->batch_id * 2654435761u);
    slc_batch_free(b);
    free(frame);
}

/* GET /api/v1/sdk with NULL-terminated key, value pairs. */
static json_t *get(struct fx *f, int *status, ...)
{
    va_list ap;
    json_t *body;

    va_start(ap, status);
    body = tu_api_vget(&f->api, status, "/api/v1/sdk", ap);
    va_end(ap);
    return body;
}

static json_int_t counter(json_t *o, const char *k)
{
    json_t *v = json_object_get(json_object_get(o, "counters"), k);
    assert_non_null(v);
    return json_integer_value(v);
}

static void test_latest_per_instance_summed(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *r, *svcs, *a, *c, *inst;

    /* checkout: instance A reports twice (cumulative), B once. */
    store_stats(f, "checkout", "aaaaaaaaaaaaaaaa", "sightline.sdk.stats", 10, 100, 1);
    store_stats(f, "checkout", "aaaaaaaaaaaaaaaa", "sightline.sdk.stats", 20, 250, 7);
    store_stats(f, "checkout", "bbbbbbbbbbbbbbbb", "sightline.sdk.stats", 15, 40, 2);
    store_stats(f, "payment", "cccccccccccccccc", "sightline.sdk.stats", 30, 9, 0);
    /* Look-alikes: a substring match, not a stats record. */
    store_stats(f, "payment", "dddddddddddddddd", "sightline.sdk.stats (copy)", 31, 999, 999);

    r = get(f, &st, "since", "1h", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(r, "records")), 4);
    assert_false(json_is_true(json_object_get(r, "partial")));
    svcs = json_object_get(r, "services");
    assert_int_equal(json_array_size(svcs), 2);
    c = json_array_get(svcs, 0);
    assert_string_equal(json_string_value(json_object_get(c, "service")), "checkout");
    assert_int_equal(json_integer_value(json_object_get(c, "instance_count")), 2);
    assert_int_equal(counter(c, "spans.created"), 250 + 40);
    assert_int_equal(counter(c, "spans.dropped"), 7 + 2);
    /* A per-process setting is not summed. */
    assert_null(json_object_get(json_object_get(c, "counters"), "interval_ms"));
    /* Instances newest first; the service's time is the newest record's. */
    inst = json_array_get(json_object_get(c, "instances"), 0);
    assert_string_equal(json_string_value(json_object_get(inst, "instance")), "aaaaaaaaaaaaaaaa");
    assert_string_equal(json_string_value(json_object_get(inst, "version")), "0.1.0");
    assert_int_equal(counter(inst, "interval_ms"), 10000);
    assert_int_equal(json_integer_value(json_object_get(c, "time_us")),
                     (json_int_t)((f->t0 + 20 * SEC) / 1000));
    a = json_array_get(svcs, 1);
    assert_string_equal(json_string_value(json_object_get(a, "service")), "payment");
    assert_int_equal(json_integer_value(json_object_get(a, "instance_count")), 1);
    assert_int_equal(counter(a, "spans.created"), 9);
    json_decref(r);

    /* Filter by service. */
    r = get(f, &st, "service", "payment", "since", "1h", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "services")), 1);
    json_decref(r);

    /* A range before the records: nothing. */
    r = get(f, &st, "since", "3h", "until", "2h", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "services")), 0);
    json_decref(r);
}

static void test_bad_args(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *r;

    r = get(f, &st, "since", "yesterday", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "error"), "code")), "bad_time");
    json_decref(r);
    r = get(f, &st, "since", "1h", "until", "2h", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "error"), "code")), "bad_range");
    json_decref(r);
    /* An empty store answers an empty list. */
    r = get(f, &st, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "services")), 0);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_latest_per_instance_summed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
