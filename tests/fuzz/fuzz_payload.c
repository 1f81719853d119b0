/*
 * fuzz_payload.c - libFuzzer target for the payload parser, past the CRCs.
 *
 * fuzz_wire.c feeds whole frames, so nearly every mutation dies at the
 * header or payload checksum.  Here the input is split: the first byte
 * chooses the framing (bit 0: zlib the payload, bit 1: carry an ingest
 * token made of the next 1..16 bytes, bit 2: tight limits), the rest is a
 * raw payload that gets a valid header and CRCs, so every mutation reaches
 * the string table, span, event, link and log parsers.
 *
 * Properties checked beyond "no crash":
 * - a frame that decodes re-encodes, and the re-encoding decodes to the
 *   same counts (the codec agrees with itself);
 * - the token, when present, is seen by slc_wire_peek_token and removed by
 *   slc_wire_strip_token, and the stripped frame decodes the same;
 * - the builder works on the decoded batch: copy_span/copy_log of every
 *   item into a fresh batch (which must encode), interning new strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/slc_wire.h"

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Wraps payload p[0..n) in a frame (caller frees), or NULL. */
static uint8_t *wrap(const uint8_t *p, size_t n, int zlib, const uint8_t *tok, size_t toklen,
                     size_t *outlen)
{
    uLongf zl = zlib ? compressBound((uLong)n) : (uLongf)n;
    uint8_t *f = malloc(SLC_WIRE_HEADER_LEN + toklen + zl + 1);
    uint8_t *pl;

    if (f == NULL)
        return NULL;
    pl = f + SLC_WIRE_HEADER_LEN + toklen;
    if (zlib) {
        if (compress2(pl, &zl, p, (uLong)n, 1) != Z_OK) {
            free(f);
            return NULL;
        }
    } else {
        memcpy(pl, p, n);
    }
    memset(f, 0, SLC_WIRE_HEADER_LEN);
    memcpy(f, SLC_WIRE_MAGIC, 4);
    f[4] = SLC_WIRE_VERSION;
    f[5] = (uint8_t)((zlib ? SLC_WIRE_F_ZLIB : 0) | (toklen ? SLC_WIRE_F_TOKEN : 0));
    f[6] = (uint8_t)toklen;
    memset(f + 8, 0xab, 8);
    le32(f + 16, (uint32_t)zl);
    le32(f + 20, (uint32_t)n);
    le32(f + 24, (uint32_t)crc32(0L, pl, (uInt)zl));
    le32(f + 28, (uint32_t)crc32(0L, f, 28));
    if (toklen)
        memcpy(f + SLC_WIRE_HEADER_LEN, tok, toklen);
    *outlen = SLC_WIRE_HEADER_LEN + toklen + zl;
    return f;
}

static void check_builder(const slc_batch *b)
{
    slc_batch *d = slc_batch_new();
    uint8_t *g = NULL;
    size_t n = 0;
    uint32_t idx;

    if (d == NULL)
        return;
    for (uint32_t i = 0; i < b->nspans; i++)
        if (slc_batch_copy_span(d, b, i) != SL_OK)
            abort();
    for (uint32_t i = 0; i < b->nlogs; i++)
        if (slc_batch_copy_log(d, b, i) != SL_OK)
            abort();
    if (d->nspans != b->nspans || d->nlogs != b->nlogs || d->nattrs != b->nattrs ||
        d->nevents != b->nevents || d->nlinks != b->nlinks)
        abort();
    if (slc_batch_intern(d, "fuzz.extra", 10, &idx) != SL_OK || idx >= d->nstrs)
        abort();
    if (slc_wire_encode(d, 1, &g, &n) != SL_OK)
        abort();
    free(g);
    slc_batch_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slc_wire_limits lim;
    slc_batch *b = NULL, *c = NULL;
    const uint8_t *tok = NULL, *seen = NULL;
    size_t toklen = 0, seenlen = 0, n = 0, m = 0;
    uint8_t *f, *g = NULL, *st = NULL;
    char msg[256];
    uint8_t mode;

    if (size < 1)
        return 0;
    mode = data[0];
    data++;
    size--;
    if ((mode & 2) && size > 0) {
        toklen = 1 + data[0] % 16;
        if (toklen > size - 1)
            toklen = size - 1;
        tok = data + 1;
        data += 1 + toklen;
        size -= 1 + toklen;
    }
    if (toklen == 0)
        tok = NULL;
    slc_wire_limits_default(&lim);
    if (mode & 4) {
        lim.attrs_per_item = 4;
        lim.events_per_span = 4;
        lim.links_per_span = 4;
        lim.string_bytes = 64;
        lim.decoded_bytes = 64u << 10;
    }
    f = wrap(data, size, mode & 1, tok, toklen, &n);
    if (f == NULL)
        return 0;
    if (slc_wire_peek_token(f, n, &seen, &seenlen) != SL_OK || seenlen != toklen ||
        (toklen && memcmp(seen, tok, toklen) != 0))
        abort();
    if (slc_wire_decode(f, n, &lim, &b, msg, sizeof msg) == SL_OK) {
        if (slc_wire_encode(b, 0, &g, &m) != SL_OK)
            abort();
        if (slc_wire_decode(g, m, &lim, &c, msg, sizeof msg) != SL_OK)
            abort();
        if (c->nspans != b->nspans || c->nlogs != b->nlogs || c->nattrs != b->nattrs ||
            c->nevents != b->nevents || c->nlinks != b->nlinks)
            abort();
        slc_batch_free(c);
        c = NULL;
        free(g);
        if (slc_wire_strip_token(f, n, &st, &m) != SL_OK || m != n - toklen)
            abort();
        if (slc_wire_decode(st, m, &lim, &c, msg, sizeof msg) != SL_OK ||
            c->nspans != b->nspans || c->nlogs != b->nlogs)
            abort();
        slc_batch_free(c);
        free(st);
        check_builder(b);
        slc_batch_free(b);
    }
    free(f);
    return 0;
}
