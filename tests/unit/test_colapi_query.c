/*
 * test_colapi_query.c - the query endpoints of the HTTP API
 * (collector/http/api_query.c), called through col_api_dispatch() on a real
 * store in a temp dir, with frames written through the ingest write path.
 *
 * The accuracy test generates a workload with known latencies, stores it,
 * asks /api/v1/red, /operations and /top for percentiles and compares every
 * one with the exact nearest-rank percentile of the raw durations: each
 * must be within 1% relative error.
 *
 * /api/v1/red takes a bucket's percentiles from the row's stored summary
 * when the bucket is one stored row: the summary test compares every
 * number of the answer with the histogram path's (col_store_red without
 * COL_RED_SUMMARY, percentiles by col_apiq_percentiles).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/api.h"
#include "http/api_query.h"
#include "sightline.h"
#include "store/store.h"
#include "store/store_int.h"
#include "test_colutil.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define MIN (60 * SEC)

struct fx {
    char *dir;
    col_store *s;
    col_stats stats;
    col_api api;
    uint64_t t0; /* a minute boundary in the recent past */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (tu_store_open(&f->dir, &f->s) != 0)
        return -1;
    tu_api_init(&f->api, f->s, &f->stats);
    f->t0 = slc_now_ns() - 20 * MIN;
    f->t0 -= f->t0 % MIN;
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

/* n three-span traces (frontend -> checkout -> payment, payment fails, a
 * log), one per second from f->t0. */
static void store_traces(struct fx *f, int n, uint64_t seed)
{
    tu_store_traces(f->s, n, seed, f->t0, SEC, (uint32_t)seed);
}

/* ---- calling the API ----------------------------------------------------- */

/* GET path with NULL-terminated key, value pairs; returns the body (owned
 * by the caller) and the status in *status. */
static json_t *get(struct fx *f, int *status, const char *path, ...)
{
    va_list ap;
    json_t *body;

    va_start(ap, path);
    body = tu_api_vget(&f->api, status, path, ap);
    va_end(ap);
    return body;
}

static const char *err_code(json_t *body)
{
    return json_string_value(json_object_get(json_object_get(body, "error"), "code"));
}

static uint64_t u64(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return strtoull(json_string_value(v), NULL, 10);
    return (uint64_t)json_integer_value(v);
}

static char *ns_str(uint64_t ns, char *buf)
{
    snprintf(buf, 24, "%llu", (unsigned long long)ns);
    return buf;
}

/* ---- accuracy ------------------------------------------------------------ */

