/*
 * http.c - libmicrohttpd glue, static files (see http.h).
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "log.h"
#include "ingest/otlp.h"
#include "sightline.h"
#include "common/slc_util.h"

struct col_http {
    struct MHD_Daemon *d;
    col_api api;
    char ui_real[PATH_MAX]; /* resolved ui dir, "" if missing */
    uint16_t port;
    col_auth *auth;            /* NULL = open API */
    struct col_ingest *ingest; /* borrowed; NULL = open receivers */
    size_t max_header_bytes, max_url_bytes, max_body_bytes;
    unsigned max_headers;
    char *tls_cert, *tls_key; /* PEM text handed to MHD; kept while it runs */
};

/* A response header added to the next col_queue() answer (WWW-Authenticate). */
struct col_hdr {
    const char *name, *value;
};

static const char *col_arg(void *cx, const char *name)
{
    return MHD_lookup_connection_value(cx, MHD_GET_ARGUMENT_KIND, name);
}

/* The i-th value of a repeated query argument: libmicrohttpd keeps every
 * key=value pair of the query string, in order, but its lookup returns
 * only the first; walking them all finds the others. */
struct col_nth {
    const char *name, *value;
    unsigned want, seen;
};

static enum MHD_Result col_nth_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct col_nth *n = cls;

    (void)kind;
    if (key == NULL || strcmp(key, n->name) != 0)
        return MHD_YES;
    if (n->seen++ < n->want)
        return MHD_YES;
    n->value = value != NULL ? value : "";
    return MHD_NO;
}

static const char *col_arg_nth(void *cx, const char *name, unsigned i)
{
    struct col_nth n = {name, NULL, i, 0};

    MHD_get_connection_values(cx, MHD_GET_ARGUMENT_KIND, col_nth_visit, &n);
    return n.value;
}

static enum MHD_Result col_queue_h(struct MHD_Connection *c, col_stats *st, int status,
                                   struct MHD_Response *r, const char *ctype,
                                   const struct col_hdr *extra)
{
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (extra != NULL && extra->value != NULL)
        MHD_add_response_header(r, extra->name, extra->value);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status >= 400)
        atomic_fetch_add_explicit(&st->http_errors, 1, memory_order_relaxed);
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result col_queue(struct MHD_Connection *c, col_stats *st, int status,
                                 struct MHD_Response *r, const char *ctype)
{
    return col_queue_h(c, st, status, r, ctype, NULL);
}

/* Sends resp's JSON: the ready text (resp->json, handed to libmicrohttpd,
 * which frees it) or the jansson tree serialised now. */
static enum MHD_Result col_send_json_h(struct MHD_Connection *c, col_stats *st,
                                       col_api_resp *resp, const struct col_hdr *extra)
{
    char *text;
    struct MHD_Response *r;
    size_t n;

    if (resp->json != NULL) {
        text = resp->json;
        n = resp->json_len;
        resp->json = NULL;
        resp->json_len = 0;
    } else {
        text = resp->body != NULL ? json_dumps(resp->body, JSON_COMPACT) : NULL;
        n = text != NULL ? strlen(text) : 0;
    }
    if (text == NULL) {
        static const char oom[] =
            "{\"error\":{\"status\":500,\"code\":\"internal\",\"message\":\"out of memory\"}}";
        r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        return col_queue(c, st, 500, r, "application/json; charset=utf-8");
    }
    r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return col_queue_h(c, st, resp->status, r, "application/json; charset=utf-8", extra);
}

static enum MHD_Result col_send_json(struct MHD_Connection *c, col_stats *st,
                                     col_api_resp *resp)
{
    return col_send_json_h(c, st, resp, NULL);
}

