/*
 * api_query.c - the query endpoints (see api_query.h and docs/api.md):
 * each handler parses and checks its arguments, calls the read-side engine
 * (query/slq_*.h) and serializes the engine's answer.
 *
 * Every argument is checked before the store is touched and every answer is
 * bounded: time ranges at most query-max-range, RED answers at most
 * query-max-buckets buckets, query-max-series series and SLQ_RED_MAX_CELLS
 * numbers per column, lists at most query-max-results, searches at most the
 * store's block budget (reported as "partial").  The RED answer, up to
 * hundreds of thousands of numbers, is written as JSON text (jsonw.h)
 * rather than built as a jansson tree.
 */
#include "api_query.h"
#include "jsonw.h"
#include "query/slq_aggtime.h"
#include "query/slq_deps.h"
#include "query/slq_logs.h"
#include "query/slq_ops.h"
#include "query/slq_red.h"
#include "query/slq_search.h"
#include "store/rollup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/slq_util.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "query/slq_trace.h"

#define COLQ_SEC 1000000000ULL
#define COLQ_MINUTE (60ULL * COLQ_SEC)
#define COLQ_DEFAULT_SINCE "1h"
#define COLQ_STORE_GROUPS 1024 /* = COL_AGG_MAX_GROUPS of store_query.c */
#define COLQ_SEARCH_DEFAULT 20
#define COLQ_SUMMARY_MAX 100
#define COLQ_LOGS_DEFAULT 100
#define COLQ_TOP_DEFAULT 10
#define COLQ_ARG_MAX 1024
#define COLQ_Q_MAX 256

/* ======================= argument parsing ================================== */

static void colq_store_err(col_api_resp *resp, const char *what, int rv)
{
    if (rv == SL_ETOOBIG)
        col_api_error(resp, 400, "too_big",
                      "%s: more than %d groups in one bucket; filter by service or operation",
                      what, COLQ_STORE_GROUPS);
    else if (rv == SL_ENOMEM)
        col_api_error(resp, 500, "internal", "%s: out of memory", what);
    else
        col_api_store_error(resp, rv, "%s", what);
}

/* Optional string argument: NULL when absent or empty; 400 when longer than
 * max bytes or not UTF-8. */
static int colq_str(const col_api_req *req, col_api_resp *resp, const char *name, size_t max,
                    const char **out)
{
    const char *v = req->arg(req->cx, name);
    size_t n;

    *out = NULL;
    if (v == NULL || *v == '\0')
        return 0;
    n = strlen(v);
    if (n > max || !slc_utf8_valid(v, n)) {
        col_api_error(resp, 400, "bad_argument", "'%s' must be UTF-8 of at most %zu bytes", name,
                      max);
        return -1;
    }
    *out = v;
    return 0;
}

/* since (default 1h ago) .. until (default now), at most query-max-range. */
static int colq_range(const col_api *api, const col_api_req *req, col_api_resp *resp,
                      uint64_t *since, uint64_t *until)
{
    uint64_t s, u, max = col_api_max_range(api);
    char maxs[32];

    if (col_api_arg_time(req, resp, "since", COLQ_DEFAULT_SINCE, &s) != 0 ||
        col_api_arg_time(req, resp, "until", NULL, &u) != 0)
        return -1;
    if (s > u) {
        col_api_error(resp, 400, "bad_range", "'since' is after 'until'");
        return -1;
    }
    if (u - s > max) {
        col_api_error(resp, 400, "bad_range",
                      "the time range is longer than %s (query-max-range); narrow it",
                      (col_api_fmt_dur(max, maxs, sizeof maxs), maxs));
        return -1;
    }
    *since = s;
    *until = u;
    return 0;
}

static int colq_uint(const col_api_req *req, col_api_resp *resp, const char *name,
                     unsigned long dflt, unsigned long lo, unsigned long hi, unsigned long *out)
{
    const char *v = req->arg(req->cx, name);
    unsigned long x;
    char *end;

    if (v == NULL || *v == '\0') {
        *out = dflt;
        return 0;
    }
    errno = 0;
    x = strtoul(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || *v == '-' || x < lo || x > hi) {
        int lim = strcmp(name, "limit") == 0;
        col_api_error(resp, 400, lim ? "bad_limit" : "bad_argument",
                      "'%s' must be an integer in %lu..%lu%s, got '%.32s'", name, lo, hi,
                      lim ? " (query-max-results)" : "", v);
        return -1;
    }
    *out = x;
    return 0;
}

static int colq_duration(const col_api_req *req, col_api_resp *resp, const char *name,
                         uint64_t *out)
{
    const char *v = req->arg(req->cx, name);

    *out = 0;
    if (v == NULL || *v == '\0')
        return 0;
    if (slc_duration_parse(v, out) != 0) {
        col_api_error(resp, 400, "bad_duration",
                      "'%s' value '%.32s' is not a duration: use 250ms, 1.5s, 2m, 100us or ns "
                      "digits",
                      name, v);
        return -1;
    }
    return 0;
}

