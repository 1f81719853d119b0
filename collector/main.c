/*
 * main.c - sightline-collector: flags, start-up, signals, shutdown.
 *
 * Start order is store -> ingest -> HTTP, shutdown the reverse, so nothing
 * is ever acknowledged or served without an open store.  Signals are
 * blocked in every thread and taken synchronously by sigwait() here, so no
 * work happens in a signal handler.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "config.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "log.h"
#include "http/metrics_red.h"
#include "sightline.h"
#include "stats.h"
#include "store/store.h"

#define EXIT_USAGE 2

/* Parses argv into *c.  Returns 0, 1 for --help, or -1 after printing an
 * error that names the flag. */
static int col_parse_args(int argc, char **argv, col_config *c)
{
    char err[512], name[64];
    int listen_seen = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *val = NULL;
        size_t nlen;
        int isflag;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "sightline-collector: unexpected argument '%s'; flags start with --"
                            " (see --help)\n", a);
            return -1;
        }
        a += 2;
        eq = strchr(a, '=');
        nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name) {
            fprintf(stderr, "sightline-collector: unknown flag '--%.60s'; see --help\n", a);
            return -1;
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        isflag = col_config_is_flag(name);
        if (isflag < 0) {
            fprintf(stderr, "sightline-collector: unknown flag '--%s'; see --help\n", name);
            return -1;
        }
        if (eq != NULL)
            val = eq + 1;
        else if (!isflag) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sightline-collector: flag '--%s' needs a value; see --help\n",
                        name);
                return -1;
            }
            val = argv[++i];
        }
        if (strcmp(name, "listen") == 0 && !listen_seen) {
            c->nlisten = 0; /* flags replace the config file's URLs */
            listen_seen = 1;
        }
        if (col_config_set(c, name, val, err, sizeof err) != 0) {
            fprintf(stderr, "sightline-collector: bad flag: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Finds --config FILE / --config=FILE in argv (NULL if absent). */
static const char *col_find_config_arg(int argc, char **argv)
{
    const char *f = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            f = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            f = argv[i] + 9;
    }
    return f;
}

/* Builds the configuration: defaults, then the config file, then the
 * flags.  Returns 0, 1 for --help, -1 after printing why. */
static int col_build_config(int argc, char **argv, col_config *c)
{
    const char *file = col_find_config_arg(argc, argv);
    char err[1024];
    int rv;

    col_config_defaults(c);
    if (file != NULL && col_config_load_file(c, file, err, sizeof err) != 0) {
        fprintf(stderr, "sightline-collector: bad config: %s\n", err);
        return -1;
    }
    rv = col_parse_args(argc, argv, c);
    if (rv != 0)
        return rv;
    if (col_config_finish(c, argv[0], err, sizeof err) != 0) {
        fprintf(stderr, "sightline-collector: bad flag: %s\n", err);
        return -1;
    }
    return 0;
}

static void col_retention_from(const col_config *c, col_retention_opts *r)
{
    r->max_age_ns = c->retention_age_ns;
    r->max_bytes = (uint64_t)c->retention_size_mb << 20;
    r->interval_ns = c->retention_interval_ns;
}

/* SIGHUP: re-reads the file and the flags, applies what can change while
 * running (retention, limits, log level) and logs every difference. */
static void col_reload(int argc, char **argv, col_config *cur, col_store *store,
                       col_ingest *ingest, col_alerts *alerts)
{
    col_config next;
    col_retention_opts ro;
    char diff[2048], aerr[1024];
    int n;

    if (col_build_config(argc, argv, &next) != 0) {
        col_log(COL_LOG_ERROR, "SIGHUP: configuration not reloaded (see the error above); "
                               "still running with the previous settings");
        return;
    }
    /* The alert rules file is re-read on every SIGHUP, changed or not. */
    if (col_alerts_reload(alerts, aerr, sizeof aerr) != 0)
        col_log(COL_LOG_ERROR, "SIGHUP: alert rules not reloaded, the previous rules stay: %s",
                aerr);
    else
        col_log(COL_LOG_INFO, "SIGHUP: alert rules reloaded");
    col_alerts_set_interval(alerts, next.alert_interval_ns);
    cur->alert_interval_ns = next.alert_interval_ns;
    n = col_config_diff(cur, &next, diff, sizeof diff);
    if (n == 0) {
        col_log(COL_LOG_INFO, "SIGHUP: configuration reloaded, nothing changed");
        return;
    }
    col_log(COL_LOG_INFO, "SIGHUP: %s", diff);
    col_log_set_level(next.log_level);
    col_retention_from(&next, &ro);
    col_store_retention_set(store, &ro);
    next.limits.frame_bytes = cur->limits.frame_bytes; /* the transport keeps its size */
    col_ingest_set_limits(ingest, &next.limits);
    {
        const char *toks[COL_MAX_TOKENS];
        for (int i = 0; i < next.ningest_tokens; i++)
            toks[i] = next.ingest_tokens[i];
        if (col_ingest_set_tokens(ingest, toks, next.ningest_tokens) == 0) {
            memcpy(cur->ingest_tokens, next.ingest_tokens, sizeof cur->ingest_tokens);
            cur->ningest_tokens = next.ningest_tokens;
        }
    }
    cur->log_level = next.log_level;
    cur->retention_age_ns = next.retention_age_ns;
    cur->retention_size_mb = next.retention_size_mb;
    cur->retention_interval_ns = next.retention_interval_ns;
    cur->limits = next.limits;
}

/* Limits the HTTP receivers use (see main()). */
static slc_wire_limits http_limits;

int main(int argc, char **argv)
{
    col_config cfg;
    col_stats stats;
    col_store *store = NULL;
    col_ingest *ingest = NULL;
    col_http *http = NULL;
    col_alerts *alerts = NULL;
    col_store_opts so = {0};
    col_ingest_opts io = {0};
    col_http_opts ho = {0};
    col_api api = {0};
    const char *urls[COL_MAX_LISTEN];
    char err[512];
    sigset_t sigs;
    int rv, status = 1, sig = 0;

    rv = col_build_config(argc, argv, &cfg);
    if (rv == 1) {
        col_config_print_help(stdout, "sightline-collector");
        return 0;
    }
    if (rv < 0)
        return EXIT_USAGE;
    col_log_set_level(cfg.log_level);

    /* Every thread started below inherits this mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    col_stats_init(&stats);
    so.fsync = cfg.fsync;
    so.block_cache_mb = cfg.block_cache_mb;
    so.write_buffer_mb = cfg.write_buffer_mb;
    so.min_free_mb = cfg.min_free_disk_mb > 0 ? cfg.min_free_disk_mb : -1;
    so.ballast_mb = cfg.disk_ballast_mb < 0 ? 0 : cfg.disk_ballast_mb == 0 ? -1 : cfg.disk_ballast_mb;
    /* The budget: half for memtables, a quarter for frames in flight, the
     * rest for the block cache, the edge tracker and the process. */
    so.memtables_mb = cfg.memory_budget_mb / 2;
    so.compact_on_close = cfg.compact_on_exit;
    rv = col_store_open(cfg.data_dir, &so, &store, err, sizeof err);
    if (rv != 0) {
        col_log(COL_LOG_ERROR, "cannot open the store in %s: %s", cfg.data_dir, err);
        goto out;
    }
    col_log(COL_LOG_INFO, "data in %s (RocksDB, WAL %s)", cfg.data_dir,
            cfg.fsync ? "fsync'd on every batch" : "written before every ack, not fsync'd");
    {
        col_retention_opts ro;
        col_retention_from(&cfg, &ro);
        if (col_store_retention_start(store, &ro) != 0) {
            col_log(COL_LOG_ERROR, "cannot start the retention thread");
            goto out;
        }
        col_log(COL_LOG_INFO, "retention: age %llus, size %s%dMB, checked every %llus",
                (unsigned long long)(ro.max_age_ns / 1000000000ULL),
                cfg.retention_size_mb ? "" : "unbounded ", cfg.retention_size_mb,
                (unsigned long long)(ro.interval_ns / 1000000000ULL));
    }

    {
        col_seal_opts sealo = {0};
        sealo.after_ns = cfg.seal_after_ns;
        sealo.interval_ns = cfg.seal_interval_ns;
        sealo.disabled = cfg.seal_after_ns == 0;
        sealo.max_items = (uint32_t)cfg.seal_block_items;
        sealo.level = cfg.seal_level;
        if (col_store_seal_start(store, &sealo) != 0) {
            col_log(COL_LOG_ERROR, "cannot start the sealing thread");
            goto out;
        }
        if (sealo.disabled)
            col_log(COL_LOG_INFO, "sealing: off (seal-after 0)");
        else
            col_log(COL_LOG_INFO, "sealing: frames older than %llus, %d items a block, zstd %d",
                    (unsigned long long)(cfg.seal_after_ns / 1000000000ULL),
                    cfg.seal_block_items, cfg.seal_level);
    }

    {
        char rules[COL_PATH_MAX + 32], state[COL_PATH_MAX + 32], aerr[1024];
        col_alerts_opts ao = {0};
        if (cfg.rules_file[0])
            snprintf(rules, sizeof rules, "%s", cfg.rules_file);
        else
            snprintf(rules, sizeof rules, "%s/alert-rules.json", cfg.data_dir);
        snprintf(state, sizeof state, "%s/alerts-state.json", cfg.data_dir);
        ao.rules_path = rules;
        ao.state_path = state;
        ao.interval_ns = cfg.alert_interval_ns;
        ao.history_max = (size_t)cfg.alert_history;
        rv = col_alerts_open(&ao, store, &alerts, aerr, sizeof aerr);
        if (rv != 0) {
            col_log(COL_LOG_ERROR, "cannot load the alert rules: %s; fix the file (docs/alerts.md) "
                                   "or start with another --rules",
                    aerr);
            status = EXIT_USAGE;
            goto out;
        }
        if (col_alerts_start(alerts) != 0) {
            col_log(COL_LOG_ERROR, "cannot start the alert threads");
            goto out;
        }
        col_log(COL_LOG_INFO, "alert rules from %s, evaluated every %llums", rules,
                (unsigned long long)(cfg.alert_interval_ns / 1000000ULL));
    }

    for (int i = 0; i < cfg.nlisten; i++)
        urls[i] = cfg.listen[i];
    io.urls = urls;
    io.nurls = cfg.nlisten;
    io.workers = cfg.workers;
    io.limits = cfg.limits;
    io.inflight_bytes = (uint64_t)cfg.memory_budget_mb << 18; /* a quarter */
    io.max_conns = cfg.ingest_max_conns;
    {
        static const char *toks[COL_MAX_TOKENS];
        for (int i = 0; i < cfg.ningest_tokens; i++)
            toks[i] = cfg.ingest_tokens[i];
        io.tokens = toks;
        io.ntokens = cfg.ningest_tokens;
    }
    io.tls_cert = cfg.tls_cert;
    io.tls_key = cfg.tls_key;
    rv = col_ingest_start(&io, store, &stats, &ingest, err, sizeof err);
    if (rv != 0) {
        col_log(COL_LOG_ERROR, "cannot start ingest: %s", err);
        goto out;
    }
    for (int i = 0; i < cfg.nlisten; i++)
        col_log(COL_LOG_INFO, "receiving batches on %s", cfg.listen[i]);
    col_log(COL_LOG_INFO, "ingest tokens: %d configured%s", cfg.ningest_tokens,
            cfg.ningest_tokens ? "" : " (open: any sender may write)");

    api.store = store;
    api.stats = &stats;
    api.trace_max_spans = cfg.trace_max_spans;
    api.trace_max_blocks = cfg.trace_max_blocks;
    api.list_max_scan = cfg.list_max_scan;
    api.query_max_range_ns = cfg.query_max_range_ns;
    api.query_max_buckets = cfg.query_max_buckets;
    api.query_max_series = cfg.query_max_series;
    api.query_max_results = cfg.query_max_results;
    /* The HTTP receivers (OTLP, Zipkin) enforce the same limits as native
     * ingest.  They read a copy taken at start, so a SIGHUP reload cannot
     * change it under a running HTTP thread; new limits apply after restart. */
    http_limits = cfg.limits;
    api.ingest_limits = &http_limits;
    api.alerts = alerts;
    ho.addr = cfg.http_addr;
    ho.ui_dir = cfg.ui_dir;
    ho.threads = cfg.http_threads;
    ho.max_conns = cfg.http_max_conns;
    ho.timeout_s = cfg.http_timeout_s;
    {
        /* HTTP hardening settings (http.h); the token arrays are copied */
        const char *rtok[COL_MAX_TOKENS], *atok[COL_MAX_TOKENS];
        for (int i = 0; i < cfg.napi_tokens; i++) {
            if (cfg.api_token_admin[i])
                atok[ho.nadmin_tokens++] = cfg.api_tokens[i];
            else
                rtok[ho.nread_tokens++] = cfg.api_tokens[i];
        }
        ho.read_tokens = rtok;
        ho.admin_tokens = atok;
        ho.max_conns_per_ip = cfg.http_max_conns_per_ip;
        ho.max_header_bytes = cfg.http_max_header_bytes;
        ho.max_headers = cfg.http_max_headers;
        ho.max_url_bytes = cfg.http_max_url_bytes;
        ho.max_body_bytes = (size_t)cfg.http_max_body_bytes;
        ho.tls_cert = cfg.http_tls_cert;
        ho.tls_key = cfg.http_tls_key;
        ho.ingest = ingest;
        /* RED counters in /metrics count from now, not from the first
         * scrape: take their baseline before serving. */
        (void)col_redm_shared(store, &stats);
        rv = col_http_start(&ho, &api, &http, err, sizeof err);
    }
    if (rv != 0) {
        col_log(COL_LOG_ERROR, "cannot start HTTP: %s", err);
        goto out;
    }
    col_log(COL_LOG_INFO, "HTTP API and dashboard on %s://%.*s:%u/ (ui files from %s; API %s)",
            cfg.http_tls_cert[0] ? "https" : "http",
            (int)(strrchr(cfg.http_addr, ':') - cfg.http_addr), cfg.http_addr,
            col_http_port(http), cfg.ui_dir,
            cfg.napi_tokens ? "needs a token" : "open, no token");
    col_log(COL_LOG_INFO, "%d ingest workers; stop with SIGTERM or Ctrl-C", cfg.workers);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            col_reload(argc, argv, &cfg, store, ingest, alerts);
            continue;
        }
        break;
    }
    col_log(COL_LOG_INFO, "%s: stopping (finishing in-flight batches)", strsignal(sig));
    status = 0;
out:
    col_http_stop(http);
    col_ingest_stop(ingest);
    col_alerts_close(alerts); /* saves the alert state; before the store it reads */
    col_store_close(store); /* stops the retention thread first */
    if (status == 0)
        col_log(COL_LOG_INFO, "stopped cleanly: %llu batches stored, %llu spans, %llu logs",
                (unsigned long long)atomic_load(&stats.frames_stored),
                (unsigned long long)atomic_load(&stats.spans_stored),
                (unsigned long long)atomic_load(&stats.logs_stored));
    return status;
}
