/*
 * store_query.c - the store's read side for the query API: per-minute
 * aggregates (RED, edges, services), trace search and log search (see
 * store.h for the contracts and docs/storage.md for the rows read here).
 *
 * Searches walk the small summary rows (sidx / lidx) of one service, or of
 * all services, newest block first, skip every block whose summary cannot
 * match, and decode only the remaining blocks to test each span or record.
 * Blocks are keyed by ingest time, and a block received at T holds only
 * items with timestamps <= T (modulo clock skew between hosts), which gives
 * an exact stop rule for newest-first results; items received more than
 * COL_LATE_NS after their timestamp fall outside the scanned window.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockcache.h"
#include "coldblock.h"
#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "store_int.h"

#define COL_AGG_MAX_GROUPS 1024
#define COL_DEFAULT_MAX_BLOCKS 2000
#define COL_MAX_LIMIT 10000

static uint64_t col_sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int col_streq(const char *a, size_t alen, const char *z)
{
    return z == NULL || (strlen(z) == alen && memcmp(a, z, alen) == 0);
}

/* ======================= aggregates ====================================== */

/* Per-service RED rows ('s') are read only for minutes at least this long
 * after the store began writing them (col_store.svc_rollup_since_ns): a
 * frame stored just before then by an older collector, holding spans
 * timestamped ahead of its clock, has only per-operation rows. */
#define COL_SVC_SKEW_NS (5 * COL_MINUTE_NS)

struct col_agg_group {
    char a[COL_RK_NAME_MAX + 1], b[COL_RK_NAME_MAX + 1];
    size_t alen, blen;
    col_rollup_val v;
    /* With summaries (col_agg_filter.want_sum): the bucket's first row,
     * held back undecoded.  If it stays the only row, its stored summary
     * is the answer; a second row decodes it (from the copy in pbuf: the
     * iterator's bytes do not outlive a step) before adding its own.  No
     * copy (plen 0) when the scan knows no second row can come. */
    unsigned nrows;             /* rows fed in this bucket */
    int pend;                   /* the first row is held back, not in v */
    uint64_t pcount, perrors;   /* its counts */
    col_agg_summary sum;        /* its summary */
    uint8_t *pbuf;
    size_t plen, pcap;
};

struct col_agg {
    struct col_agg_group *g[COL_AGG_MAX_GROUPS];
    size_t n, alloc;
    size_t last; /* the group found last: consecutive rows mostly share it */
};

/* Rows of a bucket go out by a, then b: bytewise, a prefix first (strcmp's
 * order, also for names holding U+0000). */
static int col_agg_cmp(const void *x, const void *y)
{
    const struct col_agg_group *a = *(struct col_agg_group *const *)x;
    const struct col_agg_group *b = *(struct col_agg_group *const *)y;
    int c = memcmp(a->a, b->a, a->alen < b->alen ? a->alen : b->alen);

    if (c == 0 && a->alen != b->alen)
        return a->alen < b->alen ? -1 : 1;
    if (c != 0)
        return c;
    c = memcmp(a->b, b->b, a->blen < b->blen ? a->blen : b->blen);
    return c != 0 ? c : a->blen < b->blen ? -1 : a->blen > b->blen;
}

/* Empties the value a group held in the previous bucket.  A whole
 * slc_hist is ~29 KiB and a 24 h RED query at one-minute steps reuses its
 * groups 11,520 times, so only the buckets col_rollup_add() listed in
 * v->nz (tens to hundreds) are cleared. */
static void col_agg_val_clear(col_rollup_val *v)
{
    slc_hist *h = v->hist;

    v->count = v->errors = 0;
    if (h == NULL)
        return;
    if (v->nnz < SLC_HIST_BUCKETS) {
        for (uint32_t i = 0; i < v->nnz; i++)
            h->b[v->nz[i]] = 0;
        h->count = h->sum = h->min = h->max = 0;
    } else {
        slc_hist_reset(h);
    }
    v->nnz = 0;
}

static int col_agg_is(const struct col_agg_group *g, const char *a, size_t alen, const char *b,
                      size_t blen)
{
    return g->alen == alen && g->blen == blen && memcmp(g->a, a, alen) == 0 &&
           memcmp(g->b, b, blen) == 0;
}

/* The group (a, b) of the current bucket, added (empty) if new.  Groups
 * and their histograms are allocated once per scan and reused by every
 * bucket.  NULL when out of memory or at COL_AGG_MAX_GROUPS. */
static struct col_agg_group *col_agg_get(struct col_agg *ag, const char *a, size_t alen,
                                         const char *b, size_t blen, int want_hist)
{
    struct col_agg_group *g;

    if (ag->last < ag->n && col_agg_is(ag->g[ag->last], a, alen, b, blen))
        return ag->g[ag->last];
    for (size_t i = 0; i < ag->n; i++)
        if (col_agg_is(ag->g[i], a, alen, b, blen)) {
            ag->last = i;
            return ag->g[i];
        }
    if (ag->n == COL_AGG_MAX_GROUPS)
        return NULL;
    if (ag->n == ag->alloc) {
        g = calloc(1, sizeof *g);
        if (g == NULL)
            return NULL;
        if (want_hist && ((g->v.hist = calloc(1, sizeof *g->v.hist)) == NULL ||
                          (g->v.nz = malloc(SLC_HIST_BUCKETS * sizeof *g->v.nz)) == NULL)) {
            free(g->v.hist);
            free(g);
            return NULL;
        }
        ag->g[ag->alloc++] = g;
    }
    ag->last = ag->n;
    g = ag->g[ag->n++];
    g->nrows = 0;
    g->pend = 0;
    memcpy(g->a, a, alen);
    g->a[alen] = '\0';
    g->alen = alen;
    memcpy(g->b, b, blen);
    g->b[blen] = '\0';
    g->blen = blen;
    col_agg_val_clear(&g->v);
    return g;
}

static int col_agg_flush(struct col_agg *ag, uint64_t bucket, col_agg_fn fn, void *arg)
{
    int stop = 0;

    /* Rows mostly arrive in key order, so the groups are often in order
     * already: checking costs less than qsort's ~0.5 us per bucket. */
    for (size_t i = 1; i < ag->n; i++)
        if (col_agg_cmp(&ag->g[i - 1], &ag->g[i]) > 0) {
            qsort(ag->g, ag->n, sizeof ag->g[0], col_agg_cmp);
            break;
        }
    for (size_t i = 0; i < ag->n && !stop; i++) {
        const struct col_agg_group *g = ag->g[i];
        col_agg_row r = {g->a, g->alen, g->b, g->blen, bucket, g->v.count, g->v.errors, g->v.hist,
                         NULL};
        if (g->pend) {
            r.count = g->pcount;
            r.errors = g->perrors;
            r.hist = NULL;
            r.sum = &g->sum;
        }
        stop = fn(&r, arg) != 0;
    }
    ag->n = 0;
    ag->last = 0;
    return stop;
}

