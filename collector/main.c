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

#include "config.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "sightline.h"
#include "stats.h"
#include "store.h"

#define EXIT_USAGE 2

/* Parses argv into *c.  Returns 0, 1 for --help, or -1 after printing an
 * error that names the flag. */
static int col_parse_args(int argc, char **argv, col_config *c)
{
    char err[512], name[64];

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
        if (col_config_set(c, name, val, err, sizeof err) != 0) {
            fprintf(stderr, "sightline-collector: bad flag: %s\n", err);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    col_config cfg;
    col_stats stats;
    col_store *store = NULL;
    col_ingest *ingest = NULL;
    col_http *http = NULL;
    col_store_opts so = {0};
    col_ingest_opts io = {0};
    col_http_opts ho = {0};
    col_api api = {0};
    const char *urls[COL_MAX_LISTEN];
    char err[512];
    sigset_t sigs;
    int rv, status = 1, sig = 0;

    col_config_defaults(&cfg);
    rv = col_parse_args(argc, argv, &cfg);
    if (rv == 1) {
        col_config_print_help(stdout, "sightline-collector");
        return 0;
    }
    if (rv < 0)
        return EXIT_USAGE;
    if (col_config_finish(&cfg, argv[0], err, sizeof err) != 0) {
        fprintf(stderr, "sightline-collector: bad flag: %s\n", err);
        return EXIT_USAGE;
    }
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
    rv = col_store_open(cfg.data_dir, &so, &store, err, sizeof err);
    if (rv != 0) {
        col_log(COL_LOG_ERROR, "cannot open the store in %s: %s", cfg.data_dir, err);
        goto out;
    }
    col_log(COL_LOG_INFO, "data in %s (RocksDB, WAL %s)", cfg.data_dir,
            cfg.fsync ? "fsync'd on every batch" : "written before every ack, not fsync'd");

    for (int i = 0; i < cfg.nlisten; i++)
        urls[i] = cfg.listen[i];
    io.urls = urls;
    io.nurls = cfg.nlisten;
    io.workers = cfg.workers;
    io.limits = cfg.limits;
    rv = col_ingest_start(&io, store, &stats, &ingest, err, sizeof err);
    if (rv != 0) {
        col_log(COL_LOG_ERROR, "cannot start ingest: %s", err);
        goto out;
    }
    for (int i = 0; i < cfg.nlisten; i++)
        col_log(COL_LOG_INFO, "receiving batches on %s", cfg.listen[i]);

    api.store = store;
    api.stats = &stats;
    api.trace_max_spans = cfg.trace_max_spans;
    api.trace_max_blocks = cfg.trace_max_blocks;
    api.list_max_scan = cfg.list_max_scan;
    ho.addr = cfg.http_addr;
    ho.ui_dir = cfg.ui_dir;
    ho.threads = cfg.http_threads;
    ho.max_conns = cfg.http_max_conns;
    ho.timeout_s = cfg.http_timeout_s;
    rv = col_http_start(&ho, &api, &http, err, sizeof err);
    if (rv != 0) {
        col_log(COL_LOG_ERROR, "cannot start HTTP: %s", err);
        goto out;
    }
    col_log(COL_LOG_INFO, "HTTP API and dashboard on http://%.*s:%u/ (ui files from %s)",
            (int)(strrchr(cfg.http_addr, ':') - cfg.http_addr), cfg.http_addr,
            col_http_port(http), cfg.ui_dir);
    col_log(COL_LOG_INFO, "%d ingest workers; stop with SIGTERM or Ctrl-C", cfg.workers);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            col_log(COL_LOG_INFO, "SIGHUP: nothing to reload yet (no config file given)");
            continue;
        }
        break;
    }
    col_log(COL_LOG_INFO, "%s: stopping (finishing in-flight batches)", strsignal(sig));
    status = 0;
out:
    col_http_stop(http);
    col_ingest_stop(ingest);
    col_store_close(store);
    if (status == 0)
        col_log(COL_LOG_INFO, "stopped cleanly: %llu batches stored, %llu spans, %llu logs",
                (unsigned long long)atomic_load(&stats.frames_stored),
                (unsigned long long)atomic_load(&stats.spans_stored),
                (unsigned long long)atomic_load(&stats.logs_stored));
    return status;
}