#define A_SVC 2
#define A_OPS 2
#define A_MINUTES 4
#define A_PER_MIN 3000 /* spans per (service, op, minute) */

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A heavy-tailed latency: 20 us .. ~2 s, log-uniform with a bump. */
static uint64_t latency(uint64_t *s)
{
    double u = (double)(xs(s) % 1000000) / 1e6;
    double v = (double)(xs(s) % 1000000) / 1e6;
    double x = 20000.0 * pow(10.0, 4.0 * u * u + 0.3 * v);
    return (uint64_t)x + 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the ceil(q*n)-th smallest. */
static uint64_t exact(const uint64_t *sorted, size_t n, double q)
{
    double r = q * (double)n;
    size_t k = (size_t)r;
    if ((double)k < r)
        k++;
    if (k == 0)
        k = 1;
    return sorted[k - 1];
}

static void within_1pct(uint64_t have, uint64_t want, const char *what, const char *p)
{
    double rel = fabs((double)have - (double)want) / (double)want;
    if (rel >= 0.01)
        fail_msg("%s %s: reported %llu, exact %llu, relative error %.4f", what, p,
                 (unsigned long long)have, (unsigned long long)want, rel);
}

static void test_red_accuracy(void **state)
{
    struct fx *f = *state;
    static const char *svcs[A_SVC] = {"api", "db"}, *ops[A_OPS] = {"read", "write"};
    static const double qs[4] = {0.50, 0.90, 0.95, 0.99};
    static const char *const pn[4] = {"p50_ns", "p90_ns", "p95_ns", "p99_ns"};
    /* raw durations per (service, op, minute) */
    uint64_t *raw = malloc(sizeof(uint64_t) * A_SVC * A_OPS * A_MINUTES * A_PER_MIN);
    uint64_t seed = 0x1234567, batch = 1;
    char b1[24], b2[24];
    int st, checked = 0;
    json_t *j, *series;

    assert_non_null(raw);
    for (int m = 0; m < A_MINUTES; m++) {
        slc_batch *b = slc_batch_new();
        for (int si = 0; si < A_SVC; si++)
            for (int oi = 0; oi < A_OPS; oi++)
                for (int i = 0; i < A_PER_MIN; i++) {
                    uint8_t tid[16], sid[8];
                    uint64_t d = latency(&seed);
                    size_t at = (((size_t)si * A_OPS + oi) * A_MINUTES + m) * A_PER_MIN + i;
                    uint64_t start = f->t0 + (uint64_t)m * MIN + (uint64_t)i * (50 * SEC / A_PER_MIN);
                    raw[at] = d;
                    tu_id(tid, 16, xs(&seed));
                    tu_id(sid, 8, xs(&seed));
                    tu_span(b, tid, sid, NULL, svcs[si], ops[oi], start, d, i % 7 == 0);
                    if (b->nspans == 500) {
                        b->batch_id = batch++;
                        tu_store_batch(f->s, b);
                        slc_batch_reset(b);
                    }
                    /* client spans with other latencies: kind=entry must skip them */
                    if (i % 10 == 0) {
                        slc_span sp;
                        tu_id(sid, 8, xs(&seed));
                        memset(&sp, 0, sizeof sp);
                        memcpy(sp.trace_id, tid, 16);
                        memcpy(sp.span_id, sid, 8);
                        sp.kind = SLC_KIND_CLIENT;
                        sp.service = tu_str(b, svcs[si]);
                        sp.name = tu_str(b, ops[oi]);
                        sp.start_ns = start;
                        sp.end_ns = start + 5 * SEC;
                        assert_int_equal(slc_batch_add_span(b, &sp, NULL), 0);
                    }
                }
        if (b->nspans > 0) {
            b->batch_id = batch++;
            tu_store_batch(f->s, b);
        }
        slc_batch_free(b);
    }

    /* Per operation, per minute. */
    j = get(f, &st, "/api/v1/red", "by", "operation", "step", "1m", "since",
            ns_str(f->t0, b1), "until", ns_str(f->t0 + A_MINUTES * MIN - 1, b2), NULL);
    assert_int_equal(st, 200);
    assert_int_equal(u64(j, "step_ns"), MIN);
    assert_int_equal(json_array_size(json_object_get(j, "t_us")), A_MINUTES);
    series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), A_SVC * A_OPS);
    for (size_t x = 0; x < json_array_size(series); x++) {
        json_t *s = json_array_get(series, x);
        const char *svc = json_string_value(json_object_get(s, "service"));
        const char *op = json_string_value(json_object_get(s, "operation"));
        int si = strcmp(svc, "api") == 0 ? 0 : 1, oi = strcmp(op, "read") == 0 ? 0 : 1;
        assert_string_equal(svc, svcs[si]);
        assert_string_equal(op, ops[oi]);
        for (int m = 0; m < A_MINUTES; m++) {
            uint64_t *v = raw + (((size_t)si * A_OPS + oi) * A_MINUTES + m) * A_PER_MIN;
            char what[64];
            assert_int_equal(json_integer_value(json_array_get(json_object_get(s, "count"), m)),
                             A_PER_MIN);
            assert_int_equal(json_integer_value(json_array_get(json_object_get(s, "errors"), m)),
                             (A_PER_MIN + 6) / 7);
            qsort(v, A_PER_MIN, sizeof *v, cmp_u64);
            snprintf(what, sizeof what, "%s/%s minute %d", svc, op, m);
            for (int k = 0; k < 4; k++) {
                json_t *p = json_array_get(json_object_get(s, pn[k]), m);
                within_1pct((uint64_t)json_integer_value(p), exact(v, A_PER_MIN, qs[k]), what,
                            pn[k]);
                checked++;
            }
        }
    }
    json_decref(j);

    /* Per service over the whole range (step 0), ops merged. */
    j = get(f, &st, "/api/v1/red", "step", "0", "since", ns_str(f->t0, b1), "until",
            ns_str(f->t0 + A_MINUTES * MIN - 1, b2), NULL);
    assert_int_equal(st, 200);
    series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), A_SVC);
    for (int si = 0; si < A_SVC; si++) {
        json_t *s = json_array_get(series, (size_t)si);
        size_t n = (size_t)A_OPS * A_MINUTES * A_PER_MIN;
        uint64_t *v = malloc(n * sizeof *v);
        assert_non_null(v);
        /* a copy: the per-operation slices are checked again below */
        memcpy(v, raw + (size_t)si * n, n * sizeof *v);
        assert_string_equal(json_string_value(json_object_get(s, "service")), svcs[si]);
        assert_null(json_object_get(s, "operation"));
        qsort(v, n, sizeof *v, cmp_u64);
        for (int k = 0; k < 4; k++) {
            within_1pct((uint64_t)json_integer_value(json_array_get(json_object_get(s, pn[k]), 0)),
                        exact(v, n, qs[k]), svcs[si], pn[k]);
            checked++;
        }
        free(v);
    }
    json_decref(j);

    /* The operations table and top-N report the same numbers. */
    j = get(f, &st, "/api/v1/services/db/operations", "since", ns_str(f->t0, b1), "until",
            ns_str(f->t0 + A_MINUTES * MIN - 1, b2), NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "operations")), A_OPS);
    for (size_t x = 0; x < A_OPS; x++) {
        json_t *o = json_array_get(json_object_get(j, "operations"), x);
        int oi = strcmp(json_string_value(json_object_get(o, "operation")), "read") == 0 ? 0 : 1;
        size_t n = (size_t)A_MINUTES * A_PER_MIN;
        uint64_t *v = raw + ((size_t)1 * A_OPS + oi) * n;
        assert_int_equal(u64(o, "count"), n);
        qsort(v, n, sizeof *v, cmp_u64);
        for (int k = 0; k < 4; k++) {
            within_1pct(u64(o, pn[k]), exact(v, n, qs[k]), "db operations", pn[k]);
            checked++;
        }
    }
    json_decref(j);
    assert_int_equal(checked, A_SVC * A_OPS * A_MINUTES * 4 + A_SVC * 4 + A_OPS * 4);
    free(raw);
}

