/*
 * alerts_api.c - HTTP handlers of the alert endpoints (see alerts_api.h).
 *
 * Arguments and bodies are checked here; the engine (alerts.c) validates
 * rules.  Changing requests must say Content-Type: application/json, which
 * a browser cannot send cross-origin without a preflight the collector
 * does not grant, so a web page cannot change rules behind a user's back.
 */
#include "alerts_api.h"
#include "alerts/alerts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sightline.h"
#include "common/slc_util.h"

#define ALAPI_HISTORY_DEFAULT 100
#define ALAPI_HISTORY_MAX 1000

static void alapi_ok(col_api_resp *resp, int status, json_t *body)
{
    if (body == NULL) {
        col_api_error(resp, 500, "internal", "out of memory building the response");
        return;
    }
    resp->status = status;
    resp->body = body;
}

static int alapi_method(const col_api_req *req, const char *m)
{
    return strcmp(req->method, m) == 0 || (strcmp(m, "GET") == 0 && strcmp(req->method, "HEAD") == 0);
}

static void alapi_405(const col_api_req *req, col_api_resp *resp, const char *allowed)
{
    col_api_error(resp, 405, "method_not_allowed", "%.16s %.200s: allowed methods are %s",
                  req->method, req->path, allowed);
}

/* The request's JSON body, or NULL after answering 400/415. */
static json_t *alapi_body(const col_api_req *req, col_api_resp *resp)
{
    json_error_t je;
    json_t *j;
    const char *ct = req->content_type;

    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
        col_api_error(resp, 415, "unsupported_media_type",
                      "send the rule as JSON with Content-Type: application/json");
        return NULL;
    }
    if (req->body == NULL || req->body_len == 0) {
        col_api_error(resp, 400, "bad_body", "the request has no body; send the rule as JSON");
        return NULL;
    }
    j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        col_api_error(resp, 400, "bad_json", "the body is not JSON: line %d column %d: %s",
                      je.line, je.column, je.text);
        return NULL;
    }
    return j;
}

static void alapi_rule_err(col_api_resp *resp, int rv, const char *err)
{
    switch (rv) {
    case SL_EINVAL: col_api_error(resp, 400, "bad_rule", "%s", err); break;
    case SL_EBUSY: col_api_error(resp, 409, "exists", "%s", err); break;
    case SL_ENOTFOUND: col_api_error(resp, 404, "not_found", "%s", err); break;
    case SL_EIO:
        col_api_error(resp, 500, "io",
                      "%s; the rules were not changed (check the rules file's directory)", err);
        break;
    default: col_api_error(resp, 500, "internal", "%s", sl_strerror(rv));
    }
}

static void alapi_history(col_alerts *al, const col_api_req *req, col_api_resp *resp)
{
    const char *rule = req->arg(req->cx, "rule"), *lim = req->arg(req->cx, "limit");
    unsigned long limit = ALAPI_HISTORY_DEFAULT;

    if (lim != NULL && *lim != '\0') {
        char *end;
        errno = 0;
        limit = strtoul(lim, &end, 10);
        if (errno != 0 || *end != '\0' || *lim == '-' || limit < 1 ||
            limit > ALAPI_HISTORY_MAX) {
            col_api_error(resp, 400, "bad_limit", "'limit' must be an integer in 1..%d, got '%.32s'",
                          ALAPI_HISTORY_MAX, lim);
            return;
        }
    }
    if (rule != NULL && *rule == '\0')
        rule = NULL;
    if (rule != NULL && strlen(rule) > 200) {
        col_api_error(resp, 400, "bad_argument", "'rule' is longer than 200 bytes");
        return;
    }
    alapi_ok(resp, 200, col_alerts_history_json(al, rule, limit));
}

static void alapi_check(col_alerts *al, const col_api_req *req, col_api_resp *resp)
{
    const char *expr = req->arg(req->cx, "expr"), *rule = req->arg(req->cx, "rule");
    char err[512];
    json_t *out = NULL;
    int rv;

    if (expr != NULL && *expr == '\0')
        expr = NULL;
    if (rule != NULL && *rule == '\0')
        rule = NULL;
    if ((expr == NULL) == (rule == NULL)) {
        col_api_error(resp, 400, "bad_argument",
                      "give exactly one of 'expr' (like p99(checkout) > 300ms over 5m) or "
                      "'rule' (a rule name)");
        return;
    }
    if ((expr != NULL && strlen(expr) > 1024) || (rule != NULL && strlen(rule) > 200)) {
        col_api_error(resp, 400, "bad_argument", "'expr' or 'rule' is too long");
        return;
    }
    rv = col_alerts_check(al, expr, rule, req->now_ns, &out, err, sizeof err);
    if (rv == SL_EPARSE)
        col_api_error(resp, 400, "bad_expr", "%s", err);
    else if (rv == SL_ENOTFOUND)
        col_api_error(resp, 404, "not_found", "%s", err);
    else if (rv != 0)
        col_api_error(resp, 500, "store", "%s", err);
    else
        alapi_ok(resp, 200, out);
}

