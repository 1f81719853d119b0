/*
 * alerts_eval.c - what a rule measures, and the state machine that turns
 * measurements into pending / firing / resolved (see alerts_int.h).
 *
 * Measurements come from the per-minute aggregates only (col_store_red,
 * col_store_edges): their cost depends on the minutes in the window and the
 * groups in them, never on the number of spans.  The logs metric reads the
 * log index (col_store_logs), which skips blocks without a record at the
 * level, and counts at most AL_LOGS_CAP records.  Percentiles are those of
 * the query API (slc_hist_quantile on the merged histogram, the function
 * col_apiq_percentiles reproduces), rates use agg_time.h.
 */
#include "alerts_int.h"

#include <stdlib.h>
#include <string.h>

#include "query/slq_aggtime.h"
#include "sightline.h"
#include "common/slc_hist.h"

#define AL_LOGS_PAGE 10000
#define AL_LOGS_CAP 100000

struct al_acc {
    const col_al_cond *c;
    uint64_t count, errors;
    slc_hist *h;
};

static int al_name_is(const char *z, const char *p, size_t n)
{
    return strlen(z) == n && memcmp(z, p, n) == 0;
}

static int al_red_row(const col_agg_row *r, void *arg)
{
    struct al_acc *a = arg;

    a->count += r->count;
    a->errors += r->errors;
    if (a->h != NULL && r->hist != NULL)
        slc_hist_merge(a->h, r->hist);
    return 0;
}

static int al_edge_row(const col_agg_row *r, void *arg)
{
    struct al_acc *a = arg;

    if (!al_name_is(a->c->caller, r->service, r->service_len) ||
        !al_name_is(a->c->service, r->operation, r->operation_len))
        return 0;
    return al_red_row(r, arg);
}

static int al_count_logs(col_store *st, const col_al_cond *c, uint64_t since, uint64_t until,
                         double *value)
{
    char cursor[COL_CURSOR_MAX] = "", next[COL_CURSOR_MAX];
    uint64_t n = 0;
    int rv = 0;

    for (int page = 0; page < AL_LOGS_CAP / AL_LOGS_PAGE; page++) {
        col_logs_q q = {0};
        slc_batch *b = NULL;
        q.service = c->service;
        q.min_level = c->min_level;
        q.since_ns = since;
        q.until_ns = until;
        q.contains = c->match[0] ? c->match : NULL;
        q.limit = AL_LOGS_PAGE;
        q.cursor = cursor;
        rv = col_store_logs(st, &q, &b, next, NULL);
        if (rv != 0)
            return rv;
        n += b->nlogs;
        slc_batch_free(b);
        if (next[0] == '\0')
            break;
        memcpy(cursor, next, sizeof cursor);
    }
    *value = (double)n;
    return 0;
}

int col_al_measure(col_store *st, const col_al_cond *c, uint64_t now_ns, double *value,
                   int *has_value)
{
    struct al_acc a = {c, 0, 0, NULL};
    uint64_t since = now_ns > c->window_ns ? now_ns - c->window_ns : 0;
    int rv;

    if (c->metric == COL_AL_LOGS) {
        rv = al_count_logs(st, c, since, now_ns, value);
        if (rv == 0)
            *has_value = 1;
        return rv;
    }
    if (c->metric == COL_AL_LATENCY) {
        a.h = malloc(sizeof *a.h);
        if (a.h == NULL)
            return SL_ENOMEM;
        slc_hist_reset(a.h);
    }
    if (c->caller[0] != '\0')
        rv = col_store_edges(st, since, now_ns, 0, al_edge_row, &a);
    else
        rv = col_store_red(st, c->service, c->operation[0] ? c->operation : NULL, since, now_ns,
                           0, c->kind_mask, c->operation[0] == '\0', al_red_row, &a);
    if (rv == 0) {
        switch (c->metric) {
        case COL_AL_LATENCY:
            *has_value = a.h->count > 0;
            *value = *has_value ? (double)slc_hist_quantile(a.h, c->quantile) / 1e6 : 0;
            break;
        case COL_AL_ERROR_RATE:
            *has_value = a.count > 0;
            *value = a.count ? 100.0 * (double)a.errors / (double)a.count : 0;
            break;
        case COL_AL_RATE:
            *has_value = 1;
            *value = (double)a.count / slq_agg_elapsed_s(since, now_ns, now_ns);
            break;
        case COL_AL_LOGS: break;
        }
    }
    free(a.h);
    return rv;
}