/* ---- search ---------------------------------------------------------------- */

static void test_search(void **state)
{
    struct fx *f = *state;
    char b1[24];
    int st;
    json_t *j, *t;

    store_traces(f, 30, 100);
    ns_str(f->t0, b1);
    /* Errors only in payment, slowest first, with trace summaries. */
    j = get(f, &st, "/api/v1/traces", "service", "payment", "error", "true", "order", "slowest",
            "limit", "5", "since", b1, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 5);
    t = json_array_get(json_object_get(j, "traces"), 0);
    assert_string_equal(json_string_value(json_object_get(t, "service")), "payment");
    assert_true(json_is_true(json_object_get(t, "error")));
    assert_int_equal(json_integer_value(json_object_get(t, "span_count")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "error_count")), 1);
    assert_int_equal(json_array_size(json_object_get(t, "services")), 3);
    assert_string_equal(json_string_value(json_object_get(t, "root_service")), "frontend");
    assert_int_equal(json_integer_value(json_object_get(t, "trace_duration_ns")), 50 * MS);
    json_decref(j);

    /* Attribute filters: status code 500 is on payment only; tags AND attr. */
    j = get(f, &st, "/api/v1/traces", "attr", "http.response.status_code=500", "since", b1,
            "limit", "100", "summary", "false", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 30);
    t = json_array_get(json_object_get(j, "traces"), 0);
    assert_null(json_object_get(t, "span_count"));
    json_decref(j);
    j = get(f, &st, "/api/v1/traces", "attr", "http.response.status_code=500", "tags",
            "{\"http.request.method\":\"GET\"}", "since", b1, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 20);
    json_decref(j);
    j = get(f, &st, "/api/v1/traces", "attr", "http.response.status_code=500", "tags",
            "{\"http.request.method\":\"POST\"}", "since", b1, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 0);
    json_decref(j);
    /* Repeated attr: every one applies (ANDed), not only the first. */
    j = get(f, &st, "/api/v1/traces", "attr", "http.response.status_code=500", "attr",
            "http.request.method=GET", "since", b1, "limit", "100", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 30);
    json_decref(j);
    j = get(f, &st, "/api/v1/traces", "attr", "http.response.status_code=500", "attr",
            "http.request.method=POST", "since", b1, "limit", "100", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 0);
    json_decref(j);

    /* No span filter: the trace list, by root span, newest first. */
    j = get(f, &st, "/api/v1/traces", "since", b1, "limit", "3", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    t = json_array_get(json_object_get(j, "traces"), 0);
    assert_string_equal(json_string_value(json_object_get(t, "service")), "frontend");
    assert_true(json_is_true(json_object_get(t, "is_root")));
    assert_int_equal(u64(t, "start_ns"), f->t0 + 29 * SEC);
    assert_int_equal(json_integer_value(json_object_get(t, "span_count")), 3);
    json_decref(j);

    /* Durations: only the 50 ms frontend roots are >= 45 ms. */
    j = get(f, &st, "/api/v1/traces", "min_duration", "45ms", "max_duration", "1s", "since", b1,
            "limit", "100", NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 30);
    t = json_array_get(json_object_get(j, "traces"), 0);
    assert_true(json_is_true(json_object_get(t, "is_root")));
    json_decref(j);

    /* Bad arguments: one error shape, status 400. */
    {
        static const char *bad[][3] = {{"limit", "0", "bad_limit"},
                                       {"limit", "abc", "bad_limit"},
                                       {"since", "yesterday", "bad_time"},
                                       {"min_duration", "fast", "bad_duration"},
                                       {"order", "oldest", "bad_argument"},
                                       {"error", "maybe", "bad_argument"},
                                       {"attr", "novalue", "bad_attr"},
                                       {"tags", "[1]", "bad_attr"}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            j = get(f, &st, "/api/v1/traces", bad[i][0], bad[i][1], NULL);
            assert_int_equal(st, 400);
            assert_string_equal(err_code(j), bad[i][2]);
            json_decref(j);
        }
    }
    j = get(f, &st, "/api/v1/traces", "min_duration", "2s", "max_duration", "1s", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "bad_range");
    json_decref(j);
    j = get(f, &st, "/api/v1/traces", "since", "40d", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "bad_range");
    json_decref(j);
}

