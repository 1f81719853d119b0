/*
 * test_colmetrics.c - the RED metrics of GET /metrics (collector/
 * metrics_red.c), on a real store in a temp dir with frames written
 * through the ingest write path.  Every scrape is parsed as the Prometheus
 * text format (HELP/TYPE before samples, label escapes, one value per
 * line); then: counting starts at 0, counters grow by exactly the spans
 * stored, never decrease, histogram buckets are non-decreasing in le with
 * _count equal to the +Inf bucket, minutes move from the re-read window to
 * the kept totals without being counted twice, and the series bound holds.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/api.h"
#include "http/metrics_red.h"
#include "sightline.h"
#include "store/store.h"
#include "test_colutil.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define MIN (60 * SEC)

struct fx {
    char *dir;
    col_store *s;
    col_stats stats;
    col_api api;
    uint64_t now, t0; /* t0: a minute boundary 2 minutes before now */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (tu_store_open(&f->dir, &f->s) != 0)
        return -1;
    col_stats_init(&f->stats);
    f->api.store = f->s;
    f->api.stats = &f->stats;
    f->now = slc_now_ns();
    f->t0 = f->now - 2 * MIN;
    f->t0 -= f->t0 % MIN;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tu_store_close(f->dir, f->s);
    free(f);
    return 0;
}

/* n three-span traces (frontend 50 ms -> checkout 40 ms -> payment 30 ms,
 * payment fails), one frame each, starting at start + i ms. */
static void store_traces(struct fx *f, int n, uint64_t seed, uint64_t start)
{
    tu_store_traces(f->s, n, seed, start, MS, (uint32_t)seed);
}

/* One span of (service, op) with the given kind and duration. */
static void store_span(struct fx *f, uint64_t bid, const char *svc, const char *op, int kind,
                       uint64_t start, uint64_t dur, int error)
{
    slc_batch *b = slc_batch_new();
    uint8_t tid[16], sid[8];

    tu_id(tid, 16, bid * 7 + 3);
    tu_id(sid, 8, bid * 11 + 5);
    b->batch_id = bid;
    tu_span(b, tid, sid, NULL, svc, op, start, dur, error);
    b->spans[0].kind = (uint8_t)kind;
    tu_store_batch(f->s, b);
    slc_batch_free(b);
}

/* ---- a Prometheus text-format parser ------------------------------------ */

#define P_MAX 1024

struct sample {
    char name[96];
    char svc[256], op[256], le[256];
    double v;
};

struct scrape {
    struct sample s[P_MAX];
    int n;
    char types[64][96]; /* declared families */
    char kinds[64][16];
    int ntypes;
};

static const char *family_type(const struct scrape *p, const char *name)
{
    for (int i = 0; i < p->ntypes; i++)
        if (strcmp(p->types[i], name) == 0)
            return p->kinds[i];
    return NULL;
}

/* Reads a quoted label value at *q (after the opening quote) into out,
 * undoing \\, \" and \n; fails the test on a bad escape. */
static const char *parse_value(const char *q, char *out, size_t cap)
{
    size_t n = 0;

    for (; *q != '"'; q++) {
        char c = *q;
        assert_true(c != '\0' && c != '\n');
        if (c == '\\') {
            q++;
            assert_true(*q == '\\' || *q == '"' || *q == 'n');
            c = *q == 'n' ? '\n' : *q;
        }
        assert_true(n + 1 < cap);
        out[n++] = c;
    }
    out[n] = '\0';
    return q + 1;
}

/* Parses a whole exposition strictly enough to catch what Prometheus would
 * refuse: every sample's family has a TYPE line before it, histogram series
 * use _bucket/_sum/_count, names and labels are well formed, values parse. */
