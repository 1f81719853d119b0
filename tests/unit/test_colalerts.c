/*
 * test_colalerts.c - the alert engine: the expression parser (it parses
 * outside input, so bad and oversized input too), rule and notifier
 * validation (errors name the rule and the field), description templates,
 * the state machine with a fake clock (pending, firing, hysteresis,
 * keep_firing_for, repeat, resolve), and the engine on a real store:
 * measuring stored spans, notifying through a real command, persisting
 * state across a reopen, refusing a bad rule while keeping the old ones.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <sys/stat.h>

#include "alerts/alerts.h"
#include "alerts/alerts_int.h"
#include "sightline.h"
#include "store/store.h"
#include "test_colutil.h"

#define SEC 1000000000ULL

static int parse(const char *s, col_al_cond *c, char *err, size_t errlen)
{
    return col_al_expr_parse(s, strlen(s), c, err, errlen);
}

/* ---- expressions ----------------------------------------------------------- */

static void test_expr_ok(void **state)
{
    col_al_cond c;
    char err[256], buf[COL_AL_EXPR_MAX];

    (void)state;
    assert_int_equal(parse("p99(checkout) > 300ms over 5m", &c, err, sizeof err), 0);
    assert_int_equal(c.metric, COL_AL_LATENCY);
    assert_true(fabs(c.quantile - 0.99) < 1e-12);
    assert_string_equal(c.service, "checkout");
    assert_int_equal(c.cmp, COL_AL_GT);
    assert_true(fabs(c.threshold - 300) < 1e-9);
    assert_int_equal(c.window_ns, 300 * SEC);
    assert_int_equal(c.for_ns, 0);
    assert_int_equal(c.kind_mask, COL_KIND_ENTRY);

    assert_int_equal(parse("p99.9(\"my svc\", op=\"POST /pay\") >= 1.5s for 2m over 10m", &c, err,
                           sizeof err),
                     0);
    assert_true(fabs(c.quantile - 0.999) < 1e-12);
    assert_string_equal(c.service, "my svc");
    assert_string_equal(c.operation, "POST /pay");
    assert_true(fabs(c.threshold - 1500) < 1e-9);
    assert_int_equal(c.for_ns, 120 * SEC);
    assert_int_equal(c.window_ns, 600 * SEC);

    assert_int_equal(parse("error_rate(payment) > 2%", &c, err, sizeof err), 0);
    assert_int_equal(c.metric, COL_AL_ERROR_RATE);
    assert_true(fabs(c.threshold - 2) < 1e-9);
    assert_int_equal(parse("rate(checkout->payment) < 120/m", &c, err, sizeof err), 0);
    assert_string_equal(c.caller, "checkout");
    assert_string_equal(c.service, "payment");
    assert_true(fabs(c.threshold - 2) < 1e-9);
    assert_int_equal(parse("logs(payment, level=warn, match=\"card \\\"x\\\" declined\") > 10",
                           &c, err, sizeof err),
                     0);
    assert_int_equal(c.metric, COL_AL_LOGS);
    assert_int_equal(c.min_level, SLC_LVL_WARN);
    assert_string_equal(c.match, "card \"x\" declined");
    assert_int_equal(parse("logs(payment) > 0", &c, err, sizeof err), 0);
    assert_int_equal(c.min_level, SLC_LVL_ERROR); /* the default level */
    assert_int_equal(parse("rate(demo-payment, kind=all) <= 1", &c, err, sizeof err), 0);
    assert_string_equal(c.service, "demo-payment");
    assert_int_equal(c.kind_mask, 0);

    /* canonical form parses back to itself */
    static const char *const rt[] = {
        "p99(checkout) > 300ms over 5m",
        "p50(\"a b\", op=\"GET /x\\\\y\") >= 0.25ms over 1h for 30s",
        "error_rate(checkout->payment) < 2.5% over 2m",
        "logs(payment, level=fatal, match=\"x, y\") > 3 over 5m for 1m",
        "rate(checkout, kind=server) <= 0.5/s over 10m",
    };
    for (size_t i = 0; i < sizeof rt / sizeof rt[0]; i++) {
        col_al_cond c2;
        char buf2[COL_AL_EXPR_MAX];
        assert_int_equal(parse(rt[i], &c, err, sizeof err), 0);
        col_al_expr_format(&c, buf, sizeof buf);
        assert_int_equal(parse(buf, &c2, err, sizeof err), 0);
        col_al_expr_format(&c2, buf2, sizeof buf2);
        assert_string_equal(buf, buf2);
        assert_string_equal(buf, rt[i]);
    }
}

