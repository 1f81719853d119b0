/*
 * test_colhttp.c - the HTTP API and static files over a real socket: a raw
 * client, so paths reach the server exactly as written (no client-side
 * normalisation of "..").
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "http/api.h"
#include "http/auth.h"
#include "http/http.h"
#include "sightline.h"
#include "stats.h"
#include "store/store.h"
#include "test_colutil.h"

#define T0_OFFSET 60000000000ULL /* traces start one minute ago */

struct fx {
    char *dir;
    col_store *store;
    col_stats stats;
    col_http *http;
    uint16_t port;
    char tid_hex[33];
};

struct resp {
    int status;
    char head[4096];
    char *body;
    json_t *json;
};

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void store_frame(col_store *s, const uint8_t *frame, size_t len)
{
    slc_batch *b = NULL;
    col_batch_key k;
    char err[128];

    assert_int_equal(slc_wire_decode(frame, len, NULL, &b, err, sizeof err), 0);
    k.batch_id = b->batch_id;
    k.crc = 1;
    assert_int_equal(col_store_claim(s, &k), 0);
    assert_int_equal(col_store_write(s, &k, frame, len, b, err, sizeof err), 0);
    col_store_release(s, &k);
    slc_batch_free(b);
}

/* Starts the server; with tokens, read "r-token" and admin "a-token". */
static int setup_with(void **state, int tokens)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256], p[512];
    col_api api = {0};
    col_http_opts o = {0};
    uint8_t *frame, tid[16];
    size_t len;

    f->dir = tu_tmpdir();
    snprintf(p, sizeof p, "%s/data", f->dir);
    if (col_store_open(p, NULL, &f->store, err, sizeof err) != 0)
        return -1;
    col_stats_init(&f->stats);
    /* ui/ with two files; a secret beside it; a symlink escaping it. */
    snprintf(p, sizeof p, "%s/ui", f->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/ui/index.html", f->dir);
    write_file(p, "<!doctype html><title>Sightline</title>");
    snprintf(p, sizeof p, "%s/ui/app.js", f->dir);
    write_file(p, "console.log('hi');");
    snprintf(p, sizeof p, "%s/secret.txt", f->dir);
    write_file(p, "TOPSECRET");
    char target[512];
    snprintf(target, sizeof target, "%s/secret.txt", f->dir);
    snprintf(p, sizeof p, "%s/ui/escape.txt", f->dir);
    if (symlink(target, p) != 0)
        return -1;

    for (uint64_t i = 0; i < 3; i++) {
        tu_trace_frame(10 + i, 50 + i, slc_now_ns() - T0_OFFSET + i * 1000, &frame, &len);
        store_frame(f->store, frame, len);
        free(frame);
    }
    tu_id(tid, 16, 52);
    slc_hex_encode(tid, 16, f->tid_hex);

    api.store = f->store;
    api.stats = &f->stats;
    api.trace_max_spans = 1000;
    api.trace_max_blocks = 100;
    api.list_max_scan = 10000;
    snprintf(p, sizeof p, "%s/ui", f->dir);
    o.addr = "127.0.0.1:0";
    o.ui_dir = p;
    o.threads = 2;
    if (tokens) {
        static const char *const rt[] = {"r-token"}, *const at[] = {"a-token"};
        o.read_tokens = rt;
        o.nread_tokens = 1;
        o.admin_tokens = at;
        o.nadmin_tokens = 1;
    }
    o.max_header_bytes = 4096;
    o.max_headers = 32;
    o.max_url_bytes = 1024;
    if (col_http_start(&o, &api, &f->http, err, sizeof err) != 0) {
        fprintf(stderr, "http: %s\n", err);
        return -1;
    }
    f->port = col_http_port(f->http);
    if (f->port == 0)
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

static int setup_tokens(void **state)
{
    return setup_with(state, 1);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    col_http_stop(f->http);
    col_store_close(f->store);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Sends "METHOD target HTTP/1.1" with Connection: close and the extra
 * header lines hdrs (each ending in CRLF) and body; reads to EOF. */
static void request_x(const struct fx *f, const char *method, const char *target,
                      const char *hdrs, const char *body, struct resp *r)
{
    struct sockaddr_in sa = {0};
    char *req, *buf = NULL, *sep;
    size_t reqcap = strlen(target) + strlen(hdrs) + strlen(body) + 256;
    size_t n = 0, cap = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t k;

    memset(r, 0, sizeof *r);
    assert_true(fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(f->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    req = malloc(reqcap);
    assert_non_null(req);
    int rl = snprintf(req, reqcap,
                      "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      "%sContent-Length: %zu\r\n\r\n%s",
                      method, target, hdrs, strlen(body), body);
    /* The server may answer and close before reading all of a refused
     * request: a short write is fine, the answer is what is checked. */
    (void)!write(fd, req, (size_t)rl);
    free(req);
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        k = read(fd, buf + n, cap - n - 1);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    assert_non_null(buf);
    buf[n] = '\0';
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
    sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    snprintf(r->head, sizeof r->head, "%.*s", (int)(sep - buf), buf);
    r->body = strdup(sep + 4);
    free(buf);
    if (strstr(r->head, "application/json") != NULL)
        r->json = json_loads(r->body, 0, NULL);
}

static void request(const struct fx *f, const char *method, const char *target, struct resp *r)
{
    request_x(f, method, target, "", "", r);
}

/* Checks the one error shape. */
static void assert_error(const struct resp *r, int status, const char *code)
{
    json_t *e;

    assert_int_equal(r->status, status);
    assert_non_null(r->json);
    e = json_object_get(r->json, "error");
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "status")), status);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 5);
}

