/*
 * auth.h - API tokens with scopes for the HTTP API (http.c).
 *
 * Two scopes: read (every GET/HEAD of /api/... and /metrics) and admin
 * (writes: PUT, POST, DELETE under /api/, e.g. alert rules); an admin token
 * also reads.  With no token configured the API is open.  /healthz, the
 * dashboard's static files and the OTLP/Zipkin receivers (ingest tokens,
 * recv.c) are not governed by these tokens.
 *
 * Tokens are compared in constant time: every configured token is compared
 * over the same padded length whatever the candidate, so the time depends
 * only on how many tokens are configured.  Kept free of the HTTP library
 * like api.c, so tests can call it directly.
 */
#ifndef COL_AUTH_H
#define COL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

#define COL_AUTH_MAX_TOKENS 64
#define COL_AUTH_TOKEN_MAX 255 /* bytes of one token: visible ASCII, no spaces */

enum col_scope { COL_SCOPE_NONE = 0, COL_SCOPE_READ = 1, COL_SCOPE_ADMIN = 2 };

typedef struct col_auth col_auth;

/* Returns a new token set holding copies of read[0..nread) and
 * admin[0..nadmin) (NUL-terminated strings), or NULL: out of memory, more
 * than COL_AUTH_MAX_TOKENS in all, or a token that is empty, longer than
 * COL_AUTH_TOKEN_MAX or has a byte outside '!'..'~'.  No tokens = open API.
 * Owned by the caller (col_auth_free()). */
col_auth *col_auth_new(const char *const *read, int nread, const char *const *admin, int nadmin);

/* Wipes the tokens and frees.  NULL is a no-op. */
void col_auth_free(col_auth *a);

/* 1 if at least one token is configured (NULL = 0). */
int col_auth_enabled(const col_auth *a);

/* The scope a request needs: NONE for /healthz and anything outside /api/
 * and /metrics (static files, checked elsewhere), READ for GET and HEAD,
 * ADMIN for every other method.  The receivers' paths (/v1/traces,
 * /api/v2/spans, ...) must be routed before this is asked. */
enum col_scope col_auth_required(const char *method, const char *path);

/* The scope the Authorization header value grants ("Bearer TOKEN"; NULL or
 * another scheme = NONE).  Constant time in the token. */
enum col_scope col_auth_grant(const col_auth *a, const char *authorization);

/* Decides one request.  Returns 0 when it may go on; else fills *resp with
 * the API's error shape (401 "unauthorized": no or unknown token; 403
 * "forbidden": a read token on a write) whose message says what to send,
 * points *www_authenticate at the value for the WWW-Authenticate header
 * (static string) and returns SL_EAUTH.  a NULL or without tokens = open.
 * The caller owns resp->body.  Thread-safe (a is read only). */
int col_auth_check(const col_auth *a, const char *method, const char *path,
                   const char *authorization, col_api_resp *resp, const char **www_authenticate);

/* 1 if a[0..n) == b[0..n); the time depends on n only. */
int col_auth_ct_equal(const void *a, const void *b, size_t n);

#endif /* COL_AUTH_H */