static void parse(const char *text, struct scrape *p)
{
    const char *l = text;

    memset(p, 0, sizeof *p);
    assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    while (*l != '\0') {
        const char *e = strchr(l, '\n'), *q = l;
        struct sample *s;
        char fam[96];
        const char *t;
        char *end;
        size_t n;

        assert_non_null(e);
        if (*l == '#') {
            char name[96], kind[16];
            if (sscanf(l, "# TYPE %95s %15s", name, kind) == 2) {
                assert_null(family_type(p, name)); /* declared once */
                assert_true(p->ntypes < 64);
                snprintf(p->types[p->ntypes], sizeof p->types[0], "%s", name);
                snprintf(p->kinds[p->ntypes++], sizeof p->kinds[0], "%s", kind);
            } else {
                assert_int_equal(strncmp(l, "# HELP ", 7), 0);
            }
            l = e + 1;
            continue;
        }
        assert_true(p->n < P_MAX);
        s = &p->s[p->n++];
        while (q < e && (isalnum((unsigned char)*q) || *q == '_' || *q == ':'))
            q++;
        n = (size_t)(q - l);
        assert_true(n > 0 && n < sizeof s->name && !isdigit((unsigned char)*l));
        memcpy(s->name, l, n);
        s->name[n] = '\0';
        if (*q == '{') {
            q++;
            while (*q != '}') {
                char key[32], val[256];
                size_t kn = 0;
                while (isalnum((unsigned char)*q) || *q == '_') {
                    assert_true(kn + 1 < sizeof key);
                    key[kn++] = *q++;
                }
                key[kn] = '\0';
                assert_true(kn > 0 && *q == '=' && q[1] == '"');
                q = parse_value(q + 2, val, sizeof val);
                if (strcmp(key, "service") == 0)
                    snprintf(s->svc, sizeof s->svc, "%s", val);
                else if (strcmp(key, "operation") == 0)
                    snprintf(s->op, sizeof s->op, "%s", val);
                else if (strcmp(key, "le") == 0)
                    snprintf(s->le, sizeof s->le, "%s", val);
                if (*q == ',')
                    q++;
                else
                    assert_int_equal(*q, '}');
            }
            q++;
        }
        assert_int_equal(*q, ' ');
        s->v = strtod(q + 1, &end);
        assert_true(end == e && end > q + 1);
        /* the family: the name itself, or a histogram's base name */
        snprintf(fam, sizeof fam, "%s", s->name);
        t = family_type(p, fam);
        if (t == NULL) {
            static const char *const sfx[] = {"_bucket", "_sum", "_count"};
            for (size_t i = 0; i < 3 && t == NULL; i++) {
                size_t fl = strlen(s->name), sl = strlen(sfx[i]);
                if (fl > sl && strcmp(s->name + fl - sl, sfx[i]) == 0) {
                    snprintf(fam, sizeof fam, "%.*s", (int)(fl - sl), s->name);
                    t = family_type(p, fam);
                    if (t != NULL)
                        assert_string_equal(t, "histogram");
                    if (t != NULL && i == 0)
                        assert_true(s->le[0] != '\0');
                }
            }
        }
        if (t == NULL)
            fail_msg("sample %s has no TYPE line before it", s->name);
        if (strcmp(t, "counter") == 0)
            assert_true(s->v >= 0);
        l = e + 1;
    }
}

/* The value of name{service, operation[, le]}, or -1 when absent. */
static double val(const struct scrape *p, const char *name, const char *svc, const char *op,
                  const char *le)
{
    for (int i = 0; i < p->n; i++) {
        const struct sample *s = &p->s[i];
        if (strcmp(s->name, name) == 0 && strcmp(s->svc, svc) == 0 && strcmp(s->op, op) == 0 &&
            strcmp(s->le, le != NULL ? le : "") == 0)
            return s->v;
    }
    return -1;
}

static double val0(const struct scrape *p, const char *name)
{
    return val(p, name, "", "", NULL);
}

/* Every RED series: buckets non-decreasing in le (in exposition order,
 * which must also be ascending le), +Inf present and equal to _count,
 * _count equal to requests_total, errors <= requests. */
