/*
 * store_hotidx.c - the trace index of the newest frames, kept in memory and
 * written to the tidx family once per window (see docs/storage.md, "tidx").
 *
 * Why: one tidx row per (trace, frame) meant ~0.5 random-key memtable
 * inserts per span, sorted again at every flush: a third of the collector's
 * CPU at 500k spans/s.  The spans of one trace arrive in several frames
 * (one per service, within milliseconds), so collecting trace id -> frame
 * keys for a second and writing one row per trace (key = trace id | newest
 * frame key, value = the other frame keys) cuts the rows ~6x.
 *
 * Crash safety: a frame is acknowledged once its own write commits; its
 * trace ids are then only in memory until the window's batch commits.  That
 * batch also stores meta "hotidx" = the oldest frame key that may not be
 * covered yet (the oldest frame still being written, or the newest frame
 * key assigned).  On open, every frame from there on is decoded again and
 * put back into the window (col_hot_open), so nothing acknowledged becomes
 * unfindable.  A frame indexed twice (on disk and again in memory) is
 * harmless: reads merge and de-duplicate the keys.
 *
 * Ordering: keys are assigned and registered as in flight under hot->mu,
 * and a frame's ids are added and its key unregistered under it again, so
 * a window swapped under hot->mu holds every frame older than the oldest
 * key still in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "store_int.h"

#define COL_HOT_WINDOW_NS 1000000000ULL /* one row per trace per second */
#define COL_HOT_MAX_NODES (1u << 20)    /* or sooner: ~24 MB of (trace, frame) pairs */
#define COL_HOT_VAL_VERSION 1

struct col_hot_ent {
    uint8_t tid[16];
    uint32_t head; /* node index + 1 of the newest frame key; 0 = none */
};

struct col_hot_node {
    uint8_t bkey[COL_BLOCK_KEY_LEN];
    uint32_t next; /* node index + 1 of an older one; 0 = end */
};

/* One window: trace id -> list of frame keys (open addressing over ent). */
struct col_hot_win {
    uint32_t *slot; /* entry index + 1; 0 = empty */
    size_t mask;
    struct col_hot_ent *ent;
    uint32_t nent, capent;
    struct col_hot_node *node;
    uint32_t nnode, capnode;
    /* Holds frames re-indexed at open: a row whose newest key is at or
     * below merge_upto may exist already (written before the restart)
     * with older frames in its value; it is merged, not replaced. */
    int merge;
    uint8_t merge_upto[COL_BLOCK_KEY_LEN];
};

struct col_hot {
    pthread_mutex_t mu; /* guards everything below except the thread fields */
    pthread_cond_t cv;
    struct col_hot_win *cur;     /* written by ingest */
    struct col_hot_win *closing; /* being written to disk; read-only */
    uint8_t closing_start[COL_BLOCK_KEY_LEN];
    uint8_t (*inflight)[COL_BLOCK_KEY_LEN];
    uint32_t ninflight, capinflight;
    uint8_t last[COL_BLOCK_KEY_LEN];    /* newest key assigned (or found at open) */
    uint8_t written[COL_BLOCK_KEY_LEN]; /* meta "hotidx" as last committed */

    pthread_mutex_t flush_mu; /* one flush at a time (thread, close) */
    size_t traces_hint;       /* traces of the last window closed (under flush_mu) */
    pthread_t thread;
    int started, stop;
    rocksdb_writeoptions_t *wo;
};

static uint64_t col_hot_hash(const uint8_t tid[16])
{
    uint64_t a, c;
    memcpy(&a, tid, 8);
    memcpy(&c, tid + 8, 8);
    return col_mix64(a ^ col_mix64(c));
}

static void col_hot_win_free(struct col_hot_win *w)
{
    if (w == NULL)
        return;
    free(w->slot);
    free(w->ent);
    free(w->node);
    free(w);
}

/* A window sized for about as many traces as the previous one had
 * (0: small): growing it by doubling rehashed under the lock that ingest
 * takes, for a millisecond or so per window at 700k spans/s. */
static struct col_hot_win *col_hot_win_new(size_t traces)
{
    struct col_hot_win *w = calloc(1, sizeof *w);

