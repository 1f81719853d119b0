/*
 * slq_logs.c - log search and the logs of one trace (slq_logs.h).
 */
#include "slq_logs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sightline.h"

#define SLQ_CURSOR_OFF_MAX 100000000UL

void slq_logs_page_free(slq_logs_page *p)
{
    if (p == NULL)
        return;
    slc_batch_free(p->b);
    free(p->idx);
    memset(p, 0, sizeof *p);
}

/* The store already pages, filters and orders; the page owns its batch. */
int slq_logs_search(col_store *st, const col_logs_q *q, slq_logs_page *out)
{
    slq_logs_page p;
    int rv;

    memset(&p, 0, sizeof p);
    rv = col_store_logs(st, q, &p.b, p.next, &p.capped);
    if (rv != 0)
        return rv;
    p.n = p.b->nlogs;
    *out = p;
    return 0;
}

static int slq_name_eq(const char *z, const char *p, size_t n)
{
    return strncmp(z, p, n) == 0 && z[n] == '\0';
}

static int slq_log_keep(const slc_batch *b, const slc_log *l, const col_logs_q *q)
{
    const slc_str *svc = &b->strs[l->service], *body = &b->strs[l->body];

    if (q->service != NULL && !slq_name_eq(q->service, svc->ptr, svc->len))
        return 0;
    if (q->min_level != 0 && l->level < q->min_level)
        return 0;
    if (l->time_ns < q->since_ns || l->time_ns > q->until_ns)
        return 0;
    if (q->contains != NULL &&
        memmem(body->ptr, body->len, q->contains, strlen(q->contains)) == NULL)
        return 0;
    return 1;
}

/* "t.N": N records of the filtered list already shown. */
static int slq_cursor_parse(const char *c, unsigned long *off)
{
    char *end;
    unsigned long x;

    *off = 0;
    if (c == NULL || *c == '\0')
        return 0;
    if (strncmp(c, "t.", 2) != 0)
        return SL_EINVAL;
    errno = 0;
    x = strtoul(c + 2, &end, 10);
    if (errno != 0 || *end != '\0' || x > SLQ_CURSOR_OFF_MAX)
        return SL_EINVAL;
    *off = x;
    return 0;
}

/* The store keeps a trace's records in time order: walked backwards for
 * newest first.  The page owns the trace's batch and an index array of at
 * most limit + 1 entries; *out changes only on success. */
int slq_logs_of_trace(col_store *st, const uint8_t trace_id[16], uint32_t max_blocks,
                      const col_logs_q *q, slq_logs_page *out)
{
    slq_logs_page p;
    unsigned long off;
    size_t matched = 0;
    int rv;

    memset(&p, 0, sizeof p);
    if (slq_cursor_parse(q->cursor, &off) != 0)
        return SL_EINVAL;
    rv = col_store_trace_logs(st, trace_id, max_blocks, &p.b);
    if (rv == SL_ENOTFOUND) {
        p.b = NULL;
        *out = p;
        return 0;
    }
    if (rv != 0)
        return rv;
    p.idx = calloc(q->limit < p.b->nlogs ? q->limit + 1 : p.b->nlogs + 1, sizeof *p.idx);
    if (p.idx == NULL) {
        slq_logs_page_free(&p);
        return SL_ENOMEM;
    }
    for (uint32_t i = p.b->nlogs; i-- > 0;) {
        if (!slq_log_keep(p.b, &p.b->logs[i], q))
            continue;
        if (matched++ < off)
            continue;
        if (p.n == q->limit) {
            snprintf(p.next, sizeof p.next, "t.%lu", off + p.n);
            break;
        }
        p.idx[p.n++] = i;
    }
    *out = p;
    return 0;
}