static void test_trace_by_id(void **state)
{
    struct fx *f = *state;
    struct resp r;
    char path[128];

    snprintf(path, sizeof path, "/api/v1/traces/%s", f->tid_hex);
    request(f, "GET", path, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_string_equal(json_string_value(json_object_get(r.json, "trace_id")), f->tid_hex);
    json_t *spans = json_object_get(r.json, "spans");
    assert_int_equal(json_array_size(spans), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(spans, 1), "name")),
                        "place-order");
    assert_int_equal(json_array_size(json_object_get(r.json, "logs")), 1);
    resp_free(&r);

    request(f, "GET", "/api/v1/traces/xyz", &r);
    assert_error(&r, 400, "bad_trace_id");
    resp_free(&r);
    request(f, "GET", "/api/v1/traces/0123456789abcdef0123456789abcdeg", &r);
    assert_error(&r, 400, "bad_trace_id");
    resp_free(&r);
    request(f, "GET", "/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", &r);
    assert_error(&r, 404, "not_found");
    assert_non_null(strstr(r.body, "4bf92f3577b34da6a3ce929d0e0e4736"));
    resp_free(&r);
}

static void test_trace_list(void **state)
{
    struct fx *f = *state;
    struct resp r;

    request(f, "GET", "/api/v1/traces", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 3);
    json_t *first = json_array_get(json_object_get(r.json, "traces"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "trace_id")), f->tid_hex);
    assert_string_equal(json_string_value(json_object_get(first, "service")), "frontend");
    assert_string_equal(json_string_value(json_object_get(first, "name")), "GET /checkout");
    assert_true(json_is_string(json_object_get(first, "start_ns")));
    assert_int_equal(json_integer_value(json_object_get(first, "duration_ns")), 50000000);
    assert_true(json_is_false(json_object_get(first, "error")));
    resp_free(&r);

    request(f, "GET", "/api/v1/traces?limit=2&service=frontend&since=2h", &r);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 2);
    resp_free(&r);
    request(f, "GET", "/api/v1/traces?service=nobody", &r);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 0);
    resp_free(&r);
    /* The traces started a minute ago: not in the last 30 seconds. */
    request(f, "GET", "/api/v1/traces?since=30s", &r);
    assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 0);
    resp_free(&r);

    request(f, "GET", "/api/v1/traces?limit=0", &r);
    assert_error(&r, 400, "bad_limit");
    resp_free(&r);
    request(f, "GET", "/api/v1/traces?limit=1001", &r);
    assert_error(&r, 400, "bad_limit");
    resp_free(&r);
    request(f, "GET", "/api/v1/traces?since=yesterday", &r);
    assert_error(&r, 400, "bad_time");
    resp_free(&r);
    request(f, "GET", "/api/v1/traces?since=1h&until=2h", &r);
    assert_error(&r, 400, "bad_range");
    resp_free(&r);
}