    if (w == NULL)
        return NULL;
    w->mask = 1023;
    while ((w->mask + 1) / 2 < traces && w->mask < (COL_HOT_MAX_NODES * 2 - 1))
        w->mask = w->mask * 2 + 1;
    w->slot = calloc(w->mask + 1, sizeof *w->slot);
    if (w->slot == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

static int col_hot_grow_slots(struct col_hot_win *w)
{
    size_t mask = w->mask * 2 + 1;
    uint32_t *slot = calloc(mask + 1, sizeof *slot);

    if (slot == NULL)
        return SL_ENOMEM;
    for (size_t e = 0; e < w->nent; e++) {
        size_t i = col_hot_hash(w->ent[e].tid) & mask;
        while (slot[i] != 0)
            i = (i + 1) & mask;
        slot[i] = (uint32_t)e + 1;
    }
    free(w->slot);
    w->slot = slot;
    w->mask = mask;
    return 0;
}

/* Records that frame bkey holds items of trace tid.  Frames are added one
 * at a time, so "already listed" is "the newest key of the trace is bkey". */
static int col_hot_win_add(struct col_hot_win *w, const uint8_t tid[16],
                           const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    struct col_hot_ent *e;
    size_t i;

    if ((w->nent + 1) * 2 > w->mask + 1 && col_hot_grow_slots(w) != 0)
        return SL_ENOMEM;
    for (i = col_hot_hash(tid) & w->mask; w->slot[i] != 0; i = (i + 1) & w->mask)
        if (memcmp(w->ent[w->slot[i] - 1].tid, tid, 16) == 0)
            break;
    if (w->slot[i] == 0) {
        if (slc_grow((void **)&w->ent, &w->capent, w->nent + 1, sizeof *w->ent) != 0)
            return SL_ENOMEM;
        memcpy(w->ent[w->nent].tid, tid, 16);
        w->ent[w->nent].head = 0;
        w->slot[i] = (uint32_t)++w->nent;
    }
    e = &w->ent[w->slot[i] - 1];
    if (e->head != 0 && memcmp(w->node[e->head - 1].bkey, bkey, COL_BLOCK_KEY_LEN) == 0)
        return 0;
    if (slc_grow((void **)&w->node, &w->capnode, w->nnode + 1, sizeof *w->node) != 0)
        return SL_ENOMEM;
    memcpy(w->node[w->nnode].bkey, bkey, COL_BLOCK_KEY_LEN);
    w->node[w->nnode].next = e->head;
    e->head = (uint32_t)++w->nnode;
    return 0;
}

/* Adds every trace of batch b (spans and logs with a trace id): all or,
 * on SL_ENOMEM, none (a frame half in the window would share a row key
 * with the rows the caller then writes for it alone). */
static int col_hot_win_add_batch(struct col_hot_win *w, const slc_batch *b,
                                 const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    size_t n0 = w->nnode;
    int rv = 0;

    for (uint32_t i = 0; i < b->nspans && rv == 0; i++)
        rv = col_hot_win_add(w, b->spans[i].trace_id, bkey);
    for (uint32_t i = 0; i < b->nlogs && rv == 0; i++)
        if ((b->logs[i].flags & SLC_LOG_F_TRACE) && !slc_is_zero(b->logs[i].trace_id, 16))
            rv = col_hot_win_add(w, b->logs[i].trace_id, bkey);
    if (rv != 0) {
        /* This frame added at most one node per trace, at the head. */
        for (size_t e = 0; e < w->nent; e++)
            if (w->ent[e].head > n0)
                w->ent[e].head = w->node[w->ent[e].head - 1].next;
        w->nnode = n0;
    }
    return rv;
}

static int col_hot_win_lookup(const struct col_hot_win *w, const uint8_t tid[16], col_bkeys *out)
{
    if (w == NULL || w->nent == 0)
        return 0;
    for (size_t i = col_hot_hash(tid) & w->mask; w->slot[i] != 0; i = (i + 1) & w->mask) {
        const struct col_hot_ent *e = &w->ent[w->slot[i] - 1];
        if (memcmp(e->tid, tid, 16) != 0)
            continue;
        for (uint32_t n = e->head; n != 0; n = w->node[n - 1].next)
            if (col_bkeys_add(out, w->node[n - 1].bkey) != 0)
                return SL_ENOMEM;
        return 0;
    }
    return 0;
}

int col_bkeys_add(col_bkeys *l, const uint8_t *k)
{
    if (slc_grow((void **)&l->k, &l->cap, l->n + 1, COL_BLOCK_KEY_LEN) != 0)
        return SL_ENOMEM;
    memcpy(l->k[l->n++], k, COL_BLOCK_KEY_LEN);
    return 0;
}

static int col_bkey_cmp(const void *a, const void *b)
{
    return memcmp(a, b, COL_BLOCK_KEY_LEN);
}

void col_bkeys_sort_unique(col_bkeys *l)
{
    size_t j = 0;

    if (l->n < 2)
        return;
    qsort(l->k, l->n, COL_BLOCK_KEY_LEN, col_bkey_cmp);
    for (size_t i = 1; i < l->n; i++)
        if (memcmp(l->k[i], l->k[j], COL_BLOCK_KEY_LEN) != 0)
            memcpy(l->k[++j], l->k[i], COL_BLOCK_KEY_LEN);
    l->n = j + 1;
}

/* ---- ingest side ---------------------------------------------------------- */

int col_hot_begin(col_store *s, uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    col_hot *h = s->hot;

    pthread_mutex_lock(&h->mu);
    /* Room first: a frame written without its in-flight mark could fall
     * below a window's start and be missed by the re-index after a crash. */
    if (slc_grow((void **)&h->inflight, &h->capinflight, h->ninflight + 1, COL_BLOCK_KEY_LEN) != 0) {
        pthread_mutex_unlock(&h->mu);
        return SL_ENOMEM;
    }
    col_next_block_key(s, bkey);
    memcpy(h->last, bkey, COL_BLOCK_KEY_LEN);
    memcpy(h->inflight[h->ninflight++], bkey, COL_BLOCK_KEY_LEN);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static void col_hot_unpin_locked(col_hot *h, const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    for (size_t i = 0; i < h->ninflight; i++)
        if (memcmp(h->inflight[i], bkey, COL_BLOCK_KEY_LEN) == 0) {
            memcpy(h->inflight[i], h->inflight[--h->ninflight], COL_BLOCK_KEY_LEN);
            return;
        }
}

void col_hot_unpin(col_store *s, const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    pthread_mutex_lock(&s->hot->mu);
    col_hot_unpin_locked(s->hot, bkey);
    pthread_mutex_unlock(&s->hot->mu);
}

int col_hot_end(col_store *s, const uint8_t bkey[COL_BLOCK_KEY_LEN], const slc_batch *b)
{
    col_hot *h = s->hot;
    int rv = 0;

    pthread_mutex_lock(&h->mu);
    if (b != NULL)
        rv = col_hot_win_add_batch(h->cur, b, bkey);
    if (rv == 0)
        col_hot_unpin_locked(h, bkey);
    if (h->cur->nnode >= COL_HOT_MAX_NODES)
        pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return rv;
}

uint64_t col_hot_oldest_inflight_ns(col_store *s)
{
    col_hot *h = s->hot;
    uint64_t t = UINT64_MAX;

    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->ninflight; i++)
        if (slc_get_be64(h->inflight[i]) < t)
            t = slc_get_be64(h->inflight[i]);
    pthread_mutex_unlock(&h->mu);
    return t;
}

int col_hot_lookup(col_store *s, const uint8_t tid[16], col_bkeys *out)
{
    col_hot *h = s->hot;
    int rv;

    pthread_mutex_lock(&h->mu);
    rv = col_hot_win_lookup(h->cur, tid, out);
    if (rv == 0)
        rv = col_hot_win_lookup(h->closing, tid, out);
    pthread_mutex_unlock(&h->mu);
    return rv;
}

/* ---- writing a window -------------------------------------------------------- */

/* One row per trace: key = trace id | newest frame key (retention and
 * sealing drop the row when that frame is dead: all older ones are too);
 * value = version, then the other frame keys. */
static int col_hot_ent_cmp(const void *x, const void *y)
{
    const struct col_hot_ent *const *a = x, *const *b = y;
    return memcmp((*a)->tid, (*b)->tid, 16);
}

static int col_hot_put_rows(col_store *s, rocksdb_writebatch_t *wb, const struct col_hot_win *w)
{
    uint8_t key[COL_TIDX_KEY_LEN];
    uint8_t *val = NULL;
    size_t cap = 0;
    const struct col_hot_ent **order = malloc((w->nent + 1) * sizeof *order);

    if (order == NULL)
        return SL_ENOMEM;
    /* In key order: the skiplist memtable then inserts each row next to
     * the previous one instead of searching from the top (and a flush
     * has nothing to sort). */
    for (size_t e = 0; e < w->nent; e++)
        order[e] = &w->ent[e];
    qsort(order, w->nent, sizeof *order, col_hot_ent_cmp);
    for (size_t e = 0; e < w->nent; e++) {
        const struct col_hot_ent *t = order[e];
        const uint8_t *newest = NULL;
        size_t n = 0, off = 1;

        for (uint32_t i = t->head; i != 0; i = w->node[i - 1].next) {
            const uint8_t *k = w->node[i - 1].bkey;
            if (newest == NULL || memcmp(k, newest, COL_BLOCK_KEY_LEN) > 0)
                newest = k;
            n++;
        }
        if (newest == NULL)
            continue;
        if (1 + n * COL_BLOCK_KEY_LEN > cap) {
            size_t c = 1 + n * COL_BLOCK_KEY_LEN;
            void *p = realloc(val, c);
            if (p == NULL) {
                free(val);
                free(order);
                return SL_ENOMEM;
            }
            val = p;
            cap = c;
        }
        val[0] = COL_HOT_VAL_VERSION;
        for (uint32_t i = t->head; i != 0; i = w->node[i - 1].next) {
            const uint8_t *k = w->node[i - 1].bkey;
            if (k == newest)
                continue;
            memcpy(val + off, k, COL_BLOCK_KEY_LEN);
            off += COL_BLOCK_KEY_LEN;
        }
        memcpy(key, t->tid, 16);
        memcpy(key + 16, newest, COL_BLOCK_KEY_LEN);
        if (w->merge && memcmp(newest, w->merge_upto, COL_BLOCK_KEY_LEN) <= 0) {
            char *rerr = NULL;
            size_t olen = 0;
            char *old = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_TIDX], (const char *)key,
                                       sizeof key, &olen, &rerr);
            if (rerr != NULL) {
                free(val);
                free(order);
                rocksdb_free(old);
                return col_store_rocks_err(rerr, "reading a trace index row to merge", NULL, 0);
            }
            if (old != NULL && olen > 1 && (uint8_t)old[0] == COL_HOT_VAL_VERSION) {
                size_t c = off + olen;
                void *p = c > cap ? realloc(val, c) : val;
                if (p == NULL) {
                    free(val);
                    free(order);
                    rocksdb_free(old);
                    return SL_ENOMEM;
                }
                val = p;
                if (c > cap)
                    cap = c;
                for (size_t o = 1; o + COL_BLOCK_KEY_LEN <= olen; o += COL_BLOCK_KEY_LEN) {
                    int dup = memcmp(old + o, newest, COL_BLOCK_KEY_LEN) == 0;
                    for (size_t q = 1; q < off && !dup; q += COL_BLOCK_KEY_LEN)
                        dup = memcmp(val + q, old + o, COL_BLOCK_KEY_LEN) == 0;
                    if (!dup) {
                        memcpy(val + off, old + o, COL_BLOCK_KEY_LEN);
                        off += COL_BLOCK_KEY_LEN;
                    }
                }
            }
            rocksdb_free(old);
        }
        /* A trace in one frame only needs no value (the old row format). */
        rocksdb_writebatch_put_cf(wb, s->cf[CF_TIDX], (const char *)key, sizeof key,
                                  (const char *)val, off > 1 ? off : 0);
    }
    free(val);
    free(order);
    return 0;
}

