/*
 * coldblock.c - the sealed-block codec (coldblock.h; byte layout in
 * docs/sealed-block.md).
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
 *
 * Decoder: one cursor per stream over the decompressed page, each read
 * bounds-checked with a message naming the field; every count is checked
 * against the limits and against the bytes its items need before anything
 * is allocated, and memory is charged against limits.decoded_bytes the way
 * slc_wire_decode does.  The same walk serves the full decode and the
 * gather of one trace (it emits only the wanted trace and stops after it).
 */
#include "coldblock.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "sightline.h"
#include "slc_util.h"

/* The logical streams of a page: varint streams, raw byte streams, number
 * streams.  Physically each number stream is two streams (head: mode and
 * one byte per value; tail: packed bits), and every attribute column is
 * three streams after the fixed ones (strings: varint refs; bools: bytes;
 * ints: a number stream; doubles: a number stream and the 8-byte escapes;
 * unused ones empty). */
enum {
    ST_TR_NSP,   /* per trace: span count */
    ST_TR_NLG,   /* per trace: log count */
    ST_SP_PAR,   /* per span: 0 root, 1..n index + 1 in the trace, n + 1 other */
    ST_SP_KS,    /* per span: kind | status << 4 */
    ST_SP_SVC,   /* per span: service ref */
    ST_SP_NAME,  /* per span: name ref */
    ST_SP_SMSG,  /* per span: status message ref */
    ST_SP_NEV,   /* per span: event count */
    ST_SP_NLK,   /* per span: link count */
    ST_EV_NAME,  /* per event: name ref */
    ST_LG_LVL,   /* per log: level */
    ST_LG_SPAN,  /* per trace log: 0 zero id, 1..n span index + 1, n + 1 other */
    ST_LG_SVC,   /* per log: service ref */
    ST_LG_BODY,  /* per log: body ref */
    ST_SH_SPAN,  /* per span: attribute shape */
    ST_SH_EV,    /* per event: attribute shape */
    ST_SH_LK,    /* per link: attribute shape */
    ST_SH_LOG,   /* per log: attribute shape */
    ST_SH_DEF,   /* per shape, at its first use: count, column numbers */
    ST_AT_DEF,   /* per column, at its first use: key ref, type byte */
    ST_STR_KIND, /* per page string: 0 literal, p + 1 prefix p + number */
    ST_LIT_LEN,  /* per literal string: length */
    ST_PFX_LEN,  /* per prefix: length */
    ST_SP_ID,    /* raw: per span, 8 bytes */
    ST_SP_PID,   /* raw: per "other" parent, 8 bytes */
    ST_LG_SID,   /* raw: per "other" log span id, 8 bytes */
    ST_LK_IDS,   /* raw: per link, trace id 16 + span id 8 bytes */
    ST_COL_PARAM, /* per int or double column, in column order: scale | zigzag << 3 */
    ST_LIT_BYTES, /* raw: literal string bytes */
    ST_PFX_BYTES, /* raw: prefix bytes */
    ST_TR_BASE,  /* num: per trace, first time - block base */
    ST_SP_START, /* num: per span, zigzag start - reference start */
    ST_SP_DUR,   /* num: per span, end - start */
    ST_EV_TIME,  /* num: per event, zigzag time - span start */
    ST_LG_TIME,  /* num: per log, zigzag time - span start (see read_log) */
    ST_STR_NUM,  /* num: per composed string, the number */
    COLD_NSTREAMS
};
#define ST_FIRST_NUM ST_TR_BASE
#define NNUM (COLD_NSTREAMS - ST_FIRST_NUM)
#define NPHYS_FIXED (ST_FIRST_NUM + 2 * NNUM) /* physical streams before the columns */
#define NPHYS_COL 3
#define NUM_BITS 0 /* number stream modes (first head byte) */
#define NUM_DICT 1
#define NUM_DIV 0x80 /* with NUM_BITS: a divisor (varint) follows; values are multiples */

#define BODY_FIXED 20u /* nlogs, ntraces, npages (u32), base (u64) */
#define PAGE_ENTRY 24u /* comp_len, raw_len, crc, ntraces, nspans, nlogs (u32) */
#define PAGE_COUNTS 9  /* varints at the start of a page */
#define MAX_DIGITS 18  /* a composed string's number is below 10^18 */
#define PARAM_ZZ 0x08u /* column parameter: values are zigzag-coded */
#define MAX_SCALE 6    /* doubles are n / 10^scale, scale <= MAX_SCALE */
#define ALL_TRACES UINT32_MAX

/* A stream of at least CHUNK_MIN bytes is a chunk of its own, coded by
 * the smallest of: stored, zstd, rANS; smaller ones are coded in runs
 * (their own tables would cost more than they save). */
#define CHUNK_MIN 64u
#define CH_STORED 0 /* chunk methods */
#define CH_ZSTD 1
#define CH_RANS 2

/* rANS: static order-0 byte model, frequencies scaled to 2^ANS_BITS, state
 * kept in [ANS_L, 2^32), renormalised 16 bits at a time (at most one word
 * per symbol, so the decoder needs no loop and no branch for it). */
#define ANS_BITS 12
#define ANS_M (1u << ANS_BITS)
#define ANS_L (1u << 16)

static const double pow10_tab[7] = {1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6};

/* ---- little-endian helpers ------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Zigzag over the 64-bit ring: deltas are taken mod 2^64, so any pair of
 * times round-trips without overflow checks. */
static uint64_t zz(uint64_t d)
{
    return (d << 1) ^ (0 - (d >> 63));
}

static uint64_t unzz(uint64_t v)
{
    return (v >> 1) ^ (0 - (v & 1));
}

int col_cold_is(const uint8_t *buf, size_t len)
{
    return buf != NULL && len >= 4 && memcmp(buf, COL_COLD_MAGIC, 4) == 0;
}

/* ==== encoder =============================================================== */

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
    uint8_t *q = s->p + s->len;
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    s->len = (size_t)(q - s->p);
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
    if (need <= *cap)
        return SL_OK;
    uint64_t nc = *cap ? (uint64_t)*cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *p = nc > UINT32_MAX ? NULL : realloc(*arr, (size_t)nc * sz);
    if (p == NULL) {
        e->oom = 1;
        return SL_ENOMEM;
    }
    *arr = p;
    *cap = (uint32_t)nc;
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
            put64(raw, v->v[i]);
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
        if (slc_is_zero(s->parent_id, 8)) {
            put_varint(e, &e->st[ST_SP_PAR], 0);
        } else {
            int64_t j = find_span(e, sp, n, s->parent_id);
            if (j < 0) {
                put_varint(e, &e->st[ST_SP_PAR], (uint64_t)n + 1);
                put_bytes(e, &e->st[ST_SP_PID], s->parent_id, 8);
            } else {
                put_varint(e, &e->st[ST_SP_PAR], (uint64_t)j + 1);
                if ((uint64_t)j < i)
                    ref = b->spans[sp[j]].start_ns;
            }
        }
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
        if (slc_is_zero(l->span_id, 8)) {
            put_varint(e, &e->st[ST_LG_SPAN], 0);
        } else {
            int64_t j = find_span(e, sp, n, l->span_id);
            if (j < 0) {
                put_varint(e, &e->st[ST_LG_SPAN], (uint64_t)n + 1);
                put_bytes(e, &e->st[ST_LG_SID], l->span_id, 8);
            } else {
                put_varint(e, &e->st[ST_LG_SPAN], (uint64_t)j + 1);
                ref = b->spans[sp[j]].start_ns;
            }
        }
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

/* Interleaved rANS states for a chunk of n symbols: more states decode
 * faster (independent dependency chains) but each costs a 4-byte state. */
