/*
 * coldblock.h - sealed blocks: many stored frames' spans and logs re-encoded
 * into one compact, trace-addressable block (byte layout: docs/sealed-block.md).
 *
 * Why: a frame carries what one SDK sent in one batch, so every trace is
 * spread over several frames, every span repeats its 16-byte trace id and
 * its parent's 8-byte id, and every frame re-sends its string table.  A
 * sealed block groups spans by trace and stores each field as a column
 * (parent as an index within the trace, times as deltas, strings once per
 * page, attribute values one column per key), each column entropy-coded
 * on its own (rANS or zstd, whichever is smaller), in pages of ~64 KiB
 * behind a sorted trace directory, so one trace is read by decoding one
 * page.  On the benchmark workload: ~27 bytes per span (zlib frames: 63).
 *
 * Every function is pure (no globals, thread-safe) and reads only the bytes
 * it is given.
 */
#ifndef COL_COLDBLOCK_H
#define COL_COLDBLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/slc_wire.h"

#define COL_COLD_MAGIC "SLC1"  /* first 4 bytes; wire frames start with "SLW1" */
#define COL_COLD_VERSION 1
#define COL_COLD_HEADER_LEN 32 /* bytes 0..31 hold the batch id, the body length, the
                                  span count and CRC-32s of body and header, so two
                                  different blocks differ in them (the block cache
                                  identifies a block by these bytes and its length) */

/* The zstd level col_cold_encode() uses for level 0.  Most columns are
 * rANS-coded, so higher levels save ~0.1 byte per span for 2-5 times the
 * encode time (docs/sealed-block.md). */
#define COL_COLD_DEFAULT_LEVEL 3

/* Target raw (uncompressed) size of one page; a page holds whole traces, so
 * a single huge trace makes a larger page. */
#define COL_COLD_PAGE_BYTES (64u * 1024u)

/* Is buf a sealed block?  Checks the magic only (a wire frame starts with
 * "SLW1"). */
int col_cold_is(const uint8_t *buf, size_t len);

/* Encodes every span and log record of b (borrowed, not modified; any
 * order, any mix of traces; logs with and without trace ids) into one
 * sealed block.  What a wire frame can carry, a block carries: an empty
 * span name or attribute key (a frame may hold "" at a second string
 * index, and merging frames interns it to 0) is stored as it is.  Order inside the block: spans grouped by trace id
 * (ascending bytes), inside a trace by start time (ties: input order);
 * the logs of a trace with it, by time; logs without trace by time.
 * level: zstd level 1..22 for the columns zstd codes best (0 =
 * COL_COLD_DEFAULT_LEVEL; 3 recommended).  On success *out is
 * malloc'd and owned by the caller (free()), *outlen its length.
 * Returns 0; SL_EINVAL when b holds something the wire decoder would reject
 * too (string index out of range, string 0 not empty, invalid UTF-8, kind,
 * status, level or log flags out of range, all-zero trace/span/link id,
 * end before start, non-finite double,
 * unknown attribute type, attribute/event/link range outside its array),
 * or a bad level; SL_ETOOBIG when the block would pass 4 GiB; SL_ENOMEM. */
int col_cold_encode(const slc_batch *b, int level, uint8_t **out, size_t *outlen);

/* Encoder knobs for benchmarks and tests; col_cold_encode() is
 * col_cold_encode_ex() with { level, COL_COLD_PAGE_BYTES }. */
typedef struct col_cold_opts {
    int level;           /* zstd level, 0 = default */
    uint32_t page_bytes; /* target raw page size, 0 = COL_COLD_PAGE_BYTES */
} col_cold_opts;

int col_cold_encode_ex(const slc_batch *b, const col_cold_opts *o, uint8_t **out,
                       size_t *outlen);

/* Decodes a whole block into a new batch (*out owned by the caller:
 * slc_batch_free()).  Every span/log/attribute/event/link of the input
 * comes back with the same values, in block order (see col_cold_encode);
 * string indices differ from the input's, string contents are equal, and
 * each string is in the table once; the batch id is the input batch's.
 * Safe on any bytes: every length is
 * checked before it is read, every count against lim (NULL = defaults:
 * frame_bytes bounds the block, payload_bytes the sum of the raw page
 * sizes, spans and logs the block's totals, strings and string_bytes the
 * decoded strings, attrs_per_item, events_per_span, links_per_span, and
 * decoded_bytes the memory the result and the page buffers take).
 * Returns 0, SL_EWIRE_* or SL_EINVAL on malformed input (msg, if not NULL,
 * gets a NUL-terminated message naming what is wrong), SL_ENOMEM. */
int col_cold_decode(const uint8_t *buf, size_t len, const slc_wire_limits *lim, slc_batch **out,
                    char *msg, size_t msglen);

/* Appends to dst (an existing batch, borrowed) the spans and log records of
 * trace_id only, with their attributes, events and links, interning their
 * strings into dst.  Reads the header and the trace directory, binary
 * searches it, and decompresses and parses only the one page holding the
 * trace (checking its CRC-32).  Returns 0 (also when the trace is not in
 * the block: nothing appended), errors as col_cold_decode.  On error dst
 * holds what it held before (its string table may have grown). */
int col_cold_gather_trace(const uint8_t *buf, size_t len, const slc_wire_limits *lim,
                          const uint8_t trace_id[16], slc_batch *dst, char *msg, size_t msglen);

/* One decoder for every stored block value: a wire frame (slc_wire_decode)
 * or a sealed block (col_cold_decode), chosen by the magic.  Same contract
 * as slc_wire_decode. */
int col_block_decode(const uint8_t *buf, size_t len, const slc_wire_limits *lim, slc_batch **out,
                     char *msg, size_t msglen);

/* What a block's header and directory say, without decompressing pages. */
typedef struct col_cold_info {
    uint64_t batch_id;
    uint32_t spans, logs, traces, pages;
    uint64_t raw_bytes; /* sum of the raw page sizes */
} col_cold_info;

/* Checks the header and the directory (their CRCs, not the pages') and
 * fills *info.  Returns 0 or SL_EWIRE_* / SL_EINVAL. */
int col_cold_peek(const uint8_t *buf, size_t len, col_cold_info *info);

#endif /* COL_COLDBLOCK_H */
