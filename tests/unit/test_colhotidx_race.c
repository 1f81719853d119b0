/*
 * test_colhotidx_race.c - the in-memory trace index (collector/store/store_hotidx.c)
 * under concurrency: writer threads store frames through the real ingest
 * path (claim, col_store_write, release) while reader threads read traces
 * whose frames were acknowledged before the read started, across several
 * one-second window flushes, with a sealing pass replacing frames from
 * another thread.
 *
 * Why: the window is swapped, written and dropped while frames are in
 * flight and reads run; a read must see every acknowledged frame exactly
 * once whether its keys are in the current window, in the one being
 * written, in tidx rows on disk, or replaced by a sealed block.  Each
 * trace is spread over frames of every writer, so one trace's keys are
 * routinely split between those places.
 *
 * Threads never call cmocka's assertions (they longjmp into the main
 * thread's stack): they count failures and keep the first message; the
 * main thread asserts after joining them.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "store/blockcache.h"
#include "sightline.h"
#include "store/store.h"
#include "store/store_int.h"
#include "test_colutil.h"

#define T0 1700000000000000000ULL
#define NW 3        /* writer threads */
#define NK 2        /* frames per writer per round: NW * NK frames per trace */
#define NT 8        /* traces per round */
#define NR 2        /* reader threads */
#define MAXR 20000  /* rounds at most (bounds memory and the final check) */

struct race {
    col_store *s;
    atomic_uint_fast64_t acked[NW]; /* rounds writer w has fully acknowledged */
    atomic_uint_fast64_t since[NW]; /* real time its write in flight began; UINT64_MAX idle */
    atomic_int stop;
    atomic_uint_fast64_t reads, partial, frames, busy, seal_passes, sealed;
    atomic_int failures;
    pthread_mutex_t msg_mu;
    char msg[512];
};

static void race_fail(struct race *r, const char *fmt, ...)
{
    va_list ap;

    if (atomic_fetch_add(&r->failures, 1) != 0)
        return; /* keep the first message */
    pthread_mutex_lock(&r->msg_mu);
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&r->msg_mu);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Trace j of round rd, and the slot (writer w, frame k) of its items:
 * span start = base + slot, log time = base + 100 + slot. */
static void trace_id(uint8_t tid[16], uint64_t rd, int j)
{
    tu_id(tid, 16, 1 + rd * NT + (uint64_t)j);
}

static uint64_t trace_base(uint64_t rd, int j)
{
    return T0 + rd * 1000000 + (uint64_t)j * 1000;
}

static int has_log(int j, int w, int k)
{
    return (j + w + k) % 2 == 0;
}

/* Frame k of writer w in round rd: one span of each of the round's traces
 * (the root in writer 0's first frame), and logs of half of them. */
static slc_batch *race_frame(uint64_t rd, int w, int k)
{
    static const char *svc[NW] = {"frontend", "checkout", "payment"};
    slc_batch *b = slc_batch_new();
    int slot = w * NK + k;

    if (b == NULL)
        abort();
    b->batch_id = 1 + (rd * NW + (uint64_t)w) * NK + (uint64_t)k;
    for (int j = 0; j < NT; j++) {
        uint8_t tid[16], sid[8], root[8];
        trace_id(tid, rd, j);
        tu_id(sid, 8, (1 + rd * NT + (uint64_t)j) * 64 + (uint64_t)slot);
        tu_id(root, 8, (1 + rd * NT + (uint64_t)j) * 64);
        tu_span(b, tid, sid, slot == 0 ? NULL : root, svc[w], "op",
                trace_base(rd, j) + (uint64_t)slot, 500, 0);
        if (has_log(j, w, k))
            tu_log(b, tid, sid, svc[w], "hello", trace_base(rd, j) + 100 + (uint64_t)slot);
    }
    return b;
}

/* Stores one frame as ingest does; a write refused by back-pressure
 * (SL_EBUSY) is retried, as a sender told RETRY would.  0 or -1. */
