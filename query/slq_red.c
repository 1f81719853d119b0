/*
 * slq_red.c - RED over time from the per-minute aggregates (slq_red.h).
 */
#include "slq_red.h"

#include <stdlib.h>
#include <string.h>

#include "sightline.h"
#include "slq_aggtime.h"
#include "store/rollup.h"

int slq_red_plan(uint64_t since, uint64_t until, uint64_t step_ns, uint64_t max_points, slq_red *r)
{
    static const uint64_t nice[] = {1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080};
    uint64_t last = until - until % SLQ_AGG_MINUTE_NS, step = step_ns, span;

    r->first = since - since % SLQ_AGG_MINUTE_NS;
    span = last - r->first + SLQ_AGG_MINUTE_NS;
    if (step_ns == SLQ_STEP_ALL) {
        r->step = 0;
        r->npoints = 1;
        return 0;
    }
    if (step_ns == SLQ_STEP_AUTO) {
        size_t i = 0;
        while (i + 1 < sizeof nice / sizeof nice[0] &&
               span > nice[i] * SLQ_AGG_MINUTE_NS * SLQ_AUTO_POINTS)
            i++;
        step = nice[i] * SLQ_AGG_MINUTE_NS;
    }
    if (step % SLQ_AGG_MINUTE_NS != 0)
        step += SLQ_AGG_MINUTE_NS - step % SLQ_AGG_MINUTE_NS;
    r->step = step;
    r->npoints = (last - r->first) / step + 1;
    return r->npoints > max_points ? SL_ETOOBIG : 0;
}

double slq_red_bucket_s(const slq_red *r, uint64_t i, uint64_t until)
{
    uint64_t last_end = until - until % SLQ_AGG_MINUTE_NS + SLQ_AGG_MINUTE_NS;
    uint64_t b0 = r->first + i * r->step, b1 = r->step == 0 ? last_end : b0 + r->step;

    if (b1 > last_end)
        b1 = last_end;
    return b1 > b0 ? (double)(b1 - b0) / 1e9 : 60.0;
}

struct slq_red_acc {
    slq_red *r;
    slc_hist *h;  /* keep_hist: scratch for a bucket seen twice */
    uint8_t *enc; /* keep_hist: slc_hist_encoded_max() bytes */
    int nomem;
};

/* Keeps row's histogram rh (borrowed) as bucket i of s, merged with what
 * is there: the new encoded bytes replace the old and are owned by s. */
static int slq_red_keep(struct slq_red_acc *a, slq_red_series *s, uint64_t i, const slc_hist *rh)
{
    const slc_hist *h = rh;
    uint8_t *m;
    size_t len;

    if (s->hist_len[i] != 0) {
        slc_hist_reset(a->h);
        if (slc_hist_decode_merge(a->h, s->hist[i], s->hist_len[i]) != 0)
            return SL_EPARSE;
        slc_hist_merge(a->h, rh);
        h = a->h;
    }
    len = slc_hist_encode(h, a->enc, slc_hist_encoded_max());
    m = malloc(len ? len : 1);
    if (m == NULL)
        return SL_ENOMEM;
    memcpy(m, a->enc, len);
    free(s->hist[i]);
    s->hist[i] = m;
    s->hist_len[i] = len;
    col_rollup_percentiles(h, &s->pct[i * 4]);
    return 0;
}

/* col_store_red() callback: adds one row (borrowed for the call) to its
 * series' bucket; new series are owned by the answer. */
static int slq_red_row(const col_agg_row *row, void *arg)
{
    struct slq_red_acc *a = arg;
    slq_red *r = a->r;
    slq_red_series *s =
        slq_red_series_get(r, row->service, row->service_len, row->operation, row->operation_len);
    uint64_t i;

    if (s == NULL) {
        a->nomem = !r->too_big;
        return 1;
    }
    i = r->step == 0 || row->bucket_ns < r->first ? 0 : (row->bucket_ns - r->first) / r->step;
    if (i >= r->npoints)
        return 0; /* cannot happen: the store buckets exactly like slq_red_plan() */
    s->count[i] += row->count;
    s->errors[i] += row->errors;
    s->total += row->count;
    s->total_errors += row->errors;
    if (r->has_hist) {
        if (slq_red_keep(a, s, i, row->hist) != 0) {
            a->nomem = 1;
            return 1;
        }
    } else if (row->sum != NULL)
        memcpy(&s->pct[i * 4], row->sum->pct, 4 * sizeof s->pct[0]);
    else
        col_rollup_percentiles(row->hist, &s->pct[i * 4]);
    return 0;
}

/* Without keep_hist a bucket of one stored row comes with its stored
 * percentiles (the same function's numbers) instead of a histogram to
 * walk: a day at one-minute steps then decodes no histogram.  The
 * scratch histogram and encode buffer of keep_hist are freed here. */
int slq_red_read(col_store *st, const slq_red_q *q, slq_red *r)
{
    struct slq_red_acc a = {r, NULL, NULL, 0};
    int rv;

    r->has_hist = q->keep_hist != 0;
    if (r->has_hist) {
        a.h = malloc(sizeof *a.h);
        a.enc = malloc(slc_hist_encoded_max());
        if (a.h == NULL || a.enc == NULL) {
            rv = SL_ENOMEM;
            goto out;
        }
    }
    rv = col_store_red(st, q->service, q->operation, q->since, q->until, r->step, q->kind_mask,
                       (q->by_op ? 0 : 1) | (r->has_hist ? 0 : COL_RED_SUMMARY), slq_red_row, &a);
    if (r->too_big)
        rv = SL_ETOOBIG;
    else if (a.nomem)
        rv = SL_ENOMEM;
out:
    free(a.h);
    free(a.enc);
    return rv;
}
