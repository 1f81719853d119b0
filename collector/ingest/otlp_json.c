/*
 * otlp_json.c - OTLP/JSON to slc_batch (see otlp.h).
 *
 * The OTLP/JSON encoding is the protobuf JSON mapping with two twists the
 * specification makes: trace and span ids are hex (not base64) and enums
 * are integers.  Receivers must accept both lowerCamelCase and the original
 * snake_case field names, and int64 values either as JSON numbers or as
 * decimal strings; both are done here.  Enum names ("SPAN_KIND_SERVER") are
 * accepted too, as protobuf JSON parsers do.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_int.h"
#include "sightline.h"
#include "common/slc_util.h"

/* The value of a field by its JSON name or its proto name; NULL when absent
 * or null (protobuf JSON treats null as the default value). */
static json_t *jget(const json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    if (v == NULL && snake != NULL)
        v = json_object_get(o, snake);
    return json_is_null(v) ? NULL : v;
}

static int jtype_fail(col_conv *c, const char *where, const char *field, const char *want)
{
    return col_conv_fail(c, SL_EPARSE, "%s.%s must be %s", where, field, want);
}

/* An array field: *out NULL when absent. */
static int jarr(col_conv *c, const json_t *o, const char *camel, const char *snake,
                const char *where, json_t **out)
{
    json_t *v = jget(o, camel, snake);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return jtype_fail(c, where, camel, "an array");
    *out = v;
    return 0;
}

static int jobj(col_conv *c, const json_t *o, const char *camel, const char *snake,
                const char *where, json_t **out)
{
    json_t *v = jget(o, camel, snake);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return jtype_fail(c, where, camel, "an object");
    *out = v;
    return 0;
}

/* A string field: "" when absent. */
static int jstr(col_conv *c, const json_t *o, const char *camel, const char *snake,
                const char *where, const char **s, size_t *len)
{
    json_t *v = jget(o, camel, snake);
    *s = "";
    *len = 0;
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return jtype_fail(c, where, camel, "a string");
    *s = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

/* Decimal digits only, optional leading '-' when sgn, into *out. */
static int jdigits(const char *s, size_t len, int sgn, int64_t *sv, uint64_t *uv)
{
    char buf[32];
    char *end;

    if (len == 0 || len >= sizeof buf)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (i == 0 && sgn && s[i] == '-' && len > 1)))
            return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    if (sgn)
        *sv = strtoll(buf, &end, 10);
    else
        *uv = strtoull(buf, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/* A fixed64 time in nanoseconds: a JSON integer or a decimal string. */
static int jtime(col_conv *c, const json_t *o, const char *camel, const char *snake,
                 const char *where, uint64_t *out)
{
    json_t *v = jget(o, camel, snake);
    *out = 0;
    if (v == NULL)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1.8e19 &&
        floor(json_real_value(v)) == json_real_value(v)) {
        *out = (uint64_t)json_real_value(v);
        return 0;
    }
    if (json_is_string(v) &&
        jdigits(json_string_value(v), json_string_length(v), 0, NULL, out) == 0)
        return 0;
    return jtype_fail(c, where, camel, "unsigned nanoseconds (a number or a decimal string)");
}

/* An enum: an integer in [0, max] or one of names[] (index = value). */
static int jenum(col_conv *c, const json_t *o, const char *camel, const char *snake,
                 const char *where, const char *const *names, int max, int *out)
{
    json_t *v = jget(o, camel, snake);
    *out = 0;
    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        json_int_t k = json_integer_value(v);
        if (k < 0 || k > max) {
            col_conv_bad(c, "%s %lld is out of range 0..%d", camel, (long long)k, max);
            return 0;
        }
        *out = (int)k;
        return 0;
    }
    if (json_is_string(v) && names != NULL) {
        for (int i = 0; i <= max; i++)
            if (names[i] != NULL && strcmp(json_string_value(v), names[i]) == 0) {
                *out = i;
                return 0;
            }
        col_conv_bad(c, "%s '%.40s' is not a known value", camel, json_string_value(v));
        return 0;
    }
    return jtype_fail(c, where, camel, "an integer enum value");
}

