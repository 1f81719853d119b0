/*
 * recv.c - the HTTP side of the OTLP and Zipkin receivers (see otlp.h):
 * content negotiation, gzip, conversion, storage through the native ingest
 * path, and the responses the OTLP/HTTP specification and Zipkin's API
 * define.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "gzip.h"
#include "ingest.h"
#include "otlp.h"
#include "common/slc_bytes.h"
#include "sightline.h"

#define COL_RECV_ZLIB_LEVEL 1 /* stored frames are compressed like the SDK's */

/* google.rpc.Code values the OTLP specification uses in its Status body. */
enum { COL_RPC_INVALID_ARGUMENT = 3, COL_RPC_RESOURCE_EXHAUSTED = 8, COL_RPC_INTERNAL = 13,
       COL_RPC_UNAVAILABLE = 14, COL_RPC_UNAUTHENTICATED = 16 };

enum col_recv_fmt { COL_FMT_JSON = 0, COL_FMT_PROTO = 1 };

enum col_recv_route col_recv_match(const char *path)
{
    if (strcmp(path, "/v1/traces") == 0)
        return COL_RECV_OTLP_TRACES;
    if (strcmp(path, "/v1/logs") == 0)
        return COL_RECV_OTLP_LOGS;
    if (strcmp(path, "/api/v2/spans") == 0)
        return COL_RECV_ZIPKIN;
    return COL_RECV_NONE;
}

static atomic_size_t col_recv_buffered; /* bytes held by all uploads */

col_recv_upload *col_recv_upload_new(enum col_recv_route route, size_t max)
{
    col_recv_upload *u = calloc(1, sizeof *u);

    if (u == NULL)
        return NULL;
    u->route = route;
    u->max = max;
    return u;
}

static void col_recv_drop(col_recv_upload *u)
{
    atomic_fetch_sub(&col_recv_buffered, u->cap);
    free(u->buf);
    u->buf = NULL;
    u->len = u->cap = 0;
}

void col_recv_upload_append(col_recv_upload *u, const char *data, size_t n)
{
    if (u->too_big || u->busy)
        return;
    if (n > u->max - u->len) {
        u->too_big = 1;
        col_recv_drop(u);
        return;
    }
    if (u->len + n > u->cap) {
        size_t ncap = u->cap ? u->cap : 64 * 1024;
        uint8_t *nb;
        while (ncap < u->len + n)
            ncap *= 2;
        if (ncap > u->max)
            ncap = u->max;
        /* reserve the growth in the shared budget first */
        if (atomic_fetch_add(&col_recv_buffered, ncap - u->cap) + (ncap - u->cap) >
            COL_RECV_BUFFER_MAX) {
            atomic_fetch_sub(&col_recv_buffered, ncap - u->cap);
            u->busy = 1;
            col_recv_drop(u);
            return;
        }
        nb = realloc(u->buf, ncap + 1);
        if (nb == NULL) {
            atomic_fetch_sub(&col_recv_buffered, ncap - u->cap);
            u->busy = 1;
            col_recv_drop(u);
            return;
        }
        u->buf = nb;
        u->cap = ncap;
    }
    memcpy(u->buf + u->len, data, n);
    u->len += n;
}

void col_recv_upload_free(col_recv_upload *u)
{
    if (u == NULL)
        return;
    col_recv_drop(u);
    free(u);
}

/* ---- response bodies ---------------------------------------------------------- */

static void col_pb_put_varint(uint8_t *buf, size_t *n, uint64_t v)
{
    *n += slc_varint_put(buf + *n, v);
}

/* field num, LEN, bytes; buf must have room for len + 20 */
static void col_pb_put_bytes(uint8_t *buf, size_t *n, uint32_t num, const void *p, size_t len)
{
    col_pb_put_varint(buf, n, (uint64_t)num << 3 | 2);
    col_pb_put_varint(buf, n, len);
    memcpy(buf + *n, p, len);
    *n += len;
}

static void col_resp_json(col_recv_resp *resp, int status, json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    resp->status = status;
    resp->ctype = "application/json";
    resp->body = (uint8_t *)text;
    resp->len = text != NULL ? strlen(text) : 0;
    if (text == NULL)
        resp->status = 500;
}

