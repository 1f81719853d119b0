/*
 * bench-query - query speed on a large store, through the API handlers.
 *
 * The first run builds a store of --spans spans (default 10M) from the
 * realistic generator (bench/gen.c) under build/bench-store/spans-N/ and
 * keeps it; later runs reuse it and only measure.  The data covers the 24 h
 * before the build: one generator chunk per minute, so every minute has
 * every service and operation (a realistic number of aggregate rows for a
 * 24 h RED query).  Each frame is stamped as received one second after its
 * newest span (the store's clock hook), as from a live SDK, and the store
 * is sealed before it is measured, as a running collector seals frames
 * once they have settled.
 *
 * Measured through col_api_dispatch() plus json_dumps(), i.e. everything an
 * HTTP request costs except the socket:
 *   trace_by_id_p99_ms   GET /api/v1/traces/{id} of 20-span traces, p99
 *   search_p50_ms        GET /api/v1/traces?service=S&min_duration=50ms,
 *                        1 h window, limit 20 (with trace summaries), p50
 *   red_24h_ms           GET /api/v1/red, all services, 24 h, step 1m
 *   logs_by_trace_ms     GET /api/v1/logs?trace_id=X, median
 * Each figure is the median over --runs runs.  spans_in_store is counted
 * from the store's aggregates, not taken from the build.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/api.h"
#include "benchutil.h"
#include "store/blockcache.h"
#include "gen.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"
#include "stats.h"
#include "store/store.h"

#define SEC 1000000000ULL
#define MINUTE (60 * SEC)
#define DAY (24 * 3600 * SEC)
#define CHUNKS 1440
#define MAX_SAMPLES 400
#define META "bench-meta.txt"

typedef struct opts {
    uint64_t spans;
    const char *dir;
    int runs, json, threads, rebuild;
    const char *only; /* NULL = all four measurements */
} opts;

static double now_ms(void)
{
    return bu_now_s() * 1e3;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-query [--spans N] [--dir DIR] [--runs N] [--threads N] [--rebuild] [--json]\n"
               "Measures trace by id, trace search, RED over 24 h and logs of a trace through the\n"
               "collector's API handlers on a store of N spans (default 10000000), built once\n"
               "under DIR/spans-N (default build/bench-store) and reused by later runs.\n\n"
               "  --spans N     spans in the store (at least 100000)\n"
               "  --dir DIR     where stores are kept (default build/bench-store)\n"
               "  --runs N      repetitions; each figure is the median (default 5)\n"
               "  --threads N   writer threads while building (default 4)\n"
               "  --rebuild     build the store again even if it exists\n"
               "  --only WHAT   measure only trace, search, red or logs (for profiling)\n"
               "  --json        one JSON object: trace_by_id_p99_ms, search_p50_ms, red_24h_ms,\n"
               "                logs_by_trace_ms, spans_in_store (and details)\n"
               "  --help        this text\n");
}

/* ---- building --------------------------------------------------------------- */

typedef struct builder {
    col_store *s;
    uint64_t end_ns, per_chunk;
    atomic_int next_chunk;
    atomic_ullong spans, logs, busy;
    pthread_mutex_t mu;
    uint8_t samples[MAX_SAMPLES][16];
    int nsamples;
    int failed;
} builder;

struct tcount {
    uint8_t id[16];
    uint32_t n;
};

/* Remembers the first trace of the chunk that has exactly 20 spans. */
static void note_trace(builder *bd, struct tcount *tab, size_t cap, const slc_batch *b, int *found)
{
    for (uint32_t i = 0; i < b->nspans && !*found; i++) {
        uint64_t h;
        memcpy(&h, b->spans[i].trace_id, 8);
        size_t k = (size_t)(h % cap);
        for (size_t probe = 0; probe < cap; probe++, k = (k + 1) % cap) {
            if (tab[k].n == 0) {
                memcpy(tab[k].id, b->spans[i].trace_id, 16);
                tab[k].n = 1;
                break;
            }
            if (memcmp(tab[k].id, b->spans[i].trace_id, 16) == 0) {
                if (++tab[k].n == 20) {
                    pthread_mutex_lock(&bd->mu);
                    if (bd->nsamples < MAX_SAMPLES)
                        memcpy(bd->samples[bd->nsamples++], tab[k].id, 16);
                    pthread_mutex_unlock(&bd->mu);
                    *found = 1;
                }
                break;
            }
        }
    }
}