/* ---- aggregates: RED shape, operations, deps, top ------------------------------ */

static void test_aggregates(void **state)
{
    struct fx *f = *state;
    char b1[24], b2[24];
    int st;
    json_t *j, *s, *e;

    store_traces(f, 90, 500); /* 90 s: two minutes */
    ns_str(f->t0, b1);
    ns_str(f->t0 + 5 * MIN - 1, b2);
    j = get(f, &st, "/api/v1/red", "service", "payment", "step", "1m", "since", b1, "until", b2,
            NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "t_us")), 5);
    s = json_array_get(json_object_get(j, "series"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "series")), 1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(s, "count"), 0)), 60);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(s, "count"), 1)), 30);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(s, "count"), 2)), 0);
    assert_true(json_is_null(json_array_get(json_object_get(s, "p99_ns"), 2)));
    assert_true(fabs(json_real_value(json_array_get(json_object_get(s, "rate"), 0)) - 1.0) < 1e-9);
    assert_true(fabs(json_real_value(json_array_get(json_object_get(s, "error_rate"), 0)) - 1.0) <
                1e-9);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "total"), "count")), 90);
    json_decref(j);

    /* Auto step over 24 h: round, at most 120 buckets.  Too many buckets: 400. */
    j = get(f, &st, "/api/v1/red", "since", "24h", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(u64(j, "step_ns"), 15 * MIN);
    assert_true(json_array_size(json_object_get(j, "t_us")) <= 120);
    json_decref(j);
    j = get(f, &st, "/api/v1/red", "since", "30d", "step", "1m", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "bad_step");
    json_decref(j);
    j = get(f, &st, "/api/v1/red", "kind", "weird", NULL);
    assert_int_equal(st, 400);
    json_decref(j);

    /* Operations of one service; unknown service: 404. */
    j = get(f, &st, "/api/v1/services/checkout/operations", "since", b1, "until", b2, NULL);
    assert_int_equal(st, 200);
    e = json_array_get(json_object_get(j, "operations"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "operation")), "place-order");
    assert_int_equal(u64(e, "count"), 90);
    assert_true(u64(e, "p50_ns") > 39600 * 1000ULL && u64(e, "p50_ns") < 40400 * 1000ULL);
    json_decref(j);
    j = get(f, &st, "/api/v1/services/nosuch/operations", NULL);
    assert_int_equal(st, 404);
    assert_string_equal(err_code(j), "not_found");
    json_decref(j);
    j = get(f, &st, "/api/v1/services/checkout/other", NULL);
    assert_int_equal(st, 404);
    json_decref(j);

    /* Service map. */
    j = get(f, &st, "/api/v1/deps", "since", b1, "until", b2, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "edges")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "nodes")), 3);
    for (size_t i = 0; i < 2; i++) {
        e = json_array_get(json_object_get(j, "edges"), i);
        assert_int_equal(u64(e, "calls"), 90);
        if (strcmp(json_string_value(json_object_get(e, "callee")), "payment") == 0) {
            assert_string_equal(json_string_value(json_object_get(e, "caller")), "checkout");
            assert_int_equal(u64(e, "errors"), 90);
        } else {
            assert_string_equal(json_string_value(json_object_get(e, "caller")), "frontend");
            assert_int_equal(u64(e, "errors"), 0);
        }
    }
    json_decref(j);

    /* Top: slowest is the 50 ms root; most failing is payment/charge. */
    j = get(f, &st, "/api/v1/top", "by", "latency", "since", b1, "until", b2, NULL);
    assert_int_equal(st, 200);
    e = json_array_get(json_object_get(j, "operations"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "service")), "frontend");
    assert_int_equal(json_array_size(json_object_get(j, "operations")), 3);
    json_decref(j);
    j = get(f, &st, "/api/v1/top", "by", "errors", "since", b1, "until", b2, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "operations")), 1);
    e = json_array_get(json_object_get(j, "operations"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "operation")), "charge");
    json_decref(j);
    /* An empty range: 200 with no rows (also for operations and deps). */
    j = get(f, &st, "/api/v1/top", "by", "errors", "since", "10d", "until", "9d", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "operations")), 0);
    json_decref(j);
    j = get(f, &st, "/api/v1/services/checkout/operations", "since", "10d", "until", "9d", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "operations")), 0);
    json_decref(j);
    j = get(f, &st, "/api/v1/deps", "since", "10d", "until", "9d", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "edges")), 0);
    json_decref(j);
    j = get(f, &st, "/api/v1/top", "by", "size", NULL);
    assert_int_equal(st, 400);
    json_decref(j);
}

