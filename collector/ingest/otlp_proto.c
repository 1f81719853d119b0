/*
 * otlp_proto.c - OTLP/protobuf to slc_batch (see otlp.h), on the minimal
 * wire reader of pb.h.  Field numbers are those of opentelemetry-proto
 * (collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
 * logs/v1/logs.proto, common/v1/common.proto, resource/v1/resource.proto).
 *
 * Protobuf lets fields arrive in any order and repeat (the last scalar
 * wins).  Because the batch wants an item's attributes contiguous and
 * before its events, a message is walked more than once: first its
 * scalars, then each repeated sub-message kind in turn.  Every walk is
 * bounded by the message's own length, so the cost stays linear.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_int.h"
#include "pb.h"
#include "sightline.h"
#include "common/slc_util.h"

/* Fails the request for a broken protobuf inside where. */
static int pbroken(col_conv *c, int rv, const char *where)
{
    return col_conv_fail(c, rv, "malformed protobuf in %s: %s", where, sl_strerror(rv));
}

/* Checks a known field's wire type. */
static int pwt(col_conv *c, const col_pb_field *f, uint8_t want, const char *where)
{
    if (f->wt == want)
        return 0;
    return col_conv_fail(c, SL_EWIRE_VALUE, "%s field %u has wire type %s, expected %s", where,
                         f->num, col_pb_wt_name(f->wt), col_pb_wt_name(want));
}

/* ---- AnyValue --------------------------------------------------------------- */

/* Finds the AnyValue's value (a oneof: the last one present wins); *last
 * gets num 0 when the value is empty. */
static int pany_last(col_conv *c, const col_pb_field *any, col_pb_field *last)
{
    static const uint8_t wts[8] = {0, COL_PB_LEN, COL_PB_VARINT, COL_PB_VARINT, COL_PB_I64,
                                   COL_PB_LEN, COL_PB_LEN, COL_PB_LEN};
    col_pb r;
    col_pb_field f;
    int rv;

    memset(last, 0, sizeof *last);
    col_pb_sub(any, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        if (f.num < 1 || f.num > 7)
            continue;
        if ((rv = pwt(c, &f, wts[f.num], "AnyValue")) != 0)
            return rv;
        *last = f;
    }
    return rv < 0 ? pbroken(c, rv, "AnyValue") : 0;
}

