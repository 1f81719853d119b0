/*
 * test_colrollup.c - per-service RED rows (key type 's', collector/rollup.c)
 * and the services-level RED read that uses them (col_store_red with
 * merged operations, collector/store_query.c).
 *
 * The 's' rows exist so that a services-level query need not merge every
 * operation's histogram; they must never change an answer.  The main test
 * writes frames of random spans (every kind, several operations, errors,
 * names cut at the key's 255 bytes inside a UTF-8 sequence, one service
 * and minute spread over many frames so the merge operator folds
 * operands) and compares, row by row and histogram bucket by bucket, the
 * answer read from the 's' rows, from the per-operation rows ('r', as for
 * minutes written before 's' rows existed) and from both with the
 * boundary inside a bucket, for every kind mask, service filter and step.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rollup.h"
#include "sightline.h"
#include "store_int.h"
#include "test_colutil.h"

#define SEC 1000000000ULL
#define MIN (60 * SEC)
#define NMIN 12

struct fx {
    char *dir;
    col_store *s;
    uint64_t t0; /* a minute boundary in the recent past */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (f == NULL || tu_store_open(&f->dir, &f->s) != 0)
        return -1;
    f->t0 = slc_now_ns() - 30 * MIN;
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

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* 300 bytes of "é": the rollup key cuts names at 255 bytes, inside a
 * character. */
static char long_name[301];

static const char *const svcs[] = {"frontend", "cart", "checkout-ünïcode", long_name, "a\"b\\c"};
static const char *const ops[] = {"GET /", "POST /cart", "charge", long_name};

/* nframes frames of nspans random spans each, over NMIN minutes from t0. */
static void store_random(struct fx *f, int nframes, int nspans, uint64_t seed)
{
    uint64_t r = seed;

    for (size_t i = 0; i + 1 < sizeof long_name; i += 2)
        memcpy(long_name + i, "\xc3\xa9", 2);
    for (int fr = 0; fr < nframes; fr++) {
        slc_batch *b = slc_batch_new();
        assert_non_null(b);
        b->batch_id = seed * 1000 + (uint64_t)fr;
        for (int i = 0; i < nspans; i++) {
            slc_span sp;
            double u = (double)(xs(&r) % 1000000) / 1e6;
            memset(&sp, 0, sizeof sp);
            tu_id(sp.trace_id, 16, xs(&r));
            tu_id(sp.span_id, 8, xs(&r));
            sp.kind = (uint8_t)(xs(&r) % 6);
            sp.status = xs(&r) % 10 == 0 ? SLC_STATUS_ERROR : SLC_STATUS_OK;
            sp.service = tu_str(b, svcs[xs(&r) % (sizeof svcs / sizeof svcs[0])]);
            sp.name = tu_str(b, ops[xs(&r) % (sizeof ops / sizeof ops[0])]);
            sp.start_ns = f->t0 + xs(&r) % (NMIN * MIN);
            sp.end_ns = sp.start_ns + (uint64_t)(1000.0 * pow(10.0, u * 6.0));
            assert_int_equal(slc_batch_add_span(b, &sp, NULL), 0);
        }
        tu_store_batch(f->s, b);
        slc_batch_free(b);
    }
}

/* ---- collecting and comparing answers ------------------------------------ */

struct row {
    char svc[COL_RK_NAME_MAX + 1], op[COL_RK_NAME_MAX + 1];
    size_t svc_len, op_len;
    uint64_t bucket, count, errors;
    slc_hist h;
};

struct rows {
    struct row *r;
    size_t n, cap;
};

static int collect(const col_agg_row *a, void *arg)
{
    struct rows *x = arg;
    struct row *r;

    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 64;
        x->r = realloc(x->r, x->cap * sizeof *x->r);
        assert_non_null(x->r);
    }
    r = &x->r[x->n++];
    memset(r, 0, sizeof *r);
    assert_true(a->service_len <= COL_RK_NAME_MAX && a->operation_len <= COL_RK_NAME_MAX);
    memcpy(r->svc, a->service, a->service_len);
    r->svc_len = a->service_len;
    memcpy(r->op, a->operation, a->operation_len);
    r->op_len = a->operation_len;
    r->bucket = a->bucket_ns;
    r->count = a->count;
    r->errors = a->errors;
    assert_non_null(a->hist);
    r->h = *a->hist;
    return 0;
}

/* The services-level RED answer with per-service rows from minute `from`
 * on (0: all minutes, UINT64_MAX: none). */
