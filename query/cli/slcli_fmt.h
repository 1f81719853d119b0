/*
 * slcli_fmt.h - rendering of the API's JSON for a terminal.  Pure functions:
 * they read a json_t and write to a FILE*, so tests can check the text.
 */
#ifndef SLCLI_FMT_H
#define SLCLI_FMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct slcli_style {
    int color; /* emit ANSI colours */
    int width; /* terminal columns; <= 0 means 120 */
} slcli_style;

/* Human duration with three significant digits: "850ns", "1.23us",
 * "12.3ms", "123ms", "1.50s", "2m03s", "1h02m".  Always NUL-terminates. */
void slcli_fmt_duration(uint64_t ns, char *buf, size_t len);

/* Signed variant for shifts: "+1.20ms", "-30.0ms". */
void slcli_fmt_sduration(int64_t ns, char *buf, size_t len);

/* UTC time: "2025-11-25 17:20:01.123" (date=1) or "17:20:01.123" (date=0). */
void slcli_fmt_time(uint64_t ns, int date, char *buf, size_t len);

/* Reads a uint64 member that the API writes as a decimal string (*_ns) or
 * an integer.  Returns 0, or -1 when missing or malformed (*out untouched). */
int slcli_json_u64(const json_t *o, const char *key, uint64_t *out);

/* A colour for a service name: stable across runs, from its hash. */
const char *slcli_service_color(const char *service);

/* The request tree of GET /api/v1/traces/{id}: a header line, one line per
 * span (indentation by depth, service, name, duration, status, waterfall
 * bar, critical-path / missing-parent / skew marks), a legend, then the
 * logs.  Returns 0, or -1 (nothing printed) when trace lacks the
 * documented fields. */
int slcli_render_trace(FILE *out, const json_t *trace, const slcli_style *st);

/* The table of GET /api/v1/traces.  Returns the number of rows, or -1 when
 * list lacks the documented fields. */
int slcli_render_traces(FILE *out, const json_t *list, const slcli_style *st);

/* The list of GET /api/v1/services.  Returns the number of rows or -1. */
int slcli_render_services(FILE *out, const json_t *list, const slcli_style *st);

/* Prints s with control characters made harmless, at most max columns
 * ("..." marks a cut); returns the columns printed.  Every string from the
 * server goes through it. */
size_t slcli_put_clean(FILE *out, const char *s, size_t max);

/* Display columns of a UTF-8 string. */
size_t slcli_cols(const char *s);

/* ---- tables of the query commands (slcli_fmt_tables.c) -------------------- */

/* `services`: GET /api/v1/services joined with GET /api/v1/red?step=0 (red
 * may be NULL: rate columns then show "-").  Returns the rows or -1. */
int slcli_render_service_table(FILE *out, const json_t *services, const json_t *red, const slcli_style *st);

/* `latency`: GET /api/v1/red, one block per series, one line per non-empty
 * bucket.  Returns the number of series or -1. */
int slcli_render_latency(FILE *out, const json_t *red, const slcli_style *st);

/* `top`, `errors`, per-service operations: a document with an "operations"
 * array (GET /api/v1/top, /api/v1/services/{name}/operations).  Returns the
 * rows or -1. */
int slcli_render_ops(FILE *out, const json_t *doc, const slcli_style *st);

/* `deps`: GET /api/v1/deps, one line per edge.  Returns the edges or -1. */
int slcli_render_deps(FILE *out, const json_t *deps, const slcli_style *st);

/* One log record: time, level, service (padded to svcw columns), body, and
 * the trace id when it has one. */
void slcli_render_log_line(FILE *out, const json_t *log, size_t svcw, const slcli_style *st);

/* `logs`: GET /api/v1/logs, newest first as sent, or oldest first.  Returns
 * the records or -1. */
int slcli_render_logs(FILE *out, const json_t *doc, int oldest_first, const slcli_style *st);

#endif /* SLCLI_FMT_H */