/* ---- logs ------------------------------------------------------------------------ */

static void test_logs(void **state)
{
    struct fx *f = *state;
    char b1[24], cur[128] = "", tid[33];
    int st, total = 0, pages = 0;
    json_t *j, *l;
    uint64_t last = UINT64_MAX;

    store_traces(f, 25, 900);
    ns_str(f->t0, b1);
    /* Every record once, newest first, across pages of 4. */
    do {
        j = get(f, &st, "/api/v1/logs", "since", b1, "limit", "4", "cursor", cur, NULL);
        assert_int_equal(st, 200);
        for (size_t i = 0; i < json_array_size(json_object_get(j, "logs")); i++) {
            l = json_array_get(json_object_get(j, "logs"), i);
            assert_true(u64(l, "time_ns") < last);
            last = u64(l, "time_ns");
            assert_string_equal(json_string_value(json_object_get(l, "body")), "card declined");
            assert_int_equal(strlen(json_string_value(json_object_get(l, "trace_id"))), 32);
            assert_non_null(json_object_get(l, "trace_url"));
            total++;
        }
        snprintf(cur, sizeof cur, "%s", json_string_value(json_object_get(j, "next_cursor")));
        json_decref(j);
    } while (cur[0] != '\0' && ++pages < 20);
    assert_int_equal(total, 25);

    /* Filters: level (info is 9: warn and above finds nothing), substring. */
    j = get(f, &st, "/api/v1/logs", "since", b1, "level", "warn", NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 0);
    json_decref(j);
    j = get(f, &st, "/api/v1/logs", "since", b1, "level", "info", "q", "declined", "service",
            "payment", "limit", "1000", NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 25);
    json_decref(j);

    /* By trace id: at any age, no time range needed. */
    {
        uint8_t id[16];
        tu_id(id, 16, 905);
        slc_hex_encode(id, 16, tid);
    }
    j = get(f, &st, "/api/v1/logs", "trace_id", tid, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
    l = json_array_get(json_object_get(j, "logs"), 0);
    assert_string_equal(json_string_value(json_object_get(l, "trace_id")), tid);
    json_decref(j);

    j = get(f, &st, "/api/v1/logs", "level", "loud", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "bad_level");
    json_decref(j);
    j = get(f, &st, "/api/v1/logs", "cursor", "garbage", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "bad_cursor");
    json_decref(j);
    j = get(f, &st, "/api/v1/logs", "trace_id", "xyz", NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "bad_trace_id");
    json_decref(j);
}

/* ---- configured query limits (query-max-*) ------------------------------------ */

/* Answer j is a 400 with code and a message naming setting; frees j. */
static void assert_limit(json_t *j, int st, const char *code, const char *setting)
{
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));

    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), code);
    assert_non_null(msg);
    assert_non_null(strstr(msg, setting));
    json_decref(j);
}

