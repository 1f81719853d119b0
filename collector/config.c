/*
 * config.c - the table of settings (see config.h).
 *
 * One row per setting: its name (the flag without "--" and the future config
 * file key), its kind, where it lives in col_config, its range and help.
 * Flags, the config file and --help are all driven by this table, so adding
 * a setting is one line here and one field in the struct.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sightline.h"
#include "common/slc_util.h"

#define COL_DEFAULT_LISTEN "tcp://127.0.0.1:4318"

enum col_kind { K_STR, K_LIST, K_INT, K_U32, K_BOOL, K_LEVEL, K_DUR, K_TOKEN, K_APITOKEN };

struct col_setting {
    const char *name;
    enum col_kind kind;
    size_t off;  /* offset in col_config */
    size_t size; /* K_STR: buffer size */
    long long min, max;
    const char *arg; /* metavariable for --help */
    const char *help;
    int reload; /* 1 = applied on SIGHUP */
};

#define OFF(f) offsetof(col_config, f)
#define LIM(f) (offsetof(col_config, limits) + offsetof(slc_wire_limits, f))

static const struct col_setting col_settings[] = {
    {"config", K_STR, OFF(config_file), COL_PATH_MAX, 0, 0, "FILE",
     "read settings from FILE (key = value lines, keys as these flags); flags override it"},
    {"data", K_STR, OFF(data_dir), COL_PATH_MAX, 0, 0, "DIR",
     "data directory (RocksDB); created if missing"},
    {"listen", K_LIST, OFF(listen), COL_URL_MAX, 0, 0, "URL",
     "nng URL to receive batches on (tcp://HOST:PORT, ipc:///path); repeatable"},
    {"http", K_STR, OFF(http_addr), 256, 0, 0, "HOST:PORT",
     "address of the HTTP API and dashboard (port 0 = any free port)"},
    {"ui", K_STR, OFF(ui_dir), COL_PATH_MAX, 0, 0, "DIR",
     "dashboard files served at / (default: ../../ui-static from the binary, else ./ui-static)"},
    {"workers", K_INT, OFF(workers), 0, 1, 64, "N", "ingest worker threads (nng contexts)"},
    {"fsync", K_BOOL, OFF(fsync), 0, 0, 1, NULL,
     "fsync the WAL before acknowledging (survives power loss, not just a crash)"},
    {"http-threads", K_INT, OFF(http_threads), 0, 1, 64, "N", "HTTP server threads"},
    {"http-max-conns", K_INT, OFF(http_max_conns), 0, 1, 100000, "N",
     "concurrent HTTP connections"},
    {"http-timeout", K_INT, OFF(http_timeout_s), 0, 1, 3600, "SECONDS",
     "idle HTTP connections are closed after this"},
    {"block-cache-mb", K_INT, OFF(block_cache_mb), 0, 1, 65536, "MB", "RocksDB block cache"},
    {"write-buffer-mb", K_INT, OFF(write_buffer_mb), 0, 1, 4096, "MB",
     "RocksDB memtable size of the blocks column family"},
    {"trace-max-spans", K_INT, OFF(trace_max_spans), 0, 1, 1000000, "N",
     "spans returned for one trace (the rest are counted as dropped)"},
    {"trace-max-blocks", K_INT, OFF(trace_max_blocks), 0, 1, 1000000, "N",
     "stored blocks read to assemble one trace"},
    {"list-max-scan", K_INT, OFF(list_max_scan), 0, 1, 100000000, "N",
     "index rows a trace list may scan before it stops"},
    {"query-max-range", K_DUR, OFF(query_max_range_ns), 0, 0, 0, "DURATION",
     "longest since..until of one query (1m..3650d); longer ones get 400"},
    {"query-max-buckets", K_INT, OFF(query_max_buckets), 0, 1, 100000, "N",
     "time buckets of one RED answer (/api/v1/red); more get 400"},
    {"query-max-series", K_INT, OFF(query_max_series), 0, 1, 100000, "N",
     "series of one RED answer (service, operation pairs); more get 400"},
    {"query-max-results", K_INT, OFF(query_max_results), 0, 1, 100000, "N",
     "largest 'limit' of trace searches, log queries and top lists"},
    {"max-frame-bytes", K_U32, LIM(frame_bytes), 0, 64, 1LL << 30, "BYTES",
     "largest frame accepted (larger frames are refused by the transport)"},
    {"max-payload-bytes", K_U32, LIM(payload_bytes), 0, 64, 1LL << 30, "BYTES",
     "largest inflated payload", 1},
    {"max-strings", K_U32, LIM(strings), 0, 1, UINT32_MAX, "N", "string-table entries per frame",
     1},
    {"max-string-bytes", K_U32, LIM(string_bytes), 0, 1, UINT32_MAX, "BYTES",
     "length of one string (names, attribute values, log bodies)", 1},
    {"max-spans", K_U32, LIM(spans), 0, 0, UINT32_MAX, "N", "spans per frame", 1},
    {"max-logs", K_U32, LIM(logs), 0, 0, UINT32_MAX, "N", "log records per frame", 1},
    {"max-attrs", K_U32, LIM(attrs_per_item), 0, 0, UINT32_MAX, "N",
     "attributes of one span, event, link or log record", 1},
    {"max-events", K_U32, LIM(events_per_span), 0, 0, UINT32_MAX, "N", "events per span", 1},
    {"max-links", K_U32, LIM(links_per_span), 0, 0, UINT32_MAX, "N", "links per span", 1},
    {"log-level", K_LEVEL, OFF(log_level), 0, 0, 0, "LEVEL", "debug, info, warn or error", 1},
    {"retention-age", K_DUR, OFF(retention_age_ns), 0, 0, 0, "DURATION",
     "drop data received longer ago than this (30s, 12h, 7d; 0 = keep forever)", 1},
    {"retention-size-mb", K_INT, OFF(retention_size_mb), 0, 0, 100000000, "MB",
     "drop the oldest data while the tables on disk exceed this (0 = no size bound)", 1},
    {"retention-interval", K_DUR, OFF(retention_interval_ns), 0, 0, 0, "DURATION",
     "how often the background retention pass runs", 1},
    {"seal-after", K_DUR, OFF(seal_after_ns), 0, 0, 0, "DURATION",
     "rewrite frames received this long ago into trace-sorted, column-encoded sealed blocks "
     "(docs/storage.md; 0 = never: frames stay as received, several times larger)"},
    {"seal-interval", K_DUR, OFF(seal_interval_ns), 0, 0, 0, "DURATION",
     "how often the background sealing pass runs"},
    {"seal-block-items", K_INT, OFF(seal_block_items), 0, 256, 1000000, "N",
     "spans and logs per sealed block (larger compress better, cost more to search)"},
    {"seal-level", K_INT, OFF(seal_level), 0, 1, 19, "N", "zstd level of sealed blocks"},
    {"compact-on-exit", K_BOOL, OFF(compact_on_exit), 0, 0, 1, NULL,
     "at shutdown, seal every frame and compact the store (slower exit, smallest data "
     "directory; benchmarks use it to measure bytes on disk)"},
    {"memory-budget-mb", K_INT, OFF(memory_budget_mb), 0, 64, 1048576, "MB",
     "memory for memtables (1/2) and frames in flight (1/4); over it, senders get RETRY"},
    {"rules", K_STR, OFF(rules_file), COL_PATH_MAX, 0, 0, "FILE",
     "alert rules (JSON, docs/alerts.md; API changes are written back to it; default "
     "DATA/alert-rules.json); re-read on SIGHUP"},
    {"alert-interval", K_DUR, OFF(alert_interval_ns), 0, 0, 0, "DURATION",
     "how often alert rules are evaluated (100ms..1h)", 1},
    {"alert-history", K_INT, OFF(alert_history), 0, 10, 100000, "N",
     "alert history entries kept (transitions and deliveries)"},
    {"ingest-token", K_TOKEN, OFF(ingest_tokens), 0, 0, 0, "TOKEN",
     "accept only batches carrying this token (1..255 visible ASCII; repeatable; also OTLP/"
     "Zipkin 'Authorization: Bearer'); none = open ingest",
     1},
    {"ingest-tokens-file", K_STR, OFF(ingest_tokens_file), COL_PATH_MAX, 0, 0, "FILE",
     "more ingest tokens, one a line ('#' comments); re-read on SIGHUP", 1},
    {"tls-cert", K_STR, OFF(tls_cert), COL_PATH_MAX, 0, 0, "FILE",
     "PEM certificate (chain) for tls+tcp:// listen URLs"},
    {"tls-key", K_STR, OFF(tls_key), COL_PATH_MAX, 0, 0, "FILE",
     "PEM private key (unencrypted) of --tls-cert"},
    /* HTTP API: K_APITOKEN's min is the scope (1 read, 2 admin) */
    {"http-tls-cert", K_STR, OFF(http_tls_cert), COL_PATH_MAX, 0, 0, "FILE",
     "PEM certificate (chain): serve the API and dashboard over HTTPS only"},
    {"http-tls-key", K_STR, OFF(http_tls_key), COL_PATH_MAX, 0, 0, "FILE",
     "PEM private key (unencrypted) of --http-tls-cert"},
    {"api-token-read", K_APITOKEN, OFF(api_tokens), 0, 1, 0, "TOKEN",
     "API token that may read (GET /api/..., /metrics; 'Authorization: Bearer'); repeatable; "
     "none of these and no admin token = open API"},
    {"api-token-admin", K_APITOKEN, OFF(api_tokens), 0, 2, 0, "TOKEN",
     "API token that may also change data (alert rules: PUT, POST, DELETE); repeatable"},
    {"api-tokens-file", K_STR, OFF(api_tokens_file), COL_PATH_MAX, 0, 0, "FILE",
     "more API tokens, one 'read TOKEN' or 'admin TOKEN' a line ('#' comments)"},
    {"http-max-conns-per-ip", K_INT, OFF(http_max_conns_per_ip), 0, 1, 100000, "N",
     "concurrent HTTP connections from one client address"},
    {"http-max-header-bytes", K_INT, OFF(http_max_header_bytes), 0, 1024, 1048576, "BYTES",
     "request headers (names and values) larger than this get 431"},
    {"http-max-headers", K_INT, OFF(http_max_headers), 0, 8, 10000, "N",
     "requests with more header lines get 431"},
    {"http-max-url-bytes", K_INT, OFF(http_max_url_bytes), 0, 256, 1048576, "BYTES",
     "requests whose path and query are longer get 414"},
    {"http-max-body-bytes", K_INT, OFF(http_max_body_bytes), 0, 1024, 64 << 20, "BYTES",
     "API request bodies (alert rules) larger than this get 413 (receivers: --max-frame-bytes)"},
    {"min-free-disk-mb", K_INT, OFF(min_free_disk_mb), 0, 0, 1048576, "MB",
     "refuse writes (senders get RETRY) while the data disk has less free space than this or "
     "than the memtables hold (0 = no check)"},
    {"disk-ballast-mb", K_INT, OFF(disk_ballast_mb), 0, -1, 1048576, "MB",
     "a file kept in --data and deleted when the reserve is crossed, so RocksDB can finish "
     "what it is writing (-1 = half of --min-free-disk-mb, 0 = none)"},
    {"ingest-max-conns", K_INT, OFF(ingest_max_conns), 0, 1, 1000000, "N",
     "concurrent ingest connections over all --listen URLs; more are closed on arrival"},
};

