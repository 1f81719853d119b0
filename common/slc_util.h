/*
 * slc_util.h - small helpers shared by every part: hex ids, UTF-8 checks,
 * clocks and time parsing.  Pure functions unless stated otherwise.
 */
#ifndef SLC_UTIL_H
#define SLC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes 2*n lowercase hex digits of bytes[0..n) and a NUL into out (which
 * must hold 2*n+1 bytes). */
void slc_hex_encode(const uint8_t *bytes, size_t n, char *out);

/* Parses exactly 2*n hex digits (either case) from s into out[0..n).
 * Returns 0, or SL_EPARSE if s has a non-hex digit; out is then unchanged. */
int slc_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

/* Grows *arr (of *cap elements of size sz, malloc'd or NULL; the caller
 * owns it) to hold at least need elements, doubling from 16.  Returns 0
 * or SL_ENOMEM (then *arr and *cap are unchanged). */
int slc_grow(void **arr, uint32_t *cap, uint32_t need, size_t sz);

/* A NUL-terminated copy of p[0..n) (which may itself hold NUL bytes:
 * names are counted strings), owned by the caller (free()); NULL when out
 * of memory. */
char *slc_memdup(const void *p, size_t n);

/* 1 if all n bytes are zero. */
int slc_is_zero(const uint8_t *bytes, size_t n);

/* Parses a trace id as the API and the CLI take it: exactly 32 hex digits,
 * not all zero (W3C).  0 with id[0..16) set, or SL_EPARSE (id unchanged). */
int slc_trace_id_parse(const char *s, uint8_t id[16]);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int slc_utf8_valid(const char *s, size_t len);

/* Wall-clock time in Unix epoch nanoseconds (CLOCK_REALTIME). */
uint64_t slc_now_ns(void);

/* Parses a time given as RFC 3339 ("2026-11-25T17:00:00Z", fractional
 * seconds and +hh:mm offsets allowed), as Unix nanoseconds (digits only),
 * or as a relative duration back from now_ns ("15m", "2h", "7d", "30s",
 * "500ms").  Writes Unix nanoseconds into *out.  SL_EPARSE on bad input. */
int slc_time_parse(const char *s, uint64_t now_ns, uint64_t *out);

/* Parses a duration ("250ms", "1.5s", "5m", "2h", "7d", "100us", "10ns",
 * or plain digits = nanoseconds) into nanoseconds.  SL_EPARSE on bad input. */
int slc_duration_parse(const char *s, uint64_t *out_ns);

#ifdef __cplusplus
}
#endif

#endif /* SLC_UTIL_H */
