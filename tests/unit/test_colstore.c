/*
 * test_colstore.c - the collector's store: real RocksDB in a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sightline.h"
#include "query/slq_trace.h"
#include "store/store.h"
#include "store/store_int.h"
#include "test_colutil.h"

#define T0 1700000000000000000ULL

#define fx tu_fx
#define setup tu_fx_setup
#define teardown tu_fx_teardown

/* Decodes a frame and stores it under its batch id, as ingest does. */
static int store_frame(col_store *s, const uint8_t *frame, size_t len)
{
    slc_batch *b = NULL;
    col_batch_key k;
    char err[256];
    int rv;

    assert_int_equal(slc_wire_decode(frame, len, NULL, &b, err, sizeof err), 0);
    k.batch_id = b->batch_id;
    k.crc = (uint32_t)len * 2654435761u;
    rv = col_store_claim(s, &k);
    if (rv == 0) {
        rv = col_store_write(s, &k, frame, len, b, err, sizeof err);
        col_store_release(s, &k);
    }
    slc_batch_free(b);
    return rv;
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    uint8_t *frame, tid[16], other[16];
    size_t len;
    slc_batch *got = NULL;

    tu_trace_frame(1, 42, T0, &frame, &len);
    assert_int_equal(store_frame(f->s, frame, len), 0);
    free(frame);

    tu_id(tid, 16, 42);
    assert_int_equal(col_store_read_trace(f->s, tid, 0, &got, NULL), 0);
    assert_int_equal(got->nspans, 3);
    assert_int_equal(got->nlogs, 1);
    assert_memory_equal(got->spans[0].trace_id, tid, 16);
    assert_int_equal(got->spans[0].start_ns, T0);
    assert_int_equal(got->spans[2].end_ns - got->spans[2].start_ns, 30000000);
    const slc_str *nm = &got->strs[got->spans[1].name];
    assert_int_equal(nm->len, strlen("place-order"));
    assert_memory_equal(nm->ptr, "place-order", nm->len);
    const slc_str *body = &got->strs[got->logs[0].body];
    assert_memory_equal(body->ptr, "card declined", body->len);
    slc_batch_free(got);

    tu_id(other, 16, 43);
    got = NULL;
    assert_int_equal(col_store_read_trace(f->s, other, 0, &got, NULL), SL_ENOTFOUND);
    assert_null(got);
}

static void test_dedupe(void **state)
{
    struct fx *f = *state;
    col_batch_key k = {.batch_id = 77, .crc = 5}, k2 = {.batch_id = 77, .crc = 6};
    uint8_t *frame;
    size_t len;
    slc_batch *b = NULL;
    char err[128];

    tu_trace_frame(77, 9, T0, &frame, &len);
    assert_int_equal(slc_wire_decode(frame, len, NULL, &b, err, sizeof err), 0);
    assert_int_equal(col_store_claim(f->s, &k), 0);
    /* A second claim of the same batch while the first is in flight. */
    assert_int_equal(col_store_claim(f->s, &k), SL_EBUSY);
    assert_int_equal(col_store_write(f->s, &k, frame, len, b, err, sizeof err), 0);
    col_store_release(f->s, &k);
    /* Retried after commit: duplicate, nothing claimed. */
    assert_int_equal(col_store_claim(f->s, &k), 1);
    assert_int_equal(col_store_claim(f->s, &k), 1);
    /* Same batch id from another sender (different bytes): not a duplicate. */
    assert_int_equal(col_store_claim(f->s, &k2), 0);
    col_store_release(f->s, &k2);
    slc_batch_free(b);
    free(frame);
}

/* Spans of one trace in three frames, interleaved with another trace. */
static void test_spread_over_blocks(void **state)
{
    struct fx *f = *state;
    uint8_t ta[16], tb[16], sid[8], root[8];
    slc_batch *got = NULL;

    tu_id(ta, 16, 100);
    tu_id(tb, 16, 200);
    tu_id(root, 8, 1000);
    for (int i = 0; i < 3; i++) {
        slc_batch *b = slc_batch_new();
        uint8_t *frame;
        size_t len;
        b->batch_id = 500 + (uint64_t)i;
        for (int j = 0; j < 4; j++) {
            tu_id(sid, 8, 1000 + (uint64_t)(i * 4 + j));
            tu_span(b, ta, sid, i == 0 && j == 0 ? NULL : root, "svc-a", "op-a",
                    T0 + (uint64_t)(i * 4 + j) * 1000, 500, 0);
            tu_id(sid, 8, 5000 + (uint64_t)(i * 4 + j));
            tu_span(b, tb, sid, NULL, "svc-b", "op-b", T0 + 1, 10, 0);
        }
        tu_log(b, ta, root, "svc-a", "hello", T0 + (uint64_t)i);
        tu_encode(b, &frame, &len);
        assert_int_equal(store_frame(f->s, frame, len), 0);
        free(frame);
        slc_batch_free(b);
    }
    int capped = -1;
    assert_int_equal(col_store_read_trace(f->s, ta, 0, &got, &capped), 0);
    assert_int_equal(capped, 0);
    assert_int_equal(got->nspans, 12);
    assert_int_equal(got->nlogs, 3);
    for (uint32_t i = 0; i < got->nspans; i++)
        assert_memory_equal(got->spans[i].trace_id, ta, 16);
    slc_batch_free(got);

    /* A cap on blocks read is reported, not silent. */
    got = NULL;
    assert_int_equal(col_store_read_trace(f->s, ta, 2, &got, &capped), 0);
    assert_int_equal(capped, 1);
    assert_int_equal(got->nspans, 8);
    slc_batch_free(got);
}

