/*
 * zipkin.c - Zipkin v2 JSON (POST /api/v2/spans) to slc_batch (see otlp.h).
 *
 * The body is a JSON array of spans (zipkin-api's zipkin2-api.yaml).  Each
 * span names its own service (localEndpoint.serviceName), so there is no
 * resource.  Times are microseconds.  Tags are strings; the "error" tag
 * marks the span as failed (its value is the message, as in Zipkin's UI).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_int.h"
#include "sightline.h"

/* A string member, "" when absent; request error when not a string. */
static int zstr(col_conv *c, const json_t *o, const char *name, const char **s, size_t *len)
{
    json_t *v = json_object_get(o, name);

    *s = "";
    *len = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return col_conv_fail(c, SL_EPARSE, "span %u: '%s' must be a string", c->nitems - 1,
                             name);
    *s = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

/* Microseconds (a JSON integer; integral reals are tolerated) into ns.
 * *present says whether the member was there. */
static int zmicros(col_conv *c, const json_t *o, const char *name, uint64_t *ns, int *present)
{
    json_t *v = json_object_get(o, name);
    double d;

    *ns = 0;
    *present = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return col_conv_fail(c, SL_EPARSE, "span %u: '%s' must be a number of microseconds",
                             c->nitems - 1, name);
    *present = 1;
    d = json_number_value(v);
    if (json_is_integer(v) ? json_integer_value(v) < 0 : !(d >= 0 && floor(d) == d)) {
        col_conv_bad(c, "%s must be a non-negative integer", name);
        return 0;
    }
    if (json_is_integer(v)) {
        uint64_t us = (uint64_t)json_integer_value(v);
        if (us > UINT64_MAX / 1000) {
            col_conv_bad(c, "%s is too large", name);
            return 0;
        }
        *ns = us * 1000;
    } else if (d < 1.8e16) {
        *ns = (uint64_t)d * 1000;
    } else {
        col_conv_bad(c, "%s is too large", name);
    }
    return 0;
}

static int zattr_str(col_conv *c, const char *key, const char *s, size_t len)
{
    col_val v = {.type = SLC_V_STR, .s = s, .len = len};
    if (len == 0)
        return 0;
    return col_conv_attr(c, key, strlen(key), &v);
}

/* remoteEndpoint -> peer.service, network.peer.address/port, and for
 * outgoing spans server.address/port (what OpenTelemetry's HTTP and RPC
 * conventions put on client spans).  localEndpoint's address ->
 * network.local.address. */
static int zendpoints(col_conv *c, const json_t *sp, uint8_t kind)
{
    json_t *re = json_object_get(sp, "remoteEndpoint");
    json_t *le = json_object_get(sp, "localEndpoint");
    const char *s, *ip;
    size_t len, iplen;
    int rv;

    if (re != NULL && !json_is_null(re)) {
        json_t *port;
        if (!json_is_object(re))
            return col_conv_fail(c, SL_EPARSE, "span %u: 'remoteEndpoint' must be an object",
                                 c->nitems - 1);
        if ((rv = zstr(c, re, "serviceName", &s, &len)) != 0 ||
            (rv = zattr_str(c, "peer.service", s, len)) != 0 ||
            (rv = zstr(c, re, "ipv4", &ip, &iplen)) != 0)
            return rv;
        if (iplen == 0 && (rv = zstr(c, re, "ipv6", &ip, &iplen)) != 0)
            return rv;
        if ((rv = zattr_str(c, "network.peer.address", ip, iplen)) != 0)
            return rv;
        if ((kind == SLC_KIND_CLIENT || kind == SLC_KIND_PRODUCER) &&
            (rv = zattr_str(c, "server.address", ip, iplen)) != 0)
            return rv;
        port = json_object_get(re, "port");
        if (port != NULL && json_is_integer(port) && json_integer_value(port) > 0 &&
            json_integer_value(port) <= 65535) {
            col_val v = {.type = SLC_V_INT, .i = json_integer_value(port)};
            if ((rv = col_conv_attr(c, "network.peer.port", 17, &v)) != 0)
                return rv;
            if ((kind == SLC_KIND_CLIENT || kind == SLC_KIND_PRODUCER) &&
                (rv = col_conv_attr(c, "server.port", 11, &v)) != 0)
                return rv;
        }
    }
    if (le != NULL && json_is_object(le)) {
        if ((rv = zstr(c, le, "ipv4", &ip, &iplen)) != 0)
            return rv;
        if (iplen == 0 && (rv = zstr(c, le, "ipv6", &ip, &iplen)) != 0)
            return rv;
        if ((rv = zattr_str(c, "network.local.address", ip, iplen)) != 0)
            return rv;
    }
    return 0;
}

static int zkind(col_conv *c, const json_t *sp, uint8_t *kind)
{
    static const struct {
        const char *name;
        uint8_t kind;
    } kinds[] = {{"CLIENT", SLC_KIND_CLIENT},
                 {"SERVER", SLC_KIND_SERVER},
                 {"PRODUCER", SLC_KIND_PRODUCER},
                 {"CONSUMER", SLC_KIND_CONSUMER}};
    const char *s;
    size_t len;
    int rv;

    /* No kind: a local span (Zipkin's term), i.e. OpenTelemetry INTERNAL. */
    *kind = SLC_KIND_INTERNAL;
    if ((rv = zstr(c, sp, "kind", &s, &len)) != 0 || len == 0)
        return rv;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(s, kinds[i].name) == 0) {
            *kind = kinds[i].kind;
            return 0;
        }
    col_conv_bad(c, "kind '%.20s' is not CLIENT, SERVER, PRODUCER or CONSUMER", s);
    return 0;
}

