/*
 * test_colseal.c - sealing (collector/store/store_seal.c): frames rewritten into
 * sealed blocks must answer every read exactly as the frames did, in a real
 * RocksDB store in a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/blockcache.h"
#include "store/coldblock.h"
#include "sightline.h"
#include "store/store.h"
#include "store/store_int.h"
#include "test_colutil.h"

#define T0 1700000000000000000ULL
#define NTRACES 40
#define NFRAMES 12

#define fx tu_fx
#define setup tu_fx_setup
#define teardown tu_fx_teardown

static const char *svcs[] = {"frontend", "checkout", "payment", "stock"};

/* Frame fi holds, for every trace t, the spans of service fi % 4 (so a
 * trace's spans are spread over several frames, as from several SDKs),
 * plus a log per trace in some frames and a log without trace. */
static void write_frames(col_store *s, int from, int to, uint64_t batch0)
{
    for (int fi = from; fi < to; fi++) {
        slc_batch *b = slc_batch_new();
        b->batch_id = batch0 + (uint64_t)fi;
        for (int t = 0; t < NTRACES; t++) {
            uint8_t tid[16], sid[8], par[8];
            tu_id(tid, 16, 7000 + (uint64_t)t);
            tu_id(sid, 8, 100000 + (uint64_t)t * 100 + (uint64_t)fi);
            tu_id(par, 8, 100000 + (uint64_t)t * 100);
            tu_span(b, tid, sid, fi == 0 ? NULL : par, svcs[fi % 4], fi % 2 ? "op-odd" : "op-even",
                    T0 + (uint64_t)t * 1000000 + (uint64_t)fi * 1000, 1000 + (uint64_t)fi * 10,
                    t % 7 == 0 && fi == 1);
            if (fi % 3 == 0)
                tu_log(b, tid, sid, svcs[fi % 4], "in a trace", T0 + (uint64_t)t * 1000000 + 5);
        }
        tu_log(b, NULL, NULL, svcs[fi % 4], "no trace here", T0 + (uint64_t)fi);
        tu_store_batch(s, b);
        slc_batch_free(b);
    }
}

/* A fingerprint of a trace read: span count, log count and the xor of a
 * hash of every span id and start, so order does not matter. */
struct fp {
    uint32_t spans, logs;
    uint64_t x;
};

static struct fp trace_fp(col_store *s, int t, int cached)
{
    uint8_t tid[16];
    slc_batch *b = NULL;
    struct fp r = {0};
    int rv;

    tu_id(tid, 16, 7000 + (uint64_t)t);
    rv = cached ? col_store_read_trace_cached(s, tid, 0, &b, NULL)
                : col_store_read_trace(s, tid, 0, &b, NULL);
    assert_int_equal(rv, 0);
    r.spans = b->nspans;
    r.logs = b->nlogs;
    for (uint32_t i = 0; i < b->nspans; i++) {
        uint64_t v;
        memcpy(&v, b->spans[i].span_id, 8);
        r.x ^= (v * 0x9e3779b97f4a7c15ULL) ^ b->spans[i].start_ns ^
               ((uint64_t)b->spans[i].attr_count << 56);
        assert_memory_equal(b->spans[i].trace_id, tid, 16);
    }
    slc_batch_free(b);
    return r;
}

static size_t search_count(col_store *s, const char *svc, int errors_only)
{
    col_search_q q = {0};
    col_trace_hit hits[100];
    size_t n = 0;

    q.service = svc;
    q.since_ns = T0 - 1000000000ULL;
    q.until_ns = slc_now_ns();
    q.error = errors_only ? 1 : -1;
    q.limit = 100;
    assert_int_equal(col_store_search(s, &q, hits, &n, NULL), 0);
    return n;
}

static uint32_t logs_count(col_store *s, const char *contains)
{
    col_logs_q q = {0};
    slc_batch *b = NULL;
    char cur[COL_CURSOR_MAX];
    uint32_t n;

    q.since_ns = T0 - 1000000000ULL;
    q.until_ns = slc_now_ns();
    q.contains = contains;
    q.limit = 10000;
    assert_int_equal(col_store_logs(s, &q, &b, cur, NULL), 0);
    n = b->nlogs;
    slc_batch_free(b);
    return n;
}