static void col_agg_free(struct col_agg *ag)
{
    for (size_t i = 0; i < ag->alloc; i++) {
        free(ag->g[i]->pbuf);
        free(ag->g[i]->v.hist);
        free(ag->g[i]->v.nz);
        free(ag->g[i]);
    }
}

/* Which rollup rows a scan keeps and how it groups them: a / b (NULL =
 * any) must equal the key's names; tail_mask selects the key's last byte
 * (span kind, level class; 0 = any); merge_b groups by a alone (b = "");
 * want_hist merges latencies (0: counts only, histograms not decoded);
 * want_sum hands a bucket of one row with a stored summary to fn as that
 * summary (COL_RED_SUMMARY). */
struct col_agg_filter {
    const char *a, *b;
    unsigned tail_mask;
    int merge_b;
    int want_hist;
    int want_sum;
    size_t alen, blen; /* set by col_agg_scan */
};

/* One scan's state: the groups of the bucket being filled, flushed to fn
 * (sorted) when a row of a later bucket arrives or the scan ends. */
struct col_agg_run {
    struct col_agg ag;
    uint64_t first, step;
    uint64_t cur; /* the bucket being filled; UINT64_MAX = none yet */
    col_agg_fn fn;
    void *arg;
    int stop; /* fn asked to stop */
};

/* Adds row value v to group g when summaries are wanted: the bucket's
 * first row is held back with its summary (version 2) instead of decoded;
 * a later row of the same bucket decodes it first, from a copy of its
 * bytes, which is what keeps a merged bucket exact.  alone: the caller
 * knows no other row of this group falls in this bucket, so no copy (a
 * day at one-minute steps copied ~10 MB).  0 or SL_ENOMEM. */
static int col_agg_feed_sum(struct col_agg_group *g, const uint8_t *v, size_t vlen, int alone)
{
    col_rollup_head h;

    if (g->nrows++ == 0 && col_rollup_head_parse(v, vlen, &h) == 0 && h.has_pct) {
        g->plen = 0;
        if (alone)
            vlen = 0;
        else if (vlen > g->pcap) {
            uint8_t *nb = realloc(g->pbuf, vlen);
            if (nb == NULL)
                return SL_ENOMEM;
            g->pbuf = nb;
            g->pcap = vlen;
        }
        if (vlen > 0)
            memcpy(g->pbuf, v, vlen);
        g->plen = vlen;
        g->pend = 1;
        g->pcount = h.count;
        g->perrors = h.errors;
        memcpy(g->sum.pct, h.pct, sizeof g->sum.pct);
        return 0;
    }
    if (g->pend) {
        g->pend = 0;
        if (g->plen == 0) {
            /* Cannot happen (alone was wrong): keep the counts at least. */
            col_log(COL_LOG_ERROR, "aggregate row held without a copy met a second row");
            g->v.count += g->pcount;
            g->v.errors += g->perrors;
        } else if (col_rollup_add(&g->v, g->pbuf, g->plen) != 0) {
            col_log(COL_LOG_WARN, "rollup value does not decode; skipped");
        }
    }
    if (col_rollup_add(&g->v, v, vlen) != 0)
        col_log(COL_LOG_WARN, "rollup value does not decode; skipped");
    return 0;
}

/* Adds one row to its group of the current bucket (flushing the previous
 * bucket first when the row starts a new one).  alone: see
 * col_agg_feed_sum. */
static int col_agg_feed(struct col_agg_run *run, const struct col_agg_filter *f,
                        const col_rollup_key *rk, const uint8_t *v, size_t vlen, int alone)
{
    uint64_t bucket = run->step == 0 ? run->first
                                     : run->first + (rk->minute_ns - run->first) / run->step *
                                                        run->step;
    struct col_agg_group *g;

    if (bucket != run->cur) {
        if (run->cur != UINT64_MAX && col_agg_flush(&run->ag, run->cur, run->fn, run->arg)) {
            run->stop = 1;
            return 0;
        }
        run->cur = bucket;
    }
    g = col_agg_get(&run->ag, rk->a, rk->alen, f->merge_b ? "" : rk->b, f->merge_b ? 0 : rk->blen,
                    f->want_hist);
    if (g == NULL)
        return run->ag.n == COL_AGG_MAX_GROUPS ? SL_ETOOBIG : SL_ENOMEM;
    if (f->want_sum && f->want_hist)
        return col_agg_feed_sum(g, v, vlen, alone);
    if (col_rollup_add(&g->v, v, vlen) != 0)
        col_log(COL_LOG_WARN, "rollup value does not decode; skipped");
    return 0;
}

/* Feeds the rows of key type over the minutes [lo, hi] into run: one
 * iterator over the key range, in key order (minute first, so buckets
 * arrive in time order), each value decoded straight into its group. */
static int col_agg_range(col_store *s, uint8_t type, const struct col_agg_filter *f,
                         uint64_t lo, uint64_t hi, struct col_agg_run *run)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it;
    uint8_t lk[9], hk[9];
    char *rerr = NULL;
    int rv = 0;
    /* One-minute buckets, operations not merged, one kind: a key is the
     * only row of its group in its bucket. */
    int alone = run->step == COL_MINUTE_NS && !f->merge_b && f->tail_mask != 0 &&
                (f->tail_mask & (f->tail_mask - 1)) == 0;

    if (ro == NULL)
        return SL_ENOMEM;
    lk[0] = hk[0] = type;
    slc_put_be64(lk + 1, lo);
    slc_put_be64(hk + 1, col_sat_add(hi, COL_MINUTE_NS));
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hk, sizeof hk);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_ROLLUP]);
    for (rocksdb_iter_seek(it, (const char *)lk, sizeof lk); rocksdb_iter_valid(it) && !run->stop;
         rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen), *v;
        col_rollup_key rk;

        /* The kind is the key's last byte: the rows a kind mask drops
         * (most of them) are dropped before parsing. */
        if (f->tail_mask != 0 && klen > 0 &&
            (k[klen - 1] >= 32 || !(f->tail_mask & (1u << k[klen - 1]))))
            continue;
        if (col_rollup_parse_key(k, klen, &rk) != 0 || rk.type != type)
            continue;
        if (f->tail_mask != 0 && (rk.tail >= 32 || !(f->tail_mask & (1u << rk.tail))))
            continue;
        if ((f->a != NULL && (rk.alen != f->alen || memcmp(rk.a, f->a, f->alen) != 0)) ||
            (f->b != NULL && (rk.blen != f->blen || memcmp(rk.b, f->b, f->blen) != 0)))
            continue;
        v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
        rv = col_agg_feed(run, f, &rk, v, vlen, alone);
        if (rv != 0)
            break;
    }
    rocksdb_iter_get_error(it, &rerr);
    if (rerr != NULL)
        rv = col_store_rocks_err(rerr, "scanning aggregates", NULL, 0);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return rv;
}

