/*
 * slc_util.c - hex ids, UTF-8 validation, clocks and time parsing.
 */
#include "slc_util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sightline.h"

static const char hexdig[] = "0123456789abcdef";

void slc_hex_encode(const uint8_t *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[bytes[i] >> 4];
        out[2 * i + 1] = hexdig[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int slc_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
    if (slen != 2 * n)
        return SL_EPARSE;
    for (size_t i = 0; i < 2 * n; i++)
        if (hexval(s[i]) < 0)
            return SL_EPARSE;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
    return SL_OK;
}

char *slc_memdup(const void *p, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

int slc_is_zero(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bytes[i])
            return 0;
    return 1;
}

int slc_trace_id_parse(const char *s, uint8_t id[16])
{
    uint8_t tmp[16];

    if (s == NULL || strlen(s) != 32 || slc_hex_decode(s, 32, tmp, 16) != 0 ||
        slc_is_zero(tmp, 16))
        return SL_EPARSE;
    memcpy(id, tmp, 16);
    return 0;
}

/* Validates UTF-8 per RFC 3629: rejects overlong forms, surrogates
 * (U+D800..DFFF) and code points above U+10FFFF.  ASCII runs take the fast
 * path since most telemetry strings are ASCII. */
int slc_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

uint64_t slc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Multiplies a decimal number (integer part ip, fraction digits frac of
 * fdig digits) by a unit in ns, rejecting overflow. */
static int scale(uint64_t ip, uint64_t frac, int fdig, uint64_t unit, uint64_t *out)
{
    if (unit && ip > UINT64_MAX / unit)
        return SL_EPARSE;
    uint64_t v = ip * unit;
    uint64_t f = frac;
    uint64_t div = 1;
    for (int i = 0; i < fdig; i++)
        div *= 10;
    /* frac/div * unit; unit <= 86400e9 and frac < div <= 1e9 so use 128-bit */
    unsigned __int128 fv = (unsigned __int128)f * unit / div;
    if (v + (uint64_t)fv < v)
        return SL_EPARSE;
    *out = v + (uint64_t)fv;
    return SL_OK;
}

int slc_duration_parse(const char *s, uint64_t *out_ns)
{
    if (!s || !*s)
        return SL_EPARSE;
    const char *p = s;
    uint64_t ip = 0, frac = 0;
    int digits = 0, fdig = 0;
    while (isdigit((unsigned char)*p)) {
        if (ip > (UINT64_MAX - 9) / 10)
            return SL_EPARSE;
        ip = ip * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (fdig < 9) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                fdig++;
            }
            p++;
            digits++;
        }
    }
    if (!digits)
        return SL_EPARSE;
    static const struct {
        const char *sfx;
        uint64_t ns;
    } units[] = {{"ns", 1},
                 {"us", 1000ull},
                 {"ms", 1000000ull},
                 {"s", 1000000000ull},
                 {"m", 60ull * 1000000000ull},
                 {"h", 3600ull * 1000000000ull},
                 {"d", 86400ull * 1000000000ull},
                 {"w", 7ull * 86400ull * 1000000000ull}};
    uint64_t unit = 0;
    if (*p == '\0') {
        if (fdig)
            return SL_EPARSE; /* bare numbers are whole nanoseconds */
        unit = 1;
    } else {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp(p, units[i].sfx) == 0)
                unit = units[i].ns;
        if (!unit)
            return SL_EPARSE;
    }
    return scale(ip, frac, fdig, unit, out_ns);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the well-known
 * days-from-civil formula); callers pass years 1970..2500. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int ndigits(const char **pp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*pp)[i]))
            return -1;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return 0;
}

static int rfc3339_parse(const char *s, uint64_t *out)
{
    const char *p = s;
    int y, mo, d, h, mi, se;
    if (ndigits(&p, 4, &y) || *p++ != '-' || ndigits(&p, 2, &mo) || *p++ != '-' ||
        ndigits(&p, 2, &d))
        return SL_EPARSE;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return SL_EPARSE;
    p++;
    if (ndigits(&p, 2, &h) || *p++ != ':' || ndigits(&p, 2, &mi) || *p++ != ':' ||
        ndigits(&p, 2, &se))
        return SL_EPARSE;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    /* Unix nanoseconds fit in uint64 until 2554; later years are refused
     * rather than wrapped. */
    if (y < 1970 || y > 2500 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 60)
        return SL_EPARSE;
    uint64_t frac = 0;
    int fdig = 0;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return SL_EPARSE;
        while (isdigit((unsigned char)*p)) {
            if (fdig < 9) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                fdig++;
            }
            p++;
        }
    }
    for (int i = fdig; i < 9; i++)
        frac *= 10;
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (ndigits(&p, 2, &oh) || *p++ != ':' || ndigits(&p, 2, &om) || oh > 23 || om > 59)
            return SL_EPARSE;
        off = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return SL_EPARSE;
    }
    if (*p)
        return SL_EPARSE;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                   se - off;
    if (secs < 0)
        return SL_EPARSE;
    *out = (uint64_t)secs * 1000000000ull + frac;
    return SL_OK;
}

int slc_time_parse(const char *s, uint64_t now_ns, uint64_t *out)
{
    if (!s || !*s)
        return SL_EPARSE;
    if (strcmp(s, "now") == 0) {
        *out = now_ns;
        return SL_OK;
    }
    /* RFC 3339 always has a '-' at index 4. */
    if (strlen(s) >= 10 && s[4] == '-')
        return rfc3339_parse(s, out);
    /* All digits: Unix nanoseconds. */
    const char *p = s;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '\0') {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
            return SL_EPARSE;
        *out = v;
        return SL_OK;
    }
    uint64_t d;
    if (slc_duration_parse(s, &d) != SL_OK)
        return SL_EPARSE;
    *out = d > now_ns ? 0 : now_ns - d;
    return SL_OK;
}

/* slc_util.h: one doubling grower for every growable array. */
int slc_grow(void **arr, uint32_t *cap, uint32_t need, size_t sz)
{
    if (need <= *cap)
        return SL_OK;
    size_t ncap = *cap ? (size_t)*cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    if (ncap > UINT32_MAX)
        ncap = UINT32_MAX;
    void *p = realloc(*arr, ncap * sz);
    if (!p)
        return SL_ENOMEM;
    *arr = p;
    *cap = (uint32_t)ncap;
    return SL_OK;
}