/* Counts the blocks, and the sealed ones among them. */
static void count_blocks(col_store *s, size_t *all, size_t *sealed)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_BLOCKS]);
    size_t cold = 0;
    *all = *sealed = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl = 0, vl = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
        (*all)++;
        if (k[8] & 0x80) {
            (*sealed)++;
            cold += col_cold_is(v, vl) != 0;
        }
    }
    rocksdb_iter_destroy(it); /* before any assertion: cmocka jumps out */
    assert_int_equal(cold, *sealed);
}

static void check_same(col_store *s, const struct fp *want)
{
    for (int t = 0; t < NTRACES; t++) {
        struct fp a = trace_fp(s, t, 0), b = trace_fp(s, t, 1);
        assert_int_equal(a.spans, want[t].spans);
        assert_int_equal(a.logs, want[t].logs);
        assert_true(a.x == want[t].x);
        assert_int_equal(b.spans, want[t].spans);
        assert_int_equal(b.logs, want[t].logs);
        assert_true(b.x == want[t].x);
    }
}

static void test_seal_answers_like_frames(void **state)
{
    struct fx *f = *state;
    struct fp want[NTRACES];
    size_t all, sealed, s_all, s_pay, s_err;
    uint32_t l_all, l_trace;
    uint64_t frames = 0, items = 0;
    col_seal_opts o = {0};
    col_store_stats st;

    write_frames(f->s, 0, NFRAMES, 1000);
    for (int t = 0; t < NTRACES; t++) {
        want[t] = trace_fp(f->s, t, 0);
        assert_int_equal(want[t].spans, NFRAMES);
        assert_int_equal(want[t].logs, NFRAMES / 3);
    }
    s_all = search_count(f->s, NULL, 0);
    s_pay = search_count(f->s, "payment", 0);
    s_err = search_count(f->s, NULL, 1);
    l_all = logs_count(f->s, NULL);
    l_trace = logs_count(f->s, "in a trace");
    assert_int_equal(s_all, NTRACES);
    assert_int_equal(s_err, (NTRACES + 6) / 7);
    assert_int_equal(l_all, NTRACES * (NFRAMES / 3) + NFRAMES);

    o.max_items = 150; /* several sealed blocks, traces split across them */
    assert_int_equal(col_store_seal(f->s, &o, UINT64_MAX, &frames, &items), 0);
    assert_int_equal(frames, NFRAMES);
    assert_int_equal(items, NTRACES * NFRAMES + NTRACES * (NFRAMES / 3) + NFRAMES);
    count_blocks(f->s, &all, &sealed);
    assert_true(sealed >= 2);
    assert_int_equal(all, sealed); /* every frame was replaced */
    col_store_get_stats(f->s, &st);
    assert_int_equal(st.sealed_frames, NFRAMES);
    assert_true(st.seal_bytes_out > 0);

    check_same(f->s, want);
    assert_int_equal(search_count(f->s, NULL, 0), s_all);
    assert_int_equal(search_count(f->s, "payment", 0), s_pay);
    assert_int_equal(search_count(f->s, NULL, 1), s_err);
    assert_int_equal(logs_count(f->s, NULL), l_all);
    assert_int_equal(logs_count(f->s, "in a trace"), l_trace);

    /* The frames' index rows are dead: after a compaction no tidx row names
     * a frame any more. */
    assert_int_equal(col_store_compact(f->s), 0);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(f->s->db, f->s->ropts, f->s->cf[CF_TIDX]);
    size_t rows = 0, frame_rows = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        frame_rows += kl != COL_TIDX_KEY_LEN || !(k[16 + 8] & 0x80);
        rows++;
    }
    rocksdb_iter_destroy(it);
    assert_int_equal(frame_rows, 0);
    /* One row per trace per sealed block (each block here holds a piece of
     * every trace), far fewer than one per trace per frame. */
    assert_true(rows >= NTRACES && rows <= (size_t)NTRACES * sealed);
    assert_true(rows < (size_t)NTRACES * NFRAMES);
    check_same(f->s, want);
}