/* The position of a per-service row iterator: its key and minute
 * (UINT64_MAX when done). */
static void col_kcur_load(rocksdb_iterator_t *it, uint64_t *minute, const uint8_t **key,
                          size_t *klen)
{
    *minute = UINT64_MAX;
    *key = NULL;
    *klen = 0;
    if (!rocksdb_iter_valid(it))
        return;
    *key = (const uint8_t *)rocksdb_iter_key(it, klen);
    *minute = *klen >= 10 ? slc_get_be64(*key + 2) : 0;
}

/* Orders two per-service keys of the same minute by what follows the
 * minute (the service), whatever their kinds. */
static int col_suffix_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n;
    int c;

    if (alen < 10 || blen < 10)
        return alen < blen ? -1 : alen > blen;
    n = (alen < blen ? alen : blen) - 10;
    c = memcmp(a + 10, b + 10, n);
    return c != 0 ? c : alen < blen ? -1 : alen > blen;
}

/* Feeds the per-service RED rows ('s') of the kinds in f->tail_mask over
 * the minutes [lo, hi] into run.  Those rows are keyed kind first, so each
 * kind is one run of rows in time order: one iterator per kind asked for,
 * merged by (minute, service), reads no row it then drops (RocksDB costs
 * ~0.5 us a row here, the bulk of a query).  The rows of one service and
 * minute (one per kind) thus come one after the other, and a row no other
 * iterator matches is, at one-minute steps, alone in its bucket. */
static int col_agg_svc_range(col_store *s, const struct col_agg_filter *f, uint64_t lo,
                             uint64_t hi, struct col_agg_run *run)
{
    struct col_kcur {
        rocksdb_readoptions_t *ro;
        rocksdb_iterator_t *it;
        uint8_t hk[10];
        uint64_t minute; /* of the current row; UINT64_MAX = done */
        const uint8_t *key; /* the current key (valid until this iterator moves) */
        size_t klen;
    } c[SLC_KIND_CONSUMER + 1];
    size_t nc = 0;
    char *rerr = NULL;
    int rv = 0;

    for (unsigned kind = 0; kind <= SLC_KIND_CONSUMER; kind++) {
        struct col_kcur *k = &c[nc];
        uint8_t lk[10];
        if (f->tail_mask != 0 && !(f->tail_mask & (1u << kind)))
            continue;
        k->ro = rocksdb_readoptions_create();
        if (k->ro == NULL) {
            rv = SL_ENOMEM;
            break;
        }
        col_rollup_svc_key(k->hk, (uint8_t)kind, col_sat_add(hi, COL_MINUTE_NS));
        rocksdb_readoptions_set_iterate_upper_bound(k->ro, (const char *)k->hk, sizeof k->hk);
        k->it = rocksdb_create_iterator_cf(s->db, k->ro, s->cf[CF_ROLLUP]);
        col_rollup_svc_key(lk, (uint8_t)kind, lo);
        rocksdb_iter_seek(k->it, (const char *)lk, sizeof lk);
        k->minute = UINT64_MAX;
        nc++;
    }
    for (size_t i = 0; i < nc && rv == 0; i++)
        col_kcur_load(c[i].it, &c[i].minute, &c[i].key, &c[i].klen);
    while (rv == 0 && !run->stop) {
        struct col_kcur *k = NULL;
        size_t vlen = 0;
        const uint8_t *v;
        col_rollup_key rk;
        int alone = run->step == COL_MINUTE_NS;

        for (size_t i = 0; i < nc; i++)
            if (c[i].minute != UINT64_MAX &&
                (k == NULL || c[i].minute < k->minute ||
                 (c[i].minute == k->minute &&
                  col_suffix_cmp(c[i].key, c[i].klen, k->key, k->klen) < 0)))
                k = &c[i];
        if (k == NULL)
            break;
        for (size_t i = 0; i < nc && alone; i++)
            if (&c[i] != k && c[i].minute == k->minute &&
                col_suffix_cmp(c[i].key, c[i].klen, k->key, k->klen) == 0)
                alone = 0;
        if (col_rollup_parse_key(k->key, k->klen, &rk) == 0 && rk.type == COL_RK_SVC &&
            rk.minute_ns >= lo &&
            (f->a == NULL || (rk.alen == f->alen && memcmp(rk.a, f->a, f->alen) == 0))) {
            v = (const uint8_t *)rocksdb_iter_value(k->it, &vlen);
            rv = col_agg_feed(run, f, &rk, v, vlen, alone);
        }
        rocksdb_iter_next(k->it);
        col_kcur_load(k->it, &k->minute, &k->key, &k->klen);
    }
    for (size_t i = 0; i < nc; i++) {
        rocksdb_iter_get_error(c[i].it, &rerr);
        if (rerr != NULL && rv == 0)
            rv = col_store_rocks_err(rerr, "scanning aggregates", NULL, 0);
        else if (rerr != NULL)
            rocksdb_free(rerr);
        rerr = NULL;
        rocksdb_iter_destroy(c[i].it);
        rocksdb_readoptions_destroy(c[i].ro);
    }
    return rv;
}

/* The first minute whose per-service RED rows are complete (see
 * COL_SVC_SKEW_NS); UINT64_MAX when there is none. */
static uint64_t col_svc_rows_from(const col_store *s)
{
    uint64_t t = s->svc_rollup_since_ns;

    if (t == 0)
        return 0;
    if (t > UINT64_MAX - 2 * COL_MINUTE_NS - COL_SVC_SKEW_NS)
        return UINT64_MAX;
    t += (COL_MINUTE_NS - t % COL_MINUTE_NS) % COL_MINUTE_NS;
    return t + COL_SVC_SKEW_NS;
}

/* Scans rollup rows of one type over the minutes of [since, until] and
 * calls fn per group per bucket (buckets in time order, groups sorted).
 * Services-level RED (operations merged, any operation) reads the
 * per-service rows where they exist, and the per-operation rows, merged,
 * for older minutes: the same numbers either way, one row per service and
 * kind instead of one per operation. */