#define NSETTINGS (sizeof col_settings / sizeof col_settings[0])

void col_config_defaults(col_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "%s", "sightline-data");
    snprintf(c->http_addr, sizeof c->http_addr, "%s", "127.0.0.1:4380");
    c->workers = 2; /* measured best on 2 cores (bench-ingest: 4 workers contend) */
    c->fsync = 0;
    c->http_threads = 2;
    c->http_max_conns = 256;
    c->http_timeout_s = 30;
    c->block_cache_mb = 64;
    c->write_buffer_mb = 64;
    c->trace_max_spans = 10000;
    c->trace_max_blocks = 4096;
    c->list_max_scan = 1000000;
    c->query_max_range_ns = 31ULL * 24 * 3600 * 1000000000ULL;
    c->query_max_buckets = 2000;
    c->query_max_series = 1024;
    c->query_max_results = 1000;
    slc_wire_limits_default(&c->limits);
    c->log_level = COL_LOG_INFO;
    c->retention_age_ns = 7ULL * 24 * 3600 * 1000000000ULL;
    c->retention_size_mb = 0;
    c->retention_interval_ns = 60ULL * 1000000000ULL;
    c->memory_budget_mb = 512;
    c->http_max_conns_per_ip = 64;
    c->http_max_header_bytes = 16384;
    c->http_max_headers = 64;
    c->http_max_url_bytes = 8192;
    c->http_max_body_bytes = 1 << 20;
    c->min_free_disk_mb = 64;
    c->disk_ballast_mb = -1;
    c->seal_after_ns = 60ULL * 1000000000ULL;
    c->seal_interval_ns = 10ULL * 1000000000ULL;
    c->seal_block_items = 16384;
    c->seal_level = 3;
    c->ingest_max_conns = 1024;
    c->alert_interval_ns = 10ULL * 1000000000ULL;
    c->alert_history = 1000;
}

