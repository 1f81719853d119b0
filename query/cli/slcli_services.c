/*
 * slcli_services.c - `services`: the services the collector has seen.
 */
#include "slcli.h"
#include "slcli_fmt.h"
#include "slcli_http.h"

static void services_help(FILE *f)
{
    fprintf(f, "Usage: sightline services [flags]\n\n"
               "Lists the services that have sent spans or logs, by name.\n\n");
    slcli_help_globals(f);
    fprintf(f, "\nExit status: 0 printed, 1 no services yet, 2 usage or connection error.\n"
               "Example: sightline services\n");
}

static int services_run(slcli_ctx *c, int argc, char **argv)
{
    int i = 0, rc;
    while (i < argc) {
        if (slcli_is_help(argv[i])) {
            services_help(c->out);
            return SLCLI_EXIT_OK;
        }
        if ((rc = slcli_global_flag(c, argc, argv, &i)) != 0) {
            if (rc < 0)
                return SLCLI_EXIT_USAGE;
            continue;
        }
        return slcli_usage_error(c, "services", "unexpected argument '%s'", argv[i]);
    }
    slcli_url u;
    slcli_url_init(&u, c, "/api/v1/services");
    slcli_resp r;
    if ((rc = slcli_http_get(c, &u, &r)) != SLCLI_EXIT_OK)
        return rc;
    rc = slcli_http_check(c, &u, &r, 0);
    if (rc == SLCLI_EXIT_OK) {
        json_t *rows = json_object_get(r.json, "services");
        if (!json_is_array(rows)) {
            fprintf(c->err, "sightline: %s answered without a \"services\" array; are the CLI and the collector "
                            "the same version?\n", u.buf);
            rc = SLCLI_EXIT_USAGE;
        } else {
            if (c->json) {
                fwrite(r.body, 1, r.len, c->out);
                if (r.len == 0 || r.body[r.len - 1] != '\n')
                    fputc('\n', c->out);
            } else {
                slcli_style st = {.color = c->color, .width = c->width};
                slcli_render_services(c->out, r.json, &st);
            }
            if (json_array_size(rows) == 0) {
                if (!c->json)
                    fprintf(c->err, "sightline: no services yet; send some spans (e.g. `make run` starts the demo)\n");
                rc = SLCLI_EXIT_EMPTY;
            }
        }
    }
    slcli_resp_free(&r);
    return rc;
}

const slcli_cmd slcli_cmd_services = {"services", "", "list the services the collector has seen", services_run,
                                      services_help};