static int col_agg_scan(col_store *s, uint8_t type, const struct col_agg_filter *filter,
                        uint64_t since, uint64_t until, uint64_t step, col_agg_fn fn, void *arg)
{
    struct col_agg_filter f = *filter;
    struct col_agg_run *run;
    uint64_t first = since - since % COL_MINUTE_NS, last = until - until % COL_MINUTE_NS;
    int rv = 0;

    if (since > until)
        return SL_EINVAL;
    run = calloc(1, sizeof *run);
    if (run == NULL)
        return SL_ENOMEM;
    if (step > 0 && step % COL_MINUTE_NS != 0)
        step += COL_MINUTE_NS - step % COL_MINUTE_NS;
    f.alen = f.a != NULL ? strlen(f.a) : 0;
    f.blen = f.b != NULL ? strlen(f.b) : 0;
    run->first = first;
    run->step = step;
    run->cur = UINT64_MAX;
    run->fn = fn;
    run->arg = arg;
    if (type == COL_RK_RED && f.merge_b && f.b == NULL) {
        uint64_t from = col_svc_rows_from(s);
        if (first < from)
            rv = col_agg_range(s, COL_RK_RED, &f, first, last < from - COL_MINUTE_NS ? last
                                                                : from - COL_MINUTE_NS, run);
        if (rv == 0 && !run->stop && last >= from)
            rv = col_agg_svc_range(s, &f, first > from ? first : from, last, run);
    } else {
        rv = col_agg_range(s, type, &f, first, last, run);
    }
    if (rv == 0 && !run->stop && run->cur != UINT64_MAX)
        col_agg_flush(&run->ag, run->cur, fn, arg);
    col_agg_free(&run->ag);
    free(run);
    return rv;
}

static int store_red(col_store *s, const char *service, const char *operation, uint64_t since_ns,
                     uint64_t until_ns, uint64_t step_ns, unsigned kind_mask, int merge_ops,
                     col_agg_fn fn, void *arg)
{
    struct col_agg_filter f = {service, operation, kind_mask, merge_ops & 1, 1,
                               (merge_ops & COL_RED_SUMMARY) != 0};
    return col_agg_scan(s, COL_RK_RED, &f, since_ns, until_ns, step_ns, fn, arg);
}

int col_store_red(col_store *s, const char *service, const char *operation, uint64_t since_ns,
                  uint64_t until_ns, uint64_t step_ns, unsigned kind_mask, int merge_ops,
                  col_agg_fn fn, void *arg)
{
    COL_DB_CALL(s, 0, store_red(s, service, operation, since_ns, until_ns, step_ns, kind_mask, merge_ops, fn, arg));
}

static int store_edges(col_store *s, uint64_t since_ns, uint64_t until_ns, uint64_t step_ns,
                       col_agg_fn fn, void *arg)
{
    struct col_agg_filter f = {NULL, NULL, 0, 0, 1, 0};
    return col_agg_scan(s, COL_RK_EDGE, &f, since_ns, until_ns, step_ns, fn, arg);
}

int col_store_edges(col_store *s, uint64_t since_ns, uint64_t until_ns, uint64_t step_ns,
                    col_agg_fn fn, void *arg)
{
    COL_DB_CALL(s, 0, store_edges(s, since_ns, until_ns, step_ns, fn, arg));
}

/* ---- services with counts ------------------------------------------------ */

struct col_svc_list {
    col_service_row *r;
    char **names;
    size_t n, cap;
};

static int col_svc_collect(const char *name, size_t len, void *arg)
{
    struct col_svc_list *l = arg;

    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        col_service_row *nr = realloc(l->r, nc * sizeof *nr);
        char **nn;
        if (nr == NULL)
            return -1;
        l->r = nr;
        nn = realloc(l->names, nc * sizeof *nn);
        if (nn == NULL)
            return -1;
        l->names = nn;
        l->cap = nc;
    }
    l->names[l->n] = strndup(name, len);
    if (l->names[l->n] == NULL)
        return -1;
    memset(&l->r[l->n], 0, sizeof l->r[0]);
    l->r[l->n].name = l->names[l->n];
    l->r[l->n].len = len;
    l->n++;
    return 0;
}

static col_service_row *col_svc_find(struct col_svc_list *l, const char *name, size_t len)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const col_service_row *r = &l->r[mid];
        size_t m = r->len < len ? r->len : len;
        int c = memcmp(r->name, name, m);
        if (c == 0)
            c = r->len < len ? -1 : r->len > len;
        if (c == 0)
            return &l->r[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* A rollup key holds a name cut at COL_RK_NAME_MAX bytes: the longer
     * name it was cut from sorts right after the cut form. */
    if (len == COL_RK_NAME_MAX && lo < l->n && l->r[lo].len > len &&
        memcmp(l->r[lo].name, name, len) == 0)
        return &l->r[lo];
    return NULL;
}

static int col_svc_add_spans(const col_agg_row *r, void *arg)
{
    col_service_row *row = col_svc_find(arg, r->service, r->service_len);
    if (row != NULL) {
        row->spans += r->count;
        row->span_errors += r->errors;
    }
    return 0;
}

static int col_svc_add_logs(const col_agg_row *r, void *arg)
{
    col_service_row *row = col_svc_find(arg, r->service, r->service_len);
    if (row != NULL) {
        row->logs += r->count;
        row->log_errors += r->errors;
    }
    return 0;
}

static int store_service_counts(col_store *s, uint64_t since_ns, uint64_t until_ns,
                                int (*fn)(const col_service_row *r, void *arg), void *arg)
{
    struct col_svc_list l = {0};
    struct col_agg_filter f = {NULL, NULL, 0, 1, 0, 0};
    int rv;

    rv = col_store_services(s, col_svc_collect, &l);
    /* Names longer than a rollup key holds are matched by their cut form. */
    if (rv == 0)
        rv = col_agg_scan(s, COL_RK_RED, &f, since_ns, until_ns, 0, col_svc_add_spans, &l);
    if (rv == 0)
        rv = col_agg_scan(s, COL_RK_LOG, &f, since_ns, until_ns, 0, col_svc_add_logs, &l);
    for (size_t i = 0; i < l.n && rv == 0; i++)
        if (fn(&l.r[i], arg) != 0)
            break;
    for (size_t i = 0; i < l.n; i++)
        free(l.names[i]);
    free(l.names);
    free(l.r);
    return rv;
}

int col_store_service_counts(col_store *s, uint64_t since_ns, uint64_t until_ns,
                             int (*fn)(const col_service_row *r, void *arg), void *arg)
{
    COL_DB_CALL(s, 0, store_service_counts(s, since_ns, until_ns, fn, arg));
}

/* ======================= shared scan over sidx / lidx ====================== */

/* Calls visit(view, block key, row value) for every summary row under
 * prefix h whose block time is in [lo, hi], newest first, until visit
 * returns non-zero (1 = stop, negative = error).  visit reads the blocks the
 * rows name through view, the snapshot the rows come from. */
typedef int (*col_row_fn)(col_store *s, const col_view *view, const uint8_t *bkey,
                          const uint8_t *v, size_t vlen, void *cx);

