/*
 * slcli_query.c - helpers shared by the query commands: the --since/--until
 * pair, local checks of numbers, durations and times, raw JSON output.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/slc_util.h"
#include "slcli.h"
#include "slcli_fmt.h"
#include "slcli_http.h"

int slcli_common_flag(slcli_ctx *c, int argc, char **argv, int *i, slcli_range *r)
{
    int rc;
    if ((rc = slcli_global_flag(c, argc, argv, i)) != 0)
        return rc;
    if ((rc = slcli_flag_value(c, argc, argv, i, "--since", &r->since)) != 0)
        return rc;
    return slcli_flag_value(c, argc, argv, i, "--until", &r->until);
}

int slcli_check_range(slcli_ctx *c, const char *cmd, const slcli_range *r)
{
    uint64_t t, now = slc_now_ns();
    if (r->since != NULL && slc_time_parse(r->since, now, &t) != 0)
        return slcli_usage_error(c, cmd, "--since '%s' is not a time: use RFC 3339 (2026-01-02T15:04:05Z), Unix ns, "
                                 "or an age like 15m, 2h, 7d", r->since);
    if (r->until != NULL && slc_time_parse(r->until, now, &t) != 0)
        return slcli_usage_error(c, cmd, "--until '%s' is not a time: use RFC 3339 (2026-01-02T15:04:05Z), Unix ns, "
                                 "or an age like 15m, 2h, 7d", r->until);
    return SLCLI_EXIT_OK;
}

int slcli_check_uint(slcli_ctx *c, const char *cmd, const char *flag, const char *v, long lo, long hi)
{
    char *end;
    if (v == NULL)
        return SLCLI_EXIT_OK;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
        return slcli_usage_error(c, cmd, "%s '%s' is not a number from %ld to %ld", flag, v, lo, hi);
    return SLCLI_EXIT_OK;
}

int slcli_check_duration(slcli_ctx *c, const char *cmd, const char *flag, const char *v)
{
    uint64_t ns;
    if (v == NULL || slc_duration_parse(v, &ns) == 0)
        return SLCLI_EXIT_OK;
    return slcli_usage_error(c, cmd, "%s '%s' is not a duration: use 250ms, 1.5s, 2m, 100us", flag, v);
}

void slcli_print_raw(const slcli_ctx *c, const slcli_resp *r)
{
    fwrite(r->body, 1, r->len, c->out);
    if (r->len == 0 || r->body[r->len - 1] != '\n')
        fputc('\n', c->out);
}

void slcli_style_init(const slcli_ctx *c, slcli_style *st)
{
    st->color = c->color;
    st->width = c->width;
}
