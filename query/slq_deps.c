/*
 * slq_deps.c - the service dependency graph (slq_deps.h).
 */
#include "slq_deps.h"

#include <stdlib.h>
#include <string.h>

#include "common/slc_util.h"
#include "sightline.h"
#include "store/rollup.h"

void slq_deps_free(slq_deps *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nedges; i++) {
        free(d->edges[i].caller);
        free(d->edges[i].callee);
    }
    for (size_t i = 0; i < d->nnodes; i++)
        free(d->nodes[i].service);
    free(d->edges);
    free(d->nodes);
    memset(d, 0, sizeof *d);
}

struct slq_deps_acc {
    slq_deps *d;
    uint32_t ecap, ncap;
    int nomem;
};

/* col_store_edges() callback: copies one edge (row borrowed for the call;
 * names copied, owned by the graph). */
static int slq_edge_row(const col_agg_row *row, void *arg)
{
    struct slq_deps_acc *a = arg;
    slq_deps *d = a->d;
    slq_edge *e;

    if (slc_grow((void **)&d->edges, &a->ecap, (uint32_t)d->nedges + 1, sizeof *d->edges) != 0)
        return a->nomem = 1;
    e = &d->edges[d->nedges];
    memset(e, 0, sizeof *e);
    e->caller = slc_memdup(row->service, row->service_len);
    e->callee = slc_memdup(row->operation, row->operation_len);
    d->nedges++; /* counted now so slq_deps_free() frees a half-built one */
    if (e->caller == NULL || e->callee == NULL)
        return a->nomem = 1;
    e->caller_len = row->service_len;
    e->callee_len = row->operation_len;
    e->calls = row->count;
    e->errors = row->errors;
    col_rollup_percentiles(row->hist, e->pct);
    e->max = row->hist->count ? row->hist->max : 0;
    return 0;
}

/* col_store_service_counts() callback: copies one service with data (r
 * borrowed for the call; its name copied, owned by the graph). */
static int slq_node_row(const col_service_row *r, void *arg)
{
    struct slq_deps_acc *a = arg;
    slq_deps *d = a->d;
    slq_dep_node *n;

    if (r->spans == 0 && r->logs == 0)
        return 0;
    if (slc_grow((void **)&d->nodes, &a->ncap, (uint32_t)d->nnodes + 1, sizeof *d->nodes) != 0)
        return a->nomem = 1;
    n = &d->nodes[d->nnodes];
    memset(n, 0, sizeof *n);
    n->service = slc_memdup(r->name, r->len);
    d->nnodes++;
    if (n->service == NULL)
        return a->nomem = 1;
    n->len = r->len;
    n->spans = r->spans;
    n->errors = r->span_errors;
    n->logs = r->logs;
    return 0;
}

/* A callback stops the read only when out of memory, so a stop means
 * SL_ENOMEM whatever the store returns for it. */
int slq_deps_read(col_store *st, uint64_t since, uint64_t until, slq_deps *out)
{
    slq_deps d = {0};
    struct slq_deps_acc a = {&d, 0, 0, 0};
    int rv;

    rv = col_store_edges(st, since, until, 0, slq_edge_row, &a);
    if (rv == 0 && a.nomem)
        rv = SL_ENOMEM;
    if (rv == 0)
        rv = col_store_service_counts(st, since, until, slq_node_row, &a);
    if (rv > 0 || (rv == 0 && a.nomem))
        rv = SL_ENOMEM;
    if (rv != 0) {
        slq_deps_free(&d);
        return rv;
    }
    *out = d;
    return 0;
}
