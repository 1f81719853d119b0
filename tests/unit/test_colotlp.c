/*
 * test_colotlp.c - the OTLP receivers: JSON and protobuf converters (valid
 * payloads, every rejection path, limits), the bounded gzip inflater, the
 * protobuf reader, and the HTTP glue storing into a real RocksDB store.
 * Protobuf bodies are built here with a tiny writer, field by field, from
 * the numbers in opentelemetry-proto.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zlib.h>

#include "ingest/gzip.h"
#include "ingest/otlp.h"
#include "ingest/otlp_int.h"
#include "ingest/pb.h"
#include "sightline.h"
#include "stats.h"
#include "store/store.h"
#include "test_colutil.h"

#define TID "5b8efff798038103d269b633813fc60c"
#define SID "eee19b7ec3c1b174"
#define PID "eee19b7ec3c1b173"

/* ---- batch inspection ----------------------------------------------------- */

static int str_eq(const slc_batch *b, uint32_t idx, const char *s)
{
    return idx < b->nstrs && b->strs[idx].len == strlen(s) &&
           memcmp(b->strs[idx].ptr, s, b->strs[idx].len) == 0;
}

static const slc_attr *find_attr(const slc_batch *b, uint32_t first, uint32_t count,
                                 const char *key)
{
    for (uint32_t i = first; i < first + count; i++)
        if (str_eq(b, b->attrs[i].key, key))
            return &b->attrs[i];
    return NULL;
}

static void want_str(const slc_batch *b, uint32_t first, uint32_t count, const char *key,
                     const char *val)
{
    const slc_attr *a = find_attr(b, first, count, key);
    if (a == NULL)
        fail_msg("attribute %s missing", key);
    assert_int_equal(a->type, SLC_V_STR);
    if (!str_eq(b, a->v.str, val))
        fail_msg("attribute %s = '%.*s', want '%s'", key, (int)b->strs[a->v.str].len,
                 b->strs[a->v.str].ptr, val);
}

static void want_int(const slc_batch *b, uint32_t first, uint32_t count, const char *key,
                     int64_t v)
{
    const slc_attr *a = find_attr(b, first, count, key);
    if (a == NULL)
        fail_msg("attribute %s missing", key);
    assert_int_equal(a->type, SLC_V_INT);
    assert_true(a->v.i == v);
}

static void want_hex(const uint8_t *id, size_t n, const char *hex)
{
    char buf[40];
    slc_hex_encode(id, n, buf);
    assert_string_equal(buf, hex);
}

/* The batch must survive the native codec (what storing does next). */
static void roundtrip(const slc_batch *b)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    slc_batch *d = NULL;
    char err[200];

    assert_int_equal(slc_wire_encode(b, 1, &frame, &len), 0);
    if (slc_wire_decode(frame, len, NULL, &d, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    assert_int_equal(d->nspans, b->nspans);
    assert_int_equal(d->nlogs, b->nlogs);
    slc_batch_free(d);
    free(frame);
}

/* ---- OTLP/JSON traces -------------------------------------------------------- */

static const char *full_traces_json =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"checkout\"}},"
    "{\"key\":\"service.version\",\"value\":{\"stringValue\":\"1.2.3\"}},"
    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"web-1\"}},"
    "{\"key\":\"process.pid\",\"value\":{\"intValue\":\"4242\"}},"
    "{\"key\":\"http.method\",\"value\":{\"stringValue\":\"resource-loses\"}}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"my-lib\",\"version\":\"0.9\","
    "\"attributes\":[{\"key\":\"scope.attr\",\"value\":{\"boolValue\":true}}]},"
    "\"spans\":[{\"traceId\":\"" TID "\",\"spanId\":\"" SID "\",\"parentSpanId\":\"" PID "\","
    "\"name\":\"GET /cart\",\"kind\":2,"
    "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":\"1700000000250000000\","
    "\"attributes\":["
    "{\"key\":\"http.method\",\"value\":{\"stringValue\":\"GET\"}},"
    "{\"key\":\"retry\",\"value\":{\"boolValue\":false}},"
    "{\"key\":\"http.status_code\",\"value\":{\"intValue\":500}},"
    "{\"key\":\"big\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
    "{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.25}},"
    "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
    "{\"key\":\"tags\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},"
    "{\"intValue\":\"7\"},{\"boolValue\":true}]}}},"
    "{\"key\":\"map\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":"
    "{\"doubleValue\":1.5}}]}}},"
    "{\"key\":\"raw\",\"value\":{\"bytesValue\":\"AQID\"}},"
    "{\"key\":\"empty\",\"value\":{}}],"
    "\"status\":{\"code\":2,\"message\":\"card declined\"},"
    "\"events\":[{\"timeUnixNano\":\"1700000000100000000\",\"name\":\"exception\","
    "\"attributes\":[{\"key\":\"exception.type\",\"value\":{\"stringValue\":\"IOError\"}}]}],"
    "\"links\":[{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"b7ad6b7169203331\","
    "\"attributes\":[{\"key\":\"link.kind\",\"value\":{\"stringValue\":\"follows\"}}]}]"
    "}]}]}]}";

static void test_traces_json_full(void **state)
{
    slc_batch *b = NULL;
    col_conv_report rep;
    char err[256];
    (void)state;

    if (col_otlp_traces_json(full_traces_json, strlen(full_traces_json), NULL, &b, &rep, err,
                             sizeof err) != 0)
        fail_msg("convert: %s", err);
    assert_int_equal(b->nspans, 1);
    assert_int_equal(rep.accepted, 1);
    assert_int_equal(rep.rejected, 0);
    const slc_span *s = &b->spans[0];
    want_hex(s->trace_id, 16, TID);
    want_hex(s->span_id, 8, SID);
    want_hex(s->parent_id, 8, PID);
    assert_true(str_eq(b, s->service, "checkout"));
    assert_true(str_eq(b, s->name, "GET /cart"));
    assert_int_equal(s->kind, SLC_KIND_SERVER);
    assert_int_equal(s->status, SLC_STATUS_ERROR);
    assert_true(str_eq(b, s->status_msg, "card declined"));
    assert_true(s->start_ns == 1700000000000000000ULL);
    assert_true(s->end_ns == 1700000000250000000ULL);
    uint32_t f = s->attr_first, n = s->attr_count;
    want_str(b, f, n, "http.method", "GET"); /* the span's own value wins */
    assert_int_equal(find_attr(b, f, n, "retry")->type, SLC_V_BOOL);
    assert_int_equal(find_attr(b, f, n, "retry")->v.b, 0);
    want_int(b, f, n, "http.status_code", 500);
    want_int(b, f, n, "big", INT64_MIN);
    assert_true(find_attr(b, f, n, "ratio")->v.d == 0.25);
    want_str(b, f, n, "nan", "NaN");
    want_str(b, f, n, "tags", "[\"a\",7,true]");
    want_str(b, f, n, "map", "{\"k\":1.5}");
    want_str(b, f, n, "raw", "AQID");
    assert_null(find_attr(b, f, n, "empty"));
    want_str(b, f, n, "service.version", "1.2.3");
    want_str(b, f, n, "host.name", "web-1");
    want_int(b, f, n, "process.pid", 4242);
    want_str(b, f, n, "otel.scope.name", "my-lib");
    want_str(b, f, n, "otel.scope.version", "0.9");
    assert_int_equal(find_attr(b, f, n, "scope.attr")->v.b, 1);
    assert_null(find_attr(b, f, n, "service.name")); /* it is the span's service */
    assert_int_equal(n, 15);
    assert_int_equal(s->event_count, 1);
    const slc_event *e = &b->events[s->event_first];
    assert_true(str_eq(b, e->name, "exception"));
    assert_true(e->time_ns == 1700000000100000000ULL);
    want_str(b, e->attr_first, e->attr_count, "exception.type", "IOError");
    assert_int_equal(e->attr_count, 1);
    assert_int_equal(s->link_count, 1);
    const slc_link *l = &b->links[s->link_first];
    want_hex(l->trace_id, 16, "0af7651916cd43dd8448eb211c80319c");
    want_hex(l->span_id, 8, "b7ad6b7169203331");
    want_str(b, l->attr_first, l->attr_count, "link.kind", "follows");
    roundtrip(b);
    slc_batch_free(b);
}

/* snake_case names, numeric times, enum names, no resource at all */
static void test_traces_json_variants(void **state)
{
    const char *j =
        "{\"resource_spans\":[{\"scope_spans\":[{\"spans\":[{\"trace_id\":\"" TID "\","
        "\"span_id\":\"" SID "\",\"name\":\"x\",\"kind\":\"SPAN_KIND_CONSUMER\","
        "\"start_time_unix_nano\":1700000000000000000,\"end_time_unix_nano\":1700000000000000001,"
        "\"status\":{\"code\":\"STATUS_CODE_OK\"}},"
        "{\"traceId\":\"" TID "\",\"spanId\":\"" PID "\",\"parentSpanId\":\"0000000000000000\","
        "\"startTimeUnixNano\":\"5\",\"endTimeUnixNano\":\"5\"}]}]}]}";
    slc_batch *b = NULL;
    char err[256];
    (void)state;

    if (col_otlp_traces_json(j, strlen(j), NULL, &b, NULL, err, sizeof err) != 0)
        fail_msg("convert: %s", err);
    assert_int_equal(b->nspans, 2);
    assert_true(str_eq(b, b->spans[0].service, "unknown_service"));
    assert_int_equal(b->spans[0].kind, SLC_KIND_CONSUMER);
    assert_int_equal(b->spans[0].status, SLC_STATUS_OK);
    assert_true(b->spans[0].end_ns == 1700000000000000001ULL);
    assert_true(slc_is_zero(b->spans[1].parent_id, 8)); /* all-zero parent = root */
    assert_int_equal(b->spans[1].kind, SLC_KIND_UNSPECIFIED);
    slc_batch_free(b);

    /* an empty request is valid and converts to an empty batch */
    assert_int_equal(col_otlp_traces_json("{}", 2, NULL, &b, NULL, err, sizeof err), 0);
    assert_int_equal(b->nspans, 0);
    slc_batch_free(b);
}

/* A span with one field replaced; returns the body (static buffer). */
static const char *one_span(const char *fields)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{%s}]}]}]}",
             fields);
    return buf;
}