static void test_services_stats_health(void **state)
{
    struct fx *f = *state;
    struct resp r;

    request(f, "GET", "/api/v1/services", &r);
    assert_int_equal(r.status, 200);
    json_t *svcs = json_object_get(r.json, "services");
    assert_int_equal(json_array_size(svcs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(svcs, 0), "name")),
                        "checkout");
    resp_free(&r);

    request(f, "GET", "/api/v1/stats", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(json_object_get(r.json, "ingest"));
    json_t *cfs = json_object_get(json_object_get(r.json, "store"), "column_families");
    assert_non_null(json_object_get(cfs, "blocks"));
    assert_true(json_integer_value(json_object_get(json_object_get(cfs, "blocks"),
                                                   "keys_estimate")) >= 3);
    resp_free(&r);

    request(f, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    request(f, "GET", "/api/v1/nothing", &r);
    assert_error(&r, 404, "not_found");
    resp_free(&r);
    request(f, "POST", "/api/v1/traces", &r);
    assert_error(&r, 405, "method_not_allowed");
    resp_free(&r);
}

static void test_static_files(void **state)
{
    struct fx *f = *state;
    struct resp r;

    request(f, "GET", "/", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "text/html"));
    assert_non_null(strstr(r.body, "<title>Sightline</title>"));
    resp_free(&r);
    request(f, "GET", "/app.js", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "text/javascript"));
    resp_free(&r);
    request(f, "GET", "/missing.css", &r);
    assert_error(&r, 404, "not_found");
    resp_free(&r);

    /* Every way out of the ui dir is refused and never shows the secret. */
    static const char *const escapes[] = {
        "/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/a/../../secret.txt",
        "/..", "/escape.txt", "/..\\secret.txt",
    };
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        request(f, "GET", escapes[i], &r);
        assert_true(r.status == 400 || r.status == 403 || r.status == 404);
        assert_null(strstr(r.body, "TOPSECRET"));
        resp_free(&r);
    }
    request(f, "GET", "/escape.txt", &r);
    assert_error(&r, 403, "forbidden");
    resp_free(&r);
    request(f, "GET", "/../secret.txt", &r);
    assert_error(&r, 400, "bad_path");
    resp_free(&r);
}

/* Each scope reaches what it may and gets a 401/403 that says what to do
 * elsewhere; /healthz and the dashboard files stay open. */