static enum MHD_Result col_static_error(struct MHD_Connection *c, col_stats *st, int status,
                                        const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result col_static_error(struct MHD_Connection *c, col_stats *st, int status,
                                        const char *code, const char *fmt, ...)
{
    col_api_resp resp = {0};
    char msg[512];
    enum MHD_Result ret;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    col_api_error(&resp, status, code, "%s", msg);
    ret = col_send_json(c, st, &resp);
    col_api_resp_free(&resp);
    return ret;
}

static const char *col_ctype(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');

    if (dot != NULL && strchr(dot, '/') == NULL)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* Serves a file from the ui dir.  The decoded path may not contain a ".."
 * segment, a backslash or control bytes, and the resolved file (symlinks
 * followed) must still lie inside the ui dir. */
static enum MHD_Result col_static(struct col_http *h, struct MHD_Connection *c, const char *method,
                                  const char *url)
{
    col_stats *st = h->api.stats;
    char full[PATH_MAX * 2], real[PATH_MAX];
    const char *rel = strcmp(url, "/") == 0 ? "/index.html" : url;
    struct stat sb;
    size_t ulen = strlen(h->ui_real);
    int fd;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return col_static_error(c, st, 405, "method_not_allowed",
                                "%.16s is not allowed on static files", method);
    if (rel[0] != '/' || strstr(rel, "/../") != NULL || strstr(rel, "\\") != NULL ||
        (strlen(rel) >= 3 && strcmp(rel + strlen(rel) - 3, "/..") == 0))
        return col_static_error(c, st, 400, "bad_path", "path '%.200s' is not allowed", url);
    for (const char *p = rel; *p; p++)
        if ((unsigned char)*p < 0x20)
            return col_static_error(c, st, 400, "bad_path", "path has control characters");
    if (h->ui_real[0] == '\0')
        return col_static_error(c, st, 404, "not_found",
                                "no dashboard directory; start the collector with --ui DIR");
    if ((size_t)snprintf(full, sizeof full, "%s%s", h->ui_real, rel) >= sizeof full ||
        realpath(full, real) == NULL)
        return col_static_error(c, st, 404, "not_found", "no file %.200s", url);
    if (strncmp(real, h->ui_real, ulen) != 0 || real[ulen] != '/')
        return col_static_error(c, st, 403, "forbidden", "path '%.200s' leaves the ui directory",
                                url);
    fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return col_static_error(c, st, 404, "not_found", "no file %.200s", url);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return col_static_error(c, st, 404, "not_found", "no file %.200s", url);
    }
    /* The response owns fd from here, and closes it also on failure. */
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (r == NULL) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return col_queue(c, st, 200, r, col_ctype(real));
}

/* Sends a receiver's response (otlp.h); the body is freed either way. */
static enum MHD_Result col_send_recv(struct MHD_Connection *c, col_stats *st, col_recv_resp *resp)
{
    struct MHD_Response *r;

    if (resp->len > 0) {
        r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (r == NULL)
            free(resp->body);
    } else {
        free(resp->body);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (r == NULL)
        return MHD_NO;
    if (resp->retry_after != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, resp->retry_after);
    if (resp->status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"sightline-ingest\"");
    return col_queue(c, st, resp->status, r,
                     resp->ctype != NULL ? resp->ctype : "text/plain; charset=utf-8");
}

/* POST /v1/traces, /v1/logs, /api/v2/spans.  libmicrohttpd calls this once
 * with the headers, then once per piece of body (chunked or not), then once
 * more with no data: the body is gathered (up to the frame limit) in
 * *con_cls and handled whole at the end; col_completed() frees it if the
 * client goes away first. */
static enum MHD_Result col_recv_request(struct col_http *h, struct MHD_Connection *c,
                                        enum col_recv_route route, const char *method,
                                        const char *data, size_t *size, void **con_cls)
{
    col_recv_upload *u = *con_cls;
    const slc_wire_limits *lim = h->api.ingest_limits;
    const char *ctype =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    col_recv_resp resp;
    slc_wire_limits dl;

    if (lim == NULL) {
        slc_wire_limits_default(&dl);
        lim = &dl;
    }
    if (u == NULL) {
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        atomic_fetch_add_explicit(&h->api.stats->http_requests, 1, memory_order_relaxed);
        /* The ingest token is checked on the headers, before any of the
         * body is buffered. */
        if (col_recv_authorize(h->ingest, h->api.stats, route, ctype,
                               MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_AUTHORIZATION),
                               &resp) != 0)
            return col_send_recv(c, h->api.stats, &resp);
        if (strcmp(method, "POST") != 0) {
            col_recv_handle(h->api.store, h->api.stats, lim, route, method, ctype, NULL, NULL, 0,
                            &resp);
            return col_send_recv(c, h->api.stats, &resp);
        }
        if (cl != NULL && strtoull(cl, NULL, 10) > lim->frame_bytes) {
            col_recv_too_big(route, ctype, lim->frame_bytes, &resp);
            return col_send_recv(c, h->api.stats, &resp);
        }
        u = col_recv_upload_new(route, lim->frame_bytes);
        if (u == NULL)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*size > 0) {
        col_recv_upload_append(u, data, *size);
        *size = 0;
        return MHD_YES;
    }
    col_recv_finish(
        h->api.store, h->api.stats, lim, u, method, ctype,
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING), &resp);
    col_recv_upload_free(u);
    *con_cls = NULL;
    return col_send_recv(c, h->api.stats, &resp);
}

