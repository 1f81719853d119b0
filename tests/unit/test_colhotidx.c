/*
 * test_colhotidx.c - the in-memory trace index of the newest frames
 * (collector/store/store_hotidx.c): a trace reads whole while its frames are only
 * in memory, after the window is written as one row per trace, across
 * several windows, after sealing, after a clean restart and after a crash
 * that left the window unwritten (a child process that exits without
 * closing the store).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "sightline.h"
#include "store/store.h"
#include "store/store_int.h"
#include "test_colutil.h"

#define T0 1700000000000000000ULL
#define NTRACES 50

static const char *svcs[] = {"frontend", "checkout", "payment", "stock", "search"};

/* Frame fi holds one span of service fi % 5 for every trace, so each trace
 * is spread over all frames, as when several SDKs send; every third frame
 * also holds a log per trace. */
static void write_frames(col_store *s, int from, int to)
{
    for (int fi = from; fi < to; fi++) {
        slc_batch *b = slc_batch_new();
        b->batch_id = 9000 + (uint64_t)fi;
        for (int t = 0; t < NTRACES; t++) {
            uint8_t tid[16], sid[8], par[8];
            tu_id(tid, 16, 500 + (uint64_t)t);
            tu_id(sid, 8, 100000 + (uint64_t)t * 1000 + (uint64_t)fi);
            tu_id(par, 8, 100000 + (uint64_t)t * 1000);
            tu_span(b, tid, sid, fi == 0 ? NULL : par, svcs[fi % 5], "op",
                    T0 + (uint64_t)t * 1000000 + (uint64_t)fi * 1000, 500, 0);
            if (fi % 3 == 0)
                tu_log(b, tid, sid, svcs[fi % 5], "hello", T0 + (uint64_t)t * 1000000 + 7);
        }
        tu_store_batch(s, b);
        slc_batch_free(b);
    }
}

/* Every trace reads with exactly the spans of frames [0, nframes) and
 * the logs of its frames divisible by 3, each span once. */
static void check_traces(col_store *s, int nframes)
{
    uint32_t want_logs = (uint32_t)(nframes + 2) / 3;

    for (int t = 0; t < NTRACES; t++) {
        uint8_t tid[16];
        slc_batch *b = NULL;
        uint64_t seen = 0;

        tu_id(tid, 16, 500 + (uint64_t)t);
        assert_int_equal(col_store_read_trace(s, tid, 0, &b, NULL), 0);
        assert_int_equal(b->nspans, (uint32_t)nframes);
        assert_int_equal(b->nlogs, want_logs);
        for (uint32_t i = 0; i < b->nspans; i++) {
            int fi = (int)((b->spans[i].start_ns - T0 - (uint64_t)t * 1000000) / 1000);
            assert_true(fi >= 0 && fi < nframes && fi < 64);
            assert_false(seen & (1ULL << fi)); /* no frame read twice */
            seen |= 1ULL << fi;
        }
        slc_batch_free(b);
    }
}

static col_store_stats stats(col_store *s)
{
    col_store_stats st;
    col_store_get_stats(s, &st);
    return st;
}

/* Waits until the store has written at least n windows (the thread writes
 * one a second); fails after 10 s. */
static void wait_windows(col_store *s, uint64_t n)
{
    for (int i = 0; i < 1000 && stats(s).tidx_windows < n; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    assert_true(stats(s).tidx_windows >= n);
}

/* Counts tidx rows, and those that list more than their own frame. */
static void count_rows(col_store *s, size_t *rows, size_t *multi)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it;

    /* The family has a prefix extractor: a full scan needs total order. */
    rocksdb_readoptions_set_total_order_seek(ro, 1);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_TIDX]);
    *rows = *multi = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t vlen = 0;
        const char *v = rocksdb_iter_value(it, &vlen);
        (*rows)++;
        if (vlen > 1) {
            assert_int_equal((unsigned char)v[0], 1);
            assert_int_equal((vlen - 1) % COL_BLOCK_KEY_LEN, 0);
            (*multi)++;
        }
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
}

