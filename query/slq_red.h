/*
 * slq_red.h - RED over time: requests, errors and latency percentiles per
 * (service[, operation]) and time bucket, from the per-minute aggregates
 * only (their cost depends on minutes and groups, never on spans).
 */
#ifndef SLQ_RED_H
#define SLQ_RED_H

#include <stdint.h>

#include "slq_partial.h"
#include "store/store.h"

/* step_ns values of slq_red_plan() besides a duration. */
#define SLQ_STEP_ALL 0           /* one bucket for the whole range */
#define SLQ_STEP_AUTO UINT64_MAX /* a round step giving at most SLQ_AUTO_POINTS buckets */
#define SLQ_AUTO_POINTS 120

/* Picks the buckets of an answer over [since, until] into r (first, step,
 * npoints; nothing else touched): step_ns rounded up to whole minutes, or
 * SLQ_STEP_ALL / SLQ_STEP_AUTO.  The buckets are those of col_store_red().
 * SL_ETOOBIG when that makes more than max_points buckets; r's plan is
 * written even then, so the caller can say how many. */
int slq_red_plan(uint64_t since, uint64_t until, uint64_t step_ns, uint64_t max_points, slq_red *r);

/* The seconds of bucket i of r that lie inside the minutes of a query
 * ending at until (a rate divides by this). */
double slq_red_bucket_s(const slq_red *r, uint64_t i, uint64_t until);

/* One RED read. */
typedef struct slq_red_q {
    const char *service, *operation; /* NULL = all; borrowed */
    uint64_t since, until;
    unsigned kind_mask; /* slq_kind_parse() mask */
    int by_op;          /* 1: a series per operation; 0: per service */
    int keep_hist;      /* 1: keep per-bucket histograms (slq_red_merge());
                           slower, as every bucket's histogram is read */
} slq_red_q;

/* Fills r, planned by slq_red_plan() with r->max_series set and no series
 * yet, from st.  r owns what it holds (slq_red_free(), also after an
 * error).  Returns 0, SL_ETOOBIG (r->too_big set: more than r->max_series
 * series or SLQ_RED_MAX_CELLS numbers per column; unset: more groups in a
 * bucket than the store allows), SL_ESTORE or SL_ENOMEM. */
int slq_red_read(col_store *st, const slq_red_q *q, slq_red *r);

#endif /* SLQ_RED_H */