static void test_auth_scopes(void **state)
{
    struct fx *f = *state;
    struct resp r;
    static const char rule[] = "{\"name\":\"t\",\"kind\":\"error_rate\"}";

    request(f, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    request(f, "GET", "/", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    request(f, "GET", "/api/v1/services", &r);
    assert_error(&r, 401, "unauthorized");
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    assert_non_null(strstr(r.body, "--api-token-read"));
    resp_free(&r);
    request(f, "GET", "/metrics", &r);
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);
    request(f, "GET", "/api/v1/nothing", &r);
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);
    request_x(f, "GET", "/api/v1/services", "Authorization: Bearer r-tokeN\r\n", "", &r);
    assert_error(&r, 401, "unauthorized");
    assert_non_null(strstr(r.head, "invalid_token"));
    resp_free(&r);
    request_x(f, "GET", "/api/v1/services", "Authorization: Basic r-token\r\n", "", &r);
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);

    request_x(f, "GET", "/api/v1/services", "Authorization: Bearer r-token\r\n", "", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(json_object_get(r.json, "services"));
    resp_free(&r);
    request_x(f, "GET", "/metrics", "Authorization: bearer  r-token \r\n", "", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    request_x(f, "GET", "/api/v1/services", "Authorization: Bearer a-token\r\n", "", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* Writes: no token 401, read 403, admin goes through to the handler
     * (no alert engine here: 503 is the handler's own answer). */
    request_x(f, "POST", "/api/v1/alerts/rules", "Content-Type: application/json\r\n", rule,
              &r);
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);
    request_x(f, "POST", "/api/v1/alerts/rules",
              "Content-Type: application/json\r\nAuthorization: Bearer r-token\r\n", rule, &r);
    assert_error(&r, 403, "forbidden");
    assert_non_null(strstr(r.body, "--api-token-admin"));
    assert_non_null(strstr(r.head, "insufficient_scope"));
    resp_free(&r);
    request_x(f, "DELETE", "/api/v1/alerts/rules/t", "Authorization: Bearer r-token\r\n", "",
              &r);
    assert_error(&r, 403, "forbidden");
    resp_free(&r);
    request_x(f, "POST", "/api/v1/alerts/rules",
              "Content-Type: application/json\r\nAuthorization: Bearer a-token\r\n", rule, &r);
    assert_true(r.status != 401 && r.status != 403);
    resp_free(&r);
}

static void test_auth_helpers(void **state)
{
    static const char *const rt[] = {"read-1", "shared"}, *const at[] = {"admin-1", "shared"};
    col_auth *a = col_auth_new(rt, 2, at, 2);
    char big[400];
    (void)state;

    assert_true(col_auth_ct_equal("abcdef", "abcdef", 6));
    assert_false(col_auth_ct_equal("abcdef", "abcdeg", 6));
    assert_false(col_auth_ct_equal("xbcdef", "abcdef", 6));
    assert_true(col_auth_ct_equal("", "", 0));

    assert_non_null(a);
    assert_true(col_auth_enabled(a));
    assert_int_equal(col_auth_grant(a, "Bearer read-1"), COL_SCOPE_READ);
    assert_int_equal(col_auth_grant(a, "Bearer admin-1"), COL_SCOPE_ADMIN);
    /* a token in both lists gets the wider scope */
    assert_int_equal(col_auth_grant(a, "Bearer shared"), COL_SCOPE_ADMIN);
    assert_int_equal(col_auth_grant(a, "Bearer read-"), COL_SCOPE_NONE);
    assert_int_equal(col_auth_grant(a, "Bearer read-12"), COL_SCOPE_NONE);
    assert_int_equal(col_auth_grant(a, "Bearer "), COL_SCOPE_NONE);
    assert_int_equal(col_auth_grant(a, "read-1"), COL_SCOPE_NONE);
    assert_int_equal(col_auth_grant(a, NULL), COL_SCOPE_NONE);
    memset(big, 'r', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "Bearer ", 7);
    assert_int_equal(col_auth_grant(a, big), COL_SCOPE_NONE);

    assert_int_equal(col_auth_required("GET", "/healthz"), COL_SCOPE_NONE);
    assert_int_equal(col_auth_required("GET", "/index.html"), COL_SCOPE_NONE);
    assert_int_equal(col_auth_required("HEAD", "/api/v1/traces"), COL_SCOPE_READ);
    assert_int_equal(col_auth_required("GET", "/metrics"), COL_SCOPE_READ);
    assert_int_equal(col_auth_required("PUT", "/api/v1/alerts/rules/x"), COL_SCOPE_ADMIN);
    assert_int_equal(col_auth_required("BREW", "/api"), COL_SCOPE_ADMIN);
    col_auth_free(a);

    /* invalid tokens are refused whole */
    static const char *const bad1[] = {"has space"}, *const bad2[] = {""};
    assert_null(col_auth_new(bad1, 1, NULL, 0));
    assert_null(col_auth_new(NULL, 0, bad2, 1));
    assert_null(col_auth_new(rt, -1, NULL, 0));
    a = col_auth_new(NULL, 0, NULL, 0);
    assert_non_null(a);
    assert_false(col_auth_enabled(a));
    col_auth_free(a);
    col_auth_free(NULL);
}

/* Oversized URLs and headers get a 4xx, and the server still answers. */
static void test_limits(void **state)
{
    struct fx *f = *state;
    struct resp r;
    char *big = malloc(200000), *hdrs = malloc(4096), target[1400];
    size_t n = 0;

    assert_non_null(big);
    assert_non_null(hdrs);
    /* headers over --http-max-header-bytes (4096 here): ours, 431 */
    snprintf(big, 200000, "X-Big: %05000d\r\n", 1);
    request_x(f, "GET", "/api/v1/services", big, "", &r);
    assert_error(&r, 431, "headers_too_large");
    resp_free(&r);
    /* far over the connection's memory: libmicrohttpd's own 4xx */
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', 150000);
    memcpy(big + 150007, "\r\n", 3);
    request_x(f, "GET", "/api/v1/services", big, "", &r);
    assert_true(r.status >= 400 && r.status < 500);
    resp_free(&r);
    /* too many header lines */
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(hdrs + n, 4096 - n, "X-H%d: v\r\n", i);
    request_x(f, "GET", "/api/v1/services", hdrs, "", &r);
    assert_error(&r, 431, "headers_too_large");
    resp_free(&r);
    /* a URL over --http-max-url-bytes (1024 here), in the path or the query */
    memset(target, 'a', sizeof target);
    memcpy(target, "/api/v1/services?x=", 19);
    target[sizeof target - 1] = '\0';
    request(f, "GET", target, &r);
    assert_error(&r, 414, "uri_too_long");
    resp_free(&r);
    memcpy(target, "/aaaaaaaaaaaaaaaaaaa", 19);
    request(f, "GET", target, &r);
    assert_error(&r, 414, "uri_too_long");
    resp_free(&r);
    /* a bad method on the API and on static files */
    request(f, "BREW", "/api/v1/services", &r);
    assert_error(&r, 405, "method_not_allowed");
    resp_free(&r);
    request(f, "BREW", "/index.html", &r);
    assert_error(&r, 405, "method_not_allowed");
    resp_free(&r);
    free(big);
    free(hdrs);

    request(f, "GET", "/api/v1/services", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_auth_scopes, setup_tokens, teardown),
        cmocka_unit_test(test_auth_helpers),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_stats_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
