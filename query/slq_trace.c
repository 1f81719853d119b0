/*
 * slq_trace.c - request-tree assembly (see slq_trace.h for the contract).
 *
 * The build runs in fixed passes over arrays indexed by "unique span" (the
 * spans of the batch after removing duplicate span ids, sorted by span id so
 * parents are found by binary search).  Every pass is a sort (O(n log n)) or
 * a linear walk with an explicit queue or stack, never recursion: a 100,000
 * span chain must not blow the stack, and a parent cycle must not loop.
 *
 *   1. dedup:     sort (span id, batch index), keep the first of each id
 *   2. link:      find each parent; classify true roots / missing parents
 *   3. root:      pick the main root; orphans hang under it
 *   4. cycles:    what no root reaches is in (or under) a parent cycle;
 *                 break each cycle at its earliest span, which then becomes
 *                 an orphan under the main root
 *   5. display:   top-down clock-skew shift into the parent's window
 *   6. order:     siblings by display start
 *   7. truncate:  keep the first max_spans spans in breadth-first order, so
 *                 the kept set always contains every kept span's parent
 *   8. pre-order: the output nodes
 *   9. critical path over the main root's whole (untruncated) tree
 *  10. summary and log order
 */
#include "slq_trace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sightline.h"
#include "slq_util.h"
#include "common/slc_util.h"

#define SLQ_DEFAULT_MAX_SPANS 10000u
#define SLQ_DEFAULT_MAX_LOGS 10000u

/* Per unique span flags. */
#define F_MISSING 0x01u /* parent id set but parent absent (or cycle broken) */
#define F_VISITED 0x02u /* reached from a root (pass 4) */
#define F_KEPT 0x04u    /* within max_spans (pass 7) */
#define F_CRIT 0x08u    /* on the critical path (pass 9) */
#define F_CPVALID 0x10u /* overlaps its parent's window (pass 9) */

struct slq_trace {
    const slc_batch *b; /* borrowed */
    slq_node *nodes;
    uint32_t nnodes;
    uint32_t span_count;    /* unique spans in the trace */
    uint32_t dropped_spans; /* unique spans beyond max_spans */
    uint32_t error_count;
    uint32_t orphan_count;
    uint8_t trace_id[16];
    int has_root;
    uint32_t root_span; /* batch index of the main root */
    uint64_t start_ns;  /* display extent of the whole trace */
    uint64_t end_ns;
    uint32_t *services; /* string indices, sorted by content, distinct */
    uint32_t nservices;
    uint32_t *logs; /* batch log indices in time order */
    uint32_t nlogs;
    uint32_t log_count; /* logs in the batch */
};

/* Working state of one build; freed before slq_trace_build() returns. */
typedef struct work {
    const slc_batch *b;
    uint32_t n;      /* unique spans */
    uint32_t *bi;    /* [n] batch index of unique span u */
    uint64_t *ids;   /* [n] span id as a big-endian number, ascending */
    int32_t *par;    /* [n] effective parent, -1 for roots */
    uint8_t *flags;  /* [n] F_* */
    int64_t *skew;   /* [n] display shift */
    const slc_str **host; /* [n] host.name of u (own or inherited), NULL = unknown */
    uint64_t *cs;    /* [n] window clamped into the parent's, for the path */
    uint64_t *ce;
    uint32_t *coff;  /* [n+1] children of u: kids[coff[u] .. coff[u+1]) */
    uint32_t *kids;  /* [n] */
    uint32_t *queue; /* [n] scratch for breadth-first walks */
    uint32_t *roots; /* main root first, then other true roots */
    uint32_t nroots;
    uint32_t main_root;
} work;

/* ---- small helpers ------------------------------------------------------- */

static uint64_t id8(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static const slc_span *sp(const work *w, uint32_t u) { return &w->b->spans[w->bi[u]]; }

static uint64_t span_dur(const slc_span *s) { return s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0; }

static uint64_t disp_start(const work *w, uint32_t u) { return sp(w, u)->start_ns + (uint64_t)w->skew[u]; }

static uint64_t disp_end(const work *w, uint32_t u) { return disp_start(w, u) + span_dur(sp(w, u)); }

/* Earlier display start first; ties by span id so the output is stable
 * whatever order the spans arrived in. */
static int earlier(const work *w, uint32_t a, uint32_t b)
{
    uint64_t sa = disp_start(w, a), sb = disp_start(w, b);
    if (sa != sb)
        return sa < sb;
    return w->ids[a] < w->ids[b];
}

static slc_str str_at(const slc_batch *b, uint32_t i)
{
    if (i < b->nstrs && b->strs[i].ptr != NULL)
        return b->strs[i];
    slc_str e = {"", 0};
    return e;
}

/* qsort contexts: glibc's qsort_r would do, but sorting small key records is
 * both portable and faster than chasing indices in a comparator. */
typedef struct key_rec {
    uint64_t k1;
    uint64_t k2;
    uint32_t idx;
} key_rec;

static int key_cmp(const void *pa, const void *pb)
{
    const key_rec *a = pa, *b = pb;
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2)
        return a->k2 < b->k2 ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int32_t find_id(const work *w, uint64_t id)
{
    uint32_t lo = 0, hi = w->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < w->n && w->ids[lo] == id) ? (int32_t)lo : -1;
}