static int check_series(const struct scrape *p)
{
    int series = 0;

    for (int i = 0; i < p->n; i++) {
        const struct sample *s = &p->s[i];
        double prev_le = -1, prev_v = -1, inf = -1, req, cnt;

        if (strcmp(s->name, "sightline_requests_total") != 0)
            continue;
        series++;
        for (int j = 0; j < p->n; j++) {
            const struct sample *b = &p->s[j];
            double le;
            if (strcmp(b->name, "sightline_request_duration_seconds_bucket") != 0 ||
                strcmp(b->svc, s->svc) != 0 || strcmp(b->op, s->op) != 0)
                continue;
            le = strcmp(b->le, "+Inf") == 0 ? INFINITY : strtod(b->le, NULL);
            assert_true(le > prev_le);
            assert_true(b->v >= prev_v);
            prev_le = le;
            prev_v = b->v;
            if (isinf(le))
                inf = b->v;
        }
        req = s->v;
        cnt = val(p, "sightline_request_duration_seconds_count", s->svc, s->op, NULL);
        assert_true(inf >= 0);
        assert_true(cnt == inf);
        assert_true(cnt == req);
        assert_true(val(p, "sightline_request_errors_total", s->svc, s->op, NULL) <= req);
        assert_true(val(p, "sightline_request_duration_seconds_sum", s->svc, s->op, NULL) >= 0);
    }
    return series;
}

/* No sample of a (counter or histogram) series got smaller. */
static void check_monotonic(const struct scrape *a, const struct scrape *b)
{
    for (int i = 0; i < a->n; i++) {
        const struct sample *s = &a->s[i];
        double v;
        if (strncmp(s->name, "sightline_request", 17) != 0)
            continue;
        v = val(b, s->name, s->svc, s->op, s->le[0] ? s->le : NULL);
        if (v < 0)
            fail_msg("series %s{%s,%s,%s} disappeared", s->name, s->svc, s->op, s->le);
        if (v < s->v)
            fail_msg("%s{%s,%s,%s} went down: %g -> %g", s->name, s->svc, s->op, s->le, s->v, v);
    }
}

/* GET /metrics through the real handler at time now. */
static void scrape_api(struct fx *f, uint64_t now, struct scrape *p)
{
    col_api_req req = {0};
    col_api_resp resp = {0};

    req.method = "GET";
    req.path = "/metrics";
    req.now_ns = now;
    assert_int_equal(col_api_dispatch(&f->api, &req, &resp), 1);
    assert_int_equal(resp.status, 200);
    assert_non_null(resp.text);
    assert_null(resp.body);
    parse(resp.text, p);
    free(resp.text);
}

