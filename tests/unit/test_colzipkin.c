/*
 * test_colzipkin.c - the Zipkin v2 JSON receiver: field mapping, id
 * padding, every rejection path, and POST /api/v2/spans into a real store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ingest/otlp.h"
#include "sightline.h"
#include "stats.h"
#include "store/store.h"
#include "test_colutil.h"

static int str_eq(const slc_batch *b, uint32_t idx, const char *s)
{
    return idx < b->nstrs && b->strs[idx].len == strlen(s) &&
           memcmp(b->strs[idx].ptr, s, b->strs[idx].len) == 0;
}

static const slc_attr *find_attr(const slc_batch *b, const slc_span *s, const char *key)
{
    for (uint32_t i = s->attr_first; i < s->attr_first + s->attr_count; i++)
        if (str_eq(b, b->attrs[i].key, key))
            return &b->attrs[i];
    return NULL;
}

static void want_str(const slc_batch *b, const slc_span *s, const char *key, const char *val)
{
    const slc_attr *a = find_attr(b, s, key);
    if (a == NULL)
        fail_msg("attribute %s missing", key);
    assert_int_equal(a->type, SLC_V_STR);
    if (!str_eq(b, a->v.str, val))
        fail_msg("attribute %s = '%.*s', want '%s'", key, (int)b->strs[a->v.str].len,
                 b->strs[a->v.str].ptr, val);
}

static void want_hex(const uint8_t *id, size_t n, const char *hex)
{
    char buf[40];
    slc_hex_encode(id, n, buf);
    assert_string_equal(buf, hex);
}

static const char *two_spans =
    "[{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\",\"parentId\":\"6b221d5bc9e6496c\","
    "\"name\":\"get /api\",\"kind\":\"CLIENT\",\"timestamp\":1556604172355737,\"duration\":1431,"
    "\"localEndpoint\":{\"serviceName\":\"frontend\",\"ipv4\":\"192.168.99.1\",\"port\":3306},"
    "\"remoteEndpoint\":{\"serviceName\":\"backend\",\"ipv4\":\"172.19.0.2\",\"port\":9000},"
    "\"annotations\":[{\"timestamp\":1556604172355800,\"value\":\"wire send\"}],"
    "\"tags\":{\"http.method\":\"GET\",\"http.path\":\"/api\",\"error\":\"timeout\",\"retries\":2}},"
    "{\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\",\"id\":\"a2fb4a1d1a96d312\","
    "\"name\":\"post /charge\",\"kind\":\"SERVER\",\"timestamp\":1556604172356000,"
    "\"localEndpoint\":{\"serviceName\":\"backend\",\"ipv6\":\"::1\"},\"shared\":true}]";

static void test_zipkin_full(void **state)
{
    slc_batch *b = NULL;
    col_conv_report rep;
    char err[256];
    (void)state;

    if (col_zipkin_v2_json(two_spans, strlen(two_spans), NULL, &b, &rep, err, sizeof err) != 0)
        fail_msg("convert: %s", err);
    assert_int_equal(b->nspans, 2);
    assert_int_equal(rep.accepted, 2);
    const slc_span *s = &b->spans[0];
    want_hex(s->trace_id, 16, "00000000000000005af7183fb1d4cf5f"); /* 64-bit id padded */
    want_hex(s->span_id, 8, "352bff9a74ca9ad2");
    want_hex(s->parent_id, 8, "6b221d5bc9e6496c");
    assert_true(str_eq(b, s->service, "frontend"));
    assert_true(str_eq(b, s->name, "get /api"));
    assert_int_equal(s->kind, SLC_KIND_CLIENT);
    assert_true(s->start_ns == 1556604172355737000ULL);
    assert_true(s->end_ns == 1556604172355737000ULL + 1431000ULL);
    assert_int_equal(s->status, SLC_STATUS_ERROR);
    assert_true(str_eq(b, s->status_msg, "timeout"));
    want_str(b, s, "http.method", "GET");
    want_str(b, s, "http.path", "/api");
    want_str(b, s, "retries", "2");
    assert_null(find_attr(b, s, "error"));
    want_str(b, s, "peer.service", "backend");
    want_str(b, s, "network.peer.address", "172.19.0.2");
    want_str(b, s, "server.address", "172.19.0.2");
    assert_int_equal(find_attr(b, s, "network.peer.port")->v.i, 9000);
    assert_int_equal(find_attr(b, s, "server.port")->v.i, 9000);
    want_str(b, s, "network.local.address", "192.168.99.1");
    assert_int_equal(s->event_count, 1);
    assert_true(b->events[s->event_first].time_ns == 1556604172355800000ULL);
    assert_true(str_eq(b, b->events[s->event_first].name, "wire send"));
    s = &b->spans[1];
    want_hex(s->trace_id, 16, "463ac35c9f6413ad48485a3953bb6124");
    assert_true(slc_is_zero(s->parent_id, 8));
    assert_int_equal(s->kind, SLC_KIND_SERVER);
    assert_int_equal(s->status, SLC_STATUS_UNSET);
    assert_true(s->end_ns == s->start_ns); /* no duration */
    want_str(b, s, "network.local.address", "::1");
    assert_null(find_attr(b, s, "server.address"));

    uint8_t *frame = NULL;
    size_t len = 0;
    slc_batch *d = NULL;
    assert_int_equal(slc_wire_encode(b, 1, &frame, &len), 0);
    if (slc_wire_decode(frame, len, NULL, &d, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    slc_batch_free(d);
    free(frame);
    slc_batch_free(b);
}

/* Short span ids are left-padded (Zipkin drops leading zeros), upper-case
 * hex is read, and missing service, name and kind get defaults. */
static void test_zipkin_defaults(void **state)
{
    const char *j = "[{\"traceId\":\"00000000000000AB\",\"id\":\"1\",\"parentId\":\"\","
                    "\"timestamp\":1}]";
    slc_batch *b = NULL;
    char err[256];
    (void)state;

    if (col_zipkin_v2_json(j, strlen(j), NULL, &b, NULL, err, sizeof err) != 0)
        fail_msg("convert: %s", err);
    assert_int_equal(b->nspans, 1);
    want_hex(b->spans[0].trace_id, 16, "000000000000000000000000000000ab");
    want_hex(b->spans[0].span_id, 8, "0000000000000001");
    assert_true(slc_is_zero(b->spans[0].parent_id, 8));
    assert_true(str_eq(b, b->spans[0].service, "unknown_service"));
    assert_true(str_eq(b, b->spans[0].name, "unknown"));
    assert_int_equal(b->spans[0].kind, SLC_KIND_INTERNAL);
    assert_true(b->spans[0].start_ns == 1000);
    assert_int_equal(b->spans[0].attr_count, 0);
    slc_batch_free(b);
    /* an empty array is an empty batch */
    assert_int_equal(col_zipkin_v2_json("[]", 2, NULL, &b, NULL, err, sizeof err), 0);
    assert_int_equal(b->nspans, 0);
    slc_batch_free(b);
}

static void expect_rejected(const char *span, const char *why)
{
    char body[2048];
    slc_batch *b = NULL;
    char err[256] = "";
    snprintf(body, sizeof body, "[%s]", span);
    int rv = col_zipkin_v2_json(body, strlen(body), NULL, &b, NULL, err, sizeof err);
    if (rv != SL_EWIRE_VALUE)
        fail_msg("%s: got %d (%s)", span, rv, err);
    assert_null(b);
    if (strstr(err, why) == NULL)
        fail_msg("%s: '%s' lacks '%s'", span, err, why);
}

#define ZT "\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\""

static void test_zipkin_rejections(void **state)
{
    (void)state;
    expect_rejected("{\"traceId\":\"463ac35c9f6413ad4848\",\"id\":\"a2fb4a1d1a96d312\","
                    "\"timestamp\":1}",
                    "traceId must be 16 or 32 hex digits, got 20");
    expect_rejected("{\"id\":\"a2fb4a1d1a96d312\",\"timestamp\":1}", "traceId is missing");
    expect_rejected("{" ZT ",\"timestamp\":1}", "id is missing");
    expect_rejected("{" ZT ",\"id\":\"a2fb4a1d1a96d3120\",\"timestamp\":1}",
                    "id must be 16 hex digits");
    expect_rejected("{" ZT ",\"id\":\"0000000000000000\",\"timestamp\":1}", "id is all zero");
    expect_rejected("{" ZT ",\"id\":\"a2fb4a1d1a96d31g\",\"timestamp\":1}", "is not hex");
    expect_rejected("{" ZT ",\"id\":\"a2fb4a1d1a96d312\"}", "timestamp is missing");
    expect_rejected("{" ZT ",\"id\":\"a2fb4a1d1a96d312\",\"timestamp\":-5}",
                    "timestamp must be a non-negative integer");
    expect_rejected("{" ZT ",\"id\":\"a2fb4a1d1a96d312\",\"timestamp\":1,\"duration\":1.5}",
                    "duration must be a non-negative integer");
    expect_rejected("{" ZT ",\"id\":\"a2fb4a1d1a96d312\",\"timestamp\":1,\"kind\":\"LOCAL\"}",
                    "kind 'LOCAL' is not CLIENT");
    expect_rejected("{" ZT ",\"id\":\"a2fb4a1d1a96d312\",\"timestamp\":1,"
                    "\"annotations\":[{\"value\":\"x\"}]}",
                    "annotation 0 has no timestamp");
}

static void expect_malformed(const char *body, const char *why)
{
    slc_batch *b = NULL;
    char err[256] = "";
    int rv = col_zipkin_v2_json(body, strlen(body), NULL, &b, NULL, err, sizeof err);
    if (rv != SL_EPARSE)
        fail_msg("%s: got %d (%s)", body, rv, err);
    if (strstr(err, why) == NULL)
        fail_msg("%s: '%s' lacks '%s'", body, err, why);
}

static void test_zipkin_malformed(void **state)
{
    (void)state;
    expect_malformed("[{", "not valid JSON");
    expect_malformed("{}", "must be a JSON array");
    expect_malformed("[1]", "array of span objects");
    expect_malformed("[{" ZT ",\"id\":5}]", "'id' must be a string");
    expect_malformed("[{" ZT ",\"timestamp\":\"1\"}]", "'timestamp' must be a number");
    expect_malformed("[{" ZT ",\"tags\":[]}]", "'tags' must be an object");
    expect_malformed("[{" ZT ",\"tags\":{\"a\":{}}}]", "tag 'a' must be a string");
    expect_malformed("[{" ZT ",\"annotations\":{}}]", "'annotations' must be an array");
    expect_malformed("[{" ZT ",\"localEndpoint\":7}]", "'localEndpoint' must be an object");
}

static void test_zipkin_limits(void **state)
{
    slc_wire_limits lim;
    slc_batch *b = NULL;
    col_conv_report rep;
    char err[256];
    const char *j = "[{" ZT ",\"id\":\"a2fb4a1d1a96d312\",\"timestamp\":1,\"tags\":{\"a\":\"1\","
                    "\"b\":\"2\"}},{" ZT ",\"id\":\"a2fb4a1d1a96d313\",\"timestamp\":1}]";
    (void)state;

    slc_wire_limits_default(&lim);
    lim.attrs_per_item = 1;
    assert_int_equal(col_zipkin_v2_json(j, strlen(j), &lim, &b, &rep, err, sizeof err), 0);
    assert_int_equal(b->nspans, 1);
    assert_int_equal(rep.rejected, 1);
    assert_non_null(strstr(rep.reason, "span 0: span has more than 1 attributes"));
    assert_true(str_eq(b, b->spans[0].service, "unknown_service"));
    assert_true(str_eq(b, b->spans[0].name, "unknown"));
    slc_batch_free(b);
    lim.spans = 1;
    assert_int_equal(col_zipkin_v2_json(j, strlen(j), &lim, &b, &rep, err, sizeof err),
                     SL_EWIRE_LIMIT);
}

static void test_zipkin_recv(void **state)
{
    char *dir = tu_tmpdir(), data[300], err[256];
    col_store *store = NULL;
    col_stats stats;
    col_recv_resp resp;
    slc_batch *b = NULL;
    uint8_t tid[16];
    (void)state;

    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(col_store_open(data, NULL, &store, err, sizeof err), 0);
    col_stats_init(&stats);
    col_recv_handle(store, &stats, NULL, COL_RECV_ZIPKIN, "POST", "application/json", NULL,
                    (const uint8_t *)two_spans, strlen(two_spans), &resp);
    assert_int_equal(resp.status, 202);
    assert_int_equal(resp.len, 0);
    free(resp.body);
    assert_int_equal(slc_hex_decode("463ac35c9f6413ad48485a3953bb6124", 32, tid, 16), 0);
    assert_int_equal(col_store_read_trace(store, tid, 0, &b, NULL), 0);
    assert_int_equal(b->nspans, 1);
    assert_true(str_eq(b, b->spans[0].name, "post /charge"));
    slc_batch_free(b);
    /* no Content-Type: Zipkin reporters often omit it */
    col_recv_handle(store, &stats, NULL, COL_RECV_ZIPKIN, "POST", NULL, NULL,
                    (const uint8_t *)two_spans, strlen(two_spans), &resp);
    assert_int_equal(resp.status, 202);
    free(resp.body);
    assert_int_equal(stats.duplicates, 1);
    col_recv_handle(store, &stats, NULL, COL_RECV_ZIPKIN, "POST", "application/json", NULL,
                    (const uint8_t *)"[{}]", 4, &resp);
    assert_int_equal(resp.status, 400);
    assert_string_equal(resp.ctype, "text/plain; charset=utf-8");
    assert_non_null(strstr((char *)resp.body, "traceId is missing"));
    free(resp.body);
    col_recv_handle(store, &stats, NULL, COL_RECV_ZIPKIN, "POST", "application/x-protobuf", NULL,
                    (const uint8_t *)"", 0, &resp);
    assert_int_equal(resp.status, 415);
    free(resp.body);
    assert_int_equal(stats.frames_stored, 1);
    col_store_close(store);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zipkin_full),
        cmocka_unit_test(test_zipkin_defaults),
        cmocka_unit_test(test_zipkin_rejections),
        cmocka_unit_test(test_zipkin_malformed),
        cmocka_unit_test(test_zipkin_limits),
        cmocka_unit_test(test_zipkin_recv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
