/*
 * main.c - `sightline`: global flags, then dispatch through the command
 * table.  A new command group is one file defining an slcli_cmd and one line
 * in commands[] below.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "slcli.h"
#include "slcli_http.h"

/* Alerts (slcli_alerts.c); declared here to keep slcli.h as it is. */
extern const slcli_cmd slcli_cmd_alerts, slcli_cmd_check;

static const slcli_cmd *const commands[] = {
    &slcli_cmd_trace,
    &slcli_cmd_traces,
    &slcli_cmd_services,
    &slcli_cmd_latency,
    &slcli_cmd_errors,
    &slcli_cmd_top,
    &slcli_cmd_deps,
    &slcli_cmd_logs,
    &slcli_cmd_alerts,
    &slcli_cmd_check,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "Usage: sightline [--server URL] [--json] [--no-color] COMMAND [ARGS]\n\n"
               "Queries a Sightline collector over its HTTP JSON API.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char head[96];
        snprintf(head, sizeof(head), "%s %s", commands[i]->name, commands[i]->args);
        fprintf(f, "  %-62s %s\n", head, commands[i]->summary);
    }
    fputc('\n', f);
    slcli_help_globals(f);
    fprintf(f, "\n`sightline COMMAND --help` shows a command's flags and examples.\n"
               "Exit status: 0 success, 1 no results (trace not found, empty list), 2 usage or\n"
               "connection error.  More: docs/cli.md\n");
}

static const slcli_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int terminal_width(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    if (cols != NULL) {
        char *end;
        long n = strtol(cols, &end, 10);
        if (end != cols && *end == '\0' && n >= 40 && n <= 1000)
            return (int)n;
    }
    return 120;
}

int main(int argc, char **argv)
{
    slcli_ctx c = {0};
    const char *env = getenv("SIGHTLINE_SERVER");
    c.server = (env != NULL && *env != '\0') ? env : SLCLI_DEFAULT_SERVER;
    c.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
    c.width = terminal_width();
    c.out = stdout;
    c.err = stderr;

    int i = 1, rc;
    while (i < argc && argv[i][0] == '-') {
        if (slcli_is_help(argv[i])) {
            usage(stdout);
            return SLCLI_EXIT_OK;
        }
        if ((rc = slcli_global_flag(&c, argc, argv, &i)) < 0)
            return SLCLI_EXIT_USAGE;
        if (rc == 0) {
            fprintf(stderr, "sightline: unknown flag '%s'; run `sightline --help`\n", argv[i]);
            return SLCLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return SLCLI_EXIT_USAGE;
    }
    const char *name = argv[i++];
    if (strcmp(name, "help") == 0) {
        const slcli_cmd *h = i < argc ? find_command(argv[i]) : NULL;
        if (h != NULL)
            h->help(stdout);
        else
            usage(stdout);
        return SLCLI_EXIT_OK;
    }
    const slcli_cmd *cmd = find_command(name);
    if (cmd == NULL) {
        fprintf(stderr, "sightline: unknown command '%s'; commands:", name);
        for (size_t k = 0; k < NCOMMANDS; k++)
            fprintf(stderr, " %s", commands[k]->name);
        fprintf(stderr, " (run `sightline --help`)\n");
        return SLCLI_EXIT_USAGE;
    }
    if (slcli_http_init() != 0) {
        fprintf(stderr, "sightline: cannot initialise libcurl\n");
        return SLCLI_EXIT_USAGE;
    }
    rc = cmd->run(&c, argc - i, argv + i);
    fflush(stdout);
    slcli_http_cleanup();
    return rc;
}
