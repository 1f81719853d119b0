/*
 * coldblock_dec.c - the sealed-block decoder: col_cold_is, col_cold_decode,
 * col_cold_gather_trace, col_block_decode, col_cold_peek (coldblock.h;
 * byte layout in docs/sealed-block.md): directory and page checks, chunk
 * inflation (stored, rANS, zstd), the page walk.  Separate from the
 * encoder (coldblock_enc.c): the two share only the format
 * (coldblock_int.h), and this is the half that reads untrusted bytes, which
 * a review or the fuzz target (tests/fuzz/fuzz_cold.c) can read alone.
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

#include "coldblock_int.h"
#include "sightline.h"
#include "common/slc_util.h"

int col_cold_is(const uint8_t *buf, size_t len)
{
    return buf != NULL && len >= 4 && memcmp(buf, COL_COLD_MAGIC, 4) == 0;
}

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
    if (slc_grow(arr, cap, need, sz) != 0)
        return fail(d, SL_ENOMEM, "out of memory");
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
                uint64_t bits = slc_get_le64(p);
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
        x[w] = slc_get_le32(c.p + 4 * w);
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
    if ((uint32_t)crc32(0L, buf, 28) != slc_get_le32(buf + 28))
        return fail(d, SL_EWIRE_CHECKSUM, "sealed block header checksum mismatch");
    if (buf[5] || buf[6] || buf[7])
        return fail(d, SL_EWIRE_FLAGS, "sealed block flags or reserved bytes set");
    bd->batch_id = slc_get_le64(buf + 8);
    bd->body_len = slc_get_le32(buf + 16);
    bd->nspans = slc_get_le32(buf + 20);
    if (bd->body_len != len - COL_COLD_HEADER_LEN)
        return fail(d, bd->body_len > len - COL_COLD_HEADER_LEN ? SL_EWIRE_TRUNCATED
                                                                : SL_EWIRE_TRAILING,
                    "body of %zu bytes announced, %zu present", bd->body_len,
                    len - COL_COLD_HEADER_LEN);
    bd->body = buf + COL_COLD_HEADER_LEN;
    if (full && (uint32_t)crc32(0L, bd->body, (uInt)bd->body_len) != slc_get_le32(buf + 24))
        return fail(d, SL_EWIRE_CHECKSUM, "sealed block body checksum mismatch");
    if (bd->body_len < BODY_FIXED + 4)
        return fail(d, SL_EWIRE_TRUNCATED, "sealed block body of %zu bytes is too short",
                    bd->body_len);
    bd->nlogs = slc_get_le32(bd->body);
    bd->ntraces = slc_get_le32(bd->body + 4);
    bd->npages = slc_get_le32(bd->body + 8);
    bd->base = slc_get_le64(bd->body + 12);
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
        (uint32_t)crc32(0L, bd->body, (uInt)(dirlen - 4)) != slc_get_le32(bd->body + dirlen - 4))
        return fail(d, SL_EWIRE_CHECKSUM, "sealed block directory checksum mismatch");
    bd->ents = bd->body + BODY_FIXED;
    bd->tids = bd->ents + (size_t)bd->npages * PAGE_ENTRY;
    bd->pages_off = (size_t)dirlen;
    uint64_t tr = 0, sp = 0, lg = 0, off = 0, raw = 0;
    int tl = 0;
    for (uint32_t i = 0; i < bd->npages; i++) {
        const uint8_t *e = bd->ents + (size_t)i * PAGE_ENTRY;
        uint32_t ntr = slc_get_le32(e + 12), nsp = slc_get_le32(e + 16), nlg = slc_get_le32(e + 20);
        if (slc_get_le32(e) == 0 || slc_get_le32(e + 4) == 0 || (ntr == 0 && (nsp != 0 || nlg == 0)) ||
            (tl && ntr))
            return fail(d, SL_EWIRE_VALUE, "directory entry of page %u is invalid", i);
        tl = ntr == 0;
        tr += ntr;
        sp += nsp;
        lg += nlg;
        off += slc_get_le32(e);
        raw += slc_get_le32(e + 4);
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
    pent p = {off,           slc_get_le32(e),      slc_get_le32(e + 4), slc_get_le32(e + 8),
              slc_get_le32(e + 12), slc_get_le32(e + 16), slc_get_le32(e + 20)};
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
