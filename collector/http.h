/*
 * http.h - the HTTP server (libmicrohttpd): the JSON API of api.c and the
 * dashboard's static files.  An internal thread pool serves requests; the
 * number of connections and their idle time are bounded.
 */
#ifndef COL_HTTP_H
#define COL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

typedef struct col_http col_http;

typedef struct col_http_opts {
    const char *addr;   /* HOST:PORT; [v6]:PORT; port 0 = any free port */
    const char *ui_dir; /* static files; may not exist (then / gives 404) */
    int threads;        /* 0 = 2 */
    int max_conns;      /* 0 = 256 */
    int timeout_s;      /* 0 = 30 */
} col_http_opts;

/* Starts serving.  api is copied; the store and stats it points to must
 * outlive the server.  On success *out is owned by the caller
 * (col_http_stop()).  On failure returns SL_EINVAL (bad address) or
 * SL_EIO (cannot bind) with a message in err. */
int col_http_start(const col_http_opts *o, const col_api *api, col_http **out, char *err,
                   size_t errlen);

/* The port actually bound (useful with port 0). */
uint16_t col_http_port(const col_http *h);

/* Stops the server, waiting for running requests.  NULL is a no-op. */
void col_http_stop(col_http *h);

#endif /* COL_HTTP_H */