static int ztags(col_conv *c, const json_t *sp, slc_span *s)
{
    json_t *tags = json_object_get(sp, "tags"), *v;
    const char *key;
    int rv;

    if (tags == NULL || json_is_null(tags))
        return 0;
    if (!json_is_object(tags))
        return col_conv_fail(c, SL_EPARSE, "span %u: 'tags' must be an object",
                             c->nitems - 1);
    json_object_foreach(tags, key, v) {
        col_val val = {.type = SLC_V_STR};
        size_t klen = strlen(key);
        char num[64];
        if (json_is_string(v)) {
            val.s = json_string_value(v);
            val.len = json_string_length(v);
        } else if (json_is_number(v) || json_is_boolean(v)) {
            /* Zipkin wants strings; old reporters send numbers and bools */
            if (json_is_integer(v))
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            else if (json_is_real(v))
                snprintf(num, sizeof num, "%.17g", json_real_value(v));
            else
                snprintf(num, sizeof num, "%s", json_is_true(v) ? "true" : "false");
            val.s = num;
            val.len = strlen(num);
        } else if (!json_is_null(v)) {
            return col_conv_fail(c, SL_EPARSE, "span %u: tag '%.64s' must be a string",
                                 c->nitems - 1, key);
        }
        if (klen == 5 && strcmp(key, "error") == 0) {
            s->status = SLC_STATUS_ERROR;
            if ((rv = col_conv_str(c, val.s, val.len, "error tag", &s->status_msg)) != 0)
                return rv;
            continue;
        }
        if ((rv = col_conv_attr(c, key, klen, &val)) != 0)
            return rv;
    }
    return 0;
}

static int zannotations(col_conv *c, const json_t *sp, slc_span *s)
{
    json_t *arr = json_object_get(sp, "annotations");
    int rv;

    s->event_first = c->b->nevents;
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return col_conv_fail(c, SL_EPARSE, "span %u: 'annotations' must be an array",
                             c->nitems - 1);
    if (json_array_size(arr) > c->lim.events_per_span) {
        col_conv_bad(c, "more than %u annotations", c->lim.events_per_span);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(arr) && !c->bad; i++) {
        json_t *an = json_array_get(arr, i);
        slc_event e = {0};
        const char *val;
        size_t vlen;
        int present;
        if (!json_is_object(an))
            return col_conv_fail(c, SL_EPARSE, "span %u: annotations[] must be objects",
                                 c->nitems - 1);
        if ((rv = zmicros(c, an, "timestamp", &e.time_ns, &present)) != 0 ||
            (rv = zstr(c, an, "value", &val, &vlen)) != 0 ||
            (rv = col_conv_str(c, val, vlen, "annotation value", &e.name)) != 0)
            return rv;
        if (!present)
            col_conv_bad(c, "annotation %zu has no timestamp", i);
        e.time_ns = col_conv_event_time(c, s->start_ns, e.time_ns);
        e.attr_first = c->b->nattrs;
        if (!c->bad && slc_batch_add_event(c->b, &e, NULL) != 0)
            return col_conv_fail(c, SL_ENOMEM, "out of memory");
    }
    s->event_count = c->b->nevents - s->event_first;
    return 0;
}