static uint32_t ans_ways_log(size_t n)
{
    return n >= 2048 ? 2 : n >= 512 ? 1 : 0;
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
        put32(p, x[w]);
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
    put32(ent, (uint32_t)(e->pages.len - p0));
    put32(ent + 4, (uint32_t)raw->len);
    put32(ent + 8, (uint32_t)crc32(0L, e->pages.p + p0, (uInt)(e->pages.len - p0)));
    put32(ent + 12, e->ntraces);
    put32(ent + 16, e->nspans);
    put32(ent + 20, e->nlogs);
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
    put32(p, b->nlogs);
    put32(p + 4, ntraces);
    put32(p + 8, npages);
    put64(p + 12, e->base);
    if (e->dir.len)
        memcpy(p + BODY_FIXED, e->dir.p, e->dir.len);
    if (ids->len)
        memcpy(p + BODY_FIXED + e->dir.len, ids->p, ids->len);
    put32(p + dirlen - 4, (uint32_t)crc32(0L, p, (uInt)(dirlen - 4)));
    if (e->pages.len)
        memcpy(p + dirlen, e->pages.p, e->pages.len);
    memcpy(blk, COL_COLD_MAGIC, 4);
    blk[4] = COL_COLD_VERSION;
    blk[5] = blk[6] = blk[7] = 0;
    put64(blk + 8, b->batch_id);
    put32(blk + 16, (uint32_t)body);
    put32(blk + 20, b->nspans);
    put32(blk + 24, (uint32_t)crc32(0L, p, (uInt)body));
    put32(blk + 28, (uint32_t)crc32(0L, blk, 28));
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
        sk[i] = (skey){be64(s->trace_id), be64(s->trace_id + 8), s->start_ns, i};
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
            lk[nlk++] = (skey){be64(l->trace_id), be64(l->trace_id + 8), l->time_ns, i};
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

/* ==== decoder =============================================================== */

typedef struct cur {
    const uint8_t *p, *end;
} cur;

/* A number stream (see num_serialize): n head bytes h (bit lengths or
 * dictionary indices), the dictionary at dpool[doff..doff+k), a bit
 * reader over the tail. */
typedef struct num {
    const uint8_t *h, *t, *tend;
    uint64_t bb, g;
    uint32_t n, i, bn, k, doff;
    uint8_t mode;
} num;

/* A string of the page: a literal (pfx == UINT32_MAX: p, len) or a prefix
 * plus a number; bidx is its index in the output batch once interned. */
typedef struct pstr {
    const uint8_t *p;
    uint32_t len, pfx, bidx;
    uint64_t num;
} pstr;

typedef struct dcol {
    cur c;       /* strings, bools */
    num nu;      /* ints, doubles */
    cur h, t, x; /* its three streams */
    uint32_t key;
    uint8_t type, param;
} dcol;

typedef struct dshape {
    uint32_t first, n;
} dshape;

/* One page entry of the directory, with its offset in the page area. */
typedef struct pent {
    size_t off;
    uint32_t comp, raw, crc, ntraces, nspans, nlogs;
} pent;

/* The header and directory of a block. */
typedef struct blkdir {
    const uint8_t *body;
    size_t body_len, pages_off;
    uint64_t batch_id, base;
    uint32_t nspans, nlogs, ntraces, npages;
    uint64_t raw_total;
    const uint8_t *ents, *tids;
} blkdir;

typedef struct dec {
    const slc_wire_limits *lim;
    char *msg;
    size_t msglen;
    int err;
    uint64_t mem, mem_max;
    slc_batch *b;
    uint32_t strs_added;
    int emit;
    uint32_t page;
    uint64_t base;
    ZSTD_DCtx *dctx;
    uint8_t *raw;
    size_t rawcap;
    cur st[ST_FIRST_NUM];
    num nu[NNUM];
    uint64_t *dpool; /* number streams' dictionaries */
    uint32_t ndpool, capdpool;
    dcol *cols;
    uint32_t ncols, ncols_seen, capcols;
    dshape *shp;
    uint32_t nsh, capsh, *shc, nshc, capshc;
    pstr *strs;
    uint32_t nstrs, next_new, capstrs;
    const uint8_t **pfxp;
    uint32_t *pfxl, npfx, cappfx, cappfxl;
    uint64_t *starts;
    uint32_t capstarts;
    char *scratch;
    size_t scratchcap;
    /* page totals (its header) and what has been read so far */
    uint32_t p_ntr, p_nsp, p_nlg, p_nev, p_nlk, p_nat, p_items;
    uint32_t r_nsp, r_nlg, r_nev, r_nlk, r_nat;
} dec;

#define NU(d, st) (&(d)->nu[(st)-ST_FIRST_NUM])

static int fail(dec *d, int err, const char *fmt, ...)
{
    if (!d->err) {
        d->err = err;
        if (d->msg && d->msglen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(d->msg, d->msglen, fmt, ap);
            va_end(ap);
        }
    }
    return d->err;
}

/* Charges n items of sz bytes against limits.decoded_bytes before they are
 * allocated. */
static int charge(dec *d, uint64_t n, uint64_t sz, const char *what)
{
    if (d->err)
        return d->err;
    if (n > (UINT64_MAX >> 8) / (sz ? sz : 1) || n * sz > d->mem_max - d->mem)
        return fail(d, SL_EWIRE_LIMIT,
                    "%s: the decoded data would take more than the limit of %llu bytes "
                    "(decoded_bytes)",
                    what, (unsigned long long)d->mem_max);
    d->mem += n * sz;
    return SL_OK;
}

/* Appends an item to the output batch; returns from the caller when out
 * of memory. */
#define EMIT(d, fn, item)                                                                      \
    do {                                                                                       \
        if (fn((d)->b, (item), NULL))                                                          \
            return fail((d), SL_ENOMEM, "out of memory");                                      \
    } while (0)

static int grow(dec *d, void **arr, uint32_t *cap, uint32_t need, size_t sz)
{
    if (need <= *cap)
        return SL_OK;
    uint64_t nc = *cap ? (uint64_t)*cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *p = nc > UINT32_MAX ? NULL : realloc(*arr, (size_t)nc * sz);
    if (p == NULL)
        return fail(d, SL_ENOMEM, "out of memory");
    *arr = p;
    *cap = (uint32_t)nc;
    return SL_OK;
}

static size_t cleft(const cur *c)
{
    return (size_t)(c->end - c->p);
}

static int rv_slow(dec *d, cur *c, uint64_t *v, const char *what)
{
    uint64_t x = 0;
    if (d->err)
        return d->err;
    for (int i = 0; i < 10; i++) {
        if (c->p >= c->end)
            return fail(d, SL_EWIRE_TRUNCATED, "page %u: truncated in %s", d->page, what);
        uint8_t byte = *c->p++;
        if (i == 9 && byte > 1)
            return fail(d, SL_EWIRE_VARINT, "page %u: varint overflow in %s", d->page, what);
        x |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *v = x;
            return SL_OK;
        }
    }
    return fail(d, SL_EWIRE_VARINT, "page %u: varint longer than 10 bytes in %s", d->page, what);
}

/* Reads a varint; the common one-byte case inline. */
static inline int rv(dec *d, cur *c, uint64_t *v, const char *what)
{
    if (c->p < c->end && *c->p < 0x80) {
        *v = *c->p++;
        return SL_OK;
    }
    return rv_slow(d, c, v, what);
}

/* A varint that must be at most max. */
static int rv_max(dec *d, cur *c, uint64_t max, uint32_t *v, const char *what)
{
    uint64_t x;
    if (rv(d, c, &x, what))
        return d->err;
    if (x > max)
        return fail(d, SL_EWIRE_LIMIT, "page %u: %s %llu above %llu", d->page, what,
                    (unsigned long long)x, (unsigned long long)max);
    *v = (uint32_t)x;
    return SL_OK;
}

static inline int rbytes(dec *d, cur *c, size_t n, const uint8_t **p, const char *what)
{
    if (cleft(c) < n)
        return fail(d, SL_EWIRE_TRUNCATED, "page %u: truncated in %s", d->page, what);
    *p = c->p;
    c->p += n;
    return SL_OK;
}

static inline int ru8(dec *d, cur *c, uint8_t *v, const char *what)
{
    if (c->p >= c->end)
        return fail(d, SL_EWIRE_TRUNCATED, "page %u: truncated in %s", d->page, what);
    *v = *c->p++;
    return SL_OK;
}

/* Sets up a number stream over head h and tail t, checking all of it: the
 * mode, the dictionary, every index or bit length, and that the tail holds
 * exactly the bits the lengths announce. */