static void test_roots_and_services(void **state)
{
    struct fx *f = *state;
    col_root roots[10];
    size_t n = 99;

    for (int i = 0; i < 5; i++) {
        uint8_t *frame;
        size_t len;
        tu_trace_frame(900 + (uint64_t)i, 300 + (uint64_t)i, T0 + (uint64_t)i * 1000000000ULL,
                       &frame, &len);
        assert_int_equal(store_frame(f->s, frame, len), 0);
        free(frame);
    }
    assert_int_equal(col_store_list_roots(f->s, NULL, 0, UINT64_MAX, roots, 10, 0, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 1; i < n; i++)
        assert_true(roots[i - 1].start_ns > roots[i].start_ns);
    assert_string_equal(roots[0].service, "frontend");
    assert_string_equal(roots[0].name, "GET /checkout");
    assert_int_equal(roots[0].duration_ns, 50000000);
    assert_int_equal(roots[0].error, 0);
    uint8_t tid[16];
    tu_id(tid, 16, 304);
    assert_memory_equal(roots[0].trace_id, tid, 16);

    /* Time window [T0+1s, T0+3s], limit 2. */
    assert_int_equal(col_store_list_roots(f->s, NULL, T0 + 1000000000ULL, T0 + 3000000000ULL,
                                          roots, 2, 0, &n),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(roots[0].start_ns, T0 + 3000000000ULL);
    assert_int_equal(roots[1].start_ns, T0 + 2000000000ULL);

    assert_int_equal(col_store_list_roots(f->s, "payment", 0, UINT64_MAX, roots, 10, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(col_store_list_roots(f->s, "frontend", 0, UINT64_MAX, roots, 10, 0, &n), 0);
    assert_int_equal(n, 5);
    /* A scan bound stops early. */
    assert_int_equal(col_store_list_roots(f->s, NULL, 0, UINT64_MAX, roots, 10, 3, &n), 0);
    assert_int_equal(n, 3);
}

static int collect_svc(const char *name, size_t len, void *arg)
{
    char *buf = arg;
    strncat(buf, name, len);
    strcat(buf, ",");
    return 0;
}

static void test_services_and_reopen(void **state)
{
    struct fx *f = *state;
    char names[256] = "", err[256];
    uint8_t *frame, tid[16];
    size_t len;
    slc_batch *got = NULL;

    tu_trace_frame(1, 1, T0, &frame, &len);
    assert_int_equal(store_frame(f->s, frame, len), 0);
    free(frame);
    assert_int_equal(col_store_services(f->s, collect_svc, names), 0);
    assert_string_equal(names, "checkout,frontend,payment,");

    /* Data, dedupe rows and block-key order survive a restart. */
    col_store_close(f->s);
    f->s = NULL;
    assert_int_equal(col_store_open(f->dir, NULL, &f->s, err, sizeof err), 0);
    tu_trace_frame(1, 1, T0, &frame, &len);
    col_batch_key k = {.batch_id = 1, .crc = (uint32_t)len * 2654435761u};
    assert_int_equal(col_store_claim(f->s, &k), 1);
    free(frame);
    tu_trace_frame(2, 1, T0 + 100, &frame, &len); /* same trace again, new batch */
    assert_int_equal(store_frame(f->s, frame, len), 0);
    free(frame);
    tu_id(tid, 16, 1);
    assert_int_equal(col_store_read_trace(f->s, tid, 0, &got, NULL), 0);
    assert_int_equal(got->nspans, 6); /* both copies; the tree builder dedupes */
    slc_batch_free(got);
    names[0] = '\0';
    assert_int_equal(col_store_services(f->s, collect_svc, names), 0);
    assert_string_equal(names, "checkout,frontend,payment,");

    /* A second collector on the same directory is refused clearly. */
    col_store *s2 = NULL;
    assert_int_not_equal(col_store_open(f->dir, NULL, &s2, err, sizeof err), 0);
    assert_null(s2);
    assert_non_null(strstr(err, "--data"));
}

/* The path the HTTP API takes: store -> query engine -> JSON. */
static void test_trace_assembly(void **state)
{
    struct fx *f = *state;
    uint8_t *frame, tid[16];
    size_t len;
    slc_batch *got = NULL;
    slq_trace *t = NULL;
    json_t *j = NULL;

    tu_trace_frame(11, 11, T0, &frame, &len);
    assert_int_equal(store_frame(f->s, frame, len), 0);
    free(frame);
    tu_trace_frame(12, 11, T0, &frame, &len); /* a retried copy under a new batch id */
    assert_int_equal(store_frame(f->s, frame, len), 0);
    free(frame);
    tu_id(tid, 16, 11);
    assert_int_equal(col_store_read_trace(f->s, tid, 0, &got, NULL), 0);
    assert_int_equal(slq_trace_build(got, NULL, &t), 0);
    assert_int_equal(slq_trace_to_json(t, &j), 0);
    json_t *spans = json_object_get(j, "spans");
    assert_int_equal(json_array_size(spans), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(spans, 0), "service")),
                        "frontend");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(spans, 2), "depth")), 2);
    json_decref(j);
    slq_trace_free(t);
    slc_batch_free(got);
}


