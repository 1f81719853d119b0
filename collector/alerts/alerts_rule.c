/*
 * alerts_rule.c - alert rules: the expression language, rule and notifier
 * documents (JSON), description templates (see alerts_int.h and
 * docs/alerts.md).
 *
 * Everything here parses outside input (a rules file, an API body, a query
 * argument), so every token, string, list and number is bounded, and every
 * error names the rule (or notifier) and the field at fault: the caller
 * keeps its previous rules when a document fails.
 */
#include "alerts_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/slq_util.h"
#include "sightline.h"
#include "common/slc_util.h"
#include "common/slc_wire.h"

#define AL_DEFAULT_WINDOW (5ULL * 60 * COL_AL_SEC)
#define AL_MAX_WINDOW (24ULL * 3600 * COL_AL_SEC)
#define AL_MAX_FOR (7ULL * 24 * 3600 * COL_AL_SEC)
#define AL_DEFAULT_REPEAT (4ULL * 3600 * COL_AL_SEC)

/* ======================= small helpers ====================================== */

static void al_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void al_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Names of rules and notifiers: [A-Za-z0-9_.-], 1..127 bytes, so they are
 * safe in URLs, file names, environment values and log lines. */
static int al_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= COL_AL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

/* Free text (service, operation, match): UTF-8, no control bytes. */
static int al_text_ok(const char *s, size_t n)
{
    if (!slc_utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static void al_fmt_dur(uint64_t ns, char *buf, size_t len)
{
    static const struct {
        uint64_t ns;
        const char *u;
    } units[] = {{86400ULL * COL_AL_SEC, "d"}, {3600ULL * COL_AL_SEC, "h"},
                 {60ULL * COL_AL_SEC, "m"},    {COL_AL_SEC, "s"},
                 {1000000ULL, "ms"},           {1000ULL, "us"}};

    if (ns == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ns % units[i].ns == 0) {
            snprintf(buf, len, "%llu%s", (unsigned long long)(ns / units[i].ns), units[i].u);
            return;
        }
    snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

void col_al_fmt_value(double v, char *buf, size_t len)
{
    char *dot, *e;

    if (!isfinite(v)) {
        snprintf(buf, len, "%s", "NaN");
        return;
    }
    if (fabs(v) >= 1000 || v == floor(v))
        snprintf(buf, len, "%.0f", v);
    else if (fabs(v) >= 100)
        snprintf(buf, len, "%.1f", v);
    else if (fabs(v) >= 1)
        snprintf(buf, len, "%.2f", v);
    else
        snprintf(buf, len, "%.3g", v);
    dot = strchr(buf, '.');
    if (dot != NULL && strchr(buf, 'e') == NULL) {
        e = buf + strlen(buf);
        while (e > dot + 1 && e[-1] == '0')
            *--e = '\0';
        if (e == dot + 1)
            *dot = '\0';
    }
}

const char *col_al_unit(enum col_al_metric m)
{
    switch (m) {
    case COL_AL_LATENCY: return "ms";
    case COL_AL_ERROR_RATE: return "%";
    case COL_AL_RATE: return "/s";
    case COL_AL_LOGS: return "";
    }
    return "";
}

const char *col_al_metric_name(const col_al_cond *c, char *buf, size_t len)
{
    switch (c->metric) {
    case COL_AL_LATENCY: {
        char v[32];
        col_al_fmt_value(c->quantile * 100.0, v, sizeof v);
        snprintf(buf, len, "p%s", v);
        return buf;
    }
    case COL_AL_ERROR_RATE: snprintf(buf, len, "error_rate"); return buf;
    case COL_AL_RATE: snprintf(buf, len, "rate"); return buf;
    case COL_AL_LOGS: snprintf(buf, len, "logs"); return buf;
    }
    snprintf(buf, len, "?");
    return buf;
}

static const struct {
    const char *name;
    int level;
} al_levels[] = {{"trace", SLC_LVL_TRACE}, {"debug", SLC_LVL_DEBUG}, {"info", SLC_LVL_INFO},
                 {"warn", SLC_LVL_WARN},   {"error", SLC_LVL_ERROR}, {"fatal", SLC_LVL_FATAL}};

static int al_parse_level(const char *s, int *out)
{
    char *end;
    long v;

    for (size_t i = 0; i < sizeof al_levels / sizeof al_levels[0]; i++)
        if (strcmp(s, al_levels[i].name) == 0) {
            *out = al_levels[i].level;
            return 0;
        }
    if (strcmp(s, "warning") == 0) {
        *out = SLC_LVL_WARN;
        return 0;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 24)
        return -1;
    *out = (int)v;
    return 0;
}

static void al_fmt_level(int level, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof al_levels / sizeof al_levels[0]; i++)
        if (al_levels[i].level == level) {
            snprintf(buf, len, "%s", al_levels[i].name);
            return;
        }
    snprintf(buf, len, "%d", level);
}

static int al_parse_kind(const char *s, col_al_cond *c)
{
    if (slq_kind_parse(s, &c->kind_mask, NULL) != 0)
        return -1;
    c->all_kinds = c->kind_mask == 0;
    return 0;
}

static const char *al_kind_name(const col_al_cond *c)
{
    return c->all_kinds ? "all" : slq_kind_mask_name(c->kind_mask);
}

/* "p99", "p99.9", "error_rate", "rate", "logs". */
static int al_parse_metric(const char *s, col_al_cond *c)
{
    if (strcmp(s, "error_rate") == 0) {
        c->metric = COL_AL_ERROR_RATE;
        return 0;
    }
    if (strcmp(s, "rate") == 0) {
        c->metric = COL_AL_RATE;
        return 0;
    }
    if (strcmp(s, "logs") == 0) {
        c->metric = COL_AL_LOGS;
        return 0;
    }
    if (s[0] == 'p' && isdigit((unsigned char)s[1]) && strlen(s) <= 12) {
        char *end;
        double p;
        errno = 0;
        p = strtod(s + 1, &end);
        if (errno == 0 && *end == '\0' && p > 0 && p < 100 && strchr(s, 'e') == NULL) {
            c->metric = COL_AL_LATENCY;
            c->quantile = p / 100.0;
            return 0;
        }
    }
    return -1;
}

/* A threshold: a number, optionally with the metric's unit (latency: ns,
 * us, ms, s, m; error_rate: %; rate: /s, /m, /h).  Without a unit the
 * number is in the display unit (ms, percent, per second, records). */
static int al_parse_threshold(const char *s, enum col_al_metric m, double *out)
{
    char *end;
    double v;

    if (*s == '\0' || strlen(s) > 64 || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    /* strtod also reads hex floats; thresholds are decimal */
    if (errno != 0 || end == s || !isfinite(v) || v < 0 || strpbrk(s, "xX") != NULL)
        return -1;
    if (*end == '\0') {
        *out = v;
        return 0;
    }
    switch (m) {
    case COL_AL_LATENCY:
        if (strcmp(end, "ms") == 0)
            *out = v;
        else if (strcmp(end, "s") == 0)
            *out = v * 1e3;
        else if (strcmp(end, "us") == 0)
            *out = v / 1e3;
        else if (strcmp(end, "ns") == 0)
            *out = v / 1e6;
        else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
            *out = v * 60e3;
        else
            return -1;
        return 0;
    case COL_AL_ERROR_RATE:
        if (strcmp(end, "%") != 0)
            return -1;
        *out = v;
        return 0;
    case COL_AL_RATE:
        if (strcmp(end, "/s") == 0)
            *out = v;
        else if (strcmp(end, "/m") == 0 || strcmp(end, "/min") == 0)
            *out = v / 60.0;
        else if (strcmp(end, "/h") == 0)
            *out = v / 3600.0;
        else
            return -1;
        return 0;
    case COL_AL_LOGS: return -1;
    }
    return -1;
}

static const char *al_threshold_units(enum col_al_metric m)
{
    switch (m) {
    case COL_AL_LATENCY: return "a duration like 300ms or 1.5s (a plain number is ms)";
    case COL_AL_ERROR_RATE: return "a percentage like 2% (a plain number is percent)";
    case COL_AL_RATE: return "a rate like 5/s or 100/m (a plain number is per second)";
    case COL_AL_LOGS: return "a count of records like 10";
    }
    return "a number";
}

static int al_parse_dur(const char *s, uint64_t *out)
{
    uint64_t ns = 0;

    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (strlen(s) > 32 || slc_duration_parse(s, &ns) != 0)
        return -1;
    *out = ns;
    return 0;
}

/* Checks what the metric needs from the scope; shared by both syntaxes. */
static int al_cond_check(col_al_cond *c, char *err, size_t errlen, const char **field)
{
    if (c->service[0] == '\0') {
        *field = "service";
        al_err(err, errlen, "a service is required");
        return -1;
    }
    if (c->caller[0] != '\0' && c->operation[0] != '\0') {
        *field = "operation";
        al_err(err, errlen, "an edge (caller -> service) has no operation");
        return -1;
    }
    if (c->metric == COL_AL_LOGS && (c->caller[0] != '\0' || c->operation[0] != '\0')) {
        *field = c->caller[0] ? "caller" : "operation";
        al_err(err, errlen, "logs are counted per service: no operation or edge");
        return -1;
    }
    if (c->metric != COL_AL_LOGS && (c->match[0] != '\0' || c->min_level != 0)) {
        *field = c->match[0] ? "match" : "level";
        al_err(err, errlen, "'level' and 'match' apply to the logs metric only");
        return -1;
    }
    if (c->metric == COL_AL_LOGS && c->min_level == 0)
        c->min_level = SLC_LVL_ERROR;
    if (c->window_ns < 60 * COL_AL_SEC || c->window_ns > AL_MAX_WINDOW) {
        *field = "window";
        al_err(err, errlen, "the window must be 1m..24h (aggregates are per minute)");
        return -1;
    }
    if (c->for_ns > AL_MAX_FOR) {
        *field = "for";
        al_err(err, errlen, "'for' must be at most 7d");
        return -1;
    }
    return 0;
}

/* ======================= the expression language ============================ */

struct al_lex {
    const char *s;
    size_t n, i;
};

static void al_skip(struct al_lex *l)
{
    while (l->i < l->n && (l->s[l->i] == ' ' || l->s[l->i] == '\t'))
        l->i++;
}

static int al_word_char(const struct al_lex *l, size_t i)
{
    unsigned char ch = (unsigned char)l->s[i];
    if (ch == '-' && i + 1 < l->n && l->s[i + 1] == '>')
        return 0;
    return isalnum(ch) || ch == '_' || ch == '.' || ch == '-' || ch == ':' || ch == '/' ||
           ch == '@' || ch == '%' || ch >= 0x80;
}

/* A bare word or a "quoted string" (\" and \\ escapes) into out (cap
 * COL_AL_STR_MAX).  Returns 0, or -1 with err set. */
static int al_lex_value(struct al_lex *l, char *out, size_t cap, char *err, size_t errlen)
{
    size_t k = 0, start;

    al_skip(l);
    start = l->i;
    if (l->i < l->n && l->s[l->i] == '"') {
        l->i++;
        for (;;) {
            char ch;
            if (l->i >= l->n) {
                al_err(err, errlen, "at %zu: unterminated string", start + 1);
                return -1;
            }
            ch = l->s[l->i++];
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (l->i >= l->n || (l->s[l->i] != '"' && l->s[l->i] != '\\')) {
                    al_err(err, errlen, "at %zu: only \\\" and \\\\ escapes are allowed", l->i);
                    return -1;
                }
                ch = l->s[l->i++];
            }
            if (k + 1 >= cap) {
                al_err(err, errlen, "at %zu: string longer than %zu bytes", start + 1, cap - 1);
                return -1;
            }
            out[k++] = ch;
        }
        out[k] = '\0';
        if (!al_text_ok(out, k)) {
            al_err(err, errlen, "at %zu: string is not UTF-8 text", start + 1);
            return -1;
        }
        return 0;
    }
    while (l->i < l->n && al_word_char(l, l->i)) {
        if (k + 1 >= cap) {
            al_err(err, errlen, "at %zu: name longer than %zu bytes", start + 1, cap - 1);
            return -1;
        }
        out[k++] = l->s[l->i++];
    }
    out[k] = '\0';
    if (k == 0) {
        al_err(err, errlen, "at %zu: expected a name or a \"quoted string\"", start + 1);
        return -1;
    }
    if (!al_text_ok(out, k)) {
        al_err(err, errlen, "at %zu: name is not UTF-8 text", start + 1);
        return -1;
    }
    return 0;
}

static int al_lex_eat(struct al_lex *l, const char *tok)
{
    size_t n = strlen(tok);

    al_skip(l);
    if (l->n - l->i >= n && memcmp(l->s + l->i, tok, n) == 0) {
        l->i += n;
        return 1;
    }
    return 0;
}

/* A word of letters (keywords: over, for, metric names). */
static int al_lex_ident(struct al_lex *l, char *out, size_t cap)
{
    size_t k = 0;

    al_skip(l);
    while (l->i < l->n && (isalnum((unsigned char)l->s[l->i]) || l->s[l->i] == '_' ||
                           l->s[l->i] == '.')) {
        if (k + 1 >= cap)
            return -1;
        out[k++] = l->s[l->i++];
    }
    out[k] = '\0';
    return k > 0 ? 0 : -1;
}

/* A threshold or duration token: everything up to the next space. */
static int al_lex_token(struct al_lex *l, char *out, size_t cap)
{
    size_t k = 0;

    al_skip(l);
    while (l->i < l->n && l->s[l->i] != ' ' && l->s[l->i] != '\t') {
        if (k + 1 >= cap)
            return -1;
        out[k++] = l->s[l->i++];
    }
    out[k] = '\0';
    return k > 0 ? 0 : -1;
}

int col_al_expr_parse(const char *s, size_t len, col_al_cond *out, char *err, size_t errlen)
{
    struct al_lex l = {s, len, 0};
    col_al_cond c;
    char word[COL_AL_STR_MAX], tok[80];
    const char *field = NULL;
    int seen_over = 0, seen_for = 0;
    size_t at;

    if (len > COL_AL_EXPR_MAX) {
        al_err(err, errlen, "expression longer than %d bytes", COL_AL_EXPR_MAX);
        return SL_EPARSE;
    }
    if (memchr(s, '\0', len) != NULL || !slc_utf8_valid(s, len)) {
        al_err(err, errlen, "expression is not UTF-8 text");
        return SL_EPARSE;
    }
    memset(&c, 0, sizeof c);
    c.kind_mask = COL_KIND_ENTRY;
    c.window_ns = AL_DEFAULT_WINDOW;
    al_skip(&l);
    at = l.i;
    if (al_lex_ident(&l, word, 16) != 0 || al_parse_metric(word, &c) != 0) {
        al_err(err, errlen,
               "at %zu: expected a metric: pNN (p50, p99, p99.9), error_rate, rate or logs",
               at + 1);
        return SL_EPARSE;
    }
    if (!al_lex_eat(&l, "(")) {
        al_err(err, errlen, "at %zu: expected '(' after the metric", l.i + 1);
        return SL_EPARSE;
    }
    if (al_lex_value(&l, c.service, sizeof c.service, err, errlen) != 0)
        return SL_EPARSE;
    if (al_lex_eat(&l, "->")) {
        memcpy(c.caller, c.service, sizeof c.caller);
        if (al_lex_value(&l, c.service, sizeof c.service, err, errlen) != 0)
            return SL_EPARSE;
    }
    for (int nargs = 0; al_lex_eat(&l, ","); nargs++) {
        char key[16];
        if (nargs >= 8) {
            al_err(err, errlen, "at %zu: too many arguments", l.i + 1);
            return SL_EPARSE;
        }
        al_skip(&l);
        at = l.i;
        if (al_lex_ident(&l, key, sizeof key) != 0 || !al_lex_eat(&l, "=")) {
            al_err(err, errlen, "at %zu: expected key=value (op, level, match or kind)", at + 1);
            return SL_EPARSE;
        }
        if (al_lex_value(&l, word, sizeof word, err, errlen) != 0)
            return SL_EPARSE;
        if (strcmp(key, "op") == 0 || strcmp(key, "operation") == 0)
            memcpy(c.operation, word, sizeof c.operation);
        else if (strcmp(key, "match") == 0)
            memcpy(c.match, word, sizeof c.match);
        else if (strcmp(key, "level") == 0) {
            if (al_parse_level(word, &c.min_level) != 0) {
                al_err(err, errlen,
                       "at %zu: level must be trace, debug, info, warn, error or fatal", at + 1);
                return SL_EPARSE;
            }
        } else if (strcmp(key, "kind") == 0) {
            if (al_parse_kind(word, &c) != 0) {
                al_err(err, errlen,
                       "at %zu: kind must be entry, all, server, client, internal, producer "
                       "or consumer",
                       at + 1);
                return SL_EPARSE;
            }
        } else {
            al_err(err, errlen, "at %zu: unknown argument '%s' (op, level, match or kind)",
                   at + 1, key);
            return SL_EPARSE;
        }
    }
    if (!al_lex_eat(&l, ")")) {
        al_err(err, errlen, "at %zu: expected ')' or ', key=value'", l.i + 1);
        return SL_EPARSE;
    }
    if (al_lex_eat(&l, ">="))
        c.cmp = COL_AL_GE;
    else if (al_lex_eat(&l, "<="))
        c.cmp = COL_AL_LE;
    else if (al_lex_eat(&l, ">"))
        c.cmp = COL_AL_GT;
    else if (al_lex_eat(&l, "<"))
        c.cmp = COL_AL_LT;
    else {
        al_err(err, errlen, "at %zu: expected a comparison: >, >=, < or <=", l.i + 1);
        return SL_EPARSE;
    }
    al_skip(&l);
    at = l.i;
    if (al_lex_token(&l, tok, sizeof tok) != 0 ||
        al_parse_threshold(tok, c.metric, &c.threshold) != 0) {
        al_err(err, errlen, "at %zu: the threshold must be %s", at + 1,
               al_threshold_units(c.metric));
        return SL_EPARSE;
    }
    for (;;) {
        char kw[8];
        uint64_t *dst;
        al_skip(&l);
        if (l.i >= l.n)
            break;
        at = l.i;
        if (al_lex_ident(&l, kw, sizeof kw) != 0 ||
            (strcmp(kw, "over") != 0 && strcmp(kw, "for") != 0)) {
            al_err(err, errlen, "at %zu: expected 'over DURATION', 'for DURATION' or the end",
                   at + 1);
            return SL_EPARSE;
        }
        if (strcmp(kw, "over") == 0 ? seen_over++ : seen_for++) {
            al_err(err, errlen, "at %zu: '%s' given twice", at + 1, kw);
            return SL_EPARSE;
        }
        dst = strcmp(kw, "over") == 0 ? &c.window_ns : &c.for_ns;
        al_skip(&l);
        at = l.i;
        if (al_lex_token(&l, tok, sizeof tok) != 0 || al_parse_dur(tok, dst) != 0) {
            al_err(err, errlen, "at %zu: '%s' needs a duration like 30s, 5m or 1h", at + 1, kw);
            return SL_EPARSE;
        }
    }
    if (al_cond_check(&c, word, sizeof word, &field) != 0) {
        al_err(err, errlen, "%s", word);
        return SL_EPARSE;
    }
    *out = c;
    return 0;
}

/* Appends v as a bare word when it is one, else as a quoted string. */
static void al_put_value(char *buf, size_t len, size_t *used, const char *v)
{
    struct al_lex l = {v, strlen(v), 0};
    int bare = l.n > 0;

    for (size_t i = 0; bare && i < l.n; i++)
        if (!al_word_char(&l, i))
            bare = 0;
    if (*used >= len)
        return;
    if (bare) {
        *used += (size_t)snprintf(buf + *used, len - *used, "%s", v);
        return;
    }
    *used += (size_t)snprintf(buf + *used, len - *used, "\"");
    for (const char *p = v; *p && *used < len; p++)
        *used += (size_t)snprintf(buf + *used, len - *used, "%s%c",
                                  *p == '"' || *p == '\\' ? "\\" : "", *p);
    if (*used < len)
        *used += (size_t)snprintf(buf + *used, len - *used, "\"");
}

void col_al_expr_format(const col_al_cond *c, char *buf, size_t len)
{
    static const char *const cmps[] = {">", ">=", "<", "<="};
    char m[24], v[40], w[24], f[24], lv[16];
    size_t used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, len, "%s(", col_al_metric_name(c, m, sizeof m));
    if (c->caller[0]) {
        al_put_value(buf, len, &used, c->caller);
        if (used < len)
            used += (size_t)snprintf(buf + used, len - used, "->");
    }
    al_put_value(buf, len, &used, c->service);
    if (c->operation[0] && used < len) {
        used += (size_t)snprintf(buf + used, len - used, ", op=");
        al_put_value(buf, len, &used, c->operation);
    }
    if (c->metric == COL_AL_LOGS && used < len) {
        al_fmt_level(c->min_level, lv, sizeof lv);
        used += (size_t)snprintf(buf + used, len - used, ", level=%s", lv);
        if (c->match[0] && used < len) {
            used += (size_t)snprintf(buf + used, len - used, ", match=");
            al_put_value(buf, len, &used, c->match);
        }
    }
    if (c->metric != COL_AL_LOGS && c->caller[0] == '\0' && c->kind_mask != COL_KIND_ENTRY &&
        used < len)
        used += (size_t)snprintf(buf + used, len - used, ", kind=%s", al_kind_name(c));
    snprintf(v, sizeof v, "%.15g", c->threshold);
    al_fmt_dur(c->window_ns, w, sizeof w);
    if (used < len)
        used += (size_t)snprintf(buf + used, len - used, ") %s %s%s over %s", cmps[c->cmp], v,
                                 col_al_unit(c->metric), w);
    if (c->for_ns && used < len) {
        al_fmt_dur(c->for_ns, f, sizeof f);
        snprintf(buf + used, len - used, " for %s", f);
    }
}

/* ======================= templates ========================================== */

static const char *const al_fields[] = {
    "rule",  "service", "operation", "caller", "edge",  "metric", "value",     "threshold",
    "unit",  "severity", "state",    "window", "for",   "expr",   "starts_at", "description"};

int col_al_template_field_ok(const char *name, size_t len)
{
    if (len > 7 && memcmp(name, "labels.", 7) == 0)
        return 1;
    for (size_t i = 0; i < sizeof al_fields / sizeof al_fields[0]; i++)
        if (strlen(al_fields[i]) == len && memcmp(al_fields[i], name, len) == 0 &&
            strcmp(al_fields[i], "description") != 0)
            return 1;
    return 0;
}

/* Appends n bytes of p to out, stopping on a UTF-8 boundary when full. */
static void al_put(char *out, size_t cap, size_t *k, const char *p, size_t n)
{
    if (*k + n >= cap) {
        n = cap - 1 - *k;
        while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out + *k, p, n);
    *k += n;
    out[*k] = '\0';
}

int col_al_render(const char *tmpl, col_al_lookup_fn lookup, void *arg, char *out, size_t outlen,
                  char *err, size_t errlen)
{
    size_t k = 0, n = strlen(tmpl), i = 0;

    if (outlen == 0)
        return SL_EINVAL;
    if (outlen > COL_AL_TEMPLATE_MAX)
        outlen = COL_AL_TEMPLATE_MAX;
    out[0] = '\0';
    while (i < n) {
        const char *open = strstr(tmpl + i, "{{"), *close, *a, *b, *v;
        if (open == NULL) {
            al_put(out, outlen, &k, tmpl + i, n - i);
            break;
        }
        al_put(out, outlen, &k, tmpl + i, (size_t)(open - (tmpl + i)));
        close = strstr(open + 2, "}}");
        if (close == NULL || close - open > 80) {
            al_err(err, errlen, "'{{' at byte %zu has no '}}' within 80 bytes",
                   (size_t)(open - tmpl) + 1);
            return SL_EPARSE;
        }
        a = open + 2;
        b = close;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        v = lookup(a, (size_t)(b - a), arg);
        if (v == NULL) {
            al_err(err, errlen,
                   "unknown field {{%.*s}}; use rule, service, operation, caller, edge, metric, "
                   "value, threshold, unit, severity, state, window, for, expr, starts_at or "
                   "labels.KEY",
                   (int)(b - a), a);
            return SL_EPARSE;
        }
        al_put(out, outlen, &k, v, strlen(v));
        i = (size_t)(close + 2 - tmpl);
    }
    return 0;
}

static const char *al_check_lookup(const char *field, size_t len, void *arg)
{
    (void)arg;
    return col_al_template_field_ok(field, len) ? "" : NULL;
}

/* ======================= rules and notifiers from JSON ========================= */

static const char *al_jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Optional string field: 0 absent, 1 present (into out), -1 wrong type or too long. */
static int al_field_str(const json_t *o, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(o, key);
    size_t n;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    n = json_string_length(v);
    if (n >= cap || !al_text_ok(json_string_value(v), n))
        return -1;
    memcpy(out, json_string_value(v), n + 1);
    return 1;
}

static int al_field_dur(const json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) == 0) {
        *out = 0;
        return 1;
    }
    if (!json_is_string(v) || al_parse_dur(json_string_value(v), out) != 0)
        return -1;
    return 1;
}

