/*
 * slq_partial.h - the answers of the read-side engine as plain C values,
 * their lifetime, and how two of them combine.
 *
 * Every engine call (slq_search.h, slq_red.h, ...) fills one of these from
 * one store; the HTTP handlers serialize them.  A later cluster mode asks
 * several nodes for the same query and merges their partial answers here,
 * in one place, before serializing once: that is why a search answer keeps
 * its order and limit and why a RED answer can keep each bucket's latency
 * histogram (encoded sparsely) instead of only its percentiles.
 *
 * This file's functions never touch a store (the unit tests link it
 * without the collector), so types from store/store.h appear only as
 * plain data.
 */
#ifndef SLQ_PARTIAL_H
#define SLQ_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* ======================= trace search ====================================== */

/* One search hit: the store's hit plus, when asked for, the summary of the
 * hit's whole trace (the "summary" object of slq_trace_summary_json()), or
 * NULL when not asked or not readable now. */
typedef struct slq_hit {
    col_trace_hit h;
    json_t *summary; /* owned by the hit list */
} slq_hit;

/* A page of hits in q->order (newest span start first, or longest first),
 * at most the query's limit long. */
typedef struct slq_hits {
    slq_hit *v; /* n entries, owned */
    size_t n;
    int capped; /* a store's block budget ran out: the page is the best
                   of what was read */
} slq_hits;

/* Frees the hits and their summaries and zeroes *l.  NULL is a no-op. */
void slq_hits_free(slq_hits *l);

/* Merges src into dst, both in order (COL_ORDER_NEWEST / _SLOWEST), so
 * dst holds the first limit hits of the union in that order.  A trace in
 * both lists is kept once, with the hit that ranks first (its summary goes
 * with it).  Equal ranks keep dst's hit first.  capped is or-ed.  src is
 * consumed: its hits and summaries move into dst or are freed, and *src is
 * left empty (free it or not).  Returns 0 or SL_ENOMEM (then both lists
 * are unchanged). */
int slq_hits_merge(slq_hits *dst, slq_hits *src, size_t limit, enum col_order order);

/* ======================= RED over time ===================================== */

/* One series of a RED answer: a (service, operation) pair ("" operation
 * when operations are merged), with one value per bucket. */
typedef struct slq_red_series {
    char *service, *operation; /* owned; exact bytes (may hold U+0000), *_len long */
    size_t service_len, operation_len;
    uint64_t *count, *errors; /* owned, npoints each */
    uint64_t *pct;            /* owned, 4 per bucket: p50, p90, p95, p99 (0 when empty) */
    uint8_t **hist;           /* owned, NULL unless the answer has_hist: per bucket
                                 slc_hist_encode() bytes (NULL when empty) */
    size_t *hist_len;
    uint64_t total, total_errors;
} slq_red_series;

/* A RED answer: series in order of first appearance, each with npoints
 * buckets starting at first, step apart (step 0: one bucket for the whole
 * range). */
typedef struct slq_red {
    uint64_t first, step, npoints;
    slq_red_series *s; /* n entries, owned */
    size_t n, hint;
    uint32_t cap;
    size_t max_series; /* bound on n (query-max-series) */
    int has_hist;      /* every series keeps per-bucket histograms (mergeable) */
    int too_big;       /* set when max_series or SLQ_RED_MAX_CELLS stopped the read */
} slq_red;

/* Bound on numbers per column of an answer: series * buckets. */
#define SLQ_RED_MAX_CELLS 400000

/* Frees the series of r (not r itself, usually on the stack) and zeroes
 * it.  NULL is a no-op. */
void slq_red_free(slq_red *r);

/* The series of r named (service, operation), added with zero buckets when
 * absent (then it owns copies of both names).  NULL with r->too_big set
 * when adding would pass r->max_series or SLQ_RED_MAX_CELLS, NULL when out
 * of memory; the returned pointer is borrowed, valid until r grows. */
slq_red_series *slq_red_series_get(slq_red *r, const char *service, size_t service_len,
                                   const char *operation, size_t operation_len);

/* Merges src into dst bucket by bucket: counts and errors add, histograms
 * merge (slc_hist_merge) and the percentiles are computed again from the
 * merged histogram.  Both must have has_hist and the same first, step and
 * npoints (SL_EINVAL otherwise, nothing changed).  Series of src missing in
 * dst are appended in src's order.  src is only read.  Returns 0,
 * SL_EINVAL, SL_ENOMEM or SL_ETOOBIG (dst->max_series or the cell bound;
 * dst->too_big set); after an error other than SL_EINVAL dst is partly
 * merged and should only be freed. */
int slq_red_merge(slq_red *dst, const slq_red *src);

/* p50, p90, p95, p99 of an encoded histogram into out (zeros when empty):
 * exactly slc_hist_quantile() of the decoded histogram.  SL_EPARSE on bad
 * bytes, SL_ENOMEM. */
int slq_hist_bytes_percentiles(const uint8_t *buf, size_t len, uint64_t out[4]);

#endif /* SLQ_PARTIAL_H */
