/*
 * slq_search.c - trace search over one store (see slq_search.h).
 */
#include "slq_search.h"

#include <stdlib.h>
#include <string.h>

#include "sightline.h"
#include "slq_trace.h"
#include "store/blockcache.h"

int slq_search_is_list(const col_search_q *q)
{
    return q->service == NULL && q->operation == NULL && q->nattrs == 0 &&
           q->min_duration_ns == 0 && q->max_duration_ns == 0 && q->error == -1 &&
           q->order == COL_ORDER_NEWEST;
}

/* The summary of the hit's whole trace (span_count, services, error_count,
 * root, trace start and duration): a new reference owned by the caller, or
 * NULL when it cannot be read now (the hit is then listed without it). */
static json_t *slq_trace_summary(col_store *st, const slq_search_q *q, const uint8_t tid[16])
{
    slc_batch *b = NULL;
    slq_trace *t = NULL;
    slq_trace_opts o = {0};
    json_t *j = NULL;

    if (col_store_read_trace_cached(st, tid, q->trace_max_blocks, &b, NULL) != 0)
        return NULL;
    o.max_spans = q->trace_max_spans;
    o.max_logs = 1; /* only counted */
    if (slq_trace_build(b, &o, &t) == 0)
        slq_trace_summary_json(t, &j);
    slq_trace_free(t);
    slc_batch_free(b);
    return j;
}

int slq_trace_read_json(col_store *st, const uint8_t tid[16], uint32_t max_blocks,
                        uint32_t max_spans, json_t **out)
{
    slc_batch *b = NULL;
    slq_trace *t = NULL;
    slq_trace_opts o = {0};
    int rv = col_store_read_trace_cached(st, tid, max_blocks, &b, NULL);

    if (rv != 0)
        return rv;
    o.max_spans = max_spans;
    rv = slq_trace_build(b, &o, &t);
    if (rv == 0)
        rv = slq_trace_to_json(t, out);
    slq_trace_free(t);
    slc_batch_free(b);
    return rv;
}

/* The newest traces by their root spans (the trace list) into hits
 * (the caller's array, capacity q->limit), which the roots index answers
 * without decoding blocks.  Its scratch rows are freed before returning. */
static int slq_recent_roots(col_store *st, const slq_search_q *sq, col_trace_hit *hits, size_t *n)
{
    const col_search_q *q = &sq->q;
    col_root *roots = calloc(q->limit, sizeof *roots);
    size_t got = 0;
    int rv;

    if (roots == NULL)
        return SL_ENOMEM;
    rv = col_store_list_roots(st, NULL, q->since_ns, q->until_ns, roots, q->limit,
                              sq->list_max_scan, &got);
    for (size_t i = 0; rv == 0 && i < got; i++) {
        col_trace_hit *h = &hits[i];
        memset(h, 0, sizeof *h);
        memcpy(h->trace_id, roots[i].trace_id, 16);
        h->start_ns = roots[i].start_ns;
        h->duration_ns = roots[i].duration_ns;
        h->error = roots[i].error;
        h->kind = roots[i].kind;
        h->is_root = 1;
        memcpy(h->service, roots[i].service, sizeof h->service);
        memcpy(h->name, roots[i].name, sizeof h->name);
    }
    free(roots);
    if (rv == 0)
        *n = got;
    return rv;
}

/* The store fills a plain hit array; the hits are then copied into the
 * answer's own array (the caller's after success), summaries attached. */
int slq_search(col_store *st, const slq_search_q *q, slq_hits *out)
{
    col_trace_hit *hits = NULL;
    slq_hit *v = NULL;
    size_t n = 0;
    int capped = 0, rv;

    hits = calloc(q->q.limit ? q->q.limit : 1, sizeof *hits);
    if (hits == NULL)
        return SL_ENOMEM;
    if (slq_search_is_list(&q->q))
        rv = slq_recent_roots(st, q, hits, &n);
    else
        rv = col_store_search(st, &q->q, hits, &n, &capped);
    if (rv != 0)
        goto out;
    v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    /* Summaries cost one trace read each; the caller decides when. */
    for (size_t i = 0; i < n; i++) {
        v[i].h = hits[i];
        if (q->summary)
            v[i].summary = slq_trace_summary(st, q, hits[i].trace_id);
    }
    out->v = v;
    out->n = n;
    out->capped = capped;
out:
    free(hits);
    return rv;
}