static int race_put(struct race *r, const slc_batch *b)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    slc_batch *d = NULL;
    col_batch_key key;
    char err[256];
    int rv = -1;

    if (slc_wire_encode(b, 1, &frame, &len) != 0) {
        race_fail(r, "encode failed");
        return -1;
    }
    if (slc_wire_decode(frame, len, NULL, &d, err, sizeof err) != 0) {
        race_fail(r, "decode: %s", err);
        goto out;
    }
    key.batch_id = d->batch_id;
    key.crc = (uint32_t)len * 2654435761u + (uint32_t)d->batch_id;
    for (int tries = 0; tries < 5000; tries++) {
        int c = col_store_claim(r->s, &key), w;
        if (c == SL_EBUSY) {
            atomic_fetch_add(&r->busy, 1);
            sleep_ms(1);
            continue;
        }
        if (c != 0) {
            race_fail(r, "claim of batch %llu: %d", (unsigned long long)key.batch_id, c);
            goto out;
        }
        w = col_store_write(r->s, &key, frame, len, d, err, sizeof err);
        col_store_release(r->s, &key);
        if (w == 0) {
            rv = 0;
            goto out;
        }
        if (w != SL_EBUSY) {
            race_fail(r, "write of batch %llu: %s (%s)", (unsigned long long)key.batch_id,
                      sl_strerror(w), err);
            goto out;
        }
        atomic_fetch_add(&r->busy, 1);
        sleep_ms(1);
    }
    race_fail(r, "batch %llu: still busy after 5000 tries", (unsigned long long)key.batch_id);
out:
    slc_batch_free(d);
    free(frame);
    return rv;
}

struct writer_arg {
    struct race *r;
    int w;
};

static void *writer_main(void *p)
{
    struct writer_arg *a = p;
    struct race *r = a->r;

    for (uint64_t rd = 0; rd < MAXR && !atomic_load(&r->stop); rd++) {
        for (int k = 0; k < NK; k++) {
            slc_batch *b = race_frame(rd, a->w, k);
            /* Before the key is assigned (inside col_store_write): the
             * sealer stays below the oldest frame that may be in flight. */
            atomic_store(&r->since[a->w], slc_now_ns());
            int rv = race_put(r, b);
            atomic_store(&r->since[a->w], UINT64_MAX);
            slc_batch_free(b);
            if (rv != 0)
                return NULL;
            atomic_fetch_add(&r->frames, 1);
        }
        /* Every frame of round rd from this writer is acknowledged. */
        atomic_store(&r->acked[a->w], rd + 1);
    }
    return NULL;
}

/* Reads trace j of round rd and checks it against acked (a snapshot of
 * the writers' progress taken before the read): every item of a writer
 * that had acknowledged the round is there, and no item is there twice.
 * full: every writer had, so the trace must be exactly complete.  cached:
 * through the block cache, as the API reads (else the uncached read). */
static void check_trace(struct race *r, uint64_t rd, int j, const uint64_t acked[NW], int full,
                        int cached)
{
    uint8_t tid[16];
    slc_batch *b = NULL;
    uint64_t spans = 0, logs = 0, want_spans = 0, want_logs = 0, base = trace_base(rd, j);
    int rv;

    for (int w = 0; w < NW; w++)
        if (acked[w] > rd)
            for (int k = 0; k < NK; k++) {
                want_spans |= 1ULL << (w * NK + k);
                if (has_log(j, w, k))
                    want_logs |= 1ULL << (w * NK + k);
            }
    trace_id(tid, rd, j);
    rv = cached ? col_store_read_trace_cached(r->s, tid, 0, &b, NULL)
                : col_store_read_trace(r->s, tid, 0, &b, NULL);
    if (rv != 0) {
        if (want_spans != 0)
            race_fail(r, "round %llu trace %d: read %s, want spans %#llx", (unsigned long long)rd,
                      j, sl_strerror(rv), (unsigned long long)want_spans);
        return;
    }
    for (uint32_t i = 0; i < b->nspans; i++) {
        uint64_t slot = b->spans[i].start_ns - base;
        if (slot >= NW * NK || memcmp(b->spans[i].trace_id, tid, 16) != 0) {
            race_fail(r, "round %llu trace %d: foreign span", (unsigned long long)rd, j);
            goto out;
        }
        if (spans & (1ULL << slot)) {
            race_fail(r, "round %llu trace %d: span of slot %llu read twice (%u spans)",
                      (unsigned long long)rd, j, (unsigned long long)slot, b->nspans);
            goto out;
        }
        spans |= 1ULL << slot;
    }
    for (uint32_t i = 0; i < b->nlogs; i++) {
        uint64_t slot = b->logs[i].time_ns - base - 100;
        if (slot >= NW * NK) {
            race_fail(r, "round %llu trace %d: foreign log", (unsigned long long)rd, j);
            goto out;
        }
        if (logs & (1ULL << slot)) {
            race_fail(r, "round %llu trace %d: log of slot %llu read twice",
                      (unsigned long long)rd, j, (unsigned long long)slot);
            goto out;
        }
        logs |= 1ULL << slot;
    }
    if ((spans & want_spans) != want_spans || (logs & want_logs) != want_logs ||
        (full && (spans != want_spans || logs != want_logs)))
        race_fail(r, "round %llu trace %d: spans %#llx logs %#llx, want %#llx / %#llx%s",
                  (unsigned long long)rd, j, (unsigned long long)spans,
                  (unsigned long long)logs, (unsigned long long)want_spans,
                  (unsigned long long)want_logs, full ? " exactly" : " at least");
out:
    slc_batch_free(b);
}