static int num_open(dec *d, num *s, cur h, cur t)
{
    memset(s, 0, sizeof *s);
    s->t = t.p;
    s->tend = t.end;
    if (cleft(&h) == 0) {
        if (cleft(&t))
            return fail(d, SL_EWIRE_TRAILING, "page %u: number stream with a tail and no head",
                        d->page);
        return SL_OK;
    }
    s->mode = *h.p++;
    s->g = 1;
    if (s->mode == (NUM_BITS | NUM_DIV)) {
        if (rv(d, &h, &s->g, "number divisor"))
            return d->err;
        if (s->g < 2)
            return fail(d, SL_EWIRE_VALUE, "page %u: number divisor %llu", d->page,
                        (unsigned long long)s->g);
        s->mode = NUM_BITS;
    }
    if (s->mode == NUM_DICT) {
        uint64_t k;
        if (rv(d, &h, &k, "number dictionary"))
            return d->err;
        if (k == 0 || k > 256 || cleft(&t))
            return fail(d, SL_EWIRE_VALUE, "page %u: number dictionary of %llu values", d->page,
                        (unsigned long long)k);
        if (charge(d, k, sizeof(uint64_t), "number dictionaries") ||
            grow(d, (void **)&d->dpool, &d->capdpool, d->ndpool + (uint32_t)k, sizeof(uint64_t)))
            return d->err;
        s->k = (uint32_t)k;
        s->doff = d->ndpool;
        for (uint32_t i = 0; i < s->k; i++)
            if (rv(d, &h, &d->dpool[d->ndpool + i], "number dictionary"))
                return d->err;
        d->ndpool += s->k;
        for (const uint8_t *q = h.p; q < h.end; q++)
            if (*q >= s->k)
                return fail(d, SL_EWIRE_VALUE, "page %u: number index %u of %u", d->page, *q,
                            s->k);
    } else if (s->mode == NUM_BITS) {
        uint64_t bits = 0;
        for (const uint8_t *q = h.p; q < h.end; q++) {
            if (*q > 64)
                return fail(d, SL_EWIRE_VALUE, "page %u: number of %u bits", d->page, *q);
            bits += *q > 1 ? *q - 1u : 0;
        }
        if ((bits + 7) / 8 != cleft(&t))
            return fail(d, cleft(&t) * 8 < bits ? SL_EWIRE_TRUNCATED : SL_EWIRE_TRAILING,
                        "page %u: number bits take %llu bytes, %zu present", d->page,
                        (unsigned long long)((bits + 7) / 8), cleft(&t));
    } else {
        return fail(d, SL_EWIRE_VALUE, "page %u: number stream mode %u", d->page, s->mode);
    }
    if (cleft(&h) > UINT32_MAX)
        return fail(d, SL_EWIRE_LIMIT, "page %u: number stream too long", d->page);
    s->h = h.p;
    s->n = (uint32_t)cleft(&h);
    return SL_OK;
}

/* The next m (1..32) bits of the tail; num_open checked that they exist. */
static inline uint64_t num_bits(num *s, uint32_t m)
{
    while (s->bn < m && s->t < s->tend) {
        s->bb |= (uint64_t)*s->t++ << s->bn;
        s->bn += 8;
    }
    uint64_t x = s->bb & ((1ull << m) - 1);
    s->bb >>= m;
    s->bn = s->bn >= m ? s->bn - m : 0;
    return x;
}

static inline int rnum(dec *d, num *s, uint64_t *v, const char *what)
{
    if (s->i >= s->n)
        return fail(d, SL_EWIRE_TRUNCATED, "page %u: truncated in %s", d->page, what);
    uint32_t b = s->h[s->i++];
    if (s->mode == NUM_DICT) {
        *v = d->dpool[s->doff + b];
    } else if (b <= 1) {
        *v = b * s->g;
    } else if (b <= 33) {
        *v = (1ull << (b - 1) | num_bits(s, b - 1)) * s->g;
    } else {
        uint64_t lo = num_bits(s, 32);
        *v = (1ull << (b - 1) | num_bits(s, b - 33) << 32 | lo) * s->g;
    }
    return SL_OK;
}

/* Reads a string reference (see put_ref) into a page string index. */
static inline int rref(dec *d, cur *c, uint32_t *pidx, const char *what)
{
    uint64_t v;
    if (rv(d, c, &v, what))
        return d->err;
    if (v == 0) {
        if (d->next_new >= d->nstrs)
            return fail(d, SL_EWIRE_REF, "page %u: %s: more new strings than the page's %u",
                        d->page, what, d->nstrs - 1);
        *pidx = d->next_new++;
        return SL_OK;
    }
    if (v - 1 >= d->next_new)
        return fail(d, SL_EWIRE_REF, "page %u: %s: string %llu not yet introduced (%u so far)",
                    d->page, what, (unsigned long long)(v - 1), d->next_new);
    *pidx = (uint32_t)(v - 1);
    return SL_OK;
}

static uint32_t ndigits(uint64_t v)
{
    uint32_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Index in the output batch of page string pidx, interned at first use
 * (bstr: the common case, already interned, inline). */
static int bstr_new(dec *d, uint32_t pidx, uint32_t *out)
{
    pstr *s = &d->strs[pidx];
    const char *p = (const char *)s->p;
    uint32_t len = s->len;
    if (s->pfx != UINT32_MAX) {
        uint32_t pl = d->pfxl[s->pfx], nd = len - pl;
        uint64_t v = s->num;
        if (d->scratchcap < len) {
            char *ns = realloc(d->scratch, len);
            if (ns == NULL)
                return fail(d, SL_ENOMEM, "out of memory");
            d->scratch = ns;
            d->scratchcap = len;
        }
        if (pl)
            memcpy(d->scratch, d->pfxp[s->pfx], pl);
        for (uint32_t i = 0; i < nd; i++) {
            d->scratch[len - 1 - i] = (char)('0' + v % 10);
            v /= 10;
        }
        p = d->scratch;
    }
    uint32_t before = d->b->nstrs, idx = 0;
    if (len > 0) {
        if (charge(d, (uint64_t)len + sizeof(slc_str), 1, "strings"))
            return d->err;
        if (slc_batch_intern(d->b, p, len, &idx))
            return fail(d, SL_ENOMEM, "out of memory");
        if (d->b->nstrs > before && ++d->strs_added > d->lim->strings)
            return fail(d, SL_EWIRE_LIMIT, "more than the limit of %u strings", d->lim->strings);
    }
    s->bidx = idx;
    *out = idx;
    return SL_OK;
}

static inline int bstr(dec *d, uint32_t pidx, uint32_t *out)
{
    uint32_t x = d->strs[pidx].bidx;
    if (x != UINT32_MAX) {
        *out = x;
        return SL_OK;
    }
    return bstr_new(d, pidx, out);
}

/* Checks a literal: length limit and UTF-8 (plain ASCII skips the full
 * check). */
static int check_lit(dec *d, const uint8_t *p, uint64_t len, const char *what, uint32_t i)
{
    if (len > d->lim->string_bytes)
        return fail(d, SL_EWIRE_LIMIT, "page %u: %s %u: length %llu exceeds the limit of %u",
                    d->page, what, i, (unsigned long long)len, d->lim->string_bytes);
    uint64_t acc = 0, w;
    size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        memcpy(&w, p + k, 8);
        acc |= w;
    }
    for (; k < len; k++)
        acc |= p[k];
    if ((acc & 0x8080808080808080ull) && !slc_utf8_valid((const char *)p, (size_t)len))
        return fail(d, SL_EWIRE_UTF8, "page %u: %s %u is not valid UTF-8", d->page, what, i);
    return SL_OK;
}

/* Reads a literal (length from ll, bytes from lb). */
static int read_lit(dec *d, cur *ll, cur *lb, const uint8_t **p, uint32_t *len,
                    const char *what, uint32_t i)
{
    uint64_t n;
    if (rv(d, ll, &n, what))
        return d->err;
    if (n > cleft(lb))
        return fail(d, SL_EWIRE_TRUNCATED, "page %u: %s %u truncated", d->page, what, i);
    if (check_lit(d, lb->p, n, what, i))
        return d->err;
    *p = lb->p;
    *len = (uint32_t)n;
    lb->p += n;
    return SL_OK;
}

/* Reads the page's prefixes and strings, all of them up front (the
 * references that follow may name any). */
static int read_strings(dec *d, uint32_t nnew, uint32_t npfx)
{
    if (charge(d, (uint64_t)nnew + 1, sizeof(pstr), "page strings") ||
        charge(d, npfx, sizeof(uint8_t *) + 4, "page prefixes") ||
        grow(d, (void **)&d->strs, &d->capstrs, nnew + 1, sizeof(pstr)) ||
        grow(d, (void **)&d->pfxp, &d->cappfx, npfx, sizeof(uint8_t *)) ||
        grow(d, (void **)&d->pfxl, &d->cappfxl, npfx, sizeof(uint32_t)))
        return d->err;
    for (uint32_t i = 0; i < npfx; i++)
        if (read_lit(d, &d->st[ST_PFX_LEN], &d->st[ST_PFX_BYTES], &d->pfxp[i], &d->pfxl[i],
                     "prefix", i))
            return d->err;
    d->strs[0] = (pstr){(const uint8_t *)"", 0, UINT32_MAX, UINT32_MAX, 0};
    for (uint32_t i = 1; i <= nnew; i++) {
        uint64_t k;
        pstr *s = &d->strs[i];
        if (rv(d, &d->st[ST_STR_KIND], &k, "string kind"))
            return d->err;
        s->bidx = UINT32_MAX;
        s->pfx = UINT32_MAX;
        s->num = 0;
        if (k == 0) {
            if (read_lit(d, &d->st[ST_LIT_LEN], &d->st[ST_LIT_BYTES], &s->p, &s->len, "string",
                         i))
                return d->err;
            continue;
        }
        if (k - 1 >= npfx)
            return fail(d, SL_EWIRE_REF, "page %u: string %u: prefix %llu out of range (%u)",
                        d->page, i, (unsigned long long)(k - 1), npfx);
        if (rnum(d, NU(d, ST_STR_NUM), &s->num, "string number"))
            return d->err;
        if (s->num >= 1000000000000000000ull)
            return fail(d, SL_EWIRE_VALUE, "page %u: string %u: number has more than %d digits",
                        d->page, i, MAX_DIGITS);
        s->pfx = (uint32_t)(k - 1);
        s->p = NULL;
        s->len = d->pfxl[s->pfx] + ndigits(s->num);
        if (s->len > d->lim->string_bytes)
            return fail(d, SL_EWIRE_LIMIT, "page %u: string %u: length %u exceeds the limit of %u",
                        d->page, i, s->len, d->lim->string_bytes);
    }
    d->nstrs = nnew + 1;
    d->next_new = 1;
    return SL_OK;
}