static void work_free(work *w)
{
    free(w->bi);
    free(w->ids);
    free(w->par);
    free(w->flags);
    free(w->skew);
    free(w->host);
    free(w->cs);
    free(w->ce);
    free(w->coff);
    free(w->kids);
    free(w->queue);
    free(w->roots);
}

/* ---- passes -------------------------------------------------------------- */

/* Pass 1: duplicates (a retried frame) keep the first copy in batch order. */
static int pass_dedup(work *w)
{
    const slc_batch *b = w->b;
    uint32_t n = b->nspans;
    if (n == 0)
        return 0;
    key_rec *k = malloc((size_t)n * sizeof(*k));
    if (k == NULL)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        k[i].k1 = id8(b->spans[i].span_id);
        k[i].k2 = 0;
        k[i].idx = i;
    }
    qsort(k, n, sizeof(*k), key_cmp);
    uint32_t u = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0 && k[i].k1 == k[i - 1].k1)
            continue;
        w->bi[u] = k[i].idx;
        w->ids[u] = k[i].k1;
        u++;
    }
    w->n = u;
    free(k);
    return 0;
}

/* Children lists (CSR) from par[], by counting sort: O(n). */
static void build_children(work *w)
{
    uint32_t n = w->n;
    memset(w->coff, 0, ((size_t)n + 1) * sizeof(*w->coff));
    for (uint32_t u = 0; u < n; u++)
        if (w->par[u] >= 0)
            w->coff[w->par[u] + 1]++;
    for (uint32_t u = 0; u < n; u++)
        w->coff[u + 1] += w->coff[u];
    /* queue doubles as the fill cursor here */
    memcpy(w->queue, w->coff, (size_t)n * sizeof(*w->queue));
    for (uint32_t u = 0; u < n; u++)
        if (w->par[u] >= 0)
            w->kids[w->queue[w->par[u]]++] = u;
}

/* Marks F_VISITED on everything reachable from the start nodes; returns the
 * number newly marked. */
static uint32_t mark_reachable(work *w, const uint32_t *start, uint32_t nstart)
{
    uint32_t head = 0, tail = 0, marked = 0;
    for (uint32_t i = 0; i < nstart; i++) {
        if (w->flags[start[i]] & F_VISITED)
            continue;
        w->flags[start[i]] |= F_VISITED;
        w->queue[tail++] = start[i];
        marked++;
    }
    while (head < tail) {
        uint32_t p = w->queue[head++];
        for (uint32_t j = w->coff[p]; j < w->coff[p + 1]; j++) {
            uint32_t c = w->kids[j];
            if (w->flags[c] & F_VISITED)
                continue;
            w->flags[c] |= F_VISITED;
            w->queue[tail++] = c;
            marked++;
        }
    }
    return marked;
}