/* A service name with U+0000 inside: the name cache compares lengths, not
 * strlen() of its copy, so the name is cached once instead of re-put (and
 * re-inserted) every frame until the cache is full. */
static void test_service_name_with_nul(void **state)
{
    struct fx *f = *state;
    static const char name[] = "pay\0ments";
    uint8_t tid[16], sid[8];

    for (int i = 0; i < 5; i++) {
        slc_batch *b = slc_batch_new();
        uint8_t *frame;
        size_t len;
        uint32_t svc;
        tu_id(tid, 16, 900 + (uint64_t)i);
        tu_id(sid, 8, 900 + (uint64_t)i);
        b->batch_id = 900 + (uint64_t)i;
        tu_span(b, tid, sid, NULL, "x", "op", T0 + (uint64_t)i, 10, 0);
        assert_int_equal(slc_batch_intern(b, name, sizeof name - 1, &svc), 0);
        b->spans[0].service = svc;
        tu_encode(b, &frame, &len);
        slc_batch_free(b);
        assert_int_equal(store_frame(f->s, frame, len), 0);
        free(frame);
    }
    assert_int_equal(f->s->nsvc, 1);
}

static slc_batch *edge_batch(const char *svc, uint64_t sid_seed, uint64_t parent_seed)
{
    slc_batch *b = slc_batch_new();
    uint8_t tid[16], sid[8], pid[8];

    tu_id(tid, 16, 77);
    tu_id(sid, 8, sid_seed);
    tu_id(pid, 8, parent_seed);
    tu_span(b, tid, sid, parent_seed ? pid : NULL, svc, "op", T0, 10, 0);
    return b;
}

/* The edge tracker is two-phase: a frame whose write failed (abort) and is
 * retried counts its edge once, whether it holds the child or the parent. */
static void test_edges_retry_counts_once(void **state)
{
    (void)state;
    col_edges *t = col_edges_new(4096);
    col_edges_txn tx;
    slc_batch *child = edge_batch("checkout", 2, 1), *parent = edge_batch("frontend", 1, 0);

    assert_non_null(t);
    /* child first, its write fails, then the retry commits */
    assert_int_equal(col_edges_observe(t, child, &tx), 0);
    assert_int_equal(tx.nev, 0);
    col_edges_abort(t, &tx);
    assert_int_equal(col_edges_observe(t, child, &tx), 0);
    assert_int_equal(tx.nev, 0);
    col_edges_commit(t, &tx);
    /* a child retried after a lost ack (both writes "committed" from the
     * tracker's view) waits once, too */
    assert_int_equal(col_edges_observe(t, child, &tx), 0);
    col_edges_commit(t, &tx);
    /* the parent's first write fails: the edge must survive for the retry */
    assert_int_equal(col_edges_observe(t, parent, &tx), 0);
    assert_int_equal(tx.nev, 1);
    col_edges_abort(t, &tx);
    assert_int_equal(col_edges_observe(t, parent, &tx), 0);
    assert_int_equal(tx.nev, 1); /* exactly one: the child waited once */
    assert_string_equal(col_edges_name(t, tx.evs[0].caller), "frontend");
    assert_string_equal(col_edges_name(t, tx.evs[0].callee), "checkout");
    col_edges_commit(t, &tx);
    /* committed: the edge is not found again */
    assert_int_equal(col_edges_observe(t, parent, &tx), 0);
    assert_int_equal(tx.nev, 0);
    col_edges_commit(t, &tx);
    slc_batch_free(child);
    slc_batch_free(parent);
    col_edges_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spread_over_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roots_and_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_assembly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_name_with_nul, setup, teardown),
        cmocka_unit_test(test_edges_retry_counts_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