/* ---- AnyValue -------------------------------------------------------------- */

/* A plain JSON rendering of an AnyValue (arrays as arrays, kvlists as
 * objects, bytes as their base64 text) into *out (new reference). */
static int jany_plain(col_conv *c, const json_t *any, int depth, json_t **out)
{
    json_t *v, *arr;

    *out = NULL;
    if (depth > COL_CONV_MAX_DEPTH)
        return col_conv_fail(c, SL_EPARSE, "AnyValue nested deeper than %d levels",
                             COL_CONV_MAX_DEPTH);
    if (!json_is_object(any))
        return col_conv_fail(c, SL_EPARSE, "an AnyValue must be an object");
    if ((v = jget(any, "stringValue", "string_value")) != NULL) {
        if (!json_is_string(v))
            return jtype_fail(c, "AnyValue", "stringValue", "a string");
        *out = json_incref(v);
    } else if ((v = jget(any, "boolValue", "bool_value")) != NULL) {
        if (!json_is_boolean(v))
            return jtype_fail(c, "AnyValue", "boolValue", "a boolean");
        *out = json_incref(v);
    } else if ((v = jget(any, "intValue", "int_value")) != NULL) {
        int64_t i;
        if (json_is_integer(v))
            *out = json_incref(v);
        else if (json_is_string(v) &&
                 jdigits(json_string_value(v), json_string_length(v), 1, &i, NULL) == 0)
            *out = json_integer(i);
        else
            return jtype_fail(c, "AnyValue", "intValue", "an int64 (number or decimal string)");
    } else if ((v = jget(any, "doubleValue", "double_value")) != NULL) {
        if (json_is_number(v))
            *out = json_real(json_number_value(v));
        else if (json_is_string(v))
            *out = json_incref(v); /* "NaN", "Infinity": JSON has no number for them */
        else
            return jtype_fail(c, "AnyValue", "doubleValue", "a number");
    } else if ((v = jget(any, "bytesValue", "bytes_value")) != NULL) {
        if (!json_is_string(v))
            return jtype_fail(c, "AnyValue", "bytesValue", "a base64 string");
        *out = json_incref(v);
    } else if ((v = jget(any, "arrayValue", "array_value")) != NULL) {
        if (!json_is_object(v) || jarr(c, v, "values", NULL, "arrayValue", &arr) != 0)
            return SL_EPARSE;
        *out = json_array();
        for (size_t i = 0; arr != NULL && i < json_array_size(arr) && *out != NULL; i++) {
            json_t *e;
            int rv = jany_plain(c, json_array_get(arr, i), depth + 1, &e);
            if (rv != 0) {
                json_decref(*out);
                *out = NULL;
                return rv;
            }
            json_array_append_new(*out, e);
        }
    } else if ((v = jget(any, "kvlistValue", "kvlist_value")) != NULL) {
        if (!json_is_object(v) || jarr(c, v, "values", NULL, "kvlistValue", &arr) != 0)
            return SL_EPARSE;
        *out = json_object();
        for (size_t i = 0; arr != NULL && i < json_array_size(arr) && *out != NULL; i++) {
            json_t *kv = json_array_get(arr, i), *e, *val;
            const char *k;
            size_t kl;
            int rv;
            if (!json_is_object(kv))
                rv = col_conv_fail(c, SL_EPARSE, "kvlistValue.values[] must be objects");
            else if ((rv = jstr(c, kv, "key", NULL, "KeyValue", &k, &kl)) == 0) {
                val = jget(kv, "value", NULL);
                rv = val == NULL ? 0 : jany_plain(c, val, depth + 1, &e);
                if (rv == 0 && val != NULL)
                    json_object_setn_new(*out, k, kl, e);
            }
            if (rv != 0) {
                json_decref(*out);
                *out = NULL;
                return rv;
            }
        }
    } else {
        *out = json_null();
    }
    if (*out == NULL)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
}

