/*
 * slcli_fmt_tables.c - the tables of the query commands (services with
 * rates, latency over time, operations, dependencies, logs).  Pure like
 * slcli_fmt.c: JSON in, text out, every server string through
 * slcli_put_clean(); missing or mistyped fields print as "-" rather than
 * failing, only a missing top-level array is an error (-1).
 */
#include <inttypes.h>
#include <string.h>

#include "slcli_fmt.h"

#define T_RESET "\033[0m"
#define T_ERR "\033[1;31m"
#define T_WARN "\033[33m"
#define T_DIM "\033[2m"
#define T_NAME_MAX 40

static const char *t_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void t_pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

/* s left-aligned in w columns (cut with "..."), coloured when col. */
static void t_cell(FILE *out, const char *s, size_t w, const char *col, const slcli_style *st)
{
    if (st->color && col)
        fputs(col, out);
    size_t c = slcli_put_clean(out, s, w);
    if (st->color && col)
        fputs(T_RESET, out);
    t_pad(out, w > c ? w - c : 0);
}

static size_t t_width(const json_t *rows, const char *key, size_t min, size_t max)
{
    size_t w = min;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        size_t c = slcli_cols(t_str(json_array_get(rows, i), key));
        w = c > w ? c : w;
    }
    return w > max ? max : w;
}

/* Right-aligned duration of an integer field, "-" when absent or null. */
static void t_dur(FILE *out, const json_t *v, int w)
{
    char buf[32] = "-";
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        slcli_fmt_duration((uint64_t)json_integer_value(v), buf, sizeof buf);
    fprintf(out, " %*s", w, buf);
}

static void t_rate(FILE *out, const json_t *v, int w)
{
    char buf[32] = "-";
    if (json_is_number(v)) {
        double x = json_number_value(v);
        snprintf(buf, sizeof buf, x >= 100 ? "%.0f" : x >= 1 ? "%.2f" : "%.3f", x);
    }
    fprintf(out, " %*s", w, buf);
}

static void t_pct(FILE *out, const json_t *v, int w, const slcli_style *st)
{
    char buf[32] = "-";
    double x = json_is_number(v) ? json_number_value(v) : -1;
    if (x >= 0)
        snprintf(buf, sizeof buf, "%.2f%%", x * 100.0);
    int red = st->color && x > 0;
    fputc(' ', out);
    if (red)
        fputs(x >= 0.05 ? T_ERR : T_WARN, out);
    fprintf(out, "%*s", w, buf);
    if (red)
        fputs(T_RESET, out);
}

static void t_count(FILE *out, const json_t *v, int w)
{
    if (json_is_integer(v))
        fprintf(out, " %*" PRId64, w, (int64_t)json_integer_value(v));
    else
        fprintf(out, " %*s", w, "-");
}

/* ---- services ------------------------------------------------------------------ */

static const json_t *t_series_of(const json_t *red, const char *service)
{
    const json_t *series = json_object_get(red, "series");
    for (size_t i = 0; i < json_array_size(series); i++) {
        const json_t *s = json_array_get(series, i);
        if (strcmp(t_str(s, "service"), service) == 0)
            return s;
    }
    return NULL;
}

int slcli_render_service_table(FILE *out, const json_t *services, const json_t *red, const slcli_style *st)
{
    const json_t *rows = json_object_get(services, "services");
    if (!json_is_array(rows))
        return -1;
    size_t n = json_array_size(rows), w = t_width(rows, "name", 7, T_NAME_MAX);
    if (n == 0)
        return 0;
    fprintf(out, "%-*s %9s %8s %8s %8s %10s %8s %9s\n", (int)w, "SERVICE", "REQ/S", "ERR%", "P50", "P99", "SPANS",
            "ERRORS", "LOGS");
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(rows, i);
        const char *name = t_str(r, "name");
        const json_t *s = red ? t_series_of(red, name) : NULL;
        t_cell(out, name, w, slcli_service_color(name), st);
        t_rate(out, json_array_get(json_object_get(s, "rate"), 0), 9);
        t_pct(out, json_array_get(json_object_get(s, "error_rate"), 0), 8, st);
        t_dur(out, json_array_get(json_object_get(s, "p50_ns"), 0), 8);
        t_dur(out, json_array_get(json_object_get(s, "p99_ns"), 0), 8);
        t_count(out, json_object_get(r, "spans"), 10);
        t_count(out, json_object_get(r, "errors"), 8);
        t_count(out, json_object_get(r, "logs"), 9);
        fputc('\n', out);
    }
    return (int)n;
}

