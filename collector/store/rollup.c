/*
 * rollup.c - per-minute aggregates and the edge tracker (see rollup.h).
 */
#include "rollup.h"

#include <stdlib.h>
#include <string.h>

#include "common/slc_bytes.h"
#include "sightline.h"

/* ---- keys ------------------------------------------------------------------- */

size_t col_rollup_put_name(uint8_t *p, const char *s, size_t len)
{
    if (len > COL_RK_NAME_MAX)
        len = COL_RK_NAME_MAX;
    p[0] = (uint8_t)len;
    memcpy(p + 1, s, len);
    return 1 + len;
}

size_t col_rollup_svc_key(uint8_t *p, uint8_t kind, uint64_t minute_ns)
{
    p[0] = COL_RK_SVC;
    p[1] = kind;
    slc_put_be64(p + 2, minute_ns);
    return 10;
}

int col_rollup_parse_key(const uint8_t *key, size_t len, col_rollup_key *k)
{
    size_t off = 9;

    if (len >= 11 && key[0] == COL_RK_SVC) {
        k->type = COL_RK_SVC;
        k->tail = key[1];
        k->minute_ns = slc_get_be64(key + 2);
        k->alen = key[10];
        k->a = (const char *)key + 11;
        k->b = (const char *)key + len;
        k->blen = 0;
        return 11 + k->alen == len ? 0 : -1;
    }
    if (len < 9 + 2)
        return -1;
    k->type = key[0];
    k->minute_ns = slc_get_be64(key + 1);
    k->alen = key[off++];
    if (off + k->alen + 1 > len)
        return -1;
    k->a = (const char *)key + off;
    off += k->alen;
    k->blen = key[off++];
    if (off + k->blen > len)
        return -1;
    k->b = (const char *)key + off;
    off += k->blen;
    k->tail = 0;
    if (off < len)
        k->tail = key[off++];
    return off == len ? 0 : -1;
}

/* ---- values ----------------------------------------------------------------- */

/* slc_varint_get inline: histogram deltas and counts are nearly all below
 * 128 (one byte); percentiles and sums take 3 to 6 bytes, read without a
 * bounds check per byte when 10 bytes are left. */
static inline int col_vget(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    uint64_t x = 0;

    if (q < end && *q < 0x80) {
        *v = *q;
        *p = q + 1;
        return 0;
    }
    if (end - q < 10)
        return slc_varint_get(p, end, v);
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t c = *q++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            *p = q;
            return 0;
        }
    }
    return -1;
}

/* Merges the sparse histogram in [p, end) (slc_hist_encode's form: count,
 * sum, min, max, non-empty buckets, then (index delta, count) pairs) into
 * acc->hist exactly as slc_hist_decode_merge() does, and lists in acc->nz
 * the buckets it makes non-zero (which slc_hist_decode_merge cannot tell).
 * One pass: buckets are added as they are read, and taken back out if the
 * input turns out malformed, so bad input changes nothing.  This runs once
 * per aggregate row a query reads.  0 or -1. */
static int col_hist_add_sparse(col_rollup_val *acc, const uint8_t *p, const uint8_t *end)
{
    slc_hist *h = acc->hist;
    uint64_t head[5], pos = 0, total = 0, d, c, added = 0;
    uint32_t nnz0 = acc->nnz;
    const uint8_t *pairs;

    for (int k = 0; k < 5; k++)
        if (col_vget(&p, end, &head[k]) != 0)
            return -1;
    if (head[4] > SLC_HIST_BUCKETS)
        return -1;
    pairs = p;
    for (; added < head[4]; added++) {
        if (end - p >= 2 && !((p[0] | p[1]) & 0x80)) { /* the common case */
            d = p[0];
            c = p[1];
            p += 2;
        } else if (col_vget(&p, end, &d) != 0 || col_vget(&p, end, &c) != 0) {
            goto bad;
        }
        if ((added > 0 && d == 0) || d >= SLC_HIST_BUCKETS - pos || c == 0)
            goto bad;
        pos += d;
        if (h->b[pos] == 0 && acc->nz != NULL && acc->nnz < SLC_HIST_BUCKETS)
            acc->nz[acc->nnz++] = (uint16_t)pos;
        h->b[pos] += c;
        total += c;
    }
    if (p != end || total != head[0] || (head[0] && head[2] > head[3]))
        goto bad;
    if (head[0] == 0)
        return 0;
    if (h->count == 0 || head[2] < h->min)
        h->min = head[2];
    if (head[3] > h->max)
        h->max = head[3];
    h->count += head[0];
    h->sum = head[1] > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + head[1];
    return 0;
bad:
    /* Take back the pairs already added (they decoded before). */
    p = pairs;
    pos = 0;
    for (uint64_t k = 0; k < added; k++) {
        (void)col_vget(&p, end, &d);
        (void)col_vget(&p, end, &c);
        pos += d;
        h->b[pos] -= c;
    }
    acc->nnz = nnz0;
    return -1;
}

/* ---- percentiles ------------------------------------------------------------- */

/* Buckets passed with one sum by col_rollup_percentiles' coarsest step. */
#define COL_PCT_COARSE 64