/* One KeyValue onto the current item (ctx < 0) or the context (ctx = 1
 * resource, 0 scope). */
static int jkeyvalue(col_conv *c, const json_t *kv, const char *where, int ctx)
{
    const char *key, *s;
    size_t klen;
    json_t *any, *v;
    col_val val = {0};
    int rv;

    if (!json_is_object(kv))
        return col_conv_fail(c, SL_EPARSE, "%s.attributes[] must be objects", where);
    if ((rv = jstr(c, kv, "key", NULL, where, &key, &klen)) != 0)
        return rv;
    any = jget(kv, "value", NULL);
    if (any == NULL)
        return 0; /* an empty value: nothing to keep */
    if (!json_is_object(any))
        return jtype_fail(c, where, "attributes[].value", "an AnyValue object");
    if ((v = jget(any, "stringValue", "string_value")) != NULL && json_is_string(v)) {
        s = json_string_value(v);
        val = (col_val){.type = SLC_V_STR, .s = s, .len = json_string_length(v)};
    } else if ((v = jget(any, "boolValue", "bool_value")) != NULL && json_is_boolean(v)) {
        val = (col_val){.type = SLC_V_BOOL, .b = json_is_true(v)};
    } else if ((v = jget(any, "intValue", "int_value")) != NULL &&
               (json_is_integer(v) || json_is_string(v))) {
        val.type = SLC_V_INT;
        if (json_is_integer(v))
            val.i = json_integer_value(v);
        else if (jdigits(json_string_value(v), json_string_length(v), 1, &val.i, NULL) != 0)
            return jtype_fail(c, where, "intValue", "an int64 (number or decimal string)");
    } else if ((v = jget(any, "doubleValue", "double_value")) != NULL &&
               (json_is_number(v) || json_is_string(v))) {
        val.type = SLC_V_DBL;
        if (json_is_number(v))
            val.d = json_number_value(v);
        else if (strcmp(json_string_value(v), "NaN") == 0)
            val.d = NAN;
        else if (strcmp(json_string_value(v), "Infinity") == 0)
            val.d = INFINITY;
        else if (strcmp(json_string_value(v), "-Infinity") == 0)
            val.d = -INFINITY;
        else
            return jtype_fail(c, where, "doubleValue", "a number");
    } else {
        json_t *plain;
        if ((rv = jany_plain(c, any, 0, &plain)) != 0)
            return rv;
        if (json_is_null(plain)) {
            json_decref(plain);
            return 0;
        }
        rv = ctx >= 0 ? col_conv_ctx_attr_json(c, key, klen, plain, ctx)
                      : col_conv_attr_json(c, key, klen, plain);
        json_decref(plain);
        return rv;
    }
    return ctx >= 0 ? col_conv_ctx_attr(c, key, klen, &val, ctx)
                    : col_conv_attr(c, key, klen, &val);
}

static int jattrs(col_conv *c, const json_t *o, const char *where, int ctx)
{
    json_t *arr;
    int rv = jarr(c, o, "attributes", NULL, where, &arr);

    for (size_t i = 0; rv == 0 && arr != NULL && i < json_array_size(arr); i++)
        rv = jkeyvalue(c, json_array_get(arr, i), where, ctx);
    return rv;
}

/* Resource and scope: sets the conversion's context. */
static int jresource(col_conv *c, const json_t *rs, const char *where)
{
    json_t *res;
    int rv;

    if ((rv = col_conv_ctx_reset(c)) != 0 ||
        (rv = jobj(c, rs, "resource", NULL, where, &res)) != 0)
        return rv;
    if (res != NULL && (rv = jattrs(c, res, "resource", 1)) != 0)
        return rv;
    col_conv_ctx_resource_done(c);
    return 0;
}

