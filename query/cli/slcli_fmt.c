/*
 * slcli_fmt.c - terminal rendering of the API's JSON (see slcli_fmt.h).
 *
 * Everything here reads only the documented fields (docs/api.md) and prints
 * text; no I/O besides the FILE*, no globals, so tests can render crafted
 * JSON into a memory stream and compare.  Strings from the server are
 * printed through put_clean(): a log body can hold escape sequences, and a
 * trace viewer must not let a logged string drive the user's terminal.
 */
#include "slcli_fmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_ERR "\033[1;31m"
#define C_WARN "\033[33m"

#define MAX_INDENT_LEVELS 24 /* deeper spans show their depth instead */
#define MAX_NAME_COLS 64
#define MAX_MSG_COLS 60

/* ---- numbers and times ----------------------------------------------------- */

/* Three significant digits of v/unit with a suffix. */
static void sig3(char *buf, size_t len, uint64_t v, uint64_t unit, const char *suf)
{
    double x = (double)v / (double)unit;
    if (x < 9.995)
        snprintf(buf, len, "%.2f%s", x, suf);
    else if (x < 99.95)
        snprintf(buf, len, "%.1f%s", x, suf);
    else
        snprintf(buf, len, "%.0f%s", x, suf);
}

void slcli_fmt_duration(uint64_t ns, char *buf, size_t len)
{
    if (len == 0)
        return;
    if (ns < 1000)
        snprintf(buf, len, "%" PRIu64 "ns", ns);
    else if (ns < 999500ull)
        sig3(buf, len, ns, 1000ull, "us");
    else if (ns < 999500000ull)
        sig3(buf, len, ns, 1000000ull, "ms");
    else if (ns < 60000000000ull)
        sig3(buf, len, ns, 1000000000ull, "s");
    else if (ns < 3600000000000ull)
        snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", ns / UINT64_C(60000000000), (ns / UINT64_C(1000000000)) % 60);
    else
        snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", ns / UINT64_C(3600000000000), (ns / UINT64_C(60000000000)) % 60);
}

void slcli_fmt_sduration(int64_t ns, char *buf, size_t len)
{
    if (len < 2) {
        if (len)
            buf[0] = '\0';
        return;
    }
    uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    buf[0] = ns < 0 ? '-' : '+';
    slcli_fmt_duration(mag, buf + 1, len - 1);
}

