/*
 * slcli_services.c - `services`: the services the collector has seen, with
 * their request rate, error rate and latency over the time range.
 */
#include "slcli.h"
#include "slcli_fmt.h"
#include "slcli_http.h"

static void services_help(FILE *f)
{
    fprintf(f, "Usage: sightline services [--since T] [--until T] [flags]\n\n"
               "Lists the services that have sent spans or logs, by name, with the requests they\n"
               "handled (server and consumer spans) over the time range: REQ/S, ERR%%, P50, P99;\n"
               "then all their spans, error spans and log records.  From the collector's\n"
               "per-minute aggregates, so it is fast over any range.\n\n"
               "  --since T   start of the range: RFC 3339, Unix ns, or an age (15m, 2h, 7d); default 1h\n"
               "  --until T   end of the range, same forms (default: now)\n\n");
    slcli_help_globals(f);
    fprintf(f, "\n--json prints GET /api/v1/services with one more member, \"red\": GET /api/v1/red?step=0.\n"
               "Exit status: 0 printed, 1 no services yet, 2 usage or connection error.\n"
               "Example: sightline services --since 24h\n");
}

static int services_run(slcli_ctx *c, int argc, char **argv)
{
    slcli_range rg = {0};
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            services_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if ((rc = slcli_common_flag(c, argc, argv, &i, &rg)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        return slcli_usage_error(c, "services", "unexpected argument '%s'", argv[i]);
    }
    if ((rc = slcli_check_range(c, "services", &rg)) != SLCLI_EXIT_OK)
        return rc;
    slcli_url u, ur;
    slcli_url_init(&u, c, "/api/v1/services");
    slcli_url_param(&u, "since", rg.since);
    slcli_url_param(&u, "until", rg.until);
    slcli_url_init(&ur, c, "/api/v1/red");
    slcli_url_param(&ur, "step", "0");
    slcli_url_param(&ur, "since", rg.since);
    slcli_url_param(&ur, "until", rg.until);
    slcli_resp r, red;
    if ((rc = slcli_http_fetch(c, &u, &r, 0)) != SLCLI_EXIT_OK)
        return rc;
    if ((rc = slcli_http_fetch(c, &ur, &red, 0)) != SLCLI_EXIT_OK) {
        slcli_resp_free(&r);
        return rc;
    }
    json_t *rows = json_object_get(r.json, "services");
    if (!json_is_array(rows)) {
        fprintf(c->err, "sightline: %s answered without a \"services\" array; are the CLI and the collector "
                        "the same version?\n", u.buf);
        rc = SLCLI_EXIT_USAGE;
    } else {
        if (c->json) {
            /* the services document as is (scripts read .services[]), plus the RED answer */
            json_object_set(r.json, "red", red.json);
            json_dumpf(r.json, c->out, JSON_COMPACT);
            fputc('\n', c->out);
        } else {
            slcli_style st;
            slcli_style_init(c, &st);
            slcli_render_service_table(c->out, r.json, red.json, &st);
        }
        if (json_array_size(rows) == 0) {
            if (!c->json)
                fprintf(c->err, "sightline: no services yet; send some spans (e.g. `make run` starts the demo)\n");
            rc = SLCLI_EXIT_EMPTY;
        }
    }
    slcli_resp_free(&red);
    slcli_resp_free(&r);
    return rc;
}

const slcli_cmd slcli_cmd_services = {"services", "[--since T] [--until T]",
                                      "services with request rate, error rate, p50/p99", services_run,
                                      services_help};
