/*
 * api.c - routes and handlers of the JSON API (see api.h and docs/api.md).
 */
#include "api.h"
#include "alerts/alerts.h"
#include "alerts_api.h"
#include "api_query.h"
#include "api_sdk.h"
#include "metrics_red.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/slq_util.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "query/slq_trace.h"

#define COL_LIST_DEFAULT 20
#define COL_LIST_MAX 1000
#define COL_DEFAULT_SINCE "1h"

typedef void (*col_handler_fn)(const col_api *api, const col_api_req *req, col_api_resp *resp);

struct col_route {
    const char *path;
    int prefix; /* 1: path is a prefix, the rest goes to req->rest */
    col_handler_fn fn;
    int any_method; /* 0: GET/HEAD only; 1: the handler checks the method */
};

/* Replaces each byte of s that does not start a valid UTF-8 sequence with
 * '?'.  Messages quote the client's arguments (and %.32s may cut a sequence
 * in two); jansson refuses invalid UTF-8, which would leave an error
 * answer without its body. */
static void col_api_utf8_fix(char *s)
{
    size_t n = strlen(s), i = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                  : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len != 0 && i + len <= n && slc_utf8_valid(s + i, len)) {
            i += len;
        } else {
            s[i] = '?';
            i++;
        }
    }
}

void col_api_error(col_api_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    col_api_utf8_fix(msg);
    col_api_resp_free(resp);
    resp->status = status;
    resp->body = json_pack("{s:{s:i,s:s,s:s}}", "error", "status", status, "code", code,
                           "message", msg);
}

void col_api_store_error(col_api_resp *resp, int rv, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (rv == SL_EBUSY)
        col_api_error(resp, 503, "unavailable",
                      "%s failed: the store is being reopened after the disk filled up; retry",
                      what);
    else
        col_api_error(resp, 500, "store", "%s failed: %s", what, sl_strerror(rv));
}

void col_api_resp_free(col_api_resp *resp)
{
    json_decref(resp->body);
    free(resp->json);
    free(resp->text);
    resp->body = NULL;
    resp->json = NULL;
    resp->json_len = 0;
    resp->text = NULL;
}

int col_api_resp_text(const col_api_resp *resp, char **out, size_t *len)
{
    char *s;

    if (resp->json != NULL) {
        s = malloc(resp->json_len + 1);
        if (s == NULL)
            return SL_ENOMEM;
        memcpy(s, resp->json, resp->json_len + 1);
        *out = s;
        *len = resp->json_len;
        return 0;
    }
    if (resp->body == NULL)
        return SL_ENOTFOUND;
    s = json_dumps(resp->body, JSON_COMPACT);
    if (s == NULL)
        return SL_ENOMEM;
    *out = s;
    *len = strlen(s);
    return 0;
}

void col_api_ok(col_api_resp *resp, json_t *body)
{
    if (body == NULL) {
        col_api_error(resp, 500, "internal", "out of memory building the response");
        return;
    }
    resp->status = 200;
    resp->body = body;
}

/* ---- shared argument parsing --------------------------------------------- */

void col_api_fmt_dur(uint64_t ns, char *buf, size_t len)
{
    static const struct { uint64_t ns; char u; } units[] = {
        {86400ULL * 1000000000ULL, 'd'}, {3600ULL * 1000000000ULL, 'h'},
        {60ULL * 1000000000ULL, 'm'},    {1000000000ULL, 's'}};

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ns >= units[i].ns && ns % units[i].ns == 0) {
            snprintf(buf, len, "%llu%c", (unsigned long long)(ns / units[i].ns), units[i].u);
            return;
        }
    snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

