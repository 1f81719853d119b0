/*
 * slq_ops.c - the per-operation table and its orders (slq_ops.h).
 */
#include "slq_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/slc_util.h"
#include "sightline.h"
#include "store/rollup.h"

void slq_ops_free(slq_ops *l)
{
    if (l == NULL)
        return;
    free(l->o);
    memset(l, 0, sizeof *l);
}

struct slq_ops_acc {
    slq_ops *l;
    int nomem;
};

/* col_store_red() callback: copies one row (borrowed for the call) into
 * the table, which grows by doubling and owns its rows. */
static int slq_op_row(const col_agg_row *row, void *arg)
{
    struct slq_ops_acc *a = arg;
    slq_ops *l = a->l;
    slq_op *o;

    if (slc_grow((void **)&l->o, &l->cap, (uint32_t)l->n + 1, sizeof *l->o) != 0) {
        a->nomem = 1;
        return 1;
    }
    o = &l->o[l->n++];
    snprintf(o->service, sizeof o->service, "%.*s", (int)row->service_len, row->service);
    snprintf(o->operation, sizeof o->operation, "%.*s", (int)row->operation_len, row->operation);
    o->count = row->count;
    o->errors = row->errors;
    col_rollup_percentiles(row->hist, o->pct);
    o->max = row->hist->count ? row->hist->max : 0;
    return 0;
}

int slq_ops_read(col_store *st, const char *service, uint64_t since, uint64_t until,
                 unsigned kind_mask, slq_ops *out)
{
    slq_ops l = {0};
    struct slq_ops_acc a = {&l, 0};
    int rv;

    /* One bucket for the whole range, per operation, histograms merged by
     * the store: a row per operation, whatever the range.  The table is
     * built aside and handed over whole, so *out changes only on success. */
    rv = col_store_red(st, service, NULL, since, until, 0, kind_mask, 0, slq_op_row, &a);
    if (a.nomem)
        rv = SL_ENOMEM;
    if (rv != 0) {
        slq_ops_free(&l);
        return rv;
    }
    *out = l;
    return 0;
}

static int slq_by_count(const void *a, const void *b)
{
    const slq_op *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->operation, y->operation);
}

static int slq_by_p99(const void *a, const void *b)
{
    const slq_op *x = a, *y = b;
    if (x->pct[3] != y->pct[3])
        return x->pct[3] < y->pct[3] ? 1 : -1;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static int slq_by_errors(const void *a, const void *b)
{
    const slq_op *x = a, *y = b;
    double rx = x->count ? (double)x->errors / (double)x->count : 0;
    double ry = y->count ? (double)y->errors / (double)y->count : 0;
    if (x->errors != y->errors)
        return x->errors < y->errors ? 1 : -1;
    return rx < ry ? 1 : rx > ry ? -1 : 0;
}

void slq_ops_sort(slq_ops *l, enum slq_ops_order by)
{
    if (l->n < 2) /* qsort(NULL, 0) is undefined */
        return;
    qsort(l->o, l->n, sizeof *l->o,
          by == SLQ_OPS_BY_COUNT ? slq_by_count
          : by == SLQ_OPS_BY_P99 ? slq_by_p99
                                 : slq_by_errors);
}

void slq_ops_top(slq_ops *l, enum slq_ops_order by, size_t limit, uint64_t min_count)
{
    size_t kept = 0;

    slq_ops_sort(l, by);
    for (size_t i = 0; i < l->n && kept < limit; i++) {
        if (l->o[i].count < min_count || (by == SLQ_OPS_BY_ERRORS && l->o[i].errors == 0))
            continue;
        if (kept != i)
            l->o[kept] = l->o[i];
        kept++;
    }
    l->n = kept;
}

struct slq_find {
    const char *want;
    int found;
};

static int slq_service_eq(const char *name, size_t len, void *arg)
{
    struct slq_find *f = arg;
    if (strlen(f->want) == len && memcmp(f->want, name, len) == 0)
        f->found = 1;
    return f->found;
}

int slq_service_known(col_store *st, const char *name, int *known)
{
    struct slq_find f = {name, 0};
    int rv = col_store_services(st, slq_service_eq, &f);

    if (rv == 0)
        *known = f.found;
    return rv;
}