/* Closes the current window (unless one is still pending) and writes the
 * pending one with the new start key.  0, SL_ENOMEM or a RocksDB error;
 * on error the window stays in memory and the next call tries again. */
static int hot_flush(col_store *s)
{
    col_hot *h = s->hot;
    struct col_hot_win *fresh, *w;
    rocksdb_writebatch_t *wb = NULL;
    uint8_t start[COL_BLOCK_KEY_LEN];
    char *rerr = NULL;
    int rv = 0;

    pthread_mutex_lock(&h->flush_mu);
    fresh = col_hot_win_new(h->traces_hint);
    pthread_mutex_lock(&h->mu);
    if (h->closing == NULL) {
        if (fresh == NULL) {
            pthread_mutex_unlock(&h->mu);
            rv = SL_ENOMEM;
            goto out;
        }
        memcpy(start, h->last, COL_BLOCK_KEY_LEN);
        for (size_t i = 0; i < h->ninflight; i++)
            if (memcmp(h->inflight[i], start, COL_BLOCK_KEY_LEN) < 0)
                memcpy(start, h->inflight[i], COL_BLOCK_KEY_LEN);
        if (h->cur->nent == 0 && memcmp(start, h->written, COL_BLOCK_KEY_LEN) == 0) {
            pthread_mutex_unlock(&h->mu);
            goto out; /* nothing new */
        }
        h->closing = h->cur;
        h->traces_hint = h->closing->nent;
        h->cur = fresh;
        fresh = NULL;
        memcpy(h->closing_start, start, COL_BLOCK_KEY_LEN);
    }
    w = h->closing;
    memcpy(start, h->closing_start, COL_BLOCK_KEY_LEN);
    pthread_mutex_unlock(&h->mu);

    /* w is only read from here on: ingest writes h->cur only, readers
     * read w under h->mu, and it is freed only after h->closing is
     * cleared under h->mu (by this thread, under flush_mu). */
    wb = rocksdb_writebatch_create();
    rv = col_hot_put_rows(s, wb, w);
    if (rv != 0)
        goto out;
    rocksdb_writebatch_put_cf(wb, s->cf[CF_META], "hotidx", 6, (const char *)start,
                              COL_BLOCK_KEY_LEN);
    col_db_write(s, h->wo, wb, &rerr);
    if (rerr != NULL) {
        rv = col_store_write_err(s, rerr, "writing the trace index", NULL, 0);
        goto out;
    }
    atomic_fetch_add(&s->hot_rows, w->nent);
    atomic_fetch_add(&s->hot_pairs, w->nnode);
    atomic_fetch_add(&s->hot_windows, 1);
    pthread_mutex_lock(&h->mu);
    h->closing = NULL;
    memcpy(h->written, start, COL_BLOCK_KEY_LEN);
    pthread_mutex_unlock(&h->mu);
    col_hot_win_free(w);
out:
    pthread_mutex_unlock(&h->flush_mu);
    if (wb != NULL)
        rocksdb_writebatch_destroy(wb);
    col_hot_win_free(fresh);
    return rv;
}

