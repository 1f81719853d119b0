/*
 * coldblock_enc.c - the sealed-block encoder: col_cold_encode and
 * col_cold_encode_ex (coldblock.h; byte layout in docs/sealed-block.md).
 * Separate from the decoder (coldblock_dec.c): the two share only the
 * format (coldblock_int.h); the encoder runs when the store seals a block
 * (store_seal.c), the decoder on every read of one, and each is read,
 * reviewed and changed on its own.
 *
 * Encoder: sort spans by (trace id, start), logs by (trace id, time) and
 * trace-less logs by time; walk the traces in id order and append each
 * field of each item to its own stream (column) of the current page; cut
 * the page at ~64 KiB of raw streams (whole traces only); code each stream
 * big enough on its own (tiny ones in runs) with the smallest of: stored,
 * static order-0 rANS, zstd; put a directory (page sizes, sorted trace
 * ids) in front.  What makes the columns small:
 *   - the trace id is stored once, in the directory;
 *   - a parent is an index within the trace, a log's span likewise;
 *   - a start time is a delta from the parent's (or the previous span's)
 *     start, an end a duration, a log time a delta from its span's start;
 *   - strings are stored once per page, in order of first use, so a
 *     reference to a string not seen yet is the constant 0; a string that
 *     ends in a decimal number is stored as a prefix (kept once) plus the
 *     number ("cust-4821", "request id=1234");
 *   - attributes: an item stores one "shape" number (its list of
 *     (key, type) columns, defined at first use) and each value goes to
 *     its column, so each column's entropy coder sees one distribution; a
 *     double that is a short decimal (12.34) is stored as 1234 and the
 *     column's scale;
 *   - numbers (times, durations, string numbers, int and double values)
 *     are coded per stream as whichever is smaller: a dictionary of up to
 *     256 distinct values plus one index byte per value, or one bit-length
 *     byte per value plus the bits below the leading one, packed in a
 *     stream of their own that is stored uncompressed (random low bits
 *     are what they are; their lengths compress).
 * Why rANS and not only zstd: most columns are a few random-ish symbols
 * per item, where zstd's fast levels take matches that cost more than the
 * literals (43% above the entropy at level 3 on a 4-symbol stream) and its
 * optimal parser costs ~200 us per KiB; a static order-0 rANS coder costs
 * the order-0 entropy plus its table (a few bytes per symbol) and decodes
 * a symbol in a few ns.
 */
#include "coldblock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "coldblock_int.h"
#include "sightline.h"
#include "common/slc_util.h"

typedef struct sbuf {
    uint8_t *p;
    size_t len, cap;
} sbuf;

/* Values of a number stream, serialised at the end of the page. */
typedef struct vbuf {
    uint64_t *v;
    uint32_t n, cap;
} vbuf;

/* An attribute column of the page being built. */
typedef struct ecol {
    sbuf s;    /* strings: refs; bools: bytes */
    vbuf v;    /* ints, doubles: their 64 bits until the page is closed */
    sbuf h, t; /* ints, doubles: serialised head and tail */
    sbuf x;    /* doubles: escapes (8 bytes each) */
    uint8_t type;
} ecol;

/* Sort key of a span or log: trace id as two big-endian words (so integer
 * order is byte order), time, input index (ties keep input order). */
typedef struct skey {
    uint64_t hi, lo, t;
    uint32_t idx;
} skey;

typedef struct pfxent {
    const char *p;
    uint32_t len;
} pfxent;

typedef struct eshape {
    uint32_t first, n;
} eshape;

typedef struct idix {
    uint64_t id;
    uint32_t ix;
} idix;

typedef struct enc {
    const slc_batch *b;
    int oom;
    int level;
    uint32_t page_bytes;
    ZSTD_CCtx *cctx;
    uint64_t base; /* smallest time in the block */
    /* Per batch string: the page (stamp) it last got a page index in, that
     * index, and whether its UTF-8 was checked. */
    uint32_t *sstamp, *spidx;
    uint8_t *sok;
    uint32_t stamp;
    /* The page being built. */
    sbuf st[ST_FIRST_NUM];
    vbuf pv[NNUM];
    sbuf nh[NNUM], nt[NNUM]; /* serialised number streams */
    ecol *col;
    uint32_t ncols, capcols;
    uint32_t ntraces, nspans, nlogs, nevents, nlinks, nattrs, nstrs, npfx;
    /* (key, type) -> column + 1, open addressing */
    uint64_t *ckey;
    uint32_t *cslot, ccap;
    /* prefix -> index + 1 */
    pfxent *pfx;
    uint32_t cappfx, *pslot, pcap;
    /* shapes: column lists, concatenated in shc; slots hold shape + 1 */
    eshape *shp;
    uint32_t nsh, capsh, *shc, nshc, capshc, *shslot, shcap;
    uint32_t *seq, capseq; /* the columns of the item being encoded */
    idix *ids;             /* parent lookup in big traces */
    uint32_t capids;
    sbuf pages, dir, raw, z, chdr, cdata;
} enc;

static int sb_grow(enc *e, sbuf *s, size_t n)
{
    if (e->oom)
        return -1;
    size_t nc = s->cap ? s->cap * 2 : 256;
    while (nc - s->len < n)
        nc *= 2;
    uint8_t *p = realloc(s->p, nc);
    if (p == NULL) {
        e->oom = 1;
        return -1;
    }
    s->p = p;
    s->cap = nc;
    return 0;
}

static inline void put_varint(enc *e, sbuf *s, uint64_t v)
{
    if (s->cap - s->len < 10 && sb_grow(e, s, 10))
        return;
    s->len += slc_varint_put(s->p + s->len, v);
}

static inline void put_bytes(enc *e, sbuf *s, const void *src, size_t n)
{
    if (n == 0 || (s->cap - s->len < n && sb_grow(e, s, n)))
        return;
    memcpy(s->p + s->len, src, n);
    s->len += n;
}

static inline void put_u8(enc *e, sbuf *s, uint8_t v)
{
    if (s->cap == s->len && sb_grow(e, s, 1))
        return;
    s->p[s->len++] = v;
}

static inline void put_val(enc *e, vbuf *s, uint64_t v)
{
    if (s->n == s->cap) {
        uint32_t nc = s->cap ? s->cap * 2 : 256;
        uint64_t *p = e->oom ? NULL : realloc(s->v, (size_t)nc * sizeof *p);
        if (p == NULL) {
            e->oom = 1;
            return;
        }
        s->v = p;
        s->cap = nc;
    }
    s->v[s->n++] = v;
}

#define PV(e, st) (&(e)->pv[(st)-ST_FIRST_NUM])