int col_api_arg_time(const col_api_req *req, col_api_resp *resp, const char *name,
                     const char *dflt, uint64_t *out)
{
    const char *v = req->arg(req->cx, name);

    if (v == NULL || *v == '\0')
        v = dflt;
    if (v == NULL) {
        *out = req->now_ns;
        return 0;
    }
    if (slc_time_parse(v, req->now_ns, out) != 0) {
        col_api_error(resp, 400, "bad_time",
                      "'%s' value '%.64s' is not a time: use RFC 3339 "
                      "(2026-01-02T15:04:05Z), Unix nanoseconds, or an age like 15m, 2h, 7d",
                      name, v);
        return -1;
    }
    return 0;
}

/* ---- GET /api/v1/services?since=&until= ----------------------------------- */

static int col_add_service(const col_service_row *r, void *arg)
{
    json_t *o = json_pack("{s:s%,s:I,s:I,s:I,s:I}", "name", r->name, r->len, "spans",
                          (json_int_t)r->spans, "errors", (json_int_t)r->span_errors, "logs",
                          (json_int_t)r->logs, "log_errors", (json_int_t)r->log_errors);

    if (o == NULL || json_array_append_new(arg, o) != 0)
        return -1;
    return 0;
}

static void col_h_services(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    json_t *arr = json_array();
    uint64_t since, until;
    int rv;

    if (col_api_arg_time(req, resp, "since", COL_DEFAULT_SINCE, &since) != 0 ||
        col_api_arg_time(req, resp, "until", NULL, &until) != 0) {
        json_decref(arr);
        return;
    }
    if (since > until) {
        json_decref(arr);
        col_api_error(resp, 400, "bad_range", "'since' is after 'until'");
        return;
    }
    if (arr == NULL) {
        col_api_error(resp, 500, "internal", "out of memory");
        return;
    }
    rv = col_store_service_counts(api->store, since, until, col_add_service, arr);
    if (rv != 0) {
        json_decref(arr);
        col_api_store_error(resp, rv, "listing services");
        return;
    }
    col_api_ok(resp, json_pack("{s:o,s:o,s:o}", "services", arr, "since_ns", slq_json_ns(since),
                           "until_ns", slq_json_ns(until)));
}

/* ---- GET /api/v1/stats ---------------------------------------------------- */

#define U(x) ((json_int_t)atomic_load_explicit(&(x), memory_order_relaxed))

static json_t *col_stats_ingest(const col_stats *st)
{
    json_t *by = json_object(), *lat = json_array();
    uint64_t cnt = U(st->write_count), tot = U(st->write_ns_total);

    for (int i = 0; i < COL_REJ_COUNT; i++)
        json_object_set_new(by, col_stats_reject_name((enum col_reject_reason)i),
                            json_integer(U(st->rejected_by[i])));
    for (unsigned i = 0; i < COL_LAT_BUCKETS; i++) {
        uint64_t le = col_stats_lat_bound_us(i);
        json_array_append_new(lat, json_pack("{s:o,s:I}", "lt_us",
                                             le == UINT64_MAX ? json_string("+Inf")
                                                              : json_integer((json_int_t)le),
                                             "count", U(st->write_lat[i])));
    }
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I},s:{s:I,s:o},s:I,s:I,"
        "s:{s:I,s:I,s:I,s:o},s:I,s:I,s:I,s:I}",
        "frames_received", U(st->frames_received), "bytes_received", U(st->bytes_received),
        "frames_stored", U(st->frames_stored), "bytes_stored", U(st->bytes_stored),
        "spans_stored", U(st->spans_stored), "logs_stored", U(st->logs_stored), "duplicates",
        U(st->duplicates), "retries", "total", U(st->retries), "busy", U(st->retry_busy),
        "store_error", U(st->retry_store), "in_flight_duplicate", U(st->retry_inflight),
        "memory", U(st->retry_memory),
        "rejected", "total", U(st->rejected), "by_reason", by, "in_flight",
        (json_int_t)atomic_load(&st->in_flight), "ack_send_errors", U(st->ack_send_errors),
        "write_latency", "count", (json_int_t)cnt, "mean_us",
        (json_int_t)(cnt ? tot / cnt / 1000 : 0), "max_us", U(st->write_ns_max) / 1000,
        "buckets", lat, "in_flight_bytes", (json_int_t)atomic_load(&st->in_flight_bytes),
        "in_flight_budget_bytes", (json_int_t)st->in_flight_budget, "unauthorized",
        U(st->unauthorized), "conns_refused", U(st->conns_refused));
}