static int jscope(col_conv *c, const json_t *ss, const char *where)
{
    json_t *scope;
    const char *s;
    size_t len;
    col_val v = {.type = SLC_V_STR};
    int rv;

    col_conv_ctx_scope_reset(c);
    if ((rv = jobj(c, ss, "scope", NULL, where, &scope)) != 0 || scope == NULL)
        return rv;
    if ((rv = jstr(c, scope, "name", NULL, "scope", &s, &len)) != 0)
        return rv;
    v.s = s;
    v.len = len;
    if (len > 0 && (rv = col_conv_ctx_attr(c, "otel.scope.name", 15, &v, 0)) != 0)
        return rv;
    if ((rv = jstr(c, scope, "version", NULL, "scope", &s, &len)) != 0)
        return rv;
    v.s = s;
    v.len = len;
    if (len > 0 && (rv = col_conv_ctx_attr(c, "otel.scope.version", 18, &v, 0)) != 0)
        return rv;
    return jattrs(c, scope, "scope", 0);
}

/* ---- traces ----------------------------------------------------------------- */

static const char *const col_kind_names[] = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
static const char *const col_status_names[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                               "STATUS_CODE_ERROR"};

static int jevents(col_conv *c, const json_t *sp, slc_span *s)
{
    json_t *arr;
    int rv;

    s->event_first = c->b->nevents;
    if ((rv = jarr(c, sp, "events", NULL, "span", &arr)) != 0 || arr == NULL)
        return rv;
    if (json_array_size(arr) > c->lim.events_per_span) {
        col_conv_bad(c, "more than %u events", c->lim.events_per_span);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(arr) && !c->bad; i++) {
        json_t *ev = json_array_get(arr, i);
        slc_event e = {0};
        const char *name;
        size_t nlen;
        if (!json_is_object(ev))
            return col_conv_fail(c, SL_EPARSE, "span.events[] must be objects");
        if ((rv = jtime(c, ev, "timeUnixNano", "time_unix_nano", "event", &e.time_ns)) != 0 ||
            (rv = jstr(c, ev, "name", NULL, "event", &name, &nlen)) != 0 ||
            (rv = col_conv_str(c, name, nlen, "event name", &e.name)) != 0)
            return rv;
        e.time_ns = col_conv_event_time(c, s->start_ns, e.time_ns);
        col_conv_group_begin(c, "event");
        e.attr_first = c->b->nattrs;
        if ((rv = jattrs(c, ev, "event", -1)) != 0)
            return rv;
        e.attr_count = col_conv_group_count(c);
        if (!c->bad && slc_batch_add_event(c->b, &e, NULL) != 0)
            return col_conv_fail(c, SL_ENOMEM, "out of memory");
    }
    s->event_count = c->b->nevents - s->event_first;
    return 0;
}

static int jlinks(col_conv *c, const json_t *sp, slc_span *s)
{
    json_t *arr;
    int rv;

    s->link_first = c->b->nlinks;
    if ((rv = jarr(c, sp, "links", NULL, "span", &arr)) != 0 || arr == NULL)
        return rv;
    if (json_array_size(arr) > c->lim.links_per_span) {
        col_conv_bad(c, "more than %u links", c->lim.links_per_span);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(arr) && !c->bad; i++) {
        json_t *ln = json_array_get(arr, i);
        slc_link l = {0};
        const char *tid, *sid;
        size_t tl, sl;
        if (!json_is_object(ln))
            return col_conv_fail(c, SL_EPARSE, "span.links[] must be objects");
        if ((rv = jstr(c, ln, "traceId", "trace_id", "link", &tid, &tl)) != 0 ||
            (rv = jstr(c, ln, "spanId", "span_id", "link", &sid, &sl)) != 0)
            return rv;
        col_conv_id_hex(c, tid, tl, l.trace_id, 16, 0, 0, "link traceId");
        col_conv_id_hex(c, sid, sl, l.span_id, 8, 0, 0, "link spanId");
        col_conv_group_begin(c, "link");
        l.attr_first = c->b->nattrs;
        if ((rv = jattrs(c, ln, "link", -1)) != 0)
            return rv;
        l.attr_count = col_conv_group_count(c);
        if (!c->bad && slc_batch_add_link(c->b, &l, NULL) != 0)
            return col_conv_fail(c, SL_ENOMEM, "out of memory");
    }
    s->link_count = c->b->nlinks - s->link_first;
    return 0;
}

