/*
 * fuzz_time.c - libFuzzer target for the time and duration parsers used by
 * the query parameters, the CLI and the collector's settings
 * (slc_time_parse, slc_duration_parse).
 *
 * Properties beyond "no crash": a parser that fails leaves its out-param
 * alone; a relative time (a duration with a unit, not RFC 3339 and not
 * plain digits) is now minus that duration, clamped at 0.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/slc_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[256];
    const uint64_t poison = 0x5a5a5a5a5a5a5a5aULL;
    uint64_t t = poison, d = poison;
    const uint64_t now = 1767225600000000000ULL; /* 2026-01-01 */
    int trc, drc, digits = 1;

    if (size >= sizeof s)
        size = sizeof s - 1;
    memcpy(s, data, size);
    s[size] = '\0';
    trc = slc_time_parse(s, now, &t);
    drc = slc_duration_parse(s, &d);
    if ((trc != 0 && t != poison) || (drc != 0 && d != poison))
        abort();
    for (const char *p = s; *p; p++)
        digits &= isdigit((unsigned char)*p) != 0;
    if (drc == 0 && !digits && !(strlen(s) >= 10 && s[4] == '-') && strcmp(s, "now") != 0) {
        if (trc != 0 || t != (d > now ? 0 : now - d))
            abort();
    }
    return 0;
}