#define GOOD_IDS "\"traceId\":\"" TID "\",\"spanId\":\"" SID "\""
#define GOOD_TIMES "\"startTimeUnixNano\":\"10\",\"endTimeUnixNano\":\"20\""

static void expect_span_rejected(const char *fields, const char *why)
{
    const char *j = one_span(fields);
    slc_batch *b = NULL;
    char err[256] = "";
    int rv = col_otlp_traces_json(j, strlen(j), NULL, &b, NULL, err, sizeof err);
    if (rv != SL_EWIRE_VALUE)
        fail_msg("'%s': got %d (%s), want SL_EWIRE_VALUE", fields, rv, err);
    assert_null(b);
    if (strstr(err, why) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", fields, err, why);
}

static void test_traces_json_rejected_items(void **state)
{
    (void)state;
    expect_span_rejected("\"traceId\":\"5b8e\",\"spanId\":\"" SID "\"," GOOD_TIMES,
                         "traceId must be 32 hex digits");
    expect_span_rejected("\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"" SID
                         "\"," GOOD_TIMES,
                         "traceId is all zero");
    expect_span_rejected("\"spanId\":\"" SID "\"," GOOD_TIMES, "traceId is missing");
    expect_span_rejected("\"traceId\":\"" TID "\",\"spanId\":\"0000000000000000\"," GOOD_TIMES,
                         "spanId is all zero");
    expect_span_rejected("\"traceId\":\"" TID "\",\"spanId\":\"zzzzzzzzzzzzzzzz\"," GOOD_TIMES,
                         "is not hex");
    expect_span_rejected(GOOD_IDS ",\"parentSpanId\":\"abc\"," GOOD_TIMES,
                         "parentSpanId must be 16 hex digits");
    expect_span_rejected(GOOD_IDS ",\"startTimeUnixNano\":\"20\",\"endTimeUnixNano\":\"10\"",
                         "end time is before start time");
    expect_span_rejected(GOOD_IDS ",\"endTimeUnixNano\":\"10\"", "startTimeUnixNano is missing");
    expect_span_rejected(GOOD_IDS "," GOOD_TIMES ",\"kind\":6", "kind 6 is out of range");
    expect_span_rejected(GOOD_IDS "," GOOD_TIMES ",\"kind\":\"SPAN_KIND_NOPE\"",
                         "is not a known value");
    expect_span_rejected(GOOD_IDS "," GOOD_TIMES ",\"status\":{\"code\":3}",
                         "code 3 is out of range");
    expect_span_rejected(GOOD_IDS "," GOOD_TIMES ",\"links\":[{\"traceId\":\"" TID
                         "\",\"spanId\":\"\"}]",
                         "link spanId is missing");
}

static void test_traces_json_partial_and_limits(void **state)
{
    char body[8192];
    slc_batch *b = NULL;
    col_conv_report rep;
    slc_wire_limits lim;
    char err[256];
    (void)state;

    /* one good span, one bad: the good one stays, the report says why */
    snprintf(body, sizeof body,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" GOOD_IDS "," GOOD_TIMES
             ",\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":\"x\"}}]},"
             "{\"traceId\":\"" TID "\",\"spanId\":\"" SID "\",\"startTimeUnixNano\":\"9\","
             "\"endTimeUnixNano\":\"8\",\"attributes\":[{\"key\":\"b\",\"value\":{\"stringValue\":"
             "\"y\"}}],\"events\":[{\"name\":\"e\",\"timeUnixNano\":\"9\"}]}]}]}]}");
    assert_int_equal(col_otlp_traces_json(body, strlen(body), NULL, &b, &rep, err, sizeof err), 0);
    assert_int_equal(b->nspans, 1);
    assert_int_equal(rep.accepted, 1);
    assert_int_equal(rep.rejected, 1);
    assert_non_null(strstr(rep.reason, "span 1: end time is before start time"));
    assert_int_equal(b->nattrs, 1); /* the rejected span left nothing behind */
    assert_int_equal(b->nevents, 0);
    roundtrip(b);
    slc_batch_free(b);
    b = NULL;

    slc_wire_limits_default(&lim);
    lim.attrs_per_item = 2;
    lim.events_per_span = 1;
    lim.links_per_span = 0;
    lim.string_bytes = 8;
    lim.spans = 1;
    /* over the attribute limit */
    snprintf(body, sizeof body, "%s",
             one_span(GOOD_IDS "," GOOD_TIMES ",\"attributes\":["
                              "{\"key\":\"a\",\"value\":{\"intValue\":1}},"
                              "{\"key\":\"b\",\"value\":{\"intValue\":2}},"
                              "{\"key\":\"c\",\"value\":{\"intValue\":3}}]"));
    assert_int_equal(col_otlp_traces_json(body, strlen(body), &lim, &b, &rep, err, sizeof err),
                     SL_EWIRE_VALUE);
    assert_non_null(strstr(err, "more than 2 attributes"));
    /* events and links */
    snprintf(body, sizeof body, "%s",
             one_span(GOOD_IDS "," GOOD_TIMES ",\"events\":[{\"name\":\"a\"},{\"name\":\"b\"}]"));
    assert_int_equal(col_otlp_traces_json(body, strlen(body), &lim, &b, &rep, err, sizeof err),
                     SL_EWIRE_VALUE);
    assert_non_null(strstr(err, "more than 1 events"));
    snprintf(body, sizeof body, "%s",
             one_span(GOOD_IDS "," GOOD_TIMES ",\"links\":[{\"traceId\":\"" TID
                              "\",\"spanId\":\"" SID "\"}]"));
    assert_int_equal(col_otlp_traces_json(body, strlen(body), &lim, &b, &rep, err, sizeof err),
                     SL_EWIRE_VALUE);
    assert_non_null(strstr(err, "more than 0 links"));
    /* string length */
    snprintf(body, sizeof body, "%s", one_span(GOOD_IDS "," GOOD_TIMES ",\"name\":\"123456789\""));
    assert_int_equal(col_otlp_traces_json(body, strlen(body), &lim, &b, &rep, err, sizeof err),
                     SL_EWIRE_VALUE);
    assert_non_null(strstr(err, "span name is longer than the string limit"));
    /* span count: a request-level limit */
    snprintf(body, sizeof body,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" GOOD_IDS "," GOOD_TIMES
             "},{" GOOD_IDS "," GOOD_TIMES "}]}]}]}");
    assert_int_equal(col_otlp_traces_json(body, strlen(body), &lim, &b, &rep, err, sizeof err),
                     SL_EWIRE_LIMIT);
    assert_non_null(strstr(err, "more than 1 spans"));
    assert_null(b);
}

static void expect_malformed(const char *body, const char *why)
{
    slc_batch *b = NULL;
    char err[256] = "";
    int rv = col_otlp_traces_json(body, strlen(body), NULL, &b, NULL, err, sizeof err);
    if (rv != SL_EPARSE)
        fail_msg("'%s': got %d (%s), want SL_EPARSE", body, rv, err);
    assert_null(b);
    if (strstr(err, why) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", body, err, why);
}

static void test_traces_json_malformed(void **state)
{
    char deep[2048];
    size_t n = 0;
    (void)state;

    expect_malformed("{\"resourceSpans\":[", "not valid JSON");
    expect_malformed("[]", "must be a JSON object");
    expect_malformed("{\"resourceSpans\":{}}", "resourceSpans must be an array");
    expect_malformed("{\"resourceSpans\":[1]}", "resourceSpans[] must be objects");
    expect_malformed("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[7]}]}]}",
                     "spans[] must be objects");
    expect_malformed(one_span(GOOD_IDS ",\"name\":5"), "span.name must be a string");
    expect_malformed(one_span(GOOD_IDS ",\"startTimeUnixNano\":\"12a\""),
                     "startTimeUnixNano must be unsigned nanoseconds");
    expect_malformed(one_span(GOOD_IDS ",\"startTimeUnixNano\":-1"),
                     "startTimeUnixNano must be unsigned nanoseconds");
    expect_malformed(one_span(GOOD_IDS "," GOOD_TIMES ",\"attributes\":[{\"key\":\"a\","
                                       "\"value\":{\"intValue\":\"x1\"}}]"),
                     "intValue must be an int64");
    expect_malformed(one_span(GOOD_IDS "," GOOD_TIMES ",\"attributes\":{}"),
                     "attributes must be an array");
    expect_malformed("{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\","
                     "\"value\":{\"stringValue\":1}}]}}]}",
                     "stringValue must be a string");
    /* nesting deeper than the AnyValue limit */
    n += (size_t)snprintf(deep + n, sizeof deep - n, "%s", "{\"resourceSpans\":[{\"scopeSpans\":"
                          "[{\"spans\":[{" GOOD_IDS "," GOOD_TIMES ",\"attributes\":[{\"key\":"
                          "\"d\",\"value\":");
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"arrayValue\":{\"values\":[");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"intValue\":1}");
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "]}}");
    snprintf(deep + n, sizeof deep - n, "}]}]}]}]}");
    expect_malformed(deep, "nested deeper than");
}