static int jspan(col_conv *c, const json_t *sp)
{
    slc_span s = {0};
    const char *tid, *sid, *pid, *name, *msg;
    size_t tl, sl, pl, nl, ml;
    json_t *st;
    int kind, code, rv;

    if (!json_is_object(sp))
        return col_conv_fail(c, SL_EPARSE, "scopeSpans[].spans[] must be objects");
    if ((rv = col_conv_item_begin(c)) != 0)
        return rv;
    s.service = c->service;
    if ((rv = jstr(c, sp, "traceId", "trace_id", "span", &tid, &tl)) != 0 ||
        (rv = jstr(c, sp, "spanId", "span_id", "span", &sid, &sl)) != 0 ||
        (rv = jstr(c, sp, "parentSpanId", "parent_span_id", "span", &pid, &pl)) != 0 ||
        (rv = jstr(c, sp, "name", NULL, "span", &name, &nl)) != 0 ||
        (rv = jenum(c, sp, "kind", NULL, "span", col_kind_names, SLC_KIND_CONSUMER, &kind)) != 0 ||
        (rv = jtime(c, sp, "startTimeUnixNano", "start_time_unix_nano", "span", &s.start_ns)) != 0 ||
        (rv = jtime(c, sp, "endTimeUnixNano", "end_time_unix_nano", "span", &s.end_ns)) != 0 ||
        (rv = jobj(c, sp, "status", NULL, "span", &st)) != 0)
        return rv;
    col_conv_id_hex(c, tid, tl, s.trace_id, 16, 0, 0, "traceId");
    col_conv_id_hex(c, sid, sl, s.span_id, 8, 0, 0, "spanId");
    col_conv_id_hex(c, pid, pl, s.parent_id, 8, 1, 0, "parentSpanId");
    s.kind = (uint8_t)kind;
    if (s.start_ns == 0 && !c->bad)
        col_conv_bad(c, "startTimeUnixNano is missing");
    if ((rv = col_conv_str(c, name, nl, "span name", &s.name)) != 0)
        return rv;
    if (st != NULL) {
        if ((rv = jenum(c, st, "code", NULL, "status", col_status_names, SLC_STATUS_ERROR,
                        &code)) != 0 ||
            (rv = jstr(c, st, "message", NULL, "status", &msg, &ml)) != 0 ||
            (rv = col_conv_str(c, msg, ml, "status message", &s.status_msg)) != 0)
            return rv;
        s.status = (uint8_t)code;
    }
    col_conv_group_begin(c, "span");
    s.attr_first = c->b->nattrs;
    if ((rv = jattrs(c, sp, "span", -1)) != 0 || (rv = col_conv_ctx_apply(c)) != 0)
        return rv;
    s.attr_count = col_conv_group_count(c);
    if ((rv = jevents(c, sp, &s)) != 0 || (rv = jlinks(c, sp, &s)) != 0)
        return rv;
    return col_conv_commit_span(c, &s);
}

/* ---- logs ------------------------------------------------------------------- */