static int zspan(col_conv *c, const json_t *sp)
{
    slc_span s = {0};
    const char *tid, *sid, *pid, *name, *svc = "";
    size_t tl, sl, pl, nl, svcl = 0;
    uint64_t dur;
    int present, rv;
    json_t *le;

    if (!json_is_object(sp))
        return col_conv_fail(c, SL_EPARSE, "the body must be an array of span objects");
    if ((rv = col_conv_item_begin(c)) != 0)
        return rv;
    if ((rv = zstr(c, sp, "traceId", &tid, &tl)) != 0 ||
        (rv = zstr(c, sp, "id", &sid, &sl)) != 0 ||
        (rv = zstr(c, sp, "parentId", &pid, &pl)) != 0 ||
        (rv = zstr(c, sp, "name", &name, &nl)) != 0 ||
        (rv = zkind(c, sp, &s.kind)) != 0 ||
        (rv = zmicros(c, sp, "timestamp", &s.start_ns, &present)) != 0)
        return rv;
    if (tl != 0 && tl != 16 && tl != 32)
        col_conv_bad(c, "traceId must be 16 or 32 hex digits, got %zu", tl);
    col_conv_id_hex(c, tid, tl, s.trace_id, 16, 0, 1, "traceId");
    col_conv_id_hex(c, sid, sl, s.span_id, 8, 0, 1, "id");
    col_conv_id_hex(c, pid, pl, s.parent_id, 8, 1, 1, "parentId");
    if (!present)
        col_conv_bad(c, "timestamp is missing");
    if ((rv = zmicros(c, sp, "duration", &dur, &present)) != 0)
        return rv;
    if (s.start_ns + dur < s.start_ns)
        col_conv_bad(c, "duration is too large");
    s.end_ns = s.start_ns + dur;
    le = json_object_get(sp, "localEndpoint");
    if (le != NULL && !json_is_null(le)) {
        if (!json_is_object(le))
            return col_conv_fail(c, SL_EPARSE, "span %u: 'localEndpoint' must be an object",
                                 c->nitems - 1);
        if ((rv = zstr(c, le, "serviceName", &svc, &svcl)) != 0)
            return rv;
    }
    if (svcl == 0) {
        svc = COL_CONV_DEFAULT_SERVICE;
        svcl = strlen(svc);
    }
    if ((rv = col_conv_str(c, svc, svcl, "localEndpoint.serviceName", &s.service)) != 0 ||
        (rv = col_conv_str(c, name, nl, "name", &s.name)) != 0)
        return rv;
    col_conv_group_begin(c, "span");
    s.attr_first = c->b->nattrs;
    if ((rv = ztags(c, sp, &s)) != 0 || (rv = zendpoints(c, sp, s.kind)) != 0)
        return rv;
    s.attr_count = col_conv_group_count(c);
    if ((rv = zannotations(c, sp, &s)) != 0)
        return rv;
    s.link_first = c->b->nlinks;
    return col_conv_commit_span(c, &s);
}

int col_zipkin_v2_json(const char *body, size_t len, const slc_wire_limits *lim,
                       slc_batch **out, col_conv_report *rep, char *err, size_t errlen)
{
    col_conv c;
    json_t *root = NULL;
    json_error_t je;
    int rv;

    if ((rv = col_conv_init(&c, lim, 0, err, errlen)) != 0)
        goto out;
    root = json_loadb(body, len, 0, &je);
    if (root == NULL) {
        rv = col_conv_fail(&c, SL_EPARSE, "body is not valid JSON: %s (line %d, column %d)",
                           je.text, je.line, je.column);
        goto out;
    }
    if (!json_is_array(root)) {
        rv = col_conv_fail(&c, SL_EPARSE, "body must be a JSON array of Zipkin v2 spans");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(root); i++)
        if ((rv = zspan(&c, json_array_get(root, i))) != 0)
            goto out;
    rv = col_conv_done(&c, out, rep);
out:
    json_decref(root);
    col_conv_free(&c);
    return rv;
}
