/*
 * test_query_cli_fmt.c - the CLI's terminal rendering (query/cli/slcli_fmt.c).
 *
 * The renderer is pure (json_t in, text out), so these tests feed it the
 * JSON the query engine really produces for crafted spans and check the
 * text line by line.
 *
 * The CLI's objects are not in libslquery.a (the CLI must not link the
 * engine, and the engine must not carry the CLI), and the Makefile's
 * test_query% rule links only libslquery + libslcommon + jansson, so the
 * renderer's one source file is compiled into this test directly.  It needs
 * nothing but jansson and libc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../query/cli/slcli_fmt.c"
#include "sightline.h"
#include "common/slc_wire.h"
#include "query/slq_trace.h"

#define MS 1000000ull
#define T0 1764090000000000000ull /* 2025-11-25 17:00:00 UTC */

static const uint8_t TID[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};

/* ---- helpers ---------------------------------------------------------------- */

typedef struct capture {
    char *buf;
    size_t len;
    FILE *f;
} capture;

static void cap_open(capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

static char *cap_close(capture *c)
{
    fclose(c->f);
    return c->buf;
}

/* The n-th line (0-based) of text, copied into one of a ring of static
 * buffers, so a test can hold the last few lines at once. */
static const char *line(const char *text, int n)
{
    static char ring[8][1024];
    static unsigned next;
    char *out = ring[next++ % 8];
    const char *p = text;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    assert_true(l < sizeof(ring[0]));
    memcpy(out, p, l);
    out[l] = '\0';
    return out;
}

/* Index of the first line starting with prefix, or -1. */
static int find_line(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; p && *p; n++) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return n;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static void put_id(uint8_t *dst, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        dst[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint32_t S(slc_batch *b, const char *s)
{
    uint32_t idx;
    assert_int_equal(slc_batch_intern(b, s, strlen(s), &idx), 0);
    return idx;
}

static void span_ms(slc_batch *b, uint64_t id, uint64_t parent, const char *svc, const char *name, uint64_t s_ms,
                    uint64_t e_ms, uint8_t status, const char *msg)
{
    slc_span s = {0};
    memcpy(s.trace_id, TID, 16);
    put_id(s.span_id, id);
    if (parent)
        put_id(s.parent_id, parent);
    s.status = status;
    s.service = S(b, svc);
    s.name = S(b, name);
    s.status_msg = S(b, msg ? msg : "");
    s.start_ns = T0 + s_ms * MS;
    s.end_ns = T0 + e_ms * MS;
    s.attr_first = b->nattrs;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
}

static void log_ms(slc_batch *b, uint64_t t_ms, uint8_t level, const char *svc, const char *body)
{
    slc_log l = {0};
    l.time_ns = T0 + t_ms * MS;
    l.level = level;
    l.service = S(b, svc);
    l.body = S(b, body);
    l.attr_first = b->nattrs;
    assert_int_equal(slc_batch_add_log(b, &l, NULL), 0);
}

/* Assembles b with the real engine and returns its API JSON. */
static json_t *trace_json(const slc_batch *b, uint32_t max_spans)
{
    slq_trace *t;
    json_t *j;
    slq_trace_opts o = {.max_spans = max_spans};
    assert_int_equal(slq_trace_build(b, &o, &t), 0);
    assert_int_equal(slq_trace_to_json(t, &j), 0);
    slq_trace_free(t);
    return j;
}

/* ---- numbers and times ---------------------------------------------------------- */

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        uint64_t ns;
        const char *want;
    } v[] = {
        {0, "0ns"},
        {999, "999ns"},
        {1000, "1.00us"},
        {1234, "1.23us"},
        {45600, "45.6us"},
        {999499, "999us"},
        {999500, "1.00ms"},
        {1230000, "1.23ms"},
        {12345678, "12.3ms"},
        {123456789, "123ms"},
        {1500000000, "1.50s"},
        {61 * 1000000000ull, "1m01s"},
        {3723 * 1000000000ull, "1h02m"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        slcli_fmt_duration(v[i].ns, buf, sizeof(buf));
        assert_string_equal(buf, v[i].want);
    }
    slcli_fmt_sduration(5 * (int64_t)MS, buf, sizeof(buf));
    assert_string_equal(buf, "+5.00ms");
    slcli_fmt_sduration(-30 * (int64_t)MS, buf, sizeof(buf));
    assert_string_equal(buf, "-30.0ms");
    /* a short buffer is cut, still terminated */
    slcli_fmt_duration(123456789, buf, 3);
    assert_string_equal(buf, "12");
}

static void test_times(void **state)
{
    (void)state;
    char buf[40];
    slcli_fmt_time(T0 + 45 * MS + 999999, 1, buf, sizeof(buf));
    assert_string_equal(buf, "2025-11-25 17:00:00.045");
    slcli_fmt_time(T0 + 61 * 1000 * MS, 0, buf, sizeof(buf));
    assert_string_equal(buf, "17:01:01.000");
}

static void test_json_u64(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "a", "1764090000000000000", "b", (json_int_t)42, "c",
                          "12a", "d", "-1", "e", "", "f", (json_int_t)-5, "g", "99999999999999999999999");
    assert_non_null(o);
    uint64_t v = 7;
    assert_int_equal(slcli_json_u64(o, "a", &v), 0);
    assert_true(v == 1764090000000000000ull);
    assert_int_equal(slcli_json_u64(o, "b", &v), 0);
    assert_true(v == 42);
    const char *bad[] = {"c", "d", "e", "f", "g", "missing"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(slcli_json_u64(o, bad[i], &v), -1);
        assert_true(v == 42); /* untouched */
    }
    json_decref(o);
}

/* ---- the request tree ------------------------------------------------------------- */

/* The reference trace: root 0-100 ms (error), a checkout child 10-90 with a
 * payment grandchild 20-80, a skewed child starting 5 ms before the root, an
 * orphan, two logs (one with a terminal escape). */
static slc_batch *reference_batch(void)
{
    slc_batch *b = slc_batch_new();
    assert_non_null(b);
    span_ms(b, 1, 0, "frontend", "GET /buy", 0, 100, SLC_STATUS_ERROR, "upstream failed");
    span_ms(b, 2, 1, "checkout", "PlaceOrder", 10, 90, SLC_STATUS_OK, NULL);
    span_ms(b, 3, 2, "payment", "Charge", 20, 80, SLC_STATUS_ERROR, "card declined");
    /* starts before its parent: 5 ms of skew */
    span_ms(b, 4, 1, "recs", "GET /recs", 0, 5, SLC_STATUS_UNSET, NULL);
    b->spans[b->nspans - 1].start_ns = T0 - 5 * MS;
    b->spans[b->nspans - 1].end_ns = T0;
    span_ms(b, 5, 0x77, "inventory", "reserve", 30, 40, SLC_STATUS_UNSET, NULL);
    log_ms(b, 25, SLC_LVL_ERROR, "payment", "bank said \x1b[31mno\x1b[0m\nretry");
    log_ms(b, 1, SLC_LVL_INFO, "frontend", "request in");
    return b;
}

static void test_render_tree(void **state)
{
    (void)state;
    slc_batch *b = reference_batch();
    json_t *j = trace_json(b, 0);
    capture c;
    cap_open(&c);
    slcli_style st = {.color = 0, .width = 100};
    assert_int_equal(slcli_render_trace(c.f, j, &st), 0);
    char *txt = cap_close(&c);

    assert_string_equal(line(txt, 0),
                        "Trace 4bf92f3577b34da6a3ce929d0e0e4736  frontend GET /buy  100ms  started 2025-11-25 "
                        "17:00:00.000 UTC");
    assert_string_equal(line(txt, 1), "  5 spans, 5 services (checkout, frontend, inventory, payment, recs), "
                                      "2 errors, 1 missing parent");
    /* no escape byte anywhere without colour, even from the log body */
    assert_null(strchr(txt, '\x1b'));

    int h = find_line(txt, "  SPAN");
    assert_true(h > 0);
    /* pre-order, siblings by (shifted) start: root, recs@0, checkout@10,
     * payment@20, inventory@30; critical, back from 100: checkout (ends 90),
     * payment (80), then from checkout's start (10) recs (shifted to end
     * at 5); the orphan (30-40) is overlapped by checkout */
    const char *root = line(txt, h + 1);
    assert_true(strncmp(root, "* frontend GET /buy ", 20) == 0);
    assert_non_null(strstr(root, "100ms  ERROR "));
    assert_non_null(strstr(root, "] upstream failed"));
    const char *recs = line(txt, h + 2);
    assert_true(strncmp(recs, "*   recs GET /recs ", 19) == 0);
    assert_non_null(strstr(recs, "[skew +5.00ms]"));
    assert_non_null(strstr(recs, "5.00ms  -      "));
    const char *co = line(txt, h + 3);
    assert_true(strncmp(co, "*   checkout PlaceOrder ", 24) == 0);
    assert_non_null(strstr(co, "80.0ms  ok     "));
    const char *pay = line(txt, h + 4);
    assert_true(strncmp(pay, "*     payment Charge ", 21) == 0);
    assert_non_null(strstr(pay, "] card declined"));
    const char *inv = line(txt, h + 5);
    assert_true(strncmp(inv, "    inventory reserve ", 22) == 0);
    assert_non_null(strstr(inv, "[missing parent]"));

    /* the waterfall: the root fills the bar; checkout covers 10%..90% of it,
     * with '#' for the critical path and '=' elsewhere */
    const char *bar = strchr(root, '[');
    const char *bar_end = strchr(bar, ']');
    size_t bw = (size_t)(bar_end - bar - 1);
    assert_true(bw >= 10);
    for (size_t i = 1; i <= bw; i++)
        assert_int_equal(bar[i], '#');
    char cob[128];
    const char *cb = strchr(co, '[');
    memcpy(cob, cb + 1, bw);
    cob[bw] = '\0';
    size_t first = strspn(cob, " ");
    size_t len = strspn(cob + first, "#");
    assert_int_equal(first, bw / 10);
    assert_true(len >= bw * 8 / 10 - 1 && len <= bw * 8 / 10 + 1);
    assert_true(strspn(cob + first + len, " ") == bw - first - len);
    const char *ib = strchr(inv, '[');
    assert_int_equal(ib[1 + (bw * 30) / 100], '=');

    /* every span line has its bar at the same column */
    size_t col = (size_t)(bar - root);
    for (int i = 2; i <= 5; i++) {
        const char *l = line(txt, h + i);
        assert_int_equal((size_t)(strchr(l, '[') - l), col);
    }

    /* logs in time order, offset from the trace start, body sanitised */
    int lg = find_line(txt, "Logs (2)");
    assert_true(lg > h);
    assert_string_equal(line(txt, lg + 1), "  17:00:00.001    +1.00ms  INFO   frontend  request in");
    assert_string_equal(line(txt, lg + 2), "  17:00:00.025    +25.0ms  ERROR  payment   bank said ?[31mno?[0m\\nretry");

    free(txt);
    json_decref(j);
    slc_batch_free(b);
}

/* With colour on, services get their colour and every colour is reset. */
static void test_render_color(void **state)
{
    (void)state;
    slc_batch *b = reference_batch();
    json_t *j = trace_json(b, 0);
    capture c;
    cap_open(&c);
    slcli_style st = {.color = 1, .width = 100};
    assert_int_equal(slcli_render_trace(c.f, j, &st), 0);
    char *txt = cap_close(&c);
    char want[64];
    snprintf(want, sizeof(want), "%scheckout%s", slcli_service_color("checkout"), C_RESET);
    assert_non_null(strstr(txt, want));
    assert_non_null(strstr(txt, C_ERR "ERROR " C_RESET));
    /* the logged escape sequence is still neutralised: the only ESC bytes
     * are our own, each followed by '[' and a known code */
    size_t opens = 0, resets = 0;
    for (const char *p = txt; (p = strchr(p, '\x1b')) != NULL; p++) {
        assert_int_equal(p[1], '[');
        if (strncmp(p, C_RESET, strlen(C_RESET)) == 0)
            resets++;
        else
            opens++;
    }
    assert_true(opens > 0);
    assert_int_equal(opens, resets);
    assert_null(strstr(txt, "\x1b[31mno"));
    assert_true(strcmp(slcli_service_color("checkout"), slcli_service_color("checkout")) == 0);
    free(txt);
    json_decref(j);
    slc_batch_free(b);
}

static void test_render_truncated_and_deep(void **state)
{
    (void)state;
    slc_batch *b = slc_batch_new();
    assert_non_null(b);
    /* a 40-deep chain, kept to 30 spans */
    for (uint64_t i = 1; i <= 40; i++)
        span_ms(b, i, i - 1, "svc", "op", i, 200 - i, SLC_STATUS_OK, NULL);
    json_t *j = trace_json(b, 30);
    capture c;
    cap_open(&c);
    slcli_style st = {.color = 0, .width = 120};
    assert_int_equal(slcli_render_trace(c.f, j, &st), 0);
    char *txt = cap_close(&c);
    assert_string_equal(line(txt, 2), "  TRUNCATED: showing 30 of 40 spans (10 dropped)");
    int h = find_line(txt, "  SPAN");
    /* depth 29 is past the indentation cap: shown as a number */
    const char *last = line(txt, h + 30);
    assert_non_null(strstr(last, "[29] svc op"));
    assert_int_equal(find_line(txt, "Logs (0)") > h, 1);
    free(txt);
    json_decref(j);
    slc_batch_free(b);
}

/* Long names are cut with "..." and the columns stay aligned. */
static void test_render_long_names(void **state)
{
    (void)state;
    slc_batch *b = slc_batch_new();
    assert_non_null(b);
    span_ms(b, 1, 0, "svc", "root", 0, 10, SLC_STATUS_OK, NULL);
    char longname[200];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    span_ms(b, 2, 1, "svc", longname, 1, 9, SLC_STATUS_OK, NULL);
    json_t *j = trace_json(b, 0);
    capture c;
    cap_open(&c);
    slcli_style st = {.color = 0, .width = 100};
    assert_int_equal(slcli_render_trace(c.f, j, &st), 0);
    char *txt = cap_close(&c);
    int h = find_line(txt, "  SPAN");
    const char *l2 = line(txt, h + 2);
    assert_non_null(strstr(l2, "xxx... "));
    size_t col2 = (size_t)(strchr(l2, '[') - l2);
    const char *l1 = line(txt, h + 1);
    assert_int_equal((size_t)(strchr(l1, '[') - l1), col2);
    assert_true(strlen(l1) <= 100);
    free(txt);
    json_decref(j);
    slc_batch_free(b);
}

static void test_render_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"{}", "{\"summary\":{},\"spans\":[]}", "{\"summary\":{\"start_ns\":\"x\",\"duration_ns\":1},"
                                                                "\"spans\":[]}",
                         "{\"summary\":{\"start_ns\":\"1\",\"duration_ns\":1},\"spans\":{}}", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_error_t e;
        json_t *j = json_loads(bad[i], 0, &e);
        assert_non_null(j);
        capture c;
        cap_open(&c);
        slcli_style st = {0};
        assert_int_equal(slcli_render_trace(c.f, j, &st), -1);
        assert_int_equal(slcli_render_traces(c.f, j, &st), -1);
        assert_int_equal(slcli_render_services(c.f, j, &st), -1);
        char *txt = cap_close(&c);
        assert_int_equal(strlen(txt), 0);
        free(txt);
        json_decref(j);
    }
    /* spans with missing fields still render (defaults), no crash */
    json_error_t e;
    json_t *j = json_loads("{\"summary\":{\"start_ns\":\"1\",\"duration_ns\":0},\"spans\":[{},{\"depth\":-3}]}", 0,
                           &e);
    assert_non_null(j);
    capture c;
    cap_open(&c);
    slcli_style st = {0};
    assert_int_equal(slcli_render_trace(c.f, j, &st), 0);
    free(cap_close(&c));
    json_decref(j);
}

