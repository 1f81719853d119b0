/*
 * coldblock_int.h - private to the sealed-block codec (coldblock_enc.c,
 * coldblock_dec.c; public API in coldblock.h, byte layout in
 * docs/sealed-block.md): the format's constants (stream numbers, sizes,
 * chunk methods, rANS parameters) and the small helpers both halves
 * agree on (little/big-endian get/put, zigzag, the 10^k table, the rANS
 * interleave choice).
 *
 * Why separate: the encoder and the decoder must read the same constants
 * and the same helpers; kept here once, a change to the format is made in
 * one place.  Nothing outside the codec includes this file.
 */
#ifndef COL_COLDBLOCK_INT_H
#define COL_COLDBLOCK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/slc_bytes.h"

/* The logical streams of a page: varint streams, raw byte streams, number
 * streams.  Physically each number stream is two streams (head: mode and
 * one byte per value; tail: packed bits), and every attribute column is
 * three streams after the fixed ones (strings: varint refs; bools: bytes;
 * ints: a number stream; doubles: a number stream and the 8-byte escapes;
 * unused ones empty). */
enum {
    ST_TR_NSP,   /* per trace: span count */
    ST_TR_NLG,   /* per trace: log count */
    ST_SP_PAR,   /* per span: 0 root, 1..n index + 1 in the trace, n + 1 other */
    ST_SP_KS,    /* per span: kind | status << 4 */
    ST_SP_SVC,   /* per span: service ref */
    ST_SP_NAME,  /* per span: name ref */
    ST_SP_SMSG,  /* per span: status message ref */
    ST_SP_NEV,   /* per span: event count */
    ST_SP_NLK,   /* per span: link count */
    ST_EV_NAME,  /* per event: name ref */
    ST_LG_LVL,   /* per log: level */
    ST_LG_SPAN,  /* per trace log: 0 zero id, 1..n span index + 1, n + 1 other */
    ST_LG_SVC,   /* per log: service ref */
    ST_LG_BODY,  /* per log: body ref */
    ST_SH_SPAN,  /* per span: attribute shape */
    ST_SH_EV,    /* per event: attribute shape */
    ST_SH_LK,    /* per link: attribute shape */
    ST_SH_LOG,   /* per log: attribute shape */
    ST_SH_DEF,   /* per shape, at its first use: count, column numbers */
    ST_AT_DEF,   /* per column, at its first use: key ref, type byte */
    ST_STR_KIND, /* per page string: 0 literal, p + 1 prefix p + number */
    ST_LIT_LEN,  /* per literal string: length */
    ST_PFX_LEN,  /* per prefix: length */
    ST_SP_ID,    /* raw: per span, 8 bytes */
    ST_SP_PID,   /* raw: per "other" parent, 8 bytes */
    ST_LG_SID,   /* raw: per "other" log span id, 8 bytes */
    ST_LK_IDS,   /* raw: per link, trace id 16 + span id 8 bytes */
    ST_COL_PARAM, /* per int or double column, in column order: scale | zigzag << 3 */
    ST_LIT_BYTES, /* raw: literal string bytes */
    ST_PFX_BYTES, /* raw: prefix bytes */
    ST_TR_BASE,  /* num: per trace, first time - block base */
    ST_SP_START, /* num: per span, zigzag start - reference start */
    ST_SP_DUR,   /* num: per span, end - start */
    ST_EV_TIME,  /* num: per event, zigzag time - span start */
    ST_LG_TIME,  /* num: per log, zigzag time - span start (see read_log) */
    ST_STR_NUM,  /* num: per composed string, the number */
    COLD_NSTREAMS
};
#define ST_FIRST_NUM ST_TR_BASE
#define NNUM (COLD_NSTREAMS - ST_FIRST_NUM)
#define NPHYS_FIXED (ST_FIRST_NUM + 2 * NNUM) /* physical streams before the columns */
#define NPHYS_COL 3
#define NUM_BITS 0 /* number stream modes (first head byte) */
#define NUM_DICT 1
#define NUM_DIV 0x80 /* with NUM_BITS: a divisor (varint) follows; values are multiples */

#define BODY_FIXED 20u /* nlogs, ntraces, npages (u32), base (u64) */
#define PAGE_ENTRY 24u /* comp_len, raw_len, crc, ntraces, nspans, nlogs (u32) */
#define PAGE_COUNTS 9  /* varints at the start of a page */
#define MAX_DIGITS 18  /* a composed string's number is below 10^18 */
#define PARAM_ZZ 0x08u /* column parameter: values are zigzag-coded */
#define MAX_SCALE 6    /* doubles are n / 10^scale, scale <= MAX_SCALE */
#define ALL_TRACES UINT32_MAX

/* A stream of at least CHUNK_MIN bytes is a chunk of its own, coded by
 * the smallest of: stored, zstd, rANS; smaller ones are coded in runs
 * (their own tables would cost more than they save). */
#define CHUNK_MIN 64u
#define CH_STORED 0 /* chunk methods */
#define CH_ZSTD 1
#define CH_RANS 2

/* rANS: static order-0 byte model, frequencies scaled to 2^ANS_BITS, state
 * kept in [ANS_L, 2^32), renormalised 16 bits at a time (at most one word
 * per symbol, so the decoder needs no loop and no branch for it). */
#define ANS_BITS 12
#define ANS_M (1u << ANS_BITS)
#define ANS_L (1u << 16)

static const double pow10_tab[7] = {1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6};

/* Zigzag over the 64-bit ring: deltas are taken mod 2^64, so any pair of
 * times round-trips without overflow checks. */
static inline uint64_t zz(uint64_t d)
{
    return (d << 1) ^ (0 - (d >> 63));
}

static inline uint64_t unzz(uint64_t v)
{
    return (v >> 1) ^ (0 - (v & 1));
}

/* Interleaved rANS states for a chunk of n symbols: more states decode
 * faster (independent dependency chains) but each costs a 4-byte state. */
static inline uint32_t ans_ways_log(size_t n)
{
    return n >= 2048 ? 2 : n >= 512 ? 1 : 0;
}

#endif