static int col_scan_xidx(col_store *s, int cf, uint64_t h, uint64_t lo, uint64_t hi,
                         col_row_fn visit, void *cx)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it;
    uint8_t lower[16], seek[COL_XIDX_KEY_LEN];
    char *rerr = NULL;
    col_view view;
    int rv = 0;

    if (ro == NULL)
        return SL_ENOMEM;
    if (col_view_open(s, &view) != 0) {
        rocksdb_readoptions_destroy(ro);
        return SL_ENOMEM;
    }
    slc_put_be64(lower, h);
    slc_put_be64(lower + 8, lo);
    rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)lower, sizeof lower);
    rocksdb_readoptions_set_snapshot(ro, view.snap);
    it = rocksdb_create_iterator_cf(s->db, ro, s->cf[cf]);
    slc_put_be64(seek, h);
    slc_put_be64(seek + 8, hi);
    memset(seek + 16, 0xff, COL_XIDX_KEY_LEN - 16);
    for (rocksdb_iter_seek_for_prev(it, (const char *)seek, sizeof seek); rocksdb_iter_valid(it);
         rocksdb_iter_prev(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        const uint8_t *v;

        if (klen != COL_XIDX_KEY_LEN || slc_get_be64(k) != h || slc_get_be64(k + 8) < lo)
            break;
        if (col_view_dead(&view, k + 8))
            continue; /* dropped by retention or replaced by sealing */
        v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
        rv = visit(s, &view, k + 8, v, vlen, cx);
        if (rv != 0)
            break;
    }
    if (rv > 0)
        rv = 0;
    rocksdb_iter_get_error(it, &rerr);
    if (rerr != NULL && rv == 0)
        rv = col_store_rocks_err(rerr, "scanning a search index", NULL, 0);
    else
        rocksdb_free(rerr);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    col_view_close(s, &view);
    return rv;
}

/* Reads block bkey and returns its decoded form through the shared block
 * cache (blockcache.h): *b is valid until col_bcache_put(*e).  *b NULL
 * (and 0 returned) when the block is gone (retention) or does not decode
 * (logged). */
static int col_load_block(col_store *s, const col_view *view, const uint8_t *bkey,
                          col_bcache_ent **e,
                          const slc_batch **b)
{
    slc_wire_limits lim;
    char *rerr = NULL, msg[160];
    size_t vlen = 0;
    const rocksdb_readoptions_t *ro = view->ro;
    char *v = rocksdb_get_cf(s->db, ro, s->cf[CF_BLOCKS], (const char *)bkey, COL_BLOCK_KEY_LEN,
                             &vlen, &rerr);
    int rv;

    *e = NULL;
    *b = NULL;
    if (rerr != NULL)
        return col_store_rocks_err(rerr, "reading a block", NULL, 0);
    if (v == NULL)
        return 0;
    col_store_read_limits(&lim);
    msg[0] = '\0';
    rv = col_bcache_get(s, bkey, (const uint8_t *)v, vlen, &lim, e, b, msg, sizeof msg);
    rocksdb_free(v);
    if (rv == SL_ENOMEM)
        return rv;
    if (rv != 0) {
        col_log(COL_LOG_WARN, "stored block does not decode (%s): %s", sl_strerror(rv), msg);
        *e = NULL;
        *b = NULL;
    }
    return 0;
}

/* A varint-prefixed string of an index value. */
static int col_get_str(const uint8_t **p, const uint8_t *end, const char **s, size_t *len)
{
    uint64_t n;
    if (slc_varint_get(p, end, &n) != 0 || n > (uint64_t)(end - *p))
        return -1;
    *s = (const char *)*p;
    *len = (size_t)n;
    *p += n;
    return 0;
}

/* ======================= trace search ======================================== */

struct col_afilt {
    const char *key, *val;
    size_t klen, vlen;
    int has_int, has_dbl, bool_val; /* bool_val: -1 not a bool word */
    long long i;
    double d;
};

struct col_search_cx {
    const col_search_q *q;
    struct col_afilt af[COL_SEARCH_MAX_ATTRS];
    col_trace_hit *hits;
    size_t nhits;
    size_t blocks;
    int capped;
};

static void col_afilt_init(struct col_afilt *a, const col_attr_filter *f)
{
    char *end;

    memset(a, 0, sizeof *a);
    a->key = f->key;
    a->val = f->value;
    a->klen = strlen(f->key);
    a->vlen = strlen(f->value);
    a->bool_val = strcmp(f->value, "true") == 0 ? 1 : strcmp(f->value, "false") == 0 ? 0 : -1;
    errno = 0;
    a->i = strtoll(f->value, &end, 10);
    a->has_int = errno == 0 && end != f->value && *end == '\0';
    errno = 0;
    a->d = strtod(f->value, &end);
    a->has_dbl = errno == 0 && end != f->value && *end == '\0';
}

static int col_attrs_match(const slc_batch *b, uint32_t first, uint32_t count,
                           const struct col_afilt *af)
{
    for (uint32_t i = 0; i < count && first + i < b->nattrs; i++) {
        const slc_attr *a = &b->attrs[first + i];
        const slc_str *k = &b->strs[a->key];
        if (k->len != af->klen || memcmp(k->ptr, af->key, af->klen) != 0)
            continue;
        switch (a->type) {
        case SLC_V_STR: {
            const slc_str *v = &b->strs[a->v.str];
            if (v->len == af->vlen && memcmp(v->ptr, af->val, af->vlen) == 0)
                return 1;
            break;
        }
        case SLC_V_INT:
            if (af->has_int && a->v.i == af->i)
                return 1;
            break;
        case SLC_V_DBL:
            if (af->has_dbl && a->v.d == af->d)
                return 1;
            break;
        case SLC_V_BOOL:
            if (af->bool_val >= 0 && a->v.b == af->bool_val)
                return 1;
            break;
        }
    }
    return 0;
}

/* 1 if hit x ranks before y in the result order. */
static int col_hit_better(enum col_order o, const col_trace_hit *x, const col_trace_hit *y)
{
    if (o == COL_ORDER_SLOWEST)
        return x->duration_ns > y->duration_ns ||
               (x->duration_ns == y->duration_ns && x->start_ns > y->start_ns);
    return x->start_ns > y->start_ns ||
           (x->start_ns == y->start_ns && x->duration_ns > y->duration_ns);
}

static int col_hit_cmp_newest(const void *a, const void *b)
{
    return col_hit_better(COL_ORDER_NEWEST, b, a) - col_hit_better(COL_ORDER_NEWEST, a, b);
}

static int col_hit_cmp_slowest(const void *a, const void *b)
{
    return col_hit_better(COL_ORDER_SLOWEST, b, a) - col_hit_better(COL_ORDER_SLOWEST, a, b);
}

/* The worst kept hit (the one a better candidate replaces). */
static size_t col_worst(const struct col_search_cx *cx)
{
    size_t w = 0;
    for (size_t i = 1; i < cx->nhits; i++)
        if (col_hit_better(cx->q->order, &cx->hits[w], &cx->hits[i]))
            w = i;
    return w;
}

