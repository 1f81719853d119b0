/*
 * slq_partial.c - the engine's answers: freeing them and merging two
 * partial answers into one (see slq_partial.h).  No store calls here.
 */
#include "slq_partial.h"

#include <stdlib.h>
#include <string.h>

#include "common/slc_util.h"
#include "sightline.h"
#include "common/slc_hist.h"

/* ======================= trace search ====================================== */

void slq_hits_free(slq_hits *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->v[i].summary);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* < 0 when a ranks before b in order. */
static int slq_hit_rank(const slq_hit *a, const slq_hit *b, enum col_order order)
{
    uint64_t x = order == COL_ORDER_SLOWEST ? a->h.duration_ns : a->h.start_ns;
    uint64_t y = order == COL_ORDER_SLOWEST ? b->h.duration_ns : b->h.start_ns;

    return x > y ? -1 : x < y ? 1 : 0;
}

/* Whether trace_id is among the first n hits of v.  Linear: lists are at
 * most query-max-results long and a merge runs once per answer. */
static int slq_hits_has(const slq_hit *v, size_t n, const uint8_t trace_id[16])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(v[i].h.trace_id, trace_id, 16) == 0)
            return 1;
    return 0;
}

/* A two-way merge of sorted lists into a new array: a hit whose trace is
 * already taken ranked lower, so it is dropped.  Every summary ends up
 * either in the new array or released, so src can be emptied. */
int slq_hits_merge(slq_hits *dst, slq_hits *src, size_t limit, enum col_order order)
{
    size_t i = 0, j = 0, n = 0, cap = dst->n + src->n;
    slq_hit *v;

    if (cap > limit)
        cap = limit;
    v = calloc(cap ? cap : 1, sizeof *v);
    if (v == NULL)
        return SL_ENOMEM;
    while (i < dst->n || j < src->n) {
        slq_hit *h;
        if (j == src->n || (i < dst->n && slq_hit_rank(&dst->v[i], &src->v[j], order) <= 0))
            h = &dst->v[i++];
        else
            h = &src->v[j++];
        if (n < cap && !slq_hits_has(v, n, h->h.trace_id))
            v[n++] = *h;
        else
            json_decref(h->summary);
    }
    free(dst->v);
    free(src->v);
    dst->v = v;
    dst->n = n;
    dst->capped |= src->capped;
    memset(src, 0, sizeof *src);
    return 0;
}

/* ======================= RED over time ===================================== */

/* Frees what s owns (its names, columns and npoints histograms), not s. */
static void slq_series_free(slq_red_series *s, uint64_t npoints)
{
    free(s->service);
    free(s->operation);
    free(s->count);
    free(s->errors);
    free(s->pct);
    if (s->hist != NULL)
        for (uint64_t i = 0; i < npoints; i++)
            free(s->hist[i]);
    free(s->hist);
    free(s->hist_len);
}

void slq_red_free(slq_red *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        slq_series_free(&r->s[i], r->npoints);
    free(r->s);
    memset(r, 0, sizeof *r);
}

static int slq_bytes_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

slq_red_series *slq_red_series_get(slq_red *r, const char *service, size_t service_len,
                                   const char *operation, size_t operation_len)
{
    slq_red_series *s;

    /* Rows come in the same (service, operation) order in every bucket, so
     * the series after the last one found is nearly always the next. */
    for (size_t k = 0; k < r->n; k++) {
        size_t i = (r->hint + k) % r->n;
        s = &r->s[i];
        if (slq_bytes_eq(s->service, s->service_len, service, service_len) &&
            slq_bytes_eq(s->operation, s->operation_len, operation, operation_len)) {
            r->hint = i + 1;
            return s;
        }
    }
    if (r->n >= r->max_series || (r->n + 1) * r->npoints > SLQ_RED_MAX_CELLS) {
        r->too_big = 1;
        return NULL;
    }
    if (slc_grow((void **)&r->s, &r->cap, (uint32_t)r->n + 1, sizeof *r->s) != 0)
        return NULL;
    s = &r->s[r->n];
    memset(s, 0, sizeof *s);
    s->service = slc_memdup(service, service_len);
    s->service_len = service_len;
    s->operation = slc_memdup(operation, operation_len);
    s->operation_len = operation_len;
    s->count = calloc(r->npoints, sizeof *s->count);
    s->errors = calloc(r->npoints, sizeof *s->errors);
    s->pct = calloc(r->npoints * 4, sizeof *s->pct);
    if (r->has_hist) {
        s->hist = calloc(r->npoints, sizeof *s->hist);
        s->hist_len = calloc(r->npoints, sizeof *s->hist_len);
    }
    r->n++; /* counted now so slq_red_free() frees a half-built one */
    if (!s->service || !s->operation || !s->count || !s->errors || !s->pct ||
        (r->has_hist && (!s->hist || !s->hist_len)))
        return NULL;
    r->hint = r->n;
    return s;
}