/* ---- OTLP/JSON logs ---------------------------------------------------------------- */

static void test_logs_json(void **state)
{
    const char *j =
        "{\"resourceLogs\":[{\"resource\":{\"attributes\":["
        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"billing\"}},"
        "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"db-2\"}}]},"
        "\"scopeLogs\":[{\"scope\":{\"name\":\"logger\"},\"logRecords\":["
        "{\"timeUnixNano\":\"1700000000000000001\",\"severityNumber\":17,\"severityText\":\"ERROR\","
        "\"body\":{\"stringValue\":\"payment failed\"},\"traceId\":\"" TID "\",\"spanId\":\"" SID "\","
        "\"attributes\":[{\"key\":\"order\",\"value\":{\"intValue\":\"77\"}}],"
        "\"eventName\":\"payment.failed\"},"
        "{\"observedTimeUnixNano\":\"1700000000000000002\",\"severityText\":\"warn\","
        "\"body\":{\"kvlistValue\":{\"values\":[{\"key\":\"msg\",\"value\":{\"stringValue\":\"hi\"}}]}}},"
        "{\"timeUnixNano\":\"1700000000000000003\"},"
        "{\"timeUnixNano\":\"1700000000000000004\",\"severityNumber\":\"SEVERITY_NUMBER_DEBUG2\","
        "\"body\":{\"intValue\":\"5\"},\"traceId\":\"\",\"spanId\":\"\"}"
        "]}]}]}";
    slc_batch *b = NULL;
    col_conv_report rep;
    char err[256];
    (void)state;

    if (col_otlp_logs_json(j, strlen(j), NULL, &b, &rep, err, sizeof err) != 0)
        fail_msg("convert: %s", err);
    assert_int_equal(b->nlogs, 4);
    assert_int_equal(rep.accepted, 4);
    const slc_log *l = &b->logs[0];
    assert_true(l->time_ns == 1700000000000000001ULL);
    assert_int_equal(l->level, 17);
    assert_true(str_eq(b, l->service, "billing"));
    assert_true(str_eq(b, l->body, "payment failed"));
    assert_int_equal(l->flags, SLC_LOG_F_TRACE);
    want_hex(l->trace_id, 16, TID);
    want_hex(l->span_id, 8, SID);
    want_int(b, l->attr_first, l->attr_count, "order", 77);
    want_str(b, l->attr_first, l->attr_count, "event.name", "payment.failed");
    want_str(b, l->attr_first, l->attr_count, "host.name", "db-2");
    want_str(b, l->attr_first, l->attr_count, "otel.scope.name", "logger");
    l = &b->logs[1];
    assert_true(l->time_ns == 1700000000000000002ULL); /* observed time used */
    assert_int_equal(l->level, SLC_LVL_WARN);          /* inferred from the text */
    assert_true(str_eq(b, l->body, "{\"msg\":\"hi\"}"));
    assert_int_equal(l->flags, 0);
    l = &b->logs[2];
    assert_int_equal(l->level, SLC_LVL_INFO); /* default */
    assert_int_equal(l->body, 0);
    l = &b->logs[3];
    assert_int_equal(l->level, SLC_LVL_DEBUG + 1);
    assert_true(str_eq(b, l->body, "5"));
    roundtrip(b);
    slc_batch_free(b);

    /* rejections */
    const char *bad[] = {
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"x\"}}]}]}]}",
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"1\","
        "\"severityNumber\":25}]}]}]}",
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"1\","
        "\"traceId\":\"abcd\"}]}]}]}",
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"1\","
        "\"spanId\":\"" SID "\"}]}]}]}",
    };
    const char *why[] = {"both missing", "out of range 0..24", "traceId must be 32 hex",
                         "spanId is set without a traceId"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = col_otlp_logs_json(bad[i], strlen(bad[i]), NULL, &b, NULL, err, sizeof err);
        assert_int_equal(rv, SL_EWIRE_VALUE);
        if (strstr(err, why[i]) == NULL)
            fail_msg("log %zu: '%s' lacks '%s'", i, err, why[i]);
    }
    assert_int_equal(col_otlp_logs_json("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":"
                                        "[{\"body\":[]}]}]}]}",
                                        60, NULL, &b, NULL, err, sizeof err),
                     SL_EPARSE);
}

