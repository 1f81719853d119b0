/*
 * test_colquery.c - the store's read side: aggregates (RED, edges, service
 * counts), trace search, log search with paging, trace logs, retention.
 * Real RocksDB in a temp dir; frames go through the same write path as
 * ingest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "sightline.h"
#include "store/store.h"
#include "test_colutil.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

struct fx {
    char *dir;
    col_store *s;
    uint64_t t0; /* a minute boundary in the recent past */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (tu_store_open(&f->dir, &f->s) != 0)
        return -1;
    f->t0 = slc_now_ns() - 10 * 60 * SEC;
    f->t0 -= f->t0 % (60 * SEC);
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

/* n traces frontend -> checkout -> payment (payment fails), one frame each. */
static void store_traces(struct fx *f, int n, uint64_t first_seed)
{
    tu_store_traces(f->s, n, first_seed, f->t0, SEC, 0);
}

struct rows {
    int n;
    char svc[16][64], op[16][64];
    uint64_t count[16], errors[16], p50[16], bucket[16];
};

static int collect(const col_agg_row *r, void *arg)
{
    struct rows *x = arg;
    if (x->n == 16)
        return 1;
    snprintf(x->svc[x->n], 64, "%.*s", (int)r->service_len, r->service);
    snprintf(x->op[x->n], 64, "%.*s", (int)r->operation_len, r->operation);
    x->count[x->n] = r->count;
    x->errors[x->n] = r->errors;
    x->p50[x->n] = slc_hist_quantile(r->hist, 0.5);
    x->bucket[x->n] = r->bucket_ns;
    x->n++;
    return 0;
}

static int find(const struct rows *x, const char *svc, const char *op)
{
    for (int i = 0; i < x->n; i++)
        if (strcmp(x->svc[i], svc) == 0 && strcmp(x->op[i], op) == 0)
            return i;
    return -1;
}

static void test_red_and_edges(void **state)
{
    struct fx *f = *state;
    struct rows r = {0};
    int i;

    store_traces(f, 20, 100);
    assert_int_equal(col_store_red(f->s, NULL, NULL, f->t0, f->t0 + 59 * SEC, 0, 0, 0, collect,
                                   &r),
                     0);
    assert_int_equal(r.n, 3);
    i = find(&r, "payment", "charge");
    assert_true(i >= 0);
    assert_int_equal(r.count[i], 20);
    assert_int_equal(r.errors[i], 20);
    /* 30 ms spans: the histogram's median is within 1%. */
    assert_true(r.p50[i] > 29700 * 1000ULL && r.p50[i] < 30300 * 1000ULL);
    i = find(&r, "frontend", "GET /checkout");
    assert_int_equal(r.errors[i], 0);

    /* One service, operations merged, kind filter (all are server spans). */
    memset(&r, 0, sizeof r);
    assert_int_equal(col_store_red(f->s, "checkout", NULL, f->t0, f->t0 + 59 * SEC, 0,
                                   COL_KIND_ENTRY, 1, collect, &r),
                     0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.op[0], "");
    assert_int_equal(r.count[0], 20);
    memset(&r, 0, sizeof r);
    assert_int_equal(col_store_red(f->s, NULL, NULL, f->t0, f->t0 + 59 * SEC, 0,
                                   1u << SLC_KIND_CLIENT, 0, collect, &r),
                     0);
    assert_int_equal(r.n, 0);

    /* Outside the range: nothing. */
    memset(&r, 0, sizeof r);
    assert_int_equal(col_store_red(f->s, NULL, NULL, f->t0 + 120 * SEC, f->t0 + 180 * SEC, 0, 0,
                                   0, collect, &r),
                     0);
    assert_int_equal(r.n, 0);

    memset(&r, 0, sizeof r);
    assert_int_equal(col_store_edges(f->s, f->t0, f->t0 + 59 * SEC, 0, collect, &r), 0);
    assert_int_equal(r.n, 2);
    i = find(&r, "frontend", "checkout");
    assert_true(i >= 0);
    assert_int_equal(r.count[i], 20);
    assert_int_equal(r.errors[i], 0);
    i = find(&r, "checkout", "payment");
    assert_true(i >= 0);
    assert_int_equal(r.count[i], 20);
    assert_int_equal(r.errors[i], 20);
}