static void red(struct fx *f, uint64_t from, const char *svc, uint64_t since, uint64_t until,
                uint64_t step, unsigned mask, struct rows *out)
{
    memset(out, 0, sizeof *out);
    f->s->svc_rollup_since_ns = from;
    assert_int_equal(col_store_red(f->s, svc, NULL, since, until, step, mask, 1, collect, out), 0);
    f->s->svc_rollup_since_ns = 0;
}

static void same_rows(const struct rows *a, const struct rows *b, const char *what)
{
    if (a->n != b->n)
        fail_msg("%s: %zu rows vs %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct row *x = &a->r[i], *y = &b->r[i];
        if (x->svc_len != y->svc_len || memcmp(x->svc, y->svc, x->svc_len) != 0 ||
            x->op_len != y->op_len || x->op_len != 0 || x->bucket != y->bucket ||
            x->count != y->count || x->errors != y->errors)
            fail_msg("%s: row %zu differs (%.*s %llu: %llu/%llu vs %.*s %llu: %llu/%llu)", what, i,
                     (int)x->svc_len, x->svc, (unsigned long long)x->bucket,
                     (unsigned long long)x->count, (unsigned long long)x->errors,
                     (int)y->svc_len, y->svc, (unsigned long long)y->bucket,
                     (unsigned long long)y->count, (unsigned long long)y->errors);
        if (memcmp(&x->h, &y->h, sizeof x->h) != 0)
            fail_msg("%s: row %zu: histograms differ", what, i);
        if (x->h.count != x->count)
            fail_msg("%s: row %zu: histogram holds %llu of %llu spans", what, i,
                     (unsigned long long)x->h.count, (unsigned long long)x->count);
    }
}

/* Every kind mask, service filter and step (full; else the first two
 * masks and steps): 's' rows, 'r' rows and a mix (the boundary inside a
 * 5-minute bucket) give the same rows.  Returns the spans counted with all
 * kinds and no filter. */
static uint64_t compare_all(struct fx *f, int full)
{
    static const unsigned masks[] = {0,
                                     COL_KIND_ENTRY,
                                     1u << SLC_KIND_UNSPECIFIED,
                                     1u << SLC_KIND_INTERNAL,
                                     1u << SLC_KIND_SERVER,
                                     1u << SLC_KIND_CLIENT,
                                     1u << SLC_KIND_PRODUCER,
                                     1u << SLC_KIND_CONSUMER,
                                     (1u << SLC_KIND_CLIENT) | (1u << SLC_KIND_PRODUCER)};
    static const uint64_t steps[] = {0, MIN, 5 * MIN, 7 * MIN};
    char cut[COL_RK_NAME_MAX + 1];
    const char *filters[] = {NULL, "cart", "checkout-ünïcode", cut, "nobody"};
    uint64_t total = 0;

    memcpy(cut, long_name, COL_RK_NAME_MAX);
    cut[COL_RK_NAME_MAX] = '\0';
    for (size_t m = 0; m < (full ? sizeof masks / sizeof masks[0] : 2); m++)
        for (size_t fi = 0; fi < sizeof filters / sizeof filters[0]; fi++)
            for (size_t st = 0; st < (full ? sizeof steps / sizeof steps[0] : 2); st++) {
                struct rows s_rows, r_rows, mixed;
                uint64_t since = f->t0 + 30 * SEC, until = f->t0 + (NMIN - 1) * MIN + 10 * SEC;
                char what[160];

                snprintf(what, sizeof what, "mask %#x, service %s, step %llus", masks[m],
                         filters[fi] != NULL ? filters[fi] : "(all)",
                         (unsigned long long)(steps[st] / SEC));
                red(f, 0, filters[fi], since, until, steps[st], masks[m], &s_rows);
                red(f, UINT64_MAX, filters[fi], since, until, steps[st], masks[m], &r_rows);
                /* 's' rows from minute t0 + 3 min on (the given time
                 * rounded up to a minute, plus COL_SVC_SKEW_NS = 5 min):
                 * inside the first 5-minute bucket. */
                red(f, f->t0 - 2 * MIN - 20 * SEC, filters[fi], since, until, steps[st],
                    masks[m], &mixed);
                same_rows(&s_rows, &r_rows, what);
                same_rows(&s_rows, &mixed, what);
                if (masks[m] == 0 && filters[fi] == NULL && steps[st] == 0) {
                    for (size_t i = 0; i < s_rows.n; i++)
                        total += s_rows.r[i].count;
                    assert_int_equal(s_rows.n, sizeof svcs / sizeof svcs[0]);
                }
                if (filters[fi] != NULL && strcmp(filters[fi], "nobody") == 0)
                    assert_int_equal(s_rows.n, 0);
                else
                    assert_true(s_rows.n > 0 || masks[m] != 0);
                free(s_rows.r);
                free(r_rows.r);
                free(mixed.r);
            }
    return total;
}