static int jlog(col_conv *c, const json_t *lr)
{
    slc_log l = {0};
    const char *tid, *sid, *text, *ev;
    size_t tl, sl, textl, evl;
    uint64_t observed = 0;
    json_t *body, *sevj;
    int sev = 0, rv;

    if (!json_is_object(lr))
        return col_conv_fail(c, SL_EPARSE, "scopeLogs[].logRecords[] must be objects");
    if ((rv = col_conv_item_begin(c)) != 0)
        return rv;
    l.service = c->service;
    if ((rv = jtime(c, lr, "timeUnixNano", "time_unix_nano", "logRecord", &l.time_ns)) != 0 ||
        (rv = jtime(c, lr, "observedTimeUnixNano", "observed_time_unix_nano", "logRecord",
                    &observed)) != 0 ||
        (rv = jstr(c, lr, "severityText", "severity_text", "logRecord", &text, &textl)) != 0 ||
        (rv = jstr(c, lr, "traceId", "trace_id", "logRecord", &tid, &tl)) != 0 ||
        (rv = jstr(c, lr, "spanId", "span_id", "logRecord", &sid, &sl)) != 0 ||
        (rv = jstr(c, lr, "eventName", "event_name", "logRecord", &ev, &evl)) != 0)
        return rv;
    sevj = jget(lr, "severityNumber", "severity_number");
    if (sevj != NULL && json_is_string(sevj)) {
        /* "SEVERITY_NUMBER_WARN2": the name without its prefix is a text */
        const char *sn = json_string_value(sevj);
        size_t snl = json_string_length(sevj);
        if (snl > 16 && strncmp(sn, "SEVERITY_NUMBER_", 16) == 0)
            sev = col_conv_severity_text(sn + 16, snl - 16);
        if (sev == 0 && strcmp(sn, "SEVERITY_NUMBER_UNSPECIFIED") != 0)
            col_conv_bad(c, "severityNumber '%.40s' is not a known value", sn);
    } else if ((rv = jenum(c, lr, "severityNumber", "severity_number", "logRecord", NULL, 24,
                           &sev)) != 0) {
        return rv;
    }
    if (sev == 0)
        sev = col_conv_severity_text(text, textl);
    l.level = (uint8_t)(sev == 0 ? SLC_LVL_INFO : sev);
    if (l.time_ns == 0)
        l.time_ns = observed;
    if (l.time_ns == 0 && !c->bad)
        col_conv_bad(c, "timeUnixNano and observedTimeUnixNano are both missing");
    if (col_conv_id_hex(c, tid, tl, l.trace_id, 16, 1, 0, "traceId") == 1) {
        l.flags |= SLC_LOG_F_TRACE;
        col_conv_id_hex(c, sid, sl, l.span_id, 8, 1, 0, "spanId");
    } else if (sl > 0 && !c->bad) {
        col_conv_bad(c, "spanId is set without a traceId");
    }
    body = jget(lr, "body", NULL);
    if (body != NULL) {
        json_t *v = json_is_object(body) ? jget(body, "stringValue", "string_value") : NULL;
        if (v != NULL && json_is_string(v)) {
            rv = col_conv_str(c, json_string_value(v), json_string_length(v), "body", &l.body);
        } else {
            json_t *plain;
            if ((rv = jany_plain(c, body, 0, &plain)) != 0)
                return rv;
            if (!json_is_null(plain))
                rv = col_conv_str_json(c, plain, "body", &l.body);
            json_decref(plain);
        }
        if (rv != 0)
            return rv;
    }
    col_conv_group_begin(c, "log record");
    l.attr_first = c->b->nattrs;
    if ((rv = jattrs(c, lr, "logRecord", -1)) != 0)
        return rv;
    if (evl > 0) {
        col_val v = {.type = SLC_V_STR, .s = ev, .len = evl};
        if ((rv = col_conv_attr(c, "event.name", 10, &v)) != 0)
            return rv;
    }
    if ((rv = col_conv_ctx_apply(c)) != 0)
        return rv;
    l.attr_count = col_conv_group_count(c);
    return col_conv_commit_log(c, &l);
}

