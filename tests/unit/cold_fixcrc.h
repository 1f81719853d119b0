/*
 * cold_fixcrc.h - recomputes the CRCs of a (mutated or corrupted) sealed
 * block, for the codec's unit test and its fuzz target: mutations rarely
 * fix a CRC-32 themselves, and the decoder checks behind the CRCs are the
 * ones worth reaching.  Header-only (both are single-file programs).
 */
#ifndef COLD_FIXCRC_H
#define COLD_FIXCRC_H

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "store/coldblock.h"

/* Recomputes the page, directory, body and header CRCs (and the body
 * length) of buf in place where its structure allows (docs/sealed-block.md). */
static inline void cold_fix_crcs(uint8_t *buf, size_t len)
{
    if (len < COL_COLD_HEADER_LEN + 24 || len - COL_COLD_HEADER_LEN > UINT32_MAX)
        return;
    uint8_t *body = buf + COL_COLD_HEADER_LEN;
    size_t blen = len - COL_COLD_HEADER_LEN;
    uint32_t ntr, npg;
    memcpy(&ntr, body + 4, 4);
    memcpy(&npg, body + 8, 4);
    uint64_t dirlen = 20 + (uint64_t)npg * 24 + (uint64_t)ntr * 16 + 4;
    if (dirlen <= blen) {
        uint64_t off = dirlen;
        for (uint32_t i = 0; i < npg; i++) {
            uint8_t *e = body + 20 + (size_t)i * 24;
            uint32_t comp, crc;
            memcpy(&comp, e, 4);
            if (off + comp > blen)
                break;
            crc = (uint32_t)crc32(0L, body + off, comp);
            memcpy(e + 8, &crc, 4);
            off += comp;
        }
        uint32_t dcrc = (uint32_t)crc32(0L, body, (uInt)(dirlen - 4));
        memcpy(body + dirlen - 4, &dcrc, 4);
    }
    uint32_t bl = (uint32_t)blen, bcrc = (uint32_t)crc32(0L, body, (uInt)blen);
    memcpy(buf + 16, &bl, 4);
    memcpy(buf + 24, &bcrc, 4);
    uint32_t hcrc = (uint32_t)crc32(0L, buf, 28);
    memcpy(buf + 28, &hcrc, 4);
}

#endif /* COLD_FIXCRC_H */