/* Passes 2-4: parent links, the main root, orphans, cycles. */
static int pass_link(work *w)
{
    uint32_t n = w->n;
    int32_t best_root = -1, best_orphan = -1, best_any = -1;
    uint32_t ntrue = 0;

    for (uint32_t u = 0; u < n; u++) {
        const slc_span *s = sp(w, u);
        if (slc_is_zero(s->parent_id, 8)) {
            w->par[u] = -1;
            ntrue++;
        } else {
            int32_t v = find_id(w, id8(s->parent_id));
            if (v < 0 || (uint32_t)v == u) {
                /* A span naming itself as parent is a one-span cycle:
                 * treated like a parent that never arrived. */
                w->par[u] = -2;
            } else {
                w->par[u] = v;
            }
        }
        /* skew is still 0 here, so "earlier" compares raw starts */
        if (w->par[u] == -1 && (best_root < 0 || earlier(w, u, (uint32_t)best_root)))
            best_root = (int32_t)u;
        if (w->par[u] == -2 && (best_orphan < 0 || earlier(w, u, (uint32_t)best_orphan)))
            best_orphan = (int32_t)u;
        if (best_any < 0 || earlier(w, u, (uint32_t)best_any))
            best_any = (int32_t)u;
    }

    /* No true root: the earliest span whose parent is missing stands in, so
     * that links which did arrive are kept; only if every span sits in a
     * parent cycle does the earliest span of all become the root. */
    uint32_t m = (uint32_t)(best_root >= 0 ? best_root : best_orphan >= 0 ? best_orphan : best_any);
    if (w->par[m] != -1) {
        w->flags[m] |= F_MISSING;
        w->par[m] = -1;
        ntrue++;
    }
    w->main_root = m;

    for (uint32_t u = 0; u < n; u++) {
        if (w->par[u] == -2) {
            w->flags[u] |= F_MISSING;
            w->par[u] = (int32_t)m;
        }
    }

    w->roots = malloc((size_t)ntrue * sizeof(*w->roots));
    if (w->roots == NULL)
        return SL_ENOMEM;
    w->roots[0] = m;
    w->nroots = 1;
    for (uint32_t u = 0; u < n; u++)
        if (w->par[u] == -1 && u != m)
            w->roots[w->nroots++] = u;

    build_children(w);
    uint32_t seen = mark_reachable(w, w->roots, w->nroots);
    if (seen == n)
        return 0;

    /* Parent cycles: nothing from a root reaches them.  Break each at its
     * earliest span (an orphan under the main root from now on); every
     * iteration marks at least that span, so this ends. */
    uint32_t nun = n - seen;
    key_rec *k = malloc((size_t)nun * sizeof(*k));
    if (k == NULL)
        return SL_ENOMEM;
    uint32_t j = 0;
    for (uint32_t u = 0; u < n; u++) {
        if (w->flags[u] & F_VISITED)
            continue;
        k[j].k1 = sp(w, u)->start_ns;
        k[j].k2 = w->ids[u];
        k[j].idx = u;
        j++;
    }
    qsort(k, nun, sizeof(*k), key_cmp);
    for (uint32_t i = 0; i < nun; i++) {
        uint32_t u = k[i].idx;
        if (w->flags[u] & F_VISITED)
            continue;
        w->par[u] = (int32_t)m;
        w->flags[u] |= F_MISSING;
        mark_reachable(w, &u, 1);
    }
    free(k);
    build_children(w);
    return 0;
}

/* Pass 5: display times, top-down.  A child inherits its parent's shift
 * (its subtree usually runs on the same host clock), then, if it still lies
 * outside the parent's display window, is shifted so that it starts no
 * earlier than the parent; a child longer than its parent is aligned to the
 * parent's start (it cannot fit; the start is the more useful anchor); a
 * child that ends after the parent is moved back to end with it.  Orphans are
 * not shifted: their real parent is unknown, so no window applies.
 *
 * Shifts apply only between spans on different hosts (or hosts unknown):
 * on one host both spans read the same clock, so a child that overruns its
 * parent did so for real and is shown as it happened.
 *
 * Also computes, for the critical path, each span's window clamped into its
 * parent's clamped window (F_CPVALID when the two overlap). */
/* The span's own host.name attribute (SDKs put it on the first span of
 * each process), or NULL. */
static const slc_str *own_host(const work *w, uint32_t u)
{
    const slc_span *s = sp(w, u);
    const slc_batch *b = w->b;
    for (uint32_t i = 0; i < s->attr_count; i++) {
        const slc_attr *a = &b->attrs[s->attr_first + i];
        const slc_str *k = &b->strs[a->key];
        if (a->type == SLC_V_STR && k->len == 9 && memcmp(k->ptr, "host.name", 9) == 0)
            return &b->strs[a->v.str];
    }
    return NULL;
}

