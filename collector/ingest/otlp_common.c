/*
 * otlp_common.c - the batch builder shared by the receivers (otlp_int.h).
 */
#include "otlp_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sightline.h"
#include "common/slc_util.h"

int col_conv_init(col_conv *c, const slc_wire_limits *lim, int logs, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (lim != NULL)
        c->lim = *lim;
    else
        slc_wire_limits_default(&c->lim);
    c->err = err;
    c->errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    c->item_name = logs ? "log record" : "span";
    c->max_items = logs ? c->lim.logs : c->lim.spans;
    c->b = slc_batch_new();
    if (c->b == NULL)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
}

void col_conv_free(col_conv *c)
{
    slc_batch_free(c->b);
    c->b = NULL;
    free(c->ctx);
    c->ctx = NULL;
}

int col_conv_fail(col_conv *c, int rv, const char *fmt, ...)
{
    va_list ap;

    if (c->err != NULL && c->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return rv;
}

int col_conv_done(col_conv *c, slc_batch **out, col_conv_report *rep)
{
    if (c->nitems > 0 && c->rep.accepted == 0)
        return col_conv_fail(c, SL_EWIRE_VALUE, "no valid %s in the request (%u rejected): %s",
                             c->item_name, c->rep.rejected, c->rep.reason);
    if (rep != NULL)
        *rep = c->rep;
    *out = c->b;
    c->b = NULL;
    return 0;
}

int col_conv_item_begin(col_conv *c)
{
    if (c->nitems >= c->max_items)
        return col_conv_fail(c, SL_EWIRE_LIMIT,
                             "more than %u %ss in one request; send smaller batches",
                             c->max_items, c->item_name);
    c->nitems++;
    c->bad = 0;
    c->m_attrs = c->b->nattrs;
    c->m_events = c->b->nevents;
    c->m_links = c->b->nlinks;
    c->group_first = c->b->nattrs;
    c->group_name = c->item_name;
    return 0;
}

void col_conv_bad(col_conv *c, const char *fmt, ...)
{
    va_list ap;

    if (c->bad)
        return;
    c->bad = 1;
    if (c->rep.reason[0] == '\0') {
        int k = snprintf(c->rep.reason, sizeof c->rep.reason, "%s %u: ", c->item_name,
                         c->nitems - 1);
        if (k > 0 && (size_t)k < sizeof c->rep.reason) {
            va_start(ap, fmt);
            vsnprintf(c->rep.reason + k, sizeof c->rep.reason - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
}

void col_conv_group_begin(col_conv *c, const char *name)
{
    c->group_first = c->b->nattrs;
    c->group_name = name;
}

uint32_t col_conv_group_count(const col_conv *c)
{
    return c->b->nattrs - c->group_first;
}

/* Length and UTF-8 checks of one string; returns NULL or the problem. */
static const char *col_conv_str_problem(const col_conv *c, const char *s, size_t len)
{
    if (len > c->lim.string_bytes)
        return "is longer than the string limit";
    if (!slc_utf8_valid(s, len))
        return "is not valid UTF-8";
    return NULL;
}

int col_conv_str(col_conv *c, const char *s, size_t len, const char *what, uint32_t *idx)
{
    const char *why;

    *idx = 0;
    if (c->bad || len == 0)
        return 0;
    why = col_conv_str_problem(c, s, len);
    if (why != NULL) {
        col_conv_bad(c, "%s %s (%zu bytes, limit %u)", what, why, len, c->lim.string_bytes);
        return 0;
    }
    if (slc_batch_intern(c->b, s, len, idx) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
}

int col_conv_str_json(col_conv *c, const json_t *v, const char *what, uint32_t *idx)
{
    char *text;
    int rv;

    *idx = 0;
    if (c->bad)
        return 0;
    if (json_is_string(v)) /* bytes: their base64 text, unquoted */
        return col_conv_str(c, json_string_value(v), json_string_length(v), what, idx);
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return col_conv_fail(c, SL_ENOMEM, "out of memory rendering %s as JSON", what);
    rv = col_conv_str(c, text, strlen(text), what, idx);
    free(text);
    return rv;
}

/* Maps a value to an slc_attr; strings interned.  Non-finite doubles
 * become strings because the wire format allows only finite ones. */
static int col_conv_mkattr(col_conv *c, const col_val *v, const char *what, slc_attr *a)
{
    a->type = v->type;
    switch (v->type) {
    case SLC_V_STR:
        return col_conv_str(c, v->s, v->len, what, &a->v.str);
    case SLC_V_INT:
        a->v.i = v->i;
        return 0;
    case SLC_V_BOOL:
        a->v.b = v->b ? 1 : 0;
        return 0;
    case SLC_V_DBL:
        if (isfinite(v->d)) {
            a->v.d = v->d;
            return 0;
        }
        a->type = SLC_V_STR;
        {
            const char *t = isnan(v->d) ? "NaN" : v->d > 0 ? "Infinity" : "-Infinity";
            return col_conv_str(c, t, strlen(t), what, &a->v.str);
        }
    default:
        col_conv_bad(c, "%s has an unknown value type", what);
        return 0;
    }
}

int col_conv_attr(col_conv *c, const char *key, size_t klen, const col_val *v)
{
    slc_attr a = {0};
    int rv;

    if (c->bad || klen == 0)
        return 0;
    if (col_conv_group_count(c) >= c->lim.attrs_per_item) {
        col_conv_bad(c, "%s has more than %u attributes", c->group_name, c->lim.attrs_per_item);
        return 0;
    }
    if ((rv = col_conv_str(c, key, klen, "attribute key", &a.key)) != 0 ||
        (rv = col_conv_mkattr(c, v, "attribute value", &a)) != 0)
        return rv;
    if (c->bad)
        return 0;
    if (slc_batch_add_attr(c->b, &a, NULL) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
}

int col_conv_attr_json(col_conv *c, const char *key, size_t klen, const json_t *v)
{
    char *text;
    col_val val = {.type = SLC_V_STR};
    int rv;

    if (c->bad || klen == 0)
        return 0;
    if (json_is_string(v)) { /* bytes: their base64 text, unquoted */
        val.s = json_string_value(v);
        val.len = json_string_length(v);
        return col_conv_attr(c, key, klen, &val);
    }
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return col_conv_fail(c, SL_ENOMEM, "out of memory rendering an attribute as JSON");
    val.s = text;
    val.len = strlen(text);
    rv = col_conv_attr(c, key, klen, &val);
    free(text);
    return rv;
}

/* ---- context: resource and scope ------------------------------------------ */

int col_conv_ctx_reset(col_conv *c)
{
    c->nctx = c->nres = 0;
    if (slc_batch_intern(c->b, COL_CONV_DEFAULT_SERVICE, strlen(COL_CONV_DEFAULT_SERVICE),
                         &c->service) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    return 0;
}

int col_conv_ctx_attr(col_conv *c, const char *key, size_t klen, const col_val *v,
                      int resource)
{
    const char *where = resource ? "resource" : "scope";
    const char *why;
    slc_attr a = {0};

    if (klen == 0)
        return 0;
    if ((why = col_conv_str_problem(c, key, klen)) != NULL)
        return col_conv_fail(c, SL_EWIRE_VALUE, "%s attribute key %s", where, why);
    if (v->type == SLC_V_STR && (why = col_conv_str_problem(c, v->s, v->len)) != NULL)
        return col_conv_fail(c, SL_EWIRE_VALUE, "%s attribute '%.*s' %s", where,
                             (int)(klen > 64 ? 64 : klen), key, why);
    if (resource && klen == 12 && memcmp(key, "service.name", 12) == 0) {
        if (v->type != SLC_V_STR || v->len == 0)
            return 0;
        if (slc_batch_intern(c->b, v->s, v->len, &c->service) != 0)
            return col_conv_fail(c, SL_ENOMEM, "out of memory");
        return 0;
    }
    if (c->nctx >= c->lim.attrs_per_item)
        return 0; /* the item's own attributes come first; extra context is dropped */
    if (c->nctx == c->cap_ctx) {
        uint32_t ncap = c->cap_ctx ? c->cap_ctx * 2 : 16;
        slc_attr *na = realloc(c->ctx, (size_t)ncap * sizeof *na);
        if (na == NULL)
            return col_conv_fail(c, SL_ENOMEM, "out of memory");
        c->ctx = na;
        c->cap_ctx = ncap;
    }
    if (slc_batch_intern(c->b, key, klen, &a.key) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    /* mkattr cannot mark anything bad here: the strings were checked */
    int saved = c->bad;
    c->bad = 0;
    int rv = col_conv_mkattr(c, v, "attribute value", &a);
    c->bad = saved;
    if (rv != 0)
        return rv;
    c->ctx[c->nctx++] = a;
    return 0;
}

int col_conv_ctx_attr_json(col_conv *c, const char *key, size_t klen, const json_t *v,
                           int resource)
{
    char *text;
    col_val val = {.type = SLC_V_STR};
    int rv;

    if (json_is_string(v)) { /* bytes: their base64 text, unquoted */
        val.s = json_string_value(v);
        val.len = json_string_length(v);
        return col_conv_ctx_attr(c, key, klen, &val, resource);
    }
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return col_conv_fail(c, SL_ENOMEM, "out of memory rendering an attribute as JSON");
    val.s = text;
    val.len = strlen(text);
    rv = col_conv_ctx_attr(c, key, klen, &val, resource);
    free(text);
    return rv;
}

void col_conv_ctx_resource_done(col_conv *c)
{
    c->nres = c->nctx;
}

void col_conv_ctx_scope_reset(col_conv *c)
{
    c->nctx = c->nres;
}

static int col_conv_ctx_range(col_conv *c, uint32_t from, uint32_t to)
{
    for (uint32_t k = from; k < to; k++) {
        const slc_attr *a = &c->ctx[k];
        int dup = 0;
        if (col_conv_group_count(c) >= c->lim.attrs_per_item)
            return 0;
        for (uint32_t i = c->group_first; i < c->b->nattrs && !dup; i++)
            dup = c->b->attrs[i].key == a->key;
        if (!dup && slc_batch_add_attr(c->b, a, NULL) != 0)
            return col_conv_fail(c, SL_ENOMEM, "out of memory");
    }
    return 0;
}

int col_conv_ctx_apply(col_conv *c)
{
    int rv;

    if (c->bad)
        return 0;
    /* Scope attributes first: nearer to the item than the resource's. */
    if ((rv = col_conv_ctx_range(c, c->nres, c->nctx)) != 0)
        return rv;
    return col_conv_ctx_range(c, 0, c->nres);
}

/* ---- ids ------------------------------------------------------------------ */

int col_conv_id_hex(col_conv *c, const char *s, size_t len, uint8_t *out, size_t n,
                    int allow_empty, int pad, const char *what)
{
    char buf[64];

    if (len == 0) {
        memset(out, 0, n);
        if (allow_empty)
            return 0;
        col_conv_bad(c, "%s is missing", what);
        return -1;
    }
    if (len != 2 * n && !(pad && len < 2 * n)) {
        col_conv_bad(c, "%s must be %zu hex digits, got %zu", what, 2 * n, len);
        return -1;
    }
    /* Zipkin ids may be shorter: left-pad with zeros (high bits zero). */
    memset(buf, '0', 2 * n);
    memcpy(buf + 2 * n - len, s, len);
    if (slc_hex_decode(buf, 2 * n, out, n) != 0) {
        col_conv_bad(c, "%s '%.*s' is not hex", what, (int)(len > 40 ? 40 : len), s);
        return -1;
    }
    if (slc_is_zero(out, n)) {
        if (allow_empty)
            return 0; /* optional ids: all zero means "none", as in W3C */
        col_conv_bad(c, "%s is all zero", what);
        return -1;
    }
    return 1;
}

int col_conv_id_raw(col_conv *c, const uint8_t *p, size_t len, uint8_t *out, size_t n,
                    int allow_empty, const char *what)
{
    if (len == 0) {
        memset(out, 0, n);
        if (allow_empty)
            return 0;
        col_conv_bad(c, "%s is missing", what);
        return -1;
    }
    if (len != n) {
        col_conv_bad(c, "%s must be %zu bytes, got %zu", what, n, len);
        return -1;
    }
    if (slc_is_zero(p, n)) {
        memset(out, 0, n);
        if (allow_empty)
            return 0;
        col_conv_bad(c, "%s is all zero", what);
        return -1;
    }
    memcpy(out, p, n);
    return 1;
}

uint64_t col_conv_event_time(col_conv *c, uint64_t start, uint64_t t)
{
    uint64_t d = t > start ? t - start : start - t;

    if (t == 0)
        return start;
    if (d >= (1ULL << 62))
        col_conv_bad(c, "an event time is more than 146 years away from the span's start");
    return t;
}

/* ---- commit --------------------------------------------------------------- */

static void col_conv_rollback(col_conv *c)
{
    /* Attributes, events and links are plain arrays appended at the end;
     * dropping the item's tail keeps the batch as it was before it (its
     * interned strings stay, unreferenced and harmless). */
    c->b->nattrs = c->m_attrs;
    c->b->nevents = c->m_events;
    c->b->nlinks = c->m_links;
    c->rep.rejected++;
}

int col_conv_commit_span(col_conv *c, slc_span *s)
{
    if (!c->bad && s->end_ns < s->start_ns)
        col_conv_bad(c, "end time is before start time");
    /* OTLP: "an empty name is equivalent to an unknown span name"; the
     * wire format requires a name, so say it. */
    if (!c->bad && s->name == 0 &&
        slc_batch_intern(c->b, COL_CONV_UNNAMED, strlen(COL_CONV_UNNAMED), &s->name) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    if (c->bad) {
        col_conv_rollback(c);
        return 0;
    }
    if (slc_batch_add_span(c->b, s, NULL) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    c->rep.accepted++;
    return 0;
}

int col_conv_commit_log(col_conv *c, slc_log *l)
{
    if (c->bad) {
        col_conv_rollback(c);
        return 0;
    }
    if (slc_batch_add_log(c->b, l, NULL) != 0)
        return col_conv_fail(c, SL_ENOMEM, "out of memory");
    c->rep.accepted++;
    return 0;
}

/* ---- small helpers -------------------------------------------------------- */

uint8_t col_conv_severity_text(const char *s, size_t len)
{
    static const struct {
        const char *name;
        uint8_t base;
    } names[] = {
        {"TRACE", SLC_LVL_TRACE}, {"DEBUG", SLC_LVL_DEBUG}, {"INFO", SLC_LVL_INFO},
        {"INFORMATION", SLC_LVL_INFO}, {"NOTICE", SLC_LVL_INFO + 1}, {"WARN", SLC_LVL_WARN},
        {"WARNING", SLC_LVL_WARN}, {"ERROR", SLC_LVL_ERROR}, {"ERR", SLC_LVL_ERROR},
        {"FATAL", SLC_LVL_FATAL}, {"CRITICAL", SLC_LVL_FATAL}, {"CRIT", SLC_LVL_FATAL},
        {"EMERGENCY", SLC_LVL_FATAL}, {"ALERT", SLC_LVL_FATAL},
    };
    size_t n = len, digits = 0;

    /* OpenTelemetry's short names carry a 2..4 suffix: INFO2, WARN4. */
    while (n > 0 && s[n - 1] >= '0' && s[n - 1] <= '9' && digits < 1) {
        n--;
        digits++;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) != n || strncasecmp(s, names[i].name, n) != 0)
            continue;
        if (digits == 0)
            return names[i].base;
        int k = s[n] - '0';
        if (k < 1 || k > 4 || names[i].base % 4 != 1)
            return names[i].base;
        return (uint8_t)(names[i].base + k - 1);
    }
    return 0;
}

json_t *col_conv_base64(const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = (n + 2) / 3 * 4;
    char *buf = malloc(olen + 1);
    size_t o = 0;
    json_t *j;

    if (buf == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        buf[o++] = tab[(v >> 18) & 63];
        buf[o++] = tab[(v >> 12) & 63];
        buf[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        buf[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    buf[o] = '\0';
    j = json_stringn(buf, o);
    free(buf);
    return j;
}
