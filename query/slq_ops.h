/*
 * slq_ops.h - the per-operation table over a whole range: one row per
 * (service, operation) with count, errors and latency, for a service's
 * operations list and for the top-N operations by latency or errors.
 */
#ifndef SLQ_OPS_H
#define SLQ_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct slq_op {
    char service[256], operation[256]; /* NUL-terminated, cut if longer */
    uint64_t count, errors;
    uint64_t pct[4]; /* p50, p90, p95, p99 in ns */
    uint64_t max;    /* 0 when no durations */
} slq_op;

typedef struct slq_ops {
    slq_op *o; /* n entries, owned */
    size_t n;
    uint32_t cap;
} slq_ops;

/* Frees the rows of l and zeroes it.  NULL is a no-op. */
void slq_ops_free(slq_ops *l);

/* Reads the table of service (NULL = all services) over the minutes of
 * [since, until], spans of kind_mask, in the store's order (service, then
 * operation).  On success *out owns the rows (slq_ops_free()).  Returns 0,
 * SL_ESTORE, SL_ENOMEM or SL_ETOOBIG (too many groups per bucket). */
int slq_ops_read(col_store *st, const char *service, uint64_t since, uint64_t until,
                 unsigned kind_mask, slq_ops *out);

enum slq_ops_order {
    SLQ_OPS_BY_COUNT,  /* most requests first, then by operation name */
    SLQ_OPS_BY_P99,    /* slowest p99 first, then most requests */
    SLQ_OPS_BY_ERRORS, /* most errors first, then highest error rate */
};

/* Sorts l in place. */
void slq_ops_sort(slq_ops *l, enum slq_ops_order by);

/* Top-N: sorts l by by (SLQ_OPS_BY_P99 or _ERRORS) and keeps the first
 * limit rows with at least min_count requests (and, by errors, at least
 * one error), in place. */
void slq_ops_top(slq_ops *l, enum slq_ops_order by, size_t limit, uint64_t min_count);

/* Whether a service of that exact name has sent spans (*known 1 or 0).
 * Returns 0 or SL_ESTORE (*known untouched). */
int slq_service_known(col_store *st, const char *name, int *known);

#endif /* SLQ_OPS_H */
