/*
 * otlp.h - receivers for the ecosystem's protocols: OTLP/HTTP (JSON and
 * protobuf, traces and logs) and Zipkin v2 JSON, as pure converters from a
 * request body to an slc_batch, plus the HTTP glue that stores the result
 * like a native frame.
 *
 * The converters read only body[0..len), check every length, enforce the
 * limits of *lim (NULL = defaults) and allocate nothing they do not return.
 * Two kinds of failure:
 *  - the body is malformed (not JSON, wrong JSON types, broken protobuf
 *    framing, more spans or log records than lim allows): the function
 *    fails, *out is untouched and err names the field (HTTP 400);
 *  - one item holds an invalid value (a trace id of the wrong length or all
 *    zero, end before start, too many attributes, invalid UTF-8, a string
 *    longer than lim->string_bytes, ...): that span or log record is left
 *    out and counted in *rep (OTLP "partial success").  When every item of a
 *    non-empty body is left out, the function fails with SL_EWIRE_VALUE and
 *    the first item's reason (nothing would be stored).
 * docs/interop.md has the field mapping.
 */
#ifndef COL_OTLP_H
#define COL_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "common/slc_wire.h"
#include "stats.h"
#include "store/store.h"

/* What a converter kept and left out.  reason is NUL-terminated. */
typedef struct col_conv_report {
    uint32_t accepted; /* spans or log records in the batch */
    uint32_t rejected; /* items left out for an invalid value */
    char reason[256];  /* why the first rejected item was left out; "" if none */
} col_conv_report;

/* The converters.  On success (0) *out is a new batch owned by the caller
 * (slc_batch_free()), possibly empty, with batch_id 0, and *rep (may be
 * NULL) is filled.  On failure returns SL_EPARSE (malformed JSON or a field
 * of the wrong type), SL_EWIRE_TRUNCATED / SL_EWIRE_VARINT / SL_EWIRE_VALUE
 * (broken protobuf, or every item invalid), SL_EWIRE_LIMIT (a count over
 * lim) or SL_ENOMEM, and writes an explanation into err (may be NULL).
 * body need not be NUL-terminated. */
int col_otlp_traces_json(const char *body, size_t len, const slc_wire_limits *lim,
                         slc_batch **out, col_conv_report *rep, char *err, size_t errlen);
int col_otlp_logs_json(const char *body, size_t len, const slc_wire_limits *lim,
                       slc_batch **out, col_conv_report *rep, char *err, size_t errlen);
int col_otlp_traces_proto(const uint8_t *body, size_t len, const slc_wire_limits *lim,
                          slc_batch **out, col_conv_report *rep, char *err, size_t errlen);
int col_otlp_logs_proto(const uint8_t *body, size_t len, const slc_wire_limits *lim,
                        slc_batch **out, col_conv_report *rep, char *err, size_t errlen);
int col_zipkin_v2_json(const char *body, size_t len, const slc_wire_limits *lim,
                       slc_batch **out, col_conv_report *rep, char *err, size_t errlen);

/* ---- HTTP glue (recv.c) ----------------------------------------------------
 * Kept free of the HTTP server library like api.c: http.c accumulates the
 * body with col_recv_upload_* and hands it to col_recv_handle(). */

enum col_recv_route {
    COL_RECV_NONE = 0,
    COL_RECV_OTLP_TRACES, /* POST /v1/traces */
    COL_RECV_OTLP_LOGS,   /* POST /v1/logs */
    COL_RECV_ZIPKIN       /* POST /api/v2/spans */
};

/* The receiver route of path (any method), or COL_RECV_NONE. */
enum col_recv_route col_recv_match(const char *path);

/* A request body being received.  Growth stops at max bytes: further data
 * only sets too_big (the rest of the body is read and dropped, so the
 * client gets its 413 answer instead of a reset connection).  All uploads
 * together hold at most COL_RECV_BUFFER_MAX bytes; an upload that would
 * pass it is marked busy (answered 503, retry later). */
#define COL_RECV_BUFFER_MAX ((size_t)256 << 20)

typedef struct col_recv_upload {
    enum col_recv_route route;
    uint8_t *buf;
    size_t len, cap, max;
    int too_big;
    int busy;
} col_recv_upload;

/* Returns a new upload for route with a cap of max bytes, or NULL (no
 * memory).  Owned by the caller: col_recv_upload_free(). */
col_recv_upload *col_recv_upload_new(enum col_recv_route route, size_t max);

/* Appends data[0..n); never fails: problems are recorded in too_big / busy
 * and answered by col_recv_finish(). */
void col_recv_upload_append(col_recv_upload *u, const char *data, size_t n);

/* Frees an upload and gives its bytes back to the shared budget.  NULL is
 * a no-op. */
void col_recv_upload_free(col_recv_upload *u);

/* A response: status, content type (static string), body (malloc'd, owned
 * by the response, may be NULL with len 0) and an optional Retry-After
 * value (static string). */
typedef struct col_recv_resp {
    int status;
    const char *ctype;
    uint8_t *body;
    size_t len;
    const char *retry_after;
} col_recv_resp;

/* Handles one complete request of route: checks the method, Content-Type
 * and Content-Encoding (NULL when absent), inflates gzip, converts, encodes
 * the batch into a native frame whose batch id is a hash of the route and
 * the (inflated) body, and stores it through col_ingest_handle(), so a
 * client's retry of the same body is answered as a duplicate and nothing is
 * stored twice.  A 2xx is answered only after the write has committed.
 * store and stats are borrowed; lim NULL = defaults.  Fills *resp (the
 * caller frees resp->body).  Thread-safe. */
void col_recv_handle(col_store *store, col_stats *stats, const slc_wire_limits *lim,
                     enum col_recv_route route, const char *method, const char *ctype,
                     const char *cenc, const uint8_t *body, size_t len, col_recv_resp *resp);

/* Answers a completely received upload: 413 if it was too big, 503 if the
 * buffer budget was full, else col_recv_handle() on its body.  Does not
 * free u. */
void col_recv_finish(col_store *store, col_stats *stats, const slc_wire_limits *lim,
                     const col_recv_upload *u, const char *method, const char *ctype,
                     const char *cenc, col_recv_resp *resp);

struct col_ingest;

/* Checks a receiver request's "Authorization: Bearer TOKEN" (authz: the
 * header value, NULL when absent) against the ingest tokens of in, in
 * constant time (col_ingest_token_ok).  in NULL or no token configured =
 * open.  Returns 0 when the request may go on; else counts it in
 * stats->unauthorized, fills *resp with a 401 in the route's shape (OTLP
 * Status UNAUTHENTICATED, Zipkin text) that says what to send, and returns
 * SL_EAUTH.  Call before reading the body (http.c, on the request's first
 * callback).  Thread-safe. */
int col_recv_authorize(struct col_ingest *in, col_stats *stats, enum col_recv_route route,
                       const char *ctype, const char *authz, col_recv_resp *resp);

/* Fills *resp with the 413 answer for a body over max bytes, in the
 * route's shape (ctype: the request's Content-Type, may be NULL). */
void col_recv_too_big(enum col_recv_route route, const char *ctype, size_t max,
                      col_recv_resp *resp);

#endif /* COL_OTLP_H */