static void snapshot_acked(struct race *r, uint64_t acked[NW], uint64_t *lo, uint64_t *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (int w = 0; w < NW; w++) {
        acked[w] = atomic_load(&r->acked[w]);
        if (acked[w] < *lo)
            *lo = acked[w];
        if (acked[w] > *hi)
            *hi = acked[w];
    }
}

struct reader_arg {
    struct race *r;
    uint64_t seed;
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    struct race *r = a->r;
    uint64_t x = a->seed;

    while (!atomic_load(&r->stop) && atomic_load(&r->failures) == 0) {
        uint64_t acked[NW], lo, hi, rd;
        int j = (int)(rnd(&x) % NT), pick = (int)(rnd(&x) % 8);

        snapshot_acked(r, acked, &lo, &hi);
        if (pick < 5 && lo > 0) {
            /* A complete round, mostly among the newest (keys in memory
             * or in the window being written). */
            uint64_t span = pick < 4 && lo > 8 ? 8 : lo;
            rd = lo - 1 - rnd(&x) % span;
            check_trace(r, rd, j, acked, 1, (int)(rnd(&x) & 1));
        } else if (hi > lo) {
            /* A round some writers acknowledged and others are writing. */
            rd = lo + rnd(&x) % (hi - lo);
            check_trace(r, rd, j, acked, 0, (int)(rnd(&x) & 1));
            atomic_fetch_add(&r->partial, 1);
        } else {
            sched_yield();
            continue;
        }
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

/* Seals frames received more than 100 ms ago, and never at or above a
 * frame that may still be in flight: sealing moves its watermark past
 * what it read, and a frame committed below it afterwards would be dead
 * (not what this test is about). */
static void *sealer_main(void *p)
{
    struct race *r = p;
    col_seal_opts so = {0};

    so.max_items = 64;
    so.level = 1;
    while (!atomic_load(&r->stop) && atomic_load(&r->failures) == 0) {
        /* The clock first: a writer found idle below takes its key after
         * this, so at or above now. */
        uint64_t now = slc_now_ns(), before = now - 100000000ULL, frames = 0;
        for (int w = 0; w < NW; w++) {
            uint64_t t = atomic_load(&r->since[w]);
            if (t < before)
                before = t;
        }
        int rv = col_store_seal(r->s, &so, before, &frames, NULL);
        if (rv != 0) {
            race_fail(r, "sealing pass: %s", sl_strerror(rv));
            break;
        }
        atomic_fetch_add(&r->seal_passes, 1);
        atomic_fetch_add(&r->sealed, frames);
        sleep_ms(150);
    }
    return NULL;
}

static col_store_stats stats(col_store *s)
{
    col_store_stats st;
    col_store_get_stats(s, &st);
    return st;
}

/* Every trace of the complete rounds reads exactly (the newest 64 rounds
 * all, older ones one trace per round): single-threaded, after the run. */
static void check_all(struct race *r)
{
    uint64_t acked[NW], lo, hi;

    snapshot_acked(r, acked, &lo, &hi);
    for (uint64_t rd = 0; rd < hi && atomic_load(&r->failures) == 0; rd++)
        for (int j = 0; j < NT; j++)
            if (rd + 64 >= hi || j == (int)(rd % NT))
                check_trace(r, rd, j, acked, rd < lo, j & 1);
}

/* Waits until s has written a window, or 1.5 s (the thread writes one a
 * second when there is anything to write). */
static void wait_window(col_store *s)
{
    for (int i = 0; i < 150 && stats(s).tidx_windows == 0; i++)
        sleep_ms(10);
}

/* Runs the writers and readers (and the sealer) for run_ms and until at
 * least min_windows windows were written, then checks every complete
 * trace.  restart: then closes and reopens the store (twice, with a window
 * written in between) and checks again. */
static void run_race(int with_sealer, uint64_t run_ms, uint64_t min_windows, int restart)
{
    struct race *r = calloc(1, sizeof *r);
    pthread_t wt[NW], rt[NR], st;
    struct writer_arg wa[NW];
    struct reader_arg ra[NR];
    char *dir;
    uint64_t w0, t0, acked[NW], lo, hi;

    assert_non_null(r);
    pthread_mutex_init(&r->msg_mu, NULL);
    for (int w = 0; w < NW; w++)
        atomic_store(&r->since[w], UINT64_MAX);
    assert_int_equal(tu_store_open(&dir, &r->s), 0);
    w0 = stats(r->s).tidx_windows;
    t0 = mono_ms();
    for (int w = 0; w < NW; w++) {
        wa[w].r = r;
        wa[w].w = w;
        assert_int_equal(pthread_create(&wt[w], NULL, writer_main, &wa[w]), 0);
    }
    for (int i = 0; i < NR; i++) {
        ra[i].r = r;
        ra[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &ra[i]), 0);
    }
    if (with_sealer)
        assert_int_equal(pthread_create(&st, NULL, sealer_main, r), 0);
    while ((mono_ms() - t0 < run_ms || stats(r->s).tidx_windows - w0 < min_windows) &&
           mono_ms() - t0 < run_ms + 10000 && atomic_load(&r->failures) == 0)
        sleep_ms(20);
    atomic_store(&r->stop, 1);
    for (int w = 0; w < NW; w++)
        pthread_join(wt[w], NULL);
    for (int i = 0; i < NR; i++)
        pthread_join(rt[i], NULL);
    if (with_sealer)
        pthread_join(st, NULL);

    snapshot_acked(r, acked, &lo, &hi);
    print_message("# %llu ms: %llu frames (%llu rounds x %d traces), %llu reads (%llu partial), "
                  "%llu busy retries, %llu windows written, %llu seal passes sealed %llu frames\n",
                  (unsigned long long)(mono_ms() - t0), (unsigned long long)atomic_load(&r->frames),
                  (unsigned long long)lo, NT, (unsigned long long)atomic_load(&r->reads),
                  (unsigned long long)atomic_load(&r->partial),
                  (unsigned long long)atomic_load(&r->busy),
                  (unsigned long long)(stats(r->s).tidx_windows - w0),
                  (unsigned long long)atomic_load(&r->seal_passes),
                  (unsigned long long)atomic_load(&r->sealed));
    if (atomic_load(&r->failures) == 0)
        check_all(r);
    if (atomic_load(&r->failures) != 0)
        fail_msg("%d failures; first: %s", atomic_load(&r->failures), r->msg);
    /* The run crossed several window flushes and read a lot meanwhile. */
    assert_true(stats(r->s).tidx_windows - w0 >= min_windows);
    assert_true(lo >= 10);
    assert_true(atomic_load(&r->reads) >= 100);
    if (with_sealer)
        assert_true(atomic_load(&r->sealed) > 0);
    for (int i = 0; restart && i < 2; i++) {
        char err[256];
        col_store_close(r->s);
        assert_int_equal(col_store_open(dir, NULL, &r->s, err, sizeof err), 0);
        check_all(r); /* the re-indexed frames are in memory */
        wait_window(r->s);
        check_all(r); /* and now also written as rows */
        if (atomic_load(&r->failures) != 0)
            fail_msg("after restart %d: %d failures; first: %s", i + 1,
                     atomic_load(&r->failures), r->msg);
    }
    tu_store_close(dir, r->s);
    pthread_mutex_destroy(&r->msg_mu);
    free(r);
}

static void test_race_ingest_read(void **state)
{
    (void)state;
    run_race(0, 2100, 2, 0);
}

static void test_race_ingest_read_seal(void **state)
{
    (void)state;
    run_race(1, 3100, 3, 0);
}

/* The same, then two clean restarts: the window written after a restart
 * holds re-indexed frames whose rows exist already; it must merge with
 * them, not replace them (a row listing a trace's older frames was once
 * overwritten this way). */
static void test_race_then_restart(void **state)
{
    (void)state;
    run_race(0, 1200, 1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_race_ingest_read),
        cmocka_unit_test(test_race_ingest_read_seal),
        cmocka_unit_test(test_race_then_restart),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
