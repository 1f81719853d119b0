/*
 * test_sdk_security.c - ingest tokens and TLS, end to end against the real
 * nng test collector (test_sdk_collector.h):
 *
 *  - the token is validated at sl_init, sent in every frame, and a refused
 *    token drops the frame, is counted, says what to do and opens the
 *    breaker (one frame per breaker period, not a stream);
 *  - tls+tcp:// with a certificate made here by openssl: the right CA is
 *    stored, a wrong CA or a wrong server name is not (counted, last_error
 *    says TLS), "insecure" skips verification; all also through the
 *    SIGHTLINE_TLS_* environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "sightline.h"
#include "common/slc_util.h"
#include "test_sdk_collector.h"

#define TOKEN "s3cret-T0ken_42"

static char dir[64];                /* temporary directory with the PEM files */
static char ca_ok[128], ca_wrong[128], server_pem[128];

static void cfg(sl_config *c, const char *url)
{
    sl_config_default(c);
    c->endpoint = url;
    c->service_name = "sec-test";
    c->batch_delay_ms = 10;
    c->ack_timeout_ms = 400;
    c->retry_min_ms = 20;
    c->retry_max_ms = 100;
    c->breaker_open_ms = 300;
    c->stats_interval_ms = UINT32_MAX; /* count user spans only */
}

static void make_spans(int n)
{
    for (int i = 0; i < n; i++) {
        sl_span *s = sl_span_start("secure-work", SL_KIND_INTERNAL);
        sl_span_set_int(s, "i", i);
        sl_span_end(s);
    }
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to ms for last_error_msg to contain needle; 1 if it did. */
static int wait_error(const char *needle, unsigned ms, sl_stats *st)
{
    for (unsigned t = 0; t <= ms; t += 20) {
        sl_stats_get(st);
        if (strstr(st->last_error_msg, needle) != NULL)
            return 1;
        sleep_ms(20);
    }
    return 0;
}

/* ---- setup: certificates ------------------------------------------------------ */

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "test_sdk_security: \"%s\" failed (%d)\n", cmd, rc);
    return rc;
}

/* A self-signed certificate for CN=localhost (the server's, also its own
 * CA), and an unrelated one to be the wrong CA. */
static int group_setup(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(dir, sizeof(dir), "/tmp/sl-sec-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(ca_ok, sizeof(ca_ok), "%s/c.pem", dir);
    snprintf(ca_wrong, sizeof(ca_wrong), "%s/other.pem", dir);
    snprintf(server_pem, sizeof(server_pem), "%s/server.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
             "-keyout k.pem -out c.pem -days 1 >/dev/null 2>&1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
             "-keyout ok.pem -out other.pem -days 1 >/dev/null 2>&1 && "
             "cat c.pem k.pem > server.pem",
             dir);
    return run(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return run(cmd) == 0 ? 0 : -1;
}

/* Starts a TLS collector on a free port; writes its URL into url. */
static void start_tls(struct tcol *col, struct tcol_store *store, const char *token, char *url,
                      size_t len)
{
    struct tcol_opts o = {.token = token, .cert_key_file = server_pem};
    tcol_store_init(store);
    assert_int_equal(tcol_start_ex(col, "tls+tcp://127.0.0.1:0", store, &o), 0);
    int port = tcol_port(col);
    assert_true(port > 0);
    snprintf(url, len, "tls+tcp://127.0.0.1:%d", port);
}

/* ---- tokens --------------------------------------------------------------------- */

static void test_token_validated_at_init(void **state)
{
    (void)state;
    char url[128], long_tok[300];
    tcol_url(url, sizeof(url));
    sl_config c;
    sl_stats st;
    const char *bad[] = {"", "has space", "new\nline", "tab\t", "caf\xc3\xa9", TOKEN "\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg(&c, url);
        c.token = bad[i];
        assert_int_equal(sl_init(&c), SL_ECONFIG);
        assert_int_equal(sl_is_running(), 0);
        sl_stats_get(&st);
        assert_int_equal(st.last_error, SL_ECONFIG);
        assert_non_null(strstr(st.last_error_msg, "SIGHTLINE_TOKEN"));
    }
    memset(long_tok, 'a', 256);
    long_tok[256] = '\0';
    cfg(&c, url);
    c.token = long_tok;
    assert_int_equal(sl_init(&c), SL_ECONFIG);
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "too long"));
    long_tok[255] = '\0'; /* 255 visible characters: the most a frame carries */
    assert_int_equal(sl_init(&c), SL_OK);
    assert_int_equal(sl_shutdown(0), SL_OK);

    /* The same check for the environment: a token read from a file with
     * its newline is the usual mistake. */
    setenv("SIGHTLINE_ENDPOINT", url, 1);
    setenv("SIGHTLINE_TOKEN", TOKEN "\n", 1);
    assert_int_equal(sl_init(NULL), SL_ECONFIG);
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "0x0a"));
    unsetenv("SIGHTLINE_TOKEN");
    unsetenv("SIGHTLINE_ENDPOINT");
}

