/*
 * slcli_alerts.c - `alerts` (the state of every alert rule, or the history
 * of transitions and deliveries) and `check` (evaluate a rule or an
 * expression once, for scripts and CI: exit 0 ok, 1 would fire, 2 error).
 *
 * The collector parses expressions (GET /api/v1/alerts/check), so the CLI,
 * the API and the rules file accept exactly the same language.
 */
#include <stdlib.h>
#include <string.h>

#include "slcli.h"
#include "slcli_fmt.h"
#include "slcli_http.h"

static void alerts_help(FILE *f)
{
    fprintf(f, "Usage: sightline alerts [--history] [--rule NAME] [--limit N] [flags]\n\n"
               "The alert rules of the collector with their state (ok, pending, firing,\n"
               "resolved, disabled), current value and description; firing first.  With\n"
               "--history, what happened, newest first: state changes and notification\n"
               "deliveries (delivered, delivery_retry, delivery_failed).\n\n"
               "  --history         the history instead of the states\n"
               "  --rule NAME       only this rule\n"
               "  --limit N         history entries (1..1000, default 50)\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no rules (or no history), 2 usage or connection error.\n"
               "Rules live in the collector's rules file (docs/alerts.md).\n"
               "Examples:\n"
               "  sightline alerts\n"
               "  sightline alerts --history --rule checkout-p99\n");
}

static void check_help(FILE *f)
{
    fprintf(f, "Usage: sightline check RULE-or-EXPRESSION [flags]\n\n"
               "Evaluates once, now, and changes nothing: the condition of a rule of the\n"
               "collector (by name), or an expression (docs/alerts.md, \"Expressions\"):\n\n"
               "  METRIC(SERVICE[, op=\"OPERATION\"]) CMP THRESHOLD [over WINDOW]\n"
               "  METRIC(CALLER->CALLEE) CMP THRESHOLD [over WINDOW]\n"
               "  logs(SERVICE, level=LEVEL[, match=\"TEXT\"]) CMP COUNT [over WINDOW]\n\n"
               "  METRIC     p50, p90, p99, p99.9 ... (latency), error_rate, rate\n"
               "  CMP        >  >=  <  <=\n"
               "  THRESHOLD  300ms, 1.5s (latency); 2%% (error_rate); 5/s, 100/m (rate)\n"
               "  WINDOW     default 5m; the aggregates are per minute\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 the condition holds not (ok), 1 it holds (the rule would fire),\n"
               "2 usage, parse or connection error.  A rule's `for` duration is not waited for.\n"
               "Examples:\n"
               "  sightline check 'p99(checkout) > 300ms over 5m'\n"
               "  sightline check 'error_rate(payment) > 2%%' || echo 'payment is failing'\n"
               "  sightline check checkout-p99\n");
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static void fmt_num(const json_t *v, const char *unit, char *buf, size_t len)
{
    double x;

    if (!json_is_number(v)) {
        snprintf(buf, len, "-");
        return;
    }
    x = json_number_value(v);
    if (x >= 10000 || x == (double)(long long)x)
        snprintf(buf, len, "%.0f%s", x, unit);
    else
        snprintf(buf, len, "%.4g%s", x, unit);
}

static int state_rank(const char *s)
{
    static const char *const order[] = {"firing", "pending", "resolved", "ok", "disabled"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, order[i]) == 0)
            return i;
    return 5;
}

static int by_state(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int d = state_rank(jstr(x, "state")) - state_rank(jstr(y, "state"));
    return d != 0 ? d : strcmp(jstr(x, "rule"), jstr(y, "rule"));
}

static const char *state_color(const char *s, int color)
{
    if (!color)
        return "";
    if (strcmp(s, "firing") == 0)
        return "\033[31m";
    if (strcmp(s, "pending") == 0)
        return "\033[33m";
    if (strcmp(s, "resolved") == 0)
        return "\033[32m";
    return "";
}

