/*
 * jsonw.h - a small JSON writer into one growable buffer, for answers too
 * big to build as a jansson tree first (a 24 h RED answer is ~100k
 * numbers: building the tree and dumping it cost more than the query).
 *
 * The output is what json_dumps(tree, JSON_COMPACT) would print for the
 * same values: strings escaped as jansson escapes them (", \, control
 * characters; other bytes as they are), reals with jansson's "%.17g" rules
 * (".0" added to integral values, exponent without "+" or leading zeros),
 * so clients see the same bytes as before.  Two differences, both where
 * jansson would have failed the whole answer: a byte that does not start a
 * valid UTF-8 sequence becomes U+FFFD, and a non-finite real becomes null.
 *
 * Commas and colons are placed by the writer (it keeps the nesting, at
 * most COL_JW_DEPTH deep).  Errors are sticky: after a failed allocation,
 * the size cap or a nesting mistake every call is a no-op and
 * col_jw_take() returns NULL, so callers write without checking each call.
 * Not thread-safe (one writer per answer).
 */
#ifndef COL_JSONW_H
#define COL_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define COL_JW_DEPTH 32

struct col_jw_memo;

typedef struct col_jw {
    char *p;
    size_t n, cap, max; /* max: the largest answer accepted (bytes) */
    int err;            /* SL_ENOMEM, SL_ETOOBIG or SL_EINVAL once something failed */
    int depth;
    uint8_t first[COL_JW_DEPTH + 1]; /* 1 until the level has its first value */
    uint8_t after_key;
    struct col_jw_memo *memo; /* reals formatted lately (allocated on first use) */
} col_jw;

/* Starts an empty writer with room for about hint bytes (allocated
 * lazily) and a cap of max bytes (0 = 1 GiB).  Either col_jw_take() the
 * text or col_jw_free() the writer: each frees all the writer holds. */
void col_jw_init(col_jw *w, size_t hint, size_t max);
void col_jw_free(col_jw *w);

/* The finished text (NUL-terminated, *len bytes without the NUL), owned by
 * the caller (free()); the writer is left empty.  NULL when an error
 * happened or objects/arrays are still open. */
char *col_jw_take(col_jw *w, size_t *len);

/* Structure.  A key (col_jw_key, or the k* helpers below) must precede
 * every value inside an object. */
void col_jw_obj(col_jw *w);
void col_jw_obj_end(col_jw *w);
void col_jw_arr(col_jw *w);
void col_jw_arr_end(col_jw *w);
void col_jw_key(col_jw *w, const char *k); /* k: NUL-terminated */

/* Values. */
void col_jw_str(col_jw *w, const char *s, size_t len); /* any bytes, escaped */
void col_jw_cstr(col_jw *w, const char *s);            /* NUL-terminated */
void col_jw_u64(col_jw *w, uint64_t v);
void col_jw_i64(col_jw *w, int64_t v);
void col_jw_u64_str(col_jw *w, uint64_t v); /* "123": exact in JavaScript */
void col_jw_real(col_jw *w, double v);
void col_jw_bool(col_jw *w, int v);
void col_jw_null(col_jw *w);

/* Formats v as jansson's json_dumps does (see above) into buf (at least
 * 32 bytes); returns the length, or 0 when v is not finite. */
size_t col_jw_fmt_real(double v, char *buf);

#endif /* COL_JSONW_H */
