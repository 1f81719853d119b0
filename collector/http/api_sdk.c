/*
 * api_sdk.c - GET /api/v1/sdk (see api_sdk.h and docs/api.md).
 *
 * Reads "sightline.sdk.stats" log records newest first through
 * col_store_logs (a body-substring search over the range), keeps the first
 * record seen -- the newest -- of each (service, instance), and answers per
 * service: the sum of its instances' counters and each instance's own.
 * The read is bounded: at most COLS_MAX_PAGES pages of COLS_PAGE records
 * and COLS_MAX_INSTANCES instances; past either bound the answer says
 * "partial".
 */
#include "api_sdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/slq_util.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"

#define COLS_BODY "sightline.sdk.stats"
#define COLS_PREFIX "sightline.sdk."
#define COLS_INSTANCE_KEY "sightline.sdk.instance"
#define COLS_PAGE 5000
#define COLS_MAX_PAGES 8
#define COLS_MAX_INSTANCES 4096
#define COLS_SLOTS 8192 /* power of two, > 2 * COLS_MAX_INSTANCES */
#define COLS_DEFAULT_SINCE "1h"
#define COLS_NAME_MAX 255

/* One instance: the newest record of a (service, instance) pair. */
struct cols_inst {
    char *service;   /* malloc'd */
    char *instance;  /* malloc'd, "" when the record had none */
    uint64_t time_ns;
    json_t *detail;  /* {"instance","time_ns","time_us","version"?,"counters":{}} */
    json_t *counters; /* borrowed from detail */
};

struct cols_set {
    struct cols_inst *v;
    size_t n;
    int32_t slot[COLS_SLOTS]; /* index into v, -1 = empty */
};

static uint64_t cols_hash(const char *a, size_t alen, const char *b, size_t blen)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ (uint8_t)a[i]) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* separator: ("ab","c") != ("a","bc") */
    for (size_t i = 0; i < blen; i++)
        h = (h ^ (uint8_t)b[i]) * 1099511628211ULL;
    return h;
}

static int cols_eq(const char *z, const char *p, size_t n)
{
    return strlen(z) == n && memcmp(z, p, n) == 0;
}

static void cols_set_free(struct cols_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].service);
        free(set->v[i].instance);
        json_decref(set->v[i].detail);
    }
    free(set->v);
    free(set);
}

/* The instance attribute of a record ("" when absent). */
static slc_str cols_instance(const slc_batch *b, const slc_log *l)
{
    slc_str none = {"", 0};
    for (uint32_t k = 0; k < l->attr_count; k++) {
        const slc_attr *a = &b->attrs[l->attr_first + k];
        const slc_str *key = &b->strs[a->key];
        if (a->type == SLC_V_STR && cols_eq(COLS_INSTANCE_KEY, key->ptr, key->len))
            return b->strs[a->v.str];
    }
    return none;
}

/* The record as an instance's detail: int attributes under the prefix
 * become counters (prefix cut), version and last error message are kept. */
