/*
 * slcli_trace.c - the trace commands: `trace ID` (one request tree) and
 * `traces` (search recent traces).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/slc_util.h"
#include "slcli.h"
#include "slcli_fmt.h"
#include "slcli_http.h"

/* --json prints exactly what the API sent, so scripts see the documented
 * shape and nothing of ours. */
static void print_raw(const slcli_ctx *c, const slcli_resp *r)
{
    fwrite(r->body, 1, r->len, c->out);
    if (r->len == 0 || r->body[r->len - 1] != '\n')
        fputc('\n', c->out);
}

static slcli_style style_of(const slcli_ctx *c)
{
    slcli_style st = {.color = c->color, .width = c->width};
    return st;
}

/* ---- trace ID ------------------------------------------------------------- */

static void trace_help(FILE *f)
{
    fprintf(f, "Usage: sightline trace [flags] TRACE_ID\n\n"
               "Prints one request as a tree: indentation by depth, service, span name, duration,\n"
               "status, a waterfall bar scaled to the trace, then the trace's logs in time order.\n"
               "Marks: '*' and '#' critical path (the spans that decided the total duration),\n"
               "[missing parent] a span whose parent never arrived (shown under the root),\n"
               "[skew +1.20ms] a span shifted into its parent's window for clock skew.\n\n"
               "TRACE_ID is the 32-hex-digit W3C trace id (as printed by `sightline traces`).\n"
               "--since/--until are accepted but not needed: a trace is found by id at any age.\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no such trace, 2 usage or connection error.\n"
               "Example: sightline trace 4bf92f3577b34da6a3ce929d0e0e4736\n");
}

static int is_trace_id(const char *s)
{
    uint8_t id[16];
    return slc_trace_id_parse(s, id) == 0;
}

static int trace_run(slcli_ctx *c, int argc, char **argv)
{
    const char *id = NULL;
    slcli_range rg = {0};
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            trace_help(c->out);
            return SLCLI_EXIT_OK;
        }
        /* --since/--until are accepted for symmetry: a trace is found by id at any age */
        if ((rc = slcli_common_flag(c, argc, argv, &i, &rg)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return slcli_usage_error(c, "trace", "unknown flag '%s'", argv[i]);
        if (id != NULL)
            return slcli_usage_error(c, "trace", "one trace id at a time (got '%s' and '%s')", id, argv[i]);
        id = argv[i++];
    }
    if (id == NULL)
        return slcli_usage_error(c, "trace", "missing TRACE_ID");
    if (!is_trace_id(id))
        return slcli_usage_error(c, "trace", "'%s' is not a trace id: expected 32 hex digits, not all zero", id);
    if ((rc = slcli_check_range(c, "trace", &rg)) != SLCLI_EXIT_OK)
        return rc;

    slcli_url u;
    slcli_url_init(&u, c, "/api/v1/traces");
    slcli_url_segment(&u, id);
    slcli_resp r;
    if ((rc = slcli_http_get(c, &u, &r)) != SLCLI_EXIT_OK)
        return rc;
    rc = slcli_http_check(c, &u, &r, 1);
    if (rc == SLCLI_EXIT_OK) {
        if (c->json) {
            print_raw(c, &r);
        } else {
            slcli_style st = style_of(c);
            if (slcli_render_trace(c->out, r.json, &st) != 0) {
                fprintf(c->err, "sightline: %s answered without the documented trace fields (summary, spans); "
                                "are the CLI and the collector the same version?\n", u.buf);
                rc = SLCLI_EXIT_USAGE;
            }
        }
    }
    slcli_resp_free(&r);
    return rc;
}

const slcli_cmd slcli_cmd_trace = {"trace", "TRACE_ID", "print one trace as a request tree with its logs",
                                   trace_run, trace_help};

/* ---- traces ----------------------------------------------------------------- */

static void traces_help(FILE *f)
{
    fprintf(f, "Usage: sightline traces [filters] [--since T] [--until T] [flags]\n\n"
               "Searches traces: a trace matches when one of its spans matches every filter.\n"
               "Prints start time (UTC), trace id, the matching span's service and name, its\n"
               "duration, error, and the whole trace's span count and services.\n\n"
               "  --service S         span in service S\n"
               "  --operation O       span named O\n"
               "  --attr KEY=VALUE    span attribute (repeatable, all must match; numbers and\n"
               "                      booleans compare by value: --attr http.response.status_code=500)\n"
               "  --min-duration D    span at least D long (250ms, 1.5s, 2m)\n"
               "  --max-duration D    span at most D long\n"
               "  --errors            span with status ERROR\n"
               "  --order newest|slowest   newest first (default) or longest first\n"
               "  --limit N           at most N traces (1..1000; default 20)\n"
               "  --since T           start of the range: RFC 3339 (2026-01-02T15:04:05Z),\n"
               "                      Unix nanoseconds, or an age (15m, 2h, 7d); default 1h\n"
               "  --until T           end of the range, same forms (default: now)\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no trace matched, 2 usage or connection error.\n"
               "Examples:\n"
               "  sightline traces --service checkout --errors --since 15m\n"
               "  sightline traces --service payment --min-duration 100ms --order slowest --limit 5\n"
               "  sightline traces --attr http.route=/cart --attr cloud.region=eu-west-1\n"
               "  sightline --json traces --since 1h | jq -r '.traces[].trace_id'\n");
}