static void test_configured_limits(void **state)
{
    struct fx *f = *state;
    const char *lists[] = {"/api/v1/traces", "/api/v1/logs", "/api/v1/top"};
    int st;
    json_t *j;

    store_traces(f, 30, 700);
    /* Under the defaults, all of these are accepted. */
    j = get(f, &st, "/api/v1/traces", "since", "3h", "limit", "6", NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    j = get(f, &st, "/api/v1/red", "since", "1h", "step", "1m", NULL);
    assert_int_equal(st, 200);
    assert_true(json_array_size(json_object_get(j, "series")) > 1);
    json_decref(j);

    f->api.query_max_range_ns = 2 * 3600 * SEC;
    f->api.query_max_buckets = 10;
    f->api.query_max_series = 1;
    f->api.query_max_results = 5;

    j = get(f, &st, "/api/v1/traces", "since", "3h", NULL);
    assert_limit(j, st, "bad_range", "longer than 2h (query-max-range)");
    j = get(f, &st, "/api/v1/deps", "since", "3h", NULL);
    assert_limit(j, st, "bad_range", "query-max-range");
    j = get(f, &st, "/api/v1/sdk", "since", "3h", NULL);
    assert_limit(j, st, "bad_range", "at most 2h (query-max-range)");
    j = get(f, &st, "/api/v1/traces", "since", "2h", NULL);
    assert_int_equal(st, 200);
    json_decref(j);

    j = get(f, &st, "/api/v1/red", "since", "1h", "step", "1m", NULL);
    assert_limit(j, st, "bad_step", "at most 10 (query-max-buckets)");
    j = get(f, &st, "/api/v1/red", "since", "1h", "step", "10m", NULL);
    assert_limit(j, st, "too_big", "more than 1 series (query-max-series)");
    j = get(f, &st, "/api/v1/red", "service", "payment", "since", "1h", "step", "10m", NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "series")), 1);
    json_decref(j);

    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        j = get(f, &st, lists[i], "limit", "6", NULL);
        assert_limit(j, st, "bad_limit", "1..5 (query-max-results)");
        j = get(f, &st, lists[i], "limit", "5", NULL);
        assert_int_equal(st, 200);
        json_decref(j);
    }
}

/* Regression (fuzz_query): an error message quoting an argument that is not
 * UTF-8, or that %.32s cuts inside a sequence, still has its JSON body. */
static void test_error_quotes_bad_utf8(void **state)
{
    struct fx *f = *state;
    const char *bad[] = {"err`or\x18\xeb`)\x08O\x95\xcd", /* the input found */
                         "0123456789012345678901234567890\xc3\xa9", "\xff\xfe", "\xed\xa0\x80"};
    int st;
    json_t *j;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = get(f, &st, "/api/v1/top", "by", bad[i], NULL);
        assert_int_equal(st, 400);
        assert_non_null(j);
        assert_string_equal(err_code(j), "bad_argument");
        json_decref(j);
        j = get(f, &st, "/api/v1/red", "step", bad[i], NULL);
        assert_int_equal(st, 400);
        assert_string_equal(err_code(j), "bad_step");
        json_decref(j);
    }
}

/* The RED answer is written as JSON text (jsonw.c): names with quotes,
 * control characters, and a name the rollup key cut at 255 bytes inside a
 * UTF-8 sequence (jansson refused that one: the answer was a 500) still
 * give valid JSON, the cut sequence as U+FFFD. */
static void test_red_names_escaped(void **state)
{
    struct fx *f = *state;
    slc_batch *b = slc_batch_new();
    char longname[301], b1[24], want[300];
    uint8_t tid[16], sid[8];
    const char *weird = "pay\"me\\nt\n\x01\x7f/â";
    int st, seen = 0;
    json_t *j, *ser;

    for (size_t i = 0; i + 1 < sizeof longname; i += 2)
        memcpy(longname + i, "\xc3\xa9", 2);
    longname[300] = '\0';
    tu_id(tid, 16, 5);
    tu_id(sid, 8, 5);
    tu_span(b, tid, sid, NULL, weird, "op\"1", f->t0 + SEC, 5 * MS, 0);
    tu_id(sid, 8, 6);
    tu_span(b, tid, sid, NULL, longname, longname, f->t0 + 2 * SEC, 7 * MS, 1);
    b->batch_id = 4242;
    tu_store_batch(f->s, b);
    slc_batch_free(b);
    ns_str(f->t0, b1);
    /* the cut name: 127 x U+00E9, then the lone first byte of the next */
    memcpy(want, longname, 254);
    memcpy(want + 254, "\xef\xbf\xbd", 4);
    j = get(f, &st, "/api/v1/red", "by", "operation", "step", "1m", "since", b1, NULL);
    assert_int_equal(st, 200);
    ser = json_object_get(j, "series");
    for (size_t i = 0; i < json_array_size(ser); i++) {
        json_t *o = json_array_get(ser, i);
        const char *svc = json_string_value(json_object_get(o, "service"));
        const char *op = json_string_value(json_object_get(o, "operation"));
        if (strcmp(svc, weird) == 0) {
            assert_string_equal(op, "op\"1");
            seen |= 1;
        } else if (strcmp(svc, want) == 0) {
            assert_string_equal(op, want);
            assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "total"), "errors")), 1);
            seen |= 2;
        }
    }
    assert_int_equal(seen, 3);
    json_decref(j);
}

