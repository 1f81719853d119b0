/*
 * gzip.h - inflates gzip request bodies (Content-Encoding: gzip) with a cap
 * on the inflated size, so a small "zip bomb" cannot take the memory.
 */
#ifndef COL_GZIP_H
#define COL_GZIP_H

#include <stddef.h>
#include <stdint.h>

/* Inflates the gzip data in[0..len) (several concatenated members are
 * allowed, as RFC 1952 says).  On success *out is a malloc'd buffer of
 * *outlen bytes owned by the caller (free()); it carries one extra NUL byte
 * after the data so text parsers may use it.  Returns 0, SL_ETOOBIG when the
 * inflated data would exceed max_out bytes, SL_EWIRE_INFLATE for corrupt or
 * truncated data, or SL_ENOMEM; err (may be NULL) then says why. */
int col_gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out, size_t *outlen,
               char *err, size_t errlen);

#endif /* COL_GZIP_H */