/* /api/v1/alerts/rules[/{name}] */
static void alapi_rules(col_alerts *al, const col_api_req *req, col_api_resp *resp,
                        const char *name)
{
    char err[512];
    json_t *body, *r;
    int created = 0, rv;

    if (name == NULL) {
        if (alapi_method(req, "GET")) {
            alapi_ok(resp, 200, col_alerts_doc_json(al));
            return;
        }
        if (!alapi_method(req, "POST")) {
            alapi_405(req, resp, "GET, POST");
            return;
        }
        if ((body = alapi_body(req, resp)) == NULL)
            return;
        if (json_string_value(json_object_get(body, "name")) == NULL) {
            json_decref(body);
            col_api_error(resp, 400, "bad_rule", "rule '?': field 'name': required");
            return;
        }
        rv = col_alerts_rule_put(al, json_string_value(json_object_get(body, "name")), body, 1,
                                 &created, err, sizeof err);
        if (rv != 0)
            alapi_rule_err(resp, rv, err);
        else
            alapi_ok(resp, 201,
                     col_alerts_rule_json(al, json_string_value(json_object_get(body, "name"))));
        json_decref(body);
        return;
    }
    if (*name == '\0' || strlen(name) > 200 || strchr(name, '/') != NULL) {
        col_api_error(resp, 404, "not_found", "no API endpoint %.200s; see docs/api.md",
                      req->path);
        return;
    }
    if (alapi_method(req, "GET")) {
        r = col_alerts_rule_json(al, name);
        if (r == NULL)
            col_api_error(resp, 404, "not_found",
                          "no rule '%.64s'; GET /api/v1/alerts/rules lists them", name);
        else
            alapi_ok(resp, 200, r);
    } else if (alapi_method(req, "PUT")) {
        if ((body = alapi_body(req, resp)) == NULL)
            return;
        rv = col_alerts_rule_put(al, name, body, 0, &created, err, sizeof err);
        json_decref(body);
        if (rv != 0)
            alapi_rule_err(resp, rv, err);
        else
            alapi_ok(resp, created ? 201 : 200, col_alerts_rule_json(al, name));
    } else if (alapi_method(req, "DELETE")) {
        rv = col_alerts_rule_delete(al, name, err, sizeof err);
        if (rv != 0)
            alapi_rule_err(resp, rv, err);
        else
            alapi_ok(resp, 200, json_pack("{s:s}", "deleted", name));
    } else
        alapi_405(req, resp, "GET, PUT, DELETE");
}

void col_alerts_api(const col_api *api, const col_api_req *req, col_api_resp *resp)
{
    static const char base[] = "/api/v1/alerts";
    const char *p = req->path + sizeof base - 1;
    col_alerts *al = api->alerts;

    if (al == NULL) {
        col_api_error(resp, 503, "alerts_off", "alerting is not running in this collector");
        return;
    }
    if (*p == '\0' || strcmp(p, "/") == 0) {
        if (!alapi_method(req, "GET"))
            alapi_405(req, resp, "GET");
        else
            alapi_ok(resp, 200, col_alerts_list_json(al, req->now_ns));
    } else if (strcmp(p, "/history") == 0) {
        if (!alapi_method(req, "GET"))
            alapi_405(req, resp, "GET");
        else
            alapi_history(al, req, resp);
    } else if (strcmp(p, "/check") == 0) {
        if (!alapi_method(req, "GET"))
            alapi_405(req, resp, "GET");
        else
            alapi_check(al, req, resp);
    } else if (strcmp(p, "/rules") == 0) {
        alapi_rules(al, req, resp, NULL);
    } else if (strncmp(p, "/rules/", 7) == 0) {
        alapi_rules(al, req, resp, p + 7);
    } else {
        col_api_error(resp, 404, "not_found", "no API endpoint %.200s; see docs/api.md",
                      req->path);
    }
}