static void col_get_stats_safe(col_store *s, col_store_stats *ss)
{
    col_store_get_stats(s, ss);
}

static json_t *col_stats_store(col_store *s)
{
    col_store_stats ss;
    json_t *cfs = json_object();

    col_get_stats_safe(s, &ss);
    for (int i = 0; i < COL_STORE_NCF; i++)
        json_object_set_new(cfs, ss.cf_name[i],
                            json_pack("{s:I,s:I,s:I}", "keys_estimate", (json_int_t)ss.cf_keys[i],
                                      "sst_bytes", (json_int_t)ss.cf_sst_bytes[i],
                                      "memtable_bytes", (json_int_t)ss.cf_mem_bytes[i]));
    return json_pack("{s:o,s:I,s:I,s:b,s:I,s:I,s:I,s:{s:I,s:o,s:I},s:{s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I},"
                     "s:{s:I,s:I,s:I,s:I},s:{s:s,s:I,s:I,s:I,s:I,s:I,s:I}}",
                     "column_families", cfs,
                     "live_data_bytes", (json_int_t)ss.live_data_bytes,
                     "pending_compaction_bytes", (json_int_t)ss.pending_compaction_bytes,
                     "write_stopped", (int)ss.write_stopped, "delayed_write_rate",
                     (json_int_t)ss.delayed_write_rate, "block_cache_bytes",
                     (json_int_t)ss.block_cache_bytes, "edge_tracker_bytes",
                     (json_int_t)ss.edge_tracker_bytes, "retention", "runs",
                     (json_int_t)ss.retention_runs, "cutoff_ns",
                     slq_json_ns(ss.retention_cutoff_ns), "last_pass_ms",
                     (json_int_t)ss.retention_last_ms, "sealing", "runs",
                     (json_int_t)ss.seal_runs, "frames_sealed", (json_int_t)ss.sealed_frames,
                     "items_sealed", (json_int_t)ss.sealed_items, "blocks_written",
                     (json_int_t)ss.sealed_blocks, "bytes_in", (json_int_t)ss.seal_bytes_in,
                     "bytes_out", (json_int_t)ss.seal_bytes_out, "sealed_until_ns",
                     slq_json_ns(ss.sealed_until_ns), "last_pass_ms", (json_int_t)ss.seal_last_ms,
                     "trace_index", "windows_written", (json_int_t)ss.tidx_windows, "rows_written",
                     (json_int_t)ss.tidx_rows, "trace_frame_pairs", (json_int_t)ss.tidx_pairs,
                     "frames_reindexed_at_start", (json_int_t)ss.tidx_reindexed_frames, "disk",
                     "state", ss.disk_state ? ss.disk_state : "ok", "free_bytes",
                     (json_int_t)ss.disk_free_bytes, "reserve_bytes",
                     (json_int_t)ss.disk_reserve_bytes, "ballast_bytes",
                     (json_int_t)ss.disk_ballast_bytes, "low_events", (json_int_t)ss.disk_low_events,
                     "failures", (json_int_t)ss.disk_failures, "reopens",
                     (json_int_t)ss.disk_reopens);
}

static void col_h_stats(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    const col_stats *st = api->stats;
    uint64_t up = req->now_ns > st->started_ns ? req->now_ns - st->started_ns : 0;

    json_t *body = json_pack("{s:I,s:o,s:o,s:{s:I,s:I}}", "uptime_s",
                             (json_int_t)(up / 1000000000ULL), "ingest", col_stats_ingest(st),
                             "store", col_stats_store(api->store), "http", "requests",
                             U(st->http_requests), "errors", U(st->http_errors));

    if (body != NULL && api->alerts != NULL)
        json_object_set_new(body, "alerts", col_alerts_stats_json(api->alerts));
    col_api_ok(resp, body);
}

