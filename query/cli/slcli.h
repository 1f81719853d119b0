/*
 * slcli.h - the `sightline` command-line tool: shared context, exit codes,
 * the command table and argument helpers.
 *
 * The CLI is a client of the collector's HTTP JSON API only (docs/api.md);
 * it links common/ for time parsing and nothing of the collector or the
 * query engine.  One file per concern: main.c (global flags, dispatch),
 * slcli_args.c (flag parsing), slcli_http.c (libcurl), slcli_fmt.c (pure
 * rendering of API JSON to a FILE*), one slcli_<group>.c per command group.
 */
#ifndef SLCLI_H
#define SLCLI_H

#include <stdio.h>

/* Exit statuses, relied on by scripts (docs/cli.md). */
enum slcli_exit {
    SLCLI_EXIT_OK = 0,    /* success */
    SLCLI_EXIT_EMPTY = 1, /* no results: trace not found, empty list */
    SLCLI_EXIT_USAGE = 2  /* usage, connection or server errors */
};

#define SLCLI_DEFAULT_SERVER "http://127.0.0.1:4380"

/* What every command gets: the global flags, resolved. */
typedef struct slcli_ctx {
    const char *server; /* base URL, no trailing slash needed */
    int json;           /* --json: print the API's JSON as is */
    int color;          /* ANSI colours: stdout is a terminal, no --no-color, no NO_COLOR */
    int width;          /* terminal columns (120 when not a terminal) */
    FILE *out;          /* results */
    FILE *err;          /* diagnostics */
    const char *token;  /* --token: API token (else $SIGHTLINE_API_TOKEN); NULL = none */
    const char *cacert; /* --cacert FILE: CA bundle for an https --server */
    int insecure;       /* --insecure: do not verify the server's certificate */
} slcli_ctx;

/* One subcommand.  run() gets argv after the command name and returns an
 * enum slcli_exit; help() prints the full usage of the command. */
typedef struct slcli_cmd {
    const char *name;
    const char *args;    /* one-line synopsis of the arguments */
    const char *summary; /* one line for the tool's --help */
    int (*run)(slcli_ctx *c, int argc, char **argv);
    void (*help)(FILE *f);
} slcli_cmd;

/* The command groups; main.c lists them in its table. */
extern const slcli_cmd slcli_cmd_trace;
extern const slcli_cmd slcli_cmd_traces;
extern const slcli_cmd slcli_cmd_services;
extern const slcli_cmd slcli_cmd_latency;
extern const slcli_cmd slcli_cmd_errors;
extern const slcli_cmd slcli_cmd_deps;
extern const slcli_cmd slcli_cmd_logs;
extern const slcli_cmd slcli_cmd_top;

/* ---- argument helpers (slcli_args.c) ------------------------------------- */

/* If argv[*i] is the flag `name` ("--since X" or "--since=X"), stores its
 * value in *val (pointing into argv), advances *i past it and returns 1.
 * Returns 0 if argv[*i] is another argument, -1 (after printing what to do)
 * if the flag is given without a value. */
int slcli_flag_value(slcli_ctx *c, int argc, char **argv, int *i, const char *name, const char **val);

/* Consumes a global flag (--server URL, --json, --no-color, --token T,
 * --cacert FILE, --insecure) given after the
 * command name, so `sightline trace ID --json` works as well as
 * `sightline --json trace ID`.  Same returns as slcli_flag_value(). */
int slcli_global_flag(slcli_ctx *c, int argc, char **argv, int *i);

/* 1 if arg is -h or --help. */
int slcli_is_help(const char *arg);

/* Prints "sightline <cmd>: msg" and a pointer to --help; returns
 * SLCLI_EXIT_USAGE. */
int slcli_usage_error(slcli_ctx *c, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The global-flag lines shared by every command's help. */
void slcli_help_globals(FILE *f);

/* ---- query helpers (slcli_query.c) ---------------------------------------- */

/* The time range every command takes. */
typedef struct slcli_range {
    const char *since, *until; /* as typed (the server resolves relative times) */
} slcli_range;

/* Consumes a global flag, --since or --until at argv[*i].  Same returns as
 * slcli_flag_value(). */
int slcli_common_flag(slcli_ctx *c, int argc, char **argv, int *i, slcli_range *r);

/* Checks the range locally so a typo is a usage error, not a round trip.
 * Returns SLCLI_EXIT_OK or (after printing what to do) SLCLI_EXIT_USAGE. */
int slcli_check_range(slcli_ctx *c, const char *cmd, const slcli_range *r);

/* Checks that v parses as a decimal integer in lo..hi. */
int slcli_check_uint(slcli_ctx *c, const char *cmd, const char *flag, const char *v, long lo, long hi);

/* Checks that v parses as a duration (250ms, 2s, 1m). */
int slcli_check_duration(slcli_ctx *c, const char *cmd, const char *flag, const char *v);

/* Prints the response body as is (--json), ending with a newline. */
struct slcli_resp;
void slcli_print_raw(const slcli_ctx *c, const struct slcli_resp *r);

/* The style (colour, width) of c. */
struct slcli_style;
void slcli_style_init(const slcli_ctx *c, struct slcli_style *st);

#endif /* SLCLI_H */