static void render_states(slcli_ctx *c, const json_t *alerts)
{
    size_t n = json_array_size(alerts), w = 4;
    const json_t **v = calloc(n + 1, sizeof *v);
    FILE *o = c->out;

    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        v[i] = json_array_get(alerts, i);
        if (strlen(jstr(v[i], "rule")) > w)
            w = strlen(jstr(v[i], "rule"));
    }
    if (w > 40)
        w = 40;
    qsort(v, n, sizeof *v, by_state);
    fprintf(o, "%-9s %-9s %-*s %10s %10s %-19s %s\n", "STATE", "SEVERITY", (int)w, "RULE",
            "VALUE", "THRESHOLD", "SINCE", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        const char *st = jstr(v[i], "state"), *unit = jstr(v[i], "unit");
        char val[32], thr[32], since[40] = "-";
        uint64_t t = 0;
        fmt_num(json_object_get(v[i], "value"), unit, val, sizeof val);
        fmt_num(json_object_get(v[i], "threshold"), unit, thr, sizeof thr);
        if (strcmp(st, "firing") == 0)
            slcli_json_u64(v[i], "active_since_ns", &t);
        else if (strcmp(st, "pending") == 0)
            slcli_json_u64(v[i], "pending_since_ns", &t);
        else if (strcmp(st, "resolved") == 0)
            slcli_json_u64(v[i], "resolved_at_ns", &t);
        if (t != 0)
            slcli_fmt_time(t, 1, since, sizeof since);
        fprintf(o, "%s%-9s%s %-9.9s %-*.*s %10s %10s %-19.19s ", state_color(st, c->color), st,
                c->color && *state_color(st, 1) ? "\033[0m" : "", jstr(v[i], "severity"), (int)w,
                (int)w, jstr(v[i], "rule"), val, thr, since);
        slcli_put_clean(o, jstr(v[i], "description"), 200);
        if (*jstr(v[i], "last_error"))
            fprintf(o, " [error: %s]", jstr(v[i], "last_error"));
        fputc('\n', o);
    }
    free(v);
}

static void render_history(slcli_ctx *c, const json_t *hist)
{
    size_t i;
    json_t *e;

    fprintf(c->out, "%-23s %-18s %-24s %s\n", "TIME", "EVENT", "RULE", "DETAIL");
    json_array_foreach(hist, i, e)
    {
        char t[40] = "", val[32];
        uint64_t ns = 0;
        slcli_json_u64(e, "time_ns", &ns);
        slcli_fmt_time(ns, 1, t, sizeof t);
        fprintf(c->out, "%-23s %-18s %-24.24s ", t, jstr(e, "event"), jstr(e, "rule"));
        if (json_object_get(e, "notifier") != NULL)
            fprintf(c->out, "notifier=%s attempts=%lld ", jstr(e, "notifier"),
                    (long long)json_integer_value(json_object_get(e, "attempts")));
        if (json_object_get(e, "value") != NULL) {
            fmt_num(json_object_get(e, "value"), "", val, sizeof val);
            fprintf(c->out, "value=%s ", val);
        }
        if (*jstr(e, "message"))
            slcli_put_clean(c->out, jstr(e, "message"), 200);
        fputc('\n', c->out);
    }
}

static int alerts_run(slcli_ctx *c, int argc, char **argv)
{
    const char *rule = NULL, *limit = NULL;
    int history = 0, rc;

    for (int i = 0; i < argc; i++) {
        if (slcli_is_help(argv[i])) {
            alerts_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--history") == 0) {
            history = 1;
            continue;
        }
        if ((rc = slcli_global_flag(c, argc, argv, &i)) < 0 ||
            (rc == 0 && (rc = slcli_flag_value(c, argc, argv, &i, "--rule", &rule)) < 0) ||
            (rc == 0 && (rc = slcli_flag_value(c, argc, argv, &i, "--limit", &limit)) < 0))
            return SLCLI_EXIT_USAGE;
        if (rc == 0)
            return slcli_usage_error(c, "alerts", "unexpected argument '%s'", argv[i]);
        i--; /* the helpers moved i past the flag; the loop adds one */
    }
    if (limit != NULL && !history)
        return slcli_usage_error(c, "alerts", "--limit goes with --history");
    if ((rc = slcli_check_uint(c, "alerts", "--limit", limit, 1, 1000)) != SLCLI_EXIT_OK)
        return rc;
    slcli_url u;
    slcli_resp r;
    slcli_url_init(&u, c, history ? "/api/v1/alerts/history" : "/api/v1/alerts");
    if (history) {
        slcli_url_param(&u, "rule", rule);
        slcli_url_param(&u, "limit", limit ? limit : "50");
    }
    if ((rc = slcli_http_fetch(c, &u, &r, 0)) != SLCLI_EXIT_OK)
        return rc;
    json_t *list = json_object_get(r.json, history ? "history" : "alerts");
    if (!json_is_array(list)) {
        fprintf(c->err, "sightline alerts: the collector's answer has no \"%s\" array; is it a "
                        "Sightline collector with alerting?\n",
                history ? "history" : "alerts");
        slcli_resp_free(&r);
        return SLCLI_EXIT_USAGE;
    }
    if (!history && rule != NULL) {
        /* one rule: filter locally, the list is small (at most 1000 rules) */
        for (size_t i = json_array_size(list); i > 0; i--)
            if (strcmp(jstr(json_array_get(list, i - 1), "rule"), rule) != 0)
                json_array_remove(list, i - 1);
    }
    if (c->json) {
        if (!history && rule != NULL) {
            char *s = json_dumps(r.json, JSON_COMPACT);
            if (s != NULL)
                fprintf(c->out, "%s\n", s);
            free(s);
        } else
            slcli_print_raw(c, &r);
    } else if (history)
        render_history(c, list);
    else {
        render_states(c, list);
        if (*jstr(r.json, "rules_error"))
            fprintf(c->err, "sightline alerts: the rules file could not be reloaded (the "
                            "previous rules are in force): %s\n",
                    jstr(r.json, "rules_error"));
    }
    rc = json_array_size(list) > 0 ? SLCLI_EXIT_OK : SLCLI_EXIT_EMPTY;
    if (rc == SLCLI_EXIT_EMPTY && !c->json)
        fprintf(c->err, history ? "sightline alerts: no history yet\n"
                                : "sightline alerts: no rules; add some to the rules file "
                                  "(docs/alerts.md)\n");
    slcli_resp_free(&r);
    return rc;
}