/* Parent and child in different frames, child first (the usual order:
 * a callee finishes before its caller). */
static void test_edge_across_frames(void **state)
{
    struct fx *f = *state;
    uint8_t tid[16], a[8], b[8];
    slc_batch *child = slc_batch_new(), *parent = slc_batch_new();
    struct rows r = {0};

    tu_id(tid, 16, 7);
    tu_id(a, 8, 71);
    tu_id(b, 8, 72);
    child->batch_id = 1;
    tu_span(child, tid, b, a, "db", "SELECT", f->t0 + 5 * SEC, 4 * MS, 0);
    tu_store_batch(f->s, child);
    parent->batch_id = 2;
    tu_span(parent, tid, a, NULL, "api", "GET /x", f->t0 + 5 * SEC, 9 * MS, 0);
    tu_store_batch(f->s, parent);
    slc_batch_free(child);
    slc_batch_free(parent);

    assert_int_equal(col_store_edges(f->s, f->t0, f->t0 + 59 * SEC, 0, collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.svc[0], "api");
    assert_string_equal(r.op[0], "db");
    assert_int_equal(r.count[0], 1);
    assert_true(r.p50[0] > 3960 * 1000ULL && r.p50[0] < 4040 * 1000ULL);
}

struct svcs {
    int n;
    char name[8][32];
    uint64_t spans[8], errors[8], logs[8];
};

static int collect_svc(const col_service_row *r, void *arg)
{
    struct svcs *x = arg;
    if (x->n == 8)
        return 1;
    snprintf(x->name[x->n], 32, "%.*s", (int)r->len, r->name);
    x->spans[x->n] = r->spans;
    x->errors[x->n] = r->span_errors;
    x->logs[x->n] = r->logs;
    x->n++;
    return 0;
}

static void test_service_counts_and_buckets(void **state)
{
    struct fx *f = *state;
    struct svcs v = {0};
    struct rows r = {0};

    store_traces(f, 90, 500); /* 90 s: spans in two minutes */
    assert_int_equal(col_store_service_counts(f->s, f->t0, f->t0 + 10 * 60 * SEC, collect_svc, &v),
                     0);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.name[0], "checkout");
    assert_string_equal(v.name[2], "payment");
    assert_int_equal(v.spans[2], 90);
    assert_int_equal(v.errors[2], 90);
    assert_int_equal(v.logs[2], 90);
    assert_int_equal(v.logs[0], 0);

    /* One-minute buckets: 60 then 30. */
    assert_int_equal(col_store_red(f->s, "payment", NULL, f->t0, f->t0 + 5 * 60 * SEC, 60 * SEC,
                                   0, 1, collect, &r),
                     0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.bucket[0], f->t0);
    assert_int_equal(r.count[0], 60);
    assert_int_equal(r.bucket[1], f->t0 + 60 * SEC);
    assert_int_equal(r.count[1], 30);
}

/* A mixed workload for search: 40 traces; trace i has a root of
 * "frontend"/"GET /i%4" lasting (i+1) ms, a child in "db" with attribute
 * db.table = users|orders, every 5th child failing. */