/* -1 when absent, else 1 / 0. */
static int colq_bool(const col_api_req *req, col_api_resp *resp, const char *name, int *out)
{
    const char *v = req->arg(req->cx, name);

    *out = -1;
    if (v == NULL || *v == '\0')
        return 0;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else {
        col_api_error(resp, 400, "bad_argument", "'%s' must be true or false, got '%.32s'", name,
                      v);
        return -1;
    }
    return 0;
}

/* kind=entry (default: server and consumer spans, the requests a service
 * handled) | all | one span kind. */
static int colq_kind(const col_api_req *req, col_api_resp *resp, unsigned *mask,
                     const char **name)
{
    const char *v = req->arg(req->cx, "kind");

    if (v == NULL || *v == '\0')
        v = "entry";
    if (slq_kind_parse(v, mask, name) == 0)
        return 0;
    col_api_error(resp, 400, "bad_argument", "'kind' must be " SLQ_KIND_CHOICES ", got '%.32s'",
                  v);
    return -1;
}

/* ======================= percentiles ======================================= */

/* The function behind the stored summaries (rollup.c), so a bucket
 * answered from a stored summary and one merged here print the same. */
void col_apiq_percentiles(const slc_hist *h, uint64_t out[4])
{
    col_rollup_percentiles(h, out);
}

static json_t *colq_real(double x)
{
    return json_real(x);
}

/* count, rate, errors, error_rate, p50..p99 of one aggregate into o. */
static int colq_set_red(json_t *o, uint64_t count, uint64_t errors, const uint64_t pct[4],
                        uint64_t max, double seconds)
{
    int rc = 0;

    rc |= json_object_set_new(o, "count", json_integer((json_int_t)count));
    rc |= json_object_set_new(o, "rate", colq_real(seconds > 0 ? (double)count / seconds : 0));
    rc |= json_object_set_new(o, "errors", json_integer((json_int_t)errors));
    rc |= json_object_set_new(o, "error_rate",
                              colq_real(count ? (double)errors / (double)count : 0));
    rc |= json_object_set_new(o, "p50_ns", json_integer((json_int_t)pct[0]));
    rc |= json_object_set_new(o, "p90_ns", json_integer((json_int_t)pct[1]));
    rc |= json_object_set_new(o, "p95_ns", json_integer((json_int_t)pct[2]));
    rc |= json_object_set_new(o, "p99_ns", json_integer((json_int_t)pct[3]));
    rc |= json_object_set_new(o, "max_ns", json_integer((json_int_t)max));
    return rc != 0 ? -1 : 0;
}

/* ======================= GET /api/v1/traces (search) ======================= */

struct colq_attrs {
    col_attr_filter f[COL_SEARCH_MAX_ATTRS];
    char *mem[COL_SEARCH_MAX_ATTRS];
    size_t n;
};

static void colq_attrs_free(struct colq_attrs *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->mem[i]);
    a->n = 0;
}

/* Adds "key=value" (split at the first '='). */
static int colq_attr_add(struct colq_attrs *a, col_api_resp *resp, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t n = strlen(kv);
    char *m;

    if (eq == NULL || eq == kv || n > COLQ_ARG_MAX || !slc_utf8_valid(kv, n)) {
        col_api_error(resp, 400, "bad_attr",
                      "'attr' must be key=value (UTF-8, at most %d bytes), got '%.64s'",
                      COLQ_ARG_MAX, kv);
        return -1;
    }
    if (a->n == COL_SEARCH_MAX_ATTRS) {
        col_api_error(resp, 400, "bad_attr", "at most %d attribute filters",
                      COL_SEARCH_MAX_ATTRS);
        return -1;
    }
    m = strdup(kv);
    if (m == NULL) {
        col_api_error(resp, 500, "internal", "out of memory");
        return -1;
    }
    m[eq - kv] = '\0';
    a->mem[a->n] = m;
    a->f[a->n].key = m;
    a->f[a->n].value = m + (eq - kv) + 1;
    a->n++;
    return 0;
}

/* tags={"key":"value",...} (Jaeger's form): one argument for several
 * filters; numbers and booleans are matched by value. */