/* The number of 's' keys in the store (they exist, in the kind-first
 * layout, one per service, kind and minute with spans). */
static size_t count_svc_keys(struct fx *f)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(f->s->db, f->s->ropts, f->s->cf[CF_ROLLUP]);
    size_t n = 0;

    for (rocksdb_iter_seek(it, "s", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        col_rollup_key rk;
        if (k[0] != COL_RK_SVC)
            break;
        assert_int_equal(col_rollup_parse_key(k, klen, &rk), 0);
        assert_int_equal(rk.type, COL_RK_SVC);
        assert_true(rk.tail <= SLC_KIND_CONSUMER && rk.tail == k[1]);
        assert_int_equal(rk.minute_ns % MIN, 0);
        assert_int_equal(rk.blen, 0);
        n++;
    }
    rocksdb_iter_destroy(it);
    return n;
}

static void test_svc_rows_match_op_rows(void **state)
{
    struct fx *f = *state;
    char err[256];
    uint64_t total;

    /* 40 frames x 150 spans: each (service, kind, minute) gets operands
     * from many frames, folded by the merge operator at read time. */
    store_random(f, 40, 150, 7);
    assert_true(count_svc_keys(f) > 100);
    total = compare_all(f, 1);
    assert_int_equal(total, 40 * 150);
    /* The same after compaction (operands merged into values) and reopen. */
    assert_int_equal(col_store_compact(f->s), 0);
    col_store_close(f->s);
    assert_int_equal(col_store_open(f->dir, NULL, &f->s, err, sizeof err), 0);
    assert_int_equal(compare_all(f, 1), total);
    /* More frames on top of the compacted values. */
    store_random(f, 10, 100, 8);
    assert_int_equal(compare_all(f, 0), total + 10 * 100);
}

/* Services and their span counts come from the 's' rows too (counts only,
 * no histograms decoded): the same as from the 'r' rows. */
struct svc_counts {
    uint64_t spans[8], errors[8];
    size_t n;
};

static int collect_svc(const col_service_row *r, void *arg)
{
    struct svc_counts *c = arg;
    if (c->n < 8) {
        c->spans[c->n] = r->spans;
        c->errors[c->n] = r->span_errors;
    }
    c->n++;
    return 0;
}

static void test_service_counts(void **state)
{
    struct fx *f = *state;
    struct svc_counts a = {0}, b = {0};
    uint64_t sum = 0;

    store_random(f, 8, 200, 11);
    f->s->svc_rollup_since_ns = 0;
    assert_int_equal(col_store_service_counts(f->s, f->t0, f->t0 + NMIN * MIN, collect_svc, &a), 0);
    f->s->svc_rollup_since_ns = UINT64_MAX;
    assert_int_equal(col_store_service_counts(f->s, f->t0, f->t0 + NMIN * MIN, collect_svc, &b), 0);
    f->s->svc_rollup_since_ns = 0;
    assert_int_equal(a.n, sizeof svcs / sizeof svcs[0]);
    assert_memory_equal(&a, &b, sizeof a);
    for (size_t i = 0; i < a.n; i++)
        sum += a.spans[i];
    assert_int_equal(sum, 8 * 200);
}

/* ---- the codec ------------------------------------------------------------- */

struct emitted {
    uint64_t red_count, svc_count;
    size_t svc_keys;
};

static void on_emit(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct emitted *e = arg;
    col_rollup_key rk;
    col_rollup_val v = {0};

    assert_int_equal(col_rollup_parse_key(key, klen, &rk), 0);
    assert_int_equal(col_rollup_add(&v, val, vlen), 0);
    if (rk.type == COL_RK_RED)
        e->red_count += v.count;
    if (rk.type == COL_RK_SVC) {
        e->svc_count += v.count;
        e->svc_keys++;
        assert_int_equal(klen, 11 + rk.alen);
        assert_int_equal(key[1], rk.tail);
    }
}

/* One frame: an 's' operand per (service, kind, minute), the same spans
 * as the 'r' operands. */
