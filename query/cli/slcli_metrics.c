/*
 * slcli_metrics.c - the aggregate commands: `latency` (RED over time),
 * `errors` (failing operations and recent failing traces), `top` (slowest
 * or most failing operations) and `deps` (the service map).  All read the
 * collector's per-minute aggregates through the API, never spans, except
 * the list of failing traces of `errors`.
 */
#include <string.h>

#include "slcli.h"
#include "slcli_fmt.h"
#include "slcli_http.h"

/* Parses the flags of one command: global, --since/--until, and the named
 * value flags (vals[k] receives --names[k]).  Returns -1 after printing
 * help (exit 0 wanted), else an exit status. */
static int parse_flags(slcli_ctx *c, const char *cmd, int argc, char **argv, slcli_range *rg, const char *const *names,
                       const char **vals, size_t n, void (*help)(FILE *))
{
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            help(c->out);
            return -1;
        }
        if ((rc = slcli_common_flag(c, argc, argv, &i, rg)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        size_t k;
        for (k = 0; k < n; k++)
            if ((rc = slcli_flag_value(c, argc, argv, &i, names[k], &vals[k])) != 0)
                break;
        if (k < n) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-')
            return slcli_usage_error(c, cmd, "unknown flag '%s'", argv[i]);
        return slcli_usage_error(c, cmd, "unexpected argument '%s'", argv[i]);
    }
    return slcli_check_range(c, cmd, rg);
}

static void range_help(FILE *f, const char *dflt)
{
    fprintf(f, "  --since T         start of the range: RFC 3339 (2026-01-02T15:04:05Z), Unix ns,\n"
               "                    or an age (15m, 2h, 7d); default %s\n"
               "  --until T         end of the range, same forms (default: now)\n",
            dflt);
}

static int no_array(const slcli_ctx *c, const slcli_url *u, const char *what)
{
    fprintf(c->err, "sightline: %s answered without %s; are the CLI and the collector the same version?\n", u->buf,
            what);
    return SLCLI_EXIT_USAGE;
}

/* Fetches u and prints the answer: as is with --json, else through render.
 * The answer must hold the array field (what names it for the error); when
 * the array is empty, empty_msg goes to stderr (not with --json) and the
 * exit status is SLCLI_EXIT_EMPTY. */
static int fetch_render(slcli_ctx *c, slcli_url *u, const char *field, const char *what,
                        int (*render)(FILE *, const json_t *, const slcli_style *),
                        const char *empty_msg)
{
    slcli_resp r;
    int rc;
    if ((rc = slcli_http_fetch(c, u, &r, 0)) != SLCLI_EXIT_OK)
        return rc;
    const json_t *arr = json_object_get(r.json, field);
    if (!json_is_array(arr)) {
        rc = no_array(c, u, what);
    } else {
        if (c->json) {
            slcli_print_raw(c, &r);
        } else {
            slcli_style st;
            slcli_style_init(c, &st);
            render(c->out, r.json, &st);
        }
        if (json_array_size(arr) == 0) {
            if (!c->json)
                fputs(empty_msg, c->err);
            rc = SLCLI_EXIT_EMPTY;
        }
    }
    slcli_resp_free(&r);
    return rc;
}

/* ---- latency ---------------------------------------------------------------------- */

static void latency_help(FILE *f)
{
    fprintf(f, "Usage: sightline latency [--service S] [--operation O] [--by service|operation]\n"
               "                         [--step D] [--kind K] [--since T] [--until T] [flags]\n\n"
               "Request rate, error rate and latency percentiles (p50, p90, p95, p99) over time,\n"
               "one table per service (or per operation), one line per time bucket, from the\n"
               "collector's per-minute aggregates (percentiles within 1%%).\n\n"
               "  --service S       one service\n"
               "  --operation O     one operation (implies --by operation)\n"
               "  --by B            service (default) or operation: one series per what\n"
               "  --step D          bucket size, whole minutes (1m, 5m, 1h); default: a round step\n"
               "                    giving at most 120 buckets; 0 = one bucket for the whole range\n"
               "  --kind K          entry (default: server and consumer spans, the requests a\n"
               "                    service handled), all, server, client, internal, producer, consumer\n");
    range_help(f, "1h");
    fputc('\n', f);
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no requests in the range, 2 usage or connection error.\n"
               "Examples:\n"
               "  sightline latency --service checkout --since 6h --step 10m\n"
               "  sightline latency --service payment --by operation --since 15m --step 1m\n");
}