static void col_offer(struct col_search_cx *cx, const col_trace_hit *h)
{
    for (size_t i = 0; i < cx->nhits; i++)
        if (memcmp(cx->hits[i].trace_id, h->trace_id, 16) == 0) {
            if (col_hit_better(cx->q->order, h, &cx->hits[i]))
                cx->hits[i] = *h;
            return;
        }
    if (cx->nhits < cx->q->limit) {
        cx->hits[cx->nhits++] = *h;
        return;
    }
    {
        size_t w = col_worst(cx);
        if (col_hit_better(cx->q->order, h, &cx->hits[w]))
            cx->hits[w] = *h;
    }
}

static void col_cut(char *dst, size_t cap, const slc_str *s)
{
    size_t n = s->len < cap - 1 ? s->len : cap - 1;
    memcpy(dst, s->ptr, n);
    dst[n] = '\0';
}

static int col_span_matches(const struct col_search_cx *cx, const slc_batch *b,
                            const slc_span *sp, uint64_t dur)
{
    const col_search_q *q = cx->q;

    if (sp->start_ns < q->since_ns || sp->start_ns > q->until_ns)
        return 0;
    if (dur < q->min_duration_ns || (q->max_duration_ns > 0 && dur > q->max_duration_ns))
        return 0;
    if (q->error >= 0 && (sp->status == SLC_STATUS_ERROR) != (q->error == 1))
        return 0;
    if (!col_streq(b->strs[sp->service].ptr, b->strs[sp->service].len, q->service) ||
        !col_streq(b->strs[sp->name].ptr, b->strs[sp->name].len, q->operation))
        return 0;
    for (size_t a = 0; a < q->nattrs; a++)
        if (!col_attrs_match(b, sp->attr_first, sp->attr_count, &cx->af[a]))
            return 0;
    return 1;
}

/* Loads the block at bkey (through the block cache) and hands it to fn
 * with cx; a block dropped since its index row was read is skipped.  The
 * one block loop of search and log queries. */
typedef int (*col_block_fn)(void *cx, const slc_batch *b, const uint8_t *bkey);

static int col_with_block(col_store *s, const col_view *view, const uint8_t *bkey,
                          col_block_fn fn, void *cx)
{
    const slc_batch *b = NULL;
    col_bcache_ent *ent = NULL;
    int rv = col_load_block(s, view, bkey, &ent, &b);

    if (rv != 0 || b == NULL)
        return rv;
    rv = fn(cx, b, bkey);
    col_bcache_put(ent);
    return rv;
}

/* Offers every matching span of one block. */
static int col_search_block(void *arg, const slc_batch *b, const uint8_t *bkey)
{
    struct col_search_cx *cx = arg;

    (void)bkey;
    for (uint32_t i = 0; i < b->nspans; i++) {
        const slc_span *sp = &b->spans[i];
        uint64_t dur = sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0;
        col_trace_hit h;

        if (!col_span_matches(cx, b, sp, dur))
            continue;
        memset(&h, 0, sizeof h);
        memcpy(h.trace_id, sp->trace_id, 16);
        memcpy(h.span_id, sp->span_id, 8);
        h.start_ns = sp->start_ns;
        h.duration_ns = dur;
        h.error = sp->status == SLC_STATUS_ERROR;
        h.is_root = slc_is_zero(sp->parent_id, 8);
        h.kind = sp->kind;
        col_cut(h.service, sizeof h.service, &b->strs[sp->service]);
        col_cut(h.name, sizeof h.name, &b->strs[sp->name]);
        col_offer(cx, &h);
    }
    return 0;
}

/* Can a group of a sidx row hold a matching span?  With a full result
 * set, also: can it beat the worst kept hit? */
static int col_group_may_match(const struct col_search_cx *cx, const char *svc, size_t svclen,
                               const char *op, size_t oplen, uint8_t flags, uint64_t cnt,
                               uint64_t errs, uint64_t mind, uint64_t maxd, uint64_t mins,
                               uint64_t maxs, uint64_t worst_dur)
{
    const col_search_q *q = cx->q;

    if (!col_streq(svc, svclen, q->service))
        return 0;
    if (!(flags & COL_SIDX_F_ANYOP) && !col_streq(op, oplen, q->operation))
        return 0;
    if ((q->error == 1 && errs == 0) || (q->error == 0 && errs >= cnt))
        return 0;
    if (maxd < q->min_duration_ns || (q->max_duration_ns > 0 && mind > q->max_duration_ns))
        return 0;
    if (maxs < q->since_ns || mins > q->until_ns)
        return 0;
    if (q->order == COL_ORDER_SLOWEST && cx->nhits == q->limit && maxd < worst_dur)
        return 0;
    return 1;
}

static int col_search_row(col_store *s, const col_view *view, const uint8_t *bkey, const uint8_t *v, size_t vlen,
                          void *arg)
{
    struct col_search_cx *cx = arg;
    const uint8_t *p = v + 1, *end = v + vlen;
    uint64_t ng, block_ns = slc_get_be64(bkey), worst_dur = 0;
    int want = 0;

    if (cx->nhits == cx->q->limit) {
        const col_trace_hit *w = &cx->hits[col_worst(cx)];
        /* Exact stop: this and every older block hold spans that started
         * before block_ns, which is older than every kept hit. */
        if (cx->q->order == COL_ORDER_NEWEST && block_ns < w->start_ns)
            return 1;
        worst_dur = w->duration_ns;
    }
    if (vlen < 1 || v[0] != COL_SIDX_VERSION || slc_varint_get(&p, end, &ng) != 0)
        return 0;
    for (uint64_t g = 0; g < ng && !want; g++) {
        const char *svc, *op;
        size_t svclen, oplen;
        uint64_t f[6];
        uint8_t flags;

        if (col_get_str(&p, end, &svc, &svclen) != 0 || col_get_str(&p, end, &op, &oplen) != 0 ||
            p >= end)
            return 0;
        flags = *p++;
        for (int k = 0; k < 6; k++)
            if (slc_varint_get(&p, end, &f[k]) != 0)
                return 0;
        want = col_group_may_match(cx, svc, svclen, op, oplen, flags, f[0], f[1], f[2], f[3],
                                   f[4], f[5], worst_dur);
    }
    if (!want)
        return 0;
    if (cx->blocks >= (cx->q->max_blocks ? cx->q->max_blocks : COL_DEFAULT_MAX_BLOCKS)) {
        cx->capped = 1;
        return 1;
    }
    cx->blocks++;
    return col_with_block(s, view, bkey, col_search_block, cx);
}

