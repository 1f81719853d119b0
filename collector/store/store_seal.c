/*
 * store_seal.c - sealing: rewriting settled frames into trace-sorted,
 * column-encoded blocks (store.h "sealing", docs/storage.md "Sealed
 * blocks", the format in collector/store/coldblock.h).
 *
 * Why: ingest stores each frame as received (one sequential put, no
 * re-encoding), which costs the frame's own bytes (zlib level 1 over a few
 * hundred spans of one service: ~60 B/span), and a trace's index rows name
 * many small frames (the spans of one trace come from several services, so
 * from several frames).  Once frames have settled, a
 * background pass merges runs of consecutive frames (time-local, so a
 * search that stops at the newest hits still reads few blocks), groups
 * their spans by trace and encodes them column-wise: the sealed block
 * needs a fraction of the bytes and one trace-index row per trace.
 *
 * Crash safety: each sealed block is written in one WriteBatch together
 * with its index rows, the deletion of the frames it replaces and the new
 * watermark ("sealed" in meta), so after a crash the store holds either
 * the frames or the sealed block.  Index rows of replaced frames are not
 * deleted one by one: every row naming a frame below the watermark is dead
 * (col_block_dead), skipped by reads and dropped by the compaction filter.
 * Roots, aggregates and dedupe rows do not name blocks and stay as they
 * are (a retried frame is still answered DUPLICATE after sealing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coldblock.h"
#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "store_int.h"

#define SEAL_NS 1000000000ULL
#define SEAL_DEF_AFTER (60 * SEAL_NS)
#define SEAL_DEF_INTERVAL (10 * SEAL_NS)
#define SEAL_DEF_ITEMS 16384u
#define SEAL_DEF_LEVEL COL_COLD_DEFAULT_LEVEL
/* A pass commits at least every this many source frames, so one sealed
 * block never needs an unbounded delete list. */
#define SEAL_MAX_SOURCES 4096u

static uint64_t seal_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void col_store_seal_load(col_store *s)
{
    char *rerr = NULL, *v;
    size_t vlen = 0;

    v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], "sealed", 6, &vlen, &rerr);
    if (rerr != NULL) {
        col_log(COL_LOG_WARN, "reading the sealing watermark: %s", rerr);
        rocksdb_free(rerr);
        return;
    }
    if (v != NULL && vlen == 8)
        atomic_store(&s->sealed_ns, slc_get_be64((const uint8_t *)v));
    rocksdb_free(v);
}

static void seal_defaults(const col_seal_opts *in, col_seal_opts *o)
{
    *o = *in;
    if (o->after_ns == 0)
        o->after_ns = SEAL_DEF_AFTER;
    if (o->interval_ns == 0)
        o->interval_ns = SEAL_DEF_INTERVAL;
    if (o->max_items == 0)
        o->max_items = SEAL_DEF_ITEMS;
    if (o->level <= 0 || o->level > 19)
        o->level = SEAL_DEF_LEVEL;
}

/* The frames gathered for one sealed block. */
struct seal_group {
    slc_batch *b;                       /* merged spans and logs */
    uint8_t (*src)[COL_BLOCK_KEY_LEN];  /* keys of the frames it replaces */
    uint32_t nsrc, capsrc;
    uint64_t bytes_in;
    uint64_t last_t;                    /* block time of the newest source */
};

static int seal_add_src(struct seal_group *g, const uint8_t *key)
{
    if (slc_grow((void **)&g->src, &g->capsrc, g->nsrc + 1, COL_BLOCK_KEY_LEN) != 0)
        return SL_ENOMEM;
    memcpy(g->src[g->nsrc++], key, COL_BLOCK_KEY_LEN);
    return 0;
}

/* Writes the sealed block of g with its index rows, deletes its source
 * frames and moves the watermark past them, all in one batch. */