static const struct col_setting *col_find(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(col_settings[i].name, name) == 0)
            return &col_settings[i];
    return NULL;
}

int col_config_is_flag(const char *name)
{
    const struct col_setting *s = col_find(name);
    if (s == NULL)
        return -1;
    return s->kind == K_BOOL;
}

static int col_parse_ll(const char *v, long long *out)
{
    char *end;
    long long x;

    if (v == NULL || *v == '\0')
        return -1;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = x;
    return 0;
}

/* Checks a token value (ingest or API): 1..COL_TOKEN_MAX-1 visible ASCII
 * characters.  The value is a secret, so the message never echoes it.
 * Writes its length into *len on success. */
static int col_token_check(const char *name, const char *value, size_t *len, char *err,
                           size_t errlen)
{
    size_t n = strlen(value);
    int ok = n > 0 && n < COL_TOKEN_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = value[i] > ' ' && value[i] < 0x7f;
    if (!ok) {
        snprintf(err, errlen, "'%s' must be 1..%d visible ASCII characters (no spaces)", name,
                 COL_TOKEN_MAX - 1);
        return SL_ECONFIG;
    }
    *len = n;
    return 0;
}

int col_config_set(col_config *c, const char *name, const char *value, char *err, size_t errlen)
{
    const struct col_setting *s = col_find(name);
    char *base = (char *)c;
    long long x;

    if (s == NULL) {
        snprintf(err, errlen, "unknown setting '%s'; see --help for the list", name);
        return SL_ECONFIG;
    }
    if (s->kind != K_BOOL && value == NULL) {
        snprintf(err, errlen, "'%s' needs a value (%s)", name, s->arg);
        return SL_ECONFIG;
    }
    switch (s->kind) {
    case K_STR:
        if (value[0] == '\0' || strlen(value) >= s->size) {
            snprintf(err, errlen, "'%s' must be a non-empty value shorter than %zu bytes",
                     name, s->size);
            return SL_ECONFIG;
        }
        snprintf(base + s->off, s->size, "%s", value);
        return 0;
    case K_LIST:
        if (c->nlisten >= COL_MAX_LISTEN) {
            snprintf(err, errlen, "'%s' given more than %d times", name, COL_MAX_LISTEN);
            return SL_ECONFIG;
        }
        if (strlen(value) >= COL_URL_MAX || strstr(value, "://") == NULL) {
            snprintf(err, errlen,
                     "'%s' value '%.80s' is not an nng URL (tcp://HOST:PORT or ipc:///path)",
                     name, value);
            return SL_ECONFIG;
        }
        snprintf(c->listen[c->nlisten++], COL_URL_MAX, "%s", value);
        return 0;
    case K_TOKEN:
    case K_APITOKEN: {
        int api = s->kind == K_APITOKEN;
        int *count = api ? &c->napi_tokens : &c->ningest_tokens;
        size_t n;
        if (col_token_check(name, value, &n, err, errlen) != 0)
            return SL_ECONFIG;
        if (*count >= COL_MAX_TOKENS) {
            snprintf(err, errlen, "more than %d %s tokens", COL_MAX_TOKENS, api ? "API" : "ingest");
            return SL_ECONFIG;
        }
        if (api) {
            c->api_token_admin[*count] = s->min == 2;
            memcpy(c->api_tokens[*count], value, n + 1);
        } else {
            memcpy(c->ingest_tokens[*count], value, n + 1);
        }
        (*count)++;
        return 0;
    }
    case K_INT:
    case K_U32:
        if (col_parse_ll(value, &x) != 0 || x < s->min || x > s->max) {
            snprintf(err, errlen, "'%s' value '%.40s' is not an integer in %lld..%lld", name,
                     value, s->min, s->max);
            return SL_ECONFIG;
        }
        if (s->kind == K_INT)
            *(int *)(void *)(base + s->off) = (int)x;
        else
            *(uint32_t *)(void *)(base + s->off) = (uint32_t)x;
        return 0;
    case K_BOOL:
        if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
            strcmp(value, "yes") == 0)
            *(int *)(void *)(base + s->off) = 1;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                 strcmp(value, "no") == 0)
            *(int *)(void *)(base + s->off) = 0;
        else {
            snprintf(err, errlen, "'%s' value '%.40s' is not true or false", name, value);
            return SL_ECONFIG;
        }
        return 0;
    case K_DUR: {
        uint64_t ns = 0;
        if (strcmp(value, "0") != 0 && slc_duration_parse(value, &ns) != 0) {
            snprintf(err, errlen,
                     "'%s' value '%.40s' is not a duration (e.g. 30s, 15m, 12h, 7d, or 0)", name,
                     value);
            return SL_ECONFIG;
        }
        *(uint64_t *)(void *)(base + s->off) = ns;
        return 0;
    }
    case K_LEVEL: {
        static const char *const lv[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (strcmp(value, lv[i]) == 0) {
                c->log_level = i;
                return 0;
            }
        snprintf(err, errlen, "'%s' value '%.40s' is not debug, info, warn or error", name,
                 value);
        return SL_ECONFIG;
    }
    }
    snprintf(err, errlen, "setting '%s' has no parser", name);
    return SL_ECONFIG;
}

