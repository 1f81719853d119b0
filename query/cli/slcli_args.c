/*
 * slcli_args.c - flag parsing shared by every subcommand.
 *
 * Hand-rolled rather than getopt_long: global flags may appear on either
 * side of the command name, and each command's flags are few.
 */
#include <stdarg.h>
#include <string.h>

#include "slcli.h"

int slcli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int slcli_flag_value(slcli_ctx *c, int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        (*i)++;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(c->err, "sightline: %s needs a value (see --help)\n", name);
        return -1;
    }
    *val = argv[*i + 1];
    *i += 2;
    return 1;
}

int slcli_global_flag(slcli_ctx *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--json") == 0) {
        c->json = 1;
        (*i)++;
        return 1;
    }
    if (strcmp(a, "--no-color") == 0 || strcmp(a, "--no-colour") == 0) {
        c->color = 0;
        (*i)++;
        return 1;
    }
    if (strcmp(a, "--insecure") == 0) {
        c->insecure = 1;
        (*i)++;
        return 1;
    }
    int rc = slcli_flag_value(c, argc, argv, i, "--token", &c->token);
    if (rc == 0)
        rc = slcli_flag_value(c, argc, argv, i, "--cacert", &c->cacert);
    if (rc == 0)
        rc = slcli_flag_value(c, argc, argv, i, "--server", &c->server);
    return rc;
}

int slcli_usage_error(slcli_ctx *c, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(c->err, "sightline %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(c->err, fmt, ap);
    va_end(ap);
    fprintf(c->err, "\nRun `sightline %s --help` for usage.\n", cmd);
    return SLCLI_EXIT_USAGE;
}

void slcli_help_globals(FILE *f)
{
    fprintf(f, "Global flags (before or after the command):\n"
               "  --server URL   collector HTTP address (default: $SIGHTLINE_SERVER or " SLCLI_DEFAULT_SERVER ")\n"
               "  --token T      API token sent as 'Authorization: Bearer T' (default: $SIGHTLINE_API_TOKEN)\n"
               "  --cacert FILE  CA certificate(s) to verify an https:// --server with\n"
               "  --insecure     do not verify the https:// server's certificate (testing only)\n"
               "  --json         print the API's JSON as is, for scripts\n"
               "  --no-color     no ANSI colours (also when NO_COLOR is set or stdout is not a terminal)\n"
               "  -h, --help     this help\n");
}