/* The sum of h->b[i .. i+n), n a multiple of 8: eight counters per step
 * in four two-lane vectors (GNU C vector extension; SSE2 on x86-64). */
typedef uint64_t col_v2u64 __attribute__((vector_size(16)));

static inline uint64_t col_bsum(const slc_hist *h, uint32_t i, uint32_t n)
{
    const uint64_t *b = &h->b[i];
    col_v2u64 a0 = {0, 0}, a1 = {0, 0}, a2 = {0, 0}, a3 = {0, 0}, x0, x1, x2, x3;

    for (uint32_t j = 0; j < n; j += 8) {
        memcpy(&x0, b + j, sizeof x0);
        memcpy(&x1, b + j + 2, sizeof x1);
        memcpy(&x2, b + j + 4, sizeof x2);
        memcpy(&x3, b + j + 6, sizeof x3);
        a0 += x0;
        a1 += x1;
        a2 += x2;
        a3 += x3;
    }
    a0 += a1;
    a2 += a3;
    a0 += a2;
    return a0[0] + a0[1];
}

void col_rollup_percentiles(const slc_hist *h, uint64_t out[4])
{
    static const double qs[4] = {0.50, 0.90, 0.95, 0.99};
    uint64_t rank[4], seen = 0, blk;
    uint32_t i, coarse_end = 0, fine_end = 0, k = 0;

    memset(out, 0, 4 * sizeof out[0]);
    if (h->count == 0)
        return;
    /* The ranks of slc_hist_quantile(), so results are identical; the walk
     * starts at min's bucket (all below are empty) and serves all four. */
    for (int j = 0; j < 4; j++) {
        rank[j] = (uint64_t)(qs[j] * (double)h->count);
        if ((double)rank[j] < qs[j] * (double)h->count)
            rank[j]++;
        if (rank[j] == 0)
            rank[j] = 1;
    }
    /* A latency histogram spans ~1,000 buckets, mostly empty: a block of
     * COL_PCT_COARSE buckets that stays below the next rank is passed with
     * one sum; inside the block that does not, blocks of 8; inside the
     * block of 8 that does not, single buckets. */
    for (i = slc_hist_index(h->min); i < SLC_HIST_BUCKETS && k < 4;) {
        if (i >= coarse_end) {
            coarse_end = i + COL_PCT_COARSE;
            if (coarse_end <= SLC_HIST_BUCKETS &&
                seen + (blk = col_bsum(h, i, COL_PCT_COARSE)) < rank[k]) {
                seen += blk;
                i = coarse_end;
                continue;
            }
        }
        if (i >= fine_end) {
            fine_end = i + 8;
            if (fine_end <= SLC_HIST_BUCKETS && seen + (blk = col_bsum(h, i, 8)) < rank[k]) {
                seen += blk;
                i = fine_end;
                continue;
            }
        }
        seen += h->b[i];
        while (k < 4 && seen >= rank[k]) {
            uint64_t lo, hi, mid;
            slc_hist_bounds(i, &lo, &hi);
            mid = lo + (hi - lo) / 2;
            out[k++] = mid < h->min ? h->min : mid > h->max ? h->max : mid;
        }
        i++;
    }
    for (; k < 4; k++)
        out[k] = h->max;
}

/* ---- whole values --------------------------------------------------------------- */

int col_rollup_head_parse(const uint8_t *v, size_t len, col_rollup_head *h)
{
    const uint8_t *p = v + 1, *end = v + len;

    if (len < 1 || (v[0] != COL_RV_VERSION && v[0] != COL_RV_VERSION_SUM))
        return -1;
    if (col_vget(&p, end, &h->count) != 0 || col_vget(&p, end, &h->errors) != 0)
        return -1;
    h->has_pct = v[0] == COL_RV_VERSION_SUM;
    for (int k = 0; k < 4; k++) {
        h->pct[k] = 0;
        if (h->has_pct && col_vget(&p, end, &h->pct[k]) != 0)
            return -1;
    }
    if (p == end)
        return -1;
    h->hist = p;
    h->hist_len = (size_t)(end - p);
    return 0;
}

int col_rollup_add(col_rollup_val *acc, const uint8_t *v, size_t len)
{
    const uint8_t *p = v, *end = v + len;
    uint64_t c, e, skip;

    if (len < 1 || (v[0] != COL_RV_VERSION && v[0] != COL_RV_VERSION_SUM))
        return -1;
    p++;
    if (col_vget(&p, end, &c) != 0 || col_vget(&p, end, &e) != 0)
        return -1;
    /* The percentiles of version 2 describe this value alone: a sum of
     * values needs its own, from the merged histogram. */
    for (int k = 0; v[0] == COL_RV_VERSION_SUM && k < 4; k++)
        if (col_vget(&p, end, &skip) != 0)
            return -1;
    if (acc->hist != NULL && col_hist_add_sparse(acc, p, end) != 0)
        return -1;
    acc->count += c;
    acc->errors += e;
    return 0;
}

static void col_sort_idx(uint32_t *idx, uint32_t *tmp, size_t k);

