/*
 * test_query_merge.c - merging two nodes' partial answers (query/slq_partial.c):
 * search hit lists under a limit and an order, and RED answers bucket by
 * bucket through their histograms.  No store: answers are built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sightline.h"
#include "common/slc_hist.h"
#include "query/slq_partial.h"

#define MS 1000000ull
#define T0 1764000000000000000ull
#define MIN (60ull * 1000000000ull)

/* ---- search hits ------------------------------------------------------------ */

/* A hit of trace number t, starting at start, lasting dur, with a summary
 * {"t": t} to follow where it goes. */
static slq_hit hit(int t, uint64_t start, uint64_t dur)
{
    slq_hit h;

    memset(&h, 0, sizeof h);
    h.h.trace_id[15] = (uint8_t)t;
    h.h.trace_id[0] = 1;
    h.h.start_ns = start;
    h.h.duration_ns = dur;
    snprintf(h.h.service, sizeof h.h.service, "svc%d", t);
    h.summary = json_pack("{s:i}", "t", t);
    return h;
}

static void hits_of(slq_hits *l, const slq_hit *v, size_t n, int capped)
{
    l->v = calloc(n ? n : 1, sizeof *l->v);
    assert_non_null(l->v);
    memcpy(l->v, v, n * sizeof *v);
    l->n = n;
    l->capped = capped;
}

static void assert_traces(const slq_hits *l, const int *want, size_t n)
{
    assert_int_equal(l->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l->v[i].h.trace_id[15], want[i]);
        assert_non_null(l->v[i].summary);
        assert_int_equal(json_integer_value(json_object_get(l->v[i].summary, "t")), want[i]);
    }
}

static void test_hits_newest(void **state)
{
    slq_hits a = {0}, b = {0};
    slq_hit va[] = {hit(1, T0 + 90 * MS, 5 * MS), hit(2, T0 + 70 * MS, 50 * MS),
                    hit(3, T0 + 10 * MS, 1 * MS)};
    slq_hit vb[] = {hit(4, T0 + 80 * MS, 7 * MS), hit(2, T0 + 75 * MS, 3 * MS),
                    hit(5, T0 + 20 * MS, 9 * MS)};
    static const int want[] = {1, 4, 2, 5};

    (void)state;
    hits_of(&a, va, 3, 0);
    hits_of(&b, vb, 3, 1);
    assert_int_equal(slq_hits_merge(&a, &b, 4, COL_ORDER_NEWEST), 0);
    /* Trace 2 is on both nodes: kept once, with b's newer matching span. */
    assert_traces(&a, want, 4);
    assert_int_equal(a.v[2].h.start_ns, T0 + 75 * MS);
    assert_int_equal(a.capped, 1);
    assert_int_equal(b.n, 0);
    assert_null(b.v);
    slq_hits_free(&a);
    slq_hits_free(&b);
}

static void test_hits_slowest(void **state)
{
    slq_hits a = {0}, b = {0};
    slq_hit va[] = {hit(1, T0, 90 * MS), hit(2, T0, 40 * MS), hit(3, T0, 10 * MS)};
    slq_hit vb[] = {hit(4, T0, 95 * MS), hit(5, T0, 40 * MS), hit(6, T0, 1 * MS)};
    static const int want[] = {4, 1, 2};

    (void)state;
    hits_of(&a, va, 3, 0);
    hits_of(&b, vb, 3, 0);
    /* Equal durations (2 and 5): dst's first; the limit cuts 5 off. */
    assert_int_equal(slq_hits_merge(&a, &b, 3, COL_ORDER_SLOWEST), 0);
    assert_traces(&a, want, 3);
    assert_int_equal(a.capped, 0);
    slq_hits_free(&a);
    slq_hits_free(&b);
}

static void test_hits_empty(void **state)
{
    slq_hits a = {0}, b = {0};
    slq_hit vb[] = {hit(7, T0 + 2, 1), hit(8, T0 + 1, 1)};
    static const int want[] = {7, 8};

    (void)state;
    assert_int_equal(slq_hits_merge(&a, &b, 10, COL_ORDER_NEWEST), 0);
    assert_int_equal(a.n, 0);
    hits_of(&b, vb, 2, 0);
    assert_int_equal(slq_hits_merge(&a, &b, 10, COL_ORDER_NEWEST), 0);
    assert_traces(&a, want, 2);
    slq_hits_free(&a);
    slq_hits_free(&b);
    slq_hits_free(NULL);
}

/* ---- RED ------------------------------------------------------------------------ */

static void red_init(slq_red *r, uint64_t npoints)
{
    memset(r, 0, sizeof *r);
    r->first = T0 - T0 % MIN;
    r->step = MIN;
    r->npoints = npoints;
    r->max_series = 10;
    r->has_hist = 1;
}

/* Bucket i of series (svc, op) gets n observations at each value of vals,
 * the errors given, and the histogram's encoding; h accumulates the same
 * observations for the expected answer. */