/* ---- GET /metrics (Prometheus text format 0.0.4) -------------------------- */

struct col_text {
    char *p;
    size_t n, cap;
};

static void col_tprintf(struct col_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void col_tprintf(struct col_text *t, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (t->p == NULL)
        return;
    for (;;) {
        va_start(ap, fmt);
        k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if ((size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        {
            char *np = realloc(t->p, t->cap * 2 + (size_t)k);
            if (np == NULL) {
                free(t->p);
                t->p = NULL;
                return;
            }
            t->p = np;
            t->cap = t->cap * 2 + (size_t)k;
        }
    }
}

static void col_metric(struct col_text *t, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    col_tprintf(t, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                (unsigned long long)v);
}

static void col_h_metrics(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    const col_stats *st = api->stats;
    struct col_text t = {malloc(8192), 0, 8192};
    col_store_stats ss;
    uint64_t cum = 0;

    col_metric(&t, "sightline_frames_received_total", "counter", "Frames received.",
               U(st->frames_received));
    col_metric(&t, "sightline_bytes_received_total", "counter", "Frame bytes received.",
               U(st->bytes_received));
    col_metric(&t, "sightline_frames_stored_total", "counter", "Frames stored (acknowledged).",
               U(st->frames_stored));
    col_metric(&t, "sightline_bytes_stored_total", "counter", "Frame bytes stored.",
               U(st->bytes_stored));
    col_metric(&t, "sightline_spans_stored_total", "counter", "Spans stored.", U(st->spans_stored));
    col_metric(&t, "sightline_logs_stored_total", "counter", "Log records stored.",
               U(st->logs_stored));
    col_metric(&t, "sightline_duplicates_total", "counter", "Frames answered DUPLICATE.",
               U(st->duplicates));
    col_metric(&t, "sightline_unauthorized_total", "counter",
               "Frames and receiver requests refused for a missing or wrong ingest token.",
               U(st->unauthorized));
    col_metric(&t, "sightline_ingest_conns_refused_total", "counter",
               "Ingest connections closed on arrival: over --ingest-max-conns.",
               U(st->conns_refused));
    col_tprintf(&t, "# HELP sightline_retries_total Frames answered RETRY, by reason.\n"
                    "# TYPE sightline_retries_total counter\n");
    col_tprintf(&t, "sightline_retries_total{reason=\"busy\"} %llu\n",
                (unsigned long long)U(st->retry_busy));
    col_tprintf(&t, "sightline_retries_total{reason=\"store_error\"} %llu\n",
                (unsigned long long)U(st->retry_store));
    col_tprintf(&t, "sightline_retries_total{reason=\"in_flight_duplicate\"} %llu\n",
                (unsigned long long)U(st->retry_inflight));
    col_tprintf(&t, "sightline_retries_total{reason=\"memory\"} %llu\n",
                (unsigned long long)U(st->retry_memory));
    col_tprintf(&t, "# HELP sightline_rejected_total Frames answered REJECTED, by reason.\n"
                    "# TYPE sightline_rejected_total counter\n");
    for (int i = 0; i < COL_REJ_COUNT; i++)
        col_tprintf(&t, "sightline_rejected_total{reason=\"%s\"} %llu\n",
                    col_stats_reject_name((enum col_reject_reason)i),
                    (unsigned long long)U(st->rejected_by[i]));
    col_metric(&t, "sightline_in_flight_frames", "gauge", "Frames being decoded or written now.",
               (uint64_t)atomic_load(&st->in_flight));
    col_metric(&t, "sightline_in_flight_bytes", "gauge",
               "Estimated memory of the frames in flight.",
               (uint64_t)atomic_load(&st->in_flight_bytes));
    col_metric(&t, "sightline_ack_send_errors_total", "counter", "Acks that could not be sent.",
               U(st->ack_send_errors));
    col_tprintf(&t, "# HELP sightline_write_seconds RocksDB write latency per frame.\n"
                    "# TYPE sightline_write_seconds histogram\n");
    for (unsigned i = 0; i < COL_LAT_BUCKETS; i++) {
        uint64_t le = col_stats_lat_bound_us(i);
        cum += U(st->write_lat[i]);
        if (le == UINT64_MAX)
            col_tprintf(&t, "sightline_write_seconds_bucket{le=\"+Inf\"} %llu\n",
                        (unsigned long long)cum);
        else
            col_tprintf(&t, "sightline_write_seconds_bucket{le=\"%g\"} %llu\n", (double)le / 1e6,
                        (unsigned long long)cum);
    }
    col_tprintf(&t, "sightline_write_seconds_sum %.6f\nsightline_write_seconds_count %llu\n",
                (double)U(st->write_ns_total) / 1e9, (unsigned long long)U(st->write_count));
    col_get_stats_safe(api->store, &ss);
    col_tprintf(&t, "# HELP sightline_store_sst_bytes Table bytes on disk, by column family.\n"
                    "# TYPE sightline_store_sst_bytes gauge\n");
    for (int i = 0; i < COL_STORE_NCF; i++)
        col_tprintf(&t, "sightline_store_sst_bytes{cf=\"%s\"} %llu\n", ss.cf_name[i],
                    (unsigned long long)ss.cf_sst_bytes[i]);
    col_tprintf(&t, "# HELP sightline_store_memtable_bytes Memtable bytes, by column family.\n"
                    "# TYPE sightline_store_memtable_bytes gauge\n");
    for (int i = 0; i < COL_STORE_NCF; i++)
        col_tprintf(&t, "sightline_store_memtable_bytes{cf=\"%s\"} %llu\n", ss.cf_name[i],
                    (unsigned long long)ss.cf_mem_bytes[i]);
    col_metric(&t, "sightline_store_pending_compaction_bytes", "gauge",
               "RocksDB estimate of bytes compaction has to rewrite.", ss.pending_compaction_bytes);
    col_metric(&t, "sightline_store_write_stopped", "gauge", "1 while RocksDB stops writes.",
               ss.write_stopped);
    col_metric(&t, "sightline_store_block_cache_bytes", "gauge", "Block cache usage.",
               ss.block_cache_bytes);
    col_metric(&t, "sightline_retention_runs_total", "counter", "Retention passes.",
               ss.retention_runs);
    col_metric(&t, "sightline_retention_cutoff_seconds", "gauge",
               "Data received before this Unix time was dropped.",
               ss.retention_cutoff_ns / 1000000000ULL);
    col_metric(&t, "sightline_trace_index_windows_total", "counter",
               "In-memory trace index windows written to disk.", ss.tidx_windows);
    col_metric(&t, "sightline_trace_index_rows_total", "counter",
               "Trace index rows written (one per trace per window).", ss.tidx_rows);
    col_metric(&t, "sightline_trace_index_pairs_total", "counter",
               "(trace, frame) pairs those rows cover.", ss.tidx_pairs);
    col_metric(&t, "sightline_disk_free_bytes", "gauge",
               "Free space of the data directory's filesystem.", ss.disk_free_bytes);
    col_metric(&t, "sightline_disk_reserve_bytes", "gauge",
               "Free space ingest leaves (0 = no reserve).", ss.disk_reserve_bytes);
    col_metric(&t, "sightline_disk_ingest_paused", "gauge",
               "1 while ingest answers RETRY because the disk is full.",
               ss.disk_state != NULL && strcmp(ss.disk_state, "ok") != 0);
    col_metric(&t, "sightline_disk_failures_total", "counter",
               "I/O errors that stopped RocksDB (the store went read-only).", ss.disk_failures);
    col_metric(&t, "sightline_seal_runs_total", "counter", "Sealing passes.", ss.seal_runs);
    col_metric(&t, "sightline_sealed_frames_total", "counter",
               "Frames rewritten into sealed blocks.", ss.sealed_frames);
    col_metric(&t, "sightline_sealed_items_total", "counter",
               "Spans and log records rewritten into sealed blocks.", ss.sealed_items);
    col_metric(&t, "sightline_seal_bytes_in_total", "counter",
               "Bytes of the frames sealing replaced.", ss.seal_bytes_in);
    col_metric(&t, "sightline_seal_bytes_out_total", "counter",
               "Bytes of the sealed blocks written.", ss.seal_bytes_out);
    col_metric(&t, "sightline_sealed_until_seconds", "gauge",
               "Frames received before this Unix time are sealed.",
               ss.sealed_until_ns / 1000000000ULL);
    {
        /* RED per service and operation (metrics_red.c: cached, bounded) */
        char *red = NULL;
        size_t rlen = 0;
        if (col_redm_render(col_redm_shared(api->store, api->stats), req->now_ns, &red,
                            &rlen) == 0)
            col_tprintf(&t, "%.*s", (int)rlen, red);
        free(red);
    }
    if (t.p == NULL) {
        col_api_error(resp, 500, "internal", "out of memory");
        return;
    }
    resp->status = 200;
    resp->text = t.p;
}

static void col_h_health(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    (void)api;
    (void)req;
    col_api_ok(resp, json_pack("{s:s}", "status", "ok"));
}

/* The one routing table.  Exact routes and prefix routes; first match wins,
 * so list a prefix after any exact route it would shadow. */
static const struct col_route col_routes[] = {
    {"/healthz", 0, col_h_health},
    /* trace search (api_query.c); shadows the older root listing below */
    {"/api/v1/traces", 0, col_apiq_traces},
    {"/api/v1/traces/", 1, col_apiq_trace},
    {"/api/v1/services", 0, col_h_services},
    {"/api/v1/services/", 1, col_apiq_service_sub},
    {"/api/v1/red", 0, col_apiq_red},
    {"/api/v1/deps", 0, col_apiq_deps},
    {"/api/v1/logs", 0, col_apiq_logs},
    {"/api/v1/top", 0, col_apiq_top},
    {"/api/v1/sdk", 0, col_api_sdk},
    {"/api/v1/stats", 0, col_h_stats},
    /* alerts (alerts_api.c): rules CRUD takes PUT, POST and DELETE */
    {"/api/v1/alerts", 0, col_alerts_api, 1},
    {"/api/v1/alerts/", 1, col_alerts_api, 1},
    {"/metrics", 0, col_h_metrics},
};

int col_api_dispatch(const col_api *api, col_api_req *req, col_api_resp *resp)
{
    const char *p = req->path;

    resp->status = 0;
    resp->body = NULL;
    resp->json = NULL;
    resp->json_len = 0;
    resp->text = NULL;
    if (strncmp(p, "/api/", 5) != 0 && strcmp(p, "/api") != 0 && strcmp(p, "/healthz") != 0 &&
        strcmp(p, "/metrics") != 0)
        return 0;
    for (size_t i = 0; i < sizeof col_routes / sizeof col_routes[0]; i++) {
        const struct col_route *r = &col_routes[i];
        size_t n = strlen(r->path);
        int hit = r->prefix ? strncmp(p, r->path, n) == 0 : strcmp(p, r->path) == 0;
        if (!hit)
            continue;
        if (!r->any_method && strcmp(req->method, "GET") != 0 &&
            strcmp(req->method, "HEAD") != 0) {
            col_api_error(resp, 405, "method_not_allowed", "%.16s %.200s: only GET is supported",
                          req->method, p);
            return 1;
        }
        req->rest = r->prefix ? p + n : "";
        r->fn(api, req, resp);
        return 1;
    }
    col_api_error(resp, 404, "not_found", "no API endpoint %.200s; see docs/api.md", p);
    return 1;
}