/* The most bytes a version 2 value with nnz non-empty buckets takes:
 * version, count, errors, 4 percentiles, the histogram's head, and a
 * (delta, count) pair per bucket, every varint at its longest. */
static size_t col_rv_max(uint32_t nnz)
{
    if (nnz > SLC_HIST_BUCKETS)
        nnz = SLC_HIST_BUCKETS;
    return 1 + 20 + 40 + 4 * 10 + 10 + (size_t)nnz * 20;
}

/* Writes the version 2 value of count, errors and h into buf (room for
 * col_rv_max(nz ? nnz : SLC_HIST_BUCKETS) bytes); returns its length.  The
 * histogram part is slc_hist_encode's bytes.  When nz lists h's non-empty
 * buckets (nnz < SLC_HIST_BUCKETS; any order, repeats and emptied buckets
 * allowed) they are encoded from the list, sorted through idx and tmp
 * (nnz slots each), instead of a scan of all 3,712 buckets; else (nz
 * NULL) by slc_hist_encode. */
static size_t col_rollup_encode_into(uint64_t count, uint64_t errors, const slc_hist *h,
                                     const uint16_t *nz, uint32_t nnz, uint32_t *idx,
                                     uint32_t *tmp, uint8_t *buf)
{
    size_t n = 0, k = 0;
    uint64_t pct[4];
    uint32_t prev = 0;

    col_rollup_percentiles(h, pct);
    buf[n++] = COL_RV_VERSION_SUM;
    n += slc_varint_put(buf + n, count);
    n += slc_varint_put(buf + n, errors);
    for (int q = 0; q < 4; q++)
        n += slc_varint_put(buf + n, pct[q]);
    if (nz == NULL || nnz >= SLC_HIST_BUCKETS)
        return n + slc_hist_encode(h, buf + n, col_rv_max(SLC_HIST_BUCKETS) - n);
    for (uint32_t i = 0; i < nnz; i++)
        idx[i] = nz[i];
    col_sort_idx(idx, tmp, nnz);
    for (uint32_t i = 0; i < nnz; i++)
        if ((i == 0 || idx[i] != idx[i - 1]) && h->b[idx[i]] != 0)
            idx[k++] = idx[i];
    n += slc_varint_put(buf + n, h->count);
    n += slc_varint_put(buf + n, h->sum);
    n += slc_varint_put(buf + n, h->min);
    n += slc_varint_put(buf + n, h->max);
    n += slc_varint_put(buf + n, k);
    for (size_t i = 0; i < k; i++) {
        n += slc_varint_put(buf + n, idx[i] - prev);
        n += slc_varint_put(buf + n, h->b[idx[i]]);
        prev = idx[i];
    }
    return n;
}

uint8_t *col_rollup_encode(uint64_t count, uint64_t errors, const slc_hist *h, size_t *len)
{
    uint8_t *buf = malloc(col_rv_max(SLC_HIST_BUCKETS));

    if (buf == NULL)
        return NULL;
    *len = col_rollup_encode_into(count, errors, h, NULL, 0, NULL, NULL, buf);
    return buf;
}

/* The merge operator's working memory, one per thread that merges (RocksDB
 * runs merges in its flush and compaction threads and in every reading
 * thread): a histogram that stays allocated and is emptied through the
 * list of buckets the merge filled, so a merge costs its input instead of
 * a 29 KiB allocation, clear and scan (~67 KiB a thread). */
struct col_merge_scratch {
    slc_hist h;
    uint16_t nz[SLC_HIST_BUCKETS];
    uint32_t idx[SLC_HIST_BUCKETS], tmp[SLC_HIST_BUCKETS];
};

static pthread_key_t col_merge_key;
static pthread_once_t col_merge_once = PTHREAD_ONCE_INIT;
static int col_merge_key_ok;

static void col_merge_key_init(void)
{
    col_merge_key_ok = pthread_key_create(&col_merge_key, free) == 0;
}

/* This thread's scratch (freed at thread exit), or a new one the caller
 * frees (*owned = 1) when no key could be made.  NULL when out of memory. */
static struct col_merge_scratch *col_merge_scratch_get(int *owned)
{
    struct col_merge_scratch *sc = NULL;

    *owned = 0;
    (void)pthread_once(&col_merge_once, col_merge_key_init);
    if (col_merge_key_ok)
        sc = pthread_getspecific(col_merge_key);
    if (sc != NULL)
        return sc;
    sc = calloc(1, sizeof *sc);
    if (sc == NULL)
        return NULL;
    if (!col_merge_key_ok || pthread_setspecific(col_merge_key, sc) != 0)
        *owned = 1;
    return sc;
}