/* ---- latency over time ------------------------------------------------------------ */

int slcli_render_latency(FILE *out, const json_t *red, const slcli_style *st)
{
    const json_t *series = json_object_get(red, "series"), *t_us = json_object_get(red, "t_us");
    if (!json_is_array(series) || !json_is_array(t_us))
        return -1;
    char stepbuf[32] = "?";
    const json_t *step = json_object_get(red, "step_ns");
    if (json_is_integer(step))
        slcli_fmt_duration((uint64_t)json_integer_value(step), stepbuf, sizeof stepbuf);
    for (size_t i = 0; i < json_array_size(series); i++) {
        const json_t *s = json_array_get(series, i);
        const json_t *tot = json_object_get(s, "total");
        const char *svc = t_str(s, "service"), *op = t_str(s, "operation");
        if (i)
            fputc('\n', out);
        t_cell(out, svc, slcli_cols(svc) > T_NAME_MAX ? T_NAME_MAX : slcli_cols(svc), slcli_service_color(svc),
               st);
        if (*op) {
            fputc(' ', out);
            slcli_put_clean(out, op, 64);
        }
        fprintf(out, "  (%" PRId64 " requests, %" PRId64 " errors, step %s)\n",
                (int64_t)json_integer_value(json_object_get(tot, "count")),
                (int64_t)json_integer_value(json_object_get(tot, "errors")), stepbuf);
        fprintf(out, "  %-19s %9s %8s %8s %8s %8s %8s\n", "TIME (UTC)", "REQ/S", "ERR%", "P50", "P90", "P95", "P99");
        size_t empty = 0;
        const json_t *cnt = json_object_get(s, "count");
        for (size_t k = 0; k < json_array_size(t_us); k++) {
            if (json_integer_value(json_array_get(cnt, k)) <= 0) {
                empty++;
                continue;
            }
            char ts[40];
            uint64_t us = (uint64_t)json_integer_value(json_array_get(t_us, k));
            slcli_fmt_time(us * 1000, 1, ts, sizeof ts);
            ts[19] = '\0'; /* whole seconds: buckets are whole minutes */
            fprintf(out, "  %-19s", ts);
            t_rate(out, json_array_get(json_object_get(s, "rate"), k), 9);
            t_pct(out, json_array_get(json_object_get(s, "error_rate"), k), 8, st);
            t_dur(out, json_array_get(json_object_get(s, "p50_ns"), k), 8);
            t_dur(out, json_array_get(json_object_get(s, "p90_ns"), k), 8);
            t_dur(out, json_array_get(json_object_get(s, "p95_ns"), k), 8);
            t_dur(out, json_array_get(json_object_get(s, "p99_ns"), k), 8);
            fputc('\n', out);
        }
        if (empty) {
            if (st->color)
                fputs(T_DIM, out);
            fprintf(out, "  (%zu bucket%s without requests not shown)\n", empty, empty == 1 ? "" : "s");
            if (st->color)
                fputs(T_RESET, out);
        }
    }
    return (int)json_array_size(series);
}

/* ---- operations (top, errors, per service) ---------------------------------------- */

int slcli_render_ops(FILE *out, const json_t *doc, const slcli_style *st)
{
    const json_t *rows = json_object_get(doc, "operations");
    if (!json_is_array(rows))
        return -1;
    size_t n = json_array_size(rows);
    if (n == 0)
        return 0;
    int with_svc = json_object_get(json_array_get(rows, 0), "service") != NULL;
    size_t sw = with_svc ? t_width(rows, "service", 7, T_NAME_MAX) : 0;
    size_t ow = t_width(rows, "operation", 9, T_NAME_MAX);
    if (with_svc)
        fprintf(out, "%-*s  ", (int)sw, "SERVICE");
    fprintf(out, "%-*s %9s %9s %8s %8s %8s %8s %8s %8s\n", (int)ow, "OPERATION", "COUNT", "REQ/S", "ERRORS", "ERR%",
            "P50", "P90", "P99", "MAX");
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(rows, i);
        if (with_svc) {
            t_cell(out, t_str(r, "service"), sw, slcli_service_color(t_str(r, "service")), st);
            fputs("  ", out);
        }
        t_cell(out, t_str(r, "operation"), ow, NULL, st);
        t_count(out, json_object_get(r, "count"), 9);
        t_rate(out, json_object_get(r, "rate"), 9);
        t_count(out, json_object_get(r, "errors"), 8);
        t_pct(out, json_object_get(r, "error_rate"), 8, st);
        t_dur(out, json_object_get(r, "p50_ns"), 8);
        t_dur(out, json_object_get(r, "p90_ns"), 8);
        t_dur(out, json_object_get(r, "p99_ns"), 8);
        t_dur(out, json_object_get(r, "max_ns"), 8);
        fputc('\n', out);
    }
    return (int)n;
}

