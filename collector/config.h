/*
 * config.h - every setting of sightline-collector in one struct, with its
 * default, its range and its help text in one table (config.c).  Command-line
 * flags and (later) a config file both go through col_config_set(), so a
 * setting is parsed and range-checked in exactly one place.
 */
#ifndef COL_CONFIG_H
#define COL_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/slc_wire.h"

#define COL_MAX_LISTEN 16
#define COL_URL_MAX 512
#define COL_PATH_MAX 1024
#define COL_MAX_TOKENS 64 /* = COL_INGEST_MAX_TOKENS */
#define COL_TOKEN_MAX 256 /* a token is 1..255 visible ASCII bytes, plus the NUL */

typedef struct col_config {
    char data_dir[COL_PATH_MAX];          /* "data" */
    char listen[COL_MAX_LISTEN][COL_URL_MAX]; /* "listen", repeatable */
    int nlisten;
    char http_addr[256];                  /* "http": HOST:PORT */
    char ui_dir[COL_PATH_MAX];            /* "ui": "" = find it next to the binary */
    int workers;                          /* "workers" */
    int fsync;                            /* "fsync" */
    int http_threads;                     /* "http-threads" */
    int http_max_conns;                   /* "http-max-conns" */
    int http_timeout_s;                   /* "http-timeout" */
    int block_cache_mb;                   /* "block-cache-mb" */
    int write_buffer_mb;                  /* "write-buffer-mb" */
    int trace_max_spans;                  /* "trace-max-spans" */
    int trace_max_blocks;                 /* "trace-max-blocks" */
    int list_max_scan;                    /* "list-max-scan" */
    uint64_t query_max_range_ns;          /* "query-max-range": 1m..3650d */
    int query_max_buckets;                /* "query-max-buckets" */
    int query_max_series;                 /* "query-max-series" */
    int query_max_results;                /* "query-max-results" */
    slc_wire_limits limits;               /* "max-frame-bytes", "max-spans", ... */
    int log_level;                        /* "log-level": debug|info|warn|error */
    uint64_t retention_age_ns;            /* "retention-age": 0 = keep forever */
    int retention_size_mb;                /* "retention-size-mb": 0 = no size bound */
    uint64_t retention_interval_ns;       /* "retention-interval" */
    int memory_budget_mb;                 /* "memory-budget-mb" */
    char config_file[COL_PATH_MAX];       /* "config": the file read, "" = none */
    char rules_file[COL_PATH_MAX];        /* "rules": alert rules, "" = DATA/alert-rules.json */
    uint64_t alert_interval_ns;           /* "alert-interval" */
    int alert_history;                    /* "alert-history" */
    char ingest_tokens[COL_MAX_TOKENS][COL_TOKEN_MAX]; /* "ingest-token", repeatable, + file */
    int ningest_tokens;
    char ingest_tokens_file[COL_PATH_MAX]; /* "ingest-tokens-file": one token a line */
    char tls_cert[COL_PATH_MAX];          /* "tls-cert": PEM, for tls+tcp:// listen URLs */
    char tls_key[COL_PATH_MAX];           /* "tls-key": PEM, unencrypted */
    /* HTTP API hardening (http.c, auth.h) */
    char http_tls_cert[COL_PATH_MAX];     /* "http-tls-cert": PEM; set = HTTPS */
    char http_tls_key[COL_PATH_MAX];      /* "http-tls-key": PEM, unencrypted */
    char api_tokens[COL_MAX_TOKENS][COL_TOKEN_MAX]; /* "api-token-read", "api-token-admin" */
    int api_token_admin[COL_MAX_TOKENS];  /* 1 = admin scope, 0 = read */
    int napi_tokens;
    char api_tokens_file[COL_PATH_MAX];   /* "api-tokens-file": "read|admin TOKEN" lines */
    int http_max_conns_per_ip;            /* "http-max-conns-per-ip" */
    int http_max_header_bytes;            /* "http-max-header-bytes" */
    int http_max_headers;                 /* "http-max-headers" */
    int http_max_url_bytes;               /* "http-max-url-bytes" */
    int http_max_body_bytes;              /* "http-max-body-bytes": API request bodies */
    int min_free_disk_mb;                 /* "min-free-disk-mb": 0 = no check */
    int disk_ballast_mb;                  /* "disk-ballast-mb": -1 = half the reserve, 0 = none */
    uint64_t seal_after_ns;               /* "seal-after": 0 = never seal */
    uint64_t seal_interval_ns;            /* "seal-interval" */
    int seal_block_items;                 /* "seal-block-items" */
    int seal_level;                       /* "seal-level": zstd level */
    int compact_on_exit;                  /* "compact-on-exit" */
    int ingest_max_conns;                 /* "ingest-max-conns": nng connections, all listeners */
} col_config;

/* Fills *c with every default.  "listen" starts empty; col_config_finish()
 * adds the default URL when none was given. */
void col_config_defaults(col_config *c);

/* Sets one setting by name (as in the flag without "--", or a config-file
 * key) from its text value.  For booleans, value may be NULL (= true), or
 * "true/false/1/0/yes/no".  On failure returns SL_ECONFIG and writes a
 * message naming the setting and the accepted values into err. */
int col_config_set(col_config *c, const char *name, const char *value, char *err, size_t errlen);

/* 1 if the setting takes no value on the command line (a boolean flag),
 * 0 if it takes one, -1 if no such setting exists. */
int col_config_is_flag(const char *name);

/* Applies the defaults that depend on other settings (listen URL, ui dir
 * next to argv0).  argv0 may be NULL.  Returns 0 or SL_ECONFIG with err. */
int col_config_finish(col_config *c, const char *argv0, char *err, size_t errlen);

/* Reads a config file: one "key = value" per line (keys are the flag
 * names without "--"), '#' starts a comment, blank lines are skipped;
 * "listen" may repeat.  Returns 0, or SL_ECONFIG / SL_EIO with err naming
 * the file, the line and the key. */
int col_config_load_file(col_config *c, const char *path, char *err, size_t errlen);

/* 1 if the setting can change on SIGHUP without a restart. */
int col_config_reloadable(const char *name);

/* Describes every setting whose value differs between a and b into out
 * ("retention-age: 7d -> 1d; ..."), marking those that need a restart.
 * Returns the number of differences. */
int col_config_diff(const col_config *a, const col_config *b, char *out, size_t outlen);

/* Prints every setting with its default and help text (for --help). */
void col_config_print_help(FILE *f, const char *prog);

#endif /* COL_CONFIG_H */