/* hot_flush inside the gate: nothing is rotated while the database is
 * being reopened or is read-only. */
static int col_hot_flush(col_store *s)
{
    COL_DB_CALL(s, 1, hot_flush(s));
}

static void *col_hot_main(void *arg)
{
    col_store *s = arg;
    col_hot *h = s->hot;
    int failing = 0;

    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        /* A full window is written at once, unless writing is failing. */
        if (h->cur->nnode < COL_HOT_MAX_NODES || failing)
            col_cond_wait_ns(&h->cv, &h->mu, COL_HOT_WINDOW_NS);
        if (h->stop)
            break;
        pthread_mutex_unlock(&h->mu);
        int rv = col_hot_flush(s);
        if (rv != 0 && !failing)
            col_log(COL_LOG_WARN,
                    "trace index: writing a window failed (%s); kept in memory, "
                    "retrying every second",
                    sl_strerror(rv));
        failing = rv != 0;
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- open and close ------------------------------------------------------------ */

/* Puts every frame from start on back into the window.  The frames were
 * acknowledged; their trace ids may not have reached the tidx family. */
static int col_hot_reindex(col_store *s, const uint8_t start[COL_BLOCK_KEY_LEN])
{
    col_hot *h = s->hot;
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_BLOCKS]);
    slc_wire_limits lim;
    uint64_t frames = 0, items = 0, bad = 0, t0 = slc_now_ns();
    int rv = 0;

    col_store_read_limits(&lim);
    for (rocksdb_iter_seek(it, (const char *)start, COL_BLOCK_KEY_LEN);
         rocksdb_iter_valid(it) && rv == 0; rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
        slc_batch *b = NULL;
        char msg[160];

        if (klen != COL_BLOCK_KEY_LEN || col_key_sealed(k))
            continue; /* sealed blocks were indexed when they were written */
        if (slc_wire_decode(v, vlen, &lim, &b, msg, sizeof msg) != 0) {
            bad++;
            continue;
        }
        rv = col_hot_win_add_batch(h->cur, b, k);
        frames++;
        items += b->nspans + (uint64_t)b->nlogs;
        if (memcmp(k, h->last, COL_BLOCK_KEY_LEN) > 0)
            memcpy(h->last, k, COL_BLOCK_KEY_LEN);
        slc_batch_free(b);
    }
    rocksdb_iter_destroy(it);
    if (frames > 0) {
        h->cur->merge = 1;
        memcpy(h->cur->merge_upto, h->last, COL_BLOCK_KEY_LEN);
    }
    if (bad > 0)
        col_log(COL_LOG_WARN, "trace index: %llu stored frames did not decode and stay unindexed",
                (unsigned long long)bad);
    if (frames > 0)
        col_log(COL_LOG_INFO,
                "trace index: re-indexed %llu frames (%llu items) not yet in it, in %llu ms",
                (unsigned long long)frames, (unsigned long long)items,
                (unsigned long long)((slc_now_ns() - t0) / 1000000));
    atomic_store(&s->hot_reindexed, frames);
    return rv;
}

