/*
 * fuzz_traceparent.c - libFuzzer target for the W3C Trace Context parsers
 * of the SDK (sl_traceparent_parse, sl_tracestate_parse), which read
 * headers that any caller of an instrumented service controls.
 *
 * Input: the bytes up to the first '\n' are a traceparent, the rest a
 * tracestate.  Properties beyond "no crash": a parsed traceparent formats
 * back to a string that parses to the same ids and flags; a parsed
 * tracestate is NUL-terminated inside its buffer and parses again to
 * itself (normalising is idempotent); a failed tracestate leaves out empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sightline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char tp[256], ts[2048], out[SL_TRACESTATE_MAX + 1], again[SL_TRACESTATE_MAX + 1];
    char fmt[64];
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n1 = nl != NULL ? (size_t)(nl - data) : size;
    size_t n2 = nl != NULL ? size - n1 - 1 : 0;
    sl_context a, b;

    if (n1 >= sizeof tp)
        n1 = sizeof tp - 1;
    memcpy(tp, data, n1);
    tp[n1] = '\0';
    if (n2 >= sizeof ts)
        n2 = sizeof ts - 1;
    if (nl != NULL)
        memcpy(ts, nl + 1, n2);
    ts[n2] = '\0';

    memset(&a, 0, sizeof a);
    if (sl_traceparent_parse(tp, &a) == SL_OK) {
        if (sl_traceparent_format(&a, fmt, sizeof fmt) != SL_OK || strlen(fmt) != 55)
            abort();
        memset(&b, 0x5a, sizeof b);
        if (sl_traceparent_parse(fmt, &b) != SL_OK)
            abort();
        if (memcmp(a.trace_id, b.trace_id, 16) != 0 || memcmp(a.span_id, b.span_id, 8) != 0 ||
            a.flags != b.flags)
            abort();
    }

    memset(out, 'x', sizeof out);
    if (sl_tracestate_parse(ts, out, sizeof out) == SL_OK) {
        if (memchr(out, '\0', sizeof out) == NULL)
            abort();
        if (sl_tracestate_parse(out, again, sizeof again) != SL_OK || strcmp(out, again) != 0)
            abort();
    } else if (out[0] != '\0') {
        abort();
    }
    return 0;
}