#define AL_FAIL(fld, ...)                                                                      \
    do {                                                                                       \
        char m_[384];                                                                          \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                  \
        al_err(err, errlen, "rule '%s': field '%s': %s", rname, fld, m_);                      \
        goto fail;                                                                             \
    } while (0)

static const char *const al_rule_keys[] = {
    "name",  "expr",          "metric",     "service",  "operation",       "caller",
    "kind",  "level",         "match",      "op",       "threshold",       "window",
    "for",   "keep_firing_for", "repeat_interval", "hysteresis", "severity", "labels",
    "description", "notify",  "disabled"};

int col_al_rule_parse(const json_t *j, const col_al_set *set, col_al_rule *out, char *err,
                      size_t errlen)
{
    col_al_rule r;
    const char *rname = "?", *k, *field = NULL;
    json_t *v;
    char msg[256];
    int rc;

    memset(&r, 0, sizeof r);
    if (!json_is_object(j)) {
        al_err(err, errlen, "a rule must be a JSON object with at least a name");
        return SL_EINVAL;
    }
    if (al_jstr(j, "name") != NULL)
        rname = al_jstr(j, "name");
    if (strlen(rname) > 64)
        rname = "(name too long)";
    if (al_jstr(j, "name") == NULL || !al_name_ok(al_jstr(j, "name")))
        AL_FAIL("name", "required; 1-127 characters of A-Z a-z 0-9 _ . -");
    snprintf(r.name, sizeof r.name, "%s", al_jstr(j, "name"));
    json_object_foreach((json_t *)j, k, v)
    {
        size_t i = 0;
        while (i < sizeof al_rule_keys / sizeof al_rule_keys[0] && strcmp(k, al_rule_keys[i]))
            i++;
        if (i == sizeof al_rule_keys / sizeof al_rule_keys[0])
            AL_FAIL(k, "unknown field (see docs/alerts.md for the rule fields)");
    }
    /* the condition: an expression, or the same thing field by field */
    if (json_object_get(j, "expr") != NULL) {
        static const char *const cond_keys[] = {"metric", "service", "operation", "caller",
                                                "kind",   "level",   "match",     "op",
                                                "threshold"};
        v = json_object_get(j, "expr");
        if (!json_is_string(v))
            AL_FAIL("expr", "must be a string like \"p99(checkout) > 300ms over 5m\"");
        for (size_t i = 0; i < sizeof cond_keys / sizeof cond_keys[0]; i++)
            if (json_object_get(j, cond_keys[i]) != NULL)
                AL_FAIL(cond_keys[i], "give either 'expr' or the condition fields, not both");
        if (col_al_expr_parse(json_string_value(v), json_string_length(v), &r.c, msg,
                              sizeof msg) != 0)
            AL_FAIL("expr", "%s", msg);
        if (json_object_get(j, "window") != NULL || json_object_get(j, "for") != NULL)
            AL_FAIL(json_object_get(j, "window") ? "window" : "for",
                    "give window and for inside 'expr' (over 5m for 1m)");
    } else {
        char tmp[COL_AL_STR_MAX];
        r.c.kind_mask = COL_KIND_ENTRY;
        r.c.window_ns = AL_DEFAULT_WINDOW;
        if (al_field_str(j, "metric", tmp, 16) != 1 || al_parse_metric(tmp, &r.c) != 0)
            AL_FAIL("metric", "required: pNN (p50, p99, p99.9), error_rate, rate or logs "
                              "(or give 'expr')");
        if (al_field_str(j, "service", r.c.service, sizeof r.c.service) != 1)
            AL_FAIL("service", "required: the service name (at most %d bytes)",
                    COL_AL_STR_MAX - 1);
        if (al_field_str(j, "operation", r.c.operation, sizeof r.c.operation) < 0)
            AL_FAIL("operation", "must be a string of at most %d bytes", COL_AL_STR_MAX - 1);
        if (al_field_str(j, "caller", r.c.caller, sizeof r.c.caller) < 0)
            AL_FAIL("caller", "must be a service name (the edge caller -> service)");
        if (al_field_str(j, "match", r.c.match, sizeof r.c.match) < 0)
            AL_FAIL("match", "must be a string of at most %d bytes", COL_AL_STR_MAX - 1);
        rc = al_field_str(j, "kind", tmp, 16);
        if (rc < 0 || (rc == 1 && al_parse_kind(tmp, &r.c) != 0))
            AL_FAIL("kind", "must be entry, all, server, client, internal, producer or consumer");
        rc = al_field_str(j, "level", tmp, 16);
        if (rc < 0 || (rc == 1 && al_parse_level(tmp, &r.c.min_level) != 0))
            AL_FAIL("level", "must be trace, debug, info, warn, error or fatal");
        if (al_field_str(j, "op", tmp, 4) != 1)
            AL_FAIL("op", "required: one of >, >=, <, <=");
        if (strcmp(tmp, ">") == 0)
            r.c.cmp = COL_AL_GT;
        else if (strcmp(tmp, ">=") == 0)
            r.c.cmp = COL_AL_GE;
        else if (strcmp(tmp, "<") == 0)
            r.c.cmp = COL_AL_LT;
        else if (strcmp(tmp, "<=") == 0)
            r.c.cmp = COL_AL_LE;
        else
            AL_FAIL("op", "must be one of >, >=, <, <=");
        v = json_object_get(j, "threshold");
        if (json_is_number(v)) {
            r.c.threshold = json_number_value(v);
            if (!isfinite(r.c.threshold) || r.c.threshold < 0)
                AL_FAIL("threshold", "must be a number >= 0");
        } else if (!json_is_string(v) ||
                   al_parse_threshold(json_string_value(v), r.c.metric, &r.c.threshold) != 0)
            AL_FAIL("threshold", "required: %s", al_threshold_units(r.c.metric));
        if (al_field_dur(j, "window", &r.c.window_ns) < 0)
            AL_FAIL("window", "must be a duration like 5m");
        if (al_field_dur(j, "for", &r.c.for_ns) < 0)
            AL_FAIL("for", "must be a duration like 1m, or 0");
        if (al_cond_check(&r.c, msg, sizeof msg, &field) != 0)
            AL_FAIL(field, "%s", msg);
    }
    col_al_expr_format(&r.c, r.expr, sizeof r.expr);

    r.repeat_ns = AL_DEFAULT_REPEAT;
    r.hysteresis = 0.1;
    snprintf(r.severity, sizeof r.severity, "warning");
    if (al_field_dur(j, "keep_firing_for", &r.keep_firing_for_ns) < 0 ||
        r.keep_firing_for_ns > AL_MAX_FOR)
        AL_FAIL("keep_firing_for", "must be a duration up to 7d, like 2m, or 0");
    if (al_field_dur(j, "repeat_interval", &r.repeat_ns) < 0 ||
        (r.repeat_ns != 0 && r.repeat_ns < 10 * COL_AL_SEC))
        AL_FAIL("repeat_interval", "must be a duration of at least 10s like 4h, or 0 (never)");
    v = json_object_get(j, "hysteresis");
    if (v != NULL) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 0.9)
            AL_FAIL("hysteresis", "must be a fraction of the threshold in 0..0.9 (0.1 = 10%%)");
        r.hysteresis = json_number_value(v);
    }
    rc = al_field_str(j, "severity", r.severity, sizeof r.severity);
    if (rc < 0 || (rc == 1 && !al_name_ok(r.severity)))
        AL_FAIL("severity", "must be a word like critical, warning or info (at most 31 bytes)");
    v = json_object_get(j, "labels");
    if (v != NULL && !json_is_null(v)) {
        const char *lk;
        json_t *lv;
        if (!json_is_object(v) || json_object_size(v) > COL_AL_MAX_LABELS)
            AL_FAIL("labels", "must be an object of at most %d string values",
                    COL_AL_MAX_LABELS);
        json_object_foreach(v, lk, lv)
        {
            if (!al_name_ok(lk) || strlen(lk) > 64)
                AL_FAIL("labels", "key '%.64s' must be 1-64 characters of A-Z a-z 0-9 _ . -",
                        lk);
            if (!json_is_string(lv) || json_string_length(lv) >= COL_AL_STR_MAX ||
                !al_text_ok(json_string_value(lv), json_string_length(lv)))
                AL_FAIL("labels", "value of '%s' must be a string of at most %d bytes", lk,
                        COL_AL_STR_MAX - 1);
        }
        r.labels = json_deep_copy(v);
        if (r.labels == NULL)
            AL_FAIL("labels", "out of memory");
    }
    rc = al_field_str(j, "description", r.description, sizeof r.description);
    if (rc < 0)
        AL_FAIL("description", "must be a string of at most %d bytes", COL_AL_TEMPLATE_MAX - 1);
    if (rc == 1) {
        char tmp[COL_AL_TEMPLATE_MAX];
        if (col_al_render(r.description, al_check_lookup, NULL, tmp, sizeof tmp, msg,
                          sizeof msg) != 0)
            AL_FAIL("description", "%s", msg);
    }
    v = json_object_get(j, "notify");
    if (v != NULL && !json_is_null(v)) {
        size_t i;
        json_t *nv;
        if (!json_is_array(v) || json_array_size(v) > COL_AL_MAX_NOTIFY)
            AL_FAIL("notify", "must be an array of at most %d notifier names",
                    COL_AL_MAX_NOTIFY);
        json_array_foreach(v, i, nv)
        {
            const char *nn = json_string_value(nv);
            if (nn == NULL || set == NULL || col_al_set_notifier(set, nn) == NULL)
                AL_FAIL("notify", "'%.64s' is not a notifier of this rules file (define it "
                                  "under \"notifiers\")",
                        nn ? nn : "(not a string)");
            for (int q = 0; q < r.nnotify; q++)
                if (strcmp(r.notify[q], nn) == 0)
                    AL_FAIL("notify", "'%.64s' is listed twice", nn);
            snprintf(r.notify[r.nnotify++], COL_AL_NAME_MAX, "%s", nn);
        }
    }
    v = json_object_get(j, "disabled");
    if (v != NULL) {
        if (!json_is_boolean(v))
            AL_FAIL("disabled", "must be true or false");
        r.disabled = json_is_true(v);
    }
    *out = r;
    return 0;
