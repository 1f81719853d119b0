/*
 * sl_propagate.c - W3C Trace Context: traceparent and tracestate parsing,
 * formatting, and inject/extract through header-carrier callbacks.
 *
 * Parsing follows https://www.w3.org/TR/trace-context/ exactly, because a
 * lenient parser here silently splits or merges other teams' traces:
 * lower-case hex only, version ff invalid, version 00 exactly 55 characters,
 * higher versions parsed by their version-00 prefix when the next character
 * is '-', all-zero trace or parent ids invalid.
 *
 * It sits above sl_tracer.c (a span's context, sl_context_is_valid) and
 * nothing else in the SDK calls it.
 */
#include <stdio.h>

#include "sl_internal.h"
#include "common/slc_util.h"

static int lhex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

static int hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* Decodes n lower-case hex characters into n/2 bytes; -1 on any other
 * character (upper case included, as the specification demands). */
static int lhex_decode(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (!lhex(s[i]))
            return -1;
    for (size_t i = 0; i < n / 2; i++)
        out[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
    return 0;
}

static int ows(char c) { return c == ' ' || c == '\t'; }

int sl_traceparent_parse(const char *value, sl_context *out)
{
    if (value == NULL || out == NULL)
        return SL_EINVAL;
    const char *s = value;
    size_t len = strnlen(value, 4096);
    if (len == 4096)
        return SL_EPARSE;
    while (len > 0 && ows(*s)) {
        s++;
        len--;
    }
    while (len > 0 && ows(s[len - 1]))
        len--;
    if (len < 55)
        return SL_EPARSE;

    uint8_t ver, flags, tid[16], sid[8];
    if (lhex_decode(s, 2, &ver) != 0 || ver == 0xff)
        return SL_EPARSE;
    if (ver == 0 && len != 55)
        return SL_EPARSE;
    if (ver > 0 && len > 55 && s[55] != '-')
        return SL_EPARSE;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return SL_EPARSE;
    if (lhex_decode(s + 3, 32, tid) != 0 || lhex_decode(s + 36, 16, sid) != 0 ||
        lhex_decode(s + 53, 2, &flags) != 0)
        return SL_EPARSE;
    if (slc_is_zero(tid, 16) || slc_is_zero(sid, 8))
        return SL_EPARSE;

    memcpy(out->trace_id, tid, 16);
    memcpy(out->span_id, sid, 8);
    /* Only the sampled bit is defined; unknown bits must not propagate as
     * if we understood them (version 00 semantics). */
    out->flags = flags & SL_FLAG_SAMPLED;
    out->remote = 1;
    out->tracestate_len = 0;
    out->tracestate[0] = '\0';
    return SL_OK;
}

int sl_traceparent_format(const sl_context *ctx, char *buf, size_t len)
{
    if (ctx == NULL || buf == NULL || len < 56 || !sl_context_is_valid(ctx))
        return SL_EINVAL;
    char t[33], s[17];
    slc_hex_encode(ctx->trace_id, 16, t);
    slc_hex_encode(ctx->span_id, 8, s);
    snprintf(buf, len, "00-%s-%s-%02x", t, s, ctx->flags & SL_FLAG_SAMPLED);
    return SL_OK;
}

/* ---- tracestate ------------------------------------------------------------------ */

static int lcalpha(char c) { return c >= 'a' && c <= 'z'; }
static int digit(char c) { return c >= '0' && c <= '9'; }
static int keychar(char c)
{
    return lcalpha(c) || digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

/* key = simple-key / multi-tenant-key (W3C Trace Context, section 3.3.1.3.1). */
static int valid_key(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (at == NULL) {
        if (n < 1 || n > 256 || !lcalpha(k[0]))
            return 0;
        for (size_t i = 1; i < n; i++)
            if (!keychar(k[i]))
                return 0;
        return 1;
    }
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
        return 0;
    if (!(lcalpha(k[0]) || digit(k[0])))
        return 0;
    for (size_t i = 1; i < tn; i++)
        if (!keychar(k[i]))
            return 0;
    const char *sys = at + 1;
    if (!lcalpha(sys[0]))
        return 0;
    for (size_t i = 1; i < sn; i++)
        if (!keychar(sys[i]))
            return 0;
    return 1;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
 * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
static int valid_value(const char *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return 0;
    }
    return 1;
}

#define TS_MAX_MEMBERS 32

int sl_tracestate_parse(const char *value, char *out, size_t outlen)
{
    struct {
        const char *p;
        size_t n, klen;
    } m[TS_MAX_MEMBERS];
    size_t nm = 0;

    if (out == NULL || outlen == 0)
        return SL_EINVAL;
    out[0] = '\0';
    if (value == NULL)
        return SL_EINVAL;
    size_t len = strnlen(value, 8192);
    if (len == 8192)
        return SL_EPARSE;
    const char *s = value, *end = value + len;
    while (s <= end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        const char *a = s, *b = e;
        while (a < b && ows(*a))
            a++;
        while (b > a && ows(b[-1]))
            b--;
        if (a < b) { /* empty members are allowed and skipped */
            const char *eq = memchr(a, '=', (size_t)(b - a));
            if (eq == NULL || nm == TS_MAX_MEMBERS)
                return SL_EPARSE;
            size_t klen = (size_t)(eq - a);
            if (!valid_key(a, klen) || !valid_value(eq + 1, (size_t)(b - eq - 1)))
                return SL_EPARSE;
            for (size_t i = 0; i < nm; i++)
                if (m[i].klen == klen && memcmp(m[i].p, a, klen) == 0)
                    return SL_EPARSE; /* duplicate keys make the header invalid */
            m[nm].p = a;
            m[nm].n = (size_t)(b - a);
            m[nm].klen = klen;
            nm++;
        }
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    /* Join; members that do not fit are dropped from the end (the
     * specification allows removing entries, rightmost first). */
    size_t o = 0;
    for (size_t i = 0; i < nm; i++) {
        size_t need = m[i].n + (o > 0 ? 1 : 0);
        if (o + need + 1 > outlen)
            break;
        if (o > 0)
            out[o++] = ',';
        memcpy(out + o, m[i].p, m[i].n);
        o += m[i].n;
    }
    out[o] = '\0';
    return SL_OK;
}

/* ---- inject / extract ------------------------------------------------------------ */

void sl_context_trace_hex(const sl_context *ctx, char out[33])
{
    slc_hex_encode(ctx->trace_id, 16, out);
}

void sl_context_span_hex(const sl_context *ctx, char out[17])
{
    slc_hex_encode(ctx->span_id, 8, out);
}

int sl_inject_context(const sl_context *ctx, void *carrier, sl_carrier_set set)
{
    char tp[56];
    if (set == NULL || sl_traceparent_format(ctx, tp, sizeof(tp)) != SL_OK)
        return SL_EINVAL;
    set(carrier, "traceparent", tp);
    if (ctx->tracestate_len > 0 && ctx->tracestate_len <= SL_TRACESTATE_MAX &&
        ctx->tracestate[0] != '\0')
        set(carrier, "tracestate", ctx->tracestate);
    return SL_OK;
}

int sl_inject(const sl_span *s, void *carrier, sl_carrier_set set)
{
    sl_context ctx;
    int rc = sl_span_context(s, &ctx);
    if (rc != SL_OK)
        return rc;
    return sl_inject_context(&ctx, carrier, set);
}

int sl_extract(void *carrier, sl_carrier_get get, sl_context *out)
{
    sl_context c;
    if (get == NULL || out == NULL)
        return SL_EINVAL;
    const char *tp = get(carrier, "traceparent");
    if (tp == NULL)
        return SL_ENOTFOUND;
    if (sl_traceparent_parse(tp, &c) != SL_OK)
        return SL_EPARSE;
    const char *ts = get(carrier, "tracestate");
    if (ts != NULL && sl_tracestate_parse(ts, c.tracestate, sizeof(c.tracestate)) == SL_OK)
        c.tracestate_len = (uint16_t)strlen(c.tracestate);
    else {
        c.tracestate[0] = '\0';
        c.tracestate_len = 0;
    }
    *out = c;
    return SL_OK;
}
