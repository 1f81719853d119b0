/*
 * metrics_red.c - RED counters per service and operation for /metrics
 * (see metrics_red.h for why they are built this way).
 *
 * Per series (service, operation) four accumulators of the same shape:
 * closed (minutes read once and kept), open (the window, re-read at each
 * refresh), base (the window at the first refresh: subtracted, so counting
 * starts at 0) and pending (closing minutes, committed only when their
 * scan succeeds, so a failed scan never counts anything twice).  Latencies
 * are kept in the fixed le slots of the exposition, not as full histograms:
 * 17 counters per series instead of 3,712.
 */
#include "metrics_red.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/rollup.h"
#include "sightline.h"
#include "common/slc_util.h"

#define COL_REDM_CACHE_NS (10ULL * 1000000000ULL)
#define COL_REDM_WINDOW_NS (15ULL * COL_MINUTE_NS)
#define COL_REDM_MAX_SERIES 500u
#define COL_REDM_SERIES_CAP 100000u       /* largest max_series accepted */
#define COL_REDM_TEXT_MAX ((size_t)256 << 20) /* hard cap of the rendered text */
#define COL_REDM_SHARED_MAX 8

/* The le bounds of sightline_request_duration_seconds: from 0.5 ms (a fast
 * in-memory RPC) to 60 s (a slow batch call), roughly 1-2.5-5 per decade,
 * like Prometheus' own defaults extended at both ends.  Text and ns kept
 * side by side so the exposition prints exactly these strings. */
static const char *const col_redm_le_txt[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                              "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                              "1",      "2.5",   "5",      "10",    "30",
                                              "60"};
static const uint64_t col_redm_le_ns[] = {
    500000ULL,      1000000ULL,     2500000ULL,     5000000ULL,      10000000ULL,
    25000000ULL,    50000000ULL,    100000000ULL,   250000000ULL,    500000000ULL,
    1000000000ULL,  2500000000ULL,  5000000000ULL,  10000000000ULL,  30000000000ULL,
    60000000000ULL};
#define COL_REDM_NFIN (sizeof col_redm_le_ns / sizeof col_redm_le_ns[0])
#define COL_REDM_NLE (COL_REDM_NFIN + 1) /* + "+Inf" */

/* Histogram bucket index -> le slot.  A bucket goes to the first bound at
 * or above its midpoint: the same point slc_hist_quantile() reports, so a
 * bucket count is off by at most the observations within half a bucket
 * width (< 0.8%) of the bound. */
static uint8_t col_redm_slot[SLC_HIST_BUCKETS];
static pthread_once_t col_redm_slot_once = PTHREAD_ONCE_INIT;

static void col_redm_slot_init(void)
{
    for (uint32_t i = 0; i < SLC_HIST_BUCKETS; i++) {
        uint64_t lo, hi, mid;
        uint8_t s = (uint8_t)COL_REDM_NFIN;

        slc_hist_bounds(i, &lo, &hi);
        mid = lo + (hi - lo) / 2;
        for (uint8_t j = 0; j < COL_REDM_NFIN; j++)
            if (mid <= col_redm_le_ns[j]) {
                s = j;
                break;
            }
        col_redm_slot[i] = s;
    }
}

typedef struct col_redm_val {
    uint64_t count, errors, sum_ns;
    uint64_t le[COL_REDM_NLE]; /* per slot (not cumulative) */
} col_redm_val;

/* What is exported: cumulative buckets, never decreasing. */
typedef struct col_redm_out {
    uint64_t count, errors, sum_ns;
    uint64_t cum[COL_REDM_NLE];
} col_redm_out;

enum col_redm_acc { COL_ACC_PENDING = 0, COL_ACC_OPEN, COL_ACC_BASE };

typedef struct col_redm_series {
    char *svc, *op; /* NUL-terminated copies */
    size_t svc_len, op_len;
    uint64_t hash;
    col_redm_val closed, acc[3];
    col_redm_out out;
} col_redm_series;

struct col_redm {
    col_store *store;
    col_redm_opts o;
    pthread_mutex_t mu;
    /* series and their hash index (open addressing, slots hold index + 1) */
    col_redm_series *s;
    size_t n;
    uint32_t *slots;
    size_t nslots;
    int started;
    uint64_t closed_until; /* minutes before this are in closed */
    uint64_t dropped;      /* aggregate rows of groups beyond max_series */
    uint64_t refresh_errors;
    double refresh_s;      /* duration of the last refresh */
    /* cache */
    char *text;
    size_t text_len;
    uint64_t text_at;
    int have_text;
};

