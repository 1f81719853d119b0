/*
 * bench-sdk - the cost of the C SDK's hot path, and the throughput its
 * exporter sustains, with the exporter running against a live collector.
 *
 * Unless --endpoint names one, it starts build/bin/sightline-collector (the
 * binary next to this one) on a free tcp port with a temporary data
 * directory, exactly as a user's program would talk to it.  Each run
 * measures, as the median of many short batches:
 *
 *   span_ns            sampled root span: start + 3 attributes + end; the
 *                      attributes are a literal string, an int and a string
 *                      built at run time (copied by the SDK, as user data is)
 *   unsampled_span_ns  span start + end under an unsampled parent
 *   log_ns             sl_log_attrs() with 2 attributes and a constant message
 *   log_fmt_ns         the same with a printf-formatted message ("%d")
 *   baseline_ns        two clock_gettime(CLOCK_REALTIME) calls: the floor a
 *                      span that reads the clock itself would pay
 *
 * Batches are paced (short bursts, then a pause) so the exporter drains the
 * queue between them: the latency phase measures recording, not dropping,
 * and reports the drops it saw (expected 0).
 *
 * Then 2 threads offer --rate spans/s in total (default 1,000,000) for
 * --seconds (default 10), paced per millisecond; after a flush the spans the
 * collector acknowledged divided by the window give spans_per_s_sustained,
 * and every span not acknowledged is counted in dropped (by reason).
 *
 * Reported values are medians over --runs runs (default 3).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "sightline.h"

typedef struct opts {
    int json, runs, seconds, compression;
    double rate;
    const char *endpoint;
    const char *collector;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench-sdk [options]\n"
            "Measures the Sightline C SDK with its exporter sending to a live collector.\n\n"
            "  --json           print exactly one JSON object on stdout\n"
            "  --seconds N      length of the throughput phase (default 10)\n"
            "  --rate N         spans/s offered in total by the 2 threads (default 1000000)\n"
            "  --runs N         repetitions of the latency phases; medians reported (default 3)\n"
            "  --endpoint URL   use a running collector (nng URL, e.g. tcp://127.0.0.1:4318)\n"
            "                   instead of starting one\n"
            "  --collector PATH collector binary to start (default: next to this binary)\n"
            "  --compression N  sl_config.compression: 0 auto (default; none on loopback),\n"
            "                   -1 never, 1..9 zlib level\n"
            "  --help           this text\n\n"
            "Environment: SIGHTLINE_BENCH_COLLECTOR_LOG=FILE appends the collectors' logs to FILE\n"
            "(otherwise discarded).\n");
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- latency phases ------------------------------------------------------ */

#define BATCH 200    /* operations per timed batch                      */
#define NBATCH 500   /* batches per run                                  */
#define PAUSE_US 2000 /* between batches: ~100k items/s, a busy service */

static const char *routes[4] = {"/cart", "/checkout", "/product/{id}", "/search"};

static double time_spans(double *per)
{
    char uid[32];
    for (int b = 0; b < NBATCH; b++) {
        snprintf(uid, sizeof uid, "user-%08d", b);
        uint64_t t0 = mono_ns();
        for (int i = 0; i < BATCH; i++) {
            sl_span *s = sl_span_start("GET /cart", SL_KIND_SERVER);
            sl_span_set_str(s, "http.route", routes[i & 3]);
            sl_span_set_int(s, "http.response.status_code", 200);
            sl_span_set_str(s, "user.id", uid);
            sl_span_end(s);
        }
        per[b] = (double)(mono_ns() - t0) / BATCH;
        sleep_us(PAUSE_US);
    }
    return bu_median(per, NBATCH);
}

static double time_unsampled(double *per)
{
    /* A request arrived with traceparent flags 00: with parent-based
     * sampling (the default) every span under it is unsampled. */
    sl_context parent;
    if (sl_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                             &parent) != SL_OK)
        return -1;
    sl_span *root = sl_span_start_remote("GET /cart", SL_KIND_SERVER, &parent);
    sl_span *prev = sl_scope_enter(root);
    for (int b = 0; b < NBATCH; b++) {
        uint64_t t0 = mono_ns();
        for (int i = 0; i < BATCH; i++) {
            sl_span *s = sl_span_start("db.query", SL_KIND_CLIENT);
            sl_span_end(s);
        }
        per[b] = (double)(mono_ns() - t0) / BATCH;
    }
    sl_scope_exit(prev);
    sl_span_end(root);
    return bu_median(per, NBATCH);
}