static void test_memory_then_rows(void **state)
{
    char *dir;
    col_store *s;
    size_t rows, multi;
    uint64_t w0;

    (void)state;
    assert_int_equal(tu_store_open(&dir, &s), 0);
    w0 = stats(s).tidx_windows;
    write_frames(s, 0, 10);
    /* Read at once: the frames are in memory only (a window is a second). */
    check_traces(s, 10);
    wait_windows(s, w0 + 1);
    check_traces(s, 10);
    count_rows(s, &rows, &multi);
    print_message("# %zu tidx rows, %zu listing several frames\n", rows, multi);
    /* 50 traces x 10 frames: one row per trace per window, not 500. */
    assert_true(rows >= NTRACES && rows <= 3 * NTRACES);
    assert_true(multi >= NTRACES / 2);

    /* A second window adds to the traces; reads merge both. */
    write_frames(s, 10, 20);
    check_traces(s, 20);
    wait_windows(s, stats(s).tidx_windows + 1);
    check_traces(s, 20);
    assert_int_equal(col_store_compact(s), 0);
    check_traces(s, 20);

    /* Sealing replaces the frames: the rows naming them die. */
    {
        col_seal_opts so = {0};
        so.max_items = 300;
        so.level = 3;
        assert_int_equal(col_store_seal(s, &so, UINT64_MAX, NULL, NULL), 0);
    }
    check_traces(s, 20);
    write_frames(s, 20, 25);
    check_traces(s, 25);
    tu_store_close(dir, s);
}

static void test_clean_restart(void **state)
{
    char *dir;
    col_store *s;
    char err[256];

    (void)state;
    assert_int_equal(tu_store_open(&dir, &s), 0);
    write_frames(s, 0, 12);
    col_store_close(s); /* writes the window */
    assert_int_equal(col_store_open(dir, NULL, &s, err, sizeof err), 0);
    /* At most the newest frame again (the start key is inclusive). */
    assert_true(stats(s).tidx_reindexed_frames <= 1);
    check_traces(s, 12);
    /* The window holding the re-indexed frame is written before any new
     * frame: its row must not replace the one listing the older frames. */
    wait_windows(s, 1);
    check_traces(s, 12);
    col_store_close(s);
    assert_int_equal(col_store_open(dir, NULL, &s, err, sizeof err), 0);
    check_traces(s, 12);
    write_frames(s, 12, 15);
    check_traces(s, 15);
    tu_store_close(dir, s);
}

/* --compact-on-exit: close writes the window, then seals and compacts
 * everything (the benchmarks' bytes-on-disk path). */
static void test_close_seals_and_compacts(void **state)
{
    char *dir = tu_tmpdir();
    col_store *s;
    col_store_opts o = {0};
    char err[256];
    size_t frames = 0, sealed = 0;

    (void)state;
    o.compact_on_close = 1;
    assert_int_equal(col_store_open(dir, &o, &s, err, sizeof err), 0);
    write_frames(s, 0, 9);
    col_store_close(s);
    assert_int_equal(col_store_open(dir, NULL, &s, err, sizeof err), 0);
    check_traces(s, 9);
    {
        rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_BLOCKS]);
        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
            size_t kl = 0;
            const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
            frames++;
            sealed += kl == COL_BLOCK_KEY_LEN && col_key_sealed(k);
        }
        rocksdb_iter_destroy(it);
    }
    assert_true(frames > 0);
    assert_int_equal(sealed, frames);
    tu_store_close(dir, s);
}

static void test_crash_reindexes(void **state)
{
    char *dir = tu_tmpdir();
    col_store *s;
    char err[256];
    pid_t pid;
    int status = 0;

    (void)state;
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A fresh process (RocksDB's thread pools do not survive fork):
         * this binary again, in child mode (main). */
        execl("/proc/self/exe", "test_colhotidx", "--crash-child", dir, (char *)NULL);
        _exit(4);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    assert_int_equal(col_store_open(dir, NULL, &s, err, sizeof err), 0);
    assert_true(stats(s).tidx_reindexed_frames >= 8);
    check_traces(s, 8);
    write_frames(s, 8, 11);
    check_traces(s, 11);
    wait_windows(s, stats(s).tidx_windows + 1);
    check_traces(s, 11);
    tu_store_close(dir, s);
}

/* --crash-child DIR: writes frames 0..7 to a store in DIR and dies without
 * closing it: the window never reaches the tidx family, only the frames'
 * WAL records exist. */
static int crash_child(const char *dir)
{
    col_store *s;
    char err[256];

    if (col_store_open(dir, NULL, &s, err, sizeof err) != 0)
        return 3;
    write_frames(s, 0, 8);
    _exit(0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_then_rows),
        cmocka_unit_test(test_clean_restart),
        cmocka_unit_test(test_close_seals_and_compacts),
        cmocka_unit_test(test_crash_reindexes),
    };

    if (argc == 3 && strcmp(argv[1], "--crash-child") == 0)
        return crash_child(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