/* ---- stored summaries vs histograms ---------------------------------------- */

#define S_MIN 6

/* The expected answer, read through the histogram path. */
struct xseries {
    char svc[64], op[64];
    uint64_t count[S_MIN], errors[S_MIN], pct[S_MIN][4];
};

struct xred {
    struct xseries s[64];
    size_t n;
    uint64_t first, step;
};

static int x_row(const col_agg_row *r, void *arg)
{
    struct xred *x = arg;
    struct xseries *s = NULL;
    uint64_t i = x->step == 0 ? 0 : (r->bucket_ns - x->first) / x->step;

    assert_non_null(r->hist);
    assert_null(r->sum);
    assert_true(i < S_MIN && r->service_len < 64 && r->operation_len < 64);
    for (size_t k = 0; k < x->n && s == NULL; k++)
        if (strlen(x->s[k].svc) == r->service_len &&
            memcmp(x->s[k].svc, r->service, r->service_len) == 0 &&
            strlen(x->s[k].op) == r->operation_len &&
            memcmp(x->s[k].op, r->operation, r->operation_len) == 0)
            s = &x->s[k];
    if (s == NULL) {
        assert_true(x->n < 64);
        s = &x->s[x->n++];
        memset(s, 0, sizeof *s);
        memcpy(s->svc, r->service, r->service_len);
        memcpy(s->op, r->operation, r->operation_len);
    }
    s->count[i] += r->count;
    s->errors[i] += r->errors;
    col_apiq_percentiles(r->hist, s->pct[i]);
    return 0;
}

/* Asks /api/v1/red and compares every count, error count and percentile
 * with the histogram path's. */
static void red_same(struct fx *f, const char *kind, unsigned mask, const char *step,
                     uint64_t step_ns, const char *by, const char *svc)
{
    static const char *const pn[4] = {"p50_ns", "p90_ns", "p95_ns", "p99_ns"};
    struct xred *x = calloc(1, sizeof *x);
    uint64_t since = f->t0 + 10 * SEC, until = f->t0 + S_MIN * MIN - 1;
    char b1[24], b2[24], what[128];
    int st, by_op = strcmp(by, "operation") == 0;
    json_t *j, *ser;

    assert_non_null(x);
    snprintf(what, sizeof what, "kind %s step %s by %s service %s", kind, step, by,
             svc ? svc : "(all)");
    x->first = since - since % MIN;
    x->step = step_ns;
    assert_int_equal(col_store_red(f->s, svc, NULL, since, until, step_ns, mask, !by_op, x_row, x),
                     0);
    if (svc != NULL)
        j = get(f, &st, "/api/v1/red", "kind", kind, "step", step, "by", by, "service", svc,
                "since", ns_str(since, b1), "until", ns_str(until, b2), NULL);
    else
        j = get(f, &st, "/api/v1/red", "kind", kind, "step", step, "by", by, "since",
                ns_str(since, b1), "until", ns_str(until, b2), NULL);
    assert_int_equal(st, 200);
    ser = json_object_get(j, "series");
    if (json_array_size(ser) != x->n)
        fail_msg("%s: %zu series, expected %zu", what, json_array_size(ser), x->n);
    for (size_t k = 0; k < x->n; k++) {
        json_t *o = json_array_get(ser, k);
        const struct xseries *s = &x->s[k];
        size_t np = json_array_size(json_object_get(o, "count"));

        assert_string_equal(json_string_value(json_object_get(o, "service")), s->svc);
        if (by_op)
            assert_string_equal(json_string_value(json_object_get(o, "operation")), s->op);
        assert_true(np >= 1 && np <= S_MIN);
        for (size_t i = 0; i < np; i++) {
            assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "count"), i)),
                             s->count[i]);
            assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "errors"), i)),
                             s->errors[i]);
            for (int q = 0; q < 4; q++) {
                json_t *p = json_array_get(json_object_get(o, pn[q]), i);
                if (s->count[i] == 0)
                    assert_true(json_is_null(p));
                else if ((uint64_t)json_integer_value(p) != s->pct[i][q])
                    fail_msg("%s: %s/%s bucket %zu %s: %lld, histogram path %llu", what, s->svc,
                             s->op, i, pn[q], (long long)json_integer_value(p),
                             (unsigned long long)s->pct[i][q]);
            }
        }
    }
    json_decref(j);
    free(x);
}