/* ---- protobuf ------------------------------------------------------------------------ */

typedef struct pbuf {
    uint8_t *p;
    size_t n, cap;
} pbuf;

static void pb_raw(pbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void pb_varint(pbuf *b, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        pb_raw(b, &c, 1);
        v >>= 7;
    } while (v);
}

static void pb_tag(pbuf *b, uint32_t num, int wt) { pb_varint(b, (uint64_t)num << 3 | (unsigned)wt); }
static void pb_uv(pbuf *b, uint32_t num, uint64_t v) { pb_tag(b, num, 0); pb_varint(b, v); }

static void pb_f64(pbuf *b, uint32_t num, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    pb_tag(b, num, 1);
    pb_raw(b, le, 8);
}

static void pb_bytes(pbuf *b, uint32_t num, const void *p, size_t n)
{
    pb_tag(b, num, 2);
    pb_varint(b, n);
    pb_raw(b, p, n);
}

static void pb_str(pbuf *b, uint32_t num, const char *s) { pb_bytes(b, num, s, strlen(s)); }

/* Appends inner as field num and frees it. */
static void pb_msg(pbuf *b, uint32_t num, pbuf *inner)
{
    pb_bytes(b, num, inner->p, inner->n);
    free(inner->p);
    memset(inner, 0, sizeof *inner);
}

static void pb_hex(pbuf *b, uint32_t num, const char *hex)
{
    uint8_t id[16];
    size_t n = strlen(hex) / 2;
    assert_int_equal(slc_hex_decode(hex, n * 2, id, n), 0);
    pb_bytes(b, num, id, n);
}

/* KeyValue { key = 1; AnyValue value = 2 } with AnyValue field vnum. */
static void pb_kv_str(pbuf *b, uint32_t num, const char *k, const char *v)
{
    pbuf kv = {0}, any = {0};
    pb_str(&any, 1, v);
    pb_str(&kv, 1, k);
    pb_msg(&kv, 2, &any);
    pb_msg(b, num, &kv);
}

static void pb_kv_int(pbuf *b, uint32_t num, const char *k, int64_t v)
{
    pbuf kv = {0}, any = {0};
    pb_uv(&any, 3, (uint64_t)v);
    pb_str(&kv, 1, k);
    pb_msg(&kv, 2, &any);
    pb_msg(b, num, &kv);
}

static void pb_kv_dbl(pbuf *b, uint32_t num, const char *k, double d)
{
    pbuf kv = {0}, any = {0};
    uint64_t u;
    memcpy(&u, &d, 8);
    pb_f64(&any, 4, u);
    pb_str(&kv, 1, k);
    pb_msg(&kv, 2, &any);
    pb_msg(b, num, &kv);
}

static void pb_kv_bool(pbuf *b, uint32_t num, const char *k, int v)
{
    pbuf kv = {0}, any = {0};
    pb_uv(&any, 2, (uint64_t)v);
    pb_str(&kv, 1, k);
    pb_msg(&kv, 2, &any);
    pb_msg(b, num, &kv);
}

/* A resource (service.name, host.name) + scope wrapper around items. */
static pbuf pb_request(pbuf *items, const char *service)
{
    pbuf req = {0}, rs = {0}, res = {0}, ss = {0}, scope = {0};
    pb_kv_str(&res, 1, "service.name", service);
    pb_kv_str(&res, 1, "host.name", "node-7");
    pb_str(&scope, 1, "@opentelemetry/test");
    pb_str(&scope, 2, "2.0.0");
    pb_msg(&ss, 1, &scope);
    pb_raw(&ss, items->p, items->n);
    free(items->p);
    memset(items, 0, sizeof *items);
    /* scope_spans before the resource: protobuf allows any order */
    pb_msg(&rs, 2, &ss);
    pb_msg(&rs, 1, &res);
    pb_msg(&req, 1, &rs);
    return req;
}