static void col_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    col_recv_upload_free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result col_count_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    size_t *n = cls;

    (void)kind;
    *n += (key != NULL ? strlen(key) : 0) + (value != NULL ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* Checks made once per request, on its headers, before anything else reads
 * them or any body is buffered: the size of the URL and of the headers
 * (libmicrohttpd's per-connection memory is the hard cap; these give a
 * clear answer below it), then the API token (auth.h).  Returns 0 when the
 * request may go on, else 1 with the result of queueing the refusal in
 * *ret. */
static int col_check_request(struct col_http *h, struct MHD_Connection *c, const char *method,
                             const char *url, enum MHD_Result *ret)
{
    col_stats *st = h->api.stats;
    col_api_resp resp = {0};
    const char *www = NULL;
    size_t ubytes = strlen(url), hbytes = 0;
    int nh;

    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, col_count_bytes, &ubytes);
    if (ubytes > h->max_url_bytes) {
        atomic_fetch_add_explicit(&st->http_requests, 1, memory_order_relaxed);
        *ret = col_static_error(c, st, 414, "uri_too_long",
                                "the URL (path and query) is longer than %zu bytes "
                                "(--http-max-url-bytes); shorten the query",
                                h->max_url_bytes);
        return 1;
    }
    nh = MHD_get_connection_values(c, MHD_HEADER_KIND, col_count_bytes, &hbytes);
    if (nh < 0 || (unsigned)nh > h->max_headers || hbytes > h->max_header_bytes) {
        atomic_fetch_add_explicit(&st->http_requests, 1, memory_order_relaxed);
        *ret = col_static_error(c, st, 431, "headers_too_large",
                                "the request has %d headers of %zu bytes; at most %u headers "
                                "of %zu bytes in all are accepted (--http-max-headers, "
                                "--http-max-header-bytes)",
                                nh, hbytes, h->max_headers, h->max_header_bytes);
        return 1;
    }
    if (col_recv_match(url) != COL_RECV_NONE)
        return 0; /* ingest tokens: col_recv_request() */
    if (col_auth_check(h->auth, method, url,
                       MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION),
                       &resp, &www) == 0)
        return 0;
    atomic_fetch_add_explicit(&st->http_requests, 1, memory_order_relaxed);
    {
        struct col_hdr hdr = {MHD_HTTP_HEADER_WWW_AUTHENTICATE, www};
        *ret = col_send_json_h(c, st, &resp, &hdr);
    }
    col_api_resp_free(&resp);
    return 1;
}