fail:
    json_decref(r.labels);
    return SL_EINVAL;
}

#undef AL_FAIL

void col_al_rule_clear(col_al_rule *r)
{
    if (r == NULL)
        return;
    json_decref(r->labels);
    r->labels = NULL;
}

static void al_notifier_clear(col_al_notifier *n)
{
    json_decref(n->headers);
    n->headers = NULL;
    for (int i = 0; i < COL_AL_MAX_ARGV && n->argv[i] != NULL; i++) {
        free(n->argv[i]);
        n->argv[i] = NULL;
    }
}

#define NFAIL(fld, ...)                                                                        \
    do {                                                                                       \
        char m_[384];                                                                          \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                  \
        al_err(err, errlen, "notifier '%s': field '%s': %s", nname, fld, m_);                  \
        goto fail;                                                                             \
    } while (0)

static int al_notifier_parse(const json_t *j, col_al_notifier *out, char *err, size_t errlen)
{
    col_al_notifier n;
    const char *nname = "?", *type, *k;
    json_t *v;
    int rc;

    memset(&n, 0, sizeof n);
    if (!json_is_object(j)) {
        al_err(err, errlen, "a notifier must be a JSON object with a name and a type");
        return SL_EINVAL;
    }
    if (al_jstr(j, "name") != NULL && strlen(al_jstr(j, "name")) <= 64)
        nname = al_jstr(j, "name");
    if (al_jstr(j, "name") == NULL || !al_name_ok(al_jstr(j, "name")))
        NFAIL("name", "required; 1-127 characters of A-Z a-z 0-9 _ . -");
    snprintf(n.name, sizeof n.name, "%s", al_jstr(j, "name"));
    json_object_foreach((json_t *)j, k, v)
    {
        static const char *const keys[] = {"name",         "type",    "url",    "headers",
                                           "argv",         "timeout", "max_attempts",
                                           "backoff"};
        size_t i = 0;
        while (i < sizeof keys / sizeof keys[0] && strcmp(k, keys[i]))
            i++;
        if (i == sizeof keys / sizeof keys[0])
            NFAIL(k, "unknown field (name, type, url, headers, argv, timeout, max_attempts, "
                     "backoff)");
    }
    type = al_jstr(j, "type");
    if (type != NULL && strcmp(type, "webhook") == 0)
        n.type = COL_AL_WEBHOOK;
    else if (type != NULL && strcmp(type, "command") == 0)
        n.type = COL_AL_COMMAND;
    else
        NFAIL("type", "required: webhook or command");
    n.timeout_ns = (n.type == COL_AL_WEBHOOK ? 5 : 10) * COL_AL_SEC;
    n.max_attempts = 10;
    n.backoff_ns = COL_AL_SEC;
    if (n.type == COL_AL_WEBHOOK) {
        rc = al_field_str(j, "url", n.url, sizeof n.url);
        if (rc != 1 || (strncmp(n.url, "http://", 7) != 0 && strncmp(n.url, "https://", 8) != 0) ||
            strpbrk(n.url, " \"<>\\^`{|}") != NULL)
            NFAIL("url", "required: an http:// or https:// URL of at most 1023 bytes");
        if (json_object_get(j, "argv") != NULL)
            NFAIL("argv", "a webhook has a url, not argv");
        v = json_object_get(j, "headers");
        if (v != NULL) {
            const char *hk;
            json_t *hv;
            if (!json_is_object(v) || json_object_size(v) > 16)
                NFAIL("headers", "must be an object of at most 16 string values");
            json_object_foreach(v, hk, hv)
            {
                const char *s = json_string_value(hv);
                if (!al_name_ok(hk) || s == NULL || strlen(s) > 1024 || strpbrk(s, "\r\n"))
                    NFAIL("headers", "'%.64s' must be a header name with a one-line string", hk);
            }
            n.headers = json_deep_copy(v);
        }
    } else {
        size_t i;
        json_t *a;
        v = json_object_get(j, "argv");
        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > COL_AL_MAX_ARGV)
            NFAIL("argv", "required: [\"/path/to/program\", \"arg\", ...] (1..%d strings)",
                  COL_AL_MAX_ARGV);
        if (json_object_get(j, "url") != NULL || json_object_get(j, "headers") != NULL)
            NFAIL("url", "a command has argv, not a url or headers");
        json_array_foreach(v, i, a)
        {
            if (!json_is_string(a) || json_string_length(a) == 0 ||
                json_string_length(a) > 4096 || strlen(json_string_value(a)) != json_string_length(a))
                NFAIL("argv", "item %zu must be a non-empty string", i);
            n.argv[i] = strdup(json_string_value(a));
            if (n.argv[i] == NULL)
                NFAIL("argv", "out of memory");
        }
    }
    if (al_field_dur(j, "timeout", &n.timeout_ns) < 0 || n.timeout_ns < 100000000ULL ||
        n.timeout_ns > 300 * COL_AL_SEC)
        NFAIL("timeout", "must be a duration in 100ms..5m");
    if (al_field_dur(j, "backoff", &n.backoff_ns) < 0 || n.backoff_ns < 100000000ULL ||
        n.backoff_ns > 3600 * COL_AL_SEC)
        NFAIL("backoff", "must be a duration in 100ms..1h (the first retry delay)");
    v = json_object_get(j, "max_attempts");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100)
            NFAIL("max_attempts", "must be an integer in 1..100");
        n.max_attempts = (int)json_integer_value(v);
    }
    *out = n;
    return 0;