/* Grows an array of *cap elements of sz bytes to hold need. */
static int egrow(enc *e, void **arr, uint32_t *cap, uint32_t need, size_t sz)
{
    if (slc_grow(arr, cap, need, sz) != 0) {
        e->oom = 1;
        return SL_ENOMEM;
    }
    return SL_OK;
}

static uint64_t fnv(const void *p, size_t n)
{
    const uint8_t *q = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ q[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* Rebuilds an open-addressing table of *cap slots (slot = item + 1) at
 * twice the size when n + 1 items would fill 3/4 of it; hash(i) gives the
 * hash of item i. */
static int table_fit(enc *e, uint32_t **slots, uint32_t *cap, uint32_t n,
                     uint64_t (*hash)(const enc *, uint32_t))
{
    if ((uint64_t)(n + 1) * 4 < (uint64_t)*cap * 3)
        return SL_OK;
    uint32_t nc = *cap ? *cap * 2 : 256;
    uint32_t *t = calloc(nc, sizeof *t);
    if (t == NULL) {
        e->oom = 1;
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = (uint32_t)hash(e, i) & (nc - 1);
        while (t[j])
            j = (j + 1) & (nc - 1);
        t[j] = i + 1;
    }
    free(*slots);
    *slots = t;
    *cap = nc;
    return SL_OK;
}

static uint64_t pfx_hash(const enc *e, uint32_t i)
{
    return fnv(e->pfx[i].p, e->pfx[i].len);
}

static uint64_t shape_hash(const enc *e, uint32_t i)
{
    return fnv(e->shc + e->shp[i].first, (size_t)e->shp[i].n * sizeof(uint32_t));
}

/* Index of prefix p[0..len) in the page's prefix table, adding it (and its
 * bytes to the prefix streams) when new. */
static uint32_t pfx_index(enc *e, const char *p, uint32_t len)
{
    if (table_fit(e, &e->pslot, &e->pcap, e->npfx, pfx_hash))
        return 0;
    uint32_t j = (uint32_t)fnv(p, len) & (e->pcap - 1);
    while (e->pslot[j]) {
        const pfxent *x = &e->pfx[e->pslot[j] - 1];
        if (x->len == len && (len == 0 || memcmp(x->p, p, len) == 0))
            return e->pslot[j] - 1;
        j = (j + 1) & (e->pcap - 1);
    }
    if (egrow(e, (void **)&e->pfx, &e->cappfx, e->npfx + 1, sizeof *e->pfx))
        return 0;
    e->pfx[e->npfx] = (pfxent){p, len};
    e->pslot[j] = e->npfx + 1;
    put_varint(e, &e->st[ST_PFX_LEN], len);
    put_bytes(e, &e->st[ST_PFX_BYTES], p, len);
    return e->npfx++;
}

/* Appends the bytes of a string new to the page to the string streams:
 * prefix + number when it ends in a canonical decimal number (no leading
 * zero, at most MAX_DIGITS digits), else literal. */
static void new_string(enc *e, const char *p, uint32_t len)
{
    uint32_t nd = 0;
    while (nd < len && nd < MAX_DIGITS && p[len - 1 - nd] >= '0' && p[len - 1 - nd] <= '9')
        nd++;
    while (nd > 1 && p[len - nd] == '0')
        nd--;
    if (nd == 0) {
        put_varint(e, &e->st[ST_STR_KIND], 0);
        put_varint(e, &e->st[ST_LIT_LEN], len);
        put_bytes(e, &e->st[ST_LIT_BYTES], p, len);
        return;
    }
    uint64_t num = 0;
    for (uint32_t i = len - nd; i < len; i++)
        num = num * 10 + (uint64_t)(p[i] - '0');
    uint32_t px = pfx_index(e, p, len - nd);
    put_varint(e, &e->st[ST_STR_KIND], (uint64_t)px + 1);
    put_val(e, PV(e, ST_STR_NUM), num);
}

/* Writes a string reference: 0 = the next string new to the page (its
 * bytes go to the string streams), k = page string k - 1 (0 is ""). */
static int put_ref(enc *e, sbuf *s, uint32_t ref)
{
    const slc_batch *b = e->b;
    if (ref >= b->nstrs)
        return SL_EINVAL;
    if (ref == 0) {
        put_varint(e, s, 1);
        return SL_OK;
    }
    if (e->sstamp[ref] == e->stamp) {
        put_varint(e, s, (uint64_t)e->spidx[ref] + 1);
        return SL_OK;
    }
    const slc_str *str = &b->strs[ref];
    if (!e->sok[ref]) {
        if (str->len > 0 && !slc_utf8_valid(str->ptr, str->len))
            return SL_EINVAL;
        e->sok[ref] = 1;
    }
    e->sstamp[ref] = e->stamp;
    e->spidx[ref] = e->nstrs++;
    new_string(e, str->ptr, str->len);
    put_varint(e, s, 0);
    return SL_OK;
}

/* The scale of a double: the smallest k <= MAX_SCALE with d = n / 10^k
 * for an integer |n| < 10^18 (so d comes back from (double)n / 10^k, a
 * correctly rounded division, bit for bit), or -1. */
static int dbl_scale(double d, long long *np)
{
    uint64_t bits, yb;
    memcpy(&bits, &d, 8);
    for (int k = 0; k <= MAX_SCALE; k++) {
        double x = d * pow10_tab[k];
        if (!(fabs(x) < 1e18))
            return -1;
        long long n = llround(x);
        double y = (double)n / pow10_tab[k];
        memcpy(&yb, &y, 8);
        if (yb == bits) {
            *np = n;
            return k;
        }
    }
    return -1;
}

/* Turns the raw 64-bit values of an int or double column into number
 * stream values and appends its parameter byte to ST_COL_PARAM:
 *   ints: the value, zigzag-coded when any is negative;
 *   doubles: scale K = the largest scale any value needs; a value that is
 *   n / 10^K becomes n + 1 (zigzag(n) + 1 when any n is negative), any
 *   other (-0.0, 1e300, pi) becomes 0 with its 8 bytes in the escapes. */
static void col_finish(enc *e, ecol *c)
{
    vbuf *v = &c->v;
    uint8_t param = 0;
    c->x.len = 0;
    if (c->type == SLC_V_INT) {
        for (uint32_t i = 0; i < v->n; i++)
            if (v->v[i] >> 63)
                param = PARAM_ZZ;
        if (param)
            for (uint32_t i = 0; i < v->n; i++)
                v->v[i] = zz(v->v[i]);
        put_u8(e, &e->st[ST_COL_PARAM], param);
        return;
    }
    int K = 0;
    long long n = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        double d;
        memcpy(&d, &v->v[i], 8);
        int k = dbl_scale(d, &n);
        if (k > K)
            K = k;
    }
    for (uint32_t i = 0; i < v->n; i++) { /* at scale K, or escaped */
        double d, y;
        uint64_t yb;
        memcpy(&d, &v->v[i], 8);
        double x = d * pow10_tab[K];
        if (fabs(x) < 1e18) {
            n = llround(x);
            y = (double)n / pow10_tab[K];
            memcpy(&yb, &y, 8);
            if (yb == v->v[i] && n < 0)
                param = PARAM_ZZ;
        }
    }
    for (uint32_t i = 0; i < v->n; i++) {
        double d, y;
        uint64_t yb = ~v->v[i];
        memcpy(&d, &v->v[i], 8);
        double x = d * pow10_tab[K];
        if (fabs(x) < 1e18) {
            n = llround(x);
            y = (double)n / pow10_tab[K];
            memcpy(&yb, &y, 8);
        }
        if (yb != v->v[i]) {
            uint8_t raw[8];
            slc_put_le64(raw, v->v[i]);
            put_bytes(e, &c->x, raw, 8);
            v->v[i] = 0;
        } else {
            v->v[i] = (param ? zz((uint64_t)n) : (uint64_t)n) + 1;
        }
    }
    put_u8(e, &e->st[ST_COL_PARAM], (uint8_t)(K | param));
}

/* Column of (key, type) in this page, creating it at its first use (its
 * definition goes to ST_AT_DEF, read by the decoder when it meets the
 * column in a shape definition, i.e. in the same order). */
static int attr_col(enc *e, uint32_t key, uint8_t type, uint32_t *col)
{
    uint64_t k = (uint64_t)key << 3 | type;
    if ((uint64_t)(e->ncols + 1) * 2 >= e->ccap) {
        uint32_t nc = e->ccap ? e->ccap * 2 : 64;
        uint32_t *t = calloc(nc, sizeof *t);
        uint64_t *kk = calloc(nc, sizeof *kk);
        if (t == NULL || kk == NULL) {
            free(t);
            free(kk);
            e->oom = 1;
            return SL_ENOMEM;
        }
        for (uint32_t i = 0; i < e->ccap; i++) {
            if (!e->cslot[i])
                continue;
            uint32_t j = (uint32_t)(e->ckey[i] * 0x9e3779b97f4a7c15ull >> 40) & (nc - 1);
            while (t[j])
                j = (j + 1) & (nc - 1);
            t[j] = e->cslot[i];
            kk[j] = e->ckey[i];
        }
        free(e->cslot);
        free(e->ckey);
        e->cslot = t;
        e->ckey = kk;
        e->ccap = nc;
    }
    uint32_t j = (uint32_t)(k * 0x9e3779b97f4a7c15ull >> 40) & (e->ccap - 1);
    while (e->cslot[j]) {
        if (e->ckey[j] == k) {
            *col = e->cslot[j] - 1;
            return SL_OK;
        }
        j = (j + 1) & (e->ccap - 1);
    }
    if (e->ncols == e->capcols) {
        uint32_t old = e->capcols;
        if (egrow(e, (void **)&e->col, &e->capcols, e->ncols + 1, sizeof *e->col))
            return SL_ENOMEM;
        memset(e->col + old, 0, (size_t)(e->capcols - old) * sizeof *e->col);
    }
    *col = e->ncols++;
    e->col[*col].type = type;
    e->cslot[j] = *col + 1;
    e->ckey[j] = k;
    int rc = put_ref(e, &e->st[ST_AT_DEF], key);
    put_u8(e, &e->st[ST_AT_DEF], type);
    return rc;
}

/* Number of the shape e->seq[0..n), defining it at its first use. */
static int shape_of(enc *e, uint32_t n, uint32_t *shape)
{
    if (table_fit(e, &e->shslot, &e->shcap, e->nsh, shape_hash))
        return SL_ENOMEM;
    uint32_t j = (uint32_t)fnv(e->seq, (size_t)n * sizeof(uint32_t)) & (e->shcap - 1);
    while (e->shslot[j]) {
        const eshape *s = &e->shp[e->shslot[j] - 1];
        if (s->n == n && (n == 0 || memcmp(e->shc + s->first, e->seq, n * sizeof(uint32_t)) == 0)) {
            *shape = e->shslot[j] - 1;
            return SL_OK;
        }
        j = (j + 1) & (e->shcap - 1);
    }
    if (egrow(e, (void **)&e->shp, &e->capsh, e->nsh + 1, sizeof *e->shp) ||
        egrow(e, (void **)&e->shc, &e->capshc, e->nshc + n, sizeof *e->shc))
        return SL_ENOMEM;
    if (n)
        memcpy(e->shc + e->nshc, e->seq, n * sizeof(uint32_t));
    e->shp[e->nsh] = (eshape){e->nshc, n};
    e->nshc += n;
    e->shslot[j] = e->nsh + 1;
    put_varint(e, &e->st[ST_SH_DEF], n);
    for (uint32_t i = 0; i < n; i++)
        put_varint(e, &e->st[ST_SH_DEF], e->seq[i]);
    *shape = e->nsh++;
    return SL_OK;
}

/* Writes the attributes attrs[first, first+count) of one item: its shape
 * number to stream sh, each value to its column. */
static int put_attrs(enc *e, int sh, uint32_t first, uint32_t count)
{
    const slc_batch *b = e->b;
    uint32_t shape;
    int rc;
    if ((uint64_t)first + count > b->nattrs)
        return SL_EINVAL;
    if (egrow(e, (void **)&e->seq, &e->capseq, count, sizeof *e->seq))
        return SL_ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        const slc_attr *a = &b->attrs[first + i];
        if (a->key >= b->nstrs || a->type < SLC_V_STR || a->type > SLC_V_BOOL)
            return SL_EINVAL;
        if ((rc = attr_col(e, a->key, a->type, &e->seq[i])))
            return rc;
    }
    if ((rc = shape_of(e, count, &shape)))
        return rc;
    put_varint(e, &e->st[sh], shape);
    for (uint32_t i = 0; i < count; i++) {
        const slc_attr *a = &b->attrs[first + i];
        ecol *c = &e->col[e->seq[i]];
        switch (a->type) {
        case SLC_V_STR:
            if ((rc = put_ref(e, &c->s, a->v.str)))
                return rc;
            break;
        case SLC_V_INT: put_val(e, &c->v, (uint64_t)a->v.i); break;
        case SLC_V_DBL: {
            uint64_t bits;
            if (!isfinite(a->v.d))
                return SL_EINVAL;
            memcpy(&bits, &a->v.d, 8);
            put_val(e, &c->v, bits);
            break;
        }
        default: put_u8(e, &c->s, a->v.b ? 1 : 0); break;
        }
    }
    e->nattrs += count;
    return SL_OK;
}