static json_t *cols_detail(const slc_batch *b, const slc_log *l, slc_str inst)
{
    json_t *d = json_object(), *c = json_object();
    int bad = d == NULL || c == NULL;
    const size_t plen = strlen(COLS_PREFIX);

    if (!bad)
        bad = json_object_set_new(d, "instance", json_stringn(inst.ptr, inst.len)) != 0 ||
              json_object_set_new(d, "time_ns", slq_json_ns(l->time_ns)) != 0 ||
              json_object_set_new(d, "time_us", json_integer((json_int_t)(l->time_ns / 1000))) != 0;
    for (uint32_t k = 0; !bad && k < l->attr_count; k++) {
        const slc_attr *a = &b->attrs[l->attr_first + k];
        const slc_str *key = &b->strs[a->key];
        char name[128];

        if (key->len <= plen || key->len - plen >= sizeof name ||
            memcmp(key->ptr, COLS_PREFIX, plen) != 0)
            continue;
        memcpy(name, key->ptr + plen, key->len - plen);
        name[key->len - plen] = '\0';
        if (a->type == SLC_V_INT) {
            bad = json_object_set_new(c, name, json_integer((json_int_t)a->v.i)) != 0;
        } else if (a->type == SLC_V_STR &&
                   (strcmp(name, "version") == 0 || strcmp(name, "last_error.message") == 0)) {
            const slc_str *v = &b->strs[a->v.str];
            /* json_stringn rejects invalid UTF-8; the store holds validated strings. */
            bad = json_object_set_new(d, strcmp(name, "version") == 0 ? "version" : "last_error_message",
                                      json_stringn(v->ptr, v->len)) != 0;
        }
    }
    if (bad || json_object_set_new(d, "counters", c) != 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* Adds the record if its (service, instance) is new.  Returns 0, 1 when the
 * instance bound is reached (record skipped), -1 out of memory. */
static int cols_add(struct cols_set *set, const slc_batch *b, const slc_log *l)
{
    const slc_str *svc = &b->strs[l->service];
    slc_str inst = cols_instance(b, l);
    uint64_t h = cols_hash(svc->ptr, svc->len, inst.ptr, inst.len);
    size_t at = (size_t)(h & (COLS_SLOTS - 1));
    struct cols_inst *x;

    for (size_t probe = 0; probe < COLS_SLOTS; probe++, at = (at + 1) & (COLS_SLOTS - 1)) {
        int32_t i = set->slot[at];
        if (i < 0)
            break;
        if (cols_eq(set->v[i].service, svc->ptr, svc->len) &&
            cols_eq(set->v[i].instance, inst.ptr, inst.len))
            return 0; /* an older record of a known instance */
    }
    if (set->n == COLS_MAX_INSTANCES)
        return 1;
    x = &set->v[set->n];
    memset(x, 0, sizeof *x);
    x->service = slc_memdup(svc->ptr, svc->len);
    x->instance = slc_memdup(inst.ptr, inst.len);
    x->time_ns = l->time_ns;
    x->detail = cols_detail(b, l, inst);
    if (x->service == NULL || x->instance == NULL || x->detail == NULL) {
        free(x->service);
        free(x->instance);
        json_decref(x->detail);
        return -1;
    }
    x->counters = json_object_get(x->detail, "counters");
    set->slot[at] = (int32_t)set->n++;
    return 0;
}

static int cols_by_service(const void *a, const void *b)
{
    const struct cols_inst *x = a, *y = b;
    int c = strcmp(x->service, y->service);
    if (c != 0)
        return c;
    return x->time_ns < y->time_ns ? 1 : x->time_ns > y->time_ns ? -1 : 0; /* newest first */
}

/* Counters that describe one process and do not add up across instances. */
static int cols_additive(const char *name)
{
    return strcmp(name, "last_error") != 0 && strcmp(name, "interval_ms") != 0;
}

/* One service: instances v[0..n) (same service, newest first). */
static json_t *cols_service_json(const struct cols_inst *v, size_t n)
{
    json_t *sum = json_object(), *arr = json_array(), *o;
    int bad = sum == NULL || arr == NULL;

    for (size_t i = 0; !bad && i < n; i++) {
        const char *k;
        json_t *val;
        json_object_foreach(v[i].counters, k, val) {
            json_int_t have;
            if (!cols_additive(k))
                continue;
            have = json_integer_value(json_object_get(sum, k));
            if (json_object_set_new(sum, k, json_integer(have + json_integer_value(val))) != 0) {
                bad = 1;
                break;
            }
        }
        if (!bad)
            bad = json_array_append(arr, v[i].detail) != 0;
    }
    if (bad) {
        json_decref(sum);
        json_decref(arr);
        return NULL;
    }
    o = json_pack("{s:s,s:I,s:o,s:I,s:o,s:o}", "service", v[0].service, "instance_count",
                  (json_int_t)n, "time_ns", slq_json_ns(v[0].time_ns), "time_us",
                  (json_int_t)(v[0].time_ns / 1000), "counters", sum, "instances", arr);
    return o;
}

void col_api_sdk(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    struct cols_set *set = NULL;
    col_logs_q q;
    char cursor[COL_CURSOR_MAX] = "";
    const char *svc = req->arg(req->cx, "service");
    json_t *services = NULL, *out_body;
    uint64_t records = 0;
    int partial = 0, rv = 0;

    memset(&q, 0, sizeof q);
    if (svc != NULL && *svc == '\0')
        svc = NULL;
    if (svc != NULL && (strlen(svc) > COLS_NAME_MAX || !slc_utf8_valid(svc, strlen(svc)))) {
        col_api_error(resp, 400, "bad_service", "'service' must be UTF-8 of at most %d bytes",
                      COLS_NAME_MAX);
        return;
    }
    if (col_api_arg_time(req, resp, "since", COLS_DEFAULT_SINCE, &q.since_ns) != 0 ||
        col_api_arg_time(req, resp, "until", NULL, &q.until_ns) != 0)
        return;
    if (q.since_ns > q.until_ns || q.until_ns - q.since_ns > col_api_max_range(api)) {
        char maxs[32];
        col_api_fmt_dur(col_api_max_range(api), maxs, sizeof maxs);
        col_api_error(resp, 400, "bad_range",
                      "'since' must not be after 'until', and the range at most %s "
                      "(query-max-range)",
                      maxs);
        return;
    }
    set = malloc(sizeof *set);
    services = json_array();
    if (set == NULL || services == NULL)
        goto oom;
    set->n = 0;
    set->v = malloc(COLS_MAX_INSTANCES * sizeof *set->v);
    if (set->v == NULL)
        goto oom;
    memset(set->slot, 0xff, sizeof set->slot);
    q.service = svc;
    q.contains = COLS_BODY;
    q.limit = COLS_PAGE;
    for (int page = 0; page < COLS_MAX_PAGES; page++) {
        slc_batch *b = NULL;
        char next[COL_CURSOR_MAX] = "";
        int capped = 0;

        q.cursor = cursor;
        rv = col_store_logs(api->store, &q, &b, next, &capped);
        if (rv != 0)
            break;
        partial |= capped;
        for (uint32_t i = 0; i < b->nlogs && rv == 0; i++) {
            const slc_log *l = &b->logs[i];
            const slc_str *body = &b->strs[l->body];
            int r;
            /* The search matches a substring; only the exact body is a stats record. */
            if (!cols_eq(COLS_BODY, body->ptr, body->len))
                continue;
            records++;
            r = cols_add(set, b, l);
            if (r < 0)
                rv = SL_ENOMEM;
            partial |= r > 0;
        }
        slc_batch_free(b);
        if (rv != 0 || next[0] == '\0')
            break;
        if (page == COLS_MAX_PAGES - 1)
            partial = 1; /* more records than we read */
        snprintf(cursor, sizeof cursor, "%s", next);
    }
    if (rv == SL_ENOMEM)
        goto oom;
    if (rv != 0) {
        col_api_store_error(resp, rv, "reading the SDK stats records");
        goto out;
    }
    qsort(set->v, set->n, sizeof *set->v, cols_by_service);
    for (size_t i = 0; i < set->n;) {
        size_t j = i + 1;
        while (j < set->n && strcmp(set->v[j].service, set->v[i].service) == 0)
            j++;
        if (json_array_append_new(services, cols_service_json(&set->v[i], j - i)) != 0)
            goto oom;
        i = j;
    }
    out_body = json_pack("{s:O,s:I,s:b,s:o,s:o}", "services", services, "records", (json_int_t)records,
                     "partial", partial, "since_ns", slq_json_ns(q.since_ns), "until_ns",
                     slq_json_ns(q.until_ns));
    if (out_body == NULL)
        goto oom;
    resp->status = 200;
    resp->body = out_body;
    goto out;
oom:
    col_api_error(resp, 500, "internal", "out of memory building the SDK stats");
out:
    json_decref(services);
    if (set != NULL) {
        if (set->v == NULL)
            free(set);
        else
            cols_set_free(set);
    }
}