/* Defines column c (== ncols_seen) from ST_AT_DEF. */
static int define_col(dec *d, uint32_t c)
{
    uint32_t pidx = 0;
    uint8_t type = 0;
    dcol *col = &d->cols[c];
    if (c >= d->ncols)
        return fail(d, SL_EWIRE_REF, "page %u: attribute column %u of %u", d->page, c, d->ncols);
    if (rref(d, &d->st[ST_AT_DEF], &pidx, "attribute key") ||
        ru8(d, &d->st[ST_AT_DEF], &type, "attribute type"))
        return d->err;
    if (type < SLC_V_STR || type > SLC_V_BOOL)
        return fail(d, SL_EWIRE_VALUE, "page %u: attribute column %u has type %u", d->page, c,
                    type);
    col->key = pidx;
    col->type = type;
    d->ncols_seen++;
    if (type == SLC_V_INT || type == SLC_V_DBL) {
        if (ru8(d, &d->st[ST_COL_PARAM], &col->param, "column parameter"))
            return d->err;
        if ((col->param & ~(PARAM_ZZ | 7u)) || (col->param & 7) > MAX_SCALE ||
            (type == SLC_V_INT && (col->param & 7)) || (type == SLC_V_INT && cleft(&col->x)))
            return fail(d, SL_EWIRE_VALUE, "page %u: column %u: parameter 0x%02x", d->page, c,
                        col->param);
        return num_open(d, &col->nu, col->h, col->t);
    }
    if (cleft(&col->t) || cleft(&col->x))
        return fail(d, SL_EWIRE_TRAILING, "page %u: column %u has a second stream", d->page, c);
    col->c = col->h;
    return SL_OK;
}

/* Reads a shape number from stream sh (defining the shape from ST_SH_DEF
 * at its first use) and returns the shape. */
static const dshape *read_shape(dec *d, int sh)
{
    uint64_t v;
    if (rv(d, &d->st[sh], &v, "attribute shape"))
        return NULL;
    if (v < d->nsh)
        return &d->shp[v];
    if (v > d->nsh) {
        fail(d, SL_EWIRE_REF, "page %u: attribute shape %llu before shape %u", d->page,
             (unsigned long long)v, d->nsh);
        return NULL;
    }
    uint32_t n;
    cur *def = &d->st[ST_SH_DEF];
    if (d->nsh >= d->p_items) {
        fail(d, SL_EWIRE_VALUE, "page %u: more shapes than items", d->page);
        return NULL;
    }
    if (rv_max(d, def, d->lim->attrs_per_item, &n, "attribute count"))
        return NULL;
    if (n > cleft(def)) {
        fail(d, SL_EWIRE_TRUNCATED, "page %u: shape of %u columns truncated", d->page, n);
        return NULL;
    }
    if (charge(d, (uint64_t)n + 2, sizeof(uint32_t), "shapes") ||
        grow(d, (void **)&d->shp, &d->capsh, d->nsh + 1, sizeof(dshape)) ||
        grow(d, (void **)&d->shc, &d->capshc, d->nshc + n, sizeof(uint32_t)))
        return NULL;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t c;
        if (rv(d, def, &c, "shape column"))
            return NULL;
        if (c == d->ncols_seen) {
            if (define_col(d, (uint32_t)c))
                return NULL;
        } else if (c > d->ncols_seen) {
            fail(d, SL_EWIRE_REF, "page %u: column %llu before column %u", d->page,
                 (unsigned long long)c, d->ncols_seen);
            return NULL;
        }
        d->shc[d->nshc + k] = (uint32_t)c;
    }
    d->shp[d->nsh] = (dshape){d->nshc, n};
    d->nshc += n;
    return &d->shp[d->nsh++];
}

/* Reads the attributes of one item (shape from stream sh); with d->emit
 * appends them to the batch and sets *first, *count. */
static int read_attrs(dec *d, int sh, uint32_t *first, uint32_t *count)
{
    slc_batch *b = d->b;
    const dshape *s = read_shape(d, sh);
    if (s == NULL)
        return d->err;
    uint32_t n = s->n;
    const uint32_t *cols = n ? d->shc + s->first : NULL;
    if (n > d->p_nat - d->r_nat)
        return fail(d, SL_EWIRE_VALUE, "page %u: more attributes than the page's %u", d->page,
                    d->p_nat);
    d->r_nat += n;
    *first = b->nattrs;
    *count = n;
    for (uint32_t i = 0; i < n; i++) {
        dcol *c = &d->cols[cols[i]];
        slc_attr a;
        uint64_t z = 0;
        uint32_t pidx = 0;
        memset(&a, 0, sizeof a);
        a.type = c->type;
        switch (a.type) {
        case SLC_V_STR:
            if (rref(d, &c->c, &pidx, "attribute value") || (d->emit && bstr(d, pidx, &a.v.str)))
                return d->err;
            break;
        case SLC_V_INT:
            if (rnum(d, &c->nu, &z, "attribute value"))
                return d->err;
            a.v.i = (int64_t)(c->param & PARAM_ZZ ? unzz(z) : z);
            break;
        case SLC_V_DBL:
            if (rnum(d, &c->nu, &z, "attribute value"))
                return d->err;
            if (z == 0) {
                const uint8_t *p = NULL;
                if (rbytes(d, &c->x, 8, &p, "double"))
                    return d->err;
                uint64_t bits = get64(p);
                memcpy(&a.v.d, &bits, 8);
                if (!isfinite(a.v.d))
                    return fail(d, SL_EWIRE_VALUE, "page %u: attribute value is not finite",
                                d->page);
            } else {
                z--;
                a.v.d = (double)(int64_t)(c->param & PARAM_ZZ ? unzz(z) : z) /
                        pow10_tab[c->param & 7];
            }
            break;
        default:
            if (ru8(d, &c->c, &a.v.b, "attribute value"))
                return d->err;
            if (a.v.b > 1)
                return fail(d, SL_EWIRE_VALUE, "page %u: bool attribute is %u", d->page, a.v.b);
            break;
        }
        if (d->emit) {
            if (bstr(d, c->key, &a.key))
                return d->err;
            EMIT(d, slc_batch_add_attr, &a);
        }
    }
    return SL_OK;
}