static int idix_cmp(const void *x, const void *y)
{
    const idix *a = x, *b = y;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->ix < b->ix ? -1 : a->ix > b->ix;
}

/* Index (the lowest) of the span with this id among the trace's n spans
 * sp[], or -1.  Big traces use e->ids, sorted by enc_trace. */
static int64_t find_span(const enc *e, const uint32_t *sp, uint32_t n, const uint8_t id[8])
{
    uint64_t v;
    memcpy(&v, id, 8);
    if (n <= 16) {
        for (uint32_t j = 0; j < n; j++) {
            uint64_t w;
            memcpy(&w, e->b->spans[sp[j]].span_id, 8);
            if (w == v)
                return j;
        }
        return -1;
    }
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e->ids[mid].id < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && e->ids[lo].id == v ? (int64_t)e->ids[lo].ix : -1;
}

/* Writes a reference from a span (its parent) or a log (its span) to span
 * id among the trace's n spans sp[]: 0 for none (all-zero id), index + 1
 * when the trace holds it, else n + 1 and the raw id in stream raw.
 * Returns the index, or -1 when there is none in the trace. */
static int64_t put_span_ref(enc *e, const uint32_t *sp, uint32_t n, const uint8_t id[8], int st,
                            int raw)
{
    int64_t j;

    if (slc_is_zero(id, 8)) {
        put_varint(e, &e->st[st], 0);
        return -1;
    }
    j = find_span(e, sp, n, id);
    if (j < 0) {
        put_varint(e, &e->st[st], (uint64_t)n + 1);
        put_bytes(e, &e->st[raw], id, 8);
    } else {
        put_varint(e, &e->st[st], (uint64_t)j + 1);
    }
    return j;
}

