/*
 * gzip.c - bounded gzip inflate (see gzip.h).
 */
#include "gzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "sightline.h"

#define COL_GZ_CHUNK ((size_t)64 * 1024)
#define COL_GZ_MAX_MEMBERS 1024 /* concatenated gzip members we follow */

static int col_gz_fail(int rv, char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    return rv;
}

int col_gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out, size_t *outlen,
               char *err, size_t errlen)
{
    z_stream zs;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    unsigned members = 0;
    int zr, rv = 0;

    if (len > UINT32_MAX)
        return col_gz_fail(SL_ETOOBIG, err, errlen, "gzip body larger than 4 GiB");
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return col_gz_fail(SL_ENOMEM, err, errlen, "out of memory starting zlib");
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap == 0 ? (len * 4 > COL_GZ_CHUNK ? len * 4 : COL_GZ_CHUNK) : cap * 2;
            uint8_t *nb;
            if (ncap > max_out + 1)
                ncap = max_out + 1; /* one byte over the cap tells "too big" */
            if (ncap <= cap) {
                rv = col_gz_fail(SL_ETOOBIG, err, errlen, "gzip body inflates beyond the limit");
                goto out;
            }
            nb = realloc(buf, ncap + 1);
            if (nb == NULL) {
                rv = col_gz_fail(SL_ENOMEM, err, errlen, "out of memory inflating gzip body");
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        zs.next_out = buf + n;
        zs.avail_out = (uInt)(cap - n > UINT32_MAX ? UINT32_MAX : cap - n);
        size_t before = zs.avail_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        n += before - zs.avail_out;
        if (n > max_out) {
            rv = col_gz_fail(SL_ETOOBIG, err, errlen, "gzip body inflates beyond the limit");
            goto out;
        }
        if (zr == Z_STREAM_END) {
            members++;
            /* Another member may follow (RFC 1952 2.2). */
            if (zs.avail_in == 0)
                break;
            if (members >= COL_GZ_MAX_MEMBERS) {
                rv = col_gz_fail(SL_EWIRE_INFLATE, err, errlen, "too many gzip members");
                goto out;
            }
            if (inflateReset(&zs) != Z_OK) {
                rv = col_gz_fail(SL_EWIRE_INFLATE, err, errlen, "gzip reset failed");
                goto out;
            }
            continue;
        }
        if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
            rv = col_gz_fail(SL_EWIRE_INFLATE, err, errlen, "gzip body is truncated");
            goto out;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            char msg[160];
            snprintf(msg, sizeof msg, "gzip body is corrupt (%s)",
                     zs.msg != NULL ? zs.msg : "zlib error");
            rv = col_gz_fail(zr == Z_MEM_ERROR ? SL_ENOMEM : SL_EWIRE_INFLATE, err, errlen, msg);
            goto out;
        }
        if (zr == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
            rv = col_gz_fail(SL_EWIRE_INFLATE, err, errlen, "gzip body is truncated");
            goto out;
        }
    }
    if (buf == NULL) {
        buf = malloc(1);
        if (buf == NULL) {
            rv = col_gz_fail(SL_ENOMEM, err, errlen, "out of memory");
            goto out;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    buf = NULL;
out:
    inflateEnd(&zs);
    free(buf);
    return rv;
}