static int latency_run(slcli_ctx *c, int argc, char **argv)
{
    static const char *const names[] = {"--service", "--operation", "--by", "--step", "--kind"};
    const char *v[5] = {0};
    slcli_range rg = {0};
    int rc = parse_flags(c, "latency", argc, argv, &rg, names, v, 5, latency_help);
    if (rc < 0)
        return SLCLI_EXIT_OK;
    if (rc != SLCLI_EXIT_OK)
        return rc;
    if (v[2] && strcmp(v[2], "service") != 0 && strcmp(v[2], "operation") != 0)
        return slcli_usage_error(c, "latency", "--by must be service or operation, not '%s'", v[2]);
    if (v[1] && !v[2])
        v[2] = "operation";
    if (v[3] && strcmp(v[3], "0") != 0 && strcmp(v[3], "auto") != 0 &&
        (rc = slcli_check_duration(c, "latency", "--step", v[3])) != SLCLI_EXIT_OK)
        return rc;
    slcli_url u;
    slcli_url_init(&u, c, "/api/v1/red");
    slcli_url_param(&u, "service", v[0]);
    slcli_url_param(&u, "operation", v[1]);
    slcli_url_param(&u, "by", v[2]);
    slcli_url_param(&u, "step", v[3]);
    slcli_url_param(&u, "kind", v[4]);
    slcli_url_param(&u, "since", rg.since);
    slcli_url_param(&u, "until", rg.until);
    char empty[1024];
    snprintf(empty, sizeof empty,
             "sightline: no requests in the range%s%s; widen --since, try --kind all, or "
             "check the name (`sightline services`)\n",
             v[0] ? " for service " : "", v[0] ? v[0] : "");
    return fetch_render(c, &u, "series", "a \"series\" array", slcli_render_latency, empty);
}

const slcli_cmd slcli_cmd_latency = {"latency", "[--service S] [--operation O] [--step D]",
                                     "request rate, error rate, p50/p90/p95/p99 over time", latency_run,
                                     latency_help};

/* ---- top ------------------------------------------------------------------------------- */

static void top_help(FILE *f)
{
    fprintf(f, "Usage: sightline top [--by latency|errors] [--service S] [--limit N] [--min-count N]\n"
               "                     [--kind K] [--since T] [--until T] [flags]\n\n"
               "The slowest operations (by p99) or the most failing (by error count), over the\n"
               "range, from the per-minute aggregates.\n\n"
               "  --by B            latency (default) or errors\n"
               "  --service S       only operations of service S\n"
               "  --limit N         at most N rows (1..1000; default 10)\n"
               "  --min-count N     skip operations with fewer requests (default 1)\n"
               "  --kind K          entry (default), all, server, client, internal, producer, consumer\n");
    range_help(f, "1h");
    fputc('\n', f);
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 nothing in the range, 2 usage or connection error.\n"
               "Examples:\n"
               "  sightline top --since 24h\n"
               "  sightline top --by errors --limit 5 --since 1h\n");
}