/* Reads span i of the n spans of trace tid (ids: their 8-byte ids). */
static int read_span(dec *d, const uint8_t *tid, const uint8_t *ids, uint32_t i, uint32_t n,
                     uint64_t base)
{
    slc_span s;
    uint64_t code = 0, delta = 0, dur = 0;
    uint8_t ks = 0;
    uint32_t svc = 0, name = 0, smsg = 0;
    const uint8_t *p = NULL;
    slc_batch *b = d->b;

    memset(&s, 0, sizeof s);
    if (rbytes(d, &d->st[ST_SP_ID], 8, &p, "span id") || rv(d, &d->st[ST_SP_PAR], &code, "parent"))
        return d->err;
    if (slc_is_zero(p, 8))
        return fail(d, SL_EWIRE_VALUE, "page %u: span id is all zero", d->page);
    uint64_t ref = i ? d->starts[i - 1] : base;
    if (code >= 1 && code <= n) {
        memcpy(s.parent_id, ids + 8 * (code - 1), 8);
        if (code - 1 < i)
            ref = d->starts[code - 1];
    } else if (code == (uint64_t)n + 1) {
        const uint8_t *pp = NULL;
        if (rbytes(d, &d->st[ST_SP_PID], 8, &pp, "parent id"))
            return d->err;
        memcpy(s.parent_id, pp, 8);
    } else if (code != 0) {
        return fail(d, SL_EWIRE_VALUE, "page %u: parent code %llu of a %u-span trace", d->page,
                    (unsigned long long)code, n);
    }
    if (ru8(d, &d->st[ST_SP_KS], &ks, "span kind") ||
        rnum(d, NU(d, ST_SP_START), &delta, "span start") ||
        rnum(d, NU(d, ST_SP_DUR), &dur, "span duration"))
        return d->err;
    s.kind = ks & 15;
    s.status = ks >> 4;
    if (s.kind > SLC_KIND_CONSUMER || s.status > SLC_STATUS_ERROR)
        return fail(d, SL_EWIRE_VALUE, "page %u: span kind/status byte 0x%02x out of range",
                    d->page, ks);
    s.start_ns = ref + unzz(delta);
    d->starts[i] = s.start_ns;
    if (dur > UINT64_MAX - s.start_ns)
        return fail(d, SL_EWIRE_VALUE, "page %u: span end time overflows", d->page);
    s.end_ns = s.start_ns + dur;
    if (rref(d, &d->st[ST_SP_SVC], &svc, "span service") ||
        rref(d, &d->st[ST_SP_NAME], &name, "span name") ||
        rref(d, &d->st[ST_SP_SMSG], &smsg, "span status message"))
        return d->err;
    if (read_attrs(d, ST_SH_SPAN, &s.attr_first, &s.attr_count) ||
        rv_max(d, &d->st[ST_SP_NEV], d->lim->events_per_span, &s.event_count, "event count"))
        return d->err;
    if (s.event_count > d->p_nev - d->r_nev)
        return fail(d, SL_EWIRE_VALUE, "page %u: more events than the page's %u", d->page,
                    d->p_nev);
    d->r_nev += s.event_count;
    s.event_first = b->nevents;
    for (uint32_t k = 0; k < s.event_count; k++) {
        slc_event ev;
        uint64_t t = 0;
        uint32_t en = 0;
        memset(&ev, 0, sizeof ev);
        if (rnum(d, NU(d, ST_EV_TIME), &t, "event time") ||
            rref(d, &d->st[ST_EV_NAME], &en, "event name") ||
            read_attrs(d, ST_SH_EV, &ev.attr_first, &ev.attr_count))
            return d->err;
        ev.time_ns = s.start_ns + unzz(t);
        if (d->emit) {
            if (bstr(d, en, &ev.name))
                return d->err;
            EMIT(d, slc_batch_add_event, &ev);
        }
    }
    if (rv_max(d, &d->st[ST_SP_NLK], d->lim->links_per_span, &s.link_count, "link count"))
        return d->err;
    if (s.link_count > d->p_nlk - d->r_nlk)
        return fail(d, SL_EWIRE_VALUE, "page %u: more links than the page's %u", d->page,
                    d->p_nlk);
    d->r_nlk += s.link_count;
    s.link_first = b->nlinks;
    for (uint32_t k = 0; k < s.link_count; k++) {
        slc_link l;
        const uint8_t *lp = NULL;
        memset(&l, 0, sizeof l);
        if (rbytes(d, &d->st[ST_LK_IDS], 24, &lp, "link ids"))
            return d->err;
        memcpy(l.trace_id, lp, 16);
        memcpy(l.span_id, lp + 16, 8);
        if (slc_is_zero(l.trace_id, 16) || slc_is_zero(l.span_id, 8))
            return fail(d, SL_EWIRE_VALUE, "page %u: link id is all zero", d->page);
        if (read_attrs(d, ST_SH_LK, &l.attr_first, &l.attr_count))
            return d->err;
        if (d->emit)
            EMIT(d, slc_batch_add_link, &l);
    }
    if (!d->emit)
        return SL_OK;
    memcpy(s.trace_id, tid, 16);
    memcpy(s.span_id, p, 8);
    if (bstr(d, svc, &s.service) || bstr(d, name, &s.name) || bstr(d, smsg, &s.status_msg))
        return d->err;
    EMIT(d, slc_batch_add_span, &s);
    return SL_OK;
}

/* Reads one log record: of trace tid (ids, n spans, base) when tid is set,
 * else a trace-less one whose time is *prev + delta. */
static int read_log(dec *d, const uint8_t *tid, const uint8_t *ids, uint32_t n, uint64_t base,
                    uint64_t *prev)
{
    slc_log l;
    uint64_t t = 0;
    uint32_t svc = 0, body = 0;
    memset(&l, 0, sizeof l);
    if (rnum(d, NU(d, ST_LG_TIME), &t, "log time") ||
        ru8(d, &d->st[ST_LG_LVL], &l.level, "log level"))
        return d->err;
    if (l.level < 1 || l.level > 24)
        return fail(d, SL_EWIRE_VALUE, "page %u: log level %u out of range 1..24", d->page,
                    l.level);
    if (tid) {
        uint64_t code = 0, ref = base;
        if (rv(d, &d->st[ST_LG_SPAN], &code, "log span"))
            return d->err;
        if (code >= 1 && code <= n) {
            memcpy(l.span_id, ids + 8 * (code - 1), 8);
            ref = d->starts[code - 1];
        } else if (code == (uint64_t)n + 1) {
            const uint8_t *p = NULL;
            if (rbytes(d, &d->st[ST_LG_SID], 8, &p, "log span id"))
                return d->err;
            memcpy(l.span_id, p, 8);
        } else if (code != 0) {
            return fail(d, SL_EWIRE_VALUE, "page %u: log span code %llu of a %u-span trace",
                        d->page, (unsigned long long)code, n);
        }
        l.time_ns = ref + unzz(t);
        l.flags = SLC_LOG_F_TRACE;
        memcpy(l.trace_id, tid, 16);
    } else {
        l.time_ns = *prev + t;
        *prev = l.time_ns;
    }
    if (rref(d, &d->st[ST_LG_SVC], &svc, "log service") ||
        rref(d, &d->st[ST_LG_BODY], &body, "log body") ||
        read_attrs(d, ST_SH_LOG, &l.attr_first, &l.attr_count))
        return d->err;
    if (!d->emit)
        return SL_OK;
    if (bstr(d, svc, &l.service) || bstr(d, body, &l.body))
        return d->err;
    EMIT(d, slc_batch_add_log, &l);
    return SL_OK;
}

/* One rANS decoding step for state xv into *outp, with the renormalising
 * word read without a branch: the caller guarantees 2 readable bytes at p
 * per step (fc[s] = freq | cum << 16). */
#define ANS_STEP(xv, outp)                                                                     \
    do {                                                                                       \
        uint32_t slot_ = (xv) & (ANS_M - 1), fc_ = fc[sym[slot_]];                             \
        *(outp) = sym[slot_];                                                                  \
        (xv) = (fc_ & 0xffff) * ((xv) >> ANS_BITS) + slot_ - (fc_ >> 16);                      \
        uint32_t r_ = (xv) < ANS_L, w_ = (uint32_t)p[0] | (uint32_t)p[1] << 8;                \
        (xv) = r_ ? (xv) << 16 | w_ : (xv);                                                    \
        p += r_ << 1;                                                                          \
    } while (0)

/* The same with the bounds check, for the last bytes of a chunk. */
#define ANS_STEP_CHECKED(xv, outp)                                                             \
    do {                                                                                       \
        uint32_t slot_ = (xv) & (ANS_M - 1), fc_ = fc[sym[slot_]];                             \
        *(outp) = sym[slot_];                                                                  \
        (xv) = (fc_ & 0xffff) * ((xv) >> ANS_BITS) + slot_ - (fc_ >> 16);                      \
        if ((xv) < ANS_L) {                                                                    \
            if (end - p < 2)                                                                   \
                return fail(d, SL_EWIRE_INFLATE, "page %u: rANS data truncated", d->page);     \
            (xv) = (xv) << 16 | (uint32_t)p[0] | (uint32_t)p[1] << 8;                          \
            p += 2;                                                                            \
        }                                                                                      \
    } while (0)

/* Decodes the rANS chunk src[0..len) (see ans_encode) into dst[0..n).
 * Every state must come back to ANS_L with every byte used, which catches
 * nearly any corruption. */