static int seal_commit(col_store *s, const col_seal_opts *o, struct seal_group *g,
                       rocksdb_writeoptions_t *wo)
{
    uint8_t *enc = NULL, skey[COL_BLOCK_KEY_LEN], wm[8];
    size_t enclen = 0;
    rocksdb_writebatch_t *wb = NULL;
    char *rerr = NULL;
    uint64_t next = g->last_t + 1;
    int rv = 0;

    /* Sealing writes new blocks before compaction frees the old frames:
     * not while the disk guard refuses ingest (the next pass seals them). */
    if (col_store_writable(s, NULL, 0) != 0)
        return SL_EBUSY;
    wb = rocksdb_writebatch_create();
    if (g->b->nspans + (uint64_t)g->b->nlogs > 0) {
        rv = col_cold_encode(g->b, o->level, &enc, &enclen);
        if (rv == SL_EINVAL) {
            /* Not expected (every source came from a wire frame), but one
             * bad group must not stop sealing for good: store the merged
             * batch as a wire frame under the sealed key instead (readers
             * decode either, by magic). */
            col_log(COL_LOG_WARN, "sealing: %u spans, %u logs do not encode as a sealed block (%s); "
                    "stored as one frame",
                    g->b->nspans, g->b->nlogs, sl_strerror(rv));
            rv = slc_wire_encode(g->b, 1, &enc, &enclen);
        }
        if (rv != 0) {
            col_log(COL_LOG_WARN, "sealing: encoding %u spans, %u logs failed: %s", g->b->nspans,
                    g->b->nlogs, sl_strerror(rv));
            goto out;
        }
        /* The newest source's time: a block at time T holds only spans that
         * started before T, which trace search relies on.  The sealed bit
         * keeps the key apart from that frame's. */
        slc_put_be64(skey, g->last_t);
        slc_put_be32(skey + 8, COL_SEQ_SEALED | (uint32_t)(atomic_load(&s->sealed_blocks) & 0x7fffffffu));
        rocksdb_writebatch_put_cf(wb, s->cf[CF_BLOCKS], (const char *)skey, sizeof skey,
                                  (const char *)enc, enclen);
        rv = col_put_tidx(s, wb, g->b, skey);
        if (rv == 0 && g->b->nspans > 0)
            rv = col_put_sidx(s, wb, g->b, skey);
        if (rv == 0 && g->b->nlogs > 0)
            rv = col_put_lidx(s, wb, g->b, skey);
        if (rv != 0)
            goto out;
    }
    for (uint32_t i = 0; i < g->nsrc; i++)
        rocksdb_writebatch_delete_cf(wb, s->cf[CF_BLOCKS], (const char *)g->src[i],
                                     COL_BLOCK_KEY_LEN);
    slc_put_be64(wm, next);
    rocksdb_writebatch_put_cf(wb, s->cf[CF_META], "sealed", 6, (const char *)wm, sizeof wm);
    col_db_write(s, wo, wb, &rerr);
    if (rerr != NULL) {
        rv = col_store_write_err(s, rerr, "sealing: writing a sealed block", NULL, 0);
        col_log(COL_LOG_WARN, "sealing: write failed; the frames stay as they are");
        goto out;
    }
    /* Published after the commit: a reader that still sees the old
     * watermark reads the frames' rows, finds the frames gone and the
     * sealed block's rows present (col_store_trace_blocks reads both from
     * one snapshot taken after loading the watermark). */
    atomic_store_explicit(&s->sealed_ns, next, memory_order_release);
    atomic_fetch_add(&s->sealed_frames, g->nsrc);
    atomic_fetch_add(&s->sealed_items, g->b->nspans + (uint64_t)g->b->nlogs);
    atomic_fetch_add(&s->seal_bytes_in, g->bytes_in);
    atomic_fetch_add(&s->seal_bytes_out, enclen);
    if (enclen > 0)
        atomic_fetch_add(&s->sealed_blocks, 1);
out:
    rocksdb_writebatch_destroy(wb);
    free(enc);
    slc_batch_reset(g->b);
    g->nsrc = 0;
    g->bytes_in = 0;
    return rv;
}

/* Adds one stored frame to g.  A frame that no longer decodes is left
 * where it is (readers already skip it; retention removes it) and not
 * counted as a source. */
static int seal_take(struct seal_group *g, const uint8_t *key, const char *v, size_t vlen)
{
    slc_wire_limits lim;
    slc_batch *d = NULL;
    char msg[160];
    int rv;

    col_store_read_limits(&lim);
    rv = col_block_decode((const uint8_t *)v, vlen, &lim, &d, msg, sizeof msg);
    if (rv != 0) {
        col_log(COL_LOG_WARN, "sealing: a stored frame does not decode (%s): %s; left as it is",
                sl_strerror(rv), msg);
        return rv == SL_ENOMEM ? rv : 0;
    }
    for (uint32_t i = 0; i < d->nspans && rv == 0; i++)
        rv = slc_batch_copy_span(g->b, d, i);
    for (uint32_t i = 0; i < d->nlogs && rv == 0; i++)
        rv = slc_batch_copy_log(g->b, d, i);
    slc_batch_free(d);
    if (rv == 0)
        rv = seal_add_src(g, key);
    g->bytes_in += vlen;
    return rv;
}

