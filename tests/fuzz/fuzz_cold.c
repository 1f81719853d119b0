/*
 * fuzz_cold.c - libFuzzer target for the sealed-block decoder
 * (collector/store/coldblock_dec.c): col_cold_decode, col_cold_gather_trace and
 * col_cold_peek on the input as it is, and again with every CRC of the
 * block recomputed (mutations rarely fix a CRC-32 themselves, and the
 * checks behind the CRCs are the ones worth fuzzing).
 *
 * Properties checked beyond "no crash": what decodes re-encodes and decodes
 * again to the same counts; gathering each of its traces yields only that
 * trace's items, never more than the full decode holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/coldblock.h"
#include "../unit/cold_fixcrc.h"

static void check(const uint8_t *data, size_t size, const slc_wire_limits *lim)
{
    slc_batch *b = NULL;
    char msg[256];
    col_cold_info info;
    (void)col_cold_peek(data, size, &info);
    if (col_cold_decode(data, size, lim, &b, msg, sizeof msg) != SL_OK) {
        /* Gather still walks whatever the directory points at. */
        uint8_t tid[16] = {0};
        if (size >= 16)
            memcpy(tid, data + size - 16, 16);
        slc_batch *g = slc_batch_new();
        if (g == NULL)
            return;
        (void)col_cold_gather_trace(data, size, lim, tid, g, msg, sizeof msg);
        slc_batch_free(g);
        return;
    }
    uint8_t *f = NULL;
    size_t n = 0;
    if (col_cold_encode(b, 1, &f, &n) != SL_OK)
        abort();
    slc_batch *c = NULL;
    if (col_cold_decode(f, n, NULL, &c, msg, sizeof msg) != SL_OK)
        abort();
    if (c->nspans != b->nspans || c->nlogs != b->nlogs || c->nattrs != b->nattrs ||
        c->nevents != b->nevents || c->nlinks != b->nlinks)
        abort();
    slc_batch_free(c);
    free(f);
    /* Gather up to 8 traces of the decoded batch. */
    for (uint32_t i = 0, done = 0; i < b->nspans && done < 8; i++) {
        if (i && memcmp(b->spans[i].trace_id, b->spans[i - 1].trace_id, 16) == 0)
            continue;
        slc_batch *g = slc_batch_new();
        if (g == NULL)
            break;
        if (col_cold_gather_trace(data, size, lim, b->spans[i].trace_id, g, msg, sizeof msg) ==
            SL_OK) {
            if (g->nspans == 0 || g->nspans > b->nspans || g->nlogs > b->nlogs)
                abort();
            for (uint32_t k = 0; k < g->nspans; k++)
                if (memcmp(g->spans[k].trace_id, b->spans[i].trace_id, 16) != 0)
                    abort();
        }
        slc_batch_free(g);
        done++;
    }
    slc_batch_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slc_wire_limits lim;
    slc_wire_limits_default(&lim);
    lim.decoded_bytes = 64u << 20; /* keep each input cheap */
    check(data, size, &lim);
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    cold_fix_crcs(copy, size);
    check(copy, size, &lim);
    free(copy);
    return 0;
}