/* Appends one trace: its n spans sp[] (sorted by start) and m logs lg[]
 * (sorted by time). */
static int enc_trace(enc *e, const uint8_t *tid, const uint32_t *sp, uint32_t n,
                     const uint32_t *lg, uint32_t m)
{
    const slc_batch *b = e->b;
    int rc;
    if (slc_is_zero(tid, 16))
        return SL_EINVAL;
    uint64_t base = n ? b->spans[sp[0]].start_ns : b->logs[lg[0]].time_ns;
    put_varint(e, &e->st[ST_TR_NSP], n);
    put_varint(e, &e->st[ST_TR_NLG], m);
    put_val(e, PV(e, ST_TR_BASE), base - e->base);
    if (n > 16) {
        if (egrow(e, (void **)&e->ids, &e->capids, n, sizeof *e->ids))
            return SL_ENOMEM;
        for (uint32_t j = 0; j < n; j++) {
            memcpy(&e->ids[j].id, b->spans[sp[j]].span_id, 8);
            e->ids[j].ix = j;
        }
        qsort(e->ids, n, sizeof *e->ids, idix_cmp);
    }
    for (uint32_t i = 0; i < n; i++) {
        const slc_span *s = &b->spans[sp[i]];
        if (slc_is_zero(s->span_id, 8) || s->kind > SLC_KIND_CONSUMER ||
            s->status > SLC_STATUS_ERROR || s->end_ns < s->start_ns)
            return SL_EINVAL;
        put_bytes(e, &e->st[ST_SP_ID], s->span_id, 8);
        uint64_t ref = i ? b->spans[sp[i - 1]].start_ns : base;
        int64_t par = put_span_ref(e, sp, n, s->parent_id, ST_SP_PAR, ST_SP_PID);
        if (par >= 0 && (uint64_t)par < i)
            ref = b->spans[sp[par]].start_ns;
        put_u8(e, &e->st[ST_SP_KS], (uint8_t)(s->kind | s->status << 4));
        put_val(e, PV(e, ST_SP_START), zz(s->start_ns - ref));
        put_val(e, PV(e, ST_SP_DUR), s->end_ns - s->start_ns);
        if ((rc = put_ref(e, &e->st[ST_SP_SVC], s->service)) ||
            (rc = put_ref(e, &e->st[ST_SP_NAME], s->name)) ||
            (rc = put_ref(e, &e->st[ST_SP_SMSG], s->status_msg)) ||
            (rc = put_attrs(e, ST_SH_SPAN, s->attr_first, s->attr_count)))
            return rc;
        if ((uint64_t)s->event_first + s->event_count > b->nevents ||
            (uint64_t)s->link_first + s->link_count > b->nlinks)
            return SL_EINVAL;
        put_varint(e, &e->st[ST_SP_NEV], s->event_count);
        for (uint32_t k = 0; k < s->event_count; k++) {
            const slc_event *ev = &b->events[s->event_first + k];
            put_val(e, PV(e, ST_EV_TIME), zz(ev->time_ns - s->start_ns));
            if ((rc = put_ref(e, &e->st[ST_EV_NAME], ev->name)) ||
                (rc = put_attrs(e, ST_SH_EV, ev->attr_first, ev->attr_count)))
                return rc;
        }
        put_varint(e, &e->st[ST_SP_NLK], s->link_count);
        for (uint32_t k = 0; k < s->link_count; k++) {
            const slc_link *l = &b->links[s->link_first + k];
            if (slc_is_zero(l->trace_id, 16) || slc_is_zero(l->span_id, 8))
                return SL_EINVAL;
            put_bytes(e, &e->st[ST_LK_IDS], l->trace_id, 16);
            put_bytes(e, &e->st[ST_LK_IDS], l->span_id, 8);
            if ((rc = put_attrs(e, ST_SH_LK, l->attr_first, l->attr_count)))
                return rc;
        }
        e->nevents += s->event_count;
        e->nlinks += s->link_count;
    }
    for (uint32_t i = 0; i < m; i++) {
        const slc_log *l = &b->logs[lg[i]];
        uint64_t ref = base;
        if (l->level < 1 || l->level > 24)
            return SL_EINVAL;
        int64_t sj = put_span_ref(e, sp, n, l->span_id, ST_LG_SPAN, ST_LG_SID);
        if (sj >= 0)
            ref = b->spans[sp[sj]].start_ns;
        put_val(e, PV(e, ST_LG_TIME), zz(l->time_ns - ref));
        put_u8(e, &e->st[ST_LG_LVL], l->level);
        if ((rc = put_ref(e, &e->st[ST_LG_SVC], l->service)) ||
            (rc = put_ref(e, &e->st[ST_LG_BODY], l->body)) ||
            (rc = put_attrs(e, ST_SH_LOG, l->attr_first, l->attr_count)))
            return rc;
    }
    e->ntraces++;
    e->nspans += n;
    e->nlogs += m;
    return e->oom ? SL_ENOMEM : SL_OK;
}

/* Appends trace-less logs lg[0..m) (sorted by time); times are deltas from
 * the previous log's (*prev). */