fail:
    al_notifier_clear(&n);
    return SL_EINVAL;
}

#undef NFAIL

void col_al_set_ref(col_al_set *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
}

void col_al_set_unref(col_al_set *s)
{
    if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < s->nrules; i++)
        col_al_rule_clear(&s->rules[i]);
    for (size_t i = 0; i < s->nnotifiers; i++)
        al_notifier_clear(&s->notifiers[i]);
    free(s->rules);
    free(s->notifiers);
    json_decref(s->doc);
    free(s);
}

const col_al_rule *col_al_set_rule(const col_al_set *s, const char *name)
{
    for (size_t i = 0; s != NULL && i < s->nrules; i++)
        if (strcmp(s->rules[i].name, name) == 0)
            return &s->rules[i];
    return NULL;
}

const col_al_notifier *col_al_set_notifier(const col_al_set *s, const char *name)
{
    for (size_t i = 0; s != NULL && i < s->nnotifiers; i++)
        if (strcmp(s->notifiers[i].name, name) == 0)
            return &s->notifiers[i];
    return NULL;
}

int col_al_set_build(const json_t *doc, col_al_set **out, char *err, size_t errlen)
{
    col_al_set *s;
    const json_t *rules, *nots, *v;
    const char *k;
    size_t i;

    if (!json_is_object(doc)) {
        al_err(err, errlen, "the rules document must be a JSON object "
                            "{\"notifiers\": [...], \"rules\": [...]}");
        return SL_EINVAL;
    }
    json_object_foreach((json_t *)doc, k, v)
        if (strcmp(k, "version") != 0 && strcmp(k, "notifiers") != 0 && strcmp(k, "rules") != 0) {
            al_err(err, errlen, "unknown top-level field '%.64s' (version, notifiers, rules)", k);
            return SL_EINVAL;
        }
    v = json_object_get(doc, "version");
    if (v != NULL && !(json_is_integer(v) && json_integer_value(v) == 1)) {
        al_err(err, errlen, "'version' must be 1");
        return SL_EINVAL;
    }
    rules = json_object_get(doc, "rules");
    nots = json_object_get(doc, "notifiers");
    if ((rules != NULL && !json_is_array(rules)) || (nots != NULL && !json_is_array(nots))) {
        al_err(err, errlen, "'rules' and 'notifiers' must be arrays");
        return SL_EINVAL;
    }
    if (json_array_size(rules) > COL_AL_MAX_RULES ||
        json_array_size(nots) > COL_AL_MAX_NOTIFIERS) {
        al_err(err, errlen, "at most %d rules and %d notifiers", COL_AL_MAX_RULES,
               COL_AL_MAX_NOTIFIERS);
        return SL_ETOOBIG;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return SL_ENOMEM;
    s->refs = 1;
    s->rules = calloc(json_array_size(rules) + 1, sizeof *s->rules);
    s->notifiers = calloc(json_array_size(nots) + 1, sizeof *s->notifiers);
    s->doc = json_deep_copy(doc);
    if (s->rules == NULL || s->notifiers == NULL || s->doc == NULL) {
        col_al_set_unref(s);
        return SL_ENOMEM;
    }
    json_array_foreach(nots, i, v)
    {
        col_al_notifier n;
        if (al_notifier_parse(v, &n, err, errlen) != 0)
            goto fail;
        if (col_al_set_notifier(s, n.name) != NULL) {
            al_err(err, errlen, "notifier '%s': field 'name': defined twice", n.name);
            al_notifier_clear(&n);
            goto fail;
        }
        s->notifiers[s->nnotifiers++] = n;
    }
    json_array_foreach(rules, i, v)
    {
        col_al_rule r;
        if (col_al_rule_parse(v, s, &r, err, errlen) != 0)
            goto fail;
        if (col_al_set_rule(s, r.name) != NULL) {
            al_err(err, errlen, "rule '%s': field 'name': defined twice", r.name);
            col_al_rule_clear(&r);
            goto fail;
        }
        s->rules[s->nrules++] = r;
    }
    *out = s;
    return 0;
fail:
    col_al_set_unref(s);
    return SL_EINVAL;
}