static void test_expr_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "p99",
        "p99 checkout > 1",
        "p100(x) > 1",
        "p0(x) > 1",
        "pabc(x) > 1",
        "avg(x) > 1",
        "p99(x) 300",
        "p99(x) => 300",
        "p99(x) > ",
        "p99(x) > 2%",
        "p99(x) > -1",
        "p99(x) > 0x10",
        "p99(x) > nan",
        "p99(x) > inf",
        "error_rate(x) > 300ms",
        "rate(x) > 5/d",
        "logs(x) > 5ms",
        "p99(x) > 1 over 30s",
        "p99(x) > 1 over 2d",
        "p99(x) > 1 over 5m over 5m",
        "p99(x) > 1 for",
        "p99(x) > 1 for 1m trailing",
        "p99(x, level=error) > 1",
        "logs(x, op=a) > 1",
        "logs(a->b) > 1",
        "p99(a->b, op=x) > 1",
        "p99(x, color=red) > 1",
        "p99(x, kind=sideways) > 1",
        "logs(x, level=loud) > 1",
        "p99(\"unterminated) > 1",
        "p99(\"bad \\n escape\") > 1",
        "p99(,) > 1",
        "p99(x,,) > 1",
        "p99(x, op=a, op=b, op=c, op=d, op=e, op=f, op=g, op=h, op=i) > 1",
    };
    col_al_cond c;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (parse(bad[i], &c, err, sizeof err) != SL_EPARSE)
            fail_msg("accepted: %s", bad[i]);
        assert_true(strlen(err) > 5);
    }
    /* positions are reported */
    assert_int_equal(parse("p99(x) >> 1", &c, err, sizeof err), SL_EPARSE);
    assert_non_null(strstr(err, "at 9"));

    /* bounds: an over-long name, string, expression; a NUL; bad UTF-8 */
    char big[4096];
    memset(big, 'a', sizeof big);
    memcpy(big, "p99(", 4);
    snprintf(big + 300, sizeof big - 300, ") > 1");
    assert_int_equal(parse(big, &c, err, sizeof err), SL_EPARSE);
    assert_non_null(strstr(err, "longer"));
    memset(big, ' ', sizeof big);
    memcpy(big, "p99(x) > 1", 10);
    assert_int_equal(col_al_expr_parse(big, sizeof big, &c, err, sizeof err), SL_EPARSE);
    assert_int_equal(col_al_expr_parse("p99(x)\0 > 1", 11, &c, err, sizeof err), SL_EPARSE);
    assert_int_equal(parse("p99(\xc3\x28) > 1", &c, err, sizeof err), SL_EPARSE);
    /* every prefix of a valid expression is handled (and only the full one
     * and its clause boundaries parse) */
    {
        const char *full = "logs(\"pay\", level=error, match=\"a\") > 10 over 5m for 1m";
        for (size_t n = 0; n <= strlen(full); n++)
            (void)col_al_expr_parse(full, n, &c, err, sizeof err);
        assert_int_equal(parse(full, &c, err, sizeof err), 0);
    }
}

/* ---- rules and notifiers --------------------------------------------------------- */

static int build(const char *js, col_al_set **out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loads(js, 0, &je);
    int rv;

    if (doc == NULL)
        fail_msg("test JSON: %s", je.text);
    rv = col_al_set_build(doc, out, err, errlen);
    json_decref(doc);
    return rv;
}