static double pdouble(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int pstring_json(col_conv *c, const uint8_t *p, size_t n, json_t **out)
{
    if (!slc_utf8_valid((const char *)p, n))
        return col_conv_fail(c, SL_EWIRE_UTF8, "a string inside an AnyValue is not valid UTF-8");
    *out = json_stringn((const char *)p, n);
    return 0;
}

/* The plain JSON rendering of an AnyValue (see otlp_json.c's jany_plain). */
static int pany_plain(col_conv *c, const col_pb_field *any, int depth, json_t **out)
{
    col_pb_field v, f;
    col_pb r;
    int rv;

    *out = NULL;
    if (depth > COL_CONV_MAX_DEPTH)
        return col_conv_fail(c, SL_EWIRE_LIMIT, "AnyValue nested deeper than %d levels",
                             COL_CONV_MAX_DEPTH);
    if ((rv = pany_last(c, any, &v)) != 0)
        return rv;
    switch (v.num) {
    case 0: *out = json_null(); break;
    case 1:
        if ((rv = pstring_json(c, v.data, v.len, out)) != 0)
            return rv;
        break;
    case 2: *out = json_boolean(v.u != 0); break;
    case 3: *out = json_integer((json_int_t)(int64_t)v.u); break;
    case 4: {
        double d = pdouble(v.u);
        *out = isfinite(d) ? json_real(d)
                           : json_string(isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
        break;
    }
    case 5: /* ArrayValue { repeated AnyValue values = 1; } */
    case 6: /* KeyValueList { repeated KeyValue values = 1; } */
        *out = v.num == 5 ? json_array() : json_object();
        col_pb_sub(&v, &r);
        while (*out != NULL && (rv = col_pb_next(&r, &f)) == 1) {
            json_t *e = NULL;
            if (f.num != 1)
                continue;
            if ((rv = pwt(c, &f, COL_PB_LEN, v.num == 5 ? "ArrayValue" : "KeyValueList")) != 0)
                goto fail;
            if (v.num == 5) {
                if ((rv = pany_plain(c, &f, depth + 1, &e)) != 0)
                    goto fail;
                json_array_append_new(*out, e);
            } else {
                col_pb kr;
                col_pb_field kf, key = {0}, val = {0};
                col_pb_sub(&f, &kr);
                while ((rv = col_pb_next(&kr, &kf)) == 1) {
                    if (kf.num == 1 || kf.num == 2) {
                        if ((rv = pwt(c, &kf, COL_PB_LEN, "KeyValue")) != 0)
                            goto fail;
                        if (kf.num == 1)
                            key = kf;
                        else
                            val = kf;
                    }
                }
                if (rv < 0) {
                    rv = pbroken(c, rv, "KeyValue");
                    goto fail;
                }
                if (!slc_utf8_valid((const char *)key.data, key.len)) {
                    rv = col_conv_fail(c, SL_EWIRE_UTF8, "a kvlist key is not valid UTF-8");
                    goto fail;
                }
                if (val.num == 0)
                    continue;
                if ((rv = pany_plain(c, &val, depth + 1, &e)) != 0)
                    goto fail;
                json_object_setn_new(*out, key.len ? (const char *)key.data : "", key.len, e);
            }
        }
        if (rv < 0) {
            rv = pbroken(c, rv, v.num == 5 ? "ArrayValue" : "KeyValueList");
            goto fail;
        }
        break;
    case 7: *out = col_conv_base64(v.data, v.len); break;
    }
    if (*out == NULL)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
fail:
    json_decref(*out);
    *out = NULL;
    return rv;
}

/* One KeyValue { string key = 1; AnyValue value = 2; } onto the current
 * item (ctx < 0) or the context (1 resource, 0 scope). */
static int pkeyvalue(col_conv *c, const col_pb_field *kvf, int ctx)
{
    col_pb r;
    col_pb_field f, key = {0}, val = {0}, v;
    col_val cv = {0};
    int rv;

    col_pb_sub(kvf, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        if (f.num != 1 && f.num != 2)
            continue;
        if ((rv = pwt(c, &f, COL_PB_LEN, "KeyValue")) != 0)
            return rv;
        if (f.num == 1)
            key = f;
        else
            val = f;
    }
    if (rv < 0)
        return pbroken(c, rv, "KeyValue");
    if (val.num == 0 || key.len == 0)
        return 0;
    if ((rv = pany_last(c, &val, &v)) != 0)
        return rv;
    switch (v.num) {
    case 0: return 0;
    case 1: cv = (col_val){.type = SLC_V_STR, .s = (const char *)v.data, .len = v.len}; break;
    case 2: cv = (col_val){.type = SLC_V_BOOL, .b = v.u != 0}; break;
    case 3: cv = (col_val){.type = SLC_V_INT, .i = (int64_t)v.u}; break;
    case 4: cv = (col_val){.type = SLC_V_DBL, .d = pdouble(v.u)}; break;
    default: {
        json_t *plain;
        if ((rv = pany_plain(c, &val, 0, &plain)) != 0)
            return rv;
        rv = ctx >= 0 ? col_conv_ctx_attr_json(c, (const char *)key.data, key.len, plain, ctx)
                      : col_conv_attr_json(c, (const char *)key.data, key.len, plain);
        json_decref(plain);
        return rv;
    }
    }
    return ctx >= 0 ? col_conv_ctx_attr(c, (const char *)key.data, key.len, &cv, ctx)
                    : col_conv_attr(c, (const char *)key.data, key.len, &cv);
}

/* Every field num of msg (repeated KeyValue) as attributes. */
static int pattrs(col_conv *c, const col_pb_field *msg, uint32_t num, const char *where, int ctx)
{
    col_pb r;
    col_pb_field f;
    int rv;

    col_pb_sub(msg, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        if (f.num != num)
            continue;
        if ((rv = pwt(c, &f, COL_PB_LEN, where)) != 0 || (rv = pkeyvalue(c, &f, ctx)) != 0)
            return rv;
    }
    return rv < 0 ? pbroken(c, rv, where) : 0;
}

/* ---- resource and scope -------------------------------------------------- */

/* ResourceX { Resource resource = 1; repeated ScopeX scope_x = 2; } */
static int presource(col_conv *c, const col_pb_field *rx, const char *where)
{
    col_pb r;
    col_pb_field f;
    int rv;

    if ((rv = col_conv_ctx_reset(c)) != 0)
        return rv;
    col_pb_sub(rx, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        if (f.num != 1)
            continue;
        /* Resource { repeated KeyValue attributes = 1; } */
        if ((rv = pwt(c, &f, COL_PB_LEN, where)) != 0 ||
            (rv = pattrs(c, &f, 1, "Resource", 1)) != 0)
            return rv;
    }
    if (rv < 0)
        return pbroken(c, rv, where);
    col_conv_ctx_resource_done(c);
    return 0;
}

/* ScopeX { InstrumentationScope scope = 1; ... }; InstrumentationScope {
 * string name = 1; string version = 2; repeated KeyValue attributes = 3; } */
static int pscope(col_conv *c, const col_pb_field *sx, const char *where)
{
    col_pb r, sr;
    col_pb_field f, sf;
    int rv;

    col_conv_ctx_scope_reset(c);
    col_pb_sub(sx, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        if (f.num != 1)
            continue;
        if ((rv = pwt(c, &f, COL_PB_LEN, where)) != 0)
            return rv;
        col_pb_sub(&f, &sr);
        while ((rv = col_pb_next(&sr, &sf)) == 1) {
            col_val v = {.type = SLC_V_STR, .s = (const char *)sf.data, .len = sf.len};
            if (sf.num != 1 && sf.num != 2)
                continue;
            if ((rv = pwt(c, &sf, COL_PB_LEN, "InstrumentationScope")) != 0)
                return rv;
            if (sf.len > 0 &&
                (rv = col_conv_ctx_attr(c, sf.num == 1 ? "otel.scope.name" : "otel.scope.version",
                                        sf.num == 1 ? 15 : 18, &v, 0)) != 0)
                return rv;
        }
        if (rv < 0)
            return pbroken(c, rv, "InstrumentationScope");
        if ((rv = pattrs(c, &f, 3, "InstrumentationScope", 0)) != 0)
            return rv;
    }
    return rv < 0 ? pbroken(c, rv, where) : 0;
}

/* ---- spans ------------------------------------------------------------------- */

/* Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue
 * attributes = 3; } */
static int pevent(col_conv *c, const col_pb_field *ef, uint64_t start)
{
    col_pb r;
    col_pb_field f;
    slc_event e = {0};
    int rv;

    col_pb_sub(ef, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        if (f.num == 1) {
            if ((rv = pwt(c, &f, COL_PB_I64, "Span.Event")) != 0)
                return rv;
            e.time_ns = f.u;
        } else if (f.num == 2) {
            if ((rv = pwt(c, &f, COL_PB_LEN, "Span.Event")) != 0 ||
                (rv = col_conv_str(c, (const char *)f.data, f.len, "event name", &e.name)) != 0)
                return rv;
        }
    }
    if (rv < 0)
        return pbroken(c, rv, "Span.Event");
    e.time_ns = col_conv_event_time(c, start, e.time_ns);
    col_conv_group_begin(c, "event");
    e.attr_first = c->b->nattrs;
    if ((rv = pattrs(c, ef, 3, "Span.Event", -1)) != 0)
        return rv;
    e.attr_count = col_conv_group_count(c);
    if (!c->bad && slc_batch_add_event(c->b, &e, NULL) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
}

/* Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3;
 * repeated KeyValue attributes = 4; ... } */
static int plink(col_conv *c, const col_pb_field *lf, uint64_t start)
{
    (void)start;
    col_pb r;
    col_pb_field f, tid = {0}, sid = {0};
    slc_link l = {0};
    int rv;

    col_pb_sub(lf, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        if (f.num != 1 && f.num != 2)
            continue;
        if ((rv = pwt(c, &f, COL_PB_LEN, "Span.Link")) != 0)
            return rv;
        if (f.num == 1)
            tid = f;
        else
            sid = f;
    }
    if (rv < 0)
        return pbroken(c, rv, "Span.Link");
    col_conv_id_raw(c, tid.data, tid.len, l.trace_id, 16, 0, "link trace_id");
    col_conv_id_raw(c, sid.data, sid.len, l.span_id, 8, 0, "link span_id");
    col_conv_group_begin(c, "link");
    l.attr_first = c->b->nattrs;
    if ((rv = pattrs(c, lf, 4, "Span.Link", -1)) != 0)
        return rv;
    l.attr_count = col_conv_group_count(c);
    if (!c->bad && slc_batch_add_link(c->b, &l, NULL) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
}

/* Appends every field num of msg through fn (events, links). */
static int peach(col_conv *c, const col_pb_field *msg, uint32_t num, const char *where,
                 int (*fn)(col_conv *, const col_pb_field *, uint64_t), uint64_t start)
{
    col_pb r;
    col_pb_field f;
    int rv;

    col_pb_sub(msg, &r);
    while (!c->bad && (rv = col_pb_next(&r, &f)) == 1) {
        if (f.num != num)
            continue;
        if ((rv = pwt(c, &f, COL_PB_LEN, where)) != 0 || (rv = fn(c, &f, start)) != 0)
            return rv;
    }
    return c->bad ? 0 : rv < 0 ? pbroken(c, rv, where) : 0;
}

static int pspan(col_conv *c, const col_pb_field *spf)
{
    col_pb r, sr;
    col_pb_field f, sf, tid = {0}, sid = {0}, pid = {0};
    slc_span s = {0};
    uint64_t kind = 0, code = 0;
    uint32_t nevents = 0, nlinks = 0;
    int rv;

    if ((rv = col_conv_item_begin(c)) != 0)
        return rv;
    s.service = c->service;
    col_pb_sub(spf, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        switch (f.num) {
        case 1: case 2: case 4: case 5: case 9: case 11: case 13: case 15:
            if ((rv = pwt(c, &f, COL_PB_LEN, "Span")) != 0)
                return rv;
            break;
        case 6:
            if ((rv = pwt(c, &f, COL_PB_VARINT, "Span")) != 0)
                return rv;
            break;
        case 7: case 8:
            if ((rv = pwt(c, &f, COL_PB_I64, "Span")) != 0)
                return rv;
            break;
        default:
            continue;
        }
        switch (f.num) {
        case 1: tid = f; break;
        case 2: sid = f; break;
        case 4: pid = f; break;
        case 5:
            if ((rv = col_conv_str(c, (const char *)f.data, f.len, "span name", &s.name)) != 0)
                return rv;
            break;
        case 6: kind = f.u; break;
        case 7: s.start_ns = f.u; break;
        case 8: s.end_ns = f.u; break;
        case 11: nevents++; break;
        case 13: nlinks++; break;
        case 15: /* Status { string message = 2; StatusCode code = 3; } */
            col_pb_sub(&f, &sr);
            while ((rv = col_pb_next(&sr, &sf)) == 1) {
                if (sf.num == 2) {
                    if ((rv = pwt(c, &sf, COL_PB_LEN, "Status")) != 0 ||
                        (rv = col_conv_str(c, (const char *)sf.data, sf.len, "status message",
                                           &s.status_msg)) != 0)
                        return rv;
                } else if (sf.num == 3) {
                    if ((rv = pwt(c, &sf, COL_PB_VARINT, "Status")) != 0)
                        return rv;
                    code = sf.u;
                }
            }
            if (rv < 0)
                return pbroken(c, rv, "Status");
            break;
        }
    }
    if (rv < 0)
        return pbroken(c, rv, "Span");
    col_conv_id_raw(c, tid.data, tid.len, s.trace_id, 16, 0, "trace_id");
    col_conv_id_raw(c, sid.data, sid.len, s.span_id, 8, 0, "span_id");
    col_conv_id_raw(c, pid.data, pid.len, s.parent_id, 8, 1, "parent_span_id");
    if (kind > SLC_KIND_CONSUMER)
        col_conv_bad(c, "kind %llu is out of range 0..5", (unsigned long long)kind);
    if (code > SLC_STATUS_ERROR)
        col_conv_bad(c, "status code %llu is out of range 0..2", (unsigned long long)code);
    if (s.start_ns == 0)
        col_conv_bad(c, "start_time_unix_nano is missing");
    if (nevents > c->lim.events_per_span)
        col_conv_bad(c, "more than %u events", c->lim.events_per_span);
    if (nlinks > c->lim.links_per_span)
        col_conv_bad(c, "more than %u links", c->lim.links_per_span);
    s.kind = (uint8_t)kind;
    s.status = (uint8_t)code;
    col_conv_group_begin(c, "span");
    s.attr_first = c->b->nattrs;
    if (!c->bad && ((rv = pattrs(c, spf, 9, "Span", -1)) != 0 || (rv = col_conv_ctx_apply(c)) != 0))
        return rv;
    s.attr_count = col_conv_group_count(c);
    s.event_first = c->b->nevents;
    if ((rv = peach(c, spf, 11, "Span", pevent, s.start_ns)) != 0)
        return rv;
    s.event_count = c->b->nevents - s.event_first;
    s.link_first = c->b->nlinks;
    if ((rv = peach(c, spf, 13, "Span", plink, s.start_ns)) != 0)
        return rv;
    s.link_count = c->b->nlinks - s.link_first;
    return col_conv_commit_span(c, &s);
}

/* ---- logs ---------------------------------------------------------------------- */

/* LogRecord { fixed64 time_unix_nano = 1; SeverityNumber severity_number = 2;
 * string severity_text = 3; AnyValue body = 5; repeated KeyValue
 * attributes = 6; fixed32 flags = 8; bytes trace_id = 9; bytes span_id = 10;
 * fixed64 observed_time_unix_nano = 11; string event_name = 12; } */
static int plog(col_conv *c, const col_pb_field *lf)
{
    col_pb r;
    col_pb_field f, tid = {0}, sid = {0}, text = {0}, body = {0}, ev = {0};
    slc_log l = {0};
    uint64_t observed = 0, sev = 0;
    int rv;

    if ((rv = col_conv_item_begin(c)) != 0)
        return rv;
    l.service = c->service;
    col_pb_sub(lf, &r);
    while ((rv = col_pb_next(&r, &f)) == 1) {
        switch (f.num) {
        case 1: case 11:
            if ((rv = pwt(c, &f, COL_PB_I64, "LogRecord")) != 0)
                return rv;
            if (f.num == 1)
                l.time_ns = f.u;
            else
                observed = f.u;
            break;
        case 2:
            if ((rv = pwt(c, &f, COL_PB_VARINT, "LogRecord")) != 0)
                return rv;
            sev = f.u;
            break;
        case 3: case 5: case 6: case 9: case 10: case 12:
            if ((rv = pwt(c, &f, COL_PB_LEN, "LogRecord")) != 0)
                return rv;
            if (f.num == 3)
                text = f;
            else if (f.num == 5)
                body = f;
            else if (f.num == 9)
                tid = f;
            else if (f.num == 10)
                sid = f;
            else if (f.num == 12)
                ev = f;
            break;
        }
    }
    if (rv < 0)
        return pbroken(c, rv, "LogRecord");
    if (sev > 24)
        col_conv_bad(c, "severity_number %llu is out of range 0..24", (unsigned long long)sev);
    if (sev == 0)
        sev = col_conv_severity_text((const char *)text.data, text.len);
    l.level = (uint8_t)(sev == 0 ? SLC_LVL_INFO : sev);
    if (l.time_ns == 0)
        l.time_ns = observed;
    if (l.time_ns == 0)
        col_conv_bad(c, "time_unix_nano and observed_time_unix_nano are both missing");
    if (col_conv_id_raw(c, tid.data, tid.len, l.trace_id, 16, 1, "trace_id") == 1) {
        l.flags |= SLC_LOG_F_TRACE;
        col_conv_id_raw(c, sid.data, sid.len, l.span_id, 8, 1, "span_id");
    } else if (sid.len > 0) {
        col_conv_bad(c, "span_id is set without a trace_id");
    }
    if (body.num != 0) {
        col_pb_field v;
        if ((rv = pany_last(c, &body, &v)) != 0)
            return rv;
        if (v.num == 1) {
            rv = col_conv_str(c, (const char *)v.data, v.len, "body", &l.body);
        } else if (v.num != 0) {
            json_t *plain;
            if ((rv = pany_plain(c, &body, 0, &plain)) != 0)
                return rv;
            rv = col_conv_str_json(c, plain, "body", &l.body);
            json_decref(plain);
        }
        if (rv != 0)
            return rv;
    }
    col_conv_group_begin(c, "log record");
    l.attr_first = c->b->nattrs;
    if ((rv = pattrs(c, lf, 6, "LogRecord", -1)) != 0)
        return rv;
    if (ev.len > 0) {
        col_val v = {.type = SLC_V_STR, .s = (const char *)ev.data, .len = ev.len};
        if ((rv = col_conv_attr(c, "event.name", 10, &v)) != 0)
            return rv;
    }
    if ((rv = col_conv_ctx_apply(c)) != 0)
        return rv;
    l.attr_count = col_conv_group_count(c);
    return col_conv_commit_log(c, &l);
}

/* ---- requests ------------------------------------------------------------------ */

/* Export{Trace,Logs}ServiceRequest { repeated ResourceX resource_x = 1; }
 * ResourceX { Resource resource = 1; repeated ScopeX scope_x = 2; }
 * ScopeX { InstrumentationScope scope = 1; repeated Item items = 2; } */
static int prequest(col_conv *c, const uint8_t *body, size_t len, int logs)
{
    const char *rname = logs ? "ResourceLogs" : "ResourceSpans";
    const char *sname = logs ? "ScopeLogs" : "ScopeSpans";
    col_pb req, rr, sr;
    col_pb_field rf, sf, f;
    int rv;

    col_pb_init(&req, body, len);
    while ((rv = col_pb_next(&req, &rf)) == 1) {
        if (rf.num != 1)
            continue;
        if ((rv = pwt(c, &rf, COL_PB_LEN, "request")) != 0 ||
            (rv = presource(c, &rf, rname)) != 0)
            return rv;
        col_pb_sub(&rf, &rr);
        while ((rv = col_pb_next(&rr, &sf)) == 1) {
            if (sf.num != 2)
                continue;
            if ((rv = pwt(c, &sf, COL_PB_LEN, rname)) != 0 || (rv = pscope(c, &sf, sname)) != 0)
                return rv;
            col_pb_sub(&sf, &sr);
            while ((rv = col_pb_next(&sr, &f)) == 1) {
                if (f.num != 2)
                    continue;
                if ((rv = pwt(c, &f, COL_PB_LEN, sname)) != 0 ||
                    (rv = logs ? plog(c, &f) : pspan(c, &f)) != 0)
                    return rv;
            }
            if (rv < 0)
                return pbroken(c, rv, sname);
        }
        if (rv < 0)
            return pbroken(c, rv, rname);
    }
    return rv < 0 ? pbroken(c, rv, "request") : 0;
}

static int pconvert(const uint8_t *body, size_t len, const slc_wire_limits *lim, int logs,
                    slc_batch **out, col_conv_report *rep, char *err, size_t errlen)
{
    col_conv c;
    int rv;

    if ((rv = col_conv_init(&c, lim, logs, err, errlen)) == 0 &&
        (rv = prequest(&c, body, len, logs)) == 0)
        rv = col_conv_done(&c, out, rep);
    col_conv_free(&c);
    return rv;
}

int col_otlp_traces_proto(const uint8_t *body, size_t len, const slc_wire_limits *lim,
                          slc_batch **out, col_conv_report *rep, char *err, size_t errlen)
{
    return pconvert(body, len, lim, 0, out, rep, err, errlen);
}

int col_otlp_logs_proto(const uint8_t *body, size_t len, const slc_wire_limits *lim,
                        slc_batch **out, col_conv_report *rep, char *err, size_t errlen)
{
    return pconvert(body, len, lim, 1, out, rep, err, errlen);
}
