/*
 * jsonw.c - the JSON writer (see jsonw.h).
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sightline.h"
#include "common/slc_util.h"

#define COL_JW_DEFAULT_MAX ((size_t)1 << 30)

void col_jw_init(col_jw *w, size_t hint, size_t max)
{
    memset(w, 0, sizeof *w);
    w->cap = hint;
    w->max = max > 0 ? max : COL_JW_DEFAULT_MAX;
    w->first[0] = 1;
}

/* A direct-mapped cache of formatted reals, keyed by the double's bits.
 * A day of RED at one-minute steps prints ~23k rates and error rates, of
 * which a few hundred distinct values (a count over 60 s; errors over a
 * count): formatting each cost ~65 ns, ~1.5 ms of the answer. */
#define COL_JW_MEMO_BITS 10

struct col_jw_memo_ent {
    uint64_t bits;
    uint8_t len; /* 0 = empty */
    char s[31];
};

struct col_jw_memo {
    struct col_jw_memo_ent e[1 << COL_JW_MEMO_BITS];
};

static void col_jw_memo_free(col_jw *w)
{
    free(w->memo);
    w->memo = NULL;
}

void col_jw_free(col_jw *w)
{
    free(w->p);
    w->p = NULL;
    w->n = w->cap = 0;
    col_jw_memo_free(w);
}

char *col_jw_take(col_jw *w, size_t *len)
{
    char *p;

    if (w->err == 0 && (w->depth != 0 || w->p == NULL))
        w->err = SL_EINVAL;
    if (w->err != 0) {
        col_jw_free(w);
        return NULL;
    }
    p = w->p;
    p[w->n] = '\0';
    *len = w->n;
    w->p = NULL;
    w->n = w->cap = 0;
    col_jw_memo_free(w);
    return p;
}

/* Makes room for need more bytes plus the final NUL; 0 or -1 (w->err set,
 * the buffer dropped). */
static int col_jw_room(col_jw *w, size_t need)
{
    size_t want, nc;
    char *np;

    if (w->err != 0)
        return -1;
    if (w->p != NULL && w->cap - w->n > need)
        return 0;
    if (need >= w->max || w->n >= w->max - need) {
        w->err = SL_ETOOBIG;
        col_jw_free(w);
        return -1;
    }
    want = w->n + need + 1;
    nc = w->cap > 256 ? w->cap : 256;
    while (nc < want)
        nc = nc > w->max / 2 ? w->max + 1 : nc * 2;
    np = realloc(w->p, nc);
    if (np == NULL) {
        w->err = SL_ENOMEM;
        col_jw_free(w);
        return -1;
    }
    w->p = np;
    w->cap = nc;
    return 0;
}

static void col_jw_put(col_jw *w, const char *s, size_t n)
{
    if (col_jw_room(w, n) != 0)
        return;
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

/* Before every value and key: the comma that separates it from the
 * previous one at its level (none right after a key), with room for vmax
 * more bytes after it.  Returns where the value goes, or NULL. */
static char *col_jw_begin(col_jw *w, size_t vmax)
{
    if (col_jw_room(w, vmax + 1) != 0)
        return NULL;
    if (w->after_key) {
        w->after_key = 0;
    } else {
        if (!w->first[w->depth])
            w->p[w->n++] = ',';
        w->first[w->depth] = 0;
    }
    return w->p + w->n;
}

static int col_jw_sep(col_jw *w)
{
    return col_jw_begin(w, 0) != NULL ? 0 : -1;
}

static void col_jw_open(col_jw *w, char c)
{
    if (col_jw_sep(w) != 0)
        return;
    if (w->depth == COL_JW_DEPTH) {
        w->err = SL_EINVAL;
        col_jw_free(w);
        return;
    }
    col_jw_put(w, &c, 1);
    w->first[++w->depth] = 1;
}

static void col_jw_close(col_jw *w, char c)
{
    if (w->err != 0)
        return;
    if (w->depth == 0 || w->after_key) {
        w->err = SL_EINVAL;
        col_jw_free(w);
        return;
    }
    w->depth--;
    col_jw_put(w, &c, 1);
}

void col_jw_obj(col_jw *w)
{
    col_jw_open(w, '{');
}

void col_jw_obj_end(col_jw *w)
{
    col_jw_close(w, '}');
}

void col_jw_arr(col_jw *w)
{
    col_jw_open(w, '[');
}

void col_jw_arr_end(col_jw *w)
{
    col_jw_close(w, ']');
}

/* The escaped body of a string, without quotes.  Runs of plain bytes are
 * copied at once; a byte that does not start a valid UTF-8 sequence
 * becomes U+FFFD (jansson would refuse the string). */
static void col_jw_escaped(col_jw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0, run = 0;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen = 0, n;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            if (n != 0 && i + n <= len && slc_utf8_valid(s + i, n)) {
                i += n;
                continue;
            }
        }
        col_jw_put(w, s + run, i - run);
        switch (c) {
        case '"':
        case '\\':
            esc[elen++] = '\\';
            esc[elen++] = (char)c;
            break;
        case '\b':
            memcpy(esc, "\\b", elen = 2);
            break;
        case '\f':
            memcpy(esc, "\\f", elen = 2);
            break;
        case '\n':
            memcpy(esc, "\\n", elen = 2);
            break;
        case '\r':
            memcpy(esc, "\\r", elen = 2);
            break;
        case '\t':
            memcpy(esc, "\\t", elen = 2);
            break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                elen = 6;
            } else {
                memcpy(esc, "\xEF\xBF\xBD", elen = 3);
            }
        }
        col_jw_put(w, esc, elen);
        run = ++i;
    }
    col_jw_put(w, s + run, len - run);
}