static enum MHD_Result col_handler(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
    struct col_http *h = cls;
    col_api_req req = {0};
    col_api_resp resp = {0};
    enum MHD_Result ret;

    (void)version;
    if (*con_cls == NULL && col_check_request(h, c, method, url, &ret))
        return ret;
    enum col_recv_route route = col_recv_match(url);
    if (route != COL_RECV_NONE)
        return col_recv_request(h, c, route, method, upload_data, upload_data_size, con_cls);
    /* API requests with a body (rule changes): gather it like an upload
     * (route NONE), at most COL_API_BODY_MAX bytes, then dispatch once. */
    col_recv_upload *u = *con_cls;
    if (u == NULL && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
        strncmp(url, "/api/", 5) == 0) {
        atomic_fetch_add_explicit(&h->api.stats->http_requests, 1, memory_order_relaxed);
        u = col_recv_upload_new(COL_RECV_NONE, h->max_body_bytes);
        if (u == NULL)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (u != NULL && *upload_data_size > 0) {
        col_recv_upload_append(u, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (u == NULL)
        atomic_fetch_add_explicit(&h->api.stats->http_requests, 1, memory_order_relaxed);
    else if (u->too_big || u->busy) {
        if (u->too_big)
            ret = col_static_error(c, h->api.stats, 413, "too_big",
                                   "the request body is larger than %zu bytes "
                                   "(--http-max-body-bytes)",
                                   h->max_body_bytes);
        else
            ret = col_static_error(c, h->api.stats, 503, "busy",
                                   "the collector is short of memory; retry later");
        col_recv_upload_free(u);
        *con_cls = NULL;
        return ret;
    }
    req.method = method;
    req.path = url;
    req.arg = col_arg;
    req.arg_nth = col_arg_nth;
    req.cx = c;
    req.now_ns = slc_now_ns();
    req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (u != NULL) {
        req.body = (const char *)u->buf;
        req.body_len = u->len;
    }
    if (!col_api_dispatch(&h->api, &req, &resp)) {
        col_recv_upload_free(u);
        *con_cls = NULL;
        return col_static(h, c, method, url);
    }
    col_recv_upload_free(u);
    *con_cls = NULL;
    if (resp.text != NULL && resp.body == NULL && resp.json == NULL) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(resp.text), resp.text, MHD_RESPMEM_MUST_FREE);
        if (r == NULL) {
            free(resp.text);
            return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        return col_queue(c, h->api.stats, resp.status, r, "text/plain; version=0.0.4");
    }
    ret = col_send_json(c, h->api.stats, &resp);
    col_api_resp_free(&resp);
    return ret;
}

static void col_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    col_log(COL_LOG_WARN, "http: %s", msg);
}

/* Splits HOST:PORT (or [V6]:PORT) and resolves it to one socket address. */
static int col_resolve(const char *addr, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':'), *port;
    const char *hs = addr;
    size_t hl;
    struct addrinfo hints = {0}, *res = NULL;
    int rv;

    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "HTTP address '%.100s' must be HOST:PORT", addr);
        return SL_EINVAL;
    }
    port = colon + 1;
    hl = (size_t)(colon - addr);
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        hs = addr + 1;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        snprintf(err, errlen, "HTTP host in '%.100s' is too long", addr);
        return SL_EINVAL;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rv = getaddrinfo(hl > 0 && strcmp(host, "*") != 0 ? host : NULL, port, &hints, &res);
    if (rv != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve HTTP address '%.100s': %s", addr,
                 rv != 0 ? gai_strerror(rv) : "no address");
        return SL_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* Reads a whole PEM file (at most 1 MiB) into a NUL-terminated string,
 * owned by the caller. */
static int col_read_pem(const char *path, const char *what, char **out, char *err,
                        size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 1 << 20;
    int rv = SL_EIO;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read the HTTP TLS %s %s: %s", what, path, strerror(errno));
        return SL_EIO;
    }
    buf = malloc(cap + 1);
    if (buf == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    n = fread(buf, 1, cap + 1, f);
    if (ferror(f) || n == 0 || n > cap || memchr(buf, '\0', n) != NULL ||
        strstr((buf[n] = '\0', buf), "-----BEGIN ") == NULL) {
        snprintf(err, errlen, "the HTTP TLS %s %s is not a PEM file of at most 1 MiB", what,
                 path);
        goto out;
    }
    *out = buf;
    buf = NULL;
    rv = 0;
out:
    if (buf != NULL) {
        explicit_bzero(buf, cap + 1);
        free(buf);
    }
    fclose(f);
    return rv;
}

static int col_addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        const uint8_t *b = a->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && b[12] == 127;
    }
    return 0;
}

/* Frees what col_http_start() built; h may be half-built. */
static void col_http_free(struct col_http *h)
{
    if (h == NULL)
        return;
    col_auth_free(h->auth);
    if (h->tls_key != NULL) {
        explicit_bzero(h->tls_key, strlen(h->tls_key));
        free(h->tls_key);
    }
    free(h->tls_cert);
    free(h);
}