/* ---- dependencies ----------------------------------------------------------------- */

int slcli_render_deps(FILE *out, const json_t *deps, const slcli_style *st)
{
    const json_t *edges = json_object_get(deps, "edges");
    if (!json_is_array(edges))
        return -1;
    size_t n = json_array_size(edges);
    if (n == 0)
        return 0;
    size_t cw = t_width(edges, "caller", 6, T_NAME_MAX), ew = t_width(edges, "callee", 6, T_NAME_MAX);
    fprintf(out, "%-*s    %-*s %9s %9s %8s %8s %8s %8s\n", (int)cw, "CALLER", (int)ew, "CALLEE", "CALLS", "REQ/S",
            "ERRORS", "ERR%", "P50", "P99");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(edges, i);
        t_cell(out, t_str(e, "caller"), cw, slcli_service_color(t_str(e, "caller")), st);
        fputs(" -> ", out);
        t_cell(out, t_str(e, "callee"), ew, slcli_service_color(t_str(e, "callee")), st);
        t_count(out, json_object_get(e, "calls"), 9);
        t_rate(out, json_object_get(e, "rate"), 9);
        t_count(out, json_object_get(e, "errors"), 8);
        t_pct(out, json_object_get(e, "error_rate"), 8, st);
        t_dur(out, json_object_get(e, "p50_ns"), 8);
        t_dur(out, json_object_get(e, "p99_ns"), 8);
        fputc('\n', out);
    }
    return (int)n;
}

/* ---- logs ---------------------------------------------------------------------------- */

void slcli_render_log_line(FILE *out, const json_t *l, size_t svcw, const slcli_style *st)
{
    uint64_t t = 0;
    char ts[40], lv[8];
    const char *level = t_str(l, "level"), *tid = t_str(l, "trace_id");
    size_t k = 0;

    slcli_json_u64(l, "time_ns", &t);
    slcli_fmt_time(t, 1, ts, sizeof ts);
    for (; level[k] && k < sizeof lv - 1; k++)
        lv[k] = (char)(level[k] >= 'a' && level[k] <= 'z' ? level[k] - 32 : level[k]);
    lv[k] = '\0';
    const char *lc = NULL;
    if (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0)
        lc = T_ERR;
    else if (strcmp(level, "warn") == 0)
        lc = T_WARN;
    else if (strcmp(level, "debug") == 0 || strcmp(level, "trace") == 0)
        lc = T_DIM;
    fprintf(out, "%s  ", ts);
    t_cell(out, lv, 5, lc, st);
    fputs("  ", out);
    t_cell(out, t_str(l, "service"), svcw, slcli_service_color(t_str(l, "service")), st);
    fputs("  ", out);
    slcli_put_clean(out, t_str(l, "body"), 4096);
    if (*tid) {
        if (st->color)
            fputs(T_DIM, out);
        fputs("  trace=", out);
        slcli_put_clean(out, tid, 32);
        if (st->color)
            fputs(T_RESET, out);
    }
    fputc('\n', out);
}

int slcli_render_logs(FILE *out, const json_t *doc, int oldest_first, const slcli_style *st)
{
    const json_t *logs = json_object_get(doc, "logs");
    if (!json_is_array(logs))
        return -1;
    size_t n = json_array_size(logs), w = t_width(logs, "service", 4, 24);
    for (size_t i = 0; i < n; i++)
        slcli_render_log_line(out, json_array_get(logs, oldest_first ? n - 1 - i : i), w, st);
    return (int)n;
}