int col_hot_open(col_store *s, char *err, size_t errlen)
{
    col_hot *h = calloc(1, sizeof *h);
    uint8_t start[COL_BLOCK_KEY_LEN] = {0};
    char *rerr = NULL, *v;
    size_t vlen = 0;
    int rv = 0;

    if (h == NULL || (h->cur = col_hot_win_new(0)) == NULL ||
        (h->wo = rocksdb_writeoptions_create()) == NULL) {
        if (h != NULL) {
            col_hot_win_free(h->cur);
            free(h);
        }
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    pthread_mutex_init(&h->flush_mu, NULL);
    s->hot = h;

    v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], "hotidx", 6, &vlen, &rerr);
    if (rerr != NULL) {
        rv = col_store_rocks_err(rerr, "reading the trace index start", err, errlen);
        rocksdb_free(v);
        return rv;
    }
    if (v != NULL && vlen == COL_BLOCK_KEY_LEN) {
        memcpy(start, v, COL_BLOCK_KEY_LEN);
        memcpy(h->written, start, COL_BLOCK_KEY_LEN);
        memcpy(h->last, start, COL_BLOCK_KEY_LEN);
        rv = col_hot_reindex(s, start);
    } else {
        /* A store from before the in-memory window (every frame has its
         * own rows) or a new one: the index is complete up to now.  The
         * start is the newest block time (col_init_block_clock) with
         * sequence 0, so at most the frames of that nanosecond are
         * indexed again (harmless); no scan for the newest frame among
         * the sealed blocks. */
        rocksdb_writeoptions_t *wo = h->wo;

        slc_put_be64(start, atomic_load(&s->last_block_ns));
        memcpy(h->written, start, COL_BLOCK_KEY_LEN);
        memcpy(h->last, start, COL_BLOCK_KEY_LEN);
        if (!atomic_load(&s->db_read_only)) /* else the first window writes it */
            rocksdb_put_cf(s->db, wo, s->cf[CF_META], "hotidx", 6, (const char *)start,
                           COL_BLOCK_KEY_LEN, &rerr);
        if (rerr != NULL)
            rv = col_store_rocks_err(rerr, "saving the trace index start", err, errlen);
    }
    rocksdb_free(v);
    if (rv != 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "re-indexing the newest frames: %s", sl_strerror(rv));
        return rv;
    }
    if (pthread_create(&h->thread, NULL, col_hot_main, s) != 0) {
        snprintf(err, errlen, "cannot start the trace index thread");
        return SL_ENOMEM;
    }
    h->started = 1;
    return 0;
}

void col_hot_stop(col_store *s)
{
    col_hot *h = s->hot;

    if (h == NULL)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
        h->started = 0;
    }
    if (s->db != NULL) {
        /* The pending window, then the current one: a clean restart then
         * has nothing to re-index. */
        for (int i = 0; i < 2; i++)
            if (col_hot_flush(s) != 0)
                col_log(COL_LOG_WARN, "trace index: final window not written; the next start "
                                      "re-indexes it from the frames");
    }
}

void col_hot_free(col_store *s)
{
    col_hot *h = s->hot;

    if (h == NULL)
        return;
    col_hot_win_free(h->cur);
    col_hot_win_free(h->closing);
    free(h->inflight);
    if (h->wo != NULL)
        rocksdb_writeoptions_destroy(h->wo);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->flush_mu);
    free(h);
    s->hot = NULL;
}