static void store_search_data(struct fx *f)
{
    for (int i = 0; i < 40; i++) {
        slc_batch *b = slc_batch_new();
        uint8_t tid[16], s1[8], s2[8];
        char op[16];
        slc_span sp;
        slc_attr a;
        uint32_t first = 0;

        tu_id(tid, 16, 1000 + (uint64_t)i);
        tu_id(s1, 8, 5000 + (uint64_t)i * 2);
        tu_id(s2, 8, 5001 + (uint64_t)i * 2);
        b->batch_id = 9000 + (uint64_t)i;
        snprintf(op, sizeof op, "GET /%d", i % 4);
        tu_span(b, tid, s1, NULL, "frontend", op, f->t0 + (uint64_t)i * SEC,
                (uint64_t)(i + 1) * MS, 0);
        memset(&a, 0, sizeof a);
        a.key = tu_str(b, "db.table");
        a.type = SLC_V_STR;
        a.v.str = tu_str(b, i % 2 ? "orders" : "users");
        assert_int_equal(slc_batch_add_attr(b, &a, &first), 0);
        memset(&sp, 0, sizeof sp);
        memcpy(sp.trace_id, tid, 16);
        memcpy(sp.span_id, s2, 8);
        memcpy(sp.parent_id, s1, 8);
        sp.kind = SLC_KIND_CLIENT;
        sp.status = i % 5 == 0 ? SLC_STATUS_ERROR : SLC_STATUS_OK;
        sp.service = tu_str(b, "db");
        sp.name = tu_str(b, "query");
        sp.start_ns = f->t0 + (uint64_t)i * SEC + 100;
        sp.end_ns = sp.start_ns + MS / 2;
        sp.attr_first = first;
        sp.attr_count = 1;
        assert_int_equal(slc_batch_add_span(b, &sp, NULL), 0);
        tu_store_batch(f->s, b);
        slc_batch_free(b);
    }
}

static void test_search(void **state)
{
    struct fx *f = *state;
    col_trace_hit hits[50];
    col_search_q q;
    col_attr_filter af[2] = {{"db.table", "orders"}, {"http.response.status_code", "200"}};
    size_t n = 0;
    int capped = -1;

    store_search_data(f);
    memset(&q, 0, sizeof q);
    q.since_ns = f->t0;
    q.until_ns = f->t0 + 3600 * SEC;
    q.error = -1;
    q.limit = 5;
    /* Newest first, any service: the five newest traces. */
    assert_int_equal(col_store_search(f->s, &q, hits, &n, &capped), 0);
    assert_int_equal(n, 5);
    assert_int_equal(capped, 0);
    for (size_t i = 0; i < n; i++)
        assert_true(hits[i].start_ns >= f->t0 + 35 * SEC);
    assert_true(hits[0].start_ns > hits[4].start_ns);

    /* Service + operation + slowest first. */
    q.service = "frontend";
    q.operation = "GET /1";
    q.order = COL_ORDER_SLOWEST;
    q.limit = 3;
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(hits[0].duration_ns, 38 * MS); /* i = 37 */
    assert_int_equal(hits[1].duration_ns, 34 * MS);
    assert_int_equal(hits[2].duration_ns, 30 * MS);
    assert_true(hits[0].is_root);
    assert_string_equal(hits[0].name, "GET /1");

    /* Duration range on the frontend spans. */
    q.operation = NULL;
    q.order = COL_ORDER_NEWEST;
    q.limit = 50;
    q.min_duration_ns = 10 * MS;
    q.max_duration_ns = 20 * MS;
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), 0);
    assert_int_equal(n, 11);

    /* Errors in db, with an attribute: i % 5 == 0 and odd i -> 5, 15, 25, 35. */
    q.service = "db";
    q.min_duration_ns = q.max_duration_ns = 0;
    q.error = 1;
    q.attrs = af;
    q.nattrs = 1;
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_string_equal(hits[0].service, "db");
    assert_true(hits[0].error);

    /* AND of two attributes on one span: no db span has a status code. */
    q.error = -1;
    q.nattrs = 2;
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), 0);
    assert_int_equal(n, 0);
    /* Numeric attribute on the frontend spans (tu_span sets 200). */
    q.service = NULL;
    q.attrs = af + 1;
    q.nattrs = 1;
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), 0);
    assert_int_equal(n, 40);

    /* Block budget: one block decoded, reported as capped. */
    q.max_blocks = 1;
    assert_int_equal(col_store_search(f->s, &q, hits, &n, &capped), 0);
    assert_int_equal(capped, 1);

    /* Bad queries. */
    q.limit = 0;
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), SL_EINVAL);
}

