/*
 * slq_deps.h - the service dependency graph over a range: nodes (services
 * with their span, error and log counts) and edges (caller -> callee with
 * calls, errors and the callee's latency), from the aggregates only.
 */
#ifndef SLQ_DEPS_H
#define SLQ_DEPS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct slq_edge {
    char *caller, *callee; /* owned; exact bytes (may hold U+0000), *_len long */
    size_t caller_len, callee_len;
    uint64_t calls, errors;
    uint64_t pct[4]; /* p50, p90, p95, p99 in ns */
    uint64_t max;    /* 0 when no durations */
} slq_edge;

typedef struct slq_dep_node {
    char *service; /* owned; exact bytes, len long */
    size_t len;
    uint64_t spans, errors, logs;
} slq_dep_node;

typedef struct slq_deps {
    slq_edge *edges; /* nedges entries, owned, in the store's order */
    size_t nedges;
    slq_dep_node *nodes; /* nnodes entries, owned, in name order */
    size_t nnodes;
} slq_deps;

/* Frees the graph's contents and zeroes it.  NULL is a no-op. */
void slq_deps_free(slq_deps *d);

/* Reads the graph of the minutes of [since, until]: every edge, and every
 * service with spans or logs in the range.  On success *out owns it
 * (slq_deps_free()).  Returns 0, SL_ESTORE, SL_ENOMEM or SL_ETOOBIG. */
int slq_deps_read(col_store *st, uint64_t since, uint64_t until, slq_deps *out);

#endif /* SLQ_DEPS_H */
