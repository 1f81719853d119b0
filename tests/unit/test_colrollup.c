/*
 * test_colrollup.c - per-service RED rows (key type 's', collector/store/rollup.c)
 * and the services-level RED read that uses them (col_store_red with
 * merged operations, collector/store/store_query.c).
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
 *
 * Merged values carry their percentiles (value version 2): a query that
 * accepts them (COL_RED_SUMMARY) must get, for every bucket, exactly the
 * numbers the histogram path computes, whether the bucket came from one
 * stored summary or from merged histograms.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/rollup.h"
#include "sightline.h"
#include "store/store_int.h"
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

/* A row as the query API uses it: counts and the percentiles, from the
 * stored summary or computed from the merged histogram. */
struct prow {
    char svc[COL_RK_NAME_MAX + 1], op[COL_RK_NAME_MAX + 1];
    uint64_t bucket, count, errors, pct[4];
};

struct prows {
    struct prow *r;
    size_t n, cap, from_sum;
};

static int collect_pct(const col_agg_row *a, void *arg)
{
    struct prows *x = arg;
    struct prow *r;

    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 64;
        x->r = realloc(x->r, x->cap * sizeof *x->r);
        assert_non_null(x->r);
    }
    r = &x->r[x->n++];
    memset(r, 0, sizeof *r);
    memcpy(r->svc, a->service, a->service_len);
    memcpy(r->op, a->operation, a->operation_len);
    r->bucket = a->bucket_ns;
    r->count = a->count;
    r->errors = a->errors;
    /* exactly one of the two */
    assert_true((a->hist == NULL) != (a->sum == NULL));
    if (a->sum != NULL) {
        memcpy(r->pct, a->sum->pct, sizeof r->pct);
        x->from_sum++;
    } else {
        col_rollup_percentiles(a->hist, r->pct);
    }
    return 0;
}

/* The answer read with summaries accepted equals the histogram path's, row
 * by row.  Returns the rows that came from a summary. */