static int col_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The dashboard lives in the source tree at ui-static/, two levels above
 * build/bin/; look there first so `build/bin/sightline-collector` works from
 * any working directory, then fall back to ./ui-static. */
static void col_find_ui(col_config *c, const char *argv0)
{
    char exe[COL_PATH_MAX], cand[COL_PATH_MAX + 32];
    ssize_t n;
    char *slash;

    (void)argv0;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(cand, sizeof cand, "%s/../../ui-static", exe);
            if (col_is_dir(cand) && strlen(cand) < sizeof c->ui_dir) {
                memcpy(c->ui_dir, cand, strlen(cand) + 1);
                return;
            }
        }
    }
    snprintf(c->ui_dir, sizeof c->ui_dir, "%s", "ui-static");
}

static char *col_trim(char *p);

/* One line of a token file, trimmed, not blank, not a comment: sets what it
 * names, or writes why not into msg and returns SL_ECONFIG. */
typedef int (*col_token_line_fn)(col_config *c, char *line, char *msg, size_t msglen);

/* Reads a token file (what names the setting, for messages): every line
 * that is not blank or a '#' comment goes to fn.  The buffer is wiped
 * afterwards: tokens are credentials.  0 or SL_ECONFIG. */
static int col_read_token_file(col_config *c, const char *path, const char *what,
                               col_token_line_fn fn, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[COL_TOKEN_MAX + 64], msg[256];
    int lineno = 0, rv = 0;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
        return SL_ECONFIG;
    }
    while (rv == 0 && fgets(line, sizeof line, f) != NULL) {
        char *p = col_trim(line);
        lineno++;
        if (*p == '\0' || *p == '#')
            continue;
        if (fn(c, p, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rv = SL_ECONFIG;
        }
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    return rv;
}

/* --ingest-tokens-file: one token a line. */
static int col_ingest_token_line(col_config *c, char *line, char *msg, size_t msglen)
{
    return col_config_set(c, "ingest-token", line, msg, msglen);
}

/* --api-tokens-file: "read TOKEN" or "admin TOKEN". */
static int col_api_token_line(col_config *c, char *line, char *msg, size_t msglen)
{
    if (strncmp(line, "read", 4) == 0 && (line[4] == ' ' || line[4] == '\t'))
        return col_config_set(c, "api-token-read", col_trim(line + 4), msg, msglen);
    if (strncmp(line, "admin", 5) == 0 && (line[5] == ' ' || line[5] == '\t'))
        return col_config_set(c, "api-token-admin", col_trim(line + 5), msg, msglen);
    snprintf(msg, msglen, "expected 'read TOKEN' or 'admin TOKEN'");
    return SL_ECONFIG;
}

int col_config_finish(col_config *c, const char *argv0, char *err, size_t errlen)
{
    if (c->ingest_tokens_file[0] != '\0' &&
        col_read_token_file(c, c->ingest_tokens_file, "ingest-tokens-file", col_ingest_token_line,
                            err, errlen) != 0)
        return SL_ECONFIG;
    if (c->api_tokens_file[0] != '\0' &&
        col_read_token_file(c, c->api_tokens_file, "api-tokens-file", col_api_token_line, err,
                            errlen) != 0)
        return SL_ECONFIG;
    if ((c->http_tls_cert[0] == '\0') != (c->http_tls_key[0] == '\0')) {
        snprintf(err, errlen, "HTTPS needs both 'http-tls-cert' and 'http-tls-key'");
        return SL_ECONFIG;
    }
    if (c->nlisten == 0)
        snprintf(c->listen[c->nlisten++], COL_URL_MAX, "%s", COL_DEFAULT_LISTEN);
    if (c->ui_dir[0] == '\0')
        col_find_ui(c, argv0);
    if (c->alert_interval_ns < 100000000ULL || c->alert_interval_ns > 3600ULL * 1000000000ULL) {
        snprintf(err, errlen, "'alert-interval' must be a duration in 100ms..1h, like 10s");
        return SL_ECONFIG;
    }
    if (c->query_max_range_ns < 60ULL * 1000000000ULL ||
        c->query_max_range_ns > 3650ULL * 86400 * 1000000000ULL) {
        snprintf(err, errlen, "'query-max-range' must be a duration in 1m..3650d, like 31d");
        return SL_ECONFIG;
    }
    if (strchr(c->http_addr, ':') == NULL) {
        snprintf(err, errlen, "'http' value '%.80s' must be HOST:PORT, e.g. 127.0.0.1:4380",
                 c->http_addr);
        return SL_ECONFIG;
    }
    return 0;
}

static void col_fmt_dur(FILE *f, uint64_t ns)
{
    static const struct { uint64_t ns; const char *u; } units[] = {
        {86400000000000ULL, "d"}, {3600000000000ULL, "h"}, {60000000000ULL, "m"},
        {1000000000ULL, "s"}, {1000000ULL, "ms"}};
    if (ns == 0) {
        fprintf(f, "0");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ns % units[i].ns == 0) {
            fprintf(f, "%llu%s", (unsigned long long)(ns / units[i].ns), units[i].u);
            return;
        }
    fprintf(f, "%lluns", (unsigned long long)ns);
}

static void col_print_value(FILE *f, const col_config *c, const struct col_setting *s)
{
    const char *base = (const char *)c;

    switch (s->kind) {
    case K_STR:
        if (strcmp(s->name, "ui") == 0)
            fprintf(f, "auto");
        else if (strcmp(s->name, "rules") == 0 && base[s->off] == '\0')
            fprintf(f, "DATA/alert-rules.json");
        else
            fprintf(f, "%s", base + s->off);
        break;
    case K_LIST: fprintf(f, "%s", COL_DEFAULT_LISTEN); break;
    case K_INT: fprintf(f, "%d", *(const int *)(const void *)(base + s->off)); break;
    case K_U32: fprintf(f, "%u", *(const uint32_t *)(const void *)(base + s->off)); break;
    case K_BOOL: fprintf(f, "%s", *(const int *)(const void *)(base + s->off) ? "on" : "off"); break;
    case K_LEVEL: fprintf(f, "info"); break;
    case K_DUR: col_fmt_dur(f, *(const uint64_t *)(const void *)(base + s->off)); break;
    case K_TOKEN: /* never the secrets themselves */
        if (c->ningest_tokens == 0)
            fprintf(f, "none: open");
        else
            fprintf(f, "%d set", c->ningest_tokens);
        break;
    case K_APITOKEN: {
        int n = 0;
        for (int i = 0; i < c->napi_tokens; i++)
            n += c->api_token_admin[i] == (s->min == 2);
        if (n == 0)
            fprintf(f, "none");
        else
            fprintf(f, "%d set", n);
        break;
    }
    }
}

void col_config_print_help(FILE *f, const char *prog)
{
    col_config d;
    char left[64];

    col_config_defaults(&d);
    fprintf(f,
            "usage: %s --data DIR --listen URL [--listen URL ...] --http HOST:PORT [options]\n"
            "\n"
            "Receives Sightline batches over nng, stores them in RocksDB (acknowledging a\n"
            "batch only after its write reached the WAL) and serves the HTTP API and the\n"
            "dashboard.  SIGTERM or SIGINT: stop receiving, finish in-flight batches, close\n"
            "the store, exit 0.\n\noptions (default in brackets):\n",
            prog);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct col_setting *s = &col_settings[i];
        if (s->arg != NULL)
            snprintf(left, sizeof left, "--%s %s", s->name, s->arg);
        else
            snprintf(left, sizeof left, "--%s", s->name);
        fprintf(f, "  %-28s %s [", left, s->help);
        col_print_value(f, &d, s);
        fprintf(f, "]\n");
    }
    fprintf(f, "  %-28s %s\n", "--help", "print this help and exit");
    fprintf(f, "\nExit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad flags.\n");
}

