/*
 * slcli_http.h - the CLI's HTTP client: GET a path of the collector's JSON
 * API and classify what came back.  The only file that includes libcurl.
 */
#ifndef SLCLI_HTTP_H
#define SLCLI_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "slcli.h"

/* A response.  body is NUL-terminated; json is the parsed body or NULL when
 * the body is not JSON.  Owned by the struct: slcli_resp_free(). */
typedef struct slcli_resp {
    long status;
    char *body;
    size_t len;
    json_t *json;
} slcli_resp;

/* A URL under construction: base + path + query, with a hard size cap. */
typedef struct slcli_url {
    char buf[4096];
    size_t len;
    int overflow; /* set when something did not fit */
    int nparams;
} slcli_url;

/* Process-wide libcurl set-up and tear-down; main() calls them once.
 * slcli_http_init() returns 0 or -1. */
int slcli_http_init(void);
void slcli_http_cleanup(void);

/* Starts c->server + path (path begins with '/'). */
void slcli_url_init(slcli_url *u, const slcli_ctx *c, const char *path);

/* Appends a path segment, percent-encoded. */
void slcli_url_segment(slcli_url *u, const char *seg);

/* Appends ?key=value / &key=value, value percent-encoded; NULL value: skipped. */
void slcli_url_param(slcli_url *u, const char *key, const char *value);

/* GETs u.  Returns SLCLI_EXIT_OK when a response arrived (any HTTP status;
 * *r filled, caller frees it), else prints what to do (collector not
 * reachable, timeout, URL too long) and returns SLCLI_EXIT_USAGE with *r
 * untouched. */
int slcli_http_get(const slcli_ctx *c, const slcli_url *u, slcli_resp *r);

/* Frees what r holds.  Safe on a zeroed struct. */
void slcli_resp_free(slcli_resp *r);

/* For a response that is not a 2xx JSON answer: prints the API's error
 * message (or what is wrong with the answer) and returns the exit status:
 * SLCLI_EXIT_EMPTY for HTTP 404 when not_found_is_empty, else
 * SLCLI_EXIT_USAGE.  Returns SLCLI_EXIT_OK, printing nothing, when r is a
 * 2xx response with a JSON body. */
int slcli_http_check(const slcli_ctx *c, const slcli_url *u, const slcli_resp *r, int not_found_is_empty);

/* slcli_http_get() then slcli_http_check(): SLCLI_EXIT_OK with *r filled
 * (the caller frees it), or the exit status with *r freed. */
int slcli_http_fetch(const slcli_ctx *c, const slcli_url *u, slcli_resp *r, int not_found_is_empty);

#endif /* SLCLI_HTTP_H */
