/*
 * bench-ingest - ingest throughput of a real sightline-collector.
 *
 * Pre-encodes a realistic workload (bench/gen.c), starts the collector on a
 * fresh data directory, sends the frames from several nng req connections
 * until every span is acknowledged STORED, and reports spans/s; then the
 * same for log records; then bytes per span on disk and peak collector RSS.
 * Runs are repeated (--runs) and medians reported, next to the rate of a
 * baseline measured in the same run: the client alone decoding the frames
 * (what a collector does before it stores anything).
 */
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "benchutil.h"
#include "gen.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"

typedef struct opts {
    uint64_t spans, logs;
    int clients, runs, extra_attrs, json, workers;
    const char *collector;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench-ingest [options]\n"
            "Measures ingest of a real sightline-collector on this machine.\n\n"
            "  --spans N        spans to send per run (default 1000000)\n"
            "  --logs N         log records to send per run (default 500000)\n"
            "  --clients N      concurrent client connections (default 4)\n"
            "  --workers N      collector --workers (default: collector's default)\n"
            "  --runs N         repetitions; medians are reported (default 3)\n"
            "  --attrs20        use 20-attribute spans (the OpenTelemetry Collector's test shape)\n"
            "  --collector PATH collector binary (default: next to this binary)\n"
            "  --json           print one JSON object\n"
            "  --help           this text\n\n"
            "Environment: SIGHTLINE_BENCH_COLLECTOR_LOG=FILE appends the collectors' logs to FILE\n"
            "(otherwise discarded).\n");
}

typedef struct sender {
    const gen_frame *frames;
    size_t nframes;
    atomic_size_t next;
    atomic_ulong items;
    atomic_ulong retries;
    atomic_int failed;
    const char *url;
    int logs;
} sender;

static void *send_thread(void *arg)
{
    sender *s = arg;
    nng_socket sock;
    if (bu_req_dial(&sock, s->url) != 0) {
        atomic_store(&s->failed, 1);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->nframes || atomic_load(&s->failed))
            break;
        const gen_frame *f = &s->frames[i];
        unsigned long retries = 0;
        char why[SLC_ACK_MAX_REASON + 16];
        int rc = bu_send_frame(sock, f->bytes, f->len, &retries, why, sizeof why);
        atomic_fetch_add(&s->retries, retries);
        if (rc == 0) {
            atomic_fetch_add(&s->items, s->logs ? f->logs : f->spans);
            continue;
        }
        if (rc == -2)
            fprintf(stderr, "bench-ingest: frame %zu refused: %s\n", i, why);
        atomic_store(&s->failed, 1);
    }
    nng_close(sock);
    return NULL;
}

/* Sends all frames with n client threads; returns items/s or -1. */
static double send_all(const char *url, const gen_frame *f, size_t n, int clients, int logs,
                       uint64_t *items, uint64_t *retries)
{
    sender s = {.frames = f, .nframes = n, .url = url, .logs = logs};
    pthread_t th[64];
    if (clients > 64)
        clients = 64;
    double t0 = bu_now_s();
    for (int i = 0; i < clients; i++)
        pthread_create(&th[i], NULL, send_thread, &s);
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    double dt = bu_now_s() - t0;
    *items = atomic_load(&s.items);
    *retries = atomic_load(&s.retries);
    if (atomic_load(&s.failed))
        return -1;
    return (double)*items / dt;
}

static uint64_t dir_bytes(const char *path)
{
    uint64_t total = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                total += dir_bytes(p);
            else
                total += (uint64_t)st.st_blocks * 512;
        }
    }
    closedir(d);
    return total;
}

static uint64_t sst_bytes(const char *path)
{
    uint64_t total = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".sst")) {
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            if (stat(p, &st) == 0)
                total += (uint64_t)st.st_size;
        }
    }
    closedir(d);
    return total;
}