static void expect_err(const char *js, const char *who, const char *field)
{
    col_al_set *s = NULL;
    char err[512] = "";
    char f[96];

    if (build(js, &s, err, sizeof err) == 0)
        fail_msg("accepted: %s", js);
    assert_null(s);
    if (strstr(err, who) == NULL)
        fail_msg("error '%s' does not name %s", err, who);
    snprintf(f, sizeof f, "field '%s'", field);
    if (field[0] && strstr(err, f) == NULL)
        fail_msg("error '%s' does not name %s", err, f);
}

#define NOTIFIERS                                                                              \
    "\"notifiers\":[{\"name\":\"hook\",\"type\":\"webhook\",\"url\":\"http://h/x\"},"          \
    "{\"name\":\"cmd\",\"type\":\"command\",\"argv\":[\"/bin/true\"],\"timeout\":\"2s\"}]"

static void test_rules(void **state)
{
    col_al_set *s = NULL;
    char err[512];
    const col_al_rule *r;

    (void)state;
    assert_int_equal(
        build("{\"version\":1," NOTIFIERS ",\"rules\":["
              "{\"name\":\"a\",\"expr\":\"p99(checkout) > 300ms over 5m for 1m\","
              "\"severity\":\"critical\",\"labels\":{\"team\":\"x\"},\"notify\":[\"hook\",\"cmd\"],"
              "\"description\":\"{{service}} p99 is {{value}} ms ({{labels.team}})\","
              "\"keep_firing_for\":\"2m\",\"repeat_interval\":\"1h\",\"hysteresis\":0.2},"
              "{\"name\":\"b\",\"metric\":\"error_rate\",\"service\":\"payment\",\"op\":\">\","
              "\"threshold\":\"2%\",\"window\":\"10m\",\"disabled\":true}]}",
              &s, err, sizeof err),
        0);
    assert_int_equal(s->nrules, 2);
    assert_int_equal(s->nnotifiers, 2);
    r = col_al_set_rule(s, "a");
    assert_non_null(r);
    assert_int_equal(r->nnotify, 2);
    assert_int_equal(r->keep_firing_for_ns, 120 * SEC);
    assert_int_equal(r->repeat_ns, 3600 * SEC);
    assert_true(fabs(r->hysteresis - 0.2) < 1e-12);
    assert_string_equal(r->expr, "p99(checkout) > 300ms over 5m for 1m");
    r = col_al_set_rule(s, "b");
    assert_string_equal(r->expr, "error_rate(payment) > 2% over 10m");
    assert_true(r->disabled);
    assert_int_equal(col_al_set_notifier(s, "cmd")->timeout_ns, 2 * SEC);
    col_al_set_unref(s);

    expect_err("{\"rules\":[{\"name\":\"x\",\"metric\":\"p99\",\"service\":\"s\",\"op\":\">\","
               "\"threshold\":\"fast\"}]}",
               "rule 'x'", "threshold");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"treshold\":1}]}", "rule 'x'",
               "treshold");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"notify\":[\"nope\"]}]}",
               "rule 'x'", "notify");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) >\"}]}", "rule 'x'", "expr");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"metric\":\"p50\"}]}",
               "rule 'x'", "metric");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"window\":\"5m\"}]}",
               "rule 'x'", "window");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"labels\":{\"a\":1}}]}",
               "rule 'x'", "labels");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"description\":\"{{nope}}\"}]}",
               "rule 'x'", "description");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"description\":\"{{value\"}]}",
               "rule 'x'", "description");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"hysteresis\":2}]}", "rule 'x'",
               "hysteresis");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\",\"repeat_interval\":\"1s\"}]}",
               "rule 'x'", "repeat_interval");
    expect_err("{\"rules\":[{\"name\":\"x\",\"metric\":\"logs\",\"service\":\"s\",\"operation\":\"o\","
               "\"op\":\">\",\"threshold\":1}]}",
               "rule 'x'", "operation");
    expect_err("{\"rules\":[{\"name\":\"bad name\",\"expr\":\"p99(s) > 1\"}]}", "rule 'bad name'",
               "name");
    expect_err("{\"rules\":[{\"expr\":\"p99(s) > 1\"}]}", "rule '?'", "name");
    expect_err("{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(s) > 1\"},{\"name\":\"x\",\"expr\":\"p99(s) "
               "> 2\"}]}",
               "rule 'x'", "name");
    expect_err("{\"notifiers\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"ftp://x\"}]}",
               "notifier 'h'", "url");
    expect_err("{\"notifiers\":[{\"name\":\"h\",\"type\":\"command\"}]}", "notifier 'h'", "argv");
    expect_err("{\"notifiers\":[{\"name\":\"h\",\"type\":\"pager\"}]}", "notifier 'h'", "type");
    expect_err("{\"notifiers\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://x\","
               "\"timeout\":\"1h\"}]}",
               "notifier 'h'", "timeout");
    expect_err("{\"rules\":{}}", "'rules'", "");
    expect_err("{\"rulez\":[]}", "rulez", "");
    expect_err("[]", "JSON object", "");
}