static int ans_decode(dec *d, const uint8_t *src, size_t len, uint8_t *dst, size_t n)
{
    cur c = {src, src + len};
    uint32_t fc[256], sum = 0, x[4];
    uint64_t hk;
    uint8_t sym[ANS_M];
    int s = -1;
    if (rv(d, &c, &hk, "rANS table"))
        return d->err;
    uint64_t k = (hk >> 2) + 1;
    uint32_t ways = 1u << (hk & 3);
    if (k > 256 || ways > 4 || ways != 1u << ans_ways_log(n))
        return fail(d, SL_EWIRE_INFLATE, "page %u: rANS header 0x%llx", d->page,
                    (unsigned long long)hk);
    for (uint64_t i = 0; i < k; i++) {
        uint64_t gap, f;
        if (rv(d, &c, &gap, "rANS table") || rv(d, &c, &f, "rANS table"))
            return d->err;
        if (gap > 255 || (uint64_t)s + 1 + gap > 255 || f >= ANS_M || sum + f + 1 > ANS_M)
            return fail(d, SL_EWIRE_INFLATE, "page %u: bad rANS table", d->page);
        s += (int)gap + 1;
        fc[s] = ((uint32_t)f + 1) | sum << 16;
        if (k > 1)
            memset(sym + sum, s, (size_t)f + 1);
        sum += (uint32_t)f + 1;
    }
    if (sum != ANS_M || cleft(&c) < 4 * ways)
        return fail(d, SL_EWIRE_INFLATE, "page %u: bad rANS table", d->page);
    for (uint32_t w = 0; w < ways; w++)
        x[w] = get32(c.p + 4 * w);
    const uint8_t *p = c.p + 4 * ways, *end = c.end;
    size_t i = 0;
    if (k == 1) { /* one symbol: the states never move */
        memset(dst, s, n);
        i = n;
    } else if (ways == 4) {
        uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
        for (; i + 4 <= n && end - p >= 8; i += 4) {
            ANS_STEP(x0, dst + i);
            ANS_STEP(x1, dst + i + 1);
            ANS_STEP(x2, dst + i + 2);
            ANS_STEP(x3, dst + i + 3);
        }
        for (; i + 4 <= n; i += 4) {
            ANS_STEP_CHECKED(x0, dst + i);
            ANS_STEP_CHECKED(x1, dst + i + 1);
            ANS_STEP_CHECKED(x2, dst + i + 2);
            ANS_STEP_CHECKED(x3, dst + i + 3);
        }
        x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
    } else if (ways == 2) {
        uint32_t x0 = x[0], x1 = x[1];
        for (; i + 2 <= n && end - p >= 4; i += 2) {
            ANS_STEP(x0, dst + i);
            ANS_STEP(x1, dst + i + 1);
        }
        for (; i + 2 <= n; i += 2) {
            ANS_STEP_CHECKED(x0, dst + i);
            ANS_STEP_CHECKED(x1, dst + i + 1);
        }
        x[0] = x0, x[1] = x1;
    } else {
        uint32_t x0 = x[0];
        for (; i < n && end - p >= 2; i++)
            ANS_STEP(x0, dst + i);
        for (; i < n; i++)
            ANS_STEP_CHECKED(x0, dst + i);
        x[0] = x0;
    }
    for (; i < n; i++) { /* the last n mod ways symbols */
        uint32_t xw = x[i & (ways - 1)];
        ANS_STEP_CHECKED(xw, dst + i);
        x[i & (ways - 1)] = xw;
    }
    for (uint32_t w = 0; w < ways; w++)
        if (x[w] != ANS_L)
            return fail(d, SL_EWIRE_INFLATE, "page %u: rANS data is corrupt", d->page);
    if (p != end)
        return fail(d, SL_EWIRE_INFLATE, "page %u: rANS data is corrupt", d->page);
    return SL_OK;
}