static pbuf pb_full_span(void)
{
    pbuf items = {0}, sp = {0}, ev = {0}, ln = {0}, st = {0}, kv = {0}, any = {0}, arr = {0},
         el = {0};
    pb_hex(&sp, 1, TID);
    pb_hex(&sp, 2, SID);
    pb_hex(&sp, 4, PID);
    pb_str(&sp, 3, "rojo=00f067aa0ba902b7");
    pb_str(&sp, 5, "charge");
    pb_uv(&sp, 6, 3);
    pb_f64(&sp, 7, 1700000000000000000ULL);
    pb_f64(&sp, 8, 1700000000300000000ULL);
    pb_kv_str(&sp, 9, "peer.service", "bank");
    pb_kv_int(&sp, 9, "amount", -42);
    pb_kv_dbl(&sp, 9, "fee", 1.25);
    pb_kv_bool(&sp, 9, "retried", 1);
    /* an array attribute: ["x", 3] */
    pb_str(&el, 1, "x");
    pb_msg(&arr, 1, &el);
    pb_uv(&el, 3, 3);
    pb_msg(&arr, 1, &el);
    pb_msg(&any, 5, &arr);
    pb_str(&kv, 1, "list");
    pb_msg(&kv, 2, &any);
    pb_msg(&sp, 9, &kv);
    /* bytes attribute */
    pb_bytes(&any, 7, "\x01\x02\x03\xff", 4);
    pb_str(&kv, 1, "blob");
    pb_msg(&kv, 2, &any);
    pb_msg(&sp, 9, &kv);
    pb_uv(&sp, 10, 3); /* dropped_attributes_count: ignored */
    pb_f64(&ev, 1, 1700000000200000000ULL);
    pb_str(&ev, 2, "retry");
    pb_kv_int(&ev, 3, "attempt", 2);
    pb_msg(&sp, 11, &ev);
    pb_hex(&ln, 1, "0af7651916cd43dd8448eb211c80319c");
    pb_hex(&ln, 2, "b7ad6b7169203331");
    pb_kv_str(&ln, 4, "why", "batch");
    pb_msg(&sp, 13, &ln);
    pb_str(&st, 2, "insufficient funds");
    pb_uv(&st, 3, 2);
    pb_msg(&sp, 15, &st);
    pb_tag(&sp, 16, 5);
    pb_raw(&sp, "\x01\x00\x00\x00", 4); /* flags (fixed32): ignored */
    pb_msg(&items, 2, &sp);
    return pb_request(&items, "payments");
}

static void test_traces_proto_full(void **state)
{
    pbuf req = pb_full_span();
    slc_batch *b = NULL;
    col_conv_report rep;
    char err[256];
    (void)state;

    if (col_otlp_traces_proto(req.p, req.n, NULL, &b, &rep, err, sizeof err) != 0)
        fail_msg("convert: %s", err);
    assert_int_equal(b->nspans, 1);
    const slc_span *s = &b->spans[0];
    want_hex(s->trace_id, 16, TID);
    want_hex(s->span_id, 8, SID);
    want_hex(s->parent_id, 8, PID);
    assert_true(str_eq(b, s->service, "payments"));
    assert_true(str_eq(b, s->name, "charge"));
    assert_int_equal(s->kind, SLC_KIND_CLIENT);
    assert_int_equal(s->status, SLC_STATUS_ERROR);
    assert_true(str_eq(b, s->status_msg, "insufficient funds"));
    assert_true(s->start_ns == 1700000000000000000ULL);
    assert_true(s->end_ns == 1700000000300000000ULL);
    uint32_t f = s->attr_first, n = s->attr_count;
    want_str(b, f, n, "peer.service", "bank");
    want_int(b, f, n, "amount", -42);
    assert_true(find_attr(b, f, n, "fee")->v.d == 1.25);
    assert_int_equal(find_attr(b, f, n, "retried")->v.b, 1);
    want_str(b, f, n, "list", "[\"x\",3]");
    want_str(b, f, n, "blob", "AQID/w==");
    want_str(b, f, n, "host.name", "node-7");
    want_str(b, f, n, "otel.scope.name", "@opentelemetry/test");
    want_str(b, f, n, "otel.scope.version", "2.0.0");
    assert_int_equal(n, 9);
    assert_int_equal(s->event_count, 1);
    const slc_event *e = &b->events[s->event_first];
    assert_true(str_eq(b, e->name, "retry"));
    assert_true(e->time_ns == 1700000000200000000ULL);
    want_int(b, e->attr_first, e->attr_count, "attempt", 2);
    assert_int_equal(s->link_count, 1);
    want_hex(b->links[s->link_first].trace_id, 16, "0af7651916cd43dd8448eb211c80319c");
    want_str(b, b->links[s->link_first].attr_first, b->links[s->link_first].attr_count, "why",
             "batch");
    roundtrip(b);
    slc_batch_free(b);
    free(req.p);
}

static void expect_proto_fail(pbuf *req, int want, const char *why)
{
    slc_batch *b = NULL;
    char err[256] = "";
    int rv = col_otlp_traces_proto(req->p, req->n, NULL, &b, NULL, err, sizeof err);
    if (rv != want)
        fail_msg("got %d (%s), want %d", rv, err, want);
    assert_null(b);
    if (strstr(err, why) == NULL)
        fail_msg("message '%s' lacks '%s'", err, why);
    free(req->p);
    memset(req, 0, sizeof *req);
}

static pbuf pb_span_with(void (*edit)(pbuf *sp))
{
    pbuf items = {0}, sp = {0};
    edit(&sp);
    pb_msg(&items, 2, &sp);
    return pb_request(&items, "svc");
}

static void ed_short_trace(pbuf *sp) { pb_bytes(sp, 1, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); pb_hex(sp, 2, SID); pb_f64(sp, 7, 1); pb_f64(sp, 8, 2); }
static void ed_zero_span(pbuf *sp) { pb_hex(sp, 1, TID); pb_bytes(sp, 2, "\0\0\0\0\0\0\0\0", 8); pb_f64(sp, 7, 1); pb_f64(sp, 8, 2); }
static void ed_kind(pbuf *sp) { pb_hex(sp, 1, TID); pb_hex(sp, 2, SID); pb_uv(sp, 6, 9); pb_f64(sp, 7, 1); pb_f64(sp, 8, 2); }
static void ed_utf8(pbuf *sp) { pb_hex(sp, 1, TID); pb_hex(sp, 2, SID); pb_str(sp, 5, "bad\xff"); pb_f64(sp, 7, 1); pb_f64(sp, 8, 2); }
static void ed_wt(pbuf *sp) { pb_uv(sp, 1, 5); pb_hex(sp, 2, SID); }
static void ed_time_wt(pbuf *sp) { pb_hex(sp, 1, TID); pb_hex(sp, 2, SID); pb_uv(sp, 7, 1); }