/* Several --attr flags travel as one tags={...} JSON argument: the API
 * takes attr=k=v once and tags for any number (docs/api.md). */
static int traces_tags(slcli_ctx *c, const char **attrs, int nattrs, char **out)
{
    json_t *o = json_object();
    *out = NULL;
    if (o == NULL)
        return SLCLI_EXIT_USAGE;
    for (int k = 0; k < nattrs; k++) {
        const char *eq = strchr(attrs[k], '=');
        if (eq == NULL || eq == attrs[k]) {
            json_decref(o);
            return slcli_usage_error(c, "traces", "--attr '%s' is not KEY=VALUE", attrs[k]);
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - attrs[k]), attrs[k]);
        json_object_set_new(o, key, json_string(eq + 1));
    }
    *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return *out ? SLCLI_EXIT_OK : SLCLI_EXIT_USAGE;
}

#define TRACES_MAX_ATTRS 16

static int traces_run(slcli_ctx *c, int argc, char **argv)
{
    const char *service = NULL, *op = NULL, *limit = NULL, *mind = NULL, *maxd = NULL, *order = NULL, *v;
    const char *attrs[TRACES_MAX_ATTRS];
    int nattrs = 0, errors = 0;
    slcli_range rg = {0};
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            traces_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--errors") == 0 || strcmp(argv[i], "--error") == 0) {
            errors = 1;
            i++;
            continue;
        }
        if ((rc = slcli_flag_value(c, argc, argv, &i, "--attr", &v)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            if (nattrs == TRACES_MAX_ATTRS)
                return slcli_usage_error(c, "traces", "at most %d --attr filters", TRACES_MAX_ATTRS);
            attrs[nattrs++] = v;
            continue;
        }
        if ((rc = slcli_common_flag(c, argc, argv, &i, &rg)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--service", &service)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--operation", &op)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--min-duration", &mind)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--max-duration", &maxd)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--order", &order)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--limit", &limit)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        v = argv[i];
        if (v[0] == '-')
            return slcli_usage_error(c, "traces", "unknown flag '%s'", v);
        return slcli_usage_error(c, "traces", "unexpected argument '%s'", v);
    }
    if ((rc = slcli_check_uint(c, "traces", "--limit", limit, 1, 1000)) != SLCLI_EXIT_OK ||
        (rc = slcli_check_duration(c, "traces", "--min-duration", mind)) != SLCLI_EXIT_OK ||
        (rc = slcli_check_duration(c, "traces", "--max-duration", maxd)) != SLCLI_EXIT_OK ||
        (rc = slcli_check_range(c, "traces", &rg)) != SLCLI_EXIT_OK)
        return rc;
    if (order != NULL && strcmp(order, "newest") != 0 && strcmp(order, "slowest") != 0)
        return slcli_usage_error(c, "traces", "--order must be newest or slowest, not '%s'", order);

    char *tags = NULL;
    if (nattrs > 1 && (rc = traces_tags(c, attrs, nattrs, &tags)) != SLCLI_EXIT_OK)
        return rc;
    if (nattrs == 1 && (strchr(attrs[0], '=') == NULL || attrs[0][0] == '='))
        return slcli_usage_error(c, "traces", "--attr '%s' is not KEY=VALUE", attrs[0]);
    slcli_url u;
    slcli_url_init(&u, c, "/api/v1/traces");
    slcli_url_param(&u, "service", service);
    slcli_url_param(&u, "operation", op);
    slcli_url_param(&u, "attr", nattrs == 1 ? attrs[0] : NULL);
    slcli_url_param(&u, "tags", tags);
    slcli_url_param(&u, "min_duration", mind);
    slcli_url_param(&u, "max_duration", maxd);
    slcli_url_param(&u, "error", errors ? "true" : NULL);
    slcli_url_param(&u, "order", order);
    slcli_url_param(&u, "limit", limit);
    slcli_url_param(&u, "since", rg.since);
    slcli_url_param(&u, "until", rg.until);
    free(tags);
    slcli_resp r;
    if ((rc = slcli_http_fetch(c, &u, &r, 0)) != SLCLI_EXIT_OK)
        return rc;
    size_t n = json_array_size(json_object_get(r.json, "traces"));
    if (c->json) {
        print_raw(c, &r);
    } else {
        slcli_style st = style_of(c);
        if (!json_is_array(json_object_get(r.json, "traces"))) {
            fprintf(c->err, "sightline: %s answered without a \"traces\" array; are the CLI and the collector "
                            "the same version?\n", u.buf);
            rc = SLCLI_EXIT_USAGE;
        } else if (n > 0) {
            slcli_render_traces(c->out, r.json, &st);
        }
        if (json_is_true(json_object_get(r.json, "partial")))
            fprintf(c->err, "sightline: the search stopped at its block budget; results are the best of what was "
                            "read: narrow --since/--until or add filters\n");
    }
    if (rc == SLCLI_EXIT_OK && n == 0) {
        if (!c->json)
            fprintf(c->err, "sightline: no traces matched; widen --since, relax the filters, or check the "
                            "service name (`sightline services`)\n");
        rc = SLCLI_EXIT_EMPTY;
    }
    slcli_resp_free(&r);
    return rc;
}

const slcli_cmd slcli_cmd_traces = {"traces", "[--service S] [--operation O] [--attr K=V] [--errors] ...",
                                    "search traces by service, operation, attributes, duration, errors",
                                    traces_run, traces_help};