static double time_logs(double *per, int formatted)
{
    for (int b = 0; b < NBATCH; b++) {
        uint64_t t0 = mono_ns();
        for (int i = 0; i < BATCH; i++) {
            sl_attr a[2] = {SL_ATTR_S("order.id", "A-1027"), SL_ATTR_I("items", i)};
            if (formatted)
                sl_log_attrs(SL_LEVEL_INFO, a, 2, "payment authorized in %d ms", i);
            else
                sl_log_attrs(SL_LEVEL_INFO, a, 2, "payment authorized");
        }
        per[b] = (double)(mono_ns() - t0) / BATCH;
        sleep_us(PAUSE_US);
    }
    return bu_median(per, NBATCH);
}

static double time_baseline(double *per)
{
    for (int b = 0; b < NBATCH; b++) {
        uint64_t t0 = mono_ns();
        for (int i = 0; i < BATCH; i++) {
            struct timespec a, z;
            clock_gettime(CLOCK_REALTIME, &a);
            clock_gettime(CLOCK_REALTIME, &z);
            __asm__ volatile("" : : "r"(&a), "r"(&z) : "memory");
        }
        per[b] = (double)(mono_ns() - t0) / BATCH;
    }
    return bu_median(per, NBATCH);
}

/* ---- throughput phase ---------------------------------------------------- */

#define TRACE_SPANS 10

typedef struct producer {
    double rate; /* spans/s for this thread */
    double seconds;
    uint64_t offered;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    uint64_t t0 = mono_ns(), end = t0 + (uint64_t)(p->seconds * 1e9), n = 0;
    char uid[32];
    for (;;) {
        uint64_t now = mono_ns();
        if (now >= end)
            break;
        uint64_t due = (uint64_t)((double)(now - t0) * p->rate / 1e9);
        if (n >= due) {
            sleep_us(200);
            continue;
        }
        /* Catch up at most 10 ms worth at once: a descheduled producer does
         * not turn into an unpaced burst. */
        uint64_t cap = (uint64_t)(p->rate / 100) + 1;
        if (due - n > cap)
            n = due - cap;
        /* Traces of TRACE_SPANS spans: a server span and its children,
         * the shape real services produce (a collector indexes per trace). */
        while (n < due) {
            snprintf(uid, sizeof uid, "user-%08llu", (unsigned long long)(n & 0xffff));
            sl_span *root = sl_span_start("GET /cart", SL_KIND_SERVER);
            sl_span *prev = sl_scope_enter(root);
            sl_span_set_str(root, "http.route", routes[n & 3]);
            sl_span_set_int(root, "http.response.status_code", 200);
            sl_span_set_str(root, "user.id", uid);
            for (int k = 1; k < TRACE_SPANS; k++) {
                sl_span *s = sl_span_start("db.query", SL_KIND_CLIENT);
                sl_span_set_str(s, "db.system", "postgresql");
                sl_span_set_int(s, "db.rows", k);
                sl_span_set_str(s, "db.table", routes[k & 3]);
                sl_span_end(s);
            }
            sl_scope_exit(prev);
            sl_span_end(root);
            n += TRACE_SPANS;
            p->offered += TRACE_SPANS;
        }
    }
    return NULL;
}

typedef struct tput {
    double per_s, offered_per_s, seconds;
    uint64_t offered, exported, dropped, dropped_queue, dropped_budget, dropped_other;
} tput;