void col_jw_str(col_jw *w, const char *s, size_t len)
{
    if (col_jw_sep(w) != 0)
        return;
    col_jw_put(w, "\"", 1);
    col_jw_escaped(w, s, len);
    col_jw_put(w, "\"", 1);
}

void col_jw_cstr(col_jw *w, const char *s)
{
    col_jw_str(w, s, strlen(s));
}

void col_jw_key(col_jw *w, const char *k)
{
    if (w->err == 0 && w->after_key) {
        w->err = SL_EINVAL;
        col_jw_free(w);
    }
    col_jw_str(w, k, strlen(k));
    col_jw_put(w, ":", 1);
    if (w->err == 0)
        w->after_key = 1;
}

static const char col_jw_2dig[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Decimal digits of v written at p; returns the length (1..20).  Two
 * digits per division: most numbers of an answer are counts and ns. */
static size_t col_jw_utoa(uint64_t v, char *p)
{
    char tmp[20], *e = tmp + sizeof tmp, *q = e;
    size_t n;

    while (v >= 100) {
        unsigned d = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, col_jw_2dig + 2 * d, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, col_jw_2dig + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    n = (size_t)(e - q);
    memcpy(p, q, n);
    return n;
}

void col_jw_u64(col_jw *w, uint64_t v)
{
    char *p = col_jw_begin(w, 20);

    if (p != NULL)
        w->n += col_jw_utoa(v, p);
}

void col_jw_i64(col_jw *w, int64_t v)
{
    char *p = col_jw_begin(w, 21);

    if (p == NULL)
        return;
    if (v < 0) {
        *p = '-';
        w->n += 1 + col_jw_utoa(0 - (uint64_t)v, p + 1);
    } else {
        w->n += col_jw_utoa((uint64_t)v, p);
    }
}

void col_jw_u64_str(col_jw *w, uint64_t v)
{
    char *p = col_jw_begin(w, 22);
    size_t n;

    if (p == NULL)
        return;
    p[0] = '"';
    n = col_jw_utoa(v, p + 1);
    p[n + 1] = '"';
    w->n += n + 2;
}

void col_jw_bool(col_jw *w, int v)
{
    char *p = col_jw_begin(w, 5);

    if (p != NULL) {
        memcpy(p, v ? "true" : "false", v ? 4 : 5);
        w->n += v ? 4 : 5;
    }
}

void col_jw_null(col_jw *w)
{
    char *p = col_jw_begin(w, 4);

    if (p != NULL) {
        memcpy(p, "null", 4);
        w->n += 4;
    }
}

/* ---- reals ------------------------------------------------------------------
 * jansson prints a real with snprintf("%.17g"), then appends ".0" when the
 * text has neither '.' nor 'e', and drops '+' and leading zeros from the
 * exponent.  glibc's "%.17g" costs ~600 ns a number (a 24 h RED answer
 * has ~23,000 reals), so the 17 correctly rounded digits are computed here
 * in 128-bit integers for the values that allow it (about 1e-6 .. 1e17,
 * i.e. every rate an answer holds) and snprintf does the rest.  The
 * digits are exact: v = m * 2^e, so v * 10^k = m * 10^k / 2^-e, rounded
 * half to even as printf rounds; a test compares both over many values. */

/* jansson's fix-up of a "%.17g" text of length n in buf; returns the new
 * length. */
static size_t col_jw_jansson_fix(char *buf, size_t n)
{
    char *e;

    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    e = strchr(buf, 'e');
    if (e != NULL) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, n - (size_t)(end - buf) + 1);
            n -= (size_t)(end - start);
        }
    }
    return n;
}

static const uint64_t col_pow10[20] = {1ULL,
                                       10ULL,
                                       100ULL,
                                       1000ULL,
                                       10000ULL,
                                       100000ULL,
                                       1000000ULL,
                                       10000000ULL,
                                       100000000ULL,
                                       1000000000ULL,
                                       10000000000ULL,
                                       100000000000ULL,
                                       1000000000000ULL,
                                       10000000000000ULL,
                                       100000000000000ULL,
                                       1000000000000000ULL,
                                       10000000000000000ULL,
                                       100000000000000000ULL,
                                       1000000000000000000ULL,
                                       10000000000000000000ULL};