static void test_traces_proto_rejections(void **state)
{
    pbuf r;
    (void)state;

    r = pb_span_with(ed_short_trace);
    expect_proto_fail(&r, SL_EWIRE_VALUE, "trace_id must be 16 bytes, got 8");
    r = pb_span_with(ed_zero_span);
    expect_proto_fail(&r, SL_EWIRE_VALUE, "span_id is all zero");
    r = pb_span_with(ed_kind);
    expect_proto_fail(&r, SL_EWIRE_VALUE, "kind 9 is out of range");
    r = pb_span_with(ed_utf8);
    expect_proto_fail(&r, SL_EWIRE_VALUE, "span name is not valid UTF-8");
    r = pb_span_with(ed_wt);
    expect_proto_fail(&r, SL_EWIRE_VALUE, "Span field 1 has wire type varint, expected length");
    r = pb_span_with(ed_time_wt);
    expect_proto_fail(&r, SL_EWIRE_VALUE, "Span field 7 has wire type varint, expected fixed64");

    /* framing: truncated, an over-long varint, a group, field number 0 */
    r = pb_full_span();
    r.n -= 3;
    expect_proto_fail(&r, SL_EWIRE_TRUNCATED, "malformed protobuf in request");
    pbuf v = {0};
    pb_tag(&v, 1, 2);
    pb_raw(&v, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    expect_proto_fail(&v, SL_EWIRE_VARINT, "malformed protobuf");
    pb_tag(&v, 1, 3);
    expect_proto_fail(&v, SL_EWIRE_VALUE, "malformed protobuf");
    pb_raw(&v, "\x00\x01", 2);
    expect_proto_fail(&v, SL_EWIRE_VALUE, "malformed protobuf");
    /* an inner length running past its parent */
    pbuf items = {0}, sp = {0};
    pb_tag(&sp, 5, 2);
    pb_varint(&sp, 100);
    pb_raw(&sp, "abc", 3);
    pb_msg(&items, 2, &sp);
    r = pb_request(&items, "svc");
    expect_proto_fail(&r, SL_EWIRE_TRUNCATED, "malformed protobuf in Span");

    /* unknown fields are skipped; an empty body is an empty request */
    slc_batch *b = NULL;
    char err[200];
    pb_uv(&v, 99, 1);
    pb_str(&v, 1000, "future");
    assert_int_equal(col_otlp_traces_proto(v.p, v.n, NULL, &b, NULL, err, sizeof err), 0);
    assert_int_equal(b->nspans, 0);
    slc_batch_free(b);
    free(v.p);
    assert_int_equal(col_otlp_traces_proto((const uint8_t *)"", 0, NULL, &b, NULL, err, sizeof err), 0);
    slc_batch_free(b);
}

static void test_logs_proto(void **state)
{
    pbuf items = {0}, lr = {0}, body = {0}, kvl = {0}, kv = {0}, any = {0};
    slc_batch *b = NULL;
    col_conv_report rep;
    char err[256];
    (void)state;

    pb_f64(&lr, 1, 1700000000000000009ULL);
    pb_uv(&lr, 2, 21);
    pb_str(&lr, 3, "FATAL");
    pb_str(&body, 1, "disk full");
    pb_msg(&lr, 5, &body);
    pb_kv_str(&lr, 6, "disk", "/dev/sda");
    pb_hex(&lr, 9, TID);
    pb_hex(&lr, 10, SID);
    pb_str(&lr, 12, "disk.full");
    pb_msg(&items, 2, &lr);
    /* second record: no severity number, text "Warning", kvlist body,
     * only observed time */
    pb_f64(&lr, 11, 1700000000000000010ULL);
    pb_str(&lr, 3, "Warning");
    pb_str(&any, 1, "v");
    pb_str(&kv, 1, "k");
    pb_msg(&kv, 2, &any);
    pb_msg(&kvl, 1, &kv);
    pb_msg(&body, 6, &kvl);
    pb_msg(&lr, 5, &body);
    pb_msg(&items, 2, &lr);
    /* third: bad severity -> rejected alone */
    pb_f64(&lr, 1, 5);
    pb_uv(&lr, 2, 30);
    pb_msg(&items, 2, &lr);
    pbuf req = pb_request(&items, "storage");

    if (col_otlp_logs_proto(req.p, req.n, NULL, &b, &rep, err, sizeof err) != 0)
        fail_msg("convert: %s", err);
    assert_int_equal(b->nlogs, 2);
    assert_int_equal(rep.rejected, 1);
    assert_non_null(strstr(rep.reason, "log record 2: severity_number 30 is out of range"));
    const slc_log *l = &b->logs[0];
    assert_true(l->time_ns == 1700000000000000009ULL);
    assert_int_equal(l->level, SLC_LVL_FATAL);
    assert_true(str_eq(b, l->service, "storage"));
    assert_true(str_eq(b, l->body, "disk full"));
    assert_int_equal(l->flags, SLC_LOG_F_TRACE);
    want_hex(l->trace_id, 16, TID);
    want_hex(l->span_id, 8, SID);
    want_str(b, l->attr_first, l->attr_count, "disk", "/dev/sda");
    want_str(b, l->attr_first, l->attr_count, "event.name", "disk.full");
    want_str(b, l->attr_first, l->attr_count, "host.name", "node-7");
    l = &b->logs[1];
    assert_true(l->time_ns == 1700000000000000010ULL);
    assert_int_equal(l->level, SLC_LVL_WARN);
    assert_true(str_eq(b, l->body, "{\"k\":\"v\"}"));
    roundtrip(b);
    slc_batch_free(b);
    free(req.p);
}

/* ---- pb reader and severity text ------------------------------------------------ */

static void test_pb_reader(void **state)
{
    col_pb r;
    col_pb_field f;
    const uint8_t max[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                           0x15, 1, 0, 0, 0};
    (void)state;

    col_pb_init(&r, max, sizeof max);
    assert_int_equal(col_pb_next(&r, &f), 1);
    assert_int_equal(f.num, 1);
    assert_true(f.u == UINT64_MAX);
    assert_int_equal(col_pb_next(&r, &f), 1);
    assert_int_equal(f.wt, COL_PB_I32);
    assert_int_equal(f.u, 1);
    assert_int_equal(col_pb_next(&r, &f), 0);
    /* the tenth byte may carry only bit 63 */
    const uint8_t over[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    col_pb_init(&r, over, sizeof over);
    assert_int_equal(col_pb_next(&r, &f), SL_EWIRE_VARINT);
    assert_int_equal(col_pb_next(&r, &f), 0);
    const uint8_t trunc64[] = {0x09, 1, 2, 3};
    col_pb_init(&r, trunc64, sizeof trunc64);
    assert_int_equal(col_pb_next(&r, &f), SL_EWIRE_TRUNCATED);
}

/* ---- gzip ------------------------------------------------------------------------ */

static pbuf gz(const void *p, size_t n)
{
    pbuf out = {0};
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    out.cap = deflateBound(&zs, (uLong)n) + 32;
    out.p = malloc(out.cap);
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out.p;
    zs.avail_out = (uInt)out.cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.n = out.cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void test_gunzip(void **state)
{
    char *big = malloc(1 << 20);
    uint8_t *out = NULL;
    size_t olen = 0;
    char err[200];
    (void)state;

    for (size_t i = 0; i < (1 << 20); i++)
        big[i] = (char)('a' + i % 7);
    pbuf z = gz(big, 1 << 20);
    assert_int_equal(col_gunzip(z.p, z.n, 1 << 20, &out, &olen, err, sizeof err), 0);
    assert_int_equal(olen, 1 << 20);
    assert_memory_equal(out, big, olen);
    assert_int_equal(out[olen], 0);
    free(out);
    /* one byte over the cap */
    out = NULL;
    assert_int_equal(col_gunzip(z.p, z.n, (1 << 20) - 1, &out, &olen, err, sizeof err),
                     SL_ETOOBIG);
    assert_null(out);
    /* truncated and corrupt */
    assert_int_equal(col_gunzip(z.p, z.n - 10, 1 << 21, &out, &olen, err, sizeof err),
                     SL_EWIRE_INFLATE);
    assert_non_null(strstr(err, "truncated"));
    z.p[z.n / 2] ^= 0x55;
    z.p[z.n / 2 + 1] ^= 0x55;
    assert_int_equal(col_gunzip(z.p, z.n, 1 << 21, &out, &olen, err, sizeof err),
                     SL_EWIRE_INFLATE);
    assert_int_equal(col_gunzip((const uint8_t *)"not gzip", 8, 100, &out, &olen, err, sizeof err),
                     SL_EWIRE_INFLATE);
    free(z.p);
    /* two concatenated members */
    pbuf a = gz("hello ", 6), b2 = gz("world", 5);
    pb_raw(&a, b2.p, b2.n);
    assert_int_equal(col_gunzip(a.p, a.n, 100, &out, &olen, err, sizeof err), 0);
    assert_int_equal(olen, 11);
    assert_memory_equal(out, "hello world", 11);
    free(out);
    free(a.p);
    free(b2.p);
    free(big);
}

/* ---- the HTTP glue with a real store ------------------------------------------------ */

struct fx {
    char *dir;
    col_store *store;
    col_stats stats;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256], data[300];

    f->dir = tu_tmpdir();
    snprintf(data, sizeof data, "%s/data", f->dir);
    if (col_store_open(data, NULL, &f->store, err, sizeof err) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return -1;
    }
    col_stats_init(&f->stats);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    col_store_close(f->store);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void post(struct fx *f, enum col_recv_route route, const char *ctype, const char *cenc,
                 const void *body, size_t len, col_recv_resp *resp)
{
    col_recv_handle(f->store, &f->stats, NULL, route, "POST", ctype, cenc, body, len, resp);
}

static void test_recv_store(void **state)
{
    struct fx *f = *state;
    col_recv_resp resp;
    slc_batch *b = NULL;
    uint8_t tid[16];

    /* JSON, stored, readable by trace id */
    post(f, COL_RECV_OTLP_TRACES, "application/json; charset=utf-8", NULL, full_traces_json,
         strlen(full_traces_json), &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.ctype, "application/json");
    assert_memory_equal(resp.body, "{}", 2);
    free(resp.body);
    assert_int_equal(slc_hex_decode(TID, 32, tid, 16), 0);
    assert_int_equal(col_store_read_trace(f->store, tid, 0, &b, NULL), 0);
    assert_int_equal(b->nspans, 1);
    assert_true(str_eq(b, b->spans[0].service, "checkout"));
    slc_batch_free(b);
    assert_int_equal(f->stats.frames_stored, 1);
    /* the same body again: a duplicate, answered 200, stored once */
    post(f, COL_RECV_OTLP_TRACES, "application/json", NULL, full_traces_json,
         strlen(full_traces_json), &resp);
    assert_int_equal(resp.status, 200);
    free(resp.body);
    assert_int_equal(f->stats.frames_stored, 1);
    assert_int_equal(f->stats.duplicates, 1);

    /* gzip + protobuf */
    pbuf req = pb_full_span();
    pbuf z = gz(req.p, req.n);
    post(f, COL_RECV_OTLP_TRACES, "application/x-protobuf", "gzip", z.p, z.n, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.ctype, "application/x-protobuf");
    assert_int_equal(resp.len, 0);
    free(resp.body);
    assert_int_equal(f->stats.frames_stored, 2);
    /* corrupt gzip: 400, nothing stored */
    z.p[z.n - 12] ^= 0xff;
    post(f, COL_RECV_OTLP_TRACES, "application/x-protobuf", "gzip", z.p, z.n, &resp);
    assert_int_equal(resp.status, 400);
    free(resp.body);
    free(z.p);
    free(req.p);

    /* malformed protobuf: 400 with a google.rpc.Status in protobuf */
    post(f, COL_RECV_OTLP_TRACES, "application/x-protobuf", NULL, "\x0a\x05\x01", 3, &resp);
    assert_int_equal(resp.status, 400);
    assert_string_equal(resp.ctype, "application/x-protobuf");
    {
        col_pb r;
        col_pb_field fl;
        int code = 0, msg = 0;
        col_pb_init(&r, resp.body, resp.len);
        while (col_pb_next(&r, &fl) == 1) {
            if (fl.num == 1)
                code = (int)fl.u;
            if (fl.num == 2)
                msg = fl.len > 0 && memmem(fl.data, fl.len, "nothing was stored", 18) != NULL;
        }
        assert_int_equal(code, 3);
        assert_true(msg);
    }
    free(resp.body);

    /* partial success in JSON */
    char body[2048];
    snprintf(body, sizeof body,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"%s\",\"spanId\":\"%s\","
             GOOD_TIMES "},{\"traceId\":\"00\",\"spanId\":\"%s\"," GOOD_TIMES "}]}]}]}",
             "11111111111111111111111111111111", SID, SID);
    post(f, COL_RECV_OTLP_TRACES, "application/json", NULL, body, strlen(body), &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr((char *)resp.body, "\"rejectedSpans\":\"1\""));
    assert_non_null(strstr((char *)resp.body, "traceId must be 32 hex digits"));
    free(resp.body);
    /* and in protobuf: partial_success { rejected_spans = 1; error_message = 2 } */
    {
        pbuf items = {0}, sp = {0};
        ed_short_trace(&sp);
        pb_msg(&items, 2, &sp);
        pb_hex(&sp, 1, "22222222222222222222222222222222");
        pb_hex(&sp, 2, SID);
        pb_f64(&sp, 7, 1);
        pb_f64(&sp, 8, 2);
        pb_msg(&items, 2, &sp);
        pbuf r2 = pb_request(&items, "svc");
        post(f, COL_RECV_OTLP_TRACES, "application/x-protobuf", NULL, r2.p, r2.n, &resp);
        assert_int_equal(resp.status, 200);
        col_pb r, ps;
        col_pb_field fl, pf;
        int rejected = -1;
        col_pb_init(&r, resp.body, resp.len);
        assert_int_equal(col_pb_next(&r, &fl), 1);
        assert_int_equal(fl.num, 1);
        col_pb_sub(&fl, &ps);
        while (col_pb_next(&ps, &pf) == 1)
            if (pf.num == 1)
                rejected = (int)pf.u;
        assert_int_equal(rejected, 1);
        free(resp.body);
        free(r2.p);
    }

    /* logs */
    const char *logs = "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":"
                       "\"1700000000000000000\",\"body\":{\"stringValue\":\"hello\"}}]}]}]}";
    post(f, COL_RECV_OTLP_LOGS, "application/json", NULL, logs, strlen(logs), &resp);
    assert_int_equal(resp.status, 200);
    free(resp.body);
    assert_int_equal(f->stats.logs_stored, 1);

    /* content negotiation */
    uint64_t stored = f->stats.frames_stored;
    post(f, COL_RECV_OTLP_TRACES, "text/plain", NULL, "{}", 2, &resp);
    assert_int_equal(resp.status, 415);
    free(resp.body);
    post(f, COL_RECV_OTLP_TRACES, NULL, NULL, "{}", 2, &resp);
    assert_int_equal(resp.status, 415);
    free(resp.body);
    post(f, COL_RECV_OTLP_TRACES, "application/json", "br", "{}", 2, &resp);
    assert_int_equal(resp.status, 415);
    free(resp.body);
    col_recv_handle(f->store, &f->stats, NULL, COL_RECV_OTLP_TRACES, "GET", NULL, NULL, NULL, 0,
                    &resp);
    assert_int_equal(resp.status, 405);
    free(resp.body);
    post(f, COL_RECV_OTLP_TRACES, "application/json", NULL, "{nope", 5, &resp);
    assert_int_equal(resp.status, 400);
    assert_non_null(strstr((char *)resp.body, "not valid JSON"));
    free(resp.body);
    /* a gzip bomb: 1 MiB of zeros against a 64 KiB payload limit */
    {
        slc_wire_limits lim;
        char *zeros = calloc(1, 1 << 20);
        pbuf zb = gz(zeros, 1 << 20);
        slc_wire_limits_default(&lim);
        lim.payload_bytes = 64 * 1024;
        col_recv_handle(f->store, &f->stats, &lim, COL_RECV_OTLP_TRACES, "POST",
                        "application/json", "gzip", zb.p, zb.n, &resp);
        assert_int_equal(resp.status, 413);
        free(resp.body);
        free(zb.p);
        free(zeros);
    }
    assert_int_equal(f->stats.frames_stored, stored);
    /* an empty request: 200, nothing stored */
    post(f, COL_RECV_OTLP_TRACES, "application/json", NULL, "{}", 2, &resp);
    assert_int_equal(resp.status, 200);
    free(resp.body);
    assert_int_equal(f->stats.frames_stored, stored);
}

static void test_recv_upload(void **state)
{
    col_recv_upload *u = col_recv_upload_new(COL_RECV_OTLP_LOGS, 10);
    (void)state;

    assert_int_equal(col_recv_match("/v1/traces"), COL_RECV_OTLP_TRACES);
    assert_int_equal(col_recv_match("/v1/logs"), COL_RECV_OTLP_LOGS);
    assert_int_equal(col_recv_match("/api/v2/spans"), COL_RECV_ZIPKIN);
    assert_int_equal(col_recv_match("/v1/metrics"), COL_RECV_NONE);
    col_recv_upload_append(u, "12345", 5);
    col_recv_upload_append(u, "67890", 5);
    assert_int_equal(u->len, 10);
    assert_memory_equal(u->buf, "1234567890", 10);
    assert_false(u->too_big);
    col_recv_upload_append(u, "x", 1);
    assert_true(u->too_big);
    col_recv_upload_free(u);
    col_recv_upload_free(NULL);

    /* the shared budget: uploads together may not pass COL_RECV_BUFFER_MAX */
    size_t big = COL_RECV_BUFFER_MAX / 2 + 1;
    char *chunk = calloc(1, big);
    col_recv_upload *a = col_recv_upload_new(COL_RECV_OTLP_TRACES, big);
    col_recv_upload *b = col_recv_upload_new(COL_RECV_OTLP_TRACES, big);
    col_recv_upload_append(a, chunk, big);
    assert_false(a->busy);
    col_recv_upload_append(b, chunk, big);
    assert_true(b->busy);
    col_recv_resp resp;
    col_recv_finish(NULL, NULL, NULL, b, "POST", "application/json", NULL, &resp);
    assert_int_equal(resp.status, 503);
    assert_string_equal(resp.retry_after, "1");
    free(resp.body);
    col_recv_upload_free(a); /* gives its bytes back: b-sized uploads fit again */
    col_recv_upload_free(b);
    b = col_recv_upload_new(COL_RECV_OTLP_TRACES, big);
    col_recv_upload_append(b, chunk, big);
    assert_false(b->busy);
    col_recv_upload_free(b);
    free(chunk);
}

static uint8_t sev(const char *s)
{
    return col_conv_severity_text(s, strlen(s));
}

static void test_severity_text(void **state)
{
    (void)state;
    assert_int_equal(sev("INFO"), 9);
    assert_int_equal(sev("info3"), 11);
    assert_int_equal(sev("WARNING"), 13);
    assert_int_equal(sev("Error"), 17);
    assert_int_equal(sev("CRITICAL"), 21);
    assert_int_equal(sev("TRACE4"), 4);
    assert_int_equal(sev("verbose"), 0);
    assert_int_equal(sev(""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traces_json_full),
        cmocka_unit_test(test_traces_json_variants),
        cmocka_unit_test(test_traces_json_rejected_items),
        cmocka_unit_test(test_traces_json_partial_and_limits),
        cmocka_unit_test(test_traces_json_malformed),
        cmocka_unit_test(test_logs_json),
        cmocka_unit_test(test_traces_proto_full),
        cmocka_unit_test(test_traces_proto_rejections),
        cmocka_unit_test(test_logs_proto),
        cmocka_unit_test(test_pb_reader),
        cmocka_unit_test(test_gunzip),
        cmocka_unit_test(test_severity_text),
        cmocka_unit_test(test_recv_upload),
        cmocka_unit_test_setup_teardown(test_recv_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