static uint64_t col_redm_hash(const char *a, size_t alen, const char *b, size_t blen)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, with a separator between the names */

    for (size_t i = 0; i < alen; i++)
        h = (h ^ (uint8_t)a[i]) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (size_t i = 0; i < blen; i++)
        h = (h ^ (uint8_t)b[i]) * 1099511628211ULL;
    return h;
}

int col_redm_new(col_store *store, const col_redm_opts *o, col_redm **out)
{
    col_redm *m;
    size_t ns = 16;

    if (store == NULL)
        return SL_EINVAL;
    pthread_once(&col_redm_slot_once, col_redm_slot_init);
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return SL_ENOMEM;
    m->store = store;
    if (o != NULL)
        m->o = *o;
    if (m->o.cache_ns == 0)
        m->o.cache_ns = COL_REDM_CACHE_NS;
    if (m->o.window_ns == 0)
        m->o.window_ns = COL_REDM_WINDOW_NS;
    if (m->o.max_series == 0)
        m->o.max_series = COL_REDM_MAX_SERIES;
    if (m->o.max_series > COL_REDM_SERIES_CAP)
        m->o.max_series = COL_REDM_SERIES_CAP;
    while (ns < (size_t)m->o.max_series * 2)
        ns *= 2;
    m->nslots = ns;
    m->slots = calloc(ns, sizeof *m->slots);
    m->s = calloc(m->o.max_series, sizeof *m->s);
    if (m->slots == NULL || m->s == NULL || pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m->slots);
        free(m->s);
        free(m);
        return SL_ENOMEM;
    }
    *out = m;
    return 0;
}

void col_redm_free(col_redm *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].svc);
        free(m->s[i].op);
    }
    free(m->s);
    free(m->slots);
    free(m->text);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The series of (a, b), created if there is room; NULL when the table is
 * full or out of memory. */
static col_redm_series *col_redm_get(col_redm *m, const char *a, size_t alen, const char *b,
                                     size_t blen)
{
    uint64_t h = col_redm_hash(a, alen, b, blen);
    size_t mask = m->nslots - 1, i = (size_t)h & mask;
    col_redm_series *s;

    /* the table is at most half full, so the probe ends at an empty slot */
    for (; m->slots[i] != 0; i = (i + 1) & mask) {
        s = &m->s[m->slots[i] - 1];
        if (s->hash == h && s->svc_len == alen && s->op_len == blen &&
            memcmp(s->svc, a, alen) == 0 && memcmp(s->op, b, blen) == 0)
            return s;
    }
    if (m->n == m->o.max_series)
        return NULL;
    s = &m->s[m->n];
    memset(s, 0, sizeof *s);
    s->svc = malloc(alen + 1);
    s->op = malloc(blen + 1);
    if (s->svc == NULL || s->op == NULL) {
        free(s->svc);
        free(s->op);
        return NULL;
    }
    memcpy(s->svc, a, alen);
    s->svc[alen] = '\0';
    memcpy(s->op, b, blen);
    s->op[blen] = '\0';
    s->svc_len = alen;
    s->op_len = blen;
    s->hash = h;
    m->slots[i] = (uint32_t)++m->n;
    return s;
}

static uint64_t col_redm_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

struct col_redm_scan {
    col_redm *m;
    enum col_redm_acc which;
    uint64_t dropped;
};

static int col_redm_row(const col_agg_row *r, void *arg)
{
    struct col_redm_scan *sc = arg;
    col_redm_series *s =
        col_redm_get(sc->m, r->service, r->service_len, r->operation, r->operation_len);
    col_redm_val *v;

    if (s == NULL) {
        sc->dropped++;
        return 0;
    }
    v = &s->acc[sc->which];
    v->count = col_redm_sat(v->count, r->count);
    v->errors = col_redm_sat(v->errors, r->errors);
    if (r->hist != NULL) {
        v->sum_ns = col_redm_sat(v->sum_ns, r->hist->sum);
        for (uint32_t i = 0; i < SLC_HIST_BUCKETS; i++)
            if (r->hist->b[i] != 0)
                v->le[col_redm_slot[i]] = col_redm_sat(v->le[col_redm_slot[i]], r->hist->b[i]);
    }
    return 0;
}