/* The 17 significant digits of v > 0 (q in [1e16, 1e17)) and the decimal
 * exponent x of the first one.  0, or -1 when v is outside the fast range. */
static int col_jw_digits17(double v, uint64_t *q_out, int *x_out)
{
    uint64_t bits, m;
    int e, x, k;

    memcpy(&bits, &v, sizeof bits);
    if (((bits >> 52) & 0x7FF) == 0)
        return -1; /* subnormal */
    m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    e = (int)((bits >> 52) & 0x7FF) - 1075; /* v = m * 2^e */
    if (e >= 0)
        return -1;
    /* floor(log10(v)), possibly one too low or high: corrected below. */
    x = (int)floor((double)(e + 52) * 0.30102999566398120);
    for (int tries = 0; tries < 3; tries++) {
        unsigned __int128 n, r, half;
        uint64_t q;
        int s = -e;

        k = 16 - x;
        if (k < 0 || k > 22 || s > 127)
            return -1;
        n = (unsigned __int128)m * col_pow10[k > 19 ? 19 : k];
        for (int i = 19; i < k; i++)
            n *= 10;
        r = n & (((unsigned __int128)1 << s) - 1);
        half = (unsigned __int128)1 << (s - 1);
        n >>= s;
        if (n >= ((unsigned __int128)1 << 64))
            return -1;
        q = (uint64_t)n;
        if (r > half || (r == half && (q & 1)))
            q++;
        if (q < col_pow10[16]) {
            x--;
            continue;
        }
        if (q >= col_pow10[17]) {
            x++;
            continue;
        }
        *q_out = q;
        *x_out = x;
        return 0;
    }
    return -1;
}

size_t col_jw_fmt_real(double v, char *buf)
{
    char d[17], *p = buf;
    uint64_t q;
    int x, nd, neg;
    size_t n;

    if (!isfinite(v))
        return 0;
    neg = signbit(v) != 0;
    if (v == 0) {
        memcpy(buf, neg ? "-0.0" : "0.0", neg ? 5 : 4);
        return neg ? 4 : 3;
    }
    if (col_jw_digits17(neg ? -v : v, &q, &x) != 0) {
        int k = snprintf(buf, 32, "%.17g", v);
        if (k < 0 || k >= 28)
            return 0;
        return col_jw_jansson_fix(buf, (size_t)k);
    }
    for (int i = 15; i >= 1; i -= 2, q /= 100)
        memcpy(d + i, col_jw_2dig + 2 * (q % 100), 2);
    d[0] = (char)('0' + q);
    for (nd = 17; nd > 1 && d[nd - 1] == '0'; nd--)
        ;
    if (neg)
        *p++ = '-';
    if (x >= -4 && x < 17) {
        if (x >= 0) {
            for (int i = 0; i <= x; i++)
                *p++ = i < nd ? d[i] : '0';
            if (nd > x + 1) {
                *p++ = '.';
                for (int i = x + 1; i < nd; i++)
                    *p++ = d[i];
            } else {
                *p++ = '.'; /* jansson's ".0" */
                *p++ = '0';
            }
        } else {
            *p++ = '0';
            *p++ = '.';
            for (int i = 0; i < -x - 1; i++)
                *p++ = '0';
            for (int i = 0; i < nd; i++)
                *p++ = d[i];
        }
    } else {
        int ax = x < 0 ? -x : x;
        *p++ = d[0];
        if (nd > 1) {
            *p++ = '.';
            for (int i = 1; i < nd; i++)
                *p++ = d[i];
        }
        *p++ = 'e';
        if (x < 0)
            *p++ = '-';
        if (ax >= 100)
            *p++ = (char)('0' + ax / 100);
        if (ax >= 10)
            *p++ = (char)('0' + ax / 10 % 10);
        *p++ = (char)('0' + ax % 10);
    }
    *p = '\0';
    n = (size_t)(p - buf);
    return n;
}

void col_jw_real(col_jw *w, double v)
{
    struct col_jw_memo_ent *e;
    uint64_t bits;
    char *p;
    size_t n;

    if (!isfinite(v)) {
        col_jw_null(w);
        return;
    }
    p = col_jw_begin(w, 32);
    if (p == NULL)
        return;
    if (w->memo == NULL)
        w->memo = calloc(1, sizeof *w->memo); /* NULL: no cache, same text */
    if (w->memo == NULL) {
        w->n += col_jw_fmt_real(v, p);
        return;
    }
    memcpy(&bits, &v, sizeof bits);
    e = &w->memo->e[(bits * 0x9e3779b97f4a7c15ULL) >> (64 - COL_JW_MEMO_BITS)];
    if (e->len != 0 && e->bits == bits) {
        memcpy(p, e->s, e->len);
        w->n += e->len;
        return;
    }
    n = col_jw_fmt_real(v, p);
    w->n += n;
    if (n > 0 && n <= sizeof e->s) {
        e->bits = bits;
        e->len = (uint8_t)n;
        memcpy(e->s, p, n);
    }
}