/* ---- templates -------------------------------------------------------------------- */

static const char *lookup(const char *f, size_t n, void *arg)
{
    (void)arg;
    if (n == 7 && memcmp(f, "service", 7) == 0)
        return "checkout";
    if (n == 5 && memcmp(f, "value", 5) == 0)
        return "412.5";
    if (col_al_template_field_ok(f, n))
        return "";
    return NULL;
}

static void test_template(void **state)
{
    char out[COL_AL_TEMPLATE_MAX], err[256], small[8];

    (void)state;
    assert_int_equal(col_al_render("{{service}} p99 is {{ value }} ms{{unit}}", lookup, NULL, out,
                                   sizeof out, err, sizeof err),
                     0);
    assert_string_equal(out, "checkout p99 is 412.5 ms");
    assert_int_equal(col_al_render("no fields, { single } braces", lookup, NULL, out, sizeof out,
                                   err, sizeof err),
                     0);
    assert_string_equal(out, "no fields, { single } braces");
    assert_int_equal(col_al_render("{{secret}}", lookup, NULL, out, sizeof out, err, sizeof err),
                     SL_EPARSE);
    assert_non_null(strstr(err, "{{secret}}"));
    assert_int_equal(col_al_render("a {{service", lookup, NULL, out, sizeof out, err, sizeof err),
                     SL_EPARSE);
    /* cut to the buffer on a UTF-8 boundary: "é" is 2 bytes */
    assert_int_equal(col_al_render("abcde\xc3\xa9xyz", lookup, NULL, small, sizeof small - 1,
                                   err, sizeof err),
                     0);
    assert_string_equal(small, "abcde");
    assert_int_equal(col_al_render("abcde\xc3\xa9xyz", lookup, NULL, small, sizeof small, err,
                                   sizeof err),
                     0);
    assert_string_equal(small, "abcde\xc3\xa9");
    assert_int_equal(col_al_render("{{service}}{{service}}", lookup, NULL, small, sizeof small,
                                   err, sizeof err),
                     0);
    assert_string_equal(small, "checkou");
}

/* ---- the state machine ---------------------------------------------------------------- */

static void rule_of(col_al_rule *r, const char *expr)
{
    char err[256];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "r");
    assert_int_equal(parse(expr, &r->c, err, sizeof err), 0);
    r->hysteresis = 0.1;
    r->repeat_ns = 0;
}

