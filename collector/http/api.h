/*
 * api.h - the JSON HTTP API: one routing table and its handlers.
 *
 * Kept free of the HTTP server library: a handler sees a col_api_req (path,
 * the part after its route prefix, a query-argument lookup) and fills a
 * col_api_resp (status + JSON body).  http.c adapts these to libmicrohttpd;
 * tests may call col_api_dispatch() directly.  To add an endpoint, add a
 * handler and one row to the table in api.c.
 */
#ifndef COL_API_H
#define COL_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "store/store.h"

typedef struct col_api {
    col_store *store;  /* borrowed */
    col_stats *stats;  /* borrowed */
    int trace_max_spans;
    int trace_max_blocks;
    int list_max_scan;
    /* Query bounds (config "query-max-*", api_query.c, api_sdk.c); 0 = the
     * COL_API_DEF_* default, so a zeroed col_api keeps working. */
    uint64_t query_max_range_ns; /* since..until of one query */
    int query_max_buckets;       /* RED buckets per series */
    int query_max_series;        /* RED series in one answer */
    int query_max_results;       /* largest 'limit' of lists (traces, logs, top) */
    /* Limits for the OTLP and Zipkin receivers (http.c, otlp.h): request
     * bodies over frame_bytes get 413; NULL = defaults.  Borrowed. */
    const slc_wire_limits *ingest_limits;
    /* The alert engine (alerts.h); NULL = the alert endpoints answer 503.
     * Borrowed. */
    struct col_alerts *alerts;
} col_api;

typedef struct col_api_req {
    const char *method;
    const char *path; /* decoded, without the query string */
    const char *rest; /* set by the dispatcher: path after a prefix route */
    /* Returns the decoded value of query argument name, or NULL (the
     * first value when the argument is repeated). */
    const char *(*arg)(void *cx, const char *name);
    /* The i-th value (from 0) of a repeated query argument, or NULL past
     * the last; NULL function = only arg() is available. */
    const char *(*arg_nth)(void *cx, const char *name, unsigned i);
    void *cx;
    uint64_t now_ns;
    /* The request body of PUT/POST/DELETE on routes that accept them
     * (gathered by http.c, at most COL_API_BODY_MAX bytes); NULL for GET. */
    const char *body;
    size_t body_len;
    const char *content_type; /* the Content-Type header, or NULL */
} col_api_req;

#define COL_API_DEF_MAX_RANGE_NS (31ULL * 24 * 3600 * 1000000000ULL)
#define COL_API_DEF_MAX_BUCKETS 2000
#define COL_API_DEF_MAX_SERIES 1024
#define COL_API_DEF_MAX_RESULTS 1000

#define COL_API_BODY_MAX ((size_t)1 << 20)

/* An answer carries at most one of body, json and text. */
typedef struct col_api_resp {
    int status;
    json_t *body; /* owned by the response; NULL = no body */
    /* A ready JSON text (malloc'd, owned, json_len bytes plus a NUL), sent
     * as is: big answers (/api/v1/red) are written directly (jsonw.h)
     * instead of as a jansson tree. */
    char *json;
    size_t json_len;
    char *text; /* malloc'd text/plain body instead of JSON (/metrics); owned */
} col_api_resp;

/* Routes an API request (path under /api/, /healthz or /metrics).  Returns 1 and
 * fills *resp when the path belongs to the API (including 404/405 errors for
 * unknown API paths), 0 when it does not (the caller serves static files).
 * The caller owns resp->body, resp->json and resp->text (col_api_resp_free). */
int col_api_dispatch(const col_api *api, col_api_req *req, col_api_resp *resp);

/* Frees what *resp owns and empties it. */
void col_api_resp_free(col_api_resp *resp);

/* The answer as JSON text, whichever form it has: *out is malloc'd and
 * owned by the caller, *len its length.  SL_ENOTFOUND when resp has no JSON
 * (a text answer or none), SL_ENOMEM. */
int col_api_resp_text(const col_api_resp *resp, char **out, size_t *len);

/* Fills *resp with 200 and body (a new reference, taken); a NULL body
 * (out of memory while building it) becomes the 500 error instead. */
void col_api_ok(col_api_resp *resp, json_t *body);

/* Fills *resp with the one error shape:
 * {"error":{"status":S,"code":"...","message":"..."}}.  Replaces any
 * answer already in *resp. */
void col_api_error(col_api_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A failed store read: 503 "unavailable" while the store is being reopened
 * (SL_EBUSY: the disk filled up; retry shortly), else 500 "store".  The
 * message is what failed (printf-style) followed by the error's text. */
void col_api_store_error(col_api_resp *resp, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads the time argument name (default dflt; NULL means now): RFC 3339,
 * Unix nanoseconds or an age like 15m, relative to req->now_ns.  Returns 0
 * with *out set, or -1 with a 400 "bad_time" error in *resp. */
int col_api_arg_time(const col_api_req *req, col_api_resp *resp, const char *name,
                     const char *dflt, uint64_t *out);

/* The query bounds of api, defaults filled in (see struct col_api). */
static inline uint64_t col_api_max_range(const col_api *api)
{
    return api->query_max_range_ns ? api->query_max_range_ns : COL_API_DEF_MAX_RANGE_NS;
}
static inline int col_api_max_buckets(const col_api *api)
{
    return api->query_max_buckets > 0 ? api->query_max_buckets : COL_API_DEF_MAX_BUCKETS;
}
static inline int col_api_max_series(const col_api *api)
{
    return api->query_max_series > 0 ? api->query_max_series : COL_API_DEF_MAX_SERIES;
}
static inline int col_api_max_results(const col_api *api)
{
    return api->query_max_results > 0 ? api->query_max_results : COL_API_DEF_MAX_RESULTS;
}

/* Writes ns as the largest whole unit that divides it ("31d", "90m", "45s")
 * into buf, for error messages naming a configured range. */
void col_api_fmt_dur(uint64_t ns, char *buf, size_t len);

#endif /* COL_API_H */