static void test_token_sent_and_accepted(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    struct tcol_opts o = {.token = TOKEN};
    char url[128];
    tcol_url(url, sizeof(url));
    tcol_store_init(&store);
    assert_int_equal(tcol_start_ex(&col, url, &store, &o), 0);
    /* Through the environment, as a deployment sets it. */
    setenv("SIGHTLINE_ENDPOINT", url, 1);
    setenv("SIGHTLINE_TOKEN", TOKEN, 1);
    setenv("SIGHTLINE_BATCH_DELAY_MS", "10", 1);
    assert_int_equal(sl_init(NULL), SL_OK);
    unsetenv("SIGHTLINE_TOKEN");
    unsetenv("SIGHTLINE_ENDPOINT");
    unsetenv("SIGHTLINE_BATCH_DELAY_MS");
    for (int round = 0; round < 3; round++) { /* several frames, each with the token */
        make_spans(10);
        assert_int_equal(sl_flush(5000), SL_OK);
    }
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.spans_exported, 30);
    assert_int_equal(st.spans_dropped, 0);
    assert_int_equal(sl_shutdown(2000), SL_OK);
    tcol_stop(&col);
    assert_int_equal(tcol_span_count(&store), 30);
    assert_int_equal(store.nunauthorized, 0);
    assert_true(store.nseen >= 3);
    assert_int_equal(store.ntokened, store.nseen); /* every frame carried it */
    tcol_store_free(&store);
}

/* A wrong or missing token: dropped, counted, explained, and the breaker
 * keeps the service from hammering the collector. */
static void check_refused(const char *token, const char *why)
{
    struct tcol col;
    struct tcol_store store;
    struct tcol_opts o = {.token = TOKEN};
    char url[128];
    tcol_url(url, sizeof(url));
    tcol_store_init(&store);
    assert_int_equal(tcol_start_ex(&col, url, &store, &o), 0);
    sl_config c;
    cfg(&c, url);
    c.token = token;
    c.breaker_open_ms = 60000; /* long: nothing else may be sent during the test */
    assert_int_equal(sl_init(&c), SL_OK);
    make_spans(4);
    assert_int_equal(sl_flush(5000), SL_OK); /* resolved: dropped for good */
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.spans_dropped_by[SL_DROP_UNAUTHORIZED], 4);
    assert_int_equal(st.spans_exported, 0);
    assert_int_equal(st.last_error, SL_EAUTH);
    assert_non_null(strstr(st.last_error_msg, "collector refused the token: set SIGHTLINE_TOKEN"));
    assert_non_null(strstr(st.last_error_msg, why));
    print_message("last_error: %s\n", st.last_error_msg);
    assert_int_equal(st.breaker_open, 1);

    /* More data while the breaker is open: it waits, nothing is sent. */
    make_spans(4);
    assert_int_equal(sl_flush(500), SL_ETIMEDOUT);
    pthread_mutex_lock(&store.mu);
    size_t seen = store.nseen, refused = store.nunauthorized;
    pthread_mutex_unlock(&store.mu);
    assert_int_equal(seen, 1);
    assert_int_equal(refused, 1);
    sl_stats_get(&st);
    assert_int_equal(st.frames_sent, 1);
    assert_true(st.frames_queued >= 1);
    assert_int_equal(sl_shutdown(100), SL_ETIMEDOUT);
    sl_stats_get(&st);
    assert_int_equal(st.spans_dropped_by[SL_DROP_SHUTDOWN], 4); /* still counted */
    tcol_stop(&col);
    assert_int_equal(tcol_span_count(&store), 0);
    tcol_store_free(&store);
}

static void test_token_wrong(void **state)
{
    (void)state;
    check_refused("not-the-token", "a token was sent");
}

static void test_token_missing(void **state)
{
    (void)state;
    check_refused(NULL, "no token was sent");
}

/* ---- TLS -------------------------------------------------------------------------- */

static void test_tls_config_errors(void **state)
{
    (void)state;
    sl_config c;
    sl_stats st;
    char url[128], missing[160];

    cfg(&c, "tcp://127.0.0.1:4318");
    c.tls_ca = ca_ok; /* TLS settings on a plain endpoint protect nothing */
    assert_int_equal(sl_init(&c), SL_ECONFIG);
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "not tls+tcp://"));

    snprintf(missing, sizeof(missing), "%s/no-such-ca.pem", dir);
    snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:1");
    cfg(&c, url);
    c.tls_ca = missing;
    assert_int_equal(sl_init(&c), SL_ECONFIG);
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "TLS CA file"));
    assert_non_null(strstr(st.last_error_msg, "SIGHTLINE_TLS_CA"));

    setenv("SIGHTLINE_ENDPOINT", url, 1);
    setenv("SIGHTLINE_TLS_INSECURE", "maybe", 1);
    assert_int_equal(sl_init(NULL), SL_ECONFIG);
    sl_stats_get(&st);
    assert_non_null(strstr(st.last_error_msg, "SIGHTLINE_TLS_INSECURE"));
    unsetenv("SIGHTLINE_TLS_INSECURE");
    unsetenv("SIGHTLINE_ENDPOINT");
}