/* Two groups in turn: this thread decodes and merges frames into one while
 * a committer thread encodes and writes the other (each about half of the
 * ~3 us per item), so a pass uses both cores when they are free.  Commits
 * stay in order, one at a time, so the watermark only moves forward. */
struct seal_pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stop, rv;
    struct seal_group *pending; /* handed over, not yet committed */
    col_store *s;
    const col_seal_opts *o;
    rocksdb_writeoptions_t *wo;
};

static void *seal_committer(void *arg)
{
    struct seal_pipe *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->pending == NULL && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->pending == NULL)
            break;
        struct seal_group *g = p->pending;
        pthread_mutex_unlock(&p->mu);
        int rv = seal_commit(p->s, p->o, g, p->wo);
        pthread_mutex_lock(&p->mu);
        if (rv != 0 && p->rv == 0)
            p->rv = rv;
        p->pending = NULL;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Hands g to the committer once the previous group is written (inline
 * when there is no committer thread).  Returns the first commit error. */
static int seal_hand(struct seal_pipe *p, struct seal_group *g)
{
    int rv;

    if (!p->started)
        return seal_commit(p->s, p->o, g, p->wo);
    pthread_mutex_lock(&p->mu);
    while (p->pending != NULL)
        pthread_cond_wait(&p->cv, &p->mu);
    rv = p->rv;
    if (rv == 0) {
        p->pending = g;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rv;
}

/* Waits for the last commit, stops the committer; its first error. */
static int seal_pipe_end(struct seal_pipe *p)
{
    if (!p->started)
        return 0;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->started = 0;
    return p->rv;
}

static int store_seal(col_store *s, const col_seal_opts *in, uint64_t before_ns, uint64_t *frames,
                      uint64_t *items)
{
    col_seal_opts o;
    struct seal_group gs[2] = {{0}, {0}}, *g = &gs[0];
    struct seal_pipe pipe = {0};
    rocksdb_writeoptions_t *wo = NULL;
    rocksdb_readoptions_t *ro = NULL;
    rocksdb_iterator_t *it = NULL;
    uint64_t f0 = atomic_load(&s->sealed_frames), i0 = atomic_load(&s->sealed_items);
    uint64_t t0 = seal_mono_ms(), from;
    uint8_t start[COL_BLOCK_KEY_LEN] = {0};
    char *rerr = NULL;
    int rv = 0;

    seal_defaults(in, &o);
    pthread_mutex_lock(&s->seal_pass_mu);
    gs[0].b = slc_batch_new();
    gs[1].b = slc_batch_new();
    wo = rocksdb_writeoptions_create();
    ro = rocksdb_readoptions_create();
    if (gs[0].b == NULL || gs[1].b == NULL || wo == NULL || ro == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    pipe.s = s;
    pipe.o = &o;
    pipe.wo = wo;
    pthread_mutex_init(&pipe.mu, NULL);
    pthread_cond_init(&pipe.cv, NULL);
    /* Without a thread, commits run inline: slower, same result. */
    pipe.started = pthread_create(&pipe.thread, NULL, seal_committer, &pipe) == 0;
    /* The sealer may wait for a stalled RocksDB (ingest answers RETRY
     * meanwhile); it must not fail a pass for it. */
    rocksdb_writeoptions_set_sync(wo, 0);
    /* Frames are read once: do not push the read side's hot blocks out of
     * the cache. */
    rocksdb_readoptions_set_fill_cache(ro, 0);
    {
        /* Never past a frame still being written: once the watermark
         * passed it, it would count as sealed. */
        uint64_t inflight = col_hot_oldest_inflight_ns(s);
        if (before_ns > inflight)
            before_ns = inflight;
    }
    from = atomic_load(&s->sealed_ns);
    if (from < atomic_load(&s->cutoff_ns))
        from = atomic_load(&s->cutoff_ns); /* retention drops those anyway */
    slc_put_be64(start, from);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_BLOCKS]);
    for (rocksdb_iter_seek(it, (const char *)start, sizeof start); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        const char *v;
        uint64_t t;

        if (klen != COL_BLOCK_KEY_LEN)
            continue;
        t = slc_get_be64(k);
        if (t >= before_ns)
            break;
        if (col_key_sealed(k))
            continue; /* a sealed block (only below the watermark; defensive) */
        v = rocksdb_iter_value(it, &vlen);
        rv = seal_take(g, k, v, vlen);
        if (rv != 0)
            goto out;
        g->last_t = t;
        if (g->b->nspans + (uint64_t)g->b->nlogs >= o.max_items || g->nsrc >= SEAL_MAX_SOURCES) {
            rv = seal_hand(&pipe, g);
            if (rv != 0)
                goto out;
            g = g == &gs[0] ? &gs[1] : &gs[0]; /* free: seal_hand waited for its commit */
        }
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr != NULL) {
        rv = col_store_rocks_err(rerr, "sealing: reading frames", NULL, 0);
        goto out;
    }
    if (g->nsrc > 0)
        rv = seal_hand(&pipe, g);
out:
    {
        int prv = seal_pipe_end(&pipe);
        if (rv == 0)
            rv = prv;
    }
    if (pipe.s != NULL) {
        pthread_mutex_destroy(&pipe.mu);
        pthread_cond_destroy(&pipe.cv);
    }
    if (it != NULL)
        rocksdb_iter_destroy(it);
    if (ro != NULL)
        rocksdb_readoptions_destroy(ro);
    if (wo != NULL)
        rocksdb_writeoptions_destroy(wo);
    for (int i = 0; i < 2; i++) {
        slc_batch_free(gs[i].b);
        free(gs[i].src);
    }
    atomic_fetch_add(&s->seal_runs, 1);
    atomic_store(&s->seal_last_ms, seal_mono_ms() - t0);
    pthread_mutex_unlock(&s->seal_pass_mu);
    if (frames != NULL)
        *frames = atomic_load(&s->sealed_frames) - f0;
    if (items != NULL)
        *items = atomic_load(&s->sealed_items) - i0;
    return rv;
}