static void test_states(void **state)
{
    col_al_rule r;
    col_al_status st;
    uint64_t t = 1000 * SEC;

    (void)state;
    rule_of(&r, "p99(x) > 100ms over 5m for 60s");
    memset(&st, 0, sizeof st);
    assert_int_equal(col_al_step(&r, &st, 50, 1, t), COL_AL_EV_NONE);
    assert_int_equal(st.state, COL_AL_OK);
    assert_int_equal(col_al_step(&r, &st, 150, 1, t += 10 * SEC), COL_AL_EV_PENDING);
    assert_int_equal(st.state, COL_AL_PENDING);
    assert_int_equal(col_al_step(&r, &st, 150, 1, t += 30 * SEC), COL_AL_EV_NONE);
    /* dips below: back to ok, the `for` clock restarts */
    assert_int_equal(col_al_step(&r, &st, 99, 1, t += 10 * SEC), COL_AL_EV_CANCEL);
    assert_int_equal(col_al_step(&r, &st, 150, 1, t += 10 * SEC), COL_AL_EV_PENDING);
    uint64_t pend = t;
    assert_int_equal(col_al_step(&r, &st, 150, 1, t += 59 * SEC), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 150, 1, t += 1 * SEC), COL_AL_EV_FIRING);
    assert_int_equal(st.state, COL_AL_FIRING);
    assert_int_equal(st.active_since, t);
    assert_int_equal(st.pending_since, pend);
    /* hovering at the threshold (92..100 with h = 10%) does not resolve */
    for (int i = 0; i < 20; i++)
        assert_int_equal(col_al_step(&r, &st, i % 2 ? 92 : 101, 1, t += 5 * SEC), COL_AL_EV_NONE);
    assert_int_equal(st.state, COL_AL_FIRING);
    /* clearly below (< 90): resolved */
    assert_int_equal(col_al_step(&r, &st, 89, 1, t += 5 * SEC), COL_AL_EV_RESOLVED);
    assert_int_equal(st.state, COL_AL_RESOLVED);
    assert_int_equal(st.resolved_at, t);
    /* resolved is shown for 15 minutes, then ok */
    assert_int_equal(col_al_step(&r, &st, 10, 1, t += 14 * 60 * SEC), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 10, 1, t += 60 * SEC), COL_AL_EV_EXPIRED);
    assert_int_equal(st.state, COL_AL_OK);

    /* for 0: straight to firing; repeat while firing; keep_firing_for */
    rule_of(&r, "error_rate(x) < 50% over 5m");
    r.repeat_ns = 60 * SEC;
    r.keep_firing_for_ns = 30 * SEC;
    memset(&st, 0, sizeof st);
    assert_int_equal(col_al_step(&r, &st, 10, 1, t), COL_AL_EV_FIRING);
    assert_int_equal(col_al_step(&r, &st, 10, 1, t += 30 * SEC), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 10, 1, t += 30 * SEC), COL_AL_EV_REPEAT);
    assert_int_equal(col_al_step(&r, &st, 10, 1, t += 30 * SEC), COL_AL_EV_NONE);
    r.repeat_ns = 0; /* from here on, keep_firing_for alone */
    /* for "<", clear means above threshold * 1.1 = 55 */
    assert_int_equal(col_al_step(&r, &st, 54, 1, t += 5 * SEC), COL_AL_EV_NONE);
    assert_int_equal(st.clear_since, 0);
    assert_int_equal(col_al_step(&r, &st, 60, 1, t += 5 * SEC), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 60, 1, t += 20 * SEC), COL_AL_EV_NONE);
    /* bad again: keep_firing_for starts over */
    assert_int_equal(col_al_step(&r, &st, 10, 1, t += 5 * SEC), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 60, 1, t += 5 * SEC), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 60, 1, t += 29 * SEC), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 60, 1, t += 1 * SEC), COL_AL_EV_RESOLVED);

    /* no value (no traffic) never fires and resolves a firing alert */
    rule_of(&r, "p99(x) > 100ms");
    memset(&st, 0, sizeof st);
    assert_int_equal(col_al_step(&r, &st, 0, 0, t), COL_AL_EV_NONE);
    assert_int_equal(col_al_step(&r, &st, 500, 1, t += SEC), COL_AL_EV_FIRING);
    assert_int_equal(col_al_step(&r, &st, 0, 0, t += SEC), COL_AL_EV_RESOLVED);
    assert_int_equal(st.has_value, 0);

    /* >= with hysteresis 0 resolves as soon as the value is below */
    rule_of(&r, "rate(x) >= 10/s");
    r.hysteresis = 0;
    memset(&st, 0, sizeof st);
    assert_int_equal(col_al_step(&r, &st, 10, 1, t), COL_AL_EV_FIRING);
    assert_int_equal(col_al_step(&r, &st, 9.99, 1, t += SEC), COL_AL_EV_RESOLVED);
}

