/*
 * slcli_http.c - GET against the collector's JSON API with libcurl.
 *
 * Bounded: a response body larger than SLCLI_MAX_BODY is refused (a trace is
 * capped server-side at max_spans, so even a truncated 10,000-span trace is
 * far below it), connecting gives up after 5 s and a whole request after 60 s.
 * The API token (--token or $SIGHTLINE_API_TOKEN) goes in an Authorization
 * header, never in the URL, so it does not show in error messages or logs.
 */
#include "slcli_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLCLI_MAX_BODY (256u << 20)

typedef struct sink {
    char *buf;
    size_t len, cap;
    int too_big;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    if (n > SLCLI_MAX_BODY - s->len) {
        s->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (nb == NULL)
            return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

int slcli_http_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; }

void slcli_http_cleanup(void) { curl_global_cleanup(); }

static void url_append(slcli_url *u, const char *s, size_t n)
{
    if (u->overflow || n >= sizeof(u->buf) - u->len) {
        u->overflow = 1;
        return;
    }
    memcpy(u->buf + u->len, s, n);
    u->len += n;
    u->buf[u->len] = '\0';
}

void slcli_url_init(slcli_url *u, const slcli_ctx *c, const char *path)
{
    u->len = 0;
    u->overflow = 0;
    u->nparams = 0;
    u->buf[0] = '\0';
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        n--;
    url_append(u, c->server, n);
    url_append(u, path, strlen(path));
}

static void url_escaped(slcli_url *u, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~') {
            url_append(u, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            url_append(u, e, 3);
        }
    }
}

void slcli_url_segment(slcli_url *u, const char *seg)
{
    url_append(u, "/", 1);
    url_escaped(u, seg);
}

void slcli_url_param(slcli_url *u, const char *key, const char *value)
{
    if (value == NULL)
        return;
    url_append(u, u->nparams++ ? "&" : "?", 1);
    url_escaped(u, key);
    url_append(u, "=", 1);
    url_escaped(u, value);
}

int slcli_http_get(const slcli_ctx *c, const slcli_url *u, slcli_resp *r)
{
    if (u->overflow) {
        fprintf(c->err, "sightline: request URL longer than %zu bytes; shorten the arguments\n", sizeof(u->buf));
        return SLCLI_EXIT_USAGE;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        fprintf(c->err, "sightline: cannot initialise libcurl (out of memory?)\n");
        return SLCLI_EXIT_USAGE;
    }
    sink s = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, u->buf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sightline-cli/1");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* gzip if the server offers it */
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    const char *tok = c->token != NULL ? c->token : getenv("SIGHTLINE_API_TOKEN");
    if (tok != NULL && *tok != '\0') {
        char auth[600];
        struct curl_slist *nh = NULL;
        if (strlen(tok) > 400 || strpbrk(tok, "\r\n") != NULL) {
            fprintf(c->err, "sightline: the API token must be one line of at most 400 characters\n");
            curl_slist_free_all(hdrs);
            curl_easy_cleanup(h);
            return SLCLI_EXIT_USAGE;
        }
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
        if (hdrs != NULL)
            nh = curl_slist_append(hdrs, auth);
        explicit_bzero(auth, sizeof(auth));
        if (nh == NULL) {
            fprintf(c->err, "sightline: out of memory\n");
            curl_slist_free_all(hdrs);
            curl_easy_cleanup(h);
            return SLCLI_EXIT_USAGE;
        }
        hdrs = nh;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (c->cacert != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* only http(s): a --server of file:// or others is a mistake */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");

    CURLcode rc = curl_easy_perform(h);
    int ret = SLCLI_EXIT_USAGE;
    if (rc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        if (s.too_big)
            fprintf(c->err, "sightline: the answer from %s is larger than %u MiB; narrow the query\n", u->buf,
                    SLCLI_MAX_BODY >> 20);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            fprintf(c->err, "sightline: collector at %s did not answer in time (%s); is it overloaded? retry, "
                            "or narrow the query\n", c->server, why);
        else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                 rc == CURLE_SSL_CONNECT_ERROR)
            fprintf(c->err, "sightline: TLS with %s failed (%s); pass the collector's CA certificate with "
                            "--cacert FILE (or --insecure for a test setup)\n", c->server, why);
        else if (rc == CURLE_GOT_NOTHING && strncmp(c->server, "http://", 7) == 0)
            fprintf(c->err, "sightline: %s closed the connection without an answer (%s); if the collector "
                            "serves HTTPS, use --server https://...\n", c->server, why);
        else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
            fprintf(c->err, "sightline: bad --server URL '%s' (%s); use http://HOST:PORT\n", c->server, why);
        else
            fprintf(c->err, "sightline: cannot reach collector at %s (%s): is it running? start it with `make run`, "
                            "or pass --server URL (or set SIGHTLINE_SERVER)\n", c->server, why);
        free(s.buf);
        goto out;
    }
    memset(r, 0, sizeof(*r));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (s.buf == NULL) {
        s.buf = calloc(1, 1);
        if (s.buf == NULL) {
            fprintf(c->err, "sightline: out of memory\n");
            goto out;
        }
    }
    r->body = s.buf;
    r->len = s.len;
    json_error_t jerr;
    r->json = json_loadb(r->body, r->len, 0, &jerr);
    ret = SLCLI_EXIT_OK;
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return ret;
}

void slcli_resp_free(slcli_resp *r)
{
    if (r == NULL)
        return;
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int slcli_http_check(const slcli_ctx *c, const slcli_url *u, const slcli_resp *r, int not_found_is_empty)
{
    if (r->status >= 200 && r->status < 300 && json_is_object(r->json))
        return SLCLI_EXIT_OK;
    json_t *e = json_object_get(r->json, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));
    if (msg != NULL) {
        fprintf(c->err, "sightline: %s (HTTP %ld%s%s)\n", msg, r->status, code ? " " : "", code ? code : "");
    } else if (r->status >= 200 && r->status < 300) {
        fprintf(c->err, "sightline: %s answered HTTP %ld but not with a JSON object; is --server pointing at a "
                        "Sightline collector?\n", u->buf, r->status);
        return SLCLI_EXIT_USAGE;
    } else {
        fprintf(c->err, "sightline: %s answered HTTP %ld without an API error; is --server pointing at a "
                        "Sightline collector?\n", u->buf, r->status);
        return SLCLI_EXIT_USAGE;
    }
    if (r->status == 404 && not_found_is_empty)
        return SLCLI_EXIT_EMPTY;
    if (r->status == 401)
        fprintf(c->err, "sightline: pass an API token with --token T or SIGHTLINE_API_TOKEN=T\n");
    else if (r->status == 403)
        fprintf(c->err, "sightline: this needs an admin token (the collector's --api-token-admin)\n");
    return SLCLI_EXIT_USAGE;
}

int slcli_http_fetch(const slcli_ctx *c, const slcli_url *u, slcli_resp *r, int not_found_is_empty)
{
    int rc = slcli_http_get(c, u, r);
    if (rc != SLCLI_EXIT_OK)
        return rc;
    rc = slcli_http_check(c, u, r, not_found_is_empty);
    if (rc != SLCLI_EXIT_OK)
        slcli_resp_free(r);
    return rc;
}