static int colq_attr_tags(struct colq_attrs *a, col_api_resp *resp, const char *js)
{
    json_error_t jerr;
    json_t *o = json_loads(js, JSON_REJECT_DUPLICATES, &jerr), *v;
    const char *k;
    int rc = 0;

    if (!json_is_object(o)) {
        json_decref(o);
        col_api_error(resp, 400, "bad_attr",
                      "'tags' must be a JSON object of attribute filters, like "
                      "{\"http.route\":\"/cart\"}");
        return -1;
    }
    json_object_foreach(o, k, v)
    {
        char buf[COLQ_ARG_MAX + 2];
        int w;
        if (json_is_string(v))
            w = snprintf(buf, sizeof buf, "%s=%s", k, json_string_value(v));
        else if (json_is_integer(v))
            w = snprintf(buf, sizeof buf, "%s=%lld", k, (long long)json_integer_value(v));
        else if (json_is_real(v))
            w = snprintf(buf, sizeof buf, "%s=%.17g", k, json_real_value(v));
        else if (json_is_boolean(v))
            w = snprintf(buf, sizeof buf, "%s=%s", k, json_is_true(v) ? "true" : "false");
        else
            w = -1;
        if (w < 0 || (size_t)w >= sizeof buf) {
            col_api_error(resp, 400, "bad_attr",
                          "'tags' value of '%.64s' must be a string, number or boolean of at "
                          "most %d bytes",
                          k, COLQ_ARG_MAX);
            rc = -1;
            break;
        }
        if ((rc = colq_attr_add(a, resp, buf)) != 0)
            break;
    }
    json_decref(o);
    return rc;
}

static int colq_attrs_parse(const col_api_req *req, col_api_resp *resp, struct colq_attrs *a)
{
    const char *v;

    /* attr=k=v may repeat (each one more filter, ANDed). */
    if (req->arg_nth != NULL) {
        for (unsigned i = 0; (v = req->arg_nth(req->cx, "attr", i)) != NULL; i++)
            if (*v != '\0' && colq_attr_add(a, resp, v) != 0)
                return -1;
    } else {
        v = req->arg(req->cx, "attr");
        if (v != NULL && *v != '\0' && colq_attr_add(a, resp, v) != 0)
            return -1;
    }
    v = req->arg(req->cx, "tags");
    if (v != NULL && *v != '\0' && colq_attr_tags(a, resp, v) != 0)
        return -1;
    return 0;
}

/* One hit as the answer lists it: a new reference owned by the caller,
 * NULL when out of memory.  The summary's values are shared (counted
 * references), the hit stays the caller's. */
static json_t *colq_hit_json(const slq_hit *hit, int summary)
{
    const col_trace_hit *h = &hit->h;
    char tid[33], sid[17];
    json_t *o, *s = hit->summary;

    slc_hex_encode(h->trace_id, 16, tid);
    slc_hex_encode(h->span_id, 8, sid);
    if (slc_is_zero(h->span_id, 8))
        sid[0] = '\0'; /* a root from the trace list: the index keeps no span id */
    o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:b,s:b}", "trace_id", tid, "span_id", sid,
                  "service", h->service, "name", h->name, "kind", slc_kind_name(h->kind),
                  "start_ns", slq_json_ns(h->start_ns), "start_us", (json_int_t)(h->start_ns / 1000),
                  "duration_ns", (json_int_t)h->duration_ns, "error", (int)h->error, "is_root",
                  (int)h->is_root);
    if (o == NULL || !summary)
        return o;
    if (s != NULL) {
        json_object_set(o, "root_service", json_object_get(s, "root_service"));
        json_object_set(o, "root_name", json_object_get(s, "root_name"));
        json_object_set(o, "trace_start_ns", json_object_get(s, "start_ns"));
        json_object_set(o, "trace_start_us", json_object_get(s, "start_us"));
        json_object_set(o, "trace_duration_ns", json_object_get(s, "duration_ns"));
        json_object_set(o, "span_count", json_object_get(s, "span_count"));
        json_object_set(o, "services", json_object_get(s, "services"));
        json_object_set(o, "error_count", json_object_get(s, "error_count"));
    }
    return o;
}

void col_apiq_trace(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    uint8_t tid[16];
    char hex[33];
    json_t *j = NULL;
    int rv;

    if (slc_trace_id_parse(req->rest, tid) != 0) {
        col_api_error(resp, 400, "bad_trace_id",
                      "trace id '%.64s' is not 32 hex digits (and not all zero)", req->rest);
        return;
    }
    slc_hex_encode(tid, 16, hex);
    rv = slq_trace_read_json(api->store, tid, (uint32_t)api->trace_max_blocks,
                             (uint32_t)api->trace_max_spans, &j);
    if (rv == SL_ENOTFOUND)
        col_api_error(resp, 404, "not_found",
                      "trace %s not found; check the id or the time range", hex);
    else if (rv == SL_ENOMEM)
        col_api_error(resp, 500, "internal", "assembling trace %s: out of memory", hex);
    else if (rv != 0)
        col_api_store_error(resp, rv, "reading trace %s", hex);
    else
        col_api_ok(resp, j);
}