/* Trims spaces at both ends in place; returns the start. */
static char *col_trim(char *p)
{
    char *e;
    while (*p == ' ' || *p == '\t')
        p++;
    e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return p;
}

int col_config_load_file(col_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096], msg[512];
    int lineno = 0, rv = 0;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    while (rv == 0 && fgets(line, sizeof line, f) != NULL) {
        char *p, *eq, *key, *val;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line longer than %zu bytes", path, lineno,
                     sizeof line - 2);
            rv = SL_ECONFIG;
            break;
        }
        p = col_trim(line);
        if (*p == '\0' || *p == '#')
            continue;
        eq = strchr(p, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected 'key = value', got '%.60s'", path, lineno, p);
            rv = SL_ECONFIG;
            break;
        }
        *eq = '\0';
        key = col_trim(p);
        val = col_trim(eq + 1);
        if (strcmp(key, "config") == 0) {
            snprintf(err, errlen, "%s:%d: 'config' cannot be set inside a config file", path,
                     lineno);
            rv = SL_ECONFIG;
            break;
        }
        if (col_config_set(c, key, val, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rv = SL_ECONFIG;
        }
    }
    fclose(f);
    return rv;
}

int col_config_reloadable(const char *name)
{
    const struct col_setting *s = col_find(name);
    return s != NULL && s->reload;
}

