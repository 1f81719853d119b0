/*
 * auth.c - API tokens with scopes (see auth.h).
 */
#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sightline.h"

/* Each token is kept zero-padded to the longest allowed length, so a
 * candidate is compared against every slot over exactly the same number of
 * bytes: neither the position of the first differing byte nor the length of
 * a configured token shows in the time taken. */
struct col_tok {
    uint8_t bytes[COL_AUTH_TOKEN_MAX + 1];
    size_t len;
    enum col_scope scope;
};

struct col_auth {
    struct col_tok tok[COL_AUTH_MAX_TOKENS];
    int n;
};

int col_auth_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;

    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

static int col_tok_valid(const char *t)
{
    size_t n = t != NULL ? strlen(t) : 0;

    if (n == 0 || n > COL_AUTH_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] >= 0x7f)
            return 0;
    return 1;
}

col_auth *col_auth_new(const char *const *read, int nread, const char *const *admin, int nadmin)
{
    col_auth *a;

    if (nread < 0 || nadmin < 0 || nread + nadmin > COL_AUTH_MAX_TOKENS ||
        (nread > 0 && read == NULL) || (nadmin > 0 && admin == NULL))
        return NULL;
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    for (int k = 0; k < nread + nadmin; k++) {
        const char *t = k < nread ? read[k] : admin[k - nread];
        struct col_tok *s = &a->tok[a->n++];
        if (!col_tok_valid(t)) {
            col_auth_free(a);
            return NULL;
        }
        s->len = strlen(t);
        memcpy(s->bytes, t, s->len);
        s->scope = k < nread ? COL_SCOPE_READ : COL_SCOPE_ADMIN;
    }
    return a;
}

void col_auth_free(col_auth *a)
{
    if (a == NULL)
        return;
    explicit_bzero(a, sizeof *a);
    free(a);
}

int col_auth_enabled(const col_auth *a)
{
    return a != NULL && a->n > 0;
}

enum col_scope col_auth_required(const char *method, const char *path)
{
    if (strcmp(path, "/healthz") == 0)
        return COL_SCOPE_NONE;
    if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0 &&
        strcmp(path, "/metrics") != 0)
        return COL_SCOPE_NONE;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return COL_SCOPE_READ;
    return COL_SCOPE_ADMIN;
}

/* Finds the token in "Bearer TOKEN" (scheme case-insensitive, blanks
 * around it ignored); *len = 0 when there is none. */
static const char *col_bearer(const char *h, size_t *len)
{
    const char *t;
    size_t n;

    *len = 0;
    if (h == NULL)
        return NULL;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    t = h + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    *len = n;
    return n > 0 ? t : NULL;
}

enum col_scope col_auth_grant(const col_auth *a, const char *authorization)
{
    uint8_t cand[COL_AUTH_TOKEN_MAX + 1] = {0};
    enum col_scope best = COL_SCOPE_NONE;
    size_t n;
    const char *t = col_bearer(authorization, &n);

    if (a == NULL || t == NULL)
        return COL_SCOPE_NONE;
    /* An over-long candidate matches nothing, but is still compared, so its
     * length does not show either. */
    memcpy(cand, t, n <= COL_AUTH_TOKEN_MAX ? n : COL_AUTH_TOKEN_MAX);
    for (int i = 0; i < a->n; i++) {
        int eq = col_auth_ct_equal(cand, a->tok[i].bytes, sizeof cand);
        eq &= n == a->tok[i].len;
        if (eq && a->tok[i].scope > best)
            best = a->tok[i].scope;
    }
    explicit_bzero(cand, sizeof cand);
    return best;
}

int col_auth_check(const col_auth *a, const char *method, const char *path,
                   const char *authorization, col_api_resp *resp, const char **www_authenticate)
{
    enum col_scope need = col_auth_required(method, path), got;
    size_t n;

    if (need == COL_SCOPE_NONE || !col_auth_enabled(a))
        return 0;
    got = col_auth_grant(a, authorization);
    if (got >= need)
        return 0;
    if (got == COL_SCOPE_NONE && col_bearer(authorization, &n) == NULL) {
        col_api_error(resp, 401, "unauthorized",
                      "this API requires a token: send 'Authorization: Bearer TOKEN' with one of "
                      "the collector's --api-token-read or --api-token-admin values (CLI: --token "
                      "or SIGHTLINE_API_TOKEN; the dashboard asks for it)");
        *www_authenticate = "Bearer realm=\"sightline\"";
    } else if (got == COL_SCOPE_NONE) {
        col_api_error(resp, 401, "unauthorized",
                      "API token not accepted; check it against the collector's --api-token-read "
                      "and --api-token-admin values");
        *www_authenticate = "Bearer realm=\"sightline\", error=\"invalid_token\"";
    } else {
        col_api_error(resp, 403, "forbidden",
                      "%.16s %.200s changes data and needs an admin token (--api-token-admin); "
                      "this token may only read",
                      method, path);
        *www_authenticate = "Bearer realm=\"sightline\", error=\"insufficient_scope\", "
                            "scope=\"admin\"";
    }
    return SL_EAUTH;
}