static int enc_tl_logs(enc *e, const uint32_t *lg, uint32_t m, uint64_t *prev)
{
    const slc_batch *b = e->b;
    int rc;
    for (uint32_t i = 0; i < m; i++) {
        const slc_log *l = &b->logs[lg[i]];
        if (l->level < 1 || l->level > 24)
            return SL_EINVAL;
        put_val(e, PV(e, ST_LG_TIME), l->time_ns - *prev);
        *prev = l->time_ns;
        put_u8(e, &e->st[ST_LG_LVL], l->level);
        if ((rc = put_ref(e, &e->st[ST_LG_SVC], l->service)) ||
            (rc = put_ref(e, &e->st[ST_LG_BODY], l->body)) ||
            (rc = put_attrs(e, ST_SH_LOG, l->attr_first, l->attr_count)))
            return rc;
    }
    e->nlogs += m;
    return e->oom ? SL_ENOMEM : SL_OK;
}

static uint32_t bitlen(uint64_t v)
{
    return v ? 64 - (uint32_t)__builtin_clzll(v) : 0;
}

static uint32_t varint_len(uint64_t v)
{
    uint32_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Bits an ideal entropy coder needs for n symbols with these counts. */
static double entropy_bits(const uint32_t *cnt, uint32_t nb, uint32_t n)
{
    double h = 0;
    for (uint32_t i = 0; i < nb; i++)
        if (cnt[i])
            h += cnt[i] * log2((double)n / cnt[i]);
    return h;
}

/* Appends the low m (<= 32) bits of x to a bit stream (LSB first). */
static void put_bits(enc *e, sbuf *t, uint64_t *acc, uint32_t *nacc, uint64_t x, uint32_t m)
{
    *acc |= (x & ((1ull << m) - 1)) << *nacc;
    *nacc += m;
    while (*nacc >= 8) {
        put_u8(e, t, (uint8_t)*acc);
        *acc >>= 8;
        *nacc -= 8;
    }
}

/* Serialises a number stream into head h and tail t, in the cheaper of
 * two modes by an entropy estimate from the value histogram:
 *   NUM_DICT: head = 1, k (varint), k values (varints), n index bytes;
 *   NUM_BITS: head = 0 (or 0x80 and a divisor g, varint, when all values
 *             are multiples of g > 1: the values stored are v / g), n
 *             bit-length bytes; tail = for each value of length L >= 2
 *             its low L - 1 bits, packed LSB first.
 * No values: both empty. */
static void num_serialize(enc *e, const vbuf *v, sbuf *h, sbuf *t)
{
    uint32_t n = v->n, lh[65] = {0}, k = 0;
    uint64_t mbits = 0, dval[256];
    uint32_t dcnt[256], dslot[512];
    int dict = 1;
    h->len = t->len = 0;
    if (n == 0)
        return;
    memset(dslot, 0, sizeof dslot);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = v->v[i];
        uint32_t l = bitlen(x);
        lh[l]++;
        mbits += l > 1 ? l - 1 : 0;
        if (!dict)
            continue;
        uint32_t j = (uint32_t)(x * 0x9e3779b97f4a7c15ull >> 55);
        while (dslot[j] && dval[dslot[j] - 1] != x)
            j = (j + 1) & 511;
        if (dslot[j]) {
            dcnt[dslot[j] - 1]++;
        } else if (k == 256) {
            dict = 0;
        } else {
            dval[k] = x;
            dcnt[k] = 1;
            dslot[j] = ++k;
        }
    }
    double cost_bits = (double)mbits + entropy_bits(lh, 65, n);
    /* A common divisor (even zigzag deltas, microsecond clocks) is taken
     * out of the bits form. */
    uint64_t g = 0;
    for (uint32_t i = 0; i < n && g != 1; i++) {
        uint64_t a = v->v[i], b = g;
        while (b) {
            uint64_t r = a % b;
            a = b;
            b = r;
        }
        g = a;
    }
    if (g > 1) {
        memset(lh, 0, sizeof lh);
        mbits = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t l = bitlen(v->v[i] / g);
            lh[l]++;
            mbits += l > 1 ? l - 1 : 0;
        }
        cost_bits = (double)mbits + entropy_bits(lh, 65, n) + 8.0 * varint_len(g);
    } else {
        g = 1;
    }
    double cost_dict = 1e300;
    if (dict) {
        cost_dict = entropy_bits(dcnt, k, n);
        for (uint32_t i = 0; i < k; i++)
            cost_dict += 8.0 * varint_len(dval[i]);
    }
    if (h->cap - h->len < (size_t)n + 16 && sb_grow(e, h, (size_t)n + 16))
        return;
    if (cost_dict < cost_bits) {
        put_u8(e, h, NUM_DICT);
        put_varint(e, h, k);
        for (uint32_t i = 0; i < k; i++)
            put_varint(e, h, dval[i]);
        if (h->cap - h->len < n && sb_grow(e, h, n))
            return;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t x = v->v[i];
            uint32_t j = (uint32_t)(x * 0x9e3779b97f4a7c15ull >> 55);
            while (dval[dslot[j] - 1] != x)
                j = (j + 1) & 511;
            h->p[h->len++] = (uint8_t)(dslot[j] - 1);
        }
        return;
    }
    put_u8(e, h, g > 1 ? NUM_BITS | NUM_DIV : NUM_BITS);
    if (g > 1)
        put_varint(e, h, g);
    if (h->cap - h->len < n && sb_grow(e, h, n))
        return;
    if (t->cap - t->len < mbits / 8 + 8 && sb_grow(e, t, mbits / 8 + 8))
        return;
    uint64_t acc = 0;
    uint32_t nacc = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = g > 1 ? v->v[i] / g : v->v[i];
        uint32_t l = bitlen(x);
        h->p[h->len++] = (uint8_t)l;
        if (l > 33) {
            put_bits(e, t, &acc, &nacc, x, 32);
            put_bits(e, t, &acc, &nacc, x >> 32, l - 33);
        } else if (l > 1) {
            put_bits(e, t, &acc, &nacc, x, l - 1);
        }
    }
    if (nacc)
        put_u8(e, t, (uint8_t)acc);
}

static uint32_t page_nstreams(const enc *e)
{
    return NPHYS_FIXED + NPHYS_COL * e->ncols;
}

/* Physical stream i (fixed streams, then two per column); *raw: stored
 * without trying zstd (random bytes). */
