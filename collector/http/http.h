/*
 * http.h - the HTTP server (libmicrohttpd): the JSON API of api.c and the
 * dashboard's static files.  An internal thread pool serves requests; the
 * number of connections (in all and per client address), their idle time,
 * the request line, the headers and the bodies are bounded.  Optionally
 * HTTPS (certificate and key files) and API tokens (auth.h); the OTLP and
 * Zipkin receivers check ingest tokens (col_recv_authorize()).
 */
#ifndef COL_HTTP_H
#define COL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

typedef struct col_http col_http;
struct col_ingest;

typedef struct col_http_opts {
    const char *addr;      /* HOST:PORT; [v6]:PORT; port 0 = any free port */
    const char *ui_dir;    /* static files; may not exist (then / gives 404) */
    int threads;           /* 0 = 2 */
    int max_conns;         /* 0 = 256 */
    int max_conns_per_ip;  /* 0 = 64 */
    int timeout_s;         /* idle seconds before a connection is closed; 0 = 30 */
    int max_header_bytes;  /* request headers (names + values); 0 = 16384 */
    int max_headers;       /* header lines; 0 = 64 */
    int max_url_bytes;     /* path + query arguments; 0 = 8192 */
    size_t max_body_bytes; /* API request bodies (alert rules); 0 = COL_API_BODY_MAX */
    /* PEM files; both set = HTTPS only, both NULL/"" = plain HTTP. */
    const char *tls_cert, *tls_key;
    /* API tokens (copied; auth.h rules); none = open API. */
    const char *const *read_tokens;
    int nread_tokens;
    const char *const *admin_tokens;
    int nadmin_tokens;
    /* Ingest tokens of the OTLP/Zipkin receivers (recv.c); NULL = open.
     * Borrowed: must outlive the server. */
    struct col_ingest *ingest;
} col_http_opts;

/* Starts serving.  api is copied; the store and stats it points to must
 * outlive the server.  Logs a warning when the address is reachable from
 * other hosts without an API token, or with tokens but without HTTPS.  On
 * success *out is owned by the caller (col_http_stop()).  On failure
 * returns SL_EINVAL (bad address, bad token, only one of cert/key),
 * SL_EIO (cannot read the certificate or key, cannot bind or start TLS) or
 * SL_ENOMEM, with a message in err. */
int col_http_start(const col_http_opts *o, const col_api *api, col_http **out, char *err,
                   size_t errlen);

/* The port actually bound (useful with port 0). */
uint16_t col_http_port(const col_http *h);

/* Stops the server, waiting for running requests.  NULL is a no-op. */
void col_http_stop(col_http *h);

#endif /* COL_HTTP_H */