uint8_t *col_rollup_merge(const uint8_t *existing, size_t elen, const char *const *ops,
                          const size_t *oplens, int nops, size_t *outlen)
{
    int owned;
    struct col_merge_scratch *sc = col_merge_scratch_get(&owned);
    col_rollup_val acc = {0};
    uint8_t *out;

    if (sc == NULL)
        return NULL;
    acc.hist = &sc->h;
    acc.nz = sc->nz;
    if (existing != NULL)
        (void)col_rollup_add(&acc, existing, elen);
    for (int i = 0; i < nops; i++)
        (void)col_rollup_add(&acc, (const uint8_t *)ops[i], oplens[i]);
    /* Sized for the buckets filled: ~5 KiB for a 240-bucket value, not the
     * 74 KiB a histogram with every bucket could take. */
    out = malloc(col_rv_max(acc.nnz));
    if (out != NULL)
        *outlen = col_rollup_encode_into(acc.count, acc.errors, &sc->h, sc->nz, acc.nnz, sc->idx,
                                         sc->tmp, out);
    /* Empty again for the next merge of this thread. */
    if (acc.nnz < SLC_HIST_BUCKETS) {
        for (uint32_t i = 0; i < acc.nnz; i++)
            sc->h.b[sc->nz[i]] = 0;
        sc->h.count = sc->h.sum = sc->h.min = sc->h.max = 0;
    } else {
        slc_hist_reset(&sc->h);
    }
    if (owned)
        free(sc);
    return out;
}

/* ---- grouping one frame ------------------------------------------------------- */

/* A group: two string refs (batch indices or tracker ids), a tail byte and
 * a minute.  Grouped with a small open-addressing table per frame. */
struct col_gkey {
    uint32_t a, b;
    uint8_t tail;
    uint64_t minute;
};

struct col_groups {
    struct col_gkey *keys;
    uint32_t *slot_gid; /* table slot -> group id + 1 (0 = empty) */
    size_t cap, n, mask;
};

static int col_groups_init(struct col_groups *g, size_t items)
{
    size_t cap = 16;
    while (cap < items * 2)
        cap <<= 1;
    g->keys = malloc(items * sizeof *g->keys + 1);
    g->slot_gid = calloc(cap, sizeof *g->slot_gid);
    g->cap = cap;
    g->mask = cap - 1;
    g->n = 0;
    return g->keys != NULL && g->slot_gid != NULL ? 0 : SL_ENOMEM;
}

static void col_groups_free(struct col_groups *g)
{
    free(g->keys);
    free(g->slot_gid);
}

static uint32_t col_groups_id(struct col_groups *g, const struct col_gkey *k)
{
    uint64_t h = ((uint64_t)k->a * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)k->b * 0xc2b2ae3d27d4eb4fULL) ^
                 (k->minute / COL_MINUTE_NS * 0x165667b19e3779f9ULL) ^ k->tail;
    h ^= h >> 29;
    for (size_t i = (size_t)h & g->mask;; i = (i + 1) & g->mask) {
        uint32_t s = g->slot_gid[i];
        if (s == 0) {
            g->keys[g->n] = *k;
            g->slot_gid[i] = (uint32_t)++g->n;
            return (uint32_t)(g->n - 1);
        }
        const struct col_gkey *o = &g->keys[s - 1];
        if (o->a == k->a && o->b == k->b && o->tail == k->tail && o->minute == k->minute)
            return s - 1;
    }
}

/* Sorts k bucket indices (< 4096) ascending: insertion for the tiny
 * groups most are, else two stable counting passes of 6 bits through tmp
 * (k slots), O(k), where qsort cost ~6 us for a group of a few hundred
 * spans (a per-service group of a 512-span frame). */
static void col_sort_idx(uint32_t *idx, uint32_t *tmp, size_t k)
{
    uint32_t start[64];

    if (k <= 32) {
        for (size_t i = 1; i < k; i++) {
            uint32_t x = idx[i];
            size_t j = i;
            for (; j > 0 && idx[j - 1] > x; j--)
                idx[j] = idx[j - 1];
            idx[j] = x;
        }
        return;
    }
    for (unsigned pass = 0; pass < 2; pass++) {
        const uint32_t *src = pass == 0 ? idx : tmp;
        uint32_t *dst = pass == 0 ? tmp : idx, sum = 0;
        unsigned sh = 6 * pass;

        memset(start, 0, sizeof start);
        for (size_t i = 0; i < k; i++)
            start[(src[i] >> sh) & 63]++;
        for (unsigned d = 0; d < 64; d++) {
            uint32_t c = start[d];
            start[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < k; i++)
            dst[start[(src[i] >> sh) & 63]++] = src[i];
    }
}

/* Encodes the histogram of vals[order[from..to)] exactly as slc_hist_encode
 * would encode a histogram holding those values, without a dense
 * histogram: slc_hist_encode scans all 3,712 buckets, which for the few
 * dozen spans of a group costs far more than the group itself.  idx and
 * tmp are scratch of at least (to - from) slots each.  Returns the bytes
 * written (buf must hold slc_hist_encoded_max()). */
static size_t col_hist_encode_vals(const uint64_t *vals, const uint32_t *order, size_t from,
                                   size_t to, uint32_t *idx, uint32_t *tmp, uint8_t *buf)
{
    uint64_t count = to - from, sum = 0, min = 0, max = 0;
    size_t n = 0, k = 0, nz = 0;
    uint32_t prev = 0;

    for (size_t i = from; i < to; i++) {
        uint64_t v = vals[order[i]];
        if (i == from || v < min)
            min = v;
        if (v > max)
            max = v;
        sum = v > UINT64_MAX - sum ? UINT64_MAX : sum + v;
        idx[k++] = slc_hist_index(v);
    }
    col_sort_idx(idx, tmp, k);
    for (size_t i = 0; i < k; i++)
        nz += i == 0 || idx[i] != idx[i - 1];
    n += slc_varint_put(buf + n, count);
    n += slc_varint_put(buf + n, sum);
    n += slc_varint_put(buf + n, min);
    n += slc_varint_put(buf + n, max);
    n += slc_varint_put(buf + n, nz);
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && idx[j] == idx[i])
            j++;
        n += slc_varint_put(buf + n, idx[i] - prev);
        n += slc_varint_put(buf + n, j - i);
        prev = idx[i];
        i = j;
    }
    return n;
}