/* ---- the engine on a real store ---------------------------------------------------------- */

static void store_spans(col_store *s, uint64_t bid, const char *service, int n, int errors,
                        uint64_t start, uint64_t dur)
{
    slc_batch *b = slc_batch_new(), *d = NULL;
    uint8_t *frame, tid[16], sid[8];
    size_t len;
    col_batch_key k;
    char err[256];

    b->batch_id = bid;
    for (int i = 0; i < n; i++) {
        tu_id(tid, 16, bid * 1000 + (uint64_t)i);
        tu_id(sid, 8, bid * 1000 + (uint64_t)i);
        tu_span(b, tid, sid, NULL, service, "charge", start, dur, i < errors);
    }
    tu_encode(b, &frame, &len);
    assert_int_equal(slc_wire_decode(frame, len, NULL, &d, err, sizeof err), 0);
    k.batch_id = bid;
    k.crc = (uint32_t)bid;
    assert_int_equal(col_store_claim(s, &k), 0);
    assert_int_equal(col_store_write(s, &k, frame, len, d, err, sizeof err), 0);
    col_store_release(s, &k);
    slc_batch_free(d);
    slc_batch_free(b);
    free(frame);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *alert_state(col_alerts *a, const char *rule, uint64_t now)
{
    static char buf[32];
    json_t *l = col_alerts_list_json(a, now), *v;
    size_t i;

    buf[0] = '\0';
    json_array_foreach(json_object_get(l, "alerts"), i, v)
        if (strcmp(json_string_value(json_object_get(v, "rule")), rule) == 0)
            snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(v, "state")));
    json_decref(l);
    return buf;
}