/* GET /api/v1/top; on success *r holds an answer with an "operations" array. */
static int top_fetch(slcli_ctx *c, const char *by, const char *const *v, const slcli_range *rg, slcli_resp *r,
                     slcli_url *u)
{
    slcli_url_init(u, c, "/api/v1/top");
    slcli_url_param(u, "by", by);
    slcli_url_param(u, "service", v[0]);
    slcli_url_param(u, "limit", v[1]);
    slcli_url_param(u, "min_count", v[2]);
    slcli_url_param(u, "kind", v[3]);
    slcli_url_param(u, "since", rg->since);
    slcli_url_param(u, "until", rg->until);
    int rc = slcli_http_fetch(c, u, r, 0);
    if (rc == SLCLI_EXIT_OK && !json_is_array(json_object_get(r->json, "operations"))) {
        slcli_resp_free(r);
        return no_array(c, u, "an \"operations\" array");
    }
    return rc;
}

static int top_run(slcli_ctx *c, int argc, char **argv)
{
    static const char *const names[] = {"--service", "--limit", "--min-count", "--kind", "--by"};
    const char *v[5] = {0};
    slcli_range rg = {0};
    int rc = parse_flags(c, "top", argc, argv, &rg, names, v, 5, top_help);
    if (rc < 0)
        return SLCLI_EXIT_OK;
    if (rc != SLCLI_EXIT_OK)
        return rc;
    if (v[4] && strcmp(v[4], "latency") != 0 && strcmp(v[4], "errors") != 0)
        return slcli_usage_error(c, "top", "--by must be latency or errors, not '%s'", v[4]);
    if ((rc = slcli_check_uint(c, "top", "--limit", v[1], 1, 1000)) != SLCLI_EXIT_OK ||
        (rc = slcli_check_uint(c, "top", "--min-count", v[2], 1, 1000000000)) != SLCLI_EXIT_OK)
        return rc;
    slcli_resp r;
    slcli_url u;
    if ((rc = top_fetch(c, v[4] ? v[4] : "latency", v, &rg, &r, &u)) != SLCLI_EXIT_OK)
        return rc;
    size_t n = json_array_size(json_object_get(r.json, "operations"));
    if (c->json) {
        slcli_print_raw(c, &r);
    } else {
        slcli_style st;
        slcli_style_init(c, &st);
        slcli_render_ops(c->out, r.json, &st);
        if (n == 0)
            fprintf(c->err, "sightline: no %s in the range; widen --since or try --kind all\n",
                    v[4] && strcmp(v[4], "errors") == 0 ? "failing operations" : "requests");
    }
    slcli_resp_free(&r);
    return n ? SLCLI_EXIT_OK : SLCLI_EXIT_EMPTY;
}

const slcli_cmd slcli_cmd_top = {"top", "[--by latency|errors] [--limit N]",
                                 "slowest or most failing operations", top_run, top_help};

/* ---- errors ----------------------------------------------------------------------------- */

static void errors_help(FILE *f)
{
    fprintf(f, "Usage: sightline errors [--service S] [--limit N] [--kind K] [--since T] [--until T] [flags]\n\n"
               "Where requests fail: the operations with the most errors (count, error rate,\n"
               "latency), then the most recent failing traces (search for spans with status ERROR).\n\n"
               "  --service S       only service S\n"
               "  --limit N         at most N rows in each table (1..1000; default 10)\n"
               "  --kind K          operations table: entry (default), all, server, client, ...\n");
    range_help(f, "1h");
    fputc('\n', f);
    slcli_help_globals(f);
    fprintf(f, "\n--json prints {\"operations\": <GET /api/v1/top?by=errors>, \"traces\": <GET /api/v1/traces?error=true>}.\n"
               "Exit status: 0 errors found and printed, 1 no errors in the range, 2 usage or\n"
               "connection error.\n"
               "Example: sightline errors --service payment --since 6h\n");
}

