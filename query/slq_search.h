/*
 * slq_search.h - trace search: the hits of a span search or, with no span
 * filter, the newest traces by their root spans, each optionally with the
 * summary of its whole trace.
 */
#ifndef SLQ_SEARCH_H
#define SLQ_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "slq_partial.h"
#include "slq_trace.h"
#include "store/store.h"

/* A search: the store's query (q.limit is the page size) and the read
 * bounds of the node that answers it. */
typedef struct slq_search_q {
    col_search_q q;            /* borrowed strings and filters */
    int summary;               /* 1: read each hit's trace for its summary */
    size_t list_max_scan;      /* roots index rows scanned at most (0 = unbounded) */
    uint32_t trace_max_blocks; /* per summary: blocks read at most */
    uint32_t trace_max_spans;  /* per summary: spans assembled at most */
} slq_search_q;

/* Whether q has no span filter (no service, operation, attribute, duration
 * or error filter, newest first): it is then answered from the roots index
 * (col_store_list_roots) without decoding blocks, and its hits are root
 * spans without span ids. */
int slq_search_is_list(const col_search_q *q);

/* Runs the search on st; q and its strings are borrowed for the call.  On
 * success *out is overwritten with at most q->q.limit hits owned by the
 * caller (slq_hits_free()); untouched on failure.  A summary that cannot
 * be read now is left NULL.
 * Returns 0, SL_EINVAL (inconsistent search), SL_ESTORE, SL_ENOMEM. */
int slq_search(col_store *st, const slq_search_q *q, slq_hits *out);

/* Trace by id: reads every span and log of the trace through the block
 * cache (at most max_blocks blocks, 0 = the store's default), builds its
 * request tree (at most max_spans spans) and writes it as JSON
 * (slq_trace_to_json; the tree borrows the read batch, so both end here).
 * On success *out is a new reference owned by the caller.  SL_ENOTFOUND
 * when the trace has nothing stored, SL_EBUSY while the store is being
 * reopened, SL_ESTORE, SL_ENOMEM. */
int slq_trace_read_json(col_store *st, const uint8_t tid[16], uint32_t max_blocks,
                        uint32_t max_spans, json_t **out);

#endif /* SLQ_SEARCH_H */