static void test_frame_operands(void **state)
{
    slc_batch *b = slc_batch_new();
    struct emitted e = {0};
    uint64_t t0 = 600 * MIN;

    (void)state;
    for (int i = 0; i < 100; i++) {
        slc_span sp;
        memset(&sp, 0, sizeof sp);
        tu_id(sp.trace_id, 16, (uint64_t)i + 1);
        tu_id(sp.span_id, 8, (uint64_t)i + 1);
        sp.kind = (uint8_t)(i % 3); /* kinds 0, 1, 2 */
        sp.service = tu_str(b, i % 2 ? "a" : "b");
        sp.name = tu_str(b, i % 5 ? "x" : "y");
        sp.start_ns = t0 + (uint64_t)(i % 2) * MIN; /* two minutes */
        sp.end_ns = sp.start_ns + 1000;
        assert_int_equal(slc_batch_add_span(b, &sp, NULL), 0);
    }
    assert_int_equal(col_rollup_frame(b, NULL, NULL, 0, on_emit, &e), 0);
    assert_int_equal(e.red_count, 100);
    assert_int_equal(e.svc_count, 100);
    /* service a: odd i, minute t0+1; b: even i, minute t0; 3 kinds each */
    assert_int_equal(e.svc_keys, 6);
    slc_batch_free(b);
}

/* A value that turns out malformed after some of its buckets decoded
 * leaves the accumulator as it was. */
static void test_bad_value_changes_nothing(void **state)
{
    slc_hist *h = calloc(1, sizeof *h), *before = calloc(1, sizeof *before), *one = calloc(1, sizeof *one);
    col_rollup_val acc = {0};
    uint8_t *good, bad[512];
    uint16_t nz[SLC_HIST_BUCKETS];
    uint32_t nnz;
    size_t glen;

    (void)state;
    for (uint64_t v = 1000; v < 2000000; v = v * 3 / 2)
        slc_hist_add(one, v, 2);
    good = col_rollup_encode(one->count, 3, one, &glen);
    assert_non_null(good);
    acc.hist = h;
    acc.nz = nz;
    assert_int_equal(col_rollup_add(&acc, good, glen), 0);
    assert_int_equal(h->count, one->count);
    /* nz lists exactly the non-empty buckets */
    for (uint32_t i = 0, k = 0; i < SLC_HIST_BUCKETS; i++)
        if (h->b[i] != 0) {
            assert_true(k < acc.nnz && acc.nz[k] == i);
            k++;
        }
    nnz = acc.nnz;
    assert_true(nnz > 10);
    memcpy(before, h, sizeof *h);
    /* Cut: the pairs end early; and one extra byte at the end. */
    for (size_t cut = glen - 1; cut > glen - 12; cut--)
        assert_int_equal(col_rollup_add(&acc, good, cut), -1);
    memcpy(bad, good, glen);
    bad[glen] = 0;
    assert_int_equal(col_rollup_add(&acc, bad, glen + 1), -1);
    /* A count that does not match the buckets. */
    bad[glen - 1] = (uint8_t)(bad[glen - 1] + 1);
    assert_int_equal(col_rollup_add(&acc, bad, glen), -1);
    assert_memory_equal(h, before, sizeof *h);
    assert_int_equal(acc.count, one->count);
    assert_int_equal(acc.nnz, nnz);
    /* A second good value lists no bucket twice. */
    assert_int_equal(col_rollup_add(&acc, good, glen), 0);
    assert_int_equal(acc.nnz, nnz);
    assert_int_equal(h->count, 2 * one->count);
    free(good);
    free(h);
    free(before);
    free(one);
}

static void test_retention_drops_svc_rows(void **state)
{
    struct fx *f = *state;
    col_retention_opts ro = {0};
    uint64_t before, cut = f->t0 + 6 * MIN;
    struct rows a, b;

    store_random(f, 20, 100, 21);
    before = count_svc_keys(f);
    ro.max_age_ns = 1;
    assert_int_equal(col_store_retention_run(f->s, &ro, cut + 1, NULL), 0);
    assert_true(count_svc_keys(f) < before && count_svc_keys(f) > 0);
    red(f, 0, NULL, f->t0, f->t0 + NMIN * MIN, MIN, 0, &a);
    red(f, UINT64_MAX, NULL, f->t0, f->t0 + NMIN * MIN, MIN, 0, &b);
    same_rows(&a, &b, "after retention");
    for (size_t i = 0; i < a.n; i++)
        assert_true(a.r[i].bucket >= cut);
    free(a.r);
    free(b.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_operands),
        cmocka_unit_test(test_bad_value_changes_nothing),
        cmocka_unit_test_setup_teardown(test_retention_drops_svc_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svc_rows_match_op_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