static const sbuf *phys_stream(const enc *e, uint32_t i, int *raw)
{
    static const sbuf empty = {NULL, 0, 0};
    *raw = 0;
    if (i < ST_FIRST_NUM) {
        *raw = i == ST_SP_ID;
        return &e->st[i];
    }
    if (i < NPHYS_FIXED) {
        uint32_t k = (i - ST_FIRST_NUM) / 2;
        *raw = (i - ST_FIRST_NUM) & 1;
        return *raw ? &e->nt[k] : &e->nh[k];
    }
    const ecol *c = &e->col[(i - NPHYS_FIXED) / NPHYS_COL];
    uint32_t part = (i - NPHYS_FIXED) % NPHYS_COL;
    if (c->type == SLC_V_INT || c->type == SLC_V_DBL) {
        *raw = part == 1;
        return part == 0 ? &c->h : part == 1 ? &c->t : &c->x;
    }
    return part == 0 ? &c->s : &empty;
}

static size_t page_raw_size(const enc *e)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ST_FIRST_NUM; i++)
        n += e->st[i].len;
    for (uint32_t i = 0; i < NNUM; i++)
        n += (size_t)e->pv[i].n * 4;
    for (uint32_t i = 0; i < e->ncols; i++)
        n += e->col[i].s.len + (size_t)e->col[i].v.n * 3;
    return n;
}

static void page_reset(enc *e)
{
    for (uint32_t i = 0; i < ST_FIRST_NUM; i++)
        e->st[i].len = 0;
    for (uint32_t i = 0; i < NNUM; i++)
        e->pv[i].n = 0;
    for (uint32_t i = 0; i < e->ncols; i++) {
        e->col[i].s.len = 0;
        e->col[i].v.n = 0;
    }
    e->ncols = e->nsh = e->nshc = 0;
    e->ntraces = e->nspans = e->nlogs = e->nevents = e->nlinks = e->nattrs = e->npfx = 0;
    e->nstrs = 1; /* page string 0 is "" */
    e->stamp++;
    if (e->cslot)
        memset(e->cslot, 0, (size_t)e->ccap * sizeof *e->cslot);
    if (e->pslot)
        memset(e->pslot, 0, (size_t)e->pcap * sizeof *e->pslot);
    if (e->shslot)
        memset(e->shslot, 0, (size_t)e->shcap * sizeof *e->shslot);
}

/* Scales the counts cnt[] of n symbols to frequencies summing to ANS_M,
 * every present symbol at least 1; returns the number of symbols. */
static uint32_t ans_normalize(const uint32_t *cnt, uint32_t n, uint32_t *freq)
{
    uint32_t sum = 0, k = 0, big = 0;
    for (uint32_t s = 0; s < 256; s++) {
        freq[s] = 0;
        if (!cnt[s])
            continue;
        freq[s] = (uint32_t)((uint64_t)cnt[s] * ANS_M / n);
        if (freq[s] == 0)
            freq[s] = 1;
        sum += freq[s];
        if (cnt[s] > cnt[big] || !cnt[big])
            big = s;
        k++;
    }
    if (sum <= ANS_M) {
        freq[big] += ANS_M - sum;
        return k;
    }
    while (sum > ANS_M) { /* rare symbols rounded up too far: take from the biggest */
        uint32_t m = 0;
        for (uint32_t s = 1; s < 256; s++)
            if (freq[s] > freq[m])
                m = s;
        uint32_t take = sum - ANS_M < freq[m] / 2 ? sum - ANS_M : freq[m] / 2;
        freq[m] -= take;
        sum -= take;
    }
    return k;
}
/* Bytes the rANS form of a chunk of n symbols takes: table, states, coded
 * symbols. */
static double ans_cost(const uint32_t *cnt, const uint32_t *freq, size_t n)
{
    double bits = 0, table = 1 + 4.0 * (1u << ans_ways_log(n));
    int prev = -1;
    for (int s = 0; s < 256; s++) {
        if (!freq[s])
            continue;
        bits += cnt[s] * (ANS_BITS - log2((double)freq[s]));
        table += varint_len((uint64_t)(s - prev - 1)) + varint_len(freq[s] - 1);
        prev = s;
    }
    return bits / 8 + table + 4;
}

/* Appends the rANS form of src[0..n) to out: (k - 1) << 2 | log2(ways)
 * (varint; k symbols, ways interleaved states: symbol i uses state
 * i mod ways), then per symbol in ascending order the gap to the previous
 * one and its frequency - 1 (varints), the final states (4 bytes LE each,
 * state 0 first), the renormalisation bytes. */
static int ans_encode(enc *e, const uint8_t *src, size_t n, const uint32_t *freq, uint32_t k,
                      sbuf *out)
{
    uint32_t cum[256], c = 0, wl = ans_ways_log(n), ways = 1u << wl;
    int prev = -1;
    put_varint(e, out, (uint64_t)(k - 1) << 2 | wl);
    for (int s = 0; s < 256; s++) {
        cum[s] = c;
        c += freq[s];
        if (!freq[s])
            continue;
        put_varint(e, out, (uint64_t)(s - prev - 1));
        put_varint(e, out, freq[s] - 1);
        prev = s;
    }
    size_t cap = 2 * n + 32; /* at most one 16-bit word per symbol */
    if (e->z.cap < cap) {
        e->z.len = 0;
        if (sb_grow(e, &e->z, cap))
            return SL_ENOMEM;
    }
    uint8_t *end = e->z.p + e->z.cap, *p = end;
    uint32_t x[4] = {ANS_L, ANS_L, ANS_L, ANS_L};
    for (size_t i = n; i-- > 0;) {
        uint32_t f = freq[src[i]], *xs = &x[i & (ways - 1)];
        if (*xs >= (uint64_t)f << (32 - ANS_BITS)) {
            p -= 2;
            p[0] = (uint8_t)*xs;
            p[1] = (uint8_t)(*xs >> 8);
            *xs >>= 16;
        }
        *xs = ((*xs / f) << ANS_BITS) + (*xs % f) + cum[src[i]];
    }
    for (uint32_t w = ways; w-- > 0;) {
        p -= 4;
        slc_put_le32(p, x[w]);
    }
    put_bytes(e, out, p, (size_t)(end - p));
    return e->oom ? SL_ENOMEM : SL_OK;
}

/* Appends chunk raw[0..n): its lengths and method to e->chdr, its bytes to
 * e->cdata, coded by the smallest of stored, rANS (cost computed from the
 * histogram) and zstd (tried); random data (!code) is stored. */