static int throughput(const opts *o, tput *out)
{
    sl_stats s0, s1;
    sl_stats_get(&s0);
    producer p[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        p[i] = (producer){.rate = o->rate / 2, .seconds = o->seconds};
        if (pthread_create(&th[i], NULL, produce, &p[i]) != 0)
            return -1;
    }
    uint64_t t0 = mono_ns();
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double dt = (double)(mono_ns() - t0) / 1e9;
    /* What the exporter could not keep up with is in its queues now; give
     * it a bounded moment, then count whatever is left as not sustained. */
    (void)sl_flush(5000);
    sl_stats_get(&s1);
    memset(out, 0, sizeof *out);
    out->seconds = dt;
    out->offered = p[0].offered + p[1].offered;
    out->exported = s1.spans_exported - s0.spans_exported;
    out->dropped = s1.spans_dropped - s0.spans_dropped;
    out->dropped_queue = s1.spans_dropped_by[SL_DROP_QUEUE] - s0.spans_dropped_by[SL_DROP_QUEUE];
    out->dropped_budget =
        s1.spans_dropped_by[SL_DROP_BUDGET] - s0.spans_dropped_by[SL_DROP_BUDGET];
    out->dropped_other = out->dropped - out->dropped_queue - out->dropped_budget;
    out->per_s = (double)out->exported / dt;
    out->offered_per_s = (double)out->offered / dt;
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.runs = 3, .seconds = 10, .rate = 1e6};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o.json = 1;
        } else if (v && !strcmp(a, "--seconds") && !parse_int(v, 1, 3600, &n)) {
            o.seconds = (int)n, i++;
        } else if (v && !strcmp(a, "--runs") && !parse_int(v, 1, 50, &n)) {
            o.runs = (int)n, i++;
        } else if (v && !strcmp(a, "--rate") && !parse_int(v, 1000, 100000000, &n)) {
            o.rate = (double)n, i++;
        } else if (v && !strcmp(a, "--compression") && !parse_int(v, -1, 9, &n)) {
            o.compression = (int)n, i++;
        } else if (v && !strcmp(a, "--endpoint")) {
            o.endpoint = v, i++;
        } else if (v && !strcmp(a, "--collector")) {
            o.collector = v, i++;
        } else {
            fprintf(stderr, "bench-sdk: unknown option or bad value '%s' (see --help)\n", a);
            return 2;
        }
    }

    char url[128], root[] = "/tmp/sl-bench-sdk.XXXXXX";
    pid_t pid = -1;
    int port = -1;
    if (o.endpoint == NULL) {
        if (o.collector == NULL && (o.collector = bu_collector_next_to_self()) == NULL)
            return 2;
        if (access(o.collector, X_OK) != 0) {
            fprintf(stderr,
                    "bench-sdk: cannot run %s: build it with `make build/bin/sightline-collector`"
                    " or pass --endpoint URL\n",
                    o.collector);
            return 2;
        }
        if (mkdtemp(root) == NULL || (port = bu_free_port()) < 0) {
            fprintf(stderr, "bench-sdk: cannot create a temp dir or find a free port\n");
            return 1;
        }
        snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
        char dir[300];
        snprintf(dir, sizeof dir, "%s/data", root);
        pid = bu_start_collector(o.collector, dir, url, "127.0.0.1:0", 0);
        if (pid < 0 || bu_wait_ready(pid, NULL, port) != 0) {
            fprintf(stderr, "bench-sdk: the collector %s did not start listening on %s\n",
                    o.collector, url);
            if (pid > 0)
                bu_stop_collector(pid);
            return 1;
        }
        o.endpoint = url;
    }

    sl_config c;
    sl_config_default(&c);
    c.endpoint = o.endpoint;
    c.service_name = "bench-sdk";
    c.min_level = SL_LEVEL_INFO;
    c.compression = o.compression;
    int rc = sl_init(&c);
    if (rc != SL_OK) {
        sl_stats st;
        sl_stats_get(&st);
        fprintf(stderr, "bench-sdk: sl_init: %s (%s)\n", sl_strerror(rc), st.last_error_msg);
        if (pid > 0)
            bu_stop_collector(pid);
        return 1;
    }

    static double per[NBATCH];
    double span[50], uns[50], lg[50], lgf[50], base[50];
    sl_stats s0, s1;
    sl_stats_get(&s0);
    for (int r = 0; r < o.runs; r++) {
        base[r] = time_baseline(per);
        span[r] = time_spans(per);
        uns[r] = time_unsampled(per);
        lg[r] = time_logs(per, 0);
        lgf[r] = time_logs(per, 1);
        fprintf(stderr,
                "run %d: span %.1f ns, unsampled %.1f ns, log %.1f ns, formatted log %.1f ns, "
                "2x clock_gettime %.1f ns\n",
                r + 1, span[r], uns[r], lg[r], lgf[r], base[r]);
    }
    (void)sl_flush(5000);
    sl_stats_get(&s1);
    uint64_t lat_dropped = (s1.spans_dropped - s0.spans_dropped) + (s1.logs_dropped - s0.logs_dropped);

    tput tp;
    if (throughput(&o, &tp) != 0) {
        fprintf(stderr, "bench-sdk: cannot start producer threads\n");
        return 1;
    }
    fprintf(stderr,
            "throughput: offered %.0f spans/s (%llu) for %.1f s, collector acknowledged %.0f "
            "spans/s, dropped %llu (queue %llu, budget %llu, other %llu)\n",
            tp.offered_per_s, (unsigned long long)tp.offered, tp.seconds, tp.per_s,
            (unsigned long long)tp.dropped, (unsigned long long)tp.dropped_queue,
            (unsigned long long)tp.dropped_budget, (unsigned long long)tp.dropped_other);

    sl_stats fin;
    int src = sl_shutdown(5000);
    sl_stats_get(&fin);
    if (pid > 0) {
        int st = bu_stop_collector(pid);
        if (bu_rmrf(root) != 0)
            fprintf(stderr, "bench-sdk: could not remove %s\n", root);
        if (st != 0)
            fprintf(stderr, "bench-sdk: the collector exited with status %d\n", st);
    }

    double m_span = bu_median(span, o.runs), m_uns = bu_median(uns, o.runs);
    double m_log = bu_median(lg, o.runs);
    double m_logf = bu_median(lgf, o.runs), m_base = bu_median(base, o.runs);
    if (o.json) {
        printf("{\"span_ns\":%.1f,\"unsampled_span_ns\":%.1f,\"log_ns\":%.1f,"
               "\"spans_per_s_sustained\":%.0f,\"dropped\":%llu,"
               "\"log_fmt_ns\":%.1f,\"baseline_2x_clock_gettime_ns\":%.1f,"
               "\"span_to_baseline\":%.2f,\"log_to_baseline\":%.2f,"
               "\"unsampled_to_baseline\":%.3f,\"offered_spans_per_s\":%.0f,"
               "\"offered\":%llu,\"exported\":%llu,\"dropped_queue\":%llu,"
               "\"dropped_budget\":%llu,\"dropped_other\":%llu,\"seconds\":%.1f,"
               "\"latency_phase_dropped\":%llu,\"runs\":%d,\"compression\":%d,"
               "\"shutdown_ok\":%s}\n",
               m_span, m_uns, m_log, tp.per_s, (unsigned long long)tp.dropped, m_logf, m_base,
               m_span / m_base, m_log / m_base, m_uns / m_base, tp.offered_per_s,
               (unsigned long long)tp.offered, (unsigned long long)tp.exported,
               (unsigned long long)tp.dropped_queue, (unsigned long long)tp.dropped_budget,
               (unsigned long long)tp.dropped_other, tp.seconds,
               (unsigned long long)lat_dropped, o.runs, o.compression,
               src == SL_OK ? "true" : "false");
    } else {
        printf("SDK hot path, median of %d runs (batches of %d, exporter sending to %s):\n",
               o.runs, BATCH, o.endpoint == url ? "a collector started here" : o.endpoint);
        printf("  sampled span, 3 attributes  %8.1f ns  (%.2fx two clock_gettime calls)\n", m_span,
               m_span / m_base);
        printf("  unsampled span              %8.1f ns  (%.3fx)\n", m_uns, m_uns / m_base);
        printf("  log, 2 attributes           %8.1f ns  (%.2fx)\n", m_log, m_log / m_base);
        printf("  log, 2 attributes + %%d      %8.1f ns  (%.2fx)\n", m_logf, m_logf / m_base);
        printf("  baseline: 2x clock_gettime  %8.1f ns\n", m_base);
        printf("  dropped while timing        %8llu\n", (unsigned long long)lat_dropped);
        printf("throughput, 2 threads offering %.0f spans/s for %d s:\n", o.rate, o.seconds);
        printf("  sustained (acknowledged)    %8.0f spans/s\n", tp.per_s);
        printf("  offered                     %8.0f spans/s (%llu spans)\n", tp.offered_per_s,
               (unsigned long long)tp.offered);
        printf("  dropped                     %8llu (queue %llu, budget %llu, other %llu)\n",
               (unsigned long long)tp.dropped, (unsigned long long)tp.dropped_queue,
               (unsigned long long)tp.dropped_budget, (unsigned long long)tp.dropped_other);
    }
    (void)fin;
    return 0;
}
