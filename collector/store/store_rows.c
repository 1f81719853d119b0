/*
 * store_rows.c - the index rows a batch gets besides its block: roots,
 * service names, tidx, sidx and lidx (docs/storage.md).  Used by ingest
 * writes and by sealing.
 */
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"

/* 1 if the name is already known (no need to write it). */
static int col_svc_known(col_store *s, const char *p, size_t n)
{
    uint64_t h = col_fnv(p, n);
    int known = 0;

    pthread_mutex_lock(&s->svc_mu);
    for (size_t i = 0; i < COL_SVC_CACHE; i++) {
        const struct col_svc_ent *e = &s->svc[(h + i) & (COL_SVC_CACHE - 1)];
        if (e->p == NULL)
            break;
        if (e->n == n && memcmp(e->p, p, n) == 0) {
            known = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->svc_mu);
    return known;
}

void col_svc_remember(col_store *s, const char *p, size_t n)
{
    uint64_t h = col_fnv(p, n);

    pthread_mutex_lock(&s->svc_mu);
    if (s->nsvc < COL_SVC_CACHE / 2) {
        for (size_t i = 0; i < COL_SVC_CACHE; i++) {
            struct col_svc_ent *e = &s->svc[(h + i) & (COL_SVC_CACHE - 1)];
            if (e->p == NULL) {
                e->p = malloc(n + 1);
                if (e->p != NULL) {
                    memcpy(e->p, p, n);
                    e->p[n] = '\0';
                    e->n = n;
                    s->nsvc++;
                }
                break;
            }
            if (e->n == n && memcmp(e->p, p, n) == 0)
                break;
        }
    }
    pthread_mutex_unlock(&s->svc_mu);
}

void col_put_root(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b, const slc_span *sp)
{
    uint8_t key[COL_ROOT_KEY_LEN];
    uint8_t val[4 + 8 + 2 + COL_ROOT_SERVICE_MAX + 2 + COL_ROOT_NAME_MAX];
    const slc_str *svc = &b->strs[sp->service], *name = &b->strs[sp->name];
    uint16_t sl = (uint16_t)(svc->len < COL_ROOT_SERVICE_MAX - 1 ? svc->len
                                                                  : COL_ROOT_SERVICE_MAX - 1);
    uint16_t nl = (uint16_t)(name->len < COL_ROOT_NAME_MAX - 1 ? name->len
                                                                : COL_ROOT_NAME_MAX - 1);
    size_t off = 0;

    slc_put_be64(key, sp->start_ns);
    memcpy(key + 8, sp->trace_id, 16);
    val[off++] = COL_ROOT_VAL_VERSION;
    val[off++] = sp->status == SLC_STATUS_ERROR ? COL_ROOT_F_ERROR : 0;
    val[off++] = sp->kind;
    val[off++] = 0;
    slc_put_le64(val + off, sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0);
    off += 8;
    val[off++] = (uint8_t)sl;
    val[off++] = (uint8_t)(sl >> 8);
    memcpy(val + off, svc->ptr, sl);
    off += sl;
    val[off++] = (uint8_t)nl;
    val[off++] = (uint8_t)(nl >> 8);
    memcpy(val + off, name->ptr, nl);
    off += nl;
    rocksdb_writebatch_put_cf(wb, s->cf[CF_ROOTS], (const char *)key, sizeof key,
                              (const char *)val, off);
}

/* Adds a meta row for each service of the frame not yet known.  Frames
 * usually come from one service, so remembering the previous index avoids
 * nearly every lookup.  Names put are collected in *news for the cache. */
void col_put_services(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b, uint32_t *news,
                      size_t *nnews, size_t maxnews)
{
    uint32_t prev = UINT32_MAX;
    char key[2 + 1024];

    for (uint64_t i = 0; i < (uint64_t)b->nspans + b->nlogs; i++) {
        uint32_t idx = i < b->nspans ? b->spans[i].service : b->logs[i - b->nspans].service;
        const slc_str *name;
        size_t k;

        if (idx == prev || idx >= b->nstrs)
            continue;
        prev = idx;
        name = &b->strs[idx];
        if (name->len == 0 || name->len > sizeof key - 2 || col_svc_known(s, name->ptr, name->len))
            continue;
        for (k = 0; k < *nnews; k++)
            if (news[k] == idx)
                break;
        if (k < *nnews)
            continue;
        memcpy(key, COL_META_SVC, 2);
        memcpy(key + 2, name->ptr, name->len);
        rocksdb_writebatch_put_cf(wb, s->cf[CF_META], key, 2 + name->len, "", 0);
        if (*nnews < maxnews)
            news[(*nnews)++] = idx;
    }
}

/* ---- search index rows (sidx, lidx) ------------------------------------ */

/* A growable byte buffer for index values, capped at cap bytes. */
struct col_buf {
    uint8_t *p;
    size_t n, cap;
};

static int col_buf_reserve(struct col_buf *b, size_t more)
{
    if (b->n + more > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        uint8_t *np;
        while (nc < b->n + more)
            nc *= 2;
        np = realloc(b->p, nc);
        if (np == NULL)
            return SL_ENOMEM;
        b->p = np;
        b->cap = nc;
    }
    return 0;
}

static int col_buf_varint(struct col_buf *b, uint64_t v)
{
    if (col_buf_reserve(b, 10) != 0)
        return SL_ENOMEM;
    b->n += slc_varint_put(b->p + b->n, v);
    return 0;
}

static int col_buf_str(struct col_buf *b, const slc_str *str)
{
    if (col_buf_varint(b, str->len) != 0 || col_buf_reserve(b, str->len) != 0)
        return SL_ENOMEM;
    memcpy(b->p + b->n, str->ptr, str->len);
    b->n += str->len;
    return 0;
}

/* Frames are grouped by hashing, never by sorting their items: a qsort of
 * 512 spans per frame through a comparator cost more than all the index
 * rows it produced.  Only the few groups are sorted, to keep rows in a
 * stable order. */
uint64_t col_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* An open-addressing table of group ids, keyed by a caller-computed
 * 64-bit key: slot -> group + 1 (0 = empty). */
struct col_gtab {
    uint32_t *slot;
    uint64_t *key;
    size_t mask, n;
};

static int col_gtab_init(struct col_gtab *t, size_t items)
{
    size_t cap = 16;
    while (cap < items * 2)
        cap <<= 1;
    t->slot = calloc(cap, sizeof *t->slot);
    t->key = malloc((items + 1) * sizeof *t->key);
    t->mask = cap - 1;
    t->n = 0;
    return t->slot != NULL && t->key != NULL ? 0 : SL_ENOMEM;
}

static void col_gtab_free(struct col_gtab *t)
{
    free(t->slot);
    free(t->key);
}

/* The group of key k; *fresh = 1 when it was just created. */
static uint32_t col_gtab_get(struct col_gtab *t, uint64_t k, int *fresh)
{
    for (size_t i = col_mix64(k) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t g = t->slot[i];
        if (g == 0) {
            t->key[t->n] = k;
            t->slot[i] = (uint32_t)++t->n;
            *fresh = 1;
            return (uint32_t)(t->n - 1);
        }
        if (t->key[g - 1] == k) {
            *fresh = 0;
            return g - 1;
        }
    }
}

struct col_sgroup {
    uint32_t svc, name;
    uint64_t cnt, errs, mind, maxd, mins, maxs;
};

static int col_cmp_sgroup(const void *a, const void *b)
{
    const struct col_sgroup *x = a, *y = b;
    if (x->svc != y->svc)
        return x->svc < y->svc ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

static void col_put_xidx(col_store *s, rocksdb_writebatch_t *wb, int cf, uint64_t h,
                         const uint8_t bkey[COL_BLOCK_KEY_LEN], uint8_t version,
                         uint64_t ngroups, const uint8_t *groups, size_t glen, struct col_buf *tmp)
{
    uint8_t key[COL_XIDX_KEY_LEN];

    tmp->n = 0;
    if (col_buf_reserve(tmp, 11 + glen) != 0)
        return; /* an index row lost to OOM only hides the block from search */
    tmp->p[tmp->n++] = version;
    tmp->n += slc_varint_put(tmp->p + tmp->n, ngroups);
    memcpy(tmp->p + tmp->n, groups, glen);
    tmp->n += glen;
    slc_put_be64(key, h);
    memcpy(key + 8, bkey, COL_BLOCK_KEY_LEN);
    rocksdb_writebatch_put_cf(wb, s->cf[cf], (const char *)key, sizeof key, (const char *)tmp->p,
                              tmp->n);
}

/* One sidx row per service of the frame plus one all-services row (prefix
 * 0), each a list of (service, operation) groups with counts, error counts
 * and duration / start bounds, so a search skips blocks that cannot match
 * before decoding any.  Groups are ordered by (service, operation) string
 * index. */
int col_put_sidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    struct col_sgroup *grp = malloc((size_t)b->nspans * sizeof *grp + 1);
    struct col_gtab t = {0};
    struct col_buf all = {0}, tmp = {0};
    size_t svc_from = 0;
    uint64_t svc_groups = 0;
    int rv = col_gtab_init(&t, b->nspans);

    if (grp == NULL || rv != 0) {
        rv = SL_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < b->nspans; i++) {
        const slc_span *sp = &b->spans[i];
        uint64_t d = sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0;
        int fresh;
        uint32_t g = col_gtab_get(&t, (uint64_t)sp->service << 32 | sp->name, &fresh);
        struct col_sgroup *e = &grp[g];

        if (fresh) {
            *e = (struct col_sgroup){sp->service, sp->name, 0, 0, UINT64_MAX, 0, UINT64_MAX, 0};
        }
        e->cnt++;
        e->errs += sp->status == SLC_STATUS_ERROR;
        e->mind = d < e->mind ? d : e->mind;
        e->maxd = d > e->maxd ? d : e->maxd;
        e->mins = sp->start_ns < e->mins ? sp->start_ns : e->mins;
        e->maxs = sp->start_ns > e->maxs ? sp->start_ns : e->maxs;
    }
    qsort(grp, t.n, sizeof *grp, col_cmp_sgroup);
    for (size_t i = 0; i < t.n; i++) {
        const struct col_sgroup *e = &grp[i];
        if (col_buf_str(&all, &b->strs[e->svc]) != 0 || col_buf_str(&all, &b->strs[e->name]) != 0 ||
            col_buf_reserve(&all, 1) != 0 || (all.p[all.n++] = 0, 0) ||
            col_buf_varint(&all, e->cnt) != 0 || col_buf_varint(&all, e->errs) != 0 ||
            col_buf_varint(&all, e->mind) != 0 || col_buf_varint(&all, e->maxd) != 0 ||
            col_buf_varint(&all, e->mins) != 0 || col_buf_varint(&all, e->maxs) != 0) {
            rv = SL_ENOMEM;
            goto out;
        }
        svc_groups++;
        if (i + 1 == t.n || grp[i + 1].svc != e->svc) {
            const slc_str *name = &b->strs[e->svc];
            col_put_xidx(s, wb, CF_SIDX, col_svc_hash(name->ptr, name->len), bkey,
                         COL_SIDX_VERSION, svc_groups, all.p + svc_from, all.n - svc_from, &tmp);
            svc_from = all.n;
            svc_groups = 0;
        }
    }
    if (t.n > 0)
        col_put_xidx(s, wb, CF_SIDX, 0, bkey, COL_SIDX_VERSION, t.n, all.p, all.n, &tmp);
out:
    col_gtab_free(&t);
    free(grp);
    free(all.p);
    free(tmp.p);
    return rv;
}

/* lidx: per service of the frame's log records (and all services): count,
 * the set of levels present (bit L-1 for level L) and the time bounds.
 * Groups reuse col_sgroup: cnt, mind = level mask, mins/maxs = time. */
int col_put_lidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    struct col_sgroup *grp = malloc((size_t)b->nlogs * sizeof *grp + 1);
    struct col_gtab t = {0};
    struct col_buf all = {0}, tmp = {0};
    int rv = col_gtab_init(&t, b->nlogs);

    if (grp == NULL || rv != 0) {
        rv = SL_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < b->nlogs; i++) {
        const slc_log *l = &b->logs[i];
        int fresh;
        struct col_sgroup *e = &grp[col_gtab_get(&t, l->service, &fresh)];

        if (fresh)
            *e = (struct col_sgroup){l->service, 0, 0, 0, 0, 0, UINT64_MAX, 0};
        e->cnt++;
        if (l->level >= 1 && l->level <= 24)
            e->mind |= 1ULL << (l->level - 1);
        e->mins = l->time_ns < e->mins ? l->time_ns : e->mins;
        e->maxs = l->time_ns > e->maxs ? l->time_ns : e->maxs;
    }
    qsort(grp, t.n, sizeof *grp, col_cmp_sgroup);
    for (size_t i = 0; i < t.n; i++) {
        const struct col_sgroup *e = &grp[i];
        size_t from = all.n;
        if (col_buf_str(&all, &b->strs[e->svc]) != 0 || col_buf_varint(&all, e->cnt) != 0 ||
            col_buf_varint(&all, e->mind) != 0 || col_buf_varint(&all, e->mins) != 0 ||
            col_buf_varint(&all, e->maxs) != 0) {
            rv = SL_ENOMEM;
            goto out;
        }
        col_put_xidx(s, wb, CF_LIDX, col_svc_hash(b->strs[e->svc].ptr, b->strs[e->svc].len),
                     bkey, COL_LIDX_VERSION, 1, all.p + from, all.n - from, &tmp);
    }
    if (t.n > 0)
        col_put_xidx(s, wb, CF_LIDX, 0, bkey, COL_LIDX_VERSION, t.n, all.p, all.n, &tmp);
out:
    col_gtab_free(&t);
    free(grp);
    free(all.p);
    free(tmp.p);
    return rv;
}