static void scrape_m(col_redm *m, uint64_t now, struct scrape *p)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(col_redm_render(m, now, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    parse(text, p);
    free(text);
}

static struct scrape sa, sb, sc;

/* The real /metrics: the existing self-metrics and the RED families parse
 * together; data stored before the first scrape reads 0; then exactly the
 * spans stored since; nothing decreases; the cache serves a repeat. */
static void test_api_counts_from_zero(void **state)
{
    struct fx *f = *state;
    const char *fe = "frontend", *op = "GET /checkout";

    store_traces(f, 5, 100, f->t0);
    scrape_api(f, f->now, &sa);
    assert_true(val0(&sa, "sightline_frames_received_total") >= 0); /* the old families stay */
    assert_int_equal(check_series(&sa), 3);
    assert_true(val(&sa, "sightline_requests_total", fe, op, NULL) == 0);
    assert_true(val(&sa, "sightline_request_duration_seconds_count", "payment", "charge", NULL) ==
                0);

    store_traces(f, 7, 200, f->t0 + 30 * SEC);
    /* inside the cache interval: the same text */
    scrape_api(f, f->now + 1 * SEC, &sb);
    assert_true(val(&sb, "sightline_requests_total", fe, op, NULL) == 0);

    scrape_api(f, f->now + 11 * SEC, &sb);
    assert_int_equal(check_series(&sb), 3);
    check_monotonic(&sa, &sb);
    assert_true(val(&sb, "sightline_requests_total", fe, op, NULL) == 7);
    assert_true(val(&sb, "sightline_request_errors_total", fe, op, NULL) == 0);
    assert_true(val(&sb, "sightline_requests_total", "payment", "charge", NULL) == 7);
    assert_true(val(&sb, "sightline_request_errors_total", "payment", "charge", NULL) == 7);
    /* 50 ms each: nothing at or under 25 ms, all under 100 ms, sum exact */
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", fe, op, "0.025") == 0);
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", fe, op, "0.1") == 7);
    assert_true(fabs(val(&sb, "sightline_request_duration_seconds_sum", fe, op, NULL) - 0.35) <
                1e-9);
    /* 30 ms payments: above 0.025, at or below 0.05 */
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", "payment", "charge",
                    "0.025") == 0);
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", "payment", "charge",
                    "0.05") == 7);

    /* a new operation appears; the old series keep growing */
    store_traces(f, 2, 300, f->t0 + 40 * SEC);
    store_span(f, 900, "frontend", "GET /cart", SLC_KIND_SERVER, f->t0 + 50 * SEC, 2 * SEC, 1);
    /* not a request a service handled: left out */
    store_span(f, 901, "frontend", "SELECT cart", SLC_KIND_CLIENT, f->t0 + 50 * SEC, MS, 0);
    scrape_api(f, f->now + 22 * SEC, &sc);
    assert_int_equal(check_series(&sc), 4);
    check_monotonic(&sb, &sc);
    assert_true(val(&sc, "sightline_requests_total", fe, op, NULL) == 9);
    assert_true(val(&sc, "sightline_requests_total", fe, "GET /cart", NULL) == 1);
    assert_true(val(&sc, "sightline_request_errors_total", fe, "GET /cart", NULL) == 1);
    assert_true(val(&sc, "sightline_request_duration_seconds_bucket", fe, "GET /cart", "1") == 0);
    assert_true(val(&sc, "sightline_request_duration_seconds_bucket", fe, "GET /cart", "2.5") ==
                1);
    assert_true(val(&sc, "sightline_requests_total", fe, "SELECT cart", NULL) < 0);
    assert_true(val0(&sc, "sightline_red_series") == 4);
    assert_true(val0(&sc, "sightline_red_refresh_errors_total") == 0);
}

/* Minutes leave the re-read window into the kept totals without being
 * counted twice or lost; data arriving for a closed minute is left out (as
 * documented) and nothing goes down. */
static void test_window_closes(void **state)
{
    struct fx *f = *state;
    col_redm_opts o = {.cache_ns = 1, .window_ns = MIN};
    col_redm *m = NULL;
    const char *fe = "frontend", *op = "GET /checkout";

    assert_int_equal(col_redm_new(f->s, &o, &m), 0);
    scrape_m(m, f->now, &sa); /* starts counting: the window holds nothing yet */
    assert_int_equal(check_series(&sa), 0);
    /* minute now-1..now: inside the window of this scrape */
    store_traces(f, 4, 100, f->now - f->now % MIN);
    scrape_m(m, f->now + SEC, &sb);
    assert_true(val(&sb, "sightline_requests_total", fe, op, NULL) == 4);
    /* the minute just closed (the last one before the window): still 4 */
    scrape_m(m, f->now - f->now % MIN + 2 * MIN + SEC, &sc);
    check_monotonic(&sb, &sc);
    assert_true(val(&sc, "sightline_requests_total", fe, op, NULL) == 4);
    /* five minutes later that minute is closed: still 4 */
    scrape_m(m, f->now + 5 * MIN, &sc);
    check_monotonic(&sb, &sc);
    assert_true(val(&sc, "sightline_requests_total", fe, op, NULL) == 4);
    assert_true(val(&sc, "sightline_request_duration_seconds_count", fe, op, NULL) == 4);
    /* new spans in the window count; a late span of the closed minute does not */
    store_traces(f, 3, 200, f->now + 5 * MIN - 10 * SEC);
    store_traces(f, 1, 300, f->now - f->now % MIN + SEC);
    scrape_m(m, f->now + 5 * MIN + 2 * SEC, &sa);
    check_monotonic(&sc, &sa);
    assert_int_equal(check_series(&sa), 3);
    assert_true(val(&sa, "sightline_requests_total", fe, op, NULL) == 7);
    scrape_m(m, f->now + 60 * MIN, &sb);
    check_monotonic(&sa, &sb);
    assert_true(val(&sb, "sightline_requests_total", fe, op, NULL) == 7);
    col_redm_free(m);
}