static int store_search(col_store *s, const col_search_q *q, col_trace_hit *out, size_t *n,
                        int *capped)
{
    struct col_search_cx cx;
    uint64_t lo, hi, cutoff = atomic_load(&s->cutoff_ns);
    int rv;

    if (q->limit < 1 || q->limit > COL_MAX_LIMIT || q->nattrs > COL_SEARCH_MAX_ATTRS ||
        q->since_ns > q->until_ns || (q->nattrs > 0 && q->attrs == NULL) ||
        (q->max_duration_ns > 0 && q->min_duration_ns > q->max_duration_ns))
        return SL_EINVAL;
    memset(&cx, 0, sizeof cx);
    cx.q = q;
    for (size_t i = 0; i < q->nattrs; i++) {
        if (q->attrs[i].key == NULL || q->attrs[i].value == NULL)
            return SL_EINVAL;
        col_afilt_init(&cx.af[i], &q->attrs[i]);
    }
    cx.hits = out;
    /* Spans start before their block is received (so since bounds the
     * blocks from below) and arrive at most COL_LATE_NS after. */
    lo = q->since_ns > cutoff ? q->since_ns : cutoff;
    hi = col_sat_add(q->until_ns, COL_LATE_NS);
    rv = col_scan_xidx(s, CF_SIDX, q->service ? col_svc_hash(q->service, strlen(q->service)) : 0,
                       lo, hi, col_search_row, &cx);
    if (rv != 0)
        return rv;
    qsort(out, cx.nhits, sizeof *out,
          q->order == COL_ORDER_SLOWEST ? col_hit_cmp_slowest : col_hit_cmp_newest);
    *n = cx.nhits;
    if (capped != NULL)
        *capped = cx.capped;
    return 0;
}

int col_store_search(col_store *s, const col_search_q *q, col_trace_hit *out, size_t *n,
                     int *capped)
{
    COL_DB_CALL(s, 0, store_search(s, q, out, n, capped));
}

/* ======================= logs ================================================ */

/* The position of a record in newest-first order: time, then block key,
 * then index in the block, all descending. */
struct col_logpos {
    uint64_t time;
    uint8_t bkey[COL_BLOCK_KEY_LEN];
    uint32_t idx;
};

/* 1 if a comes before b in newest-first order. */
static int col_pos_before(const struct col_logpos *a, const struct col_logpos *b)
{
    int c;
    if (a->time != b->time)
        return a->time > b->time;
    c = memcmp(a->bkey, b->bkey, COL_BLOCK_KEY_LEN);
    if (c != 0)
        return c > 0;
    return a->idx > b->idx;
}

struct col_logcand {
    struct col_logpos pos;
    uint32_t acc; /* index in the accumulator batch */
};

struct col_logs_cx {
    const col_logs_q *q;
    int has_cursor;
    struct col_logpos cursor;
    uint64_t until;
    slc_batch *acc;
    struct col_logcand *c;
    size_t nc, capc;
    size_t blocks;
    int capped;
    int sorted; /* c[] is trimmed and in order since the last addition */
};

static int col_cand_cmp(const void *a, const void *b)
{
    const struct col_logcand *x = a, *y = b;
    return col_pos_before(&y->pos, &x->pos) - col_pos_before(&x->pos, &y->pos);
}

/* Keeps the best limit candidates and rebuilds the accumulator with only
 * their records, so memory stays proportional to the page size. */
static int col_logs_trim(struct col_logs_cx *cx)
{
    slc_batch *nb;
    size_t keep = cx->q->limit;

    qsort(cx->c, cx->nc, sizeof *cx->c, col_cand_cmp);
    if (cx->nc > keep)
        cx->nc = keep;
    nb = slc_batch_new();
    if (nb == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < cx->nc; i++) {
        int rv = slc_batch_copy_log(nb, cx->acc, cx->c[i].acc);
        if (rv != 0) {
            slc_batch_free(nb);
            return rv;
        }
        cx->c[i].acc = (uint32_t)i;
    }
    slc_batch_free(cx->acc);
    cx->acc = nb;
    cx->sorted = 1;
    return 0;
}

static int col_log_matches(const struct col_logs_cx *cx, const slc_batch *b, const slc_log *l)
{
    const col_logs_q *q = cx->q;
    const slc_str *body;

    if (l->time_ns < q->since_ns || l->time_ns > cx->until)
        return 0;
    if (q->min_level > 0 && l->level < q->min_level)
        return 0;
    if (!col_streq(b->strs[l->service].ptr, b->strs[l->service].len, q->service))
        return 0;
    if (q->contains != NULL && q->contains[0] != '\0') {
        body = &b->strs[l->body];
        if (memmem(body->ptr, body->len, q->contains, strlen(q->contains)) == NULL)
            return 0;
    }
    return 1;
}

/* Collects every matching log record of one block after the cursor. */
static int col_logs_block(void *arg, const slc_batch *b, const uint8_t *bkey)
{
    struct col_logs_cx *cx = arg;
    int rv = 0;

    for (uint32_t i = 0; i < b->nlogs && rv == 0; i++) {
        const slc_log *l = &b->logs[i];
        struct col_logcand c;

        if (!col_log_matches(cx, b, l))
            continue;
        c.pos.time = l->time_ns;
        memcpy(c.pos.bkey, bkey, COL_BLOCK_KEY_LEN);
        c.pos.idx = i;
        if (cx->has_cursor && !col_pos_before(&cx->cursor, &c.pos))
            continue;
        if (cx->nc == cx->capc) {
            rv = col_logs_trim(cx);
            if (rv != 0)
                break;
        }
        c.acc = cx->acc->nlogs;
        rv = slc_batch_copy_log(cx->acc, b, i);
        if (rv == 0) {
            cx->c[cx->nc++] = c;
            cx->sorted = 0;
        }
    }
    return rv;
}

static int col_logs_row(col_store *s, const col_view *view, const uint8_t *bkey, const uint8_t *v, size_t vlen,
                        void *arg)
{
    struct col_logs_cx *cx = arg;
    const uint8_t *p = v + 1, *end = v + vlen;
    uint64_t ng, block_ns = slc_get_be64(bkey), lvl_need = 0;
    int want = 0;

    if (cx->nc >= cx->q->limit) {
        int rv = cx->sorted ? 0 : col_logs_trim(cx);
        if (rv != 0)
            return rv;
        /* Exact stop: older blocks hold only records older than block_ns. */
        if (block_ns < cx->c[cx->nc - 1].pos.time)
            return 1;
    }
    if (cx->q->min_level > 0 && cx->q->min_level <= 24)
        lvl_need = ~((1ULL << (cx->q->min_level - 1)) - 1);
    if (vlen < 1 || v[0] != COL_LIDX_VERSION || slc_varint_get(&p, end, &ng) != 0)
        return 0;
    for (uint64_t g = 0; g < ng && !want; g++) {
        const char *svc;
        size_t svclen;
        uint64_t f[4];

        if (col_get_str(&p, end, &svc, &svclen) != 0)
            return 0;
        for (int k = 0; k < 4; k++)
            if (slc_varint_get(&p, end, &f[k]) != 0)
                return 0;
        want = col_streq(svc, svclen, cx->q->service) && (lvl_need == 0 || (f[1] & lvl_need)) &&
               f[3] >= cx->q->since_ns && f[2] <= cx->until;
    }
    if (!want)
        return 0;
    if (cx->blocks >= (cx->q->max_blocks ? cx->q->max_blocks : COL_DEFAULT_MAX_BLOCKS)) {
        cx->capped = 1;
        return 1;
    }
    cx->blocks++;
    return col_with_block(s, view, bkey, col_logs_block, cx);
}