static int same_str(const slc_str *a, const slc_str *b)
{
    return a && b && a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static void pass_display(work *w)
{
    uint32_t head = 0, tail = 0;
    for (uint32_t i = 0; i < w->nroots; i++) {
        uint32_t r = w->roots[i];
        w->skew[r] = 0;
        w->host[r] = own_host(w, r);
        w->cs[r] = disp_start(w, r);
        w->ce[r] = disp_end(w, r);
        w->flags[r] |= F_CPVALID;
        w->queue[tail++] = r;
    }
    while (head < tail) {
        uint32_t p = w->queue[head++];
        uint64_t ps = disp_start(w, p), pe = disp_end(w, p);
        for (uint32_t j = w->coff[p]; j < w->coff[p + 1]; j++) {
            uint32_t c = w->kids[j];
            const slc_span *s = sp(w, c);
            /* A span without host.name runs where its parent runs when
             * both belong to one service (one process). */
            w->host[c] = own_host(w, c);
            if (!w->host[c] && s->service == sp(w, p)->service)
                w->host[c] = w->host[p];
            if (w->flags[c] & F_MISSING) {
                w->skew[c] = 0;
            } else if (same_str(w->host[c], w->host[p])) {
                /* One host, one clock: a server span that ends just after its
                 * client span (it ends after writing the reply) is real, not
                 * skew.  Only the parent's own shift carries over. */
                w->skew[c] = w->skew[p];
            } else {
                int64_t sk = w->skew[p];
                uint64_t cs = s->start_ns + (uint64_t)sk;
                uint64_t cdur = span_dur(s);
                uint64_t ce = cs + cdur;
                if (cdur > pe - ps || cs < ps)
                    sk += (int64_t)(ps - cs);
                else if (ce > pe)
                    sk -= (int64_t)(ce - pe);
                w->skew[c] = sk;
            }
            uint64_t ds = disp_start(w, c), de = disp_end(w, c);
            if ((w->flags[p] & F_CPVALID) && de >= w->cs[p] && ds <= w->ce[p]) {
                w->cs[c] = ds > w->cs[p] ? ds : w->cs[p];
                w->ce[c] = de < w->ce[p] ? de : w->ce[p];
                w->flags[c] |= F_CPVALID;
            }
            w->queue[tail++] = c;
        }
    }
}

/* Pass 6: siblings (and extra roots) by display start.  One sort of all
 * (parent, start, id) records, then the children array is rewritten. */
static int pass_order(work *w)
{
    uint32_t n = w->n;
    key_rec *k = malloc((size_t)n * sizeof(*k));
    if (k == NULL)
        return SL_ENOMEM;
    /* parent + 1 (roots first), then display start, then unique index,
     * which is span id order: ties never depend on arrival order */
    for (uint32_t u = 0; u < n; u++) {
        k[u].k1 = ((uint64_t)(uint32_t)(w->par[u] + 1) << 32);
        k[u].k2 = disp_start(w, u);
        k[u].idx = u;
    }
    qsort(k, n, sizeof(*k), key_cmp);
    uint32_t j = 0, r = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t u = k[i].idx;
        if (w->par[u] < 0) {
            if (u != w->main_root)
                w->roots[r++] = u;
        } else {
            w->kids[j++] = u;
        }
    }
    free(k);
    return 0;
}

/* Pass 7: keep the first max spans in breadth-first order. */
static void pass_truncate(work *w, uint32_t max)
{
    uint32_t head = 0, tail = 0, kept = 0;
    for (uint32_t i = 0; i < w->nroots; i++)
        w->queue[tail++] = w->roots[i];
    while (head < tail && kept < max) {
        uint32_t p = w->queue[head++];
        w->flags[p] |= F_KEPT;
        kept++;
        for (uint32_t j = w->coff[p]; j < w->coff[p + 1]; j++)
            w->queue[tail++] = w->kids[j];
    }
}

/* Pass 9: critical path of the main root's tree.  From the root, walk back
 * from its end: the child that finished last before the current point is on
 * the path; descend into it, and when it is done continue in the parent from
 * that child's start.  Windows are clamped into the parent's (pass 5), so a
 * child running past its parent does not steal the path.  Each node's
 * children are scanned once through a cursor over an end-descending list:
 * the point only moves back in time, so the walk is O(n) after the sort. */
static int pass_critical(work *w)
{
    uint32_t n = w->n;
    int rc = SL_ENOMEM;
    key_rec *k = malloc((size_t)n * sizeof(*k));
    uint32_t *byend = malloc((size_t)n * sizeof(*byend));
    uint32_t *cur = malloc((size_t)n * sizeof(*cur));
    if (k == NULL || byend == NULL || cur == NULL)
        goto out;
    uint32_t m = 0;
    for (uint32_t u = 0; u < n; u++) {
        if (w->par[u] < 0 || !(w->flags[u] & F_CPVALID))
            continue;
        k[m].k1 = (uint64_t)(uint32_t)w->par[u];
        k[m].k2 = UINT64_MAX - w->ce[u]; /* latest end first */
        k[m].idx = u;
        m++;
    }
    qsort(k, m, sizeof(*k), key_cmp);
    /* cur[p] = position of p's next candidate in byend; the list of p ends
     * where the parent changes. */
    for (uint32_t u = 0; u < n; u++)
        cur[u] = UINT32_MAX;
    for (uint32_t i = 0; i < m; i++) {
        byend[i] = k[i].idx;
        uint32_t p = (uint32_t)k[i].k1;
        if (cur[p] == UINT32_MAX)
            cur[p] = i;
    }

    uint32_t u = w->main_root;
    uint64_t point = w->ce[u];
    /* every step either enters a span (once each) or leaves one */
    for (uint64_t steps = 0; steps <= 2 * (uint64_t)n + 2; steps++) {
        w->flags[u] |= F_CRIT;
        int32_t next = -1;
        while (cur[u] < m && (uint32_t)k[cur[u]].k1 == u) {
            uint32_t c = byend[cur[u]++];
            if (w->ce[c] <= point) {
                next = (int32_t)c;
                break;
            }
            /* ends after the point: never a candidate again, the point only
             * moves back */
        }
        if (next >= 0) {
            u = (uint32_t)next;
            point = w->ce[u];
            continue;
        }
        point = w->cs[u];
        if (u == w->main_root)
            break;
        u = (uint32_t)w->par[u];
    }
    rc = 0;
out:
    free(k);
    free(byend);
    free(cur);
    return rc;
}