/* Sorts item indices by group id (counting sort); order[] receives them
 * and start[g] the first position of group g (start has ngroups+1 slots). */
static void col_order_by_group(const uint32_t *gid, size_t n, size_t ngroups, uint32_t *order,
                               uint32_t *start)
{
    memset(start, 0, (ngroups + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[gid[i] + 1]++;
    for (size_t g = 0; g < ngroups; g++)
        start[g + 1] += start[g];
    for (size_t i = 0; i < n; i++)
        order[start[gid[i]]++] = (uint32_t)i;
    for (size_t g = ngroups; g > 0; g--)
        start[g] = start[g - 1];
    start[0] = 0;
}

struct col_items {
    uint32_t *gid, *order, *start;
    uint64_t *val;
    uint8_t *err;
};

static int col_items_alloc(struct col_items *it, size_t n)
{
    it->gid = malloc(n * sizeof *it->gid + 1);
    it->order = malloc(n * sizeof *it->order + 1);
    it->start = malloc((n + 1) * sizeof *it->start);
    it->val = malloc(n * sizeof *it->val + 1);
    it->err = malloc(n + 1);
    return it->gid && it->order && it->start && it->val && it->err ? 0 : SL_ENOMEM;
}

static void col_items_free(struct col_items *it)
{
    free(it->gid);
    free(it->order);
    free(it->start);
    free(it->val);
    free(it->err);
}

/* Builds one operand per group and emits it.  name(ctx, ref, &len) turns
 * a group's string ref into bytes. */
typedef const char *(*col_name_fn)(void *ctx, uint32_t ref, size_t *len);

static int col_emit_groups(uint8_t type, struct col_groups *g, struct col_items *it, size_t n,
                           int with_tail, col_name_fn name, void *nctx, col_rollup_emit_fn emit,
                           void *arg)
{
    uint8_t key[1 + 8 + 256 + 256 + 1];
    uint8_t *val = malloc(1 + 20 + slc_hist_encoded_max());
    uint32_t *idx = malloc(2 * n * sizeof *idx + 1); /* idx, then sort scratch */

    if (val == NULL || idx == NULL) {
        free(val);
        free(idx);
        return SL_ENOMEM;
    }
    col_order_by_group(it->gid, n, g->n, it->order, it->start);
    for (size_t gi = 0; gi < g->n; gi++) {
        const struct col_gkey *k = &g->keys[gi];
        uint64_t errors = 0;
        size_t klen = 0, alen, blen, vlen = 0;
        const char *a = name(nctx, k->a, &alen), *b = name(nctx, k->b, &blen);

        for (size_t i = it->start[gi]; i < it->start[gi + 1]; i++)
            errors += it->err[it->order[i]];
        if (type == COL_RK_SVC) {
            klen = col_rollup_svc_key(key, k->tail, k->minute);
            klen += col_rollup_put_name(key + klen, a, alen);
        } else {
            key[klen++] = type;
            slc_put_be64(key + klen, k->minute);
            klen += 8;
            klen += col_rollup_put_name(key + klen, a, alen);
            klen += col_rollup_put_name(key + klen, b, blen);
            if (with_tail)
                key[klen++] = k->tail;
        }
        val[vlen++] = COL_RV_VERSION;
        vlen += slc_varint_put(val + vlen, it->start[gi + 1] - it->start[gi]);
        vlen += slc_varint_put(val + vlen, errors);
        vlen += col_hist_encode_vals(it->val, it->order, it->start[gi], it->start[gi + 1], idx,
                                     idx + n, val + vlen);
        emit(arg, key, klen, val, vlen);
    }
    free(val);
    free(idx);
    return 0;
}

static const char *col_batch_name(void *ctx, uint32_t ref, size_t *len)
{
    const slc_batch *b = ctx;
    *len = b->strs[ref].len;
    return b->strs[ref].ptr;
}

static const char *col_tracker_name(void *ctx, uint32_t ref, size_t *len)
{
    const char *s = col_edges_name(ctx, (uint16_t)ref);
    *len = strlen(s);
    return s;
}

static const char *col_empty_name(void *ctx, uint32_t ref, size_t *len)
{
    (void)ctx;
    (void)ref;
    *len = 0;
    return "";
}

static const char *col_svc_or_empty(void *ctx, uint32_t ref, size_t *len)
{
    return ref == UINT32_MAX ? col_empty_name(ctx, ref, len) : col_batch_name(ctx, ref, len);
}

/* The per-service RED operands ('s') of the spans whose per-operation
 * groups g and it->gid hold: each (service, op, kind, minute) group maps to
 * its (service, kind, minute) group, so spans are hashed once per frame,
 * and the groups once more.  Overwrites it->gid. */
static int col_emit_svc(const slc_batch *b, const struct col_groups *g, struct col_items *it,
                        col_rollup_emit_fn emit, void *arg)
{
    struct col_groups sg = {0};
    uint32_t *map = malloc(g->n * sizeof *map + 1);
    int rv = map != NULL ? col_groups_init(&sg, g->n) : SL_ENOMEM;

    if (rv == 0) {
        for (size_t gi = 0; gi < g->n; gi++) {
            struct col_gkey k = g->keys[gi];
            k.b = UINT32_MAX;
            map[gi] = col_groups_id(&sg, &k);
        }
        for (uint32_t i = 0; i < b->nspans; i++)
            it->gid[i] = map[it->gid[i]];
        rv = col_emit_groups(COL_RK_SVC, &sg, it, b->nspans, 1, col_svc_or_empty, (void *)b, emit,
                             arg);
    }
    col_groups_free(&sg);
    free(map);
    return rv;
}

int col_rollup_frame(const slc_batch *b, col_edges *t, const col_edge_ev *evs, size_t nev,
                     col_rollup_emit_fn emit, void *arg)
{
    size_t n = b->nspans > b->nlogs ? b->nspans : b->nlogs;
    struct col_groups g = {0};
    struct col_items it = {0};
    int rv;

    if (nev > n)
        n = nev;
    if (n == 0)
        return 0;
    rv = col_items_alloc(&it, n);
    if (rv != 0)
        goto out;
    if (b->nspans > 0) {
        rv = col_groups_init(&g, b->nspans);
        if (rv != 0)
            goto out;
        for (uint32_t i = 0; i < b->nspans; i++) {
            const slc_span *sp = &b->spans[i];
            struct col_gkey k = {sp->service, sp->name, sp->kind,
                                 sp->start_ns - sp->start_ns % COL_MINUTE_NS};
            it.gid[i] = col_groups_id(&g, &k);
            it.val[i] = sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0;
            it.err[i] = sp->status == SLC_STATUS_ERROR;
        }
        rv = col_emit_groups(COL_RK_RED, &g, &it, b->nspans, 1, col_batch_name, (void *)b, emit,
                             arg);
        if (rv == 0)
            rv = col_emit_svc(b, &g, &it, emit, arg);
        col_groups_free(&g);
        memset(&g, 0, sizeof g);
        if (rv != 0)
            goto out;
    }
    if (b->nlogs > 0) {
        rv = col_groups_init(&g, b->nlogs);
        if (rv != 0)
            goto out;
        for (uint32_t i = 0; i < b->nlogs; i++) {
            const slc_log *l = &b->logs[i];
            uint8_t cls = (uint8_t)(l->level >= 1 ? (l->level - 1) / 4 : 0);
            struct col_gkey k = {l->service, UINT32_MAX, cls,
                                 l->time_ns - l->time_ns % COL_MINUTE_NS};
            it.gid[i] = col_groups_id(&g, &k);
            it.val[i] = 0;
            it.err[i] = l->level >= SLC_LVL_ERROR;
        }
        rv = col_emit_groups(COL_RK_LOG, &g, &it, b->nlogs, 1, col_svc_or_empty, (void *)b, emit,
                             arg);
        col_groups_free(&g);
        memset(&g, 0, sizeof g);
        if (rv != 0)
            goto out;
    }
    if (nev > 0) {
        rv = col_groups_init(&g, nev);
        if (rv != 0)
            goto out;
        for (size_t i = 0; i < nev; i++) {
            struct col_gkey k = {evs[i].caller, evs[i].callee, 0, evs[i].minute_ns};
            it.gid[i] = col_groups_id(&g, &k);
            it.val[i] = evs[i].dur_ns;
            it.err[i] = evs[i].error;
        }
        rv = col_emit_groups(COL_RK_EDGE, &g, &it, nev, 0, col_tracker_name, t, emit, arg);
    }
out:
    col_groups_free(&g);
    col_items_free(&it);
    return rv;
}

/* ---- the edge tracker --------------------------------------------------------- */

#define COL_EDGE_PROBE 8
#define COL_EDGE_MAX_SVC 4096
#define COL_EDGE_AHEAD 8 /* prefetch distance, in spans */

struct col_recent {
    uint64_t span;   /* 0 = empty */
    uint16_t svc;
};

struct col_pending {
    uint64_t parent; /* 0 = empty */
    uint64_t child;  /* the child's span id: a retried frame replaces its own entry */
    uint64_t minute_ns;
    uint64_t dur_ns;
    uint16_t svc;
    uint8_t error;
};

struct col_edges {
    pthread_mutex_t mu;
    struct col_recent *recent;
    struct col_pending *pending;
    size_t mask, pmask;
    size_t clock; /* round-robin victim when a probe chain is full */
    char *names[COL_EDGE_MAX_SVC];
    size_t namelen[COL_EDGE_MAX_SVC]; /* names may contain U+0000 */
    uint16_t nnames;
};

col_edges *col_edges_new(size_t slots)
{
    col_edges *t = calloc(1, sizeof *t);
    size_t cap = 1024;

    if (slots == 0)
        slots = (size_t)1 << 20;
    while (cap < slots)
        cap <<= 1;
    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->recent = calloc(cap, sizeof *t->recent);
    t->pending = calloc(cap / 4, sizeof *t->pending);
    t->mask = cap - 1;
    t->pmask = cap / 4 - 1;
    if (t->recent == NULL || t->pending == NULL) {
        col_edges_free(t);
        return NULL;
    }
    return t;
}

void col_edges_free(col_edges *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < t->nnames; i++)
        free(t->names[i]);
    free(t->recent);
    free(t->pending);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

size_t col_edges_bytes(const col_edges *t)
{
    return (t->mask + 1) * sizeof *t->recent + (t->pmask + 1) * sizeof *t->pending;
}

const char *col_edges_name(col_edges *t, uint16_t id)
{
    return id < t->nnames ? t->names[id] : "";
}

static uint64_t col_id64(const uint8_t id[8])
{
    uint64_t v;
    memcpy(&v, id, 8);
    return v;
}

static size_t col_mix(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return (size_t)v;
}

/* Service name -> id; names beyond the table's capacity share id 0xffff
 * (their edges are dropped).  Called with the mutex held. */
static uint16_t col_svc_id(col_edges *t, const slc_str *s)
{
    for (unsigned i = 0; i < t->nnames; i++)
        if (t->namelen[i] == s->len && memcmp(t->names[i], s->ptr, s->len) == 0)
            return (uint16_t)i;
    if (t->nnames >= COL_EDGE_MAX_SVC - 1 || s->len > COL_RK_NAME_MAX)
        return 0xffff;
    t->names[t->nnames] = malloc((size_t)s->len + 1);
    if (t->names[t->nnames] == NULL)
        return 0xffff;
    memcpy(t->names[t->nnames], s->ptr, s->len);
    t->names[t->nnames][s->len] = '\0';
    t->namelen[t->nnames] = s->len;
    return t->nnames++;
}

static void col_recent_put(col_edges *t, uint64_t span, uint16_t svc)
{
    size_t h = col_mix(span);
    for (int p = 0; p < COL_EDGE_PROBE; p++) {
        struct col_recent *r = &t->recent[(h + (size_t)p) & t->mask];
        if (r->span == 0 || r->span == span) {
            r->span = span;
            r->svc = svc;
            return;
        }
    }
    t->recent[(h + t->clock++ % COL_EDGE_PROBE) & t->mask] = (struct col_recent){span, svc};
}

static int col_recent_get(const col_edges *t, uint64_t span, uint16_t *svc)
{
    size_t h = col_mix(span);
    for (int p = 0; p < COL_EDGE_PROBE; p++) {
        const struct col_recent *r = &t->recent[(h + (size_t)p) & t->mask];
        if (r->span == span) {
            *svc = r->svc;
            return 1;
        }
        if (r->span == 0)
            return 0;
    }
    return 0;
}

/* Puts a waiting child; the same (parent, child) again (a retried frame)
 * replaces its entry instead of adding a second one.  Returns the slot. */
static size_t col_pending_put(col_edges *t, const struct col_pending *pe)
{
    size_t h = col_mix(pe->parent), slot;
    for (int p = 0; p < COL_EDGE_PROBE; p++) {
        slot = (h + (size_t)p) & t->pmask;
        if (t->pending[slot].parent == pe->parent && t->pending[slot].child == pe->child) {
            t->pending[slot] = *pe;
            return slot;
        }
    }
    for (int p = 0; p < COL_EDGE_PROBE; p++) {
        slot = (h + (size_t)p) & t->pmask;
        if (t->pending[slot].parent == 0) {
            t->pending[slot] = *pe;
            return slot;
        }
    }
    slot = (h + t->clock++ % COL_EDGE_PROBE) & t->pmask;
    t->pending[slot] = *pe;
    return slot;
}

struct col_evbuf {
    col_edge_ev *v;
    size_t n, cap;
};

static int col_ev_push(struct col_evbuf *b, const col_edge_ev *e)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        col_edge_ev *nv = realloc(b->v, nc * sizeof *nv);
        if (nv == NULL)
            return SL_ENOMEM;
        b->v = nv;
        b->cap = nc;
    }
    b->v[b->n++] = *e;
    return 0;
}