static void red_same_all(struct fx *f)
{
    static const struct {
        const char *name;
        unsigned mask;
    } kinds[] = {{"entry", COL_KIND_ENTRY},
                 {"all", 0},
                 {"server", 1u << SLC_KIND_SERVER},
                 {"client", 1u << SLC_KIND_CLIENT}};
    static const struct {
        const char *name;
        uint64_t ns;
    } steps[] = {{"1m", MIN}, {"2m", 2 * MIN}, {"0", 0}};
    static const char *const bys[] = {"service", "operation"};
    static const char *const svcs[] = {NULL, "svc-b"};

    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t st = 0; st < sizeof steps / sizeof steps[0]; st++)
            for (size_t b = 0; b < 2; b++)
                for (size_t sv = 0; sv < 2; sv++)
                    red_same(f, kinds[k].name, kinds[k].mask, steps[st].name, steps[st].ns, bys[b],
                             svcs[sv]);
}

/* Random spans of every kind, over S_MIN minutes, in many frames (so the
 * merge operator folds operands on read); the answer from summaries equals
 * the histogram path's, from per-operation and per-service rows, before
 * and after compaction. */
static void test_red_summaries_same(void **state)
{
    struct fx *f = *state;
    static const char *const svcs[] = {"svc-a", "svc-b", "svc-c"};
    static const char *const ops[] = {"GET /", "POST /x", "work"};
    uint64_t seed = 77;

    for (int fr = 0; fr < 30; fr++) {
        slc_batch *b = slc_batch_new();
        assert_non_null(b);
        b->batch_id = 5000 + (uint64_t)fr;
        for (int i = 0; i < 120; i++) {
            slc_span sp;
            memset(&sp, 0, sizeof sp);
            tu_id(sp.trace_id, 16, xs(&seed));
            tu_id(sp.span_id, 8, xs(&seed));
            /* mostly server spans: many buckets of one kind */
            sp.kind = (uint8_t)(xs(&seed) % 3 == 0 ? xs(&seed) % 6 : SLC_KIND_SERVER);
            sp.status = xs(&seed) % 8 == 0 ? SLC_STATUS_ERROR : SLC_STATUS_OK;
            sp.service = tu_str(b, svcs[xs(&seed) % 3]);
            sp.name = tu_str(b, ops[xs(&seed) % 3]);
            sp.start_ns = f->t0 + xs(&seed) % (S_MIN * MIN);
            sp.end_ns = sp.start_ns + latency(&seed);
            assert_int_equal(slc_batch_add_span(b, &sp, NULL), 0);
        }
        tu_store_batch(f->s, b);
        slc_batch_free(b);
    }
    /* per-operation rows only (minutes before per-service rows began) */
    red_same_all(f);
    /* per-service rows */
    f->s->svc_rollup_since_ns = 0;
    red_same_all(f);
    assert_int_equal(col_store_compact(f->s), 0);
    red_same_all(f);
}

/* The one-pass percentiles equal slc_hist_quantile() exactly. */
static void test_percentiles_match_quantile(void **state)
{
    slc_hist *h = malloc(sizeof *h);
    uint64_t seed = 99, p[4];
    static const double qs[4] = {0.50, 0.90, 0.95, 0.99};

    (void)state;
    for (int round = 0; round < 50; round++) {
        slc_hist_reset(h);
        int n = 1 + (int)(xs(&seed) % 2000);
        for (int i = 0; i < n; i++)
            slc_hist_add(h, latency(&seed) >> (round % 12), 1 + xs(&seed) % 3);
        col_apiq_percentiles(h, p);
        for (int k = 0; k < 4; k++)
            assert_int_equal(p[k], slc_hist_quantile(h, qs[k]));
    }
    slc_hist_reset(h);
    col_apiq_percentiles(h, p);
    assert_int_equal(p[0] | p[1] | p[2] | p[3], 0);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_match_quantile),
        cmocka_unit_test_setup_teardown(test_red_accuracy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_red_summaries_same, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configured_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_quotes_bad_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_red_names_escaped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