static int check_run(slcli_ctx *c, int argc, char **argv)
{
    const char *what = NULL;
    int rc;

    for (int i = 0; i < argc; i++) {
        if (slcli_is_help(argv[i])) {
            check_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            if ((rc = slcli_global_flag(c, argc, argv, &i)) < 0)
                return SLCLI_EXIT_USAGE;
            if (rc == 0)
                return slcli_usage_error(c, "check", "unknown flag '%s'", argv[i]);
            i--;
            continue;
        }
        if (what != NULL)
            return slcli_usage_error(c, "check",
                                     "one rule or expression; quote the expression: "
                                     "sightline check 'p99(checkout) > 300ms'");
        what = argv[i];
    }
    if (what == NULL)
        return slcli_usage_error(c, "check", "give a rule name or an expression");
    slcli_url u;
    slcli_resp r;
    slcli_url_init(&u, c, "/api/v1/alerts/check");
    slcli_url_param(&u, strpbrk(what, "( ") != NULL ? "expr" : "rule", what);
    if ((rc = slcli_http_fetch(c, &u, &r, 0)) != SLCLI_EXIT_OK)
        return SLCLI_EXIT_USAGE; /* 404 (no such rule) is an error here, not "empty" */
    json_t *wf = json_object_get(r.json, "would_fire");
    if (!json_is_boolean(wf)) {
        fprintf(c->err, "sightline check: the collector's answer has no \"would_fire\"\n");
        slcli_resp_free(&r);
        return SLCLI_EXIT_USAGE;
    }
    if (c->json)
        slcli_print_raw(c, &r);
    else {
        char val[32];
        fmt_num(json_object_get(r.json, "value"), jstr(r.json, "unit"), val, sizeof val);
        fprintf(c->out, "%s %s: value %s", json_is_true(wf) ? "FIRING" : "OK",
                jstr(r.json, "expr"), val);
        if (json_is_string(json_object_get(r.json, "rule"))) {
            fprintf(c->out, " (rule %s, %s): ", jstr(r.json, "rule"), jstr(r.json, "state"));
            slcli_put_clean(c->out, jstr(r.json, "description"), 300);
        }
        fputc('\n', c->out);
    }
    rc = json_is_true(wf) ? SLCLI_EXIT_EMPTY : SLCLI_EXIT_OK;
    slcli_resp_free(&r);
    return rc;
}

const slcli_cmd slcli_cmd_alerts = {"alerts", "[--history] [--rule NAME]",
                                    "alert rules with their state, or their history", alerts_run,
                                    alerts_help};

const slcli_cmd slcli_cmd_check = {"check", "RULE-or-EXPRESSION",
                                   "evaluate a rule or an expression once (exit 1 = would fire)",
                                   check_run, check_help};