/* Decodes the chunks of page pe into d->raw. */
static int inflate_page(dec *d, const blkdir *bd, const pent *pe)
{
    const uint8_t *src = bd->body + bd->pages_off + pe->off;
    cur c = {src, src + pe->comp};
    uint64_t nchunks;

    if (charge(d, pe->raw, 1, "page"))
        return d->err;
    if (d->rawcap < pe->raw) {
        free(d->raw);
        d->raw = malloc(pe->raw);
        d->rawcap = d->raw ? pe->raw : 0;
        if (d->raw == NULL)
            return fail(d, SL_ENOMEM, "out of memory");
    }
    if (rv(d, &c, &nchunks, "chunk count"))
        return d->err;
    if (nchunks > cleft(&c) / 4)
        return fail(d, SL_EWIRE_TRUNCATED, "page %u: %llu chunks cannot fit in %zu bytes",
                    d->page, (unsigned long long)nchunks, cleft(&c));
    /* The chunk headers first (all checked before anything is decoded),
     * then their bytes. */
    cur hdr = c;
    uint64_t stored_total = 0, raw_total = 0;
    for (uint64_t i = 0; i < nchunks; i++) {
        uint64_t rl = 0, sl = 0;
        uint8_t m = 0;
        if (rv(d, &hdr, &rl, "chunk length") || rv(d, &hdr, &sl, "chunk length") ||
            ru8(d, &hdr, &m, "chunk method"))
            return d->err;
        if (rl == 0 || sl == 0 || m > CH_RANS || (m == CH_STORED && sl != rl))
            return fail(d, SL_EWIRE_VALUE, "page %u: chunk %llu: bad header", d->page,
                        (unsigned long long)i);
        raw_total += rl;
        stored_total += sl;
        if (raw_total > pe->raw || stored_total > pe->comp)
            return fail(d, SL_EWIRE_VALUE, "page %u: chunks longer than the page", d->page);
    }
    if (stored_total != cleft(&hdr) || raw_total != pe->raw)
        return fail(d, SL_EWIRE_VALUE, "page %u: chunk lengths do not add up", d->page);
    const uint8_t *data = hdr.p;
    size_t out = 0;
    for (uint64_t i = 0; i < nchunks; i++) {
        uint64_t rl = 0, sl = 0;
        uint8_t m = CH_STORED;
        rv(d, &c, &rl, "chunk length");
        rv(d, &c, &sl, "chunk length");
        ru8(d, &c, &m, "chunk method");
        if (m == CH_STORED) {
            memcpy(d->raw + out, data, (size_t)rl);
        } else if (m == CH_RANS) {
            if (ans_decode(d, data, (size_t)sl, d->raw + out, (size_t)rl))
                return d->err;
        } else {
            size_t r = ZSTD_decompressDCtx(d->dctx, d->raw + out, (size_t)rl, data, (size_t)sl);
            if (ZSTD_isError(r) || r != rl)
                return fail(d, SL_EWIRE_INFLATE, "page %u: chunk %llu: zstd data is corrupt (%s)",
                            d->page, (unsigned long long)i,
                            ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong length");
        }
        data += sl;
        out += (size_t)rl;
    }
    return SL_OK;
}

/* Decompresses page pe and sets up its streams, columns and strings. */
static int open_page(dec *d, const blkdir *bd, const pent *pe)
{
    uint64_t v[PAGE_COUNTS];
    static const char *const names[PAGE_COUNTS] = {
        "trace count", "span count",   "log count",    "event count", "link count",
        "attr count",  "string count", "prefix count", "column count"};

    if (inflate_page(d, bd, pe))
        return d->err;
    cur h = {d->raw, d->raw + pe->raw};
    for (int i = 0; i < PAGE_COUNTS; i++)
        if (rv(d, &h, &v[i], names[i]))
            return d->err;
    if (v[0] != pe->ntraces || v[1] != pe->nspans || v[2] != pe->nlogs)
        return fail(d, SL_EWIRE_VALUE, "page %u: counts differ from the directory's", d->page);
    if (v[8] > cleft(&h))
        return fail(d, SL_EWIRE_TRUNCATED, "page %u: %llu columns cannot fit", d->page,
                    (unsigned long long)v[8]);
    if (v[8] > UINT32_MAX / 4)
        return fail(d, SL_EWIRE_LIMIT, "page %u: %llu columns", d->page, (unsigned long long)v[8]);
    uint32_t ncols = (uint32_t)v[8], ns = NPHYS_FIXED + NPHYS_COL * ncols;
    if (charge(d, ncols, sizeof(dcol), "columns") ||
        grow(d, (void **)&d->cols, &d->capcols, ncols, sizeof(dcol)))
        return d->err;
    /* Stream lengths, then the streams. */
    uint64_t total = 0;
    cur lc = h;
    for (uint32_t i = 0; i < ns; i++) {
        uint64_t sl;
        if (rv(d, &h, &sl, "stream length"))
            return d->err;
        total += sl;
        if (total > pe->raw)
            return fail(d, SL_EWIRE_TRUNCATED, "page %u: streams longer than the page", d->page);
    }
    if (total != cleft(&h))
        return fail(d, total < cleft(&h) ? SL_EWIRE_TRAILING : SL_EWIRE_TRUNCATED,
                    "page %u: stream lengths (%llu) do not match the page (%zu)", d->page,
                    (unsigned long long)total, cleft(&h));
    const uint8_t *sp = h.p;
    cur nh = {0};
    d->ndpool = 0;
    for (uint32_t i = 0; i < ns; i++) {
        uint64_t sl = 0;
        rv(d, &lc, &sl, "stream length");
        cur x = {sp, sp + sl};
        sp += sl;
        if (i < ST_FIRST_NUM) {
            d->st[i] = x;
        } else if (i < NPHYS_FIXED) {
            if (((i - ST_FIRST_NUM) & 1) == 0)
                nh = x;
            else if (num_open(d, &d->nu[(i - ST_FIRST_NUM) / 2], nh, x))
                return d->err;
        } else {
            dcol *col = &d->cols[(i - NPHYS_FIXED) / NPHYS_COL];
            uint32_t part = (i - NPHYS_FIXED) % NPHYS_COL;
            if (part == 0)
                col->h = x;
            else if (part == 1)
                col->t = x;
            else
                col->x = x;
        }
    }
    /* Counts against the bytes their items need (attributes can take no
     * bytes: an all-zero int column is a width byte; they are bounded by
     * the items and the shape limit instead), then charged in full. */
    for (int i = 3; i < PAGE_COUNTS; i++)
        if (v[i] > UINT32_MAX)
            return fail(d, SL_EWIRE_LIMIT, "page %u: %s %llu", d->page, names[i],
                        (unsigned long long)v[i]);
    uint64_t items = (uint64_t)pe->nspans + pe->nlogs + v[3] + v[4];
    if (v[3] > cleft(&d->st[ST_EV_NAME]) || v[4] > cleft(&d->st[ST_LK_IDS]) / 24 ||
        v[6] > cleft(&d->st[ST_STR_KIND]) || v[7] > cleft(&d->st[ST_PFX_LEN]) ||
        (uint64_t)pe->nspans > cleft(&d->st[ST_SP_ID]) / 8 ||
        (uint64_t)pe->nlogs > cleft(&d->st[ST_LG_LVL]) ||
        (uint64_t)pe->ntraces > cleft(&d->st[ST_TR_NSP]) || ncols > v[5] ||
        v[5] > items * d->lim->attrs_per_item || items > UINT32_MAX)
        return fail(d, SL_EWIRE_TRUNCATED, "page %u: counts cannot fit in the streams", d->page);
    if (charge(d, pe->nspans, sizeof(slc_span) + sizeof(uint64_t), "spans") ||
        charge(d, pe->nlogs, sizeof(slc_log), "logs") ||
        charge(d, v[3], sizeof(slc_event), "events") ||
        charge(d, v[4], sizeof(slc_link), "links") ||
        charge(d, v[5], sizeof(slc_attr), "attributes"))
        return d->err;
    d->p_ntr = pe->ntraces;
    d->p_nsp = pe->nspans;
    d->p_nlg = pe->nlogs;
    d->p_nev = (uint32_t)v[3];
    d->p_nlk = (uint32_t)v[4];
    d->p_nat = (uint32_t)v[5];
    d->p_items = (uint32_t)items;
    d->r_nsp = d->r_nlg = d->r_nev = d->r_nlk = d->r_nat = 0;
    d->ncols = ncols;
    d->ncols_seen = 0;
    d->nsh = d->nshc = 0;
    if (grow(d, (void **)&d->starts, &d->capstarts, pe->nspans, sizeof(uint64_t)))
        return d->err;
    return read_strings(d, (uint32_t)v[6], (uint32_t)v[7]);
}

/* Checks that every stream of the page was read to its end. */
static int page_done(dec *d)
{
    if (d->r_nsp != d->p_nsp || d->r_nlg != d->p_nlg || d->r_nev != d->p_nev ||
        d->r_nlk != d->p_nlk || d->r_nat != d->p_nat)
        return fail(d, SL_EWIRE_VALUE, "page %u: items differ from the page's counts", d->page);
    if (d->ncols_seen != d->ncols || d->next_new != d->nstrs)
        return fail(d, SL_EWIRE_VALUE, "page %u: unused columns or strings", d->page);
    for (uint32_t i = 0; i < ST_FIRST_NUM; i++)
        if (d->st[i].p != d->st[i].end)
            return fail(d, SL_EWIRE_TRAILING, "page %u: %zu bytes left in stream %u", d->page,
                        cleft(&d->st[i]), i);
    for (uint32_t i = 0; i < NNUM; i++)
        if (d->nu[i].i != d->nu[i].n)
            return fail(d, SL_EWIRE_TRAILING, "page %u: values left in number stream %u",
                        d->page, i);
    for (uint32_t i = 0; i < d->ncols; i++) {
        const dcol *c = &d->cols[i];
        int nums = c->type == SLC_V_INT || c->type == SLC_V_DBL;
        if ((nums && (c->nu.i != c->nu.n || c->x.p != c->x.end)) ||
            (!nums && c->c.p != c->c.end))
            return fail(d, SL_EWIRE_TRAILING, "page %u: values left in column %u", d->page, i);
    }
    return SL_OK;
}

/* Walks the open page; emits everything (want == ALL_TRACES) or only the
 * page's trace number want, stopping after it.  tids: the directory's ids
 * of the page's traces. */
static int walk_page(dec *d, const uint8_t *tids, uint32_t want)
{
    if (d->p_ntr == 0) {
        uint64_t prev = d->base;
        d->emit = 1;
        for (uint32_t i = 0; i < d->p_nlg; i++)
            if (read_log(d, NULL, NULL, 0, 0, &prev))
                return d->err;
        d->r_nlg = d->p_nlg;
    }
    for (uint32_t k = 0; k < d->p_ntr; k++) {
        uint32_t n = 0, m = 0;
        uint64_t v = 0;
        const uint8_t *tid = tids + 16 * (size_t)k;
        d->emit = want == ALL_TRACES || want == k;
        if (rv_max(d, &d->st[ST_TR_NSP], d->p_nsp - d->r_nsp, &n, "trace span count") ||
            rv_max(d, &d->st[ST_TR_NLG], d->p_nlg - d->r_nlg, &m, "trace log count") ||
            rnum(d, NU(d, ST_TR_BASE), &v, "trace time"))
            return d->err;
        if (n == 0 && m == 0)
            return fail(d, SL_EWIRE_VALUE, "page %u: trace %u is empty", d->page, k);
        d->r_nsp += n;
        d->r_nlg += m;
        uint64_t base = d->base + v;
        const uint8_t *ids = d->st[ST_SP_ID].p;
        if (cleft(&d->st[ST_SP_ID]) / 8 < n)
            return fail(d, SL_EWIRE_TRUNCATED, "page %u: truncated in span ids", d->page);
        for (uint32_t i = 0; i < n; i++)
            if (read_span(d, tid, ids, i, n, base))
                return d->err;
        for (uint32_t i = 0; i < m; i++)
            if (read_log(d, tid, ids, n, base, NULL))
                return d->err;
        if (want == k)
            return SL_OK;
    }
    return page_done(d);
}

/* Checks the header and the directory and fills *bd.  full: also the body
 * CRC (a gather checks the directory's CRC here and its page's later). */
static int read_dir(dec *d, const uint8_t *buf, size_t len, blkdir *bd, int full)
{
    memset(bd, 0, sizeof *bd);
    if (len > d->lim->frame_bytes)
        return fail(d, SL_EWIRE_LIMIT, "block of %zu bytes exceeds the limit of %u", len,
                    d->lim->frame_bytes);
    if (len < 4 || memcmp(buf, COL_COLD_MAGIC, 4) != 0)
        return fail(d, len < 4 ? SL_EWIRE_TRUNCATED : SL_EWIRE_MAGIC,
                    "bad magic: not a sealed block");
    if (len < COL_COLD_HEADER_LEN)
        return fail(d, SL_EWIRE_TRUNCATED, "block of %zu bytes is shorter than the header", len);
    if (buf[4] != COL_COLD_VERSION)
        return fail(d, SL_EWIRE_VERSION, "sealed block version %u; this side reads version %d",
                    buf[4], COL_COLD_VERSION);
    if ((uint32_t)crc32(0L, buf, 28) != get32(buf + 28))
        return fail(d, SL_EWIRE_CHECKSUM, "sealed block header checksum mismatch");
    if (buf[5] || buf[6] || buf[7])
        return fail(d, SL_EWIRE_FLAGS, "sealed block flags or reserved bytes set");
    bd->batch_id = get64(buf + 8);
    bd->body_len = get32(buf + 16);
    bd->nspans = get32(buf + 20);
    if (bd->body_len != len - COL_COLD_HEADER_LEN)
        return fail(d, bd->body_len > len - COL_COLD_HEADER_LEN ? SL_EWIRE_TRUNCATED
                                                                : SL_EWIRE_TRAILING,
                    "body of %zu bytes announced, %zu present", bd->body_len,
                    len - COL_COLD_HEADER_LEN);
    bd->body = buf + COL_COLD_HEADER_LEN;
    if (full && (uint32_t)crc32(0L, bd->body, (uInt)bd->body_len) != get32(buf + 24))
        return fail(d, SL_EWIRE_CHECKSUM, "sealed block body checksum mismatch");
    if (bd->body_len < BODY_FIXED + 4)
        return fail(d, SL_EWIRE_TRUNCATED, "sealed block body of %zu bytes is too short",
                    bd->body_len);
    bd->nlogs = get32(bd->body);
    bd->ntraces = get32(bd->body + 4);
    bd->npages = get32(bd->body + 8);
    bd->base = get64(bd->body + 12);
    if (bd->nspans > d->lim->spans)
        return fail(d, SL_EWIRE_LIMIT, "%u spans exceed the limit of %u", bd->nspans,
                    d->lim->spans);
    if (bd->nlogs > d->lim->logs)
        return fail(d, SL_EWIRE_LIMIT, "%u logs exceed the limit of %u", bd->nlogs, d->lim->logs);
    uint64_t dirlen =
        BODY_FIXED + (uint64_t)bd->npages * PAGE_ENTRY + (uint64_t)bd->ntraces * 16 + 4;
    if (dirlen > bd->body_len)
        return fail(d, SL_EWIRE_TRUNCATED, "directory of %u pages and %u traces is truncated",
                    bd->npages, bd->ntraces);
    if (!full &&
        (uint32_t)crc32(0L, bd->body, (uInt)(dirlen - 4)) != get32(bd->body + dirlen - 4))
        return fail(d, SL_EWIRE_CHECKSUM, "sealed block directory checksum mismatch");
    bd->ents = bd->body + BODY_FIXED;
    bd->tids = bd->ents + (size_t)bd->npages * PAGE_ENTRY;
    bd->pages_off = (size_t)dirlen;
    uint64_t tr = 0, sp = 0, lg = 0, off = 0, raw = 0;
    int tl = 0;
    for (uint32_t i = 0; i < bd->npages; i++) {
        const uint8_t *e = bd->ents + (size_t)i * PAGE_ENTRY;
        uint32_t ntr = get32(e + 12), nsp = get32(e + 16), nlg = get32(e + 20);
        if (get32(e) == 0 || get32(e + 4) == 0 || (ntr == 0 && (nsp != 0 || nlg == 0)) ||
            (tl && ntr))
            return fail(d, SL_EWIRE_VALUE, "directory entry of page %u is invalid", i);
        tl = ntr == 0;
        tr += ntr;
        sp += nsp;
        lg += nlg;
        off += get32(e);
        raw += get32(e + 4);
    }
    if (tr != bd->ntraces || sp != bd->nspans || lg != bd->nlogs)
        return fail(d, SL_EWIRE_VALUE, "directory counts differ from the header's");
    if (off != bd->body_len - dirlen)
        return fail(d, off > bd->body_len - dirlen ? SL_EWIRE_TRUNCATED : SL_EWIRE_TRAILING,
                    "pages take %llu bytes, %llu present", (unsigned long long)off,
                    (unsigned long long)(bd->body_len - dirlen));
    if (raw > d->lim->payload_bytes)
        return fail(d, SL_EWIRE_LIMIT, "pages of %llu raw bytes exceed the limit of %u",
                    (unsigned long long)raw, d->lim->payload_bytes);
    bd->raw_total = raw;
    return SL_OK;
}

static pent page_entry(const blkdir *bd, uint32_t i, size_t off)
{
    const uint8_t *e = bd->ents + (size_t)i * PAGE_ENTRY;
    pent p = {off,           get32(e),      get32(e + 4), get32(e + 8),
              get32(e + 12), get32(e + 16), get32(e + 20)};
    return p;
}

static void dec_free(dec *d)
{
    ZSTD_freeDCtx(d->dctx);
    free(d->raw);
    free(d->cols);
    free(d->shp);
    free(d->shc);
    free(d->strs);
    free(d->pfxp);
    free(d->pfxl);
    free(d->starts);
    free(d->scratch);
    free(d->dpool);
}

static int dec_init(dec *d, const slc_wire_limits *lim, slc_wire_limits *dl, char *msg,
                    size_t msglen)
{
    memset(d, 0, sizeof *d);
    if (msg && msglen)
        msg[0] = '\0';
    d->msg = msg;
    d->msglen = msglen;
    if (lim == NULL) {
        slc_wire_limits_default(dl);
        lim = dl;
    }
    d->lim = lim;
    d->mem_max = lim->decoded_bytes;
    d->dctx = ZSTD_createDCtx();
    if (d->dctx == NULL)
        return fail(d, SL_ENOMEM, "out of memory");
    return SL_OK;
}

int col_cold_decode(const uint8_t *buf, size_t len, const slc_wire_limits *lim, slc_batch **out,
                    char *msg, size_t msglen)
{
    slc_wire_limits dl;
    dec d;
    blkdir bd;
    slc_batch *b = NULL;

    if (buf == NULL || out == NULL)
        return SL_EINVAL;
    if (dec_init(&d, lim, &dl, msg, msglen) || read_dir(&d, buf, len, &bd, 1))
        goto out;
    d.base = bd.base;
    for (uint32_t i = 0; i < bd.ntraces; i++) {
        const uint8_t *t = bd.tids + 16 * (size_t)i;
        if (slc_is_zero(t, 16) || (i && memcmp(t - 16, t, 16) >= 0)) {
            fail(&d, SL_EWIRE_VALUE, "trace directory entry %u is zero or out of order", i);
            goto out;
        }
    }
    b = slc_batch_new();
    if (b == NULL) {
        fail(&d, SL_ENOMEM, "out of memory");
        goto out;
    }
    b->batch_id = bd.batch_id;
    d.b = b;
    size_t off = 0;
    uint32_t first = 0;
    for (uint32_t i = 0; i < bd.npages; i++) {
        pent pe = page_entry(&bd, i, off);
        d.page = i;
        if (open_page(&d, &bd, &pe) || walk_page(&d, bd.tids + 16 * (size_t)first, ALL_TRACES))
            goto out;
        off += pe.comp;
        first += pe.ntraces;
    }
    *out = b;
    b = NULL;
out:
    slc_batch_free(b);
    dec_free(&d);
    return d.err;
}

int col_cold_gather_trace(const uint8_t *buf, size_t len, const slc_wire_limits *lim,
                          const uint8_t trace_id[16], slc_batch *dst, char *msg, size_t msglen)
{
    slc_wire_limits dl;
    dec d;
    blkdir bd;

    if (buf == NULL || trace_id == NULL || dst == NULL)
        return SL_EINVAL;
    uint32_t nsp = dst->nspans, nlg = dst->nlogs, nat = dst->nattrs, nev = dst->nevents,
             nlk = dst->nlinks;
    if (dec_init(&d, lim, &dl, msg, msglen) || read_dir(&d, buf, len, &bd, 0))
        goto out;
    d.base = bd.base;
    d.b = dst;
    uint32_t lo = 0, hi = bd.ntraces;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(bd.tids + 16 * (size_t)mid, trace_id, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == bd.ntraces || memcmp(bd.tids + 16 * (size_t)lo, trace_id, 16) != 0)
        goto out; /* not in this block */
    size_t off = 0;
    uint32_t first = 0;
    for (uint32_t i = 0; i < bd.npages; i++) {
        pent pe = page_entry(&bd, i, off);
        if (lo < first + pe.ntraces) {
            d.page = i;
            if ((uint32_t)crc32(0L, bd.body + bd.pages_off + off, pe.comp) != pe.crc)
                fail(&d, SL_EWIRE_CHECKSUM, "page %u: checksum mismatch", i);
            else if (open_page(&d, &bd, &pe) == SL_OK)
                walk_page(&d, bd.tids + 16 * (size_t)first, lo - first);
            break;
        }
        off += pe.comp;
        first += pe.ntraces;
    }
out:
    if (d.err) {
        dst->nspans = nsp;
        dst->nlogs = nlg;
        dst->nattrs = nat;
        dst->nevents = nev;
        dst->nlinks = nlk;
    }
    dec_free(&d);
    return d.err;
}

int col_block_decode(const uint8_t *buf, size_t len, const slc_wire_limits *lim, slc_batch **out,
                     char *msg, size_t msglen)
{
    if (col_cold_is(buf, len))
        return col_cold_decode(buf, len, lim, out, msg, msglen);
    return slc_wire_decode(buf, len, lim, out, msg, msglen);
}

int col_cold_peek(const uint8_t *buf, size_t len, col_cold_info *info)
{
    slc_wire_limits lim;
    dec d;
    blkdir bd;
    if (buf == NULL || info == NULL)
        return SL_EINVAL;
    slc_wire_limits_default(&lim);
    lim.frame_bytes = lim.payload_bytes = lim.spans = lim.logs = UINT32_MAX;
    memset(&d, 0, sizeof d);
    d.lim = &lim;
    if (read_dir(&d, buf, len, &bd, 0))
        return d.err;
    info->batch_id = bd.batch_id;
    info->spans = bd.nspans;
    info->logs = bd.nlogs;
    info->traces = bd.ntraces;
    info->pages = bd.npages;
    info->raw_bytes = bd.raw_total;
    return SL_OK;
}
