/*
 * slcli_trace.c - the trace commands: `trace ID` (one request tree) and
 * `traces` (search recent traces).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slc_util.h"
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
               "TRACE_ID is the 32-hex-digit W3C trace id (as printed by `sightline traces`).\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no such trace, 2 usage or connection error.\n"
               "Example: sightline trace 4bf92f3577b34da6a3ce929d0e0e4736\n");
}

static int is_trace_id(const char *s)
{
    uint8_t id[16];
    return strlen(s) == 32 && slc_hex_decode(s, 32, id, 16) == 0 && !slc_is_zero(id, 16);
}

static int trace_run(slcli_ctx *c, int argc, char **argv)
{
    const char *id = NULL;
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            trace_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if ((rc = slcli_global_flag(c, argc, argv, &i)) != 0) {
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
    fprintf(f, "Usage: sightline traces [--service S] [--limit N] [--since T] [--until T] [flags]\n\n"
               "Lists recent traces, newest first: start time (UTC), trace id, root service,\n"
               "root span name, duration, error.\n\n"
               "  --service S   only traces whose root span is in service S\n"
               "  --limit N     at most N traces (1..10000; default: the server's, 20)\n"
               "  --since T     start of the time range: RFC 3339 (2025-11-25T17:00:00Z),\n"
               "                Unix nanoseconds, or relative to now (15m, 2h, 7d)\n"
               "  --until T     end of the time range, same forms (default: now)\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no trace matched, 2 usage or connection error.\n"
               "Examples:\n"
               "  sightline traces --service checkout --since 15m --limit 5\n"
               "  sightline --json traces --since 1h | jq -r '.traces[].trace_id'\n");
}

static int traces_run(slcli_ctx *c, int argc, char **argv)
{
    const char *service = NULL, *limit = NULL, *since = NULL, *until = NULL, *v;
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            traces_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if ((rc = slcli_global_flag(c, argc, argv, &i)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--service", &service)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--limit", &limit)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--since", &since)) != 0 ||
            (rc = slcli_flag_value(c, argc, argv, &i, "--until", &until)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        v = argv[i];
        if (v[0] == '-')
            return slcli_usage_error(c, "traces", "unknown flag '%s'", v);
        return slcli_usage_error(c, "traces", "unexpected argument '%s'", v);
    }
    if (limit != NULL) {
        char *end;
        errno = 0;
        long n = strtol(limit, &end, 10);
        if (errno != 0 || end == limit || *end != '\0' || n < 1 || n > 10000)
            return slcli_usage_error(c, "traces", "--limit '%s' is not a number from 1 to 10000", limit);
    }
    /* checked here so a typo gets a usage error, not a server round trip;
     * sent as typed so relative times are resolved by the server's clock */
    uint64_t t;
    uint64_t now = slc_now_ns();
    if (since != NULL && slc_time_parse(since, now, &t) != 0)
        return slcli_usage_error(c, "traces", "--since '%s' is not a time: use RFC 3339, Unix ns, or 15m/2h/7d",
                                 since);
    if (until != NULL && slc_time_parse(until, now, &t) != 0)
        return slcli_usage_error(c, "traces", "--until '%s' is not a time: use RFC 3339, Unix ns, or 15m/2h/7d",
                                 until);

    slcli_url u;
    slcli_url_init(&u, c, "/api/v1/traces");
    slcli_url_param(&u, "service", service);
    slcli_url_param(&u, "limit", limit);
    slcli_url_param(&u, "since", since);
    slcli_url_param(&u, "until", until);
    slcli_resp r;
    if ((rc = slcli_http_get(c, &u, &r)) != SLCLI_EXIT_OK)
        return rc;
    rc = slcli_http_check(c, &u, &r, 0);
    if (rc == SLCLI_EXIT_OK) {
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
        }
        if (rc == SLCLI_EXIT_OK && n == 0) {
            if (!c->json)
                fprintf(c->err, "sightline: no traces matched%s%s; widen --since or check the service name "
                                "(`sightline services`)\n", service ? " in service " : "", service ? service : "");
            rc = SLCLI_EXIT_EMPTY;
        }
    }
    slcli_resp_free(&r);
    return rc;
}

const slcli_cmd slcli_cmd_traces = {"traces", "[--service S] [--limit N] [--since T] [--until T]",
                                    "search recent traces, newest first", traces_run, traces_help};
