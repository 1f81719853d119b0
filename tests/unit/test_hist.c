/*
 * test_hist.c - the log-linear histogram: bucket bounds, the 1% error bound
 * against exact percentiles, merging, and the sparse encoding.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sightline.h"
#include "common/slc_hist.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_bounds(void **state)
{
    (void)state;
    /* every bucket contains the values that map to it; widths are tight */
    for (uint32_t i = 0; i < SLC_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        slc_hist_bounds(i, &lo, &hi);
        assert_int_equal(slc_hist_index(lo), i);
        assert_int_equal(slc_hist_index(hi), i);
        if (lo >= 128)
            assert_true((double)(hi - lo) / (double)lo <= 1.0 / 64);
        if (i + 1 < SLC_HIST_BUCKETS) {
            uint64_t lo2, hi2;
            slc_hist_bounds(i + 1, &lo2, &hi2);
            assert_true(lo2 == hi + 1);
        }
    }
    assert_int_equal(slc_hist_index(UINT64_MAX), SLC_HIST_BUCKETS - 1);
}

/* Checks every reported percentile against the exact one (nearest rank). */
static void check_accuracy(uint64_t *vals, size_t n)
{
    slc_hist *h = malloc(sizeof *h);
    slc_hist_reset(h);
    for (size_t i = 0; i < n; i++)
        slc_hist_add(h, vals[i], 1);
    qsort(vals, n, sizeof *vals, cmp_u64);
    const double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        size_t rank = (size_t)ceil(qs[k] * (double)n);
        uint64_t exact = vals[rank - 1];
        uint64_t got = slc_hist_quantile(h, qs[k]);
        double err = fabs((double)got - (double)exact) / (double)exact;
        if (err > 0.01)
            fail_msg("q=%.3f exact=%llu got=%llu err=%.4f", qs[k], (unsigned long long)exact,
                     (unsigned long long)got, err);
    }
    assert_true(h->count == n);
    free(h);
}

static void test_accuracy(void **state)
{
    (void)state;
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof *v);
    /* log-normal-ish latencies from 50us to 20s */
    for (size_t i = 0; i < n; i++) {
        double u = (double)(next() % 1000000) / 1e6;
        v[i] = (uint64_t)(50000.0 * pow(400000.0, u * u));
    }
    check_accuracy(v, n);
    /* uniform small values: exact region */
    for (size_t i = 0; i < n; i++)
        v[i] = 1 + next() % 1000;
    check_accuracy(v, n);
    /* bimodal */
    for (size_t i = 0; i < n; i++)
        v[i] = (i % 10 ? 2000000 : 300000000) + next() % 100000;
    check_accuracy(v, n);
    free(v);
}

static void test_merge_and_encode(void **state)
{
    (void)state;
    slc_hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c = malloc(sizeof *c);
    slc_hist_reset(a);
    slc_hist_reset(b);
    slc_hist_reset(c);
    for (int i = 0; i < 10000; i++) {
        uint64_t v = next() % 100000000;
        slc_hist_add(i % 2 ? a : b, v, 1);
        slc_hist_add(c, v, 1);
    }
    size_t cap = slc_hist_encoded_max();
    uint8_t *buf = malloc(cap);
    size_t n = slc_hist_encode(a, buf, cap);
    assert_true(n > 0);
    size_t n2;
    uint8_t *buf2 = malloc(cap);
    n2 = slc_hist_encode(b, buf2, cap);
    slc_hist *m = malloc(sizeof *m);
    slc_hist_reset(m);
    assert_int_equal(slc_hist_decode_merge(m, buf, n), SL_OK);
    assert_int_equal(slc_hist_decode_merge(m, buf2, n2), SL_OK);
    assert_memory_equal(m, c, sizeof *m);
    slc_hist_merge(a, b);
    assert_memory_equal(a, c, sizeof *a);
    /* malformed input changes nothing */
    slc_hist *before = malloc(sizeof *before);
    memcpy(before, m, sizeof *m);
    assert_int_equal(slc_hist_decode_merge(m, buf, n - 1), SL_EPARSE);
    buf[0] ^= 1; /* count no longer matches the buckets */
    assert_int_equal(slc_hist_decode_merge(m, buf, n), SL_EPARSE);
    assert_memory_equal(m, before, sizeof *m);
    assert_int_equal(slc_hist_encode(c, buf, 8), 0);
    /* a bucket delta so large that pos + delta wraps is refused */
    const uint8_t wrap[] = {2, 0, 5, 5, 2,   /* count 2, sum, min, max, 2 buckets */
                            5, 1,            /* bucket 5: 1 */
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1};
    assert_int_equal(slc_hist_decode_merge(m, wrap, sizeof wrap), SL_EPARSE);
    free(a), free(b), free(c), free(m), free(before), free(buf), free(buf2);
}

static void test_empty_and_edges(void **state)
{
    (void)state;
    slc_hist *h = malloc(sizeof *h);
    slc_hist_reset(h);
    assert_true(slc_hist_quantile(h, 0.5) == 0);
    slc_hist_add(h, 777, 3);
    assert_true(slc_hist_quantile(h, 0.5) == 777);
    assert_true(slc_hist_quantile(h, 0) == 777);
    assert_true(slc_hist_quantile(h, 1) == 777);
    slc_hist_add(h, UINT64_MAX, 1);
    assert_true(h->sum == UINT64_MAX);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_merge_and_encode),
        cmocka_unit_test(test_empty_and_edges),
    };
    return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