static int col_ref_push(col_edges_txn *tx, size_t *cap, size_t slot, const struct col_pending *e,
                        uint8_t added)
{
    if (tx->nrefs == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct col_edge_ref *nr = realloc(tx->refs, nc * sizeof *nr);
        if (nr == NULL)
            return SL_ENOMEM;
        tx->refs = nr;
        *cap = nc;
    }
    tx->refs[tx->nrefs++] = (struct col_edge_ref){e->parent, e->child, slot, added};
    return 0;
}

/* Clears the pending entries of tx marked added (or not): each only if it
 * still holds the same (parent, child), since another frame may have
 * reused the slot meanwhile. */
static void col_txn_clear(col_edges *t, col_edges_txn *tx, uint8_t added)
{
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < tx->nrefs; i++) {
        const struct col_edge_ref *r = &tx->refs[i];
        struct col_pending *e = &t->pending[r->slot & t->pmask];
        if (r->added == added && e->parent == r->parent && e->child == r->child)
            e->parent = 0;
    }
    pthread_mutex_unlock(&t->mu);
}

static void col_txn_free(col_edges_txn *tx)
{
    free(tx->evs);
    free(tx->refs);
    memset(tx, 0, sizeof *tx);
}

void col_edges_commit(col_edges *t, col_edges_txn *tx)
{
    if (tx->nrefs > 0)
        col_txn_clear(t, tx, 0);
    col_txn_free(tx);
}

