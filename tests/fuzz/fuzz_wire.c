/*
 * fuzz_wire.c - libFuzzer target for the wire decoder and the ack decoder.
 *
 * Property checked beyond "no crash": whatever decodes must re-encode, and
 * the re-encoded frame must decode to the same counts (the codec agrees
 * with itself on every input it accepts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/slc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slc_batch *b = NULL;
    char msg[256];
    if (slc_wire_decode(data, size, NULL, &b, msg, sizeof msg) == SL_OK) {
        uint8_t *f = NULL;
        size_t n = 0;
        if (slc_wire_encode(b, 0, &f, &n) != SL_OK)
            abort();
        slc_batch *c = NULL;
        if (slc_wire_decode(f, n, NULL, &c, msg, sizeof msg) != SL_OK)
            abort();
        if (c->nspans != b->nspans || c->nlogs != b->nlogs || c->nattrs != b->nattrs)
            abort();
        slc_batch_free(c);
        free(f);
        slc_batch_free(b);
    }
    slc_ack a;
    (void)slc_ack_decode(data, size, &a);
    return 0;
}