static long peak_rss_kb(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* CPU time (user + system, all threads) the process used so far, in
 * seconds; -1 when unknown.  Wall-clock rates on a shared 2-core box move
 * with whatever else runs; CPU per item does not, so both are reported. */
static double cpu_s(pid_t pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is
     * field 3, utime 14, stime 15. */
    char *q = strrchr(buf, ')');
    if (!q)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Baseline: decode every frame once on one core, as the collector must. */
static double decode_rate(const gen_frame *f, size_t n)
{
    double t0 = bu_now_s();
    uint64_t spans = 0;
    for (size_t i = 0; i < n; i++) {
        slc_batch *b;
        if (slc_wire_decode(f[i].bytes, f[i].len, NULL, &b, NULL, 0) == 0) {
            spans += b->nspans;
            slc_batch_free(b);
        }
    }
    return (double)spans / (bu_now_s() - t0);
}

int main(int argc, char **argv)
{
    opts o = {.spans = 1000000, .logs = 500000, .clients = 4, .runs = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o.json = 1;
        } else if (!strcmp(a, "--attrs20")) {
            o.extra_attrs = 10;
        } else if (v && !strcmp(a, "--spans")) {
            o.spans = strtoull(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--logs")) {
            o.logs = strtoull(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--clients")) {
            o.clients = (int)strtol(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--workers")) {
            o.workers = (int)strtol(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--runs")) {
            o.runs = (int)strtol(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--collector")) {
            o.collector = v, i++;
        } else {
            fprintf(stderr, "bench-ingest: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o.runs < 1 || o.runs > 20 || o.clients < 1 || o.spans < 1) {
        fprintf(stderr, "bench-ingest: --runs 1..20, --clients >= 1, --spans >= 1\n");
        return 2;
    }
    if (!o.collector && !(o.collector = bu_collector_next_to_self()))
        return 2;
    if (access(o.collector, X_OK) != 0) {
        fprintf(stderr, "bench-ingest: cannot run %s: build it with `make`\n", o.collector);
        return 2;
    }

    fprintf(stderr, "bench-ingest: generating %llu spans and %llu logs...\n",
            (unsigned long long)o.spans, (unsigned long long)o.logs);
    gen_frame *sf = NULL, *lf = NULL;
    size_t nsf = 0, nlf = 0;
    gen_opts g = {.seed = 42, .extra_attrs = (uint32_t)o.extra_attrs};
    if (gen_frames(&g, o.spans, &sf, &nsf))
        return 1;
    gen_opts gl = {.seed = 43, .logs_only = 1};
    if (o.logs && gen_frames(&gl, o.logs, &lf, &nlf))
        return 1;
    uint64_t nspans = 0, wire_bytes = 0;
    for (size_t i = 0; i < nsf; i++)
        nspans += sf[i].spans, wire_bytes += sf[i].len;

    double span_rates[20], log_rates[20], bps[20], bpl[20], rss[20], base[20];
    double cpu_span[20], cpu_log[20];
    uint64_t stored = 0, retries_total = 0;
    char tmpl[] = "/tmp/sl-bench-ingest.XXXXXX";
    char *root = mkdtemp(tmpl);
    if (!root)
        return 1;
    /* The collectors compact their store when they stop, so the bytes on
     * disk are those after a full compaction (docs/storage.md). */
    setenv("SIGHTLINE_COMPACT_ON_CLOSE", "1", 1);
    for (int r = 0; r < o.runs; r++) {
        base[r] = decode_rate(sf, nsf);
        /* Spans and logs go to separate stores, so bytes per span and
         * bytes per log record are each measured on their own data. */
        for (int phase = 0; phase < 2; phase++) {
            const gen_frame *frames = phase ? lf : sf;
            size_t nframes = phase ? nlf : nsf;
            uint64_t nitems = phase ? o.logs : nspans;
            char dir[256], url[300];
            if (phase == 1 && nlf == 0) {
                log_rates[r] = cpu_log[r] = bpl[r] = 0;
                break;
            }
            snprintf(dir, sizeof dir, "%s/run%d-%s", root, r, phase ? "logs" : "spans");
            snprintf(url, sizeof url, "ipc://%s/ingest%d%d.ipc", root, r, phase);
            char http[64];
            snprintf(http, sizeof http, "127.0.0.1:%d",
                     bu_port_for((unsigned)r * 13 + (unsigned)phase));
            pid_t pid = bu_start_collector(o.collector, dir, url, http, o.workers);
            if (pid < 0 || bu_wait_ready(pid, url, 0)) {
                fprintf(stderr, "bench-ingest: collector did not start\n");
                return 1;
            }
            uint64_t items = 0, retries = 0;
            double c0 = cpu_s(pid);
            double rate = send_all(url, frames, nframes, o.clients, phase, &items, &retries);
            double c1 = cpu_s(pid);
            double cpu_us = c0 >= 0 && c1 >= 0 && items ? (c1 - c0) * 1e6 / (double)items : -1;
            double mib = (double)peak_rss_kb(pid) / 1024.0;
            retries_total += retries;
            int st = bu_stop_collector(pid);
            if (rate < 0 || st != 0) {
                fprintf(stderr, "bench-ingest: run %d failed (collector exit %d)\n", r, st);
                return 1;
            }
            uint64_t disk = sst_bytes(dir);
            if (!disk)
                disk = dir_bytes(dir);
            if (phase == 0) {
                span_rates[r] = rate;
                stored = items;
                cpu_span[r] = cpu_us;
                bps[r] = (double)disk / (double)nitems;
                rss[r] = mib;
            } else {
                log_rates[r] = rate;
                cpu_log[r] = cpu_us;
                bpl[r] = (double)disk / (double)nitems;
                if (mib > rss[r])
                    rss[r] = mib;
            }
            if (bu_rmrf(dir) != 0)
                fprintf(stderr, "bench-ingest: could not remove %s\n", dir);
        }
        fprintf(stderr,
                "run %d: %.0f spans/s (%.2f us CPU/span), %.0f logs/s (%.2f us CPU/log), "
                "%.1f bytes/span, %.1f bytes/log on disk after compaction, peak RSS %.0f MiB, "
                "decode-only baseline %.0f spans/s\n",
                r + 1, span_rates[r], cpu_span[r], log_rates[r], cpu_log[r], bps[r], bpl[r],
                rss[r], base[r]);
    }
    rmdir(root);
    double ms = bu_median(span_rates, o.runs), ml = bu_median(log_rates, o.runs);
    double mb = bu_median(bps, o.runs), mbl = bu_median(bpl, o.runs), mr = bu_median(rss, o.runs);
    double mbase = bu_median(base, o.runs), mcs = bu_median(cpu_span, o.runs);
    double mcl = bu_median(cpu_log, o.runs);
    uint64_t span_frame_logs = 0;
    for (size_t i = 0; i < nsf; i++)
        span_frame_logs += sf[i].logs;
    if (o.json) {
        printf("{\"spans_per_s\":%.0f,\"logs_per_s\":%.0f,\"bytes_per_span\":%.1f,"
               "\"peak_rss_mb\":%.0f,\"spans_sent\":%llu,\"spans_stored\":%llu,"
               "\"bytes_per_log\":%.1f,\"cpu_us_per_span\":%.2f,\"cpu_us_per_log\":%.2f,"
               "\"logs_in_span_frames\":%llu,"
               "\"runs\":%d,\"clients\":%d,\"attrs_per_span\":%d,"
               "\"wire_bytes_per_span\":%.1f,\"baseline_decode_spans_per_s\":%.0f,"
               "\"ratio_to_decode_baseline\":%.3f,\"retries\":%llu}\n",
               ms, ml, mb, mr, (unsigned long long)nspans, (unsigned long long)stored, mbl, mcs,
               mcl, (unsigned long long)span_frame_logs, o.runs, o.clients, 10 + o.extra_attrs,
               (double)wire_bytes / (double)nspans, mbase, ms / mbase,
               (unsigned long long)retries_total);
    } else {
        printf("ingest, median of %d runs, %d clients, %d attributes/span:\n", o.runs, o.clients,
               10 + o.extra_attrs);
        printf("  spans/s            %12.0f  (%.2fx the single-core decode-only baseline of %.0f)\n",
               ms, ms / mbase, mbase);
        printf("  collector CPU/span %12.2f us (all threads; 2 cores = %.0f spans/s at full use)\n",
               mcs, mcs > 0 ? 2e6 / mcs : 0);
        printf("  logs/s             %12.0f\n", ml);
        printf("  collector CPU/log  %12.2f us\n", mcl);
        printf("  bytes/span on disk %12.1f  (after compaction; the span store also holds the\n"
               "                                %llu log records of the span frames; wire: %.1f)\n",
               mb, (unsigned long long)span_frame_logs, (double)wire_bytes / (double)nspans);
        printf("  bytes/log on disk  %12.1f  (log-only store, after compaction)\n", mbl);
        printf("  peak collector RSS %12.0f MiB\n", mr);
        printf("  spans sent/stored  %llu / %llu\n", (unsigned long long)nspans,
               (unsigned long long)stored);
    }
    gen_free(sf, nsf);
    gen_free(lf, nlf);
    return 0;
}