/* Right CA, and the name the certificate carries: stored, with the token. */
static void test_tls_verified(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    start_tls(&col, &store, TOKEN, url, sizeof(url));
    sl_config c;
    cfg(&c, url);
    c.tls_ca = ca_ok;
    c.tls_server_name = "localhost";
    c.token = TOKEN;
    assert_int_equal(sl_init(&c), SL_OK);
    make_spans(25);
    assert_int_equal(sl_flush(10000), SL_OK);
    sl_stats st;
    sl_stats_get(&st);
    assert_int_equal(st.spans_exported, 25);
    assert_int_equal(st.spans_dropped, 0);
    assert_int_equal(sl_shutdown(2000), SL_OK);
    tcol_stop(&col);
    assert_int_equal(tcol_span_count(&store), 25);
    assert_int_equal(store.nunauthorized, 0);
    tcol_store_free(&store);
}

/* Verification that fails: nothing stored, everything counted, and
 * last_error says it is TLS and what to check. */
static void check_tls_fails(const char *ca, const char *server_name, const char *needle)
{
    struct tcol col;
    struct tcol_store store;
    char url[128];
    start_tls(&col, &store, NULL, url, sizeof(url));
    sl_config c;
    cfg(&c, url);
    c.tls_ca = ca;
    c.tls_server_name = server_name;
    assert_int_equal(sl_init(&c), SL_OK); /* a collector down never fails init */
    make_spans(7);
    assert_int_equal(sl_flush(300), SL_ETIMEDOUT);
    sl_stats st;
    int found = wait_error("TLS handshake failed", 8000, &st);
    print_message("last_error: %s\n", st.last_error_msg);
    assert_true(found);
    assert_non_null(strstr(st.last_error_msg, needle));
    assert_int_equal(st.last_error, SL_ETIMEDOUT);
    assert_true(st.frames_retried >= 1);
    assert_int_equal(st.spans_exported, 0);
    assert_int_equal(sl_shutdown(200), SL_ETIMEDOUT);
    sl_stats_get(&st);
    assert_int_equal(st.spans_dropped_by[SL_DROP_SHUTDOWN], 7);
    tcol_stop(&col);
    assert_int_equal(tcol_span_count(&store), 0);
    assert_int_equal(store.nseen, 0); /* not one byte of data got through */
    tcol_store_free(&store);
}

static void test_tls_wrong_ca(void **state)
{
    (void)state;
    check_tls_fails(ca_wrong, "localhost", "SIGHTLINE_TLS_CA");
}

static void test_tls_wrong_name(void **state)
{
    (void)state;
    /* No server name: the endpoint's host, 127.0.0.1, which the
     * certificate (CN=localhost) does not carry. */
    check_tls_fails(ca_ok, NULL, "for the name \"127.0.0.1\"");
}

/* Everything through the environment; insecure mode skips verification
 * (the wrong CA is then irrelevant). */
static void test_tls_env_and_insecure(void **state)
{
    (void)state;
    struct tcol col;
    struct tcol_store store;
    char url[128];
    start_tls(&col, &store, NULL, url, sizeof(url));
    setenv("SIGHTLINE_ENDPOINT", url, 1);
    setenv("SIGHTLINE_TLS_CA", ca_ok, 1);
    setenv("SIGHTLINE_TLS_SERVER_NAME", "localhost", 1);
    setenv("SIGHTLINE_BATCH_DELAY_MS", "10", 1);
    assert_int_equal(sl_init(NULL), SL_OK);
    make_spans(5);
    assert_int_equal(sl_flush(10000), SL_OK);
    assert_int_equal(sl_shutdown(2000), SL_OK);

    unsetenv("SIGHTLINE_TLS_SERVER_NAME");
    setenv("SIGHTLINE_TLS_CA", ca_wrong, 1);
    setenv("SIGHTLINE_TLS_INSECURE", "1", 1);
    assert_int_equal(sl_init(NULL), SL_OK);
    make_spans(6);
    assert_int_equal(sl_flush(10000), SL_OK);
    assert_int_equal(sl_shutdown(2000), SL_OK);
    unsetenv("SIGHTLINE_TLS_INSECURE");
    unsetenv("SIGHTLINE_TLS_CA");
    unsetenv("SIGHTLINE_ENDPOINT");
    unsetenv("SIGHTLINE_BATCH_DELAY_MS");
    tcol_stop(&col);
    assert_int_equal(tcol_span_count(&store), 11);
    tcol_store_free(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_validated_at_init),
        cmocka_unit_test(test_token_sent_and_accepted),
        cmocka_unit_test(test_token_wrong),
        cmocka_unit_test(test_token_missing),
        cmocka_unit_test(test_tls_config_errors),
        cmocka_unit_test(test_tls_verified),
        cmocka_unit_test(test_tls_wrong_ca),
        cmocka_unit_test(test_tls_wrong_name),
        cmocka_unit_test(test_tls_env_and_insecure),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