void col_edges_abort(col_edges *t, col_edges_txn *tx)
{
    if (tx->nrefs > 0)
        col_txn_clear(t, tx, 1);
    col_txn_free(tx);
}

int col_edges_observe(col_edges *t, const slc_batch *b, col_edges_txn *tx)
{
    struct col_evbuf out = {0};
    uint16_t *svc = NULL;
    size_t refcap = 0;
    int rv = 0;

    memset(tx, 0, sizeof *tx);
    if (b->nspans == 0)
        return 0;
    svc = malloc(b->nspans * sizeof *svc);
    if (svc == NULL)
        return SL_ENOMEM;
    pthread_mutex_lock(&t->mu);
    /* The whole frame first, so a parent later in the same frame is found.
     * Every probe is a cache miss in tables of tens of MiB: both loops
     * prefetch the slots of the span COL_EDGE_AHEAD places ahead. */
    for (uint32_t i = 0, prev = UINT32_MAX; i < b->nspans; i++) {
        const slc_span *sp = &b->spans[i];
        if (i + COL_EDGE_AHEAD < b->nspans)
            __builtin_prefetch(
                &t->recent[col_mix(col_id64(b->spans[i + COL_EDGE_AHEAD].span_id)) & t->mask], 1);
        svc[i] = sp->service == prev && i > 0 ? svc[i - 1] : col_svc_id(t, &b->strs[sp->service]);
        prev = sp->service;
        if (col_id64(sp->span_id) != 0)
            col_recent_put(t, col_id64(sp->span_id), svc[i]);
    }
    for (uint32_t i = 0; i < b->nspans && rv == 0; i++) {
        const slc_span *sp = &b->spans[i];
        uint64_t parent = col_id64(sp->parent_id), self = col_id64(sp->span_id);
        uint64_t dur = sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0;
        uint16_t psvc;

        if (i + COL_EDGE_AHEAD < b->nspans) {
            const slc_span *ah = &b->spans[i + COL_EDGE_AHEAD];
            __builtin_prefetch(&t->pending[col_mix(col_id64(ah->span_id)) & t->pmask], 1);
            __builtin_prefetch(&t->recent[col_mix(col_id64(ah->parent_id)) & t->mask], 0);
        }
        /* Children that arrived before this span. */
        if (self != 0) {
            size_t h = col_mix(self);
            for (int p = 0; p < COL_EDGE_PROBE && rv == 0; p++) {
                struct col_pending *e = &t->pending[(h + (size_t)p) & t->pmask];
                if (e->parent != self)
                    continue;
                if (e->svc != svc[i] && e->svc != 0xffff && svc[i] != 0xffff) {
                    col_edge_ev ev = {svc[i], e->svc, e->minute_ns, e->dur_ns, e->error};
                    rv = col_ev_push(&out, &ev);
                }
                /* Cleared by col_edges_commit once the frame is stored: if
                 * the write fails, the retry finds the child again. */
                if (rv == 0)
                    rv = col_ref_push(tx, &refcap, (h + (size_t)p) & t->pmask, e, 0);
            }
        }
        if (parent == 0 || rv != 0)
            continue;
        if (col_recent_get(t, parent, &psvc)) {
            if (psvc != svc[i] && psvc != 0xffff && svc[i] != 0xffff) {
                col_edge_ev ev = {psvc, svc[i], sp->start_ns - sp->start_ns % COL_MINUTE_NS, dur,
                                  sp->status == SLC_STATUS_ERROR};
                rv = col_ev_push(&out, &ev);
            }
        } else {
            struct col_pending pe = {parent, self, sp->start_ns - sp->start_ns % COL_MINUTE_NS,
                                     dur, svc[i], sp->status == SLC_STATUS_ERROR};
            rv = col_ref_push(tx, &refcap, col_pending_put(t, &pe), &pe, 1);
        }
    }
    pthread_mutex_unlock(&t->mu);
    free(svc);
    tx->evs = out.v;
    tx->nev = out.n;
    if (rv != 0) {
        col_edges_abort(t, tx);
        return rv;
    }
    return 0;
}