/* Reads the RED rows of entry spans in [since, until] into accumulator
 * which (reset first).  The store answers at most 1024 groups per bucket,
 * so a range with more (service, operation) pairs is read again in
 * smaller buckets: the whole range, then hours, then minutes. */
static int col_redm_scan(col_redm *m, enum col_redm_acc which, uint64_t since, uint64_t until)
{
    static const uint64_t steps[] = {0, 60 * COL_MINUTE_NS, COL_MINUTE_NS};
    int rv = SL_EINVAL;

    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        struct col_redm_scan sc = {m, which, 0};

        for (size_t i = 0; i < m->n; i++)
            memset(&m->s[i].acc[which], 0, sizeof m->s[i].acc[which]);
        rv = col_store_red(m->store, NULL, NULL, since, until, steps[k], COL_KIND_ENTRY, 0,
                           col_redm_row, &sc);
        if (rv == 0)
            m->dropped = col_redm_sat(m->dropped, sc.dropped);
        if (rv != SL_ETOOBIG)
            break;
    }
    return rv;
}

static uint64_t col_redm_floor(uint64_t t)
{
    return t - t % COL_MINUTE_NS;
}

/* Brings every series' out up to date at now.  Returns 0 or the first
 * store error (values then stay as they were where they could not be
 * read). */
static int col_redm_refresh(col_redm *m, uint64_t now)
{
    uint64_t horizon = now > m->o.window_ns ? col_redm_floor(now - m->o.window_ns) : 0;
    int rv;

    if (!m->started) {
        m->closed_until = horizon;
        rv = col_redm_scan(m, COL_ACC_BASE, horizon, UINT64_MAX);
        if (rv != 0)
            return rv;
        m->started = 1;
    }
    if (horizon > m->closed_until) {
        rv = col_redm_scan(m, COL_ACC_PENDING, m->closed_until, horizon - 1);
        if (rv == 0 || rv == SL_ETOOBIG) {
            /* Even minute by minute too many groups: those minutes are
             * skipped (and reported) rather than blocking every later one. */
            for (size_t i = 0; i < m->n && rv == 0; i++) {
                col_redm_val *c = &m->s[i].closed;
                const col_redm_val *p = &m->s[i].acc[COL_ACC_PENDING];
                c->count = col_redm_sat(c->count, p->count);
                c->errors = col_redm_sat(c->errors, p->errors);
                c->sum_ns = col_redm_sat(c->sum_ns, p->sum_ns);
                for (size_t j = 0; j < COL_REDM_NLE; j++)
                    c->le[j] = col_redm_sat(c->le[j], p->le[j]);
            }
            m->closed_until = horizon;
        }
        if (rv != 0)
            return rv;
    }
    rv = col_redm_scan(m, COL_ACC_OPEN, m->closed_until, UINT64_MAX);
    if (rv != 0)
        return rv;
    for (size_t i = 0; i < m->n; i++) {
        col_redm_series *s = &m->s[i];
        const col_redm_val *o = &s->acc[COL_ACC_OPEN], *b = &s->acc[COL_ACC_BASE];
        uint64_t v, cum = 0;

#define COL_REDM_NET(f) \
    (v = col_redm_sat(s->closed.f, o->f), v > b->f ? v - b->f : 0)
        v = COL_REDM_NET(count);
        if (v > s->out.count)
            s->out.count = v;
        v = COL_REDM_NET(errors);
        if (v > s->out.errors)
            s->out.errors = v;
        v = COL_REDM_NET(sum_ns);
        if (v > s->out.sum_ns)
            s->out.sum_ns = v;
        for (size_t j = 0; j < COL_REDM_NLE; j++) {
            cum = col_redm_sat(cum, COL_REDM_NET(le[j]));
            if (cum > s->out.cum[j])
                s->out.cum[j] = cum;
        }
#undef COL_REDM_NET
    }
    return 0;
}

/* ---- exposition ------------------------------------------------------------ */

struct col_redm_buf {
    char *p;
    size_t n, cap;
    int failed;
};

