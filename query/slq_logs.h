/*
 * slq_logs.h - log search: a page of records across services, or the
 * records of one trace, filtered alike.
 */
#ifndef SLQ_LOGS_H
#define SLQ_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include "common/slc_wire.h"
#include "store/store.h"

/* A page of log records, newest first. */
typedef struct slq_logs_page {
    slc_batch *b;              /* owned; holds the records (NULL when none) */
    uint32_t *idx;             /* owned: the page's records as indices into b->logs in
                                  page order; NULL = all of b->logs in order */
    size_t n;                  /* records on the page */
    char next[COL_CURSOR_MAX]; /* cursor of the next page, "" when last */
    int capped;                /* a block budget ran out; the cursor still continues */
} slq_logs_page;

/* The i-th record of p's page. */
static inline const slc_log *slq_logs_at(const slq_logs_page *p, size_t i)
{
    return &p->b->logs[p->idx != NULL ? p->idx[i] : i];
}

/* Frees the page's contents and zeroes it.  NULL is a no-op. */
void slq_logs_page_free(slq_logs_page *p);

/* One page of q (col_store_logs()).  On success *out owns the page
 * (slq_logs_page_free()).  Returns 0, SL_EINVAL (bad cursor or query),
 * SL_ESTORE, SL_ENOMEM. */
int slq_logs_search(col_store *st, const col_logs_q *q, slq_logs_page *out);

/* The records of one trace (at any age) that pass q's filters (service,
 * min_level, since..until, contains), newest first, paged by an offset
 * cursor "t.N" in q->cursor (the trace's records are few and read at
 * once); q->limit per page.  On success *out owns the page.  Returns 0
 * (an empty page when the trace has no records), SL_EINVAL (a cursor this
 * function did not make), SL_ESTORE, SL_ENOMEM. */
int slq_logs_of_trace(col_store *st, const uint8_t trace_id[16], uint32_t max_blocks,
                      const col_logs_q *q, slq_logs_page *out);

#endif /* SLQ_LOGS_H */