/* The ingest time of the frame a build thread is writing: a second after
 * its newest span or record, as if it had just arrived from a live SDK
 * (the store's clock hook; the data covers a day but is written in
 * minutes). */
static _Thread_local uint64_t bq_ingest_ns;

static uint64_t bq_clock(void *arg)
{
    (void)arg;
    return bq_ingest_ns;
}

static void bq_set_ingest(const slc_batch *d)
{
    uint64_t t = 0;
    for (uint32_t i = 0; i < d->nspans; i++)
        t = d->spans[i].end_ns > t ? d->spans[i].end_ns : t;
    for (uint32_t i = 0; i < d->nlogs; i++)
        t = d->logs[i].time_ns > t ? d->logs[i].time_ns : t;
    bq_ingest_ns = t + SEC;
}

static int write_frame(builder *bd, const gen_frame *f, slc_batch **out)
{
    char err[256];
    slc_batch *d = NULL;
    col_batch_key k;
    int rv;

    if (slc_wire_decode(f->bytes, f->len, NULL, &d, err, sizeof err) != 0) {
        fprintf(stderr, "bench-query: generated frame does not decode: %s\n", err);
        return -1;
    }
    k.batch_id = d->batch_id;
    k.crc = (uint32_t)f->len;
    bq_set_ingest(d);
    for (int tries = 0;; tries++) {
        rv = col_store_claim(bd->s, &k);
        if (rv == 0) {
            rv = col_store_write(bd->s, &k, f->bytes, f->len, d, err, sizeof err);
            col_store_release(bd->s, &k);
        }
        if (rv != SL_EBUSY || tries > 100000)
            break;
        atomic_fetch_add(&bd->busy, 1);
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
    if (rv != 0 && rv != 1) {
        fprintf(stderr, "bench-query: store write failed: %s %s\n", sl_strerror(rv), err);
        slc_batch_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

static void *build_thread(void *arg)
{
    builder *bd = arg;
    size_t cap = 8192;
    struct tcount *tab = malloc(cap * sizeof *tab);

    if (tab == NULL) {
        bd->failed = 1;
        return NULL;
    }
    for (;;) {
        int c = atomic_fetch_add(&bd->next_chunk, 1);
        if (c >= CHUNKS || bd->failed)
            break;
        gen_opts go = {0};
        gen_frame *fr = NULL;
        size_t nf = 0;
        int found = 0;
        go.seed = 0x51ed0000ull + (uint64_t)c;
        go.start_ns = bd->end_ns - DAY + (uint64_t)c * MINUTE;
        go.batch_base = 0x5ee1000000000000ull + ((uint64_t)c << 24);
        if (gen_frames(&go, bd->per_chunk, &fr, &nf) != 0) {
            bd->failed = 1;
            break;
        }
        memset(tab, 0, cap * sizeof *tab);
        for (size_t i = 0; i < nf && !bd->failed; i++) {
            slc_batch *d = NULL;
            if (write_frame(bd, &fr[i], &d) != 0) {
                bd->failed = 1;
                break;
            }
            note_trace(bd, tab, cap, d, &found);
            atomic_fetch_add(&bd->spans, fr[i].spans);
            atomic_fetch_add(&bd->logs, fr[i].logs);
            slc_batch_free(d);
        }
        gen_free(fr, nf);
    }
    free(tab);
    return NULL;
}

static int mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* What a kept store must have been built with: 2 = frames stamped with
 * their data's own time (the clock hook), then sealed. */
#define BQ_LAYOUT 2

typedef struct meta {
    uint64_t spans, logs, end_ns, layout;
    double build_s;
    int nsamples;
    uint8_t samples[MAX_SAMPLES][16];
} meta;

static int meta_load(const char *dir, meta *m)
{
    char path[1100], line[128];
    snprintf(path, sizeof path, "%s/" META, dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    memset(m, 0, sizeof *m);
    while (fgets(line, sizeof line, f) != NULL) {
        char hex[40];
        unsigned long long v;
        double d;
        if (sscanf(line, "spans %llu", &v) == 1)
            m->spans = v;
        else if (sscanf(line, "logs %llu", &v) == 1)
            m->logs = v;
        else if (sscanf(line, "end_ns %llu", &v) == 1)
            m->end_ns = v;
        else if (sscanf(line, "layout %llu", &v) == 1)
            m->layout = v;
        else if (sscanf(line, "build_s %lf", &d) == 1)
            m->build_s = d;
        else if (sscanf(line, "trace %32s", hex) == 1 && m->nsamples < MAX_SAMPLES &&
                 slc_hex_decode(hex, 32, m->samples[m->nsamples], 16) == 0)
            m->nsamples++;
    }
    fclose(f);
    /* Stores built by older versions (other layout) are built again. */
    return m->spans && m->end_ns && m->nsamples && m->layout == BQ_LAYOUT ? 0 : -1;
}

static int meta_save(const char *dir, const meta *m)
{
    char path[1100], tmp[1100];
    snprintf(path, sizeof path, "%s/" META, dir);
    snprintf(tmp, sizeof tmp, "%s/" META ".tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "layout %d\nspans %llu\nlogs %llu\nend_ns %llu\nbuild_s %.1f\n", BQ_LAYOUT,
            (unsigned long long)m->spans, (unsigned long long)m->logs,
            (unsigned long long)m->end_ns, m->build_s);
    for (int i = 0; i < m->nsamples; i++) {
        char hex[33];
        slc_hex_encode(m->samples[i], 16, hex);
        fprintf(f, "trace %s\n", hex);
    }
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int build_store(const opts *o, const char *dir, meta *m)
{
    char err[256];
    col_store_opts so = {0};
    builder *bd = calloc(1, sizeof *bd);
    pthread_t th[32];
    int nth = o->threads < 1 ? 1 : o->threads > 32 ? 32 : o->threads;
    double t0 = now_ms();

    if (bd == NULL)
        return -1;
    bu_rmrf(dir);
    if (mkdirs(dir) != 0) {
        fprintf(stderr, "bench-query: cannot create %s: %s\n", dir, strerror(errno));
        free(bd);
        return -1;
    }
    so.write_buffer_mb = 128;
    so.clock = bq_clock;
    if (col_store_open(dir, &so, &bd->s, err, sizeof err) != 0) {
        fprintf(stderr, "bench-query: cannot open store %s: %s\n", dir, err);
        free(bd);
        return -1;
    }
    pthread_mutex_init(&bd->mu, NULL);
    bd->end_ns = slc_now_ns() - MINUTE;
    bd->end_ns -= bd->end_ns % MINUTE;
    bd->per_chunk = (o->spans + CHUNKS - 1) / CHUNKS;
    fprintf(stderr, "bench-query: building a store of %llu spans in %s (%d writer threads)...\n",
            (unsigned long long)o->spans, dir, nth);
    for (int i = 0; i < nth; i++)
        pthread_create(&th[i], NULL, build_thread, bd);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    double t1 = now_ms();
    fprintf(stderr, "bench-query: wrote %llu spans, %llu logs in %.1f s (%llu busy retries); compacting...\n",
            (unsigned long long)atomic_load(&bd->spans), (unsigned long long)atomic_load(&bd->logs),
            (t1 - t0) / 1e3, (unsigned long long)atomic_load(&bd->busy));
    /* A running collector seals frames once they have settled (seal-after,
     * docs/storage.md "Sealed blocks"); the store is measured as it is then. */
    int rv = -1;
    if (!bd->failed) {
        col_seal_opts sealo = {0};
        uint64_t sf = 0, si = 0;
        double ts = now_ms();
        rv = col_store_seal(bd->s, &sealo, UINT64_MAX, &sf, &si) == 0 ? 0 : -1;
        fprintf(stderr, "bench-query: sealed %llu frames (%llu spans and logs) in %.1f s; compacting...\n",
                (unsigned long long)sf, (unsigned long long)si, (now_ms() - ts) / 1e3);
    }
    if (rv == 0)
        rv = col_store_compact(bd->s);
    col_store_close(bd->s);
    if (rv == 0) {
        memset(m, 0, sizeof *m);
        m->spans = atomic_load(&bd->spans);
        m->logs = atomic_load(&bd->logs);
        m->end_ns = bd->end_ns;
        m->build_s = (now_ms() - t0) / 1e3;
        m->nsamples = bd->nsamples;
        memcpy(m->samples, bd->samples, sizeof m->samples);
        rv = meta_save(dir, m);
        fprintf(stderr, "bench-query: store built in %.1f s (compaction %.1f s)\n", m->build_s,
                m->build_s - (t1 - t0) / 1e3);
    }
    pthread_mutex_destroy(&bd->mu);
    free(bd);
    return rv;
}

/* ---- measuring ------------------------------------------------------------------ */

struct args {
    const char *k[8], *v[8];
    int n;
};

static const char *arg_of(void *cx, const char *name)
{
    struct args *a = cx;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->k[i], name) == 0)
            return a->v[i];
    return NULL;
}

/* One API call, serialised as the HTTP layer would; returns ms, or -1 on a
 * non-200 answer (printed). */
static double call(const col_api *api, const char *path, struct args *a, json_t **keep)
{
    col_api_req req = {0};
    col_api_resp resp = {0};
    double t0 = now_ms();

    req.method = "GET";
    req.path = path;
    req.arg = arg_of;
    req.cx = a;
    req.now_ns = slc_now_ns();
    col_api_dispatch(api, &req, &resp);
    /* A ready JSON text (resp.json) is what the HTTP layer sends as is. */
    char *s = resp.json == NULL && resp.body ? json_dumps(resp.body, JSON_COMPACT) : NULL;
    double ms = now_ms() - t0;
    if (resp.status != 200) {
        fprintf(stderr, "bench-query: %s answered %d: %s\n", path, resp.status,
                s ? s : resp.json ? resp.json : "");
        ms = -1;
    }
    free(s);
    if (keep != NULL && ms >= 0 && resp.json != NULL) {
        json_error_t jerr;
        *keep = json_loadb(resp.json, resp.json_len, 0, &jerr);
    } else if (keep != NULL && ms >= 0) {
        *keep = resp.body;
        resp.body = NULL;
    }
    col_api_resp_free(&resp);
    return ms;
}

static double pct(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof *v, bu_cmp_double);
    int k = (int)(q * n + 0.999999) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static int count_row(const col_agg_row *r, void *arg)
{
    (void)r;
    (*(uint64_t *)arg)++;
    return 0;
}

static int sum_spans(const col_service_row *r, void *arg)
{
    *(uint64_t *)arg += r->spans;
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.spans = 10000000, .dir = "build/bench-store", .runs = 5, .threads = 4};
    char dir[1024], ns1[24], ns2[24], ns3[24], path[64];
    meta *m = calloc(1, sizeof *m);
    col_store *s = NULL;
    col_stats *stats = calloc(1, sizeof *stats);
    col_api api = {0};
    int rc = 1;

    if (m == NULL || stats == NULL)
        return 2;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0)
            o.json = 1;
        else if (strcmp(argv[i], "--rebuild") == 0)
            o.rebuild = 1;
        else if (strcmp(argv[i], "--spans") == 0 && i + 1 < argc) {
            o.spans = strtoull(argv[++i], &end, 10);
            if (*end != '\0' || o.spans < 100000 || o.spans > 1000000000ull) {
                fprintf(stderr, "bench-query: --spans must be 100000..1000000000\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            o.dir = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            o.only = argv[++i];
            if (strcmp(o.only, "trace") != 0 && strcmp(o.only, "search") != 0 &&
                strcmp(o.only, "red") != 0 && strcmp(o.only, "logs") != 0) {
                fprintf(stderr, "bench-query: --only must be trace, search, red or logs\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            o.runs = (int)strtol(argv[++i], &end, 10);
            if (*end != '\0' || o.runs < 1 || o.runs > 100) {
                fprintf(stderr, "bench-query: --runs must be 1..100\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            o.threads = (int)strtol(argv[++i], &end, 10);
            if (*end != '\0' || o.threads < 1 || o.threads > 32) {
                fprintf(stderr, "bench-query: --threads must be 1..32\n");
                return 2;
            }
        } else {
            fprintf(stderr, "bench-query: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    snprintf(dir, sizeof dir, "%s/spans-%llu", o.dir, (unsigned long long)o.spans);
    double tb = now_ms();
    int built = 0;
    if (o.rebuild || meta_load(dir, m) != 0) {
        if (build_store(&o, dir, m) != 0) {
            fprintf(stderr, "bench-query: building the store failed\n");
            return 1;
        }
        built = 1;
    }
    double t_open = now_ms();
    char err[256];
    if (col_store_open(dir, NULL, &s, err, sizeof err) != 0) {
        fprintf(stderr, "bench-query: cannot open %s: %s (try --rebuild)\n", dir, err);
        return 1;
    }
    double open_ms = now_ms() - t_open;
    api.store = s;
    api.stats = stats;
    api.trace_max_spans = 10000;
    api.trace_max_blocks = 4096;
    api.list_max_scan = 100000;

    uint64_t in_store = 0;
    col_store_service_counts(s, m->end_ns - DAY - MINUTE, m->end_ns + MINUTE, sum_spans, &in_store);

    static const char *svcs[] = {"frontend", "cart", "checkout", "payment",
                                 "inventory", "shipping", "auth", "recommendation"};
    int nid = m->nsamples < 200 ? m->nsamples : 200;
    double *tbi = calloc((size_t)nid + 1, sizeof(double)), *tlg = calloc((size_t)nid + 1, sizeof(double));
    double r_tbi[100] = {0}, r_search[100] = {0}, r_red[100] = {0}, r_logs[100] = {0};
    double r_search_store[100] = {0}, r_red_store[100] = {0};
    uint64_t red_rows = 0;
    int bad = 0, spans_ok = 0;
    double t_meas = now_ms();

    snprintf(ns1, sizeof ns1, "%llu", (unsigned long long)(m->end_ns - 3600 * SEC));
    snprintf(ns2, sizeof ns2, "%llu", (unsigned long long)m->end_ns);
    snprintf(ns3, sizeof ns3, "%llu", (unsigned long long)(m->end_ns - DAY));
#define WANT(w) (o.only == NULL || strcmp(o.only, w) == 0)
    for (int run = 0; run < o.runs; run++) {
        /* trace by id */
        for (int i = 0; i < nid && WANT("trace"); i++) {
            char hex[33];
            json_t *j = NULL;
            struct args a = {0};
            slc_hex_encode(m->samples[i], 16, hex);
            snprintf(path, sizeof path, "/api/v1/traces/%s", hex);
            col_bcache_clear();
            tbi[i] = call(&api, path, &a, run == 0 ? &j : NULL);
            if (tbi[i] < 0)
                bad++;
            if (j != NULL) {
                spans_ok += json_array_size(json_object_get(j, "spans")) == 20;
                json_decref(j);
            }
        }
        r_tbi[run] = pct(tbi, nid, 0.99);
        /* search: each service, 1 h window, min duration, limit 20 */
        double ts[8], tss[8];
        for (int k = 0; k < 8; k++) {
            if (!WANT("search")) {
                ts[k] = tss[k] = 0;
                continue;
            }
            struct args a = {{"service", "since", "until", "min_duration", "limit"},
                             {svcs[k], ns1, ns2, "50ms", "20"}, 5};
            /* Cold block cache for every measured query: only the sharing
             * inside one request (search, then its trace summaries)
             * counts, not earlier runs of the same query. */
            col_bcache_clear();
            ts[k] = call(&api, "/api/v1/traces", &a, NULL);
            if (ts[k] < 0)
                bad++;
            /* the store's search alone, without trace summaries */
            col_search_q q = {0};
            col_trace_hit hits[20];
            size_t n = 0;
            q.service = svcs[k];
            q.since_ns = m->end_ns - 3600 * SEC;
            q.until_ns = m->end_ns;
            q.min_duration_ns = 50000000;
            q.error = -1;
            q.limit = 20;
            col_bcache_clear();
            double t0 = now_ms();
            if (col_store_search(s, &q, hits, &n, NULL) != 0 || n != 20)
                bad++;
            tss[k] = now_ms() - t0;
        }
        r_search[run] = pct(ts, 8, 0.5);
        r_search_store[run] = pct(tss, 8, 0.5);
        /* RED: all services, 24 h, 1-minute step */
        if (WANT("red")) {
            struct args a = {{"since", "until", "step"}, {ns3, ns2, "1m"}, 3};
            json_t *j = NULL;
            r_red[run] = call(&api, "/api/v1/red", &a, run == 0 ? &j : NULL);
            if (r_red[run] < 0 || (j != NULL && json_array_size(json_object_get(j, "series")) != 8))
                bad++;
            json_decref(j);
            /* the store's part: scanning and merging the aggregate rows */
            double t0 = now_ms();
            red_rows = 0;
            if (col_store_red(s, NULL, NULL, m->end_ns - DAY, m->end_ns, MINUTE, COL_KIND_ENTRY, 1 | COL_RED_SUMMARY, count_row,
                              &red_rows) != 0)
                bad++;
            r_red_store[run] = now_ms() - t0;
        }
        /* logs of one trace */
        for (int i = 0; i < nid && WANT("logs"); i++) {
            char hex[33];
            slc_hex_encode(m->samples[i], 16, hex);
            struct args a = {{"trace_id"}, {hex}, 1};
            col_bcache_clear();
            tlg[i] = call(&api, "/api/v1/logs", &a, NULL);
            if (tlg[i] < 0)
                bad++;
        }
        r_logs[run] = pct(tlg, nid, 0.5);
    }
    double meas_s = (now_ms() - t_meas) / 1e3;
    double total_s = (now_ms() - tb) / 1e3;
    double v_tbi = pct(r_tbi, o.runs, 0.5), v_search = pct(r_search, o.runs, 0.5);
    double v_red = pct(r_red, o.runs, 0.5), v_logs = pct(r_logs, o.runs, 0.5);
    double v_ss = pct(r_search_store, o.runs, 0.5), v_rs = pct(r_red_store, o.runs, 0.5);
    if (o.json) {
        printf("{\"trace_by_id_p99_ms\":%.3f,\"search_p50_ms\":%.3f,\"red_24h_ms\":%.3f,"
               "\"logs_by_trace_ms\":%.3f,\"spans_in_store\":%llu,"
               "\"search_store_only_p50_ms\":%.3f,\"red_store_only_ms\":%.3f,\"red_rows\":%llu,\"runs\":%d,\"traces_sampled\":%d,"
               "\"store_built_now\":%s,\"build_s\":%.1f,\"open_ms\":%.1f,\"measure_s\":%.1f,"
               "\"total_s\":%.1f,\"errors\":%d}\n",
               v_tbi, v_search, v_red, v_logs, (unsigned long long)in_store, v_ss, v_rs, (unsigned long long)red_rows, o.runs, nid,
               built ? "true" : "false", m->build_s, open_ms, meas_s, total_s, bad);
    } else {
        printf("store: %s, %llu spans (%s, built in %.1f s), opened in %.1f ms\n", dir,
               (unsigned long long)in_store, built ? "built now" : "reused", m->build_s, open_ms);
        printf("trace by id (20 spans), p99     %8.3f ms   (target <= 5)\n", v_tbi);
        printf("search service+1h+min dur, p50  %8.3f ms   (target <= 50; store alone %.3f ms)\n", v_search,
               v_ss);
        printf("RED all services 24h @1m        %8.3f ms   (target <= 20; store alone %.3f ms, %llu rows)\n",
               v_red, v_rs, (unsigned long long)red_rows);
        printf("logs of one trace, median       %8.3f ms   (target <= 5)\n", v_logs);
        printf("medians of %d runs; measuring took %.1f s, the whole run %.1f s\n", o.runs, meas_s, total_s);
    }
    if (bad)
        fprintf(stderr, "bench-query: %d queries failed or returned less than expected\n", bad);
    if (WANT("trace") && spans_ok < nid)
        fprintf(stderr, "bench-query: %d of %d sampled traces had 20 spans\n", spans_ok, nid);
    rc = bad ? 1 : 0;
    free(tbi);
    free(tlg);
    col_store_close(s);
    free(stats);
    free(m);
    return rc;
}
