/*
 * otlp_int.h - private to the receivers (otlp_json.c, otlp_proto.c,
 * zipkin.c): the batch builder they share.  It enforces the limits, checks
 * strings (length, UTF-8) and ids, copies resource and scope attributes onto
 * every item, and lets a converter drop one invalid item without leaving
 * traces of it in the batch.
 *
 * Protocol of use, per item (span or log record):
 *   col_conv_item_begin()           -- marks the batch, counts the item
 *   col_conv_group_begin(); attrs  -- the item's attributes, then
 *   col_conv_ctx_apply()            -- the resource/scope attributes
 *   events / links, each with its own attribute group
 *   col_conv_commit_span() / _log() -- adds it, or rolls back if marked bad
 * A validation problem inside an item calls col_conv_bad() and carries on:
 * later builder calls on that item do nothing, and the commit rolls back.
 * Functions returning int return 0 or a request-level error (SL_ENOMEM,
 * SL_EWIRE_LIMIT, ...) whose message is already in the converter's err.
 */
#ifndef COL_OTLP_INT_H
#define COL_OTLP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "otlp.h"

#define COL_CONV_MAX_DEPTH 16 /* nesting of AnyValue arrays / kvlists */
#define COL_CONV_DEFAULT_SERVICE "unknown_service"
#define COL_CONV_UNNAMED "unknown" /* name of a span sent without one */

/* A neutral attribute value. */
typedef struct col_val {
    uint8_t type; /* enum slc_vtype */
    const char *s;
    size_t len; /* SLC_V_STR: s[0..len), need not be NUL-terminated */
    int64_t i;
    double d;
    int b;
} col_val;

typedef struct col_conv {
    slc_batch *b;
    slc_wire_limits lim;
    col_conv_report rep;
    const char *item_name; /* "span" or "log record", for messages */
    uint32_t max_items;
    uint32_t nitems; /* items begun (accepted + rejected) */
    /* the current item */
    int bad;
    uint32_t m_attrs, m_events, m_links;
    uint32_t group_first;
    const char *group_name;
    /* resource attributes [0, nres), then scope attributes [nres, nctx) */
    slc_attr *ctx;
    uint32_t nctx, nres, cap_ctx;
    uint32_t service; /* string index of service.name */
    char *err;
    size_t errlen;
} col_conv;

/* Starts a conversion of spans (logs = 0) or log records (logs = 1).  err
 * receives request-level errors.  Returns 0 or SL_ENOMEM. */
int col_conv_init(col_conv *c, const slc_wire_limits *lim, int logs, char *err, size_t errlen);

/* Frees what the conversion still owns (the batch if not handed out). */
void col_conv_free(col_conv *c);

/* Writes a request-level error message and returns rv. */
int col_conv_fail(col_conv *c, int rv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Hands the batch out (see otlp.h for when that fails). */
int col_conv_done(col_conv *c, slc_batch **out, col_conv_report *rep);

int col_conv_item_begin(col_conv *c);
void col_conv_bad(col_conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void col_conv_group_begin(col_conv *c, const char *name);
uint32_t col_conv_group_count(const col_conv *c);

/* Interns s[0..len) for the current item, checking length and UTF-8. */
int col_conv_str(col_conv *c, const char *s, size_t len, const char *what, uint32_t *idx);

/* Interns the compact JSON text of v (arrays, kvlists, non-string bodies);
 * a JSON string (bytes as base64) is interned as its text, unquoted. */
int col_conv_str_json(col_conv *c, const json_t *v, const char *what, uint32_t *idx);

/* Appends an attribute to the current group.  Empty keys are skipped;
 * non-finite doubles become the strings "NaN", "Infinity", "-Infinity". */
int col_conv_attr(col_conv *c, const char *key, size_t klen, const col_val *v);
int col_conv_attr_json(col_conv *c, const char *key, size_t klen, const json_t *v);

/* Context: resource attributes (service.name becomes the service), then
 * scope attributes. col_conv_ctx_attr() fails the request on an invalid
 * string (a resource is not an item that could be left out alone). */
int col_conv_ctx_reset(col_conv *c);
int col_conv_ctx_attr(col_conv *c, const char *key, size_t klen, const col_val *v,
                      int resource);
int col_conv_ctx_attr_json(col_conv *c, const char *key, size_t klen, const json_t *v,
                           int resource);
void col_conv_ctx_resource_done(col_conv *c);
void col_conv_ctx_scope_reset(col_conv *c);

/* Appends the context attributes to the current group, skipping keys the
 * item already has, stopping silently at lim.attrs_per_item. */
int col_conv_ctx_apply(col_conv *c);

/* Parses an id: hex (2*n digits; zipkin pads shorter ids) or raw bytes.
 * Returns 1 when set, 0 when empty or all zero and allow_empty (out is
 * then zero); otherwise marks the
 * item bad and returns -1. */
int col_conv_id_hex(col_conv *c, const char *s, size_t len, uint8_t *out, size_t n,
                    int allow_empty, int pad, const char *what);
int col_conv_id_raw(col_conv *c, const uint8_t *p, size_t len, uint8_t *out, size_t n,
                    int allow_empty, const char *what);

/* An event's time checked against its span's start: 0 (missing) becomes
 * the start; more than 2^62 ns away marks the item bad (the wire format
 * stores events as signed offsets from the start). */
uint64_t col_conv_event_time(col_conv *c, uint64_t start, uint64_t t);

int col_conv_commit_span(col_conv *c, slc_span *s);
int col_conv_commit_log(col_conv *c, slc_log *l);

/* Severity number (1..24) for an OpenTelemetry severity text ("WARN",
 * "error", "INFO3", "Warning", "critical", ...), 0 when unknown. */
uint8_t col_conv_severity_text(const char *s, size_t len);

/* Base64 (standard alphabet, padded) of p[0..n) as a new JSON string. */
json_t *col_conv_base64(const uint8_t *p, size_t n);

#endif /* COL_OTLP_INT_H */
