/*
 * slc_bytes.h - byte order and varints: the one home of the helpers that
 * the wire codec, the SDK, the store's keys and values, the sealed-block
 * codec and the protobuf writer share.
 *
 * Little-endian loads and stores go through memcpy, which compilers turn
 * into a single move on little-endian machines (the SDK's hot path relies
 * on that); a big-endian build swaps.  Big-endian forms are for RocksDB keys,
 * whose byte order must sort like the numbers.  Varints are LEB128 (protobuf
 * and the wire format): 7 bits a byte, low group first, at most 10 bytes.
 * Every function is inline and touches only the bytes it is given.
 */
#ifndef SLC_BYTES_H
#define SLC_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SLC_LE16(x) __builtin_bswap16(x)
#define SLC_LE32(x) __builtin_bswap32(x)
#define SLC_LE64(x) __builtin_bswap64(x)
#else
#define SLC_LE16(x) (x)
#define SLC_LE32(x) (x)
#define SLC_LE64(x) (x)
#endif

/* ---- little-endian ----------------------------------------------------------- */

static inline void slc_put_le16(uint8_t *p, uint16_t v)
{
    v = SLC_LE16(v);
    memcpy(p, &v, 2);
}

static inline void slc_put_le32(uint8_t *p, uint32_t v)
{
    v = SLC_LE32(v);
    memcpy(p, &v, 4);
}

static inline void slc_put_le64(uint8_t *p, uint64_t v)
{
    v = SLC_LE64(v);
    memcpy(p, &v, 8);
}

static inline uint16_t slc_get_le16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return SLC_LE16(v);
}

static inline uint32_t slc_get_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return SLC_LE32(v);
}

static inline uint64_t slc_get_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return SLC_LE64(v);
}

/* ---- big-endian (keys that sort as numbers) ------------------------------------ */

static inline void slc_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline void slc_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint32_t slc_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t slc_get_be64(const uint8_t *p)
{
    return (uint64_t)slc_get_be32(p) << 32 | slc_get_be32(p + 4);
}

/* ---- varints ------------------------------------------------------------------- */

#define SLC_VARINT_MAX 10 /* bytes of the longest 64-bit varint */

/* Writes v at p (room for SLC_VARINT_MAX bytes); returns the bytes written. */
static inline size_t slc_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from *p (not past end) into *v and moves *p past it: 0, or
 * -1 when the bytes end first or the varint runs past 10 bytes or 64 bits
 * (*p is then somewhere inside it). */
static inline int slc_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < SLC_VARINT_MAX && *p < end; i++) {
        uint8_t c = *(*p)++;
        if (i == 9 && c > 1)
            return -1;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

#endif /* SLC_BYTES_H */