/* ---- lists ----------------------------------------------------------------------------- */

static void test_render_traces(void **state)
{
    (void)state;
    json_error_t e;
    json_t *j = json_loads("{\"traces\":["
                           "{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"service\":\"frontend\",\"name\":\"GET "
                           "/buy\",\"start_ns\":\"1764090000000000000\",\"start_us\":1764090000000000,"
                           "\"duration_ns\":125500000,\"error\":true},"
                           "{\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\",\"service\":\"checkout\",\"name\":"
                           "\"PlaceOrder\",\"start_ns\":\"1764089990000000000\",\"start_us\":1764089990000000,"
                           "\"duration_ns\":8100000,\"error\":false}],\"count\":2}",
                           0, &e);
    assert_non_null(j);
    capture c;
    cap_open(&c);
    slcli_style st = {0};
    assert_int_equal(slcli_render_traces(c.f, j, &st), 2);
    char *txt = cap_close(&c);
    assert_string_equal(line(txt, 0), "START (UTC)              TRACE ID                          SERVICE   NAME        "
                                      "DURATION  ERROR");
    assert_string_equal(line(txt, 1), "2025-11-25 17:00:00.000  4bf92f3577b34da6a3ce929d0e0e4736  frontend  GET /buy    "
                                      "   126ms  ERROR");
    assert_string_equal(line(txt, 2), "2025-11-25 16:59:50.000  0af7651916cd43dd8448eb211c80319c  checkout  PlaceOrder"
                                      "    8.10ms  -");
    free(txt);
    json_decref(j);
}

static void test_render_services(void **state)
{
    (void)state;
    json_error_t e;
    json_t *j = json_loads("{\"services\":[{\"name\":\"checkout\"},\"frontend\"]}", 0, &e);
    assert_non_null(j);
    capture c;
    cap_open(&c);
    slcli_style st = {0};
    assert_int_equal(slcli_render_services(c.f, j, &st), 2);
    char *txt = cap_close(&c);
    assert_string_equal(txt, "SERVICE\ncheckout\nfrontend\n");
    free(txt);
    json_decref(j);

    j = json_loads("{\"services\":[]}", 0, &e);
    cap_open(&c);
    assert_int_equal(slcli_render_services(c.f, j, &st), 0);
    txt = cap_close(&c);
    assert_string_equal(txt, "");
    free(txt);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_json_u64),
        cmocka_unit_test(test_render_tree),
        cmocka_unit_test(test_render_color),
        cmocka_unit_test(test_render_truncated_and_deep),
        cmocka_unit_test(test_render_long_names),
        cmocka_unit_test(test_render_malformed),
        cmocka_unit_test(test_render_traces),
        cmocka_unit_test(test_render_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