void col_apiq_traces(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    struct colq_attrs attrs = {0};
    slq_search_q sq;
    col_search_q *q = &sq.q;
    slq_hits hits = {0};
    const char *order;
    unsigned long limit;
    int summary, rv;
    json_t *arr = NULL, *body;

    memset(&sq, 0, sizeof sq);
    if (colq_str(req, resp, "service", COL_ROOT_SERVICE_MAX - 1, &q->service) != 0 ||
        colq_str(req, resp, "operation", COL_ROOT_NAME_MAX - 1, &q->operation) != 0 ||
        colq_duration(req, resp, "min_duration", &q->min_duration_ns) != 0 ||
        colq_duration(req, resp, "max_duration", &q->max_duration_ns) != 0 ||
        colq_bool(req, resp, "error", &q->error) != 0 ||
        colq_bool(req, resp, "summary", &summary) != 0 ||
        colq_uint(req, resp, "limit", COLQ_SEARCH_DEFAULT, 1,
                  (unsigned long)col_api_max_results(api), &limit) != 0 ||
        colq_range(api, req, resp, &q->since_ns, &q->until_ns) != 0 ||
        colq_attrs_parse(req, resp, &attrs) != 0)
        goto out;
    if (q->max_duration_ns != 0 && q->min_duration_ns > q->max_duration_ns) {
        col_api_error(resp, 400, "bad_range", "'min_duration' is above 'max_duration'");
        goto out;
    }
    order = req->arg(req->cx, "order");
    if (order == NULL || *order == '\0' || strcmp(order, "newest") == 0)
        q->order = COL_ORDER_NEWEST;
    else if (strcmp(order, "slowest") == 0)
        q->order = COL_ORDER_SLOWEST;
    else {
        col_api_error(resp, 400, "bad_argument", "'order' must be newest or slowest, got '%.32s'",
                      order);
        goto out;
    }
    q->attrs = attrs.f;
    q->nattrs = attrs.n;
    q->limit = limit;
    /* Summaries cost one trace read each: on by default for a page of a
     * list, off beyond COLQ_SUMMARY_MAX items. */
    if (summary == -1)
        summary = limit <= COLQ_SUMMARY_MAX;
    sq.summary = summary;
    sq.list_max_scan = (size_t)api->list_max_scan;
    sq.trace_max_blocks = (uint32_t)api->trace_max_blocks;
    sq.trace_max_spans = (uint32_t)api->trace_max_spans;
    rv = slq_search(api->store, &sq, &hits);
    if (rv == SL_EINVAL) {
        col_api_error(resp, 400, "bad_argument", "the search arguments are inconsistent");
        goto out;
    }
    if (rv != 0) {
        colq_store_err(resp, "searching traces", rv);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < hits.n && arr != NULL; i++)
        if (json_array_append_new(arr, colq_hit_json(&hits.v[i], summary)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    body = arr == NULL ? NULL
                       : json_pack("{s:o,s:I,s:b,s:o,s:o}", "traces", arr, "count",
                                   (json_int_t)hits.n, "partial", hits.capped, "since_ns",
                                   slq_json_ns(q->since_ns), "until_ns", slq_json_ns(q->until_ns));
    col_api_ok(resp, body);
out:
    slq_hits_free(&hits);
    colq_attrs_free(&attrs);
}

/* ======================= GET /api/v1/red ==================================== */

/* Reads 'step': a duration (whole minutes, rounded up, at least one),
 * "auto"/absent (a round step giving at most SLQ_AUTO_POINTS buckets), or
 * "0"/"all" (one bucket); the engine plans the buckets. */
static int colq_red_plan(const col_api *api, const col_api_req *req, col_api_resp *resp,
                         uint64_t since, uint64_t until, slq_red *r)
{
    int max_points = col_api_max_buckets(api);
    const char *v = req->arg(req->cx, "step");
    uint64_t step = 0;

    if (v != NULL && (strcmp(v, "0") == 0 || strcmp(v, "all") == 0))
        step = SLQ_STEP_ALL;
    else if (v == NULL || *v == '\0' || strcmp(v, "auto") == 0)
        step = SLQ_STEP_AUTO;
    else if (slc_duration_parse(v, &step) != 0 || step == 0) {
        col_api_error(resp, 400, "bad_step",
                      "'step' value '%.32s' is not a duration: use 1m, 5m, 1h, auto, or 0 for "
                      "one bucket",
                      v);
        return -1;
    }
    if (slq_red_plan(since, until, step, (uint64_t)max_points, r) != 0) {
        col_api_error(resp, 400, "bad_step",
                      "%llu buckets of %llus over this range; at most %d (query-max-buckets): "
                      "use a larger 'step' or a shorter range",
                      (unsigned long long)r->npoints, (unsigned long long)(r->step / COLQ_SEC),
                      max_points);
        return -1;
    }
    return 0;
}

/* One series: its names, totals, then one array per measure with a value
 * per bucket (percentiles null where the bucket has no requests). */
static void colq_series_write(col_jw *w, const slq_red *r, const slq_red_series *s, int by_op,
                              uint64_t since, uint64_t until)
{
    static const char *const pn[4] = {"p50_ns", "p90_ns", "p95_ns", "p99_ns"};
    double all = slq_agg_minutes_s(since, until);

    col_jw_obj(w);
    col_jw_key(w, "service");
    col_jw_str(w, s->service, s->service_len);
    if (by_op) {
        col_jw_key(w, "operation");
        col_jw_str(w, s->operation, s->operation_len);
    }
    col_jw_key(w, "total");
    col_jw_obj(w);
    col_jw_key(w, "count");
    col_jw_u64(w, s->total);
    col_jw_key(w, "errors");
    col_jw_u64(w, s->total_errors);
    col_jw_key(w, "rate");
    col_jw_real(w, (double)s->total / all);
    col_jw_key(w, "error_rate");
    col_jw_real(w, s->total ? (double)s->total_errors / (double)s->total : 0.0);
    col_jw_obj_end(w);
    col_jw_key(w, "count");
    col_jw_arr(w);
    for (uint64_t i = 0; i < r->npoints; i++)
        col_jw_u64(w, s->count[i]);
    col_jw_arr_end(w);
    col_jw_key(w, "errors");
    col_jw_arr(w);
    for (uint64_t i = 0; i < r->npoints; i++)
        col_jw_u64(w, s->errors[i]);
    col_jw_arr_end(w);
    col_jw_key(w, "rate");
    col_jw_arr(w);
    for (uint64_t i = 0; i < r->npoints; i++)
        col_jw_real(w, (double)s->count[i] / slq_red_bucket_s(r, i, until));
    col_jw_arr_end(w);
    col_jw_key(w, "error_rate");
    col_jw_arr(w);
    for (uint64_t i = 0; i < r->npoints; i++)
        col_jw_real(w, s->count[i] ? (double)s->errors[i] / (double)s->count[i] : 0);
    col_jw_arr_end(w);
    for (int k = 0; k < 4; k++) {
        col_jw_key(w, pn[k]);
        col_jw_arr(w);
        for (uint64_t i = 0; i < r->npoints; i++) {
            if (s->count[i])
                col_jw_u64(w, s->pct[i * 4 + k]);
            else
                col_jw_null(w);
        }
        col_jw_arr_end(w);
    }
    col_jw_obj_end(w);
}

/* The answer, written directly as JSON text (jsonw.h): ~100k numbers for
 * a day at one-minute steps, which as a jansson tree cost more to build
 * and dump than the query itself.  Same keys, order and number forms as
 * the tree gave. */
static void colq_red_answer(col_api_resp *resp, const slq_red *r, int by_op, const char *by,
                            const char *kname, uint64_t since, uint64_t until)
{
    col_jw w;
    char *text;
    size_t len;

    col_jw_init(&w, 512 + (size_t)r->npoints * (24 + r->n * 80), 0);
    col_jw_obj(&w);
    col_jw_key(&w, "since_ns");
    col_jw_u64_str(&w, since);
    col_jw_key(&w, "until_ns");
    col_jw_u64_str(&w, until);
    col_jw_key(&w, "start_ns");
    col_jw_u64_str(&w, r->first);
    col_jw_key(&w, "step_ns");
    col_jw_u64(&w, r->step ? r->step : (until - until % COLQ_MINUTE) + COLQ_MINUTE - r->first);
    col_jw_key(&w, "kind");
    col_jw_cstr(&w, kname);
    col_jw_key(&w, "by");
    col_jw_cstr(&w, by);
    col_jw_key(&w, "t_us");
    col_jw_arr(&w);
    for (uint64_t i = 0; i < r->npoints; i++)
        col_jw_u64(&w, (r->first + i * r->step) / 1000);
    col_jw_arr_end(&w);
    col_jw_key(&w, "series");
    col_jw_arr(&w);
    for (size_t i = 0; i < r->n; i++)
        colq_series_write(&w, r, &r->s[i], by_op, since, until);
    col_jw_arr_end(&w);
    col_jw_obj_end(&w);
    text = col_jw_take(&w, &len);
    if (text == NULL) {
        col_api_error(resp, 500, "internal", "out of memory building the response");
        return;
    }
    resp->status = 200;
    resp->json = text;
    resp->json_len = len;
}

void col_apiq_red(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    slq_red r;
    slq_red_q q;
    const char *by, *kname;
    int rv;

    memset(&r, 0, sizeof r);
    memset(&q, 0, sizeof q);
    r.max_series = (size_t)col_api_max_series(api);
    if (colq_str(req, resp, "service", 255, &q.service) != 0 ||
        colq_str(req, resp, "operation", 255, &q.operation) != 0 ||
        colq_kind(req, resp, &q.kind_mask, &kname) != 0 ||
        colq_range(api, req, resp, &q.since, &q.until) != 0 ||
        colq_red_plan(api, req, resp, q.since, q.until, &r) != 0)
        goto out;
    by = req->arg(req->cx, "by");
    if (by == NULL || *by == '\0')
        by = q.operation != NULL ? "operation" : "service";
    if (strcmp(by, "service") != 0 && strcmp(by, "operation") != 0) {
        col_api_error(resp, 400, "bad_argument", "'by' must be service or operation, got '%.32s'",
                      by);
        goto out;
    }
    q.by_op = strcmp(by, "operation") == 0;
    if (q.operation != NULL && !q.by_op) {
        col_api_error(resp, 400, "bad_argument", "'operation' needs by=operation");
        goto out;
    }
    rv = slq_red_read(api->store, &q, &r);
    if (r.too_big) {
        col_api_error(resp, 400, "too_big",
                      "more than %zu series (query-max-series) or %d numbers per column; filter "
                      "by service or use a larger step",
                      r.max_series, SLQ_RED_MAX_CELLS);
        goto out;
    }
    if (rv != 0) {
        colq_store_err(resp, "reading RED aggregates", rv);
        goto out;
    }
    colq_red_answer(resp, &r, q.by_op, by, kname, q.since, q.until);
out:
    slq_red_free(&r);
}

/* ======================= whole-range rows (operations, top) ================ */

/* One row of the operations table: a new reference owned by the caller,
 * NULL when out of memory. */
static json_t *colq_op_json(const slq_op *o, double seconds, int with_service)
{
    json_t *j = json_object();
    int rc = 0;

    if (j == NULL)
        return NULL;
    if (with_service)
        rc |= json_object_set_new(j, "service", json_string(o->service));
    rc |= json_object_set_new(j, "operation", json_string(o->operation));
    rc |= json_object_set_new(j, "count", json_integer((json_int_t)o->count));
    rc |= json_object_set_new(j, "rate", json_real((double)o->count / seconds));
    rc |= json_object_set_new(j, "errors", json_integer((json_int_t)o->errors));
    rc |= json_object_set_new(j, "error_rate",
                              json_real(o->count ? (double)o->errors / (double)o->count : 0));
    rc |= json_object_set_new(j, "p50_ns", json_integer((json_int_t)o->pct[0]));
    rc |= json_object_set_new(j, "p90_ns", json_integer((json_int_t)o->pct[1]));
    rc |= json_object_set_new(j, "p95_ns", json_integer((json_int_t)o->pct[2]));
    rc |= json_object_set_new(j, "p99_ns", json_integer((json_int_t)o->pct[3]));
    rc |= json_object_set_new(j, "max_ns", json_integer((json_int_t)o->max));
    if (rc != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* The rows of l as a JSON array: a new reference owned by the caller, NULL
 * when out of memory; l stays the caller's. */
static json_t *colq_ops_json(const slq_ops *l, double seconds, int with_service)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < l->n; i++)
        if (json_array_append_new(arr, colq_op_json(&l->o[i], seconds, with_service))) {
            json_decref(arr);
            arr = NULL;
        }
    return arr;
}

/* GET /api/v1/services/{name}/operations */
void col_apiq_service_sub(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    static const char suffix[] = "/operations";
    size_t rl = strlen(req->rest), sl = sizeof suffix - 1;
    char name[256];
    slq_ops l = {0};
    const char *kname;
    uint64_t since, until;
    unsigned mask;
    json_t *arr;
    int rv, known;

    if (rl <= sl || strcmp(req->rest + rl - sl, suffix) != 0 || rl - sl >= sizeof name) {
        col_api_error(resp, 404, "not_found",
                      "no API endpoint %.200s; the per-service endpoint is "
                      "/api/v1/services/{name}/operations",
                      req->path);
        return;
    }
    memcpy(name, req->rest, rl - sl);
    name[rl - sl] = '\0';
    if (colq_kind(req, resp, &mask, &kname) != 0 ||
        colq_range(api, req, resp, &since, &until) != 0)
        return;
    rv = slq_ops_read(api->store, name, since, until, mask, &l);
    if (rv != 0) {
        colq_store_err(resp, "reading operations", rv);
        return;
    }
    if (l.n == 0 && slq_service_known(api->store, name, &known) == 0 && !known) {
        col_api_error(resp, 404, "not_found",
                      "no service '%.200s' has sent spans; see /api/v1/services", name);
        return;
    }
    slq_ops_sort(&l, SLQ_OPS_BY_COUNT);
    arr = colq_ops_json(&l, slq_agg_minutes_s(since, until), 0);
    slq_ops_free(&l);
    col_api_ok(resp, arr == NULL ? NULL
                              : json_pack("{s:s,s:s,s:o,s:o,s:o}", "service", name, "kind", kname,
                                          "since_ns", slq_json_ns(since), "until_ns",
                                          slq_json_ns(until), "operations", arr));
}

/* GET /api/v1/top?by=latency|errors */
void col_apiq_top(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    slq_ops l = {0};
    const char *by, *service, *kname;
    uint64_t since, until;
    unsigned long limit, min_count;
    unsigned mask;
    json_t *arr;
    int rv, errors;

    by = req->arg(req->cx, "by");
    if (by == NULL || *by == '\0')
        by = "latency";
    if (strcmp(by, "latency") != 0 && strcmp(by, "errors") != 0) {
        col_api_error(resp, 400, "bad_argument", "'by' must be latency or errors, got '%.32s'",
                      by);
        return;
    }
    errors = strcmp(by, "errors") == 0;
    if (colq_str(req, resp, "service", 255, &service) != 0 ||
        colq_kind(req, resp, &mask, &kname) != 0 ||
        colq_uint(req, resp, "limit", COLQ_TOP_DEFAULT, 1,
                  (unsigned long)col_api_max_results(api), &limit) != 0 ||
        colq_uint(req, resp, "min_count", 1, 1, 1000000000UL, &min_count) != 0 ||
        colq_range(api, req, resp, &since, &until) != 0)
        return;
    rv = slq_ops_read(api->store, service, since, until, mask, &l);
    if (rv != 0) {
        colq_store_err(resp, "reading aggregates", rv);
        return;
    }
    slq_ops_top(&l, errors ? SLQ_OPS_BY_ERRORS : SLQ_OPS_BY_P99, limit, min_count);
    arr = colq_ops_json(&l, slq_agg_minutes_s(since, until), 1);
    slq_ops_free(&l);
    col_api_ok(resp, arr == NULL ? NULL
                              : json_pack("{s:s,s:s,s:o,s:o,s:o}", "by", by, "kind", kname,
                                          "since_ns", slq_json_ns(since), "until_ns",
                                          slq_json_ns(until), "operations", arr));
}

/* ======================= GET /api/v1/deps =================================== */

/* One edge of the service map: a new reference owned by the caller, NULL
 * when out of memory. */
static json_t *colq_edge_json(const slq_edge *e, double seconds)
{
    json_t *o = json_pack("{s:s%,s:s%}", "caller", e->caller, e->caller_len, "callee", e->callee,
                          e->callee_len);

    /* "calls" last, after the RED fields, as the answer always had it. */
    if (o == NULL || colq_set_red(o, e->calls, e->errors, e->pct, e->max, seconds) != 0 ||
        json_object_del(o, "count") != 0 ||
        json_object_set_new(o, "calls", json_integer((json_int_t)e->calls)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void col_apiq_deps(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    slq_deps d = {0};
    uint64_t since, until;
    json_t *nodes = NULL, *edges = NULL;
    double seconds;
    int rv;

    if (colq_range(api, req, resp, &since, &until) != 0)
        return;
    rv = slq_deps_read(api->store, since, until, &d);
    if (rv != 0) {
        colq_store_err(resp, "reading the service map", rv);
        return;
    }
    seconds = slq_agg_minutes_s(since, until);
    edges = json_array();
    nodes = json_array();
    for (size_t i = 0; edges != NULL && i < d.nedges; i++)
        if (json_array_append_new(edges, colq_edge_json(&d.edges[i], seconds)) != 0)
            goto nomem;
    for (size_t i = 0; nodes != NULL && i < d.nnodes; i++)
        if (json_array_append_new(nodes, json_pack("{s:s%,s:I,s:I,s:I}", "service",
                                                   d.nodes[i].service, d.nodes[i].len, "spans",
                                                   (json_int_t)d.nodes[i].spans, "errors",
                                                   (json_int_t)d.nodes[i].errors, "logs",
                                                   (json_int_t)d.nodes[i].logs)) != 0)
            goto nomem;
    if (edges == NULL || nodes == NULL)
        goto nomem;
    slq_deps_free(&d);
    col_api_ok(resp, json_pack("{s:o,s:o,s:o,s:o}", "since_ns", slq_json_ns(since), "until_ns",
                            slq_json_ns(until), "nodes", nodes, "edges", edges));
    return;
nomem:
    slq_deps_free(&d);
    json_decref(edges);
    json_decref(nodes);
    colq_store_err(resp, "reading the service map", SL_ENOMEM);
}

/* ======================= GET /api/v1/logs =================================== */

static int colq_level(const col_api_req *req, col_api_resp *resp, int *out)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"trace", SLC_LVL_TRACE}, {"debug", SLC_LVL_DEBUG}, {"info", SLC_LVL_INFO},
                 {"warn", SLC_LVL_WARN},   {"warning", SLC_LVL_WARN}, {"error", SLC_LVL_ERROR},
                 {"fatal", SLC_LVL_FATAL}};
    const char *v = req->arg(req->cx, "level");
    char *end;
    long x;

    *out = 0;
    if (v == NULL || *v == '\0')
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(v, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno == 0 && end != v && *end == '\0' && x >= 1 && x <= 24) {
        *out = (int)x;
        return 0;
    }
    col_api_error(resp, 400, "bad_level",
                  "'level' must be trace, debug, info, warn, error, fatal or a severity number "
                  "1..24, got '%.32s'",
                  v);
    return -1;
}

/* One log record of b with its trace_url: a new reference owned by the
 * caller, NULL when out of memory. */
static json_t *colq_log_json(const slc_batch *b, const slc_log *l)
{
    json_t *o = slq_log_json(b, l);
    char url[64];

    if (o == NULL || !(l->flags & SLC_LOG_F_TRACE))
        return o;
    snprintf(url, sizeof url, "/api/v1/traces/%s",
             json_string_value(json_object_get(o, "trace_id")));
    if (json_object_set_new(o, "trace_url", json_string(url)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The records of page p as the answer's "logs" array: a new reference
 * owned by the caller, NULL when out of memory; p stays the caller's. */
static json_t *colq_logs_json(const slq_logs_page *p)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < p->n; i++)
        if (json_array_append_new(arr, colq_log_json(p->b, slq_logs_at(p, i))) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    return arr;
}

/* The logs of one trace: filtered like a search, newest first, paged by an
 * offset cursor "t.N". */
static void colq_trace_logs(const col_api *api, col_api_resp *resp, const col_logs_q *q,
                            const char *hex)
{
    uint8_t tid[16];
    slq_logs_page p;
    json_t *arr;
    int rv;

    if (slc_trace_id_parse(hex, tid) != 0) {
        col_api_error(resp, 400, "bad_trace_id",
                      "'trace_id' '%.64s' is not 32 hex digits (and not all zero)", hex);
        return;
    }
    rv = slq_logs_of_trace(api->store, tid, (uint32_t)api->trace_max_blocks, q, &p);
    if (rv == SL_EINVAL) {
        col_api_error(resp, 400, "bad_cursor",
                      "'cursor' is not one this endpoint returned; start without it");
        return;
    }
    if (rv != 0) {
        colq_store_err(resp, "reading the trace's logs", rv);
        return;
    }
    arr = colq_logs_json(&p);
    col_api_ok(resp, arr == NULL ? NULL
                              : json_pack("{s:o,s:I,s:s,s:b}", "logs", arr, "count",
                                          (json_int_t)p.n, "next_cursor", p.next, "partial", 0));
    slq_logs_page_free(&p);
}

void col_apiq_logs(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    col_logs_q q;
    const char *tid;
    unsigned long limit;
    slq_logs_page p;
    json_t *arr;
    int rv;

    memset(&q, 0, sizeof q);
    if (colq_str(req, resp, "service", 255, &q.service) != 0 ||
        colq_str(req, resp, "q", COLQ_Q_MAX, &q.contains) != 0 ||
        colq_str(req, resp, "cursor", COL_CURSOR_MAX - 1, &q.cursor) != 0 ||
        colq_str(req, resp, "trace_id", 64, &tid) != 0 || colq_level(req, resp, &q.min_level) != 0 ||
        colq_uint(req, resp, "limit", COLQ_LOGS_DEFAULT, 1,
                  (unsigned long)col_api_max_results(api), &limit) != 0)
        return;
    q.limit = limit;
    /* A trace's logs are found by id, at any age: no default time range. */
    if (tid != NULL) {
        const char *s = req->arg(req->cx, "since"), *u = req->arg(req->cx, "until");
        q.until_ns = UINT64_MAX;
        if ((s != NULL && *s != '\0' &&
             col_api_arg_time(req, resp, "since", NULL, &q.since_ns) != 0) ||
            (u != NULL && *u != '\0' &&
             col_api_arg_time(req, resp, "until", NULL, &q.until_ns) != 0))
            return;
        colq_trace_logs(api, resp, &q, tid);
        return;
    }
    if (colq_range(api, req, resp, &q.since_ns, &q.until_ns) != 0)
        return;
    rv = slq_logs_search(api->store, &q, &p);
    if (rv == SL_EINVAL) {
        col_api_error(resp, 400, "bad_cursor",
                      "'cursor' is not one this endpoint returned; start without it");
        return;
    }
    if (rv != 0) {
        colq_store_err(resp, "searching logs", rv);
        return;
    }
    arr = colq_logs_json(&p);
    col_api_ok(resp, arr == NULL ? NULL
                              : json_pack("{s:o,s:I,s:s,s:b,s:o,s:o}", "logs", arr, "count",
                                          (json_int_t)p.n, "next_cursor", p.next, "partial",
                                          p.capped, "since_ns", slq_json_ns(q.since_ns),
                                          "until_ns", slq_json_ns(q.until_ns)));
    slq_logs_page_free(&p);
}
