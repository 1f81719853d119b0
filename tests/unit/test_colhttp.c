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

#include "api.h"
#include "http.h"
#include "sightline.h"
#include "stats.h"
#include "store.h"
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

static int setup(void **state)
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

/* Sends "METHOD target HTTP/1.1" with Connection: close; reads to EOF. */
static void request(const struct fx *f, const char *method, const char *target, struct resp *r)
{
    struct sockaddr_in sa = {0};
    char req[1024], *buf = NULL, *sep;
    size_t n = 0, cap = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t k;

    memset(r, 0, sizeof *r);
    assert_true(fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(f->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    int rl = snprintf(req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      "Content-Length: 0\r\n\r\n",
                      method, target);
    assert_int_equal(write(fd, req, (size_t)rl), rl);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trace_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_stats_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