/* OTLP failure: a google.rpc.Status in the request's encoding. */
static void col_resp_status(col_recv_resp *resp, enum col_recv_fmt fmt, int http, int code,
                            const char *msg)
{
    size_t mlen = strlen(msg), n = 0;

    if (fmt == COL_FMT_JSON) {
        col_resp_json(resp, http, json_pack("{s:i,s:s}", "code", code, "message", msg));
        return;
    }
    resp->status = http;
    resp->ctype = "application/x-protobuf";
    resp->body = malloc(mlen + 32);
    if (resp->body == NULL) {
        resp->len = 0;
        return;
    }
    col_pb_put_varint(resp->body, &n, 1 << 3 | 0);
    col_pb_put_varint(resp->body, &n, (uint64_t)code);
    col_pb_put_bytes(resp->body, &n, 2, msg, mlen);
    resp->len = n;
}

/* OTLP success: Export{Trace,Logs}ServiceResponse, with partial_success
 * { int64 rejected_spans|rejected_log_records = 1; string error_message = 2; }
 * when items were left out. */
static void col_resp_otlp_ok(col_recv_resp *resp, enum col_recv_route route,
                             enum col_recv_fmt fmt, const col_conv_report *rep)
{
    const char *field = route == COL_RECV_OTLP_LOGS ? "rejectedLogRecords" : "rejectedSpans";
    size_t mlen = strlen(rep->reason), n = 0, inner = 0;
    uint8_t tmp[16];

    if (fmt == COL_FMT_JSON) {
        if (rep->rejected == 0) {
            col_resp_json(resp, 200, json_object());
            return;
        }
        char num[24];
        snprintf(num, sizeof num, "%u", rep->rejected); /* int64 as a string, as proto3 JSON */
        col_resp_json(resp, 200,
                      json_pack("{s:{s:s,s:s}}", "partialSuccess", field, num, "errorMessage",
                                rep->reason));
        return;
    }
    resp->status = 200;
    resp->ctype = "application/x-protobuf";
    if (rep->rejected == 0)
        return; /* an empty message */
    resp->body = malloc(mlen + 64);
    if (resp->body == NULL)
        return;
    col_pb_put_varint(tmp, &inner, 1 << 3 | 0);
    col_pb_put_varint(tmp, &inner, rep->rejected);
    /* partial_success = 1: its length covers the count and the message */
    col_pb_put_varint(resp->body, &n, 1 << 3 | 2);
    {
        size_t mhdr = 0;
        uint8_t h[16];
        col_pb_put_varint(h, &mhdr, 2 << 3 | 2);
        col_pb_put_varint(h, &mhdr, mlen);
        col_pb_put_varint(resp->body, &n, inner + mhdr + mlen);
    }
    memcpy(resp->body + n, tmp, inner);
    n += inner;
    col_pb_put_bytes(resp->body, &n, 2, rep->reason, mlen);
    resp->len = n;
}

static void col_resp_text(col_recv_resp *resp, int status, const char *msg)
{
    resp->status = status;
    resp->ctype = "text/plain; charset=utf-8";
    resp->body = (uint8_t *)strdup(msg);
    resp->len = resp->body != NULL ? strlen(msg) : 0;
}

/* A failure in the route's own shape. */
static void col_fail(col_recv_resp *resp, enum col_recv_route route, enum col_recv_fmt fmt,
                     int http, const char *msg)
{
    int code = http == 413 ? COL_RPC_RESOURCE_EXHAUSTED
               : http == 401 ? COL_RPC_UNAUTHENTICATED
               : http >= 500 ? (http == 503 ? COL_RPC_UNAVAILABLE : COL_RPC_INTERNAL)
                             : COL_RPC_INVALID_ARGUMENT;

    if (http == 503)
        resp->retry_after = "1";
    if (route == COL_RECV_ZIPKIN)
        col_resp_text(resp, http, msg);
    else
        col_resp_status(resp, fmt, http, code, msg);
}

/* ---- the request ---------------------------------------------------------------- */

/* The media type of a Content-Type value, without parameters, compared
 * case-insensitively. */