static int errors_run(slcli_ctx *c, int argc, char **argv)
{
    static const char *const names[] = {"--service", "--limit", "--kind"};
    const char *v[3] = {0};
    slcli_range rg = {0};
    int rc = parse_flags(c, "errors", argc, argv, &rg, names, v, 3, errors_help);
    if (rc < 0)
        return SLCLI_EXIT_OK;
    if (rc != SLCLI_EXIT_OK)
        return rc;
    if ((rc = slcli_check_uint(c, "errors", "--limit", v[1], 1, 1000)) != SLCLI_EXIT_OK)
        return rc;
    const char *tv[4] = {v[0], v[1], NULL, v[2]};
    slcli_resp top, tr;
    slcli_url u, ut;
    if ((rc = top_fetch(c, "errors", tv, &rg, &top, &u)) != SLCLI_EXIT_OK)
        return rc;
    slcli_url_init(&ut, c, "/api/v1/traces");
    slcli_url_param(&ut, "service", v[0]);
    slcli_url_param(&ut, "error", "true");
    slcli_url_param(&ut, "limit", v[1] ? v[1] : "10");
    slcli_url_param(&ut, "since", rg.since);
    slcli_url_param(&ut, "until", rg.until);
    if ((rc = slcli_http_fetch(c, &ut, &tr, 0)) != SLCLI_EXIT_OK) {
        slcli_resp_free(&top);
        return rc;
    }
    size_t nops = json_array_size(json_object_get(top.json, "operations"));
    size_t ntr = json_array_size(json_object_get(tr.json, "traces"));
    if (c->json) {
        json_t *both = json_pack("{s:O,s:O}", "operations", top.json, "traces", tr.json);
        json_dumpf(both, c->out, JSON_COMPACT);
        fputc('\n', c->out);
        json_decref(both);
    } else {
        slcli_style st;
        slcli_style_init(c, &st);
        if (nops) {
            fputs("Failing operations\n", c->out);
            slcli_render_ops(c->out, top.json, &st);
        }
        if (ntr) {
            fputs(nops ? "\nRecent failing traces\n" : "Recent failing traces\n", c->out);
            slcli_render_traces(c->out, tr.json, &st);
        }
        if (!nops && !ntr)
            fprintf(c->err, "sightline: no errors in the range; widen --since to look further back\n");
    }
    slcli_resp_free(&top);
    slcli_resp_free(&tr);
    return nops || ntr ? SLCLI_EXIT_OK : SLCLI_EXIT_EMPTY;
}

const slcli_cmd slcli_cmd_errors = {"errors", "[--service S] [--limit N]",
                                    "failing operations and recent failing traces", errors_run, errors_help};

/* ---- deps --------------------------------------------------------------------------------- */

static void deps_help(FILE *f)
{
    fprintf(f, "Usage: sightline deps [--since T] [--until T] [flags]\n\n"
               "The service dependency graph: one line per caller -> callee edge with its calls,\n"
               "rate, error rate and the callee's latency, from the per-minute aggregates.  An\n"
               "edge is a span whose parent span is in another service.\n\n");
    range_help(f, "1h");
    fputc('\n', f);
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no calls between services in the range, 2 usage or\n"
               "connection error.\n"
               "Example: sightline deps --since 24h\n");
}

static int deps_run(slcli_ctx *c, int argc, char **argv)
{
    slcli_range rg = {0};
    int rc = parse_flags(c, "deps", argc, argv, &rg, NULL, NULL, 0, deps_help);
    if (rc < 0)
        return SLCLI_EXIT_OK;
    if (rc != SLCLI_EXIT_OK)
        return rc;
    slcli_url u;
    slcli_url_init(&u, c, "/api/v1/deps");
    slcli_url_param(&u, "since", rg.since);
    slcli_url_param(&u, "until", rg.until);
    return fetch_render(c, &u, "edges", "an \"edges\" array", slcli_render_deps,
                        "sightline: no calls between services in the range; widen --since\n");
}

const slcli_cmd slcli_cmd_deps = {"deps", "[--since T] [--until T]",
                                  "service dependency graph: calls, errors, latency per edge", deps_run, deps_help};