static void red_put(slq_red *r, const char *svc, const char *op, uint64_t i, const uint64_t *vals,
                    size_t nv, uint64_t errors, slc_hist *h)
{
    slq_red_series *s = slq_red_series_get(r, svc, strlen(svc), op, strlen(op));
    slc_hist *b = malloc(sizeof *b);
    uint8_t *enc = malloc(slc_hist_encoded_max());
    size_t len;

    assert_non_null(s);
    assert_non_null(b);
    assert_non_null(enc);
    slc_hist_reset(b);
    for (size_t k = 0; k < nv; k++) {
        slc_hist_add(b, vals[k], 1);
        slc_hist_add(h, vals[k], 1);
    }
    len = slc_hist_encode(b, enc, slc_hist_encoded_max());
    assert_true(len > 0);
    free(s->hist[i]);
    s->hist[i] = enc;
    s->hist_len[i] = len;
    s->count[i] += nv;
    s->errors[i] += errors;
    s->total += nv;
    s->total_errors += errors;
    assert_int_equal(slq_hist_bytes_percentiles(enc, len, &s->pct[i * 4]), 0);
    free(b);
}

static void assert_pct(const slq_red_series *s, uint64_t i, const slc_hist *h)
{
    static const double qs[4] = {0.50, 0.90, 0.95, 0.99};

    for (int k = 0; k < 4; k++)
        assert_int_equal(s->pct[i * 4 + k], slc_hist_quantile(h, qs[k]));
}

static void test_red_merge(void **state)
{
    slq_red a, b;
    slc_hist *h0 = malloc(sizeof *h0), *h1 = malloc(sizeof *h1), *hx = malloc(sizeof *hx);
    uint64_t fast[50], slow[5], other[3] = {7 * MS, 8 * MS, 9 * MS};

    (void)state;
    assert_non_null(h0);
    assert_non_null(h1);
    assert_non_null(hx);
    slc_hist_reset(h0);
    slc_hist_reset(h1);
    slc_hist_reset(hx);
    for (int k = 0; k < 50; k++)
        fast[k] = (uint64_t)(k + 1) * MS;
    for (int k = 0; k < 5; k++)
        slow[k] = (uint64_t)(k + 1) * 1000 * MS;
    red_init(&a, 3);
    red_init(&b, 3);
    /* Node a: api/GET in buckets 0 and 1; node b: api/GET in bucket 1
     * (slow requests that move its p99) and a series a lacks. */
    red_put(&a, "api", "GET", 0, fast, 50, 2, h0);
    red_put(&a, "api", "GET", 1, fast, 50, 0, h1);
    red_put(&b, "api", "GET", 1, slow, 5, 5, h1);
    red_put(&b, "db", "query", 2, other, 3, 1, hx);
    assert_int_equal(slq_red_merge(&a, &b), 0);
    assert_int_equal(a.n, 2);
    assert_memory_equal(a.s[0].service, "api", 4);
    assert_int_equal(a.s[0].count[0], 50);
    assert_int_equal(a.s[0].count[1], 55);
    assert_int_equal(a.s[0].count[2], 0);
    assert_int_equal(a.s[0].errors[1], 5);
    assert_int_equal(a.s[0].total, 105);
    assert_int_equal(a.s[0].total_errors, 7);
    assert_pct(&a.s[0], 0, h0);
    assert_pct(&a.s[0], 1, h1);
    assert_true(a.s[0].pct[1 * 4 + 3] >= 4000 * MS); /* the slow node's tail shows */
    assert_null(a.s[0].hist[2]);
    assert_memory_equal(a.s[1].service, "db", 3);
    assert_int_equal(a.s[1].operation_len, 5);
    assert_int_equal(a.s[1].count[2], 3);
    assert_int_equal(a.s[1].errors[2], 1);
    assert_pct(&a.s[1], 2, hx);
    /* src is only read. */
    assert_int_equal(b.s[0].count[1], 5);
    slq_red_free(&a);
    slq_red_free(&b);
    free(h0);
    free(h1);
    free(hx);
}

static void test_red_merge_refused(void **state)
{
    slq_red a, b, c;
    slc_hist *h = malloc(sizeof *h);
    uint64_t v[1] = {MS};

    (void)state;
    assert_non_null(h);
    slc_hist_reset(h);
    red_init(&a, 2);
    red_init(&b, 3);
    red_init(&c, 2);
    red_put(&a, "a", "", 0, v, 1, 0, h);
    red_put(&b, "b", "", 0, v, 1, 0, h);
    /* Different buckets: nothing merged. */
    assert_int_equal(slq_red_merge(&a, &b), SL_EINVAL);
    assert_int_equal(a.n, 1);
    /* Without histograms there is nothing to merge percentiles from. */
    c.has_hist = 0;
    assert_int_equal(slq_red_merge(&a, &c), SL_EINVAL);
    /* The series bound holds across a merge. */
    c.has_hist = 1;
    red_put(&c, "c", "", 1, v, 1, 0, h);
    a.max_series = 1;
    assert_int_equal(slq_red_merge(&a, &c), SL_ETOOBIG);
    assert_true(a.too_big);
    slq_red_free(&a);
    slq_red_free(&b);
    slq_red_free(&c);
    slq_red_free(NULL);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hits_newest),       cmocka_unit_test(test_hits_slowest),
        cmocka_unit_test(test_hits_empty),        cmocka_unit_test(test_red_merge),
        cmocka_unit_test(test_red_merge_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