static void store_logs(struct fx *f, int n)
{
    static const uint8_t levels[4] = {SLC_LVL_DEBUG, SLC_LVL_INFO, SLC_LVL_WARN, SLC_LVL_ERROR};
    for (int fr = 0; fr < n / 10; fr++) {
        slc_batch *b = slc_batch_new();
        b->batch_id = 70000 + (uint64_t)fr;
        for (int i = fr * 10; i < fr * 10 + 10; i++) {
            char body[64];
            slc_log l;
            memset(&l, 0, sizeof l);
            snprintf(body, sizeof body, "record %d %s", i, i % 3 ? "ok" : "disk full");
            l.time_ns = f->t0 + (uint64_t)i * MS;
            l.level = levels[i % 4];
            l.service = tu_str(b, i % 2 ? "api" : "worker");
            l.body = tu_str(b, body);
            /* One attribute each: the codec's size check (MIN_LOG) refuses
             * attribute-less, trace-less records; reported to the lead. */
            {
                slc_attr a = {.key = tu_str(b, "n"), .type = SLC_V_INT};
                a.v.i = i;
                assert_int_equal(slc_batch_add_attr(b, &a, &l.attr_first), 0);
                l.attr_count = 1;
            }
            assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
        }
        tu_store_batch(f->s, b);
        slc_batch_free(b);
    }
}

static void test_logs_paging(void **state)
{
    struct fx *f = *state;
    col_logs_q q;
    slc_batch *page = NULL;
    char cur[COL_CURSOR_MAX], prev[COL_CURSOR_MAX] = "";
    uint8_t seen[200] = {0};
    uint64_t last_t = UINT64_MAX;
    int pages = 0, total = 0;

    store_logs(f, 200);
    memset(&q, 0, sizeof q);
    q.since_ns = f->t0;
    q.until_ns = f->t0 + 3600 * SEC;
    q.limit = 7;
    /* Every record exactly once, newest first, over pages. */
    do {
        q.cursor = prev;
        assert_int_equal(col_store_logs(f->s, &q, &page, cur, NULL), 0);
        for (uint32_t i = 0; i < page->nlogs; i++) {
            int id = (int)((page->logs[i].time_ns - f->t0) / MS);
            assert_true(page->logs[i].time_ns < last_t);
            last_t = page->logs[i].time_ns;
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
            total++;
        }
        slc_batch_free(page);
        memcpy(prev, cur, sizeof cur);
        pages++;
    } while (cur[0] != '\0' && pages < 100);
    assert_int_equal(total, 200);

    /* Service + level + substring: api (odd i), warn and above (i%4 in 2,3 -> odd: 3),
     * "disk full" (i%3==0): i = 3, 15, 27, ... i%12==3 -> 17 records below 200. */
    q.cursor = NULL;
    q.service = "api";
    q.min_level = SLC_LVL_WARN;
    q.contains = "disk full";
    q.limit = 100;
    assert_int_equal(col_store_logs(f->s, &q, &page, cur, NULL), 0);
    assert_int_equal(page->nlogs, 17);
    assert_string_equal(cur, "");
    for (uint32_t i = 0; i < page->nlogs; i++)
        assert_true(page->logs[i].level >= SLC_LVL_WARN);
    slc_batch_free(page);

    q.cursor = "garbage";
    assert_int_equal(col_store_logs(f->s, &q, &page, cur, NULL), SL_EINVAL);
}

static void test_trace_logs(void **state)
{
    struct fx *f = *state;
    uint8_t tid[16], s1[8];
    slc_batch *b = slc_batch_new(), *out = NULL;

    tu_id(tid, 16, 4242);
    tu_id(s1, 8, 1);
    b->batch_id = 1;
    tu_log(b, tid, s1, "api", "third", f->t0 + 3 * MS);
    tu_log(b, tid, s1, "api", "first", f->t0 + 1 * MS);
    tu_store_batch(f->s, b);
    slc_batch_reset(b);
    b->batch_id = 2;
    tu_log(b, tid, s1, "api", "second", f->t0 + 2 * MS);
    tu_store_batch(f->s, b);
    slc_batch_free(b);
    assert_int_equal(col_store_trace_logs(f->s, tid, 0, &out), 0);
    assert_int_equal(out->nlogs, 3);
    assert_memory_equal(out->strs[out->logs[0].body].ptr, "first", 5);
    assert_memory_equal(out->strs[out->logs[1].body].ptr, "second", 6);
    assert_memory_equal(out->strs[out->logs[2].body].ptr, "third", 5);
    slc_batch_free(out);
    tu_id(tid, 16, 4243);
    assert_int_equal(col_store_trace_logs(f->s, tid, 0, &out), SL_ENOTFOUND);
}