static int put_chunk(enc *e, const uint8_t *raw, size_t n, int code)
{
    uint32_t cnt[256] = {0}, freq[256], k = 0;
    double best = (double)n, ans = 1e300;
    int method = CH_STORED;
    size_t zn = 0;
    if (code && n >= 8) {
        for (size_t i = 0; i < n; i++)
            cnt[raw[i]]++;
        k = ans_normalize(cnt, (uint32_t)n, freq);
        ans = ans_cost(cnt, freq, n);
        if (ans < best) {
            best = ans;
            method = CH_RANS;
        }
        if (n >= 32 && ans > 24) {
            size_t bound = ZSTD_compressBound(n);
            if (e->z.cap < bound) {
                e->z.len = 0;
                if (sb_grow(e, &e->z, bound))
                    return SL_ENOMEM;
            }
            zn = ZSTD_compressCCtx(e->cctx, e->z.p, e->z.cap, raw, n, e->level);
            if (!ZSTD_isError(zn) && (double)zn < best) {
                best = (double)zn;
                method = CH_ZSTD;
            }
        }
    }
    size_t d0 = e->cdata.len;
    int rc = SL_OK;
    if (method == CH_ZSTD)
        put_bytes(e, &e->cdata, e->z.p, zn);
    else if (method == CH_RANS)
        rc = ans_encode(e, raw, n, freq, k, &e->cdata);
    if (rc == SL_OK && method != CH_STORED && e->cdata.len - d0 >= n) {
        e->cdata.len = d0; /* the estimate was off: store */
        method = CH_STORED;
    }
    if (method == CH_STORED)
        put_bytes(e, &e->cdata, raw, n);
    put_varint(e, &e->chdr, n);
    put_varint(e, &e->chdr, e->cdata.len - d0);
    put_u8(e, &e->chdr, (uint8_t)method);
    return rc ? rc : e->oom ? SL_ENOMEM : SL_OK;
}

/* Closes the page: serialises its header and streams, compresses them in
 * stream-aligned chunks, appends the page to e->pages and its entry to
 * e->dir. */