/* Pass 8: pre-order of the kept spans, iteratively. */
static int pass_preorder(work *w, slq_trace *t)
{
    uint32_t n = w->n;
    int rc = SL_ENOMEM;
    int32_t *nodeidx = malloc((size_t)n * sizeof(*nodeidx));
    uint32_t *stack = malloc((size_t)n * sizeof(*stack));
    uint32_t kept = 0;
    for (uint32_t u = 0; u < n; u++)
        kept += (w->flags[u] & F_KEPT) ? 1u : 0u;
    t->nodes = calloc(kept ? kept : 1, sizeof(*t->nodes));
    if (nodeidx == NULL || stack == NULL || t->nodes == NULL)
        goto out;
    uint32_t sp_ = 0, out_n = 0;
    for (uint32_t i = w->nroots; i-- > 0;)
        if (w->flags[w->roots[i]] & F_KEPT)
            stack[sp_++] = w->roots[i];
    while (sp_ > 0) {
        uint32_t u = stack[--sp_];
        slq_node *nd = &t->nodes[out_n];
        nodeidx[u] = (int32_t)out_n;
        nd->span = w->bi[u];
        nd->parent = w->par[u] >= 0 ? nodeidx[w->par[u]] : -1;
        nd->depth = nd->parent >= 0 ? t->nodes[nd->parent].depth + 1 : 0;
        nd->skew_ns = w->skew[u];
        nd->missing_parent = (w->flags[u] & F_MISSING) ? 1 : 0;
        nd->critical = (w->flags[u] & F_CRIT) ? 1 : 0;
        out_n++;
        /* each span is pushed once (by its only parent), so sp_ <= n */
        for (uint32_t j = w->coff[u + 1]; j-- > w->coff[u];)
            if (w->flags[w->kids[j]] & F_KEPT)
                stack[sp_++] = w->kids[j];
    }
    t->nnodes = out_n;
    rc = 0;
out:
    free(nodeidx);
    free(stack);
    return rc;
}

static int str_cmp(const slc_batch *b, uint32_t x, uint32_t y)
{
    slc_str a = str_at(b, x), c = str_at(b, y);
    uint32_t l = a.len < c.len ? a.len : c.len;
    int r = l ? memcmp(a.ptr, c.ptr, l) : 0;
    if (r != 0)
        return r;
    return (a.len > c.len) - (a.len < c.len);
}

/* Insertion into a sorted distinct list; services per trace are few, but a
 * hostile trace could carry thousands, so the list is binary-searched. */
static void service_add(slq_trace *t, uint32_t s)
{
    uint32_t lo = 0, hi = t->nservices;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(t->b, t->services[mid], s);
        if (c == 0)
            return;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&t->services[lo + 1], &t->services[lo], (size_t)(t->nservices - lo) * sizeof(*t->services));
    t->services[lo] = s;
    t->nservices++;
}

/* Pass 10: summary over every unique span (dropped ones included: the
 * summary describes the trace, not the truncated view) and the logs. */
static int pass_summary(work *w, slq_trace *t, uint32_t max_logs)
{
    const slc_batch *b = w->b;
    t->services = malloc(((size_t)w->n + b->nlogs + 1) * sizeof(*t->services));
    if (t->services == NULL)
        return SL_ENOMEM;
    int have = 0;
    for (uint32_t u = 0; u < w->n; u++) {
        const slc_span *s = sp(w, u);
        if (s->status == SLC_STATUS_ERROR)
            t->error_count++;
        if (w->flags[u] & F_MISSING)
            t->orphan_count++;
        uint64_t ds = disp_start(w, u), de = disp_end(w, u);
        if (!have || ds < t->start_ns)
            t->start_ns = ds;
        if (!have || de > t->end_ns)
            t->end_ns = de;
        have = 1;
        service_add(t, s->service);
    }
    t->log_count = b->nlogs;
    if (b->nlogs == 0)
        return 0;

    key_rec *k = malloc((size_t)b->nlogs * sizeof(*k));
    if (k == NULL)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < b->nlogs; i++) {
        k[i].k1 = b->logs[i].time_ns;
        k[i].k2 = 0;
        k[i].idx = i;
        service_add(t, b->logs[i].service);
        if (w->n == 0) {
            if (!have || b->logs[i].time_ns < t->start_ns)
                t->start_ns = b->logs[i].time_ns;
            if (!have || b->logs[i].time_ns > t->end_ns)
                t->end_ns = b->logs[i].time_ns;
            have = 1;
        }
    }
    qsort(k, b->nlogs, sizeof(*k), key_cmp);
    t->nlogs = b->nlogs < max_logs ? b->nlogs : max_logs;
    t->logs = malloc((size_t)t->nlogs * sizeof(*t->logs));
    if (t->logs == NULL) {
        free(k);
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; i < t->nlogs; i++)
        t->logs[i] = k[i].idx;
    free(k);
    return 0;
}