int col_al_breached(const col_al_cond *c, double v)
{
    switch (c->cmp) {
    case COL_AL_GT: return v > c->threshold;
    case COL_AL_GE: return v >= c->threshold;
    case COL_AL_LT: return v < c->threshold;
    case COL_AL_LE: return v <= c->threshold;
    }
    return 0;
}

int col_al_clear(const col_al_cond *c, double v, double h)
{
    if (c->cmp == COL_AL_GT || c->cmp == COL_AL_GE)
        return v < c->threshold * (1.0 - h) || (h == 0 && !col_al_breached(c, v));
    return v > c->threshold * (1.0 + h) || (h == 0 && !col_al_breached(c, v));
}

const char *col_al_state_name(enum col_al_state s)
{
    switch (s) {
    case COL_AL_OK: return "ok";
    case COL_AL_PENDING: return "pending";
    case COL_AL_FIRING: return "firing";
    case COL_AL_RESOLVED: return "resolved";
    }
    return "ok";
}

/* No value (no requests in the window) counts as "not breached" and as
 * "clear": an alert on a service that stopped receiving traffic resolves
 * (Prometheus does the same when a series disappears); alert on the
 * request rate to catch the silence itself. */
enum col_al_event col_al_step(const col_al_rule *r, col_al_status *st, double value,
                              int has_value, uint64_t now)
{
    int bad = has_value && col_al_breached(&r->c, value);
    int clear = !has_value || col_al_clear(&r->c, value, r->hysteresis);

    st->last_eval = now;
    st->value = has_value ? value : 0;
    st->has_value = has_value;
    switch (st->state) {
    case COL_AL_OK:
    case COL_AL_RESOLVED:
        if (bad) {
            st->state = COL_AL_PENDING;
            st->pending_since = now;
            if (r->c.for_ns == 0)
                goto fire;
            return COL_AL_EV_PENDING;
        }
        if (st->state == COL_AL_RESOLVED && now - st->resolved_at >= COL_AL_RESOLVED_KEEP_NS) {
            st->state = COL_AL_OK;
            return COL_AL_EV_EXPIRED;
        }
        return COL_AL_EV_NONE;
    case COL_AL_PENDING:
        if (!bad) {
            st->state = COL_AL_OK;
            st->pending_since = 0;
            return COL_AL_EV_CANCEL;
        }
        if (now - st->pending_since >= r->c.for_ns)
            goto fire;
        return COL_AL_EV_NONE;
    case COL_AL_FIRING:
        if (!clear) {
            st->clear_since = 0;
            if (r->repeat_ns != 0 && now - st->last_notified >= r->repeat_ns) {
                st->last_notified = now;
                return COL_AL_EV_REPEAT;
            }
            return COL_AL_EV_NONE;
        }
        if (st->clear_since == 0)
            st->clear_since = now;
        if (now - st->clear_since < r->keep_firing_for_ns)
            return COL_AL_EV_NONE;
        st->state = COL_AL_RESOLVED;
        st->resolved_at = now;
        st->clear_since = 0;
        return COL_AL_EV_RESOLVED;
    }
    return COL_AL_EV_NONE;
fire:
    st->state = COL_AL_FIRING;
    st->active_since = now;
    st->last_notified = now;
    st->clear_since = 0;
    st->resolved_at = 0;
    return COL_AL_EV_FIRING;
}