static int col_cursor_parse(const char *c, struct col_logpos *pos)
{
    char *end;
    unsigned long long t, idx;

    if (strncmp(c, "l1.", 3) != 0)
        return -1;
    errno = 0;
    t = strtoull(c + 3, &end, 10);
    if (errno != 0 || *end != '.' || strlen(end + 1) < 2 * COL_BLOCK_KEY_LEN + 2)
        return -1;
    if (slc_hex_decode(end + 1, 2 * COL_BLOCK_KEY_LEN, pos->bkey, COL_BLOCK_KEY_LEN) != 0)
        return -1;
    end += 1 + 2 * COL_BLOCK_KEY_LEN;
    if (*end != '.' || !isdigit((unsigned char)end[1]))
        return -1;
    idx = strtoull(end + 1, &end, 10);
    if (errno != 0 || *end != '\0' || idx > UINT32_MAX)
        return -1;
    pos->time = t;
    pos->idx = (uint32_t)idx;
    return 0;
}

static void col_cursor_format(const struct col_logpos *pos, char *out)
{
    char hex[2 * COL_BLOCK_KEY_LEN + 1];
    slc_hex_encode(pos->bkey, COL_BLOCK_KEY_LEN, hex);
    snprintf(out, COL_CURSOR_MAX, "l1.%llu.%s.%u", (unsigned long long)pos->time, hex, pos->idx);
}

static int store_logs(col_store *s, const col_logs_q *q, slc_batch **out, char *next_cursor,
                      int *capped)
{
    struct col_logs_cx cx;
    slc_batch *res = NULL;
    uint64_t lo, hi, cutoff = atomic_load(&s->cutoff_ns);
    int rv;

    if (q->limit < 1 || q->limit > COL_MAX_LIMIT || q->since_ns > q->until_ns ||
        q->min_level < 0 || q->min_level > 24)
        return SL_EINVAL;
    memset(&cx, 0, sizeof cx);
    cx.q = q;
    cx.until = q->until_ns;
    if (q->cursor != NULL && q->cursor[0] != '\0') {
        if (col_cursor_parse(q->cursor, &cx.cursor) != 0)
            return SL_EINVAL;
        cx.has_cursor = 1;
        if (cx.cursor.time < cx.until)
            cx.until = cx.cursor.time;
    }
    cx.capc = 2 * q->limit + 64;
    cx.c = malloc(cx.capc * sizeof *cx.c);
    cx.acc = slc_batch_new();
    if (cx.c == NULL || cx.acc == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    lo = q->since_ns > cutoff ? q->since_ns : cutoff;
    /* The block window stays that of the first page (not the cursor's),
     * so a page never hides late records an earlier page could show;
     * blocks newer than the cursor are skipped by their summary rows. */
    hi = col_sat_add(q->until_ns, COL_LATE_NS);
    rv = col_scan_xidx(s, CF_LIDX, q->service ? col_svc_hash(q->service, strlen(q->service)) : 0,
                       lo, hi, col_logs_row, &cx);
    if (rv == 0)
        rv = col_logs_trim(&cx);
    if (rv != 0)
        goto out;
    /* The accumulator now holds exactly the page, in order. */
    res = cx.acc;
    cx.acc = NULL;
    next_cursor[0] = '\0';
    if (cx.nc == q->limit)
        col_cursor_format(&cx.c[cx.nc - 1].pos, next_cursor);
    if (capped != NULL)
        *capped = cx.capped;
    *out = res;
out:
    slc_batch_free(cx.acc);
    free(cx.c);
    return rv;
}

int col_store_logs(col_store *s, const col_logs_q *q, slc_batch **out, char *next_cursor,
                   int *capped)
{
    COL_DB_CALL(s, 0, store_logs(s, q, out, next_cursor, capped));
}

/* ======================= trace reads through the block cache ================= */

/* A col_gather_fn: frames through the shared block cache (a trace's frames
 * are read again by the trace's logs and summaries), sealed blocks by page. */
static int col_gather_cached(col_store *s, const col_view *view, const uint8_t *bkey,
                             const uint8_t tid[16], int want_spans, slc_batch *dst)
{
    const slc_batch *b = NULL;
    col_bcache_ent *ent = NULL;
    int rv;

    /* A sealed block holds thousands of traces: decode only the part
     * holding this one instead of caching the whole block. */
    if (col_key_sealed(bkey))
        return col_gather_stored(s, view, bkey, tid, want_spans, dst);
    rv = col_load_block(s, view, bkey, &ent, &b);
    if (rv != 0 || b == NULL)
        return rv;
    rv = col_copy_trace(dst, b, tid, want_spans);
    col_bcache_put(ent);
    return rv;
}

static int store_read_trace_cached(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                                   slc_batch **out, int *blocks_capped)
{
    return col_read_trace_with(s, trace_id, max_blocks, 1, col_gather_cached, out, blocks_capped);
}

int col_store_read_trace_cached(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                                slc_batch **out, int *blocks_capped)
{
    COL_DB_CALL(s, 0, store_read_trace_cached(s, trace_id, max_blocks, out, blocks_capped));
}

static int col_log_time_cmp(const void *a, const void *b)
{
    const slc_log *x = a, *y = b;
    return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

static int store_trace_logs(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                            slc_batch **out)
{
    slc_batch *logs = NULL;
    /* Only the log records are copied (not the trace's spans). */
    int rv = col_read_trace_with(s, trace_id, max_blocks, 0, col_gather_cached, &logs, NULL);

    if (rv != 0)
        return rv;
    if (logs->nlogs == 0) {
        slc_batch_free(logs);
        return SL_ENOTFOUND;
    }
    /* Sorting the records in place is safe: they refer to attributes and
     * strings by index, not by position. */
    qsort(logs->logs, logs->nlogs, sizeof *logs->logs, col_log_time_cmp);
    *out = logs;
    return 0;
}

int col_store_trace_logs(col_store *s, const uint8_t trace_id[16], uint32_t max_blocks,
                         slc_batch **out)
{
    COL_DB_CALL(s, 0, store_trace_logs(s, trace_id, max_blocks, out));
}
