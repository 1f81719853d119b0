/*
 * fuzz_convert.c - libFuzzer target for the OTLP (JSON and protobuf) and
 * Zipkin v2 converters and the gzip inflater of the HTTP receivers.
 *
 * The first byte picks the converter (and whether the body is gunzipped
 * first); the rest is the request body.  Property beyond "no crash": every
 * batch a converter returns must encode, and the frame must decode under
 * the same limits (the converters enforce the wire limits at the edge, so
 * nothing they accept can be refused later by the native path).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/gzip.h"
#include "ingest/otlp.h"
#include "common/slc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slc_wire_limits lim;
    slc_batch *b = NULL, *d = NULL;
    col_conv_report rep;
    uint8_t *inflated = NULL, *f = NULL;
    size_t flen = 0;
    char err[320];
    int rv;

    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    slc_wire_limits_default(&lim);
    lim.payload_bytes = 1u << 20;
    if (mode & 8) {
        lim.attrs_per_item = 4;
        lim.events_per_span = 4;
        lim.string_bytes = 32;
        lim.spans = 8;
        lim.logs = 8;
    }
    if (mode & 16) {
        size_t n = 0;
        if (col_gunzip(data, size, lim.payload_bytes, &inflated, &n, err, sizeof err) != 0)
            return 0;
        data = inflated;
        size = n;
    }
    memset(&rep, 0, sizeof rep);
    switch ((mode & 7) % 5) {
    case 0: rv = col_otlp_traces_json((const char *)data, size, &lim, &b, &rep, err, sizeof err); break;
    case 1: rv = col_otlp_logs_json((const char *)data, size, &lim, &b, &rep, err, sizeof err); break;
    case 2: rv = col_otlp_traces_proto(data, size, &lim, &b, &rep, err, sizeof err); break;
    case 3: rv = col_otlp_logs_proto(data, size, &lim, &b, &rep, err, sizeof err); break;
    default: rv = col_zipkin_v2_json((const char *)data, size, &lim, &b, &rep, err, sizeof err); break;
    }
    if (rv == 0) {
        if (b == NULL)
            abort();
        if (slc_wire_encode(b, 0, &f, &flen) != SL_OK)
            abort();
        lim.frame_bytes = UINT32_MAX; /* the frame is ours, not the sender's */
        lim.payload_bytes = UINT32_MAX;
        if (slc_wire_decode(f, flen, &lim, &d, err, sizeof err) != SL_OK)
            abort();
        if (d->nspans != b->nspans || d->nlogs != b->nlogs)
            abort();
        slc_batch_free(d);
        free(f);
        slc_batch_free(b);
    } else if (b != NULL) {
        abort(); /* out-params are written only on success */
    }
    free(inflated);
    return 0;
}