static void slq_pct(const slc_hist *h, uint64_t out[4])
{
    static const double qs[4] = {0.50, 0.90, 0.95, 0.99};

    for (int k = 0; k < 4; k++)
        out[k] = h->count ? slc_hist_quantile(h, qs[k]) : 0;
}

int slq_hist_bytes_percentiles(const uint8_t *buf, size_t len, uint64_t out[4])
{
    slc_hist *h = malloc(sizeof *h);
    int rv;

    if (h == NULL)
        return SL_ENOMEM;
    slc_hist_reset(h);
    rv = len ? slc_hist_decode_merge(h, buf, len) : 0;
    if (rv == 0)
        slq_pct(h, out);
    free(h);
    return rv;
}

/* Bucket i of d += bucket i of s, through the dense scratch histogram h
 * and the encode buffer enc (slc_hist_encoded_max() bytes), both the
 * caller's.  d's new histogram bytes replace (and free) its old ones and
 * are owned by d; s is only read. */
static int slq_bucket_merge(slq_red_series *d, const slq_red_series *s, uint64_t i, slc_hist *h,
                            uint8_t *enc)
{
    uint8_t *m;
    size_t len;

    d->count[i] += s->count[i];
    d->errors[i] += s->errors[i];
    if (s->hist_len[i] == 0)
        return 0;
    slc_hist_reset(h);
    if ((d->hist_len[i] && slc_hist_decode_merge(h, d->hist[i], d->hist_len[i]) != 0) ||
        slc_hist_decode_merge(h, s->hist[i], s->hist_len[i]) != 0)
        return SL_EPARSE;
    len = slc_hist_encode(h, enc, slc_hist_encoded_max());
    m = malloc(len ? len : 1);
    if (m == NULL)
        return SL_ENOMEM;
    memcpy(m, enc, len);
    free(d->hist[i]);
    d->hist[i] = m;
    d->hist_len[i] = len;
    slq_pct(h, &d->pct[i * 4]);
    return 0;
}

/* One dense scratch histogram (~29 KiB) serves every bucket: histograms
 * travel encoded, so an answer of thousands of buckets stays small.  New
 * series and bucket bytes are owned by dst (slq_red_free()). */
int slq_red_merge(slq_red *dst, const slq_red *src)
{
    slc_hist *h = NULL;
    uint8_t *enc = NULL;
    int rv = 0;

    if (!dst->has_hist || !src->has_hist || dst->first != src->first || dst->step != src->step ||
        dst->npoints != src->npoints)
        return SL_EINVAL;
    h = malloc(sizeof *h);
    enc = malloc(slc_hist_encoded_max());
    if (h == NULL || enc == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < src->n && rv == 0; k++) {
        const slq_red_series *s = &src->s[k];
        slq_red_series *d =
            slq_red_series_get(dst, s->service, s->service_len, s->operation, s->operation_len);
        if (d == NULL) {
            rv = dst->too_big ? SL_ETOOBIG : SL_ENOMEM;
            break;
        }
        for (uint64_t i = 0; i < dst->npoints && rv == 0; i++)
            rv = slq_bucket_merge(d, s, i, h, enc);
        d->total += s->total;
        d->total_errors += s->total_errors;
    }
out:
    free(h);
    free(enc);
    return rv;
}