static void col_tidx_add(uint32_t *slot, size_t mask, const uint8_t (*ids[])[16], size_t *n,
                         const uint8_t (*tid)[16])
{
    uint64_t a, c;

    memcpy(&a, *tid, 8);
    memcpy(&c, *tid + 8, 8);
    for (size_t i = col_mix64(a ^ col_mix64(c)) & mask;; i = (i + 1) & mask) {
        uint32_t e = slot[i];
        if (e == 0) {
            ids[*n] = tid;
            slot[i] = (uint32_t)++*n;
            return;
        }
        if (memcmp(*ids[e - 1], *tid, 16) == 0)
            return;
    }
}

/* Orders pointers to trace ids by the ids' bytes. */
static int col_tid_ptr_cmp(const void *x, const void *y)
{
    const uint8_t(*const *a)[16] = x;
    const uint8_t(*const *b)[16] = y;
    return memcmp(**a, **b, 16);
}

int col_put_tidx(col_store *s, rocksdb_writebatch_t *wb, const slc_batch *b,
                 const uint8_t bkey[COL_BLOCK_KEY_LEN])
{
    size_t items = (size_t)b->nspans + b->nlogs, cap = 16, n = 0;
    uint8_t tkey[COL_TIDX_KEY_LEN];
    const uint8_t(**ids)[16];
    uint32_t *slot;

    while (cap < items * 2)
        cap <<= 1;
    slot = calloc(cap, sizeof *slot);
    ids = malloc((items + 1) * sizeof *ids);
    if (slot == NULL || ids == NULL) {
        free(slot);
        free(ids);
        return SL_ENOMEM;
    }
    memcpy(tkey + 16, bkey, COL_BLOCK_KEY_LEN);
    for (uint32_t i = 0; i < b->nspans; i++)
        col_tidx_add(slot, cap - 1, ids, &n, (const uint8_t(*)[16])b->spans[i].trace_id);
    for (uint32_t i = 0; i < b->nlogs; i++)
        if ((b->logs[i].flags & SLC_LOG_F_TRACE) && !slc_is_zero(b->logs[i].trace_id, 16))
            col_tidx_add(slot, cap - 1, ids, &n, (const uint8_t(*)[16])b->logs[i].trace_id);
    /* In key order: the skiplist memtable inserts a sorted run next to the
     * previous key instead of searching from the top for each. */
    qsort(ids, n, sizeof *ids, col_tid_ptr_cmp);
    for (size_t i = 0; i < n; i++) {
        memcpy(tkey, *ids[i], 16);
        rocksdb_writebatch_put_cf(wb, s->cf[CF_TIDX], (const char *)tkey, COL_TIDX_KEY_LEN, "", 0);
    }
    free(slot);
    free(ids);
    return 0;
}
