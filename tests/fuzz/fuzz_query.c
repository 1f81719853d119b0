/*
 * fuzz_query.c - libFuzzer target for the HTTP API's query-argument
 * handling: every GET query route (collector/http/api.c's table: trace search,
 * one trace, RED, deps, logs, top, services and their operations, the SDK
 * view, the alert list and alert check) called through col_api_dispatch()
 * with arguments taken from the input, against a real store (RocksDB in a
 * temp dir, opened once) holding a few traces written through the ingest
 * write path, and an alert engine with no rules.
 *
 * Input: byte 0 picks the route; the rest is "name=value&name=value..."
 * (no URL decoding: http.c hands the handlers decoded values, so any byte
 * but NUL may reach them).  A pair without '=' is a name with an empty
 * value; names "_id" and "_svc" fill the path of the trace and operations
 * routes.  Properties beyond "no crash, no leak": the dispatcher claims the
 * path, the answer is a JSON object with a 2xx or 4xx status (bad input is
 * never a 5xx), an error answer has the one error shape, and an answer
 * written as JSON text (resp.json) parses.  Repeated names reach the
 * handlers through arg_nth as http.c passes them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "http/api.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "store/store.h"
#include "test_colutil.h"

#define FQ_MAX_ARGS 24
#define FQ_MAX_INPUT 4096
#define FQ_SEC 1000000000ULL

static char *fq_dir;
static col_store *fq_store;
static col_stats fq_stats;
static col_alerts *fq_alerts;
static col_api fq_api;
static uint64_t fq_now;

static void fq_cleanup(void)
{
    if (fq_alerts != NULL)
        col_alerts_close(fq_alerts);
    if (fq_store != NULL)
        tu_store_close(fq_dir, fq_store);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256], rules[1200], state[1200];
    col_alerts_opts ao;

    (void)argc;
    (void)argv;
    if (tu_store_open(&fq_dir, &fq_store) != 0)
        abort();
    /* Twelve traces over the last 20 minutes, so the ranges the fuzzer
     * picks sometimes hold data and the aggregates have rows. */
    fq_now = slc_now_ns();
    fq_now -= fq_now % (60 * FQ_SEC);
    tu_store_traces(fq_store, 12, 1000, fq_now - 20 * 60 * FQ_SEC, 100 * FQ_SEC, 7);
    col_stats_init(&fq_stats);
    snprintf(rules, sizeof rules, "%s/alert-rules.json", fq_dir);
    snprintf(state, sizeof state, "%s/alert-state.json", fq_dir);
    memset(&ao, 0, sizeof ao);
    ao.rules_path = rules;
    ao.state_path = state;
    if (col_alerts_open(&ao, fq_store, &fq_alerts, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_query: alerts: %s\n", err);
        abort();
    }
    tu_api_init(&fq_api, fq_store, &fq_stats);
    fq_api.alerts = fq_alerts;
    atexit(fq_cleanup);
    return 0;
}

struct fq_args {
    const char *k[FQ_MAX_ARGS], *v[FQ_MAX_ARGS];
    int n;
};

static const char *fq_arg(void *cx, const char *name)
{
    struct fq_args *a = cx;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->k[i], name) == 0)
            return a->v[i];
    return NULL;
}

static const char *fq_arg_nth(void *cx, const char *name, unsigned i)
{
    struct fq_args *a = cx;
    for (int k = 0; k < a->n; k++)
        if (strcmp(a->k[k], name) == 0 && i-- == 0)
            return a->v[k];
    return NULL;
}

/* Splits buf (NUL-terminated, modified in place) into pairs. */
static void fq_split(char *buf, struct fq_args *a)
{
    char *p = buf;

    while (p != NULL && *p != '\0' && a->n < FQ_MAX_ARGS) {
        char *amp = strchr(p, '&'), *eq;
        if (amp != NULL)
            *amp = '\0';
        eq = strchr(p, '=');
        if (eq != NULL)
            *eq = '\0';
        a->k[a->n] = p;
        a->v[a->n++] = eq != NULL ? eq + 1 : "";
        p = amp != NULL ? amp + 1 : NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const routes[] = {
        "/api/v1/traces",     "/api/v1/red",           "/api/v1/deps",
        "/api/v1/logs",       "/api/v1/top",           "/api/v1/services",
        "/api/v1/sdk",        "/api/v1/alerts/check",  "/api/v1/alerts",
        "/api/v1/traces/%s",  "/api/v1/services/%s/operations",
        "/api/v1/services/checkout/operations",
    };
    static char buf[FQ_MAX_INPUT + 1], path[FQ_MAX_INPUT + 64];
    struct fq_args a = {0};
    col_api_req req = {0};
    col_api_resp resp = {0};
    const char *route, *sub, *code;
    json_t *err;
    size_t r;

    if (size < 1 || size > FQ_MAX_INPUT)
        return 0;
    r = data[0] % (sizeof routes / sizeof routes[0]);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    fq_split(buf, &a);
    route = routes[r];
    if (strstr(route, "%s") != NULL) {
        sub = fq_arg(&a, r == 9 ? "_id" : "_svc");
        snprintf(path, sizeof path, route, sub != NULL ? sub : "");
    } else {
        snprintf(path, sizeof path, "%s", route);
    }

    req.method = "GET";
    req.path = path;
    req.arg = fq_arg;
    req.arg_nth = fq_arg_nth;
    req.cx = &a;
    req.now_ns = fq_now;
    if (col_api_dispatch(&fq_api, &req, &resp) != 1)
        abort(); /* every path above is the API's */
    if (resp.json != NULL) {
        /* A ready JSON text (the RED answer) must parse, as a client would. */
        json_error_t jerr;
        if (resp.body != NULL || strlen(resp.json) != resp.json_len)
            abort();
        resp.body = json_loadb(resp.json, resp.json_len, 0, &jerr);
        if (resp.body == NULL) {
            fprintf(stderr, "fuzz_query: %s answered invalid JSON: %s\n", path, jerr.text);
            abort();
        }
    }
    if (!json_is_object(resp.body) || resp.status < 200 || resp.status >= 500 ||
        (resp.status >= 300 && resp.status < 400)) {
        char *s = resp.body != NULL ? json_dumps(resp.body, 0) : NULL;
        fprintf(stderr, "fuzz_query: %s -> %d %s\n", path, resp.status, s != NULL ? s : "(none)");
        free(s);
        abort();
    }
    if (resp.status >= 400) {
        err = json_object_get(resp.body, "error");
        code = json_string_value(json_object_get(err, "code"));
        if (code == NULL || json_integer_value(json_object_get(err, "status")) != resp.status ||
            !json_is_string(json_object_get(err, "message")))
            abort();
    }
    {
        /* The body must also serialize, as http.c does. */
        char *s = json_dumps(resp.body, JSON_COMPACT);
        if (s == NULL)
            abort();
        free(s);
    }
    col_api_resp_free(&resp);
    return 0;
}