static size_t same_with_summaries(struct fx *f, const char *svc, uint64_t since, uint64_t until,
                                  uint64_t step, unsigned mask, int merge, const char *what)
{
    struct prows a = {0}, b = {0};
    size_t n;

    assert_int_equal(col_store_red(f->s, svc, NULL, since, until, step, mask,
                                   merge | COL_RED_SUMMARY, collect_pct, &a),
                     0);
    assert_int_equal(col_store_red(f->s, svc, NULL, since, until, step, mask, merge, collect_pct,
                                   &b),
                     0);
    assert_int_equal(b.from_sum, 0);
    if (a.n != b.n)
        fail_msg("%s, merge %d: %zu rows with summaries vs %zu", what, merge, a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        if (memcmp(&a.r[i], &b.r[i], sizeof a.r[i]) != 0)
            fail_msg("%s, merge %d: row %zu (%s %s) differs with summaries: p50 %llu vs %llu, "
                     "count %llu vs %llu",
                     what, merge, i, a.r[i].svc, a.r[i].op, (unsigned long long)a.r[i].pct[0],
                     (unsigned long long)b.r[i].pct[0], (unsigned long long)a.r[i].count,
                     (unsigned long long)b.r[i].count);
    n = a.from_sum;
    free(a.r);
    free(b.r);
    return n;
}

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
    size_t from_sum = 0, single = 0;

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
                for (int merge = 0; merge <= 1; merge++) {
                    size_t n = same_with_summaries(f, filters[fi], since, until, steps[st],
                                                   masks[m], merge, what);
                    from_sum += n;
                    /* One kind at one-minute steps: every bucket is one
                     * stored row, answered from its summary. */
                    if (steps[st] == MIN && masks[m] != 0 && (masks[m] & (masks[m] - 1)) == 0)
                        single += n;
                }
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
    /* The summary path was taken (else this compared nothing). */
    assert_true(from_sum > 0);
    if (full)
        assert_true(single > 0);
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
    /* Operands stay version 1: the merge operator adds the percentiles. */
    assert_int_equal(val[0], COL_RV_VERSION);
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

/* A version 1 value (count, errors, histogram), as older collectors
 * stored them; malloc'd, owned by the caller. */
static uint8_t *encode_v1(uint64_t count, uint64_t errors, const slc_hist *h, size_t *len)
{
    uint8_t *buf = malloc(21 + slc_hist_encoded_max());
    size_t n = 0;

    assert_non_null(buf);
    buf[n++] = COL_RV_VERSION;
    n += slc_varint_put(buf + n, count);
    n += slc_varint_put(buf + n, errors);
    n += slc_hist_encode(h, buf + n, slc_hist_encoded_max());
    *len = n;
    return buf;
}

static void fill(slc_hist *h, uint64_t seed, int n)
{
    slc_hist_reset(h);
    for (int i = 0; i < n; i++)
        slc_hist_add(h, 1000 + xs(&seed) % 5000000, 1);
}

/* Version 2 carries the percentiles of its own histogram; both versions
 * decode to the same counts and buckets; merging any mix gives version 2
 * with the merged histogram's percentiles; cut values are refused. */
static void test_value_versions(void **state)
{
    slc_hist *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *m = calloc(1, sizeof *m);
    slc_hist *got = calloc(1, sizeof *got);
    uint8_t *v1, *v2, *merged;
    const char *mops[2];
    size_t l1, l2, lm, oplens[2];
    col_rollup_head h;
    col_rollup_val acc = {0};
    uint64_t pct[4];

    (void)state;
    fill(a, 1, 700);
    fill(b, 2, 300);
    v1 = encode_v1(700, 7, a, &l1);
    v2 = col_rollup_encode(300, 3, b, &l2);
    assert_non_null(v2);
    assert_int_equal(v2[0], COL_RV_VERSION_SUM);

    assert_int_equal(col_rollup_head_parse(v1, l1, &h), 0);
    assert_false(h.has_pct);
    assert_int_equal(h.count, 700);
    assert_true(h.hist == v1 + l1 - h.hist_len);
    assert_int_equal(col_rollup_head_parse(v2, l2, &h), 0);
    assert_true(h.has_pct);
    assert_int_equal(h.count, 300);
    assert_int_equal(h.errors, 3);
    col_rollup_percentiles(b, pct);
    assert_memory_equal(h.pct, pct, sizeof pct);
    assert_true(pct[0] > 0 && pct[0] <= pct[1] && pct[1] <= pct[2] && pct[2] <= pct[3]);
    /* the histogram part is slc_hist_encode's bytes */
    {
        uint8_t *enc = malloc(slc_hist_encoded_max());
        size_t el = slc_hist_encode(b, enc, slc_hist_encoded_max());
        assert_int_equal(h.hist_len, el);
        assert_memory_equal(h.hist, enc, el);
        free(enc);
    }

    /* Both decode into the same accumulator. */
    slc_hist_reset(got);
    acc.hist = got;
    assert_int_equal(col_rollup_add(&acc, v1, l1), 0);
    assert_int_equal(col_rollup_add(&acc, v2, l2), 0);
    memcpy(m, a, sizeof *m);
    slc_hist_merge(m, b);
    assert_memory_equal(got, m, sizeof *m);
    assert_int_equal(acc.count, 1000);
    assert_int_equal(acc.errors, 10);

    /* A merge of v2 existing + v1 operand + v2 operand (partial merges
     * hand version 2 operands to later merges). */
    mops[0] = (const char *)v1;
    oplens[0] = l1;
    mops[1] = (const char *)v2;
    oplens[1] = l2;
    merged = col_rollup_merge(v2, l2, mops, oplens, 2, &lm);
    assert_non_null(merged);
    assert_int_equal(col_rollup_head_parse(merged, lm, &h), 0);
    assert_true(h.has_pct);
    assert_int_equal(h.count, 1300);
    assert_int_equal(h.errors, 13);
    slc_hist_merge(m, b);
    col_rollup_percentiles(m, pct);
    assert_memory_equal(h.pct, pct, sizeof pct);
    /* Byte for byte what encoding the dense merged histogram gives (the
     * merge encodes from its list of filled buckets instead). */
    {
        size_t le;
        uint8_t *dense = col_rollup_encode(1300, 13, m, &le);
        assert_int_equal(lm, le);
        assert_memory_equal(merged, dense, le);
        free(dense);
    }
    /* Merges in a row reuse this thread's scratch histogram: each starts
     * empty. */
    for (int round = 0; round < 20; round++) {
        uint8_t *one, *dense, *out;
        size_t lo, le, lout;
        fill(b, 100 + (uint64_t)round, 1 + round * 37);
        one = encode_v1(b->count, 0, b, &lo);
        mops[0] = (const char *)one;
        oplens[0] = lo;
        out = col_rollup_merge(NULL, 0, mops, oplens, 1, &lout);
        dense = col_rollup_encode(b->count, 0, b, &le);
        assert_int_equal(lout, le);
        assert_memory_equal(out, dense, le);
        free(one);
        free(dense);
        free(out);
    }

    /* Cut anywhere before the buckets: refused by both readers. */
    for (size_t cut = 0; cut < 12; cut++) {
        memset(&acc, 0, sizeof acc);
        assert_int_equal(col_rollup_head_parse(v2, cut, &h), -1);
        assert_int_equal(col_rollup_add(&acc, v2, cut), -1);
    }
    /* An unknown version is refused. */
    v2[0] = 3;
    assert_int_equal(col_rollup_head_parse(v2, l2, &h), -1);
    assert_int_equal(col_rollup_add(&acc, v2, l2), -1);
    /* An empty histogram has zero percentiles. */
    slc_hist_reset(a);
    free(v1);
    v1 = col_rollup_encode(5, 0, a, &l1);
    assert_int_equal(col_rollup_head_parse(v1, l1, &h), 0);
    assert_true(h.has_pct && h.pct[0] == 0 && h.pct[3] == 0);
    free(v1);
    free(v2);
    free(merged);
    free(a);
    free(b);
    free(m);
    free(got);
}

/* Values stored by an older collector (version 1, no percentiles) stay
 * readable: a bucket of one such row is answered from its histogram, and
 * one with pending operands is merged (so summarized) on read. */
static void test_v1_values_read(void **state)
{
    struct fx *f = *state;
    slc_hist *h = calloc(1, sizeof *h);
    char *err = NULL;
    uint8_t key[11 + 3];
    size_t klen, vlen, n;
    uint8_t *v;

    assert_non_null(h);
    /* service "old": minute 0, server: v1 and consumer: v2 (two rows in
     * one entry bucket); minute 1: v1 alone; minute 2: v2 alone; minute 3:
     * v1 with a v1 operand merged on top. */
    for (int i = 0; i < 5; i++) {
        int minute = i < 2 ? 0 : i - 1;
        uint8_t kind = i == 1 ? SLC_KIND_CONSUMER : SLC_KIND_SERVER;
        fill(h, 10 + (uint64_t)i, 50 + 40 * i);
        v = i == 1 || i == 3 ? col_rollup_encode(h->count, 1, h, &vlen)
                             : encode_v1(h->count, 1, h, &vlen);
        klen = col_rollup_svc_key(key, kind, f->t0 + (uint64_t)minute * MIN);
        klen += col_rollup_put_name(key + klen, "old", 3);
        rocksdb_put_cf(f->s->db, f->s->wopts, f->s->cf[CF_ROLLUP], (const char *)key, klen,
                       (const char *)v, vlen, &err);
        assert_null(err);
        free(v);
    }
    fill(h, 99, 25);
    v = encode_v1(h->count, 0, h, &vlen);
    rocksdb_merge_cf(f->s->db, f->s->wopts, f->s->cf[CF_ROLLUP], (const char *)key, klen,
                     (const char *)v, vlen, &err);
    assert_null(err);
    free(v);
    f->s->svc_rollup_since_ns = 0;
    /* minutes 2 and 3 from summaries; 0 (two rows) and 1 (v1) not */
    n = same_with_summaries(f, "old", f->t0, f->t0 + 4 * MIN - 1, MIN, COL_KIND_ENTRY, 1,
                            "v1 rows");
    assert_int_equal(n, 2);
    n = same_with_summaries(f, "old", f->t0, f->t0 + 4 * MIN - 1, MIN, 1u << SLC_KIND_SERVER, 1,
                            "v1 rows, server");
    assert_int_equal(n, 2);
    /* After compaction the same numbers (the operand folded into v2). */
    assert_int_equal(col_store_compact(f->s), 0);
    n = same_with_summaries(f, "old", f->t0, f->t0 + 4 * MIN - 1, MIN, COL_KIND_ENTRY, 1,
                            "v1 rows compacted");
    assert_int_equal(n, 2);
    n = same_with_summaries(f, "old", f->t0, f->t0 + 4 * MIN - 1, 0, 0, 1, "v1 rows, one bucket");
    assert_int_equal(n, 0);
    free(h);
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
        cmocka_unit_test(test_value_versions),
        cmocka_unit_test_setup_teardown(test_v1_values_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_drops_svc_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svc_rows_match_op_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
