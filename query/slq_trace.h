/*
 * slq_trace.h - request-tree assembly: the query engine's view of one trace.
 *
 * Input is a batch (common/slc_wire.h) holding the spans and log records of
 * one trace as the store found them: in any order, possibly with duplicates
 * (a retried frame), possibly with parents that never arrived, with clocks
 * that disagree between hosts.  Output is a tree with every span placed:
 *
 *  - children under parents, siblings ordered by start time;
 *  - orphans (parent id set but not present) attached under the root and
 *    marked missing_parent; when no true root exists, the earliest span is
 *    the root;
 *  - clock skew: a child that starts before its parent or ends after it is
 *    shifted for display into the parent's window; the shift (ns) is kept
 *    per span and raw times stay available;
 *  - critical path: the chain of spans that decided the total duration;
 *  - a summary: root service and operation, start, duration, span count,
 *    services, error count.
 *
 * Used by the collector's HTTP API and by tests; pure computation, no I/O.
 */
#ifndef SLQ_TRACE_H
#define SLQ_TRACE_H

#include <jansson.h>
#include <stdint.h>

#include "common/slc_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct slq_trace slq_trace;

/* Options for assembly; zero-initialised means defaults. */
typedef struct slq_trace_opts {
    uint32_t max_spans; /* keep at most this many spans (0 = 10000); the
                           rest are counted and the trace marked truncated */
    uint32_t max_logs;  /* added: keep at most this many log records, the
                           earliest (0 = 10000); the rest are counted */
} slq_trace_opts;

/* Notes on the result (added with the implementation):
 *  - spans kept under max_spans are the first ones in breadth-first order
 *    from the root(s), siblings by start, so every kept span's parent is
 *    kept too; the summary (span_count, services, error_count,
 *    orphan_count, start, duration) describes the whole trace, dropped
 *    spans included; the JSON "spans" array holds span_count -
 *    dropped_spans entries.
 *  - several true roots: the earliest is the root (orphans hang under it),
 *    the others are further depth-0 trees after it in the pre-order.
 *  - no true root: the earliest span whose parent is missing is the root
 *    (marked missing_parent); spans whose parents did arrive stay linked.
 *  - parent cycles are broken at their earliest span, which is then an
 *    orphan under the root (missing_parent).
 *  - skew: a span's display shift includes its parent's (a subtree usually
 *    shares a host clock); orphans are not shifted.  The JSON adds
 *    raw_start_ns/raw_start_us to a span only when skew_ns != 0; event
 *    times are shifted with their span; log times are raw.
 *  - the summary JSON adds log_count and dropped_logs; truncated is true
 *    when spans or logs were dropped. */

/* One placed span of an assembled trace, in tree pre-order. */
typedef struct slq_node {
    uint32_t span;       /* index into the input batch's spans[] */
    int32_t parent;      /* index into the nodes array, -1 for the root(s) */
    uint32_t depth;      /* 0 for the root */
    int64_t skew_ns;     /* display shift applied (0 = none) */
    uint8_t missing_parent; /* parent id set but parent not in the trace */
    uint8_t critical;    /* on the critical path */
} slq_node;

/* Builds the tree of the trace in b (which must outlive the result; b is
 * borrowed, not copied).  Duplicate span ids are kept once.  On success
 * *out is owned by the caller (slq_trace_free()).  SL_ENOTFOUND when b has
 * no spans and no logs, SL_ENOMEM on allocation failure. */
int slq_trace_build(const slc_batch *b, const slq_trace_opts *opts, slq_trace **out);

/* Frees a trace.  NULL is a no-op. */
void slq_trace_free(slq_trace *t);

/* The placed spans in pre-order; *n receives the count.  Borrowed pointer,
 * valid until slq_trace_free(). */
const slq_node *slq_trace_nodes(const slq_trace *t, uint32_t *n);

/* Encodes the trace as the JSON object documented in docs/api.md
 * (GET /api/v1/traces/{id}).  On success *out is a new reference owned by
 * the caller (json_decref()). */
int slq_trace_to_json(const slq_trace *t, json_t **out);

/* Added for the query API.  The "summary" object of slq_trace_to_json()
 * alone (root service and name, start, duration, span_count, services,
 * error_count, ...), for trace lists.  On success *out is a new reference
 * owned by the caller.  SL_EINVAL / SL_ENOMEM. */
int slq_trace_summary_json(const slq_trace *t, json_t **out);

/* Added for the query API.  One log record of b as the trace JSON writes it
 * (time_ns, time_us, severity, level, service, body, span_id, attributes)
 * plus "trace_id" ("" when the record has none).  Returns a new reference
 * owned by the caller, or NULL when out of memory. */
json_t *slq_log_json(const slc_batch *b, const slc_log *l);

#ifdef __cplusplus
}
#endif

#endif /* SLQ_TRACE_H */