void slcli_fmt_time(uint64_t ns, int date, char *buf, size_t len)
{
    time_t secs = (time_t)(ns / 1000000000ull);
    unsigned ms = (unsigned)((ns / 1000000ull) % 1000);
    struct tm tm;
    if (len == 0)
        return;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    if (date)
        snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03u", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    else
        snprintf(buf, len, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int slcli_json_u64(const json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return -1;
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)x;
    return 0;
}

static int64_t json_i64(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *json_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ---- text ------------------------------------------------------------------ */

/* Display columns of a UTF-8 string: one per code point (jansson hands out
 * valid UTF-8 only; East Asian wide characters are rare in span names). */
static size_t cols(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Prints s with control characters made harmless (newline as "\n", other
 * controls as '?'), at most max columns ("..." marks a cut).  Returns the
 * columns printed. */
static size_t put_clean(FILE *out, const char *s, size_t max)
{
    size_t need = 0;
    for (const char *p = s; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80)
            need += (*p == '\n') ? 2 : 1;
    size_t limit = need <= max ? max : (max > 3 ? max - 3 : 0);
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t w = (*p == '\n') ? 2 : 1;
        if (used + w > limit)
            break;
        size_t l = 1;
        if (*p >= 0xF0)
            l = 4;
        else if (*p >= 0xE0)
            l = 3;
        else if (*p >= 0xC0)
            l = 2;
        if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputc(' ', out);
        else if (*p < 0x20 || *p == 0x7F)
            fputc('?', out);
        else if (*p < 0x80)
            fputc(*p, out);
        else {
            size_t k = 1;
            while (k < l && (p[k] & 0xC0) == 0x80)
                k++;
            /* a stray continuation byte, a cut sequence, or a C1 control
             * (U+0080..U+009F: some terminals obey those too) */
            if (k != l || *p < 0xC0 || (p[0] == 0xC2 && p[1] < 0xA0))
                fputc('?', out);
            else
                fwrite(p, 1, l, out);
            l = k;
        }
        used += w;
        p += l;
    }
    if (need > max && max >= 3) {
        fputs("...", out);
        used += 3;
    }
    return used;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

static void color_on(FILE *out, const slcli_style *st, const char *c)
{
    if (st->color && c != NULL)
        fputs(c, out);
}

static void color_off(FILE *out, const slcli_style *st)
{
    if (st->color)
        fputs(C_RESET, out);
}

const char *slcli_service_color(const char *service)
{
    /* no red: red means error */
    static const char *const palette[] = {"\033[32m", "\033[34m", "\033[35m", "\033[36m", "\033[33m",
                                          "\033[92m", "\033[94m", "\033[95m", "\033[96m", "\033[93m"};
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)service; *p; p++)
        h = (h ^ *p) * 16777619u;
    return palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

static int width_of(const slcli_style *st) { return st->width > 0 ? st->width : 120; }

/* ---- the request tree ------------------------------------------------------- */

typedef struct tree_geom {
    uint64_t t0, total; /* trace start and duration, ns */
    size_t namecol;     /* columns of the indentation + service + name column */
    size_t bar;         /* columns of the waterfall bar */
} tree_geom;

/* Depth as sent, but never negative and never more than the tree could
 * hold: it drives indentation loops. */
static int64_t span_depth(const json_t *span)
{
    int64_t d = json_i64(span, "depth");
    return d < 0 ? 0 : d > 100000000 ? 100000000 : d;
}

static size_t name_cols(const json_t *span)
{
    int64_t depth = span_depth(span);
    size_t ind = (size_t)(depth < MAX_INDENT_LEVELS ? depth : MAX_INDENT_LEVELS) * 2;
    size_t extra = 0;
    if (depth > MAX_INDENT_LEVELS) {
        char tmp[32];
        extra = (size_t)snprintf(tmp, sizeof(tmp), "[%" PRId64 "] ", depth);
    }
    return ind + extra + cols(json_str(span, "service")) + 1 + cols(json_str(span, "name"));
}

static void put_bar(FILE *out, const json_t *span, const tree_geom *g, int critical, const char *col,
                    const slcli_style *st)
{
    uint64_t s = 0, d = 0;
    slcli_json_u64(span, "start_ns", &s);
    slcli_json_u64(span, "duration_ns", &d);
    double scale = (double)g->bar / (double)(g->total ? g->total : 1);
    double off = s > g->t0 ? (double)(s - g->t0) : 0.0;
    size_t a = (size_t)(off * scale);
    size_t b = (size_t)((off + (double)d) * scale + 0.5);
    if (a >= g->bar)
        a = g->bar - 1;
    if (b > g->bar)
        b = g->bar;
    if (b <= a)
        b = a + 1; /* even a 0 ns span is visible */
    fputc('[', out);
    pad(out, a);
    color_on(out, st, col);
    for (size_t i = a; i < b; i++)
        fputc(critical ? '#' : '=', out);
    color_off(out, st);
    pad(out, g->bar - b);
    fputc(']', out);
}

static void put_span(FILE *out, const json_t *span, const tree_geom *g, const slcli_style *st)
{
    const char *svc = json_str(span, "service");
    const char *status = json_str(span, "status");
    int critical = json_is_true(json_object_get(span, "critical"));
    int is_err = strcmp(status, "error") == 0;
    int64_t depth = span_depth(span);
    const char *col = slcli_service_color(svc);

    if (critical) {
        color_on(out, st, C_BOLD);
        fputc('*', out);
        color_off(out, st);
    } else {
        fputc(' ', out);
    }
    fputc(' ', out);

    size_t used = 0;
    size_t ind = (size_t)(depth < MAX_INDENT_LEVELS ? depth : MAX_INDENT_LEVELS) * 2;
    pad(out, ind);
    used += ind;
    if (depth > MAX_INDENT_LEVELS)
        used += (size_t)fprintf(out, "[%" PRId64 "] ", depth);
    size_t room = g->namecol > used ? g->namecol - used : 0;
    color_on(out, st, col);
    size_t w = put_clean(out, svc, room);
    color_off(out, st);
    used += w;
    if (used < g->namecol) {
        fputc(' ', out);
        used++;
        used += put_clean(out, json_str(span, "name"), g->namecol - used);
    }
    pad(out, g->namecol > used ? g->namecol - used : 0);

    uint64_t d = 0;
    char dur[32];
    slcli_json_u64(span, "duration_ns", &d);
    slcli_fmt_duration(d, dur, sizeof(dur));
    fprintf(out, " %8s  ", dur);
    if (is_err) {
        color_on(out, st, C_ERR);
        fputs("ERROR ", out);
        color_off(out, st);
    } else {
        fprintf(out, "%-6s", strcmp(status, "ok") == 0 ? "ok" : "-");
    }
    fputs("  ", out);
    put_bar(out, span, g, critical, is_err ? C_ERR : col, st);

    if (json_is_true(json_object_get(span, "missing_parent"))) {
        color_on(out, st, C_WARN);
        fputs(" [missing parent]", out);
        color_off(out, st);
    }
    int64_t skew = json_i64(span, "skew_ns");
    if (skew != 0) {
        char sk[32];
        slcli_fmt_sduration(skew, sk, sizeof(sk));
        color_on(out, st, C_WARN);
        fprintf(out, " [skew %s]", sk);
        color_off(out, st);
    }
    const char *msg = json_str(span, "status_message");
    if (is_err && *msg) {
        fputc(' ', out);
        color_on(out, st, C_ERR);
        put_clean(out, msg, MAX_MSG_COLS);
        color_off(out, st);
    }
    fputc('\n', out);
}

static const char *level_color(const char *level)
{
    if (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0)
        return C_ERR;
    if (strcmp(level, "warn") == 0)
        return C_WARN;
    if (strcmp(level, "debug") == 0 || strcmp(level, "trace") == 0)
        return C_DIM;
    return NULL;
}

static void put_logs(FILE *out, const json_t *logs, uint64_t t0, const json_t *sum, const slcli_style *st)
{
    size_t n = json_array_size(logs);
    int64_t total = json_i64(sum, "log_count");
    if (total > (int64_t)n)
        fprintf(out, "\nLogs (%zu of %" PRId64 ", earliest first)\n", n, total);
    else
        fprintf(out, "\nLogs (%zu)\n", n);
    if (n == 0) {
        fputs("  (none)\n", out);
        return;
    }
    size_t svcw = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = cols(json_str(json_array_get(logs, i), "service"));
        svcw = c > svcw ? c : svcw;
    }
    if (svcw > 24)
        svcw = 24;
    for (size_t i = 0; i < n; i++) {
        const json_t *l = json_array_get(logs, i);
        uint64_t t = 0;
        slcli_json_u64(l, "time_ns", &t);
        char ts[32], off[32];
        slcli_fmt_time(t, 0, ts, sizeof(ts));
        slcli_fmt_sduration(t >= t0 ? (int64_t)(t - t0) : -(int64_t)(t0 - t), off, sizeof(off));
        const char *level = json_str(l, "level");
        char lv[8];
        size_t k = 0;
        for (; level[k] && k < sizeof(lv) - 1; k++)
            lv[k] = (char)(level[k] >= 'a' && level[k] <= 'z' ? level[k] - 32 : level[k]);
        lv[k] = '\0';
        const char *svc = json_str(l, "service");
        fprintf(out, "  %s  %9s  ", ts, off);
        const char *lc = level_color(level);
        color_on(out, st, lc);
        fprintf(out, "%-5s", lv);
        if (lc != NULL)
            color_off(out, st);
        fputs("  ", out);
        color_on(out, st, slcli_service_color(svc));
        size_t w = put_clean(out, svc, svcw);
        color_off(out, st);
        pad(out, svcw - w);
        fputs("  ", out);
        put_clean(out, json_str(l, "body"), 4096);
        fputc('\n', out);
    }
}

int slcli_render_trace(FILE *out, const json_t *trace, const slcli_style *st)
{
    const json_t *sum = json_object_get(trace, "summary");
    const json_t *spans = json_object_get(trace, "spans");
    const json_t *logs = json_object_get(trace, "logs");
    tree_geom g = {0};
    if (!json_is_object(sum) || !json_is_array(spans) || slcli_json_u64(sum, "start_ns", &g.t0) != 0 ||
        slcli_json_u64(sum, "duration_ns", &g.total) != 0)
        return -1;

    /* header */
    char dur[32], start[40];
    slcli_fmt_duration(g.total, dur, sizeof(dur));
    slcli_fmt_time(g.t0, 1, start, sizeof(start));
    color_on(out, st, C_BOLD);
    fputs("Trace ", out);
    put_clean(out, json_str(trace, "trace_id"), 64);
    color_off(out, st);
    fputs("  ", out);
    put_clean(out, json_str(sum, "root_service"), MAX_NAME_COLS);
    fputc(' ', out);
    put_clean(out, json_str(sum, "root_name"), MAX_NAME_COLS);
    fprintf(out, "  %s  started %s UTC\n", dur, start);

    int64_t nspans = json_i64(sum, "span_count"), nerr = json_i64(sum, "error_count");
    int64_t norph = json_i64(sum, "orphan_count");
    const json_t *svcs = json_object_get(sum, "services");
    fprintf(out, "  %" PRId64 " span%s, %zu service%s (", nspans, nspans == 1 ? "" : "s", json_array_size(svcs),
            json_array_size(svcs) == 1 ? "" : "s");
    for (size_t i = 0; i < json_array_size(svcs); i++) {
        if (i)
            fputs(", ", out);
        put_clean(out, json_string_value(json_array_get(svcs, i)) ? json_string_value(json_array_get(svcs, i)) : "",
                  MAX_NAME_COLS);
    }
    fputs("), ", out);
    if (nerr)
        color_on(out, st, C_ERR);
    fprintf(out, "%" PRId64 " error%s", nerr, nerr == 1 ? "" : "s");
    if (nerr)
        color_off(out, st);
    if (norph)
        fprintf(out, ", %" PRId64 " missing parent%s", norph, norph == 1 ? "" : "s");
    fputc('\n', out);
    if (json_is_true(json_object_get(sum, "truncated"))) {
        color_on(out, st, C_WARN);
        fprintf(out, "  TRUNCATED: showing %zu of %" PRId64 " spans (%" PRId64 " dropped)\n", json_array_size(spans),
                nspans, json_i64(sum, "dropped_spans"));
        color_off(out, st);
    }

    /* geometry: name column as wide as the widest entry, within limits; the
     * bar takes what is left of the terminal */
    size_t w = (size_t)width_of(st);
    for (size_t i = 0; i < json_array_size(spans); i++) {
        size_t c = name_cols(json_array_get(spans, i));
        g.namecol = c > g.namecol ? c : g.namecol;
    }
    if (g.namecol < 16)
        g.namecol = 16;
    if (g.namecol > MAX_NAME_COLS)
        g.namecol = MAX_NAME_COLS;
    if (g.namecol > w / 2)
        g.namecol = w / 2 > 16 ? w / 2 : 16;
    size_t fixed = 2 + g.namecol + 1 + 8 + 2 + 6 + 2 + 2;
    g.bar = w > fixed + 10 ? w - fixed : 10;
    if (g.bar > 80)
        g.bar = 80;

    fputc('\n', out);
    fputs("  ", out);
    fputs("SPAN", out);
    pad(out, g.namecol - 4);
    fprintf(out, " %8s  %-6s  ", "DURATION", "STATUS");
    char scale[48];
    slcli_fmt_duration(g.total, dur, sizeof(dur));
    snprintf(scale, sizeof(scale), " 0 .. %s", dur);
    fprintf(out, "%s\n", scale);
    for (size_t i = 0; i < json_array_size(spans); i++)
        put_span(out, json_array_get(spans, i), &g, st);
    if (json_array_size(spans) > 0)
        fputs("\n  * / # critical path   [missing parent] parent span never arrived   "
              "[skew] shifted into its parent for clock skew\n", out);

    if (json_is_array(logs))
        put_logs(out, logs, g.t0, sum, st);
    return 0;
}

/* ---- lists --------------------------------------------------------------------- */

int slcli_render_traces(FILE *out, const json_t *list, const slcli_style *st)
{
    const json_t *rows = json_object_get(list, "traces");
    if (!json_is_array(rows))
        return -1;
    size_t n = json_array_size(rows);
    size_t svcw = 7, namew = 4; /* "SERVICE", "NAME" */
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(rows, i);
        size_t a = cols(json_str(r, "service")), b = cols(json_str(r, "name"));
        svcw = a > svcw ? a : svcw;
        namew = b > namew ? b : namew;
    }
    svcw = svcw > 24 ? 24 : svcw;
    namew = namew > 40 ? 40 : namew;
    fprintf(out, "%-23s  %-32s  %-*s  %-*s  %8s  %s\n", "START (UTC)", "TRACE ID", (int)svcw, "SERVICE", (int)namew,
            "NAME", "DURATION", "ERROR");
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(rows, i);
        uint64_t t = 0, d = 0;
        char ts[40], dur[32];
        slcli_json_u64(r, "start_ns", &t);
        slcli_json_u64(r, "duration_ns", &d);
        slcli_fmt_time(t, 1, ts, sizeof(ts));
        slcli_fmt_duration(d, dur, sizeof(dur));
        const char *svc = json_str(r, "service");
        fprintf(out, "%-23s  ", ts);
        size_t c = put_clean(out, json_str(r, "trace_id"), 32);
        pad(out, 32 - c);
        fputs("  ", out);
        color_on(out, st, slcli_service_color(svc));
        c = put_clean(out, svc, svcw);
        color_off(out, st);
        pad(out, svcw - c);
        fputs("  ", out);
        c = put_clean(out, json_str(r, "name"), namew);
        pad(out, namew - c);
        fprintf(out, "  %8s  ", dur);
        if (json_is_true(json_object_get(r, "error"))) {
            color_on(out, st, C_ERR);
            fputs("ERROR", out);
            color_off(out, st);
        } else {
            fputc('-', out);
        }
        fputc('\n', out);
    }
    return (int)n;
}

int slcli_render_services(FILE *out, const json_t *list, const slcli_style *st)
{
    const json_t *rows = json_object_get(list, "services");
    if (!json_is_array(rows))
        return -1;
    size_t n = json_array_size(rows);
    if (n > 0)
        fputs("SERVICE\n", out);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(rows, i);
        const char *name = json_is_string(r) ? json_string_value(r) : json_str(r, "name");
        color_on(out, st, slcli_service_color(name));
        put_clean(out, name, 256);
        color_off(out, st);
        fputc('\n', out);
    }
    return (int)n;
}

/* ---- shared with slcli_fmt_tables.c ---------------------------------------------- */

size_t slcli_put_clean(FILE *out, const char *s, size_t max) { return put_clean(out, s, max); }

size_t slcli_cols(const char *s) { return cols(s); }