int slq_trace_build(const slc_batch *b, const slq_trace_opts *opts, slq_trace **out)
{
    if (b == NULL || out == NULL)
        return SL_EINVAL;
    if (b->nspans == 0 && b->nlogs == 0)
        return SL_ENOTFOUND;
    uint32_t max_spans = (opts && opts->max_spans) ? opts->max_spans : SLQ_DEFAULT_MAX_SPANS;
    uint32_t max_logs = (opts && opts->max_logs) ? opts->max_logs : SLQ_DEFAULT_MAX_LOGS;

    int rc = SL_ENOMEM;
    work w = {0};
    slq_trace *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SL_ENOMEM;
    t->b = b;
    w.b = b;

    size_t n = b->nspans;
    if (n > 0) {
        w.bi = malloc(n * sizeof(*w.bi));
        w.ids = malloc(n * sizeof(*w.ids));
        w.par = malloc(n * sizeof(*w.par));
        w.flags = calloc(n, sizeof(*w.flags));
        w.skew = calloc(n, sizeof(*w.skew));
        w.host = calloc(n, sizeof(*w.host));
        w.cs = calloc(n, sizeof(*w.cs));
        w.ce = calloc(n, sizeof(*w.ce));
        w.coff = malloc((n + 1) * sizeof(*w.coff));
        w.kids = malloc(n * sizeof(*w.kids));
        w.queue = malloc(n * sizeof(*w.queue));
        if (!w.bi || !w.ids || !w.par || !w.flags || !w.skew || !w.host || !w.cs || !w.ce || !w.coff || !w.kids ||
            !w.queue)
            goto out;
        if ((rc = pass_dedup(&w)) != 0 || (rc = pass_link(&w)) != 0)
            goto out;
        pass_display(&w);
        if ((rc = pass_order(&w)) != 0)
            goto out;
        pass_truncate(&w, max_spans);
        if ((rc = pass_critical(&w)) != 0 || (rc = pass_preorder(&w, t)) != 0)
            goto out;
        t->span_count = w.n;
        t->dropped_spans = w.n - t->nnodes;
        t->has_root = 1;
        t->root_span = w.bi[w.main_root];
        memcpy(t->trace_id, sp(&w, w.main_root)->trace_id, 16);
    } else {
        memcpy(t->trace_id, b->logs[0].trace_id, 16);
    }
    if ((rc = pass_summary(&w, t, max_logs)) != 0)
        goto out;
    rc = 0;
out:
    work_free(&w);
    if (rc != 0) {
        slq_trace_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void slq_trace_free(slq_trace *t)
{
    if (t == NULL)
        return;
    free(t->nodes);
    free(t->services);
    free(t->logs);
    free(t);
}

const slq_node *slq_trace_nodes(const slq_trace *t, uint32_t *n)
{
    if (n != NULL)
        *n = t ? t->nnodes : 0;
    return t ? t->nodes : NULL;
}

/* ---- JSON ------------------------------------------------------------------ */

/* Batch strings are length-delimited and, in a batch built in memory rather
 * than decoded, not guaranteed valid UTF-8; jansson refuses invalid UTF-8,
 * so such bytes become U+FFFD rather than failing the whole trace. */
static json_t *jstr(const slc_batch *b, uint32_t i)
{
    slc_str s = str_at(b, i);
    json_t *j = json_stringn(s.ptr, s.len);
    if (j != NULL || s.len == 0)
        return j;
    size_t cap = (size_t)s.len * 3 + 1;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    size_t o = 0;
    for (uint32_t k = 0; k < s.len;) {
        uint32_t l = 1;
        unsigned char c = (unsigned char)s.ptr[k];
        if (c >= 0xF0)
            l = 4;
        else if (c >= 0xE0)
            l = 3;
        else if (c >= 0xC0)
            l = 2;
        if (k + l <= s.len && slc_utf8_valid(s.ptr + k, l)) {
            memcpy(buf + o, s.ptr + k, l);
            o += l;
            k += l;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            k += 1;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

static json_t *jhex(const uint8_t *bytes, size_t n, int empty_if_zero)
{
    char hex[33];
    if (empty_if_zero && slc_is_zero(bytes, n))
        return json_string("");
    slc_hex_encode(bytes, n, hex);
    return json_string(hex);
}

/* json_object_set_new() steals the value even on failure; a NULL value
 * (allocation failure upstream) makes it fail, which is all we need. */
static int set(json_t *o, const char *k, json_t *v) { return json_object_set_new(o, k, v) == 0 ? 0 : SL_ENOMEM; }

static json_t *jattrs(const slc_batch *b, uint32_t first, uint32_t count)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (first > b->nattrs || count > b->nattrs - first)
        return o; /* an out-of-range reference shows as no attributes */
    for (uint32_t i = 0; i < count; i++) {
        const slc_attr *a = &b->attrs[first + i];
        json_t *v = NULL;
        switch (a->type) {
        case SLC_V_STR: v = jstr(b, a->v.str); break;
        case SLC_V_INT: v = json_integer((json_int_t)a->v.i); break;
        case SLC_V_DBL: v = json_real(a->v.d); break; /* NaN/inf -> NULL, skipped */
        case SLC_V_BOOL: v = json_boolean(a->v.b); break;
        default: break;
        }
        if (v == NULL)
            continue;
        slc_str k = str_at(b, a->key);
        char *key = strndup(k.ptr, k.len);
        if (key == NULL || json_object_set_new(o, key, v) != 0) {
            /* keys with NUL bytes or invalid UTF-8 are skipped */
        }
        free(key);
    }
    return o;
}

static const char *status_name(uint8_t s)
{
    switch (s) {
    case SLC_STATUS_OK: return "ok";
    case SLC_STATUS_ERROR: return "error";
    default: return "unset";
    }
}

/* OpenTelemetry severity ranges of four numbers each; out-of-range numbers
 * clamp to the nearest level. */
static const char *level_name(uint8_t sev)
{
    if (sev < SLC_LVL_DEBUG)
        return "trace";
    if (sev < SLC_LVL_INFO)
        return "debug";
    if (sev < SLC_LVL_WARN)
        return "info";
    if (sev < SLC_LVL_ERROR)
        return "warn";
    if (sev < SLC_LVL_FATAL)
        return "error";
    return "fatal";
}

static json_t *span_json(const slq_trace *t, const slq_node *nd)
{
    const slc_batch *b = t->b;
    const slc_span *s = &b->spans[nd->span];
    uint64_t start = s->start_ns + (uint64_t)nd->skew_ns;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= set(o, "span_id", jhex(s->span_id, 8, 0));
    rc |= set(o, "parent_id", jhex(s->parent_id, 8, 1));
    rc |= set(o, "service", jstr(b, s->service));
    rc |= set(o, "name", jstr(b, s->name));
    rc |= set(o, "kind", json_string(slc_kind_name(s->kind)));
    rc |= set(o, "start_ns", slq_json_ns(start));
    rc |= set(o, "start_us", json_integer((json_int_t)(start / 1000)));
    if (nd->skew_ns != 0) {
        rc |= set(o, "raw_start_ns", slq_json_ns(s->start_ns));
        rc |= set(o, "raw_start_us", json_integer((json_int_t)(s->start_ns / 1000)));
    }
    rc |= set(o, "duration_ns", json_integer((json_int_t)span_dur(s)));
    rc |= set(o, "status", json_string(status_name(s->status)));
    rc |= set(o, "status_message", jstr(b, s->status_msg));
    rc |= set(o, "depth", json_integer(nd->depth));
    rc |= set(o, "missing_parent", json_boolean(nd->missing_parent));
    rc |= set(o, "skew_ns", json_integer(nd->skew_ns));
    rc |= set(o, "critical", json_boolean(nd->critical));
    rc |= set(o, "attributes", jattrs(b, s->attr_first, s->attr_count));

    json_t *ev = json_array();
    rc |= set(o, "events", ev);
    if (ev != NULL && s->event_first <= b->nevents && s->event_count <= b->nevents - s->event_first) {
        for (uint32_t i = 0; i < s->event_count; i++) {
            const slc_event *e = &b->events[s->event_first + i];
            json_t *eo = json_object();
            if (eo == NULL || json_array_append_new(ev, eo) != 0) {
                rc |= SL_ENOMEM;
                break;
            }
            /* events move with their span's display shift */
            rc |= set(eo, "time_us", json_integer((json_int_t)((e->time_ns + (uint64_t)nd->skew_ns) / 1000)));
            rc |= set(eo, "name", jstr(b, e->name));
            rc |= set(eo, "attributes", jattrs(b, e->attr_first, e->attr_count));
        }
    }
    json_t *lk = json_array();
    rc |= set(o, "links", lk);
    if (lk != NULL && s->link_first <= b->nlinks && s->link_count <= b->nlinks - s->link_first) {
        for (uint32_t i = 0; i < s->link_count; i++) {
            const slc_link *l = &b->links[s->link_first + i];
            json_t *lo = json_object();
            if (lo == NULL || json_array_append_new(lk, lo) != 0) {
                rc |= SL_ENOMEM;
                break;
            }
            rc |= set(lo, "trace_id", jhex(l->trace_id, 16, 0));
            rc |= set(lo, "span_id", jhex(l->span_id, 8, 0));
            rc |= set(lo, "attributes", jattrs(b, l->attr_first, l->attr_count));
        }
    }
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *log_json(const slc_batch *b, const slc_log *l)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= set(o, "time_ns", slq_json_ns(l->time_ns));
    rc |= set(o, "time_us", json_integer((json_int_t)(l->time_ns / 1000)));
    rc |= set(o, "severity", json_integer(l->level));
    rc |= set(o, "level", json_string(level_name(l->level)));
    rc |= set(o, "service", jstr(b, l->service));
    rc |= set(o, "body", jstr(b, l->body));
    if (l->flags & SLC_LOG_F_TRACE)
        rc |= set(o, "span_id", jhex(l->span_id, 8, 1));
    else
        rc |= set(o, "span_id", json_string(""));
    rc |= set(o, "attributes", jattrs(b, l->attr_first, l->attr_count));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *summary_json(const slq_trace *t)
{
    const slc_batch *b = t->b;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    if (t->has_root) {
        const slc_span *r = &b->spans[t->root_span];
        rc |= set(o, "root_service", jstr(b, r->service));
        rc |= set(o, "root_name", jstr(b, r->name));
    } else {
        rc |= set(o, "root_service", json_string(""));
        rc |= set(o, "root_name", json_string(""));
    }
    rc |= set(o, "start_ns", slq_json_ns(t->start_ns));
    rc |= set(o, "start_us", json_integer((json_int_t)(t->start_ns / 1000)));
    rc |= set(o, "duration_ns", json_integer((json_int_t)(t->end_ns - t->start_ns)));
    rc |= set(o, "span_count", json_integer(t->span_count));
    json_t *sv = json_array();
    rc |= set(o, "services", sv);
    for (uint32_t i = 0; sv != NULL && i < t->nservices; i++)
        rc |= json_array_append_new(sv, jstr(b, t->services[i])) == 0 ? 0 : SL_ENOMEM;
    rc |= set(o, "error_count", json_integer(t->error_count));
    rc |= set(o, "orphan_count", json_integer(t->orphan_count));
    rc |= set(o, "truncated", json_boolean(t->dropped_spans > 0 || t->nlogs < t->log_count));
    rc |= set(o, "dropped_spans", json_integer(t->dropped_spans));
    rc |= set(o, "log_count", json_integer(t->log_count));
    rc |= set(o, "dropped_logs", json_integer(t->log_count - t->nlogs));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int slq_trace_to_json(const slq_trace *t, json_t **out)
{
    if (t == NULL || out == NULL)
        return SL_EINVAL;
    json_t *o = json_object();
    if (o == NULL)
        return SL_ENOMEM;
    int rc = 0;
    rc |= set(o, "trace_id", jhex(t->trace_id, 16, 0));
    rc |= set(o, "summary", summary_json(t));
    json_t *spans = json_array();
    rc |= set(o, "spans", spans);
    for (uint32_t i = 0; rc == 0 && i < t->nnodes; i++)
        rc |= json_array_append_new(spans, span_json(t, &t->nodes[i])) == 0 ? 0 : SL_ENOMEM;
    json_t *logs = json_array();
    rc |= set(o, "logs", logs);
    for (uint32_t i = 0; rc == 0 && i < t->nlogs; i++)
        rc |= json_array_append_new(logs, log_json(t->b, &t->b->logs[t->logs[i]])) == 0 ? 0 : SL_ENOMEM;
    if (rc != 0) {
        json_decref(o);
        return SL_ENOMEM;
    }
    *out = o;
    return 0;
}

int slq_trace_summary_json(const slq_trace *t, json_t **out)
{
    if (t == NULL || out == NULL)
        return SL_EINVAL;
    json_t *o = summary_json(t);
    if (o == NULL)
        return SL_ENOMEM;
    *out = o;
    return 0;
}

json_t *slq_log_json(const slc_batch *b, const slc_log *l)
{
    json_t *o = log_json(b, l);
    if (o == NULL)
        return NULL;
    json_t *tid = (l->flags & SLC_LOG_F_TRACE) ? jhex(l->trace_id, 16, 1) : json_string("");
    if (set(o, "trace_id", tid) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