static int page_flush(enc *e)
{
    sbuf *raw = &e->raw;
    uint32_t ns = page_nstreams(e), nchunks = 0;
    int rc = SL_OK;

    if (e->ntraces == 0 && e->nlogs == 0)
        return SL_OK;
    raw->len = 0;
    e->chdr.len = e->cdata.len = 0;
    uint32_t counts[PAGE_COUNTS] = {e->ntraces, e->nspans, e->nlogs,     e->nevents, e->nlinks,
                                    e->nattrs,  e->nstrs - 1, e->npfx, e->ncols};
    for (uint32_t i = 0; i < NNUM; i++)
        num_serialize(e, &e->pv[i], &e->nh[i], &e->nt[i]);
    for (uint32_t i = 0; i < e->ncols; i++) {
        ecol *c = &e->col[i];
        if (c->type == SLC_V_INT || c->type == SLC_V_DBL) {
            col_finish(e, c);
            num_serialize(e, &c->v, &c->h, &c->t);
        }
    }
    for (int i = 0; i < PAGE_COUNTS; i++)
        put_varint(e, raw, counts[i]);
    for (uint32_t i = 0; i < ns; i++) {
        int r;
        put_varint(e, raw, phys_stream(e, i, &r)->len);
    }
    /* Chunks: the header, then each stream of CHUNK_MIN bytes or more on its
     * own, smaller ones in runs; random streams stored. */
    size_t start = 0;
    if ((rc = put_chunk(e, raw->p, raw->len, 1)))
        goto out;
    nchunks++;
    start = raw->len;
    for (uint32_t i = 0; i <= ns; i++) {
        int r = 0;
        const sbuf *x = i < ns ? phys_stream(e, i, &r) : NULL;
        int alone = x && (x->len >= CHUNK_MIN || r);
        if ((i == ns || alone || raw->len - start >= CHUNK_MIN) && raw->len > start) {
            if ((rc = put_chunk(e, raw->p + start, raw->len - start, 1)))
                goto out;
            nchunks++;
            start = raw->len;
        }
        if (x == NULL || x->len == 0)
            continue;
        put_bytes(e, raw, x->p, x->len);
        if (e->oom) {
            rc = SL_ENOMEM;
            goto out;
        }
        if (alone) {
            if ((rc = put_chunk(e, raw->p + start, raw->len - start, !r)))
                goto out;
            nchunks++;
            start = raw->len;
        }
    }
    if (raw->len > UINT32_MAX) {
        rc = SL_ETOOBIG;
        goto out;
    }
    size_t p0 = e->pages.len;
    put_varint(e, &e->pages, nchunks);
    put_bytes(e, &e->pages, e->chdr.p, e->chdr.len);
    put_bytes(e, &e->pages, e->cdata.p, e->cdata.len);
    if (e->oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (e->pages.len - p0 > UINT32_MAX) {
        rc = SL_ETOOBIG;
        goto out;
    }
    uint8_t ent[PAGE_ENTRY];
    slc_put_le32(ent, (uint32_t)(e->pages.len - p0));
    slc_put_le32(ent + 4, (uint32_t)raw->len);
    slc_put_le32(ent + 8, (uint32_t)crc32(0L, e->pages.p + p0, (uInt)(e->pages.len - p0)));
    slc_put_le32(ent + 12, e->ntraces);
    slc_put_le32(ent + 16, e->nspans);
    slc_put_le32(ent + 20, e->nlogs);
    put_bytes(e, &e->dir, ent, PAGE_ENTRY);
    rc = e->oom ? SL_ENOMEM : SL_OK;
out:
    page_reset(e);
    return rc;
}

static int skey_cmp(const void *x, const void *y)
{
    const skey *a = x, *b = y;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int trace_cmp(const skey *a, const skey *b)
{
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static void enc_free(enc *e)
{
    for (uint32_t i = 0; i < ST_FIRST_NUM; i++)
        free(e->st[i].p);
    for (uint32_t i = 0; i < NNUM; i++) {
        free(e->pv[i].v);
        free(e->nh[i].p);
        free(e->nt[i].p);
    }
    for (uint32_t i = 0; i < e->capcols; i++) {
        free(e->col[i].s.p);
        free(e->col[i].v.v);
        free(e->col[i].h.p);
        free(e->col[i].t.p);
        free(e->col[i].x.p);
    }
    free(e->col);
    free(e->sstamp);
    free(e->spidx);
    free(e->sok);
    free(e->ckey);
    free(e->cslot);
    free(e->pfx);
    free(e->pslot);
    free(e->shp);
    free(e->shc);
    free(e->shslot);
    free(e->seq);
    free(e->ids);
    free(e->pages.p);
    free(e->dir.p);
    free(e->raw.p);
    free(e->z.p);
    free(e->chdr.p);
    free(e->cdata.p);
    ZSTD_freeCCtx(e->cctx);
}

int col_cold_encode(const slc_batch *b, int level, uint8_t **out, size_t *outlen)
{
    col_cold_opts o = {level, 0};
    return col_cold_encode_ex(b, &o, out, outlen);
}

/* Writes header + directory + pages into one malloc'd block. */
static int assemble(enc *e, const sbuf *ids, uint32_t ntraces, uint8_t **out, size_t *outlen)
{
    const slc_batch *b = e->b;
    uint32_t npages = (uint32_t)(e->dir.len / PAGE_ENTRY);
    size_t dirlen = BODY_FIXED + e->dir.len + ids->len + 4;
    size_t body = dirlen + e->pages.len;
    if (body > UINT32_MAX)
        return SL_ETOOBIG;
    uint8_t *blk = malloc(COL_COLD_HEADER_LEN + body);
    if (blk == NULL)
        return SL_ENOMEM;
    uint8_t *p = blk + COL_COLD_HEADER_LEN;
    slc_put_le32(p, b->nlogs);
    slc_put_le32(p + 4, ntraces);
    slc_put_le32(p + 8, npages);
    slc_put_le64(p + 12, e->base);
    if (e->dir.len)
        memcpy(p + BODY_FIXED, e->dir.p, e->dir.len);
    if (ids->len)
        memcpy(p + BODY_FIXED + e->dir.len, ids->p, ids->len);
    slc_put_le32(p + dirlen - 4, (uint32_t)crc32(0L, p, (uInt)(dirlen - 4)));
    if (e->pages.len)
        memcpy(p + dirlen, e->pages.p, e->pages.len);
    memcpy(blk, COL_COLD_MAGIC, 4);
    blk[4] = COL_COLD_VERSION;
    blk[5] = blk[6] = blk[7] = 0;
    slc_put_le64(blk + 8, b->batch_id);
    slc_put_le32(blk + 16, (uint32_t)body);
    slc_put_le32(blk + 20, b->nspans);
    slc_put_le32(blk + 24, (uint32_t)crc32(0L, p, (uInt)body));
    slc_put_le32(blk + 28, (uint32_t)crc32(0L, blk, 28));
    *out = blk;
    *outlen = COL_COLD_HEADER_LEN + body;
    return SL_OK;
}

int col_cold_encode_ex(const slc_batch *b, const col_cold_opts *o, uint8_t **out,
                       size_t *outlen)
{
    enc e;
    skey *sk = NULL, *lk = NULL;
    uint32_t *order = NULL, *tl = NULL, nlk = 0, ntl = 0, ntraces = 0;
    sbuf ids = {0};
    int rc;

    memset(&e, 0, sizeof e);
    if (b == NULL || o == NULL || out == NULL || outlen == NULL)
        return SL_EINVAL;
    e.level = o->level ? o->level : COL_COLD_DEFAULT_LEVEL;
    e.page_bytes = o->page_bytes ? o->page_bytes : COL_COLD_PAGE_BYTES;
    if (e.level < 1 || e.level > ZSTD_maxCLevel() || b->nstrs == 0 || b->strs[0].len != 0)
        return SL_EINVAL;
    e.b = b;
    e.sstamp = calloc(b->nstrs, sizeof *e.sstamp);
    e.spidx = calloc(b->nstrs, sizeof *e.spidx);
    e.sok = calloc(b->nstrs, 1);
    sk = malloc(((size_t)b->nspans + 1) * sizeof *sk);
    lk = malloc(((size_t)b->nlogs + 1) * sizeof *lk);
    tl = malloc(((size_t)b->nlogs + 1) * sizeof *tl);
    order = malloc(((size_t)b->nspans + b->nlogs + 1) * sizeof *order);
    e.cctx = ZSTD_createCCtx();
    if (!e.sstamp || !e.spidx || !e.sok || !sk || !lk || !tl || !order || !e.cctx) {
        rc = SL_ENOMEM;
        goto out;
    }
    e.base = UINT64_MAX;
    for (uint32_t i = 0; i < b->nspans; i++) {
        const slc_span *s = &b->spans[i];
        sk[i] = (skey){slc_get_be64(s->trace_id), slc_get_be64(s->trace_id + 8), s->start_ns, i};
        if (s->start_ns < e.base)
            e.base = s->start_ns;
    }
    for (uint32_t i = 0; i < b->nlogs; i++) {
        const slc_log *l = &b->logs[i];
        if (l->flags & ~SLC_LOG_F_TRACE) {
            rc = SL_EINVAL;
            goto out;
        }
        if (l->flags & SLC_LOG_F_TRACE)
            lk[nlk++] = (skey){slc_get_be64(l->trace_id), slc_get_be64(l->trace_id + 8), l->time_ns, i};
        else
            tl[ntl++] = i;
        if (l->time_ns < e.base)
            e.base = l->time_ns;
    }
    if (e.base == UINT64_MAX)
        e.base = 0;
    qsort(sk, b->nspans, sizeof *sk, skey_cmp);
    qsort(lk, nlk, sizeof *lk, skey_cmp);
    page_reset(&e);

    /* Traces in id order: merge the sorted spans and trace logs. */
    uint32_t i = 0, j = 0;
    while (i < b->nspans || j < nlk) {
        skey key = (j == nlk || (i < b->nspans && trace_cmp(&sk[i], &lk[j]) <= 0)) ? sk[i]
                                                                                  : lk[j];
        uint32_t n = 0, m = 0;
        while (i + n < b->nspans && trace_cmp(&sk[i + n], &key) == 0) {
            order[n] = sk[i + n].idx;
            n++;
        }
        while (j + m < nlk && trace_cmp(&lk[j + m], &key) == 0) {
            order[n + m] = lk[j + m].idx;
            m++;
        }
        const uint8_t *tid = n ? b->spans[order[0]].trace_id : b->logs[order[n]].trace_id;
        if ((rc = enc_trace(&e, tid, order, n, order + n, m)))
            goto out;
        put_bytes(&e, &ids, tid, 16);
        ntraces++;
        i += n;
        j += m;
        if (page_raw_size(&e) >= e.page_bytes && (rc = page_flush(&e)))
            goto out;
    }
    if ((rc = page_flush(&e)))
        goto out;
    /* Trace-less logs by time, in pages of their own. */
    for (uint32_t x = 0; x < ntl; x++)
        lk[x] = (skey){0, 0, b->logs[tl[x]].time_ns, tl[x]};
    qsort(lk, ntl, sizeof *lk, skey_cmp);
    for (uint32_t x = 0; x < ntl; x++)
        tl[x] = lk[x].idx;
    uint64_t prev = e.base;
    for (uint32_t x = 0; x < ntl;) {
        uint32_t m = ntl - x < 256 ? ntl - x : 256;
        if ((rc = enc_tl_logs(&e, tl + x, m, &prev)))
            goto out;
        x += m;
        if (page_raw_size(&e) >= e.page_bytes || x == ntl) {
            if ((rc = page_flush(&e)))
                goto out;
            prev = e.base;
        }
    }
    rc = e.oom ? SL_ENOMEM : assemble(&e, &ids, ntraces, out, outlen);
out:
    if (rc == SL_OK && e.oom)
        rc = SL_ENOMEM;
    free(sk);
    free(lk);
    free(tl);
    free(order);
    free(ids.p);
    enc_free(&e);
    return rc;
}