static int col_media_is(const char *ctype, const char *want)
{
    size_t n = strlen(want);
    if (ctype == NULL)
        return 0;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    return strncasecmp(ctype, want, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ' || ctype[n] == '\t');
}

/* FNV-1a 64: the batch id of a request, so a retried body maps to the same
 * frame and is answered as a duplicate. */
static uint64_t col_body_hash(enum col_recv_route route, const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ (uint64_t)route) * 0x100000001b3ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

void col_recv_too_big(enum col_recv_route route, const char *ctype, size_t max,
                      col_recv_resp *resp)
{
    char msg[160];
    enum col_recv_fmt fmt = route != COL_RECV_ZIPKIN && (col_media_is(ctype, "application/x-protobuf") ||
                                                         col_media_is(ctype, "application/protobuf"))
                                ? COL_FMT_PROTO
                                : COL_FMT_JSON;

    memset(resp, 0, sizeof *resp);
    snprintf(msg, sizeof msg,
             "request body is larger than %zu bytes; send smaller batches, nothing was stored", max);
    col_fail(resp, route, fmt, 413, msg);
}

int col_recv_authorize(struct col_ingest *in, col_stats *stats, enum col_recv_route route,
                       const char *ctype, const char *authz, col_recv_resp *resp)
{
    enum col_recv_fmt fmt = route != COL_RECV_ZIPKIN && (col_media_is(ctype, "application/x-protobuf") ||
                                                         col_media_is(ctype, "application/protobuf"))
                                ? COL_FMT_PROTO
                                : COL_FMT_JSON;
    const char *tok = NULL;
    size_t n = 0;

    if (in == NULL || !col_ingest_requires_token(in))
        return 0;
    if (authz != NULL) {
        while (*authz == ' ' || *authz == '\t')
            authz++;
        if (strncasecmp(authz, "Bearer", 6) == 0 && (authz[6] == ' ' || authz[6] == '\t')) {
            tok = authz + 7;
            while (*tok == ' ' || *tok == '\t')
                tok++;
            n = strlen(tok);
            while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
                n--;
        }
    }
    if (tok != NULL && n > 0 && col_ingest_token_ok(in, (const uint8_t *)tok, n))
        return 0;
    atomic_fetch_add_explicit(&stats->unauthorized, 1, memory_order_relaxed);
    memset(resp, 0, sizeof *resp);
    col_fail(resp, route, fmt, 401,
             tok == NULL ? "this collector requires an ingest token: send 'Authorization: Bearer "
                           "TOKEN' with one of its --ingest-token values; nothing was stored"
                         : "ingest token not accepted (Authorization: Bearer); nothing was stored");
    return SL_EAUTH;
}

void col_recv_handle(col_store *store, col_stats *stats, const slc_wire_limits *lim,
                     enum col_recv_route route, const char *method, const char *ctype,
                     const char *cenc, const uint8_t *body, size_t len, col_recv_resp *resp)
{
    enum col_recv_fmt fmt = COL_FMT_JSON;
    slc_wire_limits dl;
    uint8_t *inflated = NULL, *frame = NULL;
    size_t flen = 0;
    slc_batch *b = NULL;
    col_conv_report rep = {0};
    slc_ack ack;
    char err[320], msg[400];
    int rv;

    memset(resp, 0, sizeof *resp);
    if (lim == NULL) {
        slc_wire_limits_default(&dl);
        lim = &dl;
    }
    if (body == NULL) {
        body = (const uint8_t *)"";
        len = 0;
    }
    if (route != COL_RECV_ZIPKIN && col_media_is(ctype, "application/x-protobuf"))
        fmt = COL_FMT_PROTO;
    else if (route != COL_RECV_ZIPKIN && col_media_is(ctype, "application/protobuf"))
        fmt = COL_FMT_PROTO;
    if (strcmp(method, "POST") != 0) {
        snprintf(msg, sizeof msg, "%.16s is not allowed here: send telemetry with POST", method);
        col_fail(resp, route, fmt, 405, msg);
        return;
    }
    if (fmt == COL_FMT_JSON && !col_media_is(ctype, "application/json") &&
        !(route == COL_RECV_ZIPKIN && (ctype == NULL || *ctype == '\0'))) {
        snprintf(msg, sizeof msg,
                 "unsupported Content-Type '%.80s': use %s", ctype != NULL ? ctype : "",
                 route == COL_RECV_ZIPKIN ? "application/json (Zipkin v2 JSON)"
                                          : "application/json or application/x-protobuf");
        col_fail(resp, route, fmt, 415, msg);
        return;
    }
    if (cenc != NULL && *cenc != '\0' && strcasecmp(cenc, "identity") != 0) {
        if (strcasecmp(cenc, "gzip") != 0 && strcasecmp(cenc, "x-gzip") != 0) {
            snprintf(msg, sizeof msg, "unsupported Content-Encoding '%.40s': use gzip or none",
                     cenc);
            col_fail(resp, route, fmt, 415, msg);
            return;
        }
        rv = col_gunzip(body, len, lim->payload_bytes, &inflated, &len, err, sizeof err);
        if (rv != 0) {
            snprintf(msg, sizeof msg, "%s (limit %u bytes inflated)", err, lim->payload_bytes);
            col_fail(resp, route, fmt, rv == SL_ETOOBIG ? 413 : rv == SL_ENOMEM ? 503 : 400, msg);
            return;
        }
        body = inflated;
    }
    err[0] = '\0';
    switch (route) {
    case COL_RECV_OTLP_TRACES:
        rv = fmt == COL_FMT_PROTO
                 ? col_otlp_traces_proto(body, len, lim, &b, &rep, err, sizeof err)
                 : col_otlp_traces_json((const char *)body, len, lim, &b, &rep, err, sizeof err);
        break;
    case COL_RECV_OTLP_LOGS:
        rv = fmt == COL_FMT_PROTO
                 ? col_otlp_logs_proto(body, len, lim, &b, &rep, err, sizeof err)
                 : col_otlp_logs_json((const char *)body, len, lim, &b, &rep, err, sizeof err);
        break;
    default:
        rv = col_zipkin_v2_json((const char *)body, len, lim, &b, &rep, err, sizeof err);
        break;
    }
    if (rv != 0) {
        snprintf(msg, sizeof msg, "%s; nothing was stored", err);
        col_fail(resp, route, fmt, rv == SL_ENOMEM ? 503 : 400, msg);
        goto out;
    }
    if (b->nspans + b->nlogs > 0) {
        b->batch_id = col_body_hash(route, body, len);
        rv = slc_wire_encode(b, COL_RECV_ZLIB_LEVEL, &frame, &flen);
        if (rv != 0) {
            snprintf(msg, sizeof msg, "encoding the batch failed: %s", sl_strerror(rv));
            col_fail(resp, route, fmt, rv == SL_ENOMEM ? 503 : 500, msg);
            goto out;
        }
        col_ingest_handle(store, stats, lim, frame, flen, &ack);
        switch (ack.status) {
        case SLC_ACK_STORED:
        case SLC_ACK_DUPLICATE:
            break;
        case SLC_ACK_RETRY:
            snprintf(msg, sizeof msg, "not stored, retry later: %s", ack.reason);
            col_fail(resp, route, fmt, 503, msg);
            goto out;
        case SLC_ACK_UNAUTHORIZED:
            snprintf(msg, sizeof msg, "unauthorized: %s", ack.reason);
            col_fail(resp, route, fmt, 401, msg);
            goto out;
        default:
            snprintf(msg, sizeof msg, "rejected, nothing was stored: %s", ack.reason);
            col_fail(resp, route, fmt, ack.err == SL_EWIRE_LIMIT ? 413 : 400, msg);
            goto out;
        }
    }
    if (route == COL_RECV_ZIPKIN) {
        /* Zipkin answers 202 with no body; say what was left out, if anything. */
        if (rep.rejected > 0)
            col_resp_json(resp, 202,
                          json_pack("{s:i,s:i,s:s}", "accepted", (int)rep.accepted, "rejected",
                                    (int)rep.rejected, "message", rep.reason));
        else
            resp->status = 202;
    } else {
        col_resp_otlp_ok(resp, route, fmt, &rep);
    }
out:
    free(frame);
    free(inflated);
    slc_batch_free(b);
}

void col_recv_finish(col_store *store, col_stats *stats, const slc_wire_limits *lim,
                     const col_recv_upload *u, const char *method, const char *ctype,
                     const char *cenc, col_recv_resp *resp)
{
    if (u->too_big) {
        col_recv_too_big(u->route, ctype, u->max, resp);
    } else if (u->busy) {
        int proto = u->route != COL_RECV_ZIPKIN && (col_media_is(ctype, "application/x-protobuf") ||
                                                    col_media_is(ctype, "application/protobuf"));
        memset(resp, 0, sizeof *resp);
        col_fail(resp, u->route, proto ? COL_FMT_PROTO : COL_FMT_JSON, 503,
                 "the receiver's buffers are full; retry later, nothing was stored");
    } else {
        col_recv_handle(store, stats, lim, u->route, method, ctype, cenc, u->buf, u->len, resp);
    }
}