/* Label values are escaped; at most max_series pairs, the rest counted. */
static void test_escape_and_limit(void **state)
{
    struct fx *f = *state;
    col_redm_opts o = {.cache_ns = 1, .max_series = 2};
    col_redm *m = NULL;
    const char *odd = "a\"b\\c\nd";

    assert_int_equal(col_redm_new(f->s, &o, &m), 0);
    scrape_m(m, f->now, &sa);
    store_span(f, 1, "svc-a", odd, SLC_KIND_SERVER, f->t0, 3 * MS, 0);
    store_span(f, 2, "svc-b", "op", SLC_KIND_CONSUMER, f->t0, 70 * SEC, 0);
    store_span(f, 3, "svc-c", "op", SLC_KIND_SERVER, f->t0, MS, 0);
    scrape_m(m, f->now + SEC, &sb);
    assert_int_equal(check_series(&sb), 2);
    assert_true(val(&sb, "sightline_requests_total", "svc-a", odd, NULL) == 1);
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", "svc-a", odd, "0.0025") ==
                0);
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", "svc-a", odd, "0.005") ==
                1);
    /* a consumer span counts; 70 s is above the last finite bound */
    assert_true(val(&sb, "sightline_requests_total", "svc-b", "op", NULL) == 1);
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", "svc-b", "op", "60") == 0);
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", "svc-b", "op", "+Inf") ==
                1);
    assert_true(val(&sb, "sightline_requests_total", "svc-c", "op", NULL) < 0);
    assert_true(val0(&sb, "sightline_red_series") == 2);
    assert_true(val0(&sb, "sightline_red_series_limit") == 2);
    assert_true(val0(&sb, "sightline_red_groups_dropped_total") >= 1);
    col_redm_free(m);
    col_redm_free(NULL);
    assert_int_equal(col_redm_new(NULL, NULL, &m), SL_EINVAL);
}

/* Retention dropping the aggregates of the window must not make a counter
 * or a bucket go down (Prometheus would read a reset). */
static void test_never_decreases(void **state)
{
    struct fx *f = *state;
    col_redm_opts o = {.cache_ns = 1};
    col_retention_opts ro = {.max_age_ns = MIN};
    col_redm *m = NULL;
    uint64_t cutoff = 0;

    assert_int_equal(col_redm_new(f->s, &o, &m), 0);
    scrape_m(m, f->now, &sa);
    store_traces(f, 3, 100, f->t0);
    scrape_m(m, f->now + SEC, &sb);
    assert_true(val(&sb, "sightline_requests_total", "payment", "charge", NULL) == 3);
    assert_true(val(&sb, "sightline_request_duration_seconds_bucket", "payment", "charge",
                    "0.05") == 3);
    assert_int_equal(col_store_retention_run(f->s, &ro, f->now + 60 * MIN, &cutoff), 0);
    assert_true(cutoff > 0);
    scrape_m(m, f->now + 2 * SEC, &sc);
    check_monotonic(&sb, &sc);
    assert_int_equal(check_series(&sc), 3);
    assert_true(val(&sc, "sightline_request_duration_seconds_bucket", "payment", "charge",
                    "0.05") == 3);
    col_redm_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_counts_from_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_decreases, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