static void col_redm_printf(struct col_redm_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void col_redm_printf(struct col_redm_buf *b, const char *fmt, ...)
{
    va_list ap;
    int k;

    for (int tries = 0; !b->failed && tries < 2; tries++) {
        va_start(ap, fmt);
        k = vsnprintf(b->p != NULL ? b->p + b->n : NULL, b->p != NULL ? b->cap - b->n : 0, fmt,
                      ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if (b->p != NULL && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        {
            size_t ncap = b->cap ? b->cap : 16384;
            char *np;
            while (ncap - b->n <= (size_t)k && ncap <= COL_REDM_TEXT_MAX)
                ncap *= 2;
            if (ncap > COL_REDM_TEXT_MAX || (np = realloc(b->p, ncap)) == NULL) {
                b->failed = 1;
                return;
            }
            b->p = np;
            b->cap = ncap;
        }
    }
}

/* Label values escaped as the text format requires: \\, \" and \n. */
static void col_redm_label(struct col_redm_buf *b, const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '\\' && s[j] != '"' && s[j] != '\n')
            j++;
        if (j > i)
            col_redm_printf(b, "%.*s", (int)(j - i), s + i);
        if (j < len)
            col_redm_printf(b, "%s", s[j] == '\\' ? "\\\\" : s[j] == '"' ? "\\\"" : "\\n");
        i = j + 1;
    }
}

static void col_redm_labels(struct col_redm_buf *b, const col_redm_series *s)
{
    col_redm_printf(b, "service=\"");
    col_redm_label(b, s->svc, s->svc_len);
    col_redm_printf(b, "\",operation=\"");
    col_redm_label(b, s->op, s->op_len);
    col_redm_printf(b, "\"");
}

static int col_redm_cmp(const void *x, const void *y)
{
    const col_redm_series *a = *(col_redm_series *const *)x;
    const col_redm_series *b = *(col_redm_series *const *)y;
    int c = strcmp(a->svc, b->svc);
    return c != 0 ? c : strcmp(a->op, b->op);
}

static int col_redm_text(col_redm *m, struct col_redm_buf *b)
{
    col_redm_series **ord = malloc((m->n + 1) * sizeof *ord);

    if (ord == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        ord[i] = &m->s[i];
    qsort(ord, m->n, sizeof *ord, col_redm_cmp);

    col_redm_printf(b, "# HELP sightline_requests_total Requests handled (SERVER and CONSUMER "
                       "spans) by service and operation since the collector started.\n"
                       "# TYPE sightline_requests_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        col_redm_printf(b, "sightline_requests_total{");
        col_redm_labels(b, ord[i]);
        col_redm_printf(b, "} %llu\n", (unsigned long long)ord[i]->out.count);
    }
    col_redm_printf(b, "# HELP sightline_request_errors_total Requests with status ERROR "
                       "by service and operation since the collector started.\n"
                       "# TYPE sightline_request_errors_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        col_redm_printf(b, "sightline_request_errors_total{");
        col_redm_labels(b, ord[i]);
        col_redm_printf(b, "} %llu\n", (unsigned long long)ord[i]->out.errors);
    }
    col_redm_printf(b, "# HELP sightline_request_duration_seconds Request (span) duration by "
                       "service and operation.\n"
                       "# TYPE sightline_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const col_redm_out *o = &ord[i]->out;
        for (size_t j = 0; j < COL_REDM_NLE; j++) {
            col_redm_printf(b, "sightline_request_duration_seconds_bucket{");
            col_redm_labels(b, ord[i]);
            col_redm_printf(b, ",le=\"%s\"} %llu\n",
                            j < COL_REDM_NFIN ? col_redm_le_txt[j] : "+Inf",
                            (unsigned long long)o->cum[j]);
        }
        col_redm_printf(b, "sightline_request_duration_seconds_sum{");
        col_redm_labels(b, ord[i]);
        col_redm_printf(b, "} %llu.%09llu\n", (unsigned long long)(o->sum_ns / 1000000000ULL),
                        (unsigned long long)(o->sum_ns % 1000000000ULL));
        col_redm_printf(b, "sightline_request_duration_seconds_count{");
        col_redm_labels(b, ord[i]);
        col_redm_printf(b, "} %llu\n", (unsigned long long)o->cum[COL_REDM_NLE - 1]);
    }
    free(ord);
    col_redm_printf(b,
                    "# HELP sightline_red_series (service, operation) pairs in the RED metrics.\n"
                    "# TYPE sightline_red_series gauge\nsightline_red_series %zu\n"
                    "# HELP sightline_red_series_limit Most (service, operation) pairs exported.\n"
                    "# TYPE sightline_red_series_limit gauge\nsightline_red_series_limit %u\n"
                    "# HELP sightline_red_groups_dropped_total Aggregate rows left out of the RED "
                    "metrics because the series limit was reached.\n"
                    "# TYPE sightline_red_groups_dropped_total counter\n"
                    "sightline_red_groups_dropped_total %llu\n"
                    "# HELP sightline_red_refresh_errors_total RED refreshes that could not read "
                    "the aggregates (values kept).\n"
                    "# TYPE sightline_red_refresh_errors_total counter\n"
                    "sightline_red_refresh_errors_total %llu\n"
                    "# HELP sightline_red_refresh_seconds Duration of the last RED refresh.\n"
                    "# TYPE sightline_red_refresh_seconds gauge\n"
                    "sightline_red_refresh_seconds %.6f\n",
                    m->n, m->o.max_series, (unsigned long long)m->dropped,
                    (unsigned long long)m->refresh_errors, m->refresh_s);
    return b->failed ? SL_ENOMEM : 0;
}

int col_redm_render(col_redm *m, uint64_t now_ns, char **text, size_t *len)
{
    char *copy;
    int rv = 0;

    if (m == NULL)
        return SL_ENOMEM;
    pthread_mutex_lock(&m->mu);
    /* now_ns going backwards (a clock step) also refreshes */
    if (!m->have_text || now_ns < m->text_at || now_ns - m->text_at >= m->o.cache_ns) {
        struct col_redm_buf b = {0};
        uint64_t t0 = slc_now_ns();
        int err = col_redm_refresh(m, now_ns);

        if (err != 0) {
            m->refresh_errors++;
            col_log(COL_LOG_WARN, "/metrics: reading the RED aggregates failed: %s",
                    sl_strerror(err));
        }
        m->refresh_s = (double)(slc_now_ns() - t0) / 1e9;
        rv = col_redm_text(m, &b);
        if (rv == 0) {
            free(m->text);
            m->text = b.p;
            m->text_len = b.n;
            m->text_at = now_ns;
            m->have_text = 1;
        } else {
            free(b.p);
        }
    }
    if (rv == 0) {
        copy = malloc(m->text_len + 1);
        if (copy == NULL) {
            rv = SL_ENOMEM;
        } else {
            memcpy(copy, m->text, m->text_len);
            copy[m->text_len] = '\0';
            *text = copy;
            *len = m->text_len;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rv;
}

/* ---- the per-collector instance ------------------------------------------- */

struct col_redm_shared_ent {
    col_store *store;
    const col_stats *stats;
    uint64_t started_ns;
    col_redm *m;
};

static pthread_mutex_t col_redm_shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct col_redm_shared_ent col_redm_shared_tab[COL_REDM_SHARED_MAX];
static size_t col_redm_shared_n;

col_redm *col_redm_shared(col_store *store, const col_stats *stats)
{
    col_redm *m = NULL;
    uint64_t started = stats != NULL ? stats->started_ns : 0;

    pthread_mutex_lock(&col_redm_shared_mu);
    for (size_t i = 0; i < col_redm_shared_n; i++) {
        const struct col_redm_shared_ent *e = &col_redm_shared_tab[i];
        if (e->store == store && e->stats == stats && e->started_ns == started) {
            m = e->m;
            goto out;
        }
    }
    if (col_redm_new(store, NULL, &m) != 0) {
        m = NULL;
        goto out;
    }
    if (col_redm_shared_n == COL_REDM_SHARED_MAX) {
        col_redm_free(col_redm_shared_tab[0].m);
        memmove(col_redm_shared_tab, col_redm_shared_tab + 1,
                (COL_REDM_SHARED_MAX - 1) * sizeof col_redm_shared_tab[0]);
        col_redm_shared_n--;
    }
    col_redm_shared_tab[col_redm_shared_n++] =
        (struct col_redm_shared_ent){store, stats, started, m};
out:
    pthread_mutex_unlock(&col_redm_shared_mu);
    return m;
}