int col_http_start(const col_http_opts *o, const col_api *api, col_http **out, char *err,
                   size_t errlen)
{
    struct col_http *h;
    struct sockaddr_storage ss = {0};
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    int tls = o->tls_cert != NULL && o->tls_cert[0] != '\0';
    size_t memlimit;
    int rv;

    if (tls != (o->tls_key != NULL && o->tls_key[0] != '\0')) {
        snprintf(err, errlen, "HTTPS needs both --http-tls-cert and --http-tls-key");
        return SL_EINVAL;
    }
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "this libmicrohttpd was built without TLS; drop --http-tls-cert "
                              "or install a libmicrohttpd with GnuTLS");
        return SL_EINVAL;
    }
    rv = col_resolve(o->addr, &ss, err, errlen);
    if (rv != 0)
        return rv;
    h = calloc(1, sizeof *h);
    if (h == NULL)
        return SL_ENOMEM;
    h->api = *api;
    h->ingest = o->ingest;
    h->max_header_bytes = o->max_header_bytes > 0 ? (size_t)o->max_header_bytes : 16384;
    h->max_headers = o->max_headers > 0 ? (unsigned)o->max_headers : 64;
    h->max_url_bytes = o->max_url_bytes > 0 ? (size_t)o->max_url_bytes : 8192;
    h->max_body_bytes = o->max_body_bytes > 0 ? o->max_body_bytes : COL_API_BODY_MAX;
    if (o->nread_tokens + o->nadmin_tokens > 0) {
        h->auth = col_auth_new(o->read_tokens, o->nread_tokens, o->admin_tokens,
                               o->nadmin_tokens);
        if (h->auth == NULL) {
            snprintf(err, errlen, "bad API token: each must be 1..%d visible ASCII characters, "
                                  "at most %d in all", COL_AUTH_TOKEN_MAX, COL_AUTH_MAX_TOKENS);
            rv = SL_EINVAL;
            goto fail;
        }
    }
    if (tls && ((rv = col_read_pem(o->tls_cert, "certificate", &h->tls_cert, err, errlen)) != 0 ||
                (rv = col_read_pem(o->tls_key, "key", &h->tls_key, err, errlen)) != 0))
        goto fail;
    if (o->ui_dir == NULL || realpath(o->ui_dir, h->ui_real) == NULL)
        h->ui_real[0] = '\0';
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    /* libmicrohttpd keeps the request line and headers in a per-connection
     * pool of this size (and its read buffer): the hard cap behind the
     * header and URL limits checked in col_check_request(). */
    memlimit = h->max_header_bytes + h->max_url_bytes + 32 * 1024;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, col_handler, h, MHD_OPTION_EXTERNAL_LOGGER, col_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 0 ? o->threads : 2),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o->max_conns > 0 ? o->max_conns : 256),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)(o->max_conns_per_ip > 0 ? o->max_conns_per_ip : 64),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->timeout_s > 0 ? o->timeout_s : 30),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, memlimit,
        MHD_OPTION_NOTIFY_COMPLETED, col_completed, NULL,
        /* without TLS the option list ends here */
        tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, h->tls_key,
        MHD_OPTION_HTTPS_MEM_CERT, h->tls_cert, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, errlen,
                 tls ? "cannot serve HTTPS on %s (address in use, or the certificate and key "
                       "do not match or are not PEM?); check --http and --http-tls-cert/-key"
                     : "cannot serve HTTP on %s (address in use or not local?); pick another "
                       "--http",
                 o->addr);
        rv = SL_EIO;
        goto fail;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : 0;
    if (!col_addr_is_loopback(&ss) && !col_auth_enabled(h->auth))
        col_log(COL_LOG_WARN,
                "the HTTP API on %s is reachable from other hosts without a token: anyone who "
                "can reach it can read all data and change alert rules; add --api-token-read "
                "and --api-token-admin (and --http-tls-cert/--http-tls-key), or bind --http to "
                "127.0.0.1",
                o->addr);
    else if (!col_addr_is_loopback(&ss) && !tls)
        col_log(COL_LOG_WARN,
                "API tokens travel in clear text on %s; add --http-tls-cert and --http-tls-key",
                o->addr);
    *out = h;
    return 0;
fail:
    col_http_free(h);
    return rv;
}

uint16_t col_http_port(const col_http *h)
{
    return h->port;
}

void col_http_stop(col_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    col_http_free(h);
}