static void test_engine(void **state)
{
    char *dir = tu_tmpdir(), rules[512], st[512], out[512], rulesj[2048], err[512];
    col_store *s = NULL;
    col_store_opts so = {0};
    col_alerts *a = NULL;
    col_alerts_opts ao = {0};
    uint64_t now = slc_now_ns();
    json_t *j = NULL, *r;
    int created = 0;
    struct stat sb;

    (void)state;
    snprintf(rules, sizeof rules, "%s/rules.json", dir);
    snprintf(st, sizeof st, "%s/state.json", dir);
    snprintf(out, sizeof out, "%s/notified", dir);
    snprintf(rulesj, sizeof rulesj,
             "{\"notifiers\":[{\"name\":\"cmd\",\"type\":\"command\",\"argv\":[\"/bin/sh\",\"-c\","
             "\"echo $SIGHTLINE_ALERT_STATUS $SIGHTLINE_ALERT_RULE $SIGHTLINE_ALERT_VALUE >> %s\"]}],"
             "\"rules\":[{\"name\":\"pay\",\"expr\":\"error_rate(payment) > 30%% over 5m\","
             "\"notify\":[\"cmd\"]},"
             "{\"name\":\"slow\",\"expr\":\"p99(payment) > 300ms over 5m for 1m\"}]}",
             out);
    write_file(rules, rulesj);
    assert_int_equal(col_store_open(dir, &so, &s, err, sizeof err), 0);
    /* 10 payments, 5 failing, 400 ms each */
    store_spans(s, 1, "payment", 10, 5, now - 30 * SEC, 400000000ULL);
    ao.rules_path = rules;
    ao.state_path = st;
    assert_int_equal(col_alerts_open(&ao, s, &a, err, sizeof err), 0);
    assert_int_equal(col_alerts_eval(a, now), 0);
    assert_string_equal(alert_state(a, "pay", now), "firing");
    assert_string_equal(alert_state(a, "slow", now), "pending");
    assert_int_equal(col_alerts_eval(a, now + 61 * SEC), 0);
    assert_string_equal(alert_state(a, "slow", now), "firing");
    assert_int_equal(col_alerts_deliver_due(a, now), 1);
    {
        char line[128] = "";
        FILE *f = fopen(out, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        fclose(f);
        assert_string_equal(line, "firing pay 50\n");
    }
    /* check: the same numbers, no state change */
    assert_int_equal(col_alerts_check(a, "p99(payment) > 300ms over 5m", NULL, now, &j, err,
                                      sizeof err),
                     0);
    assert_true(json_is_true(json_object_get(j, "would_fire")));
    assert_true(fabs(json_number_value(json_object_get(j, "value")) - 400) < 4);
    json_decref(j);
    assert_int_equal(col_alerts_check(a, "p99(payment) >", NULL, now, &j, err, sizeof err),
                     SL_EPARSE);
    assert_int_equal(col_alerts_check(a, NULL, "nope", now, &j, err, sizeof err), SL_ENOTFOUND);

    /* a bad rule over the API: refused, naming the field; file and rules unchanged */
    stat(rules, &sb);
    r = json_pack("{s:s,s:s,s:s,s:s}", "metric", "p99", "service", "x", "op", ">", "threshold",
                  "soon");
    assert_int_equal(col_alerts_rule_put(a, "new", r, 0, &created, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "rule 'new': field 'threshold'"));
    json_decref(r);
    j = col_alerts_doc_json(a);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "document"), "rules")), 2);
    json_decref(j);
    /* a good one: created, in the file */
    r = json_pack("{s:s}", "expr", "rate(payment) < 1/s");
    assert_int_equal(col_alerts_rule_put(a, "new", r, 1, &created, err, sizeof err), 0);
    assert_true(created);
    assert_int_equal(col_alerts_rule_put(a, "new", r, 1, &created, err, sizeof err), SL_EBUSY);
    json_decref(r);
    {
        json_error_t je;
        json_t *f = json_load_file(rules, 0, &je);
        assert_non_null(f);
        assert_int_equal(json_array_size(json_object_get(f, "rules")), 3);
        json_decref(f);
    }
    col_alerts_close(a);
    a = NULL;

    /* reopen: states and history survive */
    assert_int_equal(col_alerts_open(&ao, s, &a, err, sizeof err), 0);
    assert_string_equal(alert_state(a, "pay", now), "firing");
    assert_string_equal(alert_state(a, "slow", now), "firing");
    j = col_alerts_history_json(a, "pay", 100);
    assert_true(json_array_size(json_object_get(j, "history")) >= 2); /* firing, delivered */
    json_decref(j);
    /* deleting a firing rule sends its resolve */
    assert_int_equal(col_alerts_rule_delete(a, "pay", err, sizeof err), 0);
    assert_int_equal(col_alerts_rule_delete(a, "pay", err, sizeof err), SL_ENOTFOUND);
    assert_int_equal(col_alerts_deliver_due(a, now + 62 * SEC), 1);
    {
        char line[128] = "";
        FILE *f = fopen(out, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        assert_non_null(fgets(line, sizeof line, f));
        fclose(f);
        assert_string_equal(line, "resolved pay 50\n");
    }
    /* the rules file broken: reload refuses, the rules in force stay */
    write_file(rules, "{\"rules\":[{\"name\":\"x\",\"expr\":\"p99(x) >\"}]}");
    assert_int_equal(col_alerts_reload(a, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "rule 'x': field 'expr'"));
    assert_string_equal(alert_state(a, "slow", now), "firing");
    col_alerts_close(a);
    /* and at start-up a broken file is an error */
    assert_int_equal(col_alerts_open(&ao, s, &a, err, sizeof err), SL_EINVAL);
    col_store_close(s);
    tu_rmtree(dir);
}

int main(void)
{
    /* As the collector does (main.c): a command notifier that exits before
     * reading its stdin must not kill the process writing to it. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expr_ok),  cmocka_unit_test(test_expr_bad),
        cmocka_unit_test(test_rules),    cmocka_unit_test(test_template),
        cmocka_unit_test(test_states),   cmocka_unit_test(test_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