int col_store_seal(col_store *s, const col_seal_opts *in, uint64_t before_ns, uint64_t *frames,
                   uint64_t *items)
{
    COL_DB_CALL(s, 1, store_seal(s, in, before_ns, frames, items));
}

static void *seal_main(void *arg)
{
    col_store *s = arg;

    pthread_mutex_lock(&s->seal_mu);
    while (!s->seal_stop) {
        col_seal_opts o;
        uint64_t now = slc_now_ns();

        seal_defaults(&s->seal, &o);
        pthread_mutex_unlock(&s->seal_mu);
        /* A full disk (the guard refuses writes: SL_EBUSY) pauses sealing
         * without a warning each pass; the guard says so once. */
        if (now > o.after_ns && col_store_seal(s, &o, now - o.after_ns, NULL, NULL) != 0 &&
            col_store_writable(s, NULL, 0) == 0)
            col_log(COL_LOG_WARN, "sealing pass failed; will try again");
        pthread_mutex_lock(&s->seal_mu);
        if (!s->seal_stop)
            col_cond_wait_ns(&s->seal_cv, &s->seal_mu, o.interval_ns);
    }
    pthread_mutex_unlock(&s->seal_mu);
    return NULL;
}

int col_store_seal_start(col_store *s, const col_seal_opts *o)
{
    pthread_mutex_lock(&s->seal_mu);
    s->seal = *o;
    s->seal_stop = 0;
    if (!o->disabled && !s->seal_started &&
        pthread_create(&s->seal_thread, NULL, seal_main, s) == 0)
        s->seal_started = 1;
    pthread_mutex_unlock(&s->seal_mu);
    return o->disabled || s->seal_started ? 0 : SL_ENOMEM;
}

void col_store_seal_stop(col_store *s)
{
    pthread_mutex_lock(&s->seal_mu);
    s->seal_stop = 1;
    pthread_cond_signal(&s->seal_cv);
    pthread_mutex_unlock(&s->seal_mu);
    if (s->seal_started) {
        pthread_join(s->seal_thread, NULL);
        s->seal_started = 0;
    }
}