int col_config_diff(const col_config *a, const col_config *b, char *out, size_t outlen)
{
    int n = 0;
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct col_setting *s = &col_settings[i];
        char va[128], vb[128];
        FILE *fa, *fb;

        if (s->kind == K_TOKEN) {
            if (a->ningest_tokens != b->ningest_tokens ||
                memcmp(a->ingest_tokens, b->ingest_tokens, sizeof a->ingest_tokens) != 0) {
                used += (size_t)snprintf(out + used, used < outlen ? outlen - used : 0,
                                         "%singest tokens changed", n ? "; " : "");
                n++;
            }
            continue;
        }
        if (s->kind == K_APITOKEN) {
            if (s->min == 1 &&
                (a->napi_tokens != b->napi_tokens ||
                 memcmp(a->api_tokens, b->api_tokens, sizeof a->api_tokens) != 0 ||
                 memcmp(a->api_token_admin, b->api_token_admin, sizeof a->api_token_admin) != 0)) {
                used += (size_t)snprintf(out + used, used < outlen ? outlen - used : 0,
                                         "%sAPI tokens changed (needs a restart)", n ? "; " : "");
                n++;
            }
            continue;
        }
        if (s->kind == K_LIST) {
            if (a->nlisten != b->nlisten ||
                memcmp(a->listen, b->listen, sizeof a->listen) != 0) {
                used += (size_t)snprintf(out + used, used < outlen ? outlen - used : 0,
                                         "%slisten changed (needs a restart)", n ? "; " : "");
                n++;
            }
            continue;
        }
        fa = fmemopen(va, sizeof va, "w");
        fb = fmemopen(vb, sizeof vb, "w");
        if (fa == NULL || fb == NULL) {
            if (fa)
                fclose(fa);
            if (fb)
                fclose(fb);
            continue;
        }
        if (s->kind == K_LEVEL) {
            static const char *const lv[] = {"debug", "info", "warn", "error"};
            fprintf(fa, "%s", lv[a->log_level & 3]);
            fprintf(fb, "%s", lv[b->log_level & 3]);
        } else {
            col_print_value(fa, a, s);
            col_print_value(fb, b, s);
        }
        fclose(fa);
        fclose(fb);
        if (strcmp(va, vb) != 0 && used < outlen) {
            used += (size_t)snprintf(out + used, outlen - used, "%s%s: %s -> %s%s", n ? "; " : "",
                                     s->name, va, vb, s->reload ? "" : " (needs a restart)");
            n++;
        }
    }
    return n;
}