/* ---- requests --------------------------------------------------------------- */

/* Parses body as a JSON object; err names the position of a syntax error. */
static int jload(col_conv *c, const char *body, size_t len, json_t **out)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);

    if (root == NULL)
        return col_conv_fail(c, SL_EPARSE, "body is not valid JSON: %s (line %d, column %d)",
                             je.text, je.line, je.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return col_conv_fail(c, SL_EPARSE, "body must be a JSON object");
    }
    *out = root;
    return 0;
}

/* The names of one request shape: resource, scope and item arrays (with
 * their snake_case spellings), and the parser of one item. */
typedef struct jshape {
    const char *res, *res_snake, *res_elem;
    const char *scope, *scope_snake, *scope_elem;
    const char *items, *items_snake;
    int (*item)(col_conv *c, const json_t *v);
} jshape;

static const jshape jtraces = {"resourceSpans", "resource_spans", "resourceSpans[]",
                               "scopeSpans",    "scope_spans",    "scopeSpans[]",
                               "spans",         NULL,             jspan};
static const jshape jlogs = {"resourceLogs", "resource_logs", "resourceLogs[]",
                             "scopeLogs",    "scope_logs",    "scopeLogs[]",
                             "logRecords",   "log_records",   jlog};

/* Walks resource[] / scope[] / item[] of a traces or logs request. */
static int jrequest(const jshape *sh, int logs, const char *body, size_t len,
                    const slc_wire_limits *lim, slc_batch **out, col_conv_report *rep,
                    char *err, size_t errlen)
{
    col_conv c;
    json_t *root = NULL, *rarr;
    int rv;

    if ((rv = col_conv_init(&c, lim, logs, err, errlen)) != 0)
        goto out;
    if ((rv = jload(&c, body, len, &root)) != 0 ||
        (rv = jarr(&c, root, sh->res, sh->res_snake, "request", &rarr)) != 0)
        goto out;
    for (size_t i = 0; rarr != NULL && i < json_array_size(rarr); i++) {
        json_t *r = json_array_get(rarr, i), *sarr;
        if (!json_is_object(r)) {
            rv = col_conv_fail(&c, SL_EPARSE, "%s must be objects", sh->res_elem);
            goto out;
        }
        if ((rv = jresource(&c, r, sh->res_elem)) != 0 ||
            (rv = jarr(&c, r, sh->scope, sh->scope_snake, sh->res_elem, &sarr)) != 0)
            goto out;
        for (size_t j = 0; sarr != NULL && j < json_array_size(sarr); j++) {
            json_t *sc = json_array_get(sarr, j), *items;
            if (!json_is_object(sc)) {
                rv = col_conv_fail(&c, SL_EPARSE, "%s must be objects", sh->scope_elem);
                goto out;
            }
            if ((rv = jscope(&c, sc, sh->scope_elem)) != 0 ||
                (rv = jarr(&c, sc, sh->items, sh->items_snake, sh->scope_elem, &items)) != 0)
                goto out;
            for (size_t k = 0; items != NULL && k < json_array_size(items); k++)
                if ((rv = sh->item(&c, json_array_get(items, k))) != 0)
                    goto out;
        }
    }
    rv = col_conv_done(&c, out, rep);
out:
    json_decref(root);
    col_conv_free(&c);
    return rv;
}

int col_otlp_traces_json(const char *body, size_t len, const slc_wire_limits *lim,
                         slc_batch **out, col_conv_report *rep, char *err, size_t errlen)
{
    return jrequest(&jtraces, 0, body, len, lim, out, rep, err, errlen);
}

int col_otlp_logs_json(const char *body, size_t len, const slc_wire_limits *lim,
                       slc_batch **out, col_conv_report *rep, char *err, size_t errlen)
{
    return jrequest(&jlogs, 1, body, len, lim, out, rep, err, errlen);
}