/* Sealing part of the store, writing more, sealing again, and a restart:
 * a trace spread over sealed blocks and frames reads whole, the watermark
 * survives the restart, and a retried frame that was sealed is still a
 * duplicate. */
static void test_seal_incremental_and_reopen(void **state)
{
    struct fx *f = *state;
    struct fp want[NTRACES];
    col_seal_opts o = {0};
    uint64_t frames = 0, mid;
    char err[256];
    size_t all, sealed;

    write_frames(f->s, 0, 6, 2000);
    mid = atomic_load(&f->s->last_block_ns) + 1;
    write_frames(f->s, 6, NFRAMES, 2000);
    for (int t = 0; t < NTRACES; t++)
        want[t] = trace_fp(f->s, t, 0);

    assert_int_equal(col_store_seal(f->s, &o, mid, &frames, NULL), 0);
    assert_int_equal(frames, 6);
    count_blocks(f->s, &all, &sealed);
    assert_int_equal(all, sealed + 6);
    check_same(f->s, want);

    /* Nothing new below the watermark: a second pass seals nothing. */
    assert_int_equal(col_store_seal(f->s, &o, mid, &frames, NULL), 0);
    assert_int_equal(frames, 0);

    col_store_close(f->s);
    f->s = NULL;
    assert_int_equal(col_store_open(f->dir, NULL, &f->s, err, sizeof err), 0);
    assert_true(atomic_load(&f->s->sealed_ns) >= mid - 1);
    check_same(f->s, want);

    /* Frame 0 again (same bytes, same key): DUPLICATE, though sealed. */
    {
        slc_batch *b = slc_batch_new();
        uint8_t *frame;
        size_t len;
        col_batch_key k;
        b->batch_id = 2000;
        for (int t = 0; t < NTRACES; t++) {
            uint8_t tid[16], sid[8];
            tu_id(tid, 16, 7000 + (uint64_t)t);
            tu_id(sid, 8, 100000 + (uint64_t)t * 100);
            tu_span(b, tid, sid, NULL, svcs[0], "op-even", T0 + (uint64_t)t * 1000000, 1000, 0);
            tu_log(b, tid, sid, svcs[0], "in a trace", T0 + (uint64_t)t * 1000000 + 5);
        }
        tu_log(b, NULL, NULL, svcs[0], "no trace here", T0);
        tu_encode(b, &frame, &len);
        k.batch_id = 2000;
        k.crc = (uint32_t)len * 2654435761u + 2000u;
        assert_int_equal(col_store_claim(f->s, &k), 1);
        free(frame);
        slc_batch_free(b);
    }

    assert_int_equal(col_store_seal(f->s, &o, UINT64_MAX, &frames, NULL), 0);
    assert_int_equal(frames, NFRAMES - 6);
    count_blocks(f->s, &all, &sealed);
    assert_int_equal(all, sealed);
    check_same(f->s, want);
}

/* A store sealed in the background thread while it is written: every
 * trace stays whole throughout. */
static void test_seal_thread(void **state)
{
    struct fx *f = *state;
    col_seal_opts o = {0};
    col_store_stats st;

    o.after_ns = 1;               /* anything already written */
    o.interval_ns = 20000000ULL;  /* 20 ms */
    o.max_items = 200;
    assert_int_equal(col_store_seal_start(f->s, &o), 0);
    for (int round = 0; round < 5; round++) {
        write_frames(f->s, 0, NFRAMES, 3000 + (uint64_t)round * 100);
        for (int t = 0; t < NTRACES; t++) {
            struct fp a = trace_fp(f->s, t, round & 1);
            assert_int_equal(a.spans, (uint32_t)NFRAMES * (uint32_t)(round + 1));
        }
    }
    for (int i = 0; i < 200; i++) {
        col_store_get_stats(f->s, &st);
        if (st.sealed_frames == 5 * NFRAMES)
            break;
        usleep(20000);
    }
    assert_int_equal(st.sealed_frames, 5 * NFRAMES);
    for (int t = 0; t < NTRACES; t++)
        assert_int_equal(trace_fp(f->s, t, 0).spans, 5 * NFRAMES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seal_answers_like_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_incremental_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_thread, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