static void test_retention(void **state)
{
    struct fx *f = *state;
    col_retention_opts ro = {.max_age_ns = 1 * SEC};
    uint8_t old_tid[16], new_tid[16];
    slc_batch *got = NULL;
    col_trace_hit hits[10];
    col_search_q q;
    uint64_t cutoff = 0;
    size_t n = 0;
    struct timespec nap = {1, 200000000};

    store_traces(f, 1, 1);   /* old */
    nanosleep(&nap, NULL);
    store_traces(f, 1, 2);   /* new */
    tu_id(old_tid, 16, 1);
    tu_id(new_tid, 16, 2);
    assert_int_equal(col_store_retention_run(f->s, &ro, slc_now_ns(), &cutoff), 0);
    assert_true(cutoff > 0);
    assert_int_equal(col_store_read_trace(f->s, old_tid, 0, &got, NULL), SL_ENOTFOUND);
    assert_int_equal(col_store_read_trace(f->s, new_tid, 0, &got, NULL), 0);
    assert_int_equal(got->nspans, 3);
    slc_batch_free(got);

    memset(&q, 0, sizeof q);
    q.since_ns = f->t0 - 3600 * SEC;
    q.until_ns = slc_now_ns();
    q.error = -1;
    q.limit = 10;
    q.service = "frontend";
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(hits[0].trace_id, new_tid, 16);

    /* The cutoff survives a restart; a second pass has nothing to do. */
    col_store_close(f->s);
    {
        char err[256];
        assert_int_equal(col_store_open(f->dir, NULL, &f->s, err, sizeof err), 0);
    }
    assert_int_equal(col_store_search(f->s, &q, hits, &n, NULL), 0);
    assert_int_equal(n, 1);
    ro.max_age_ns = 3600 * SEC;
    assert_int_equal(col_store_retention_run(f->s, &ro, slc_now_ns(), &cutoff), 0);
    assert_int_equal(cutoff, 0);
    assert_int_equal(col_store_compact(f->s), 0);
    assert_int_equal(col_store_read_trace(f->s, new_tid, 0, &got, NULL), 0);
    slc_batch_free(got);
}

static void test_retention_by_size(void **state)
{
    struct fx *f = *state;
    col_retention_opts ro = {.max_bytes = 1};
    uint8_t tid[16];
    slc_batch *got = NULL;
    uint64_t cutoff = 0;

    store_traces(f, 50, 10);
    assert_int_equal(col_store_compact(f->s), 0);
    store_traces(f, 1, 99);
    assert_int_equal(col_store_retention_run(f->s, &ro, slc_now_ns(), &cutoff), 0);
    assert_true(cutoff > 0);
    tu_id(tid, 16, 10); /* the oldest trace is gone */
    assert_int_equal(col_store_read_trace(f->s, tid, 0, &got, NULL), SL_ENOTFOUND);
}

static void test_aggregates_survive_reopen(void **state)
{
    struct fx *f = *state;
    struct rows r = {0};
    char err[256];

    store_traces(f, 5, 300);
    col_store_close(f->s);
    assert_int_equal(col_store_open(f->dir, NULL, &f->s, err, sizeof err), 0);
    store_traces(f, 5, 400);
    assert_int_equal(col_store_compact(f->s), 0);
    assert_int_equal(col_store_red(f->s, "payment", NULL, f->t0, f->t0 + 59 * SEC, 0, 0, 1,
                                   collect, &r),
                     0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.count[0], 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_red_and_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_across_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_counts_and_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregates_survive_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
