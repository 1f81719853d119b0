/*
 * demo-frontend - the entry point of the demo: it plays a shop's web
 * front end handling "GET /shop/checkout" requests, each of which calls
 * demo-checkout (which calls demo-payment).  Every request is a new trace;
 * one line "trace <id> <ok|error>" per request goes to stdout so scripts
 * can look the traces up.
 *
 * Lines marked "SDK:" are the instrumentation a user would write.
 */
#include "demo_net.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: demo-frontend --checkout 127.0.0.1:PORT --requests N [--rate PER_SEC]\n"
            "                     [--service NAME]\n"
            "\n"
            "Sends N checkout requests (0 = until SIGTERM/SIGINT) to the checkout service,\n"
            "at most PER_SEC per second (default 10; 0 = as fast as possible), and prints\n"
            "\"trace <32-hex trace id> <ok|error>\" per request.  Exits after flushing the SDK\n"
            "(exit status 1 if telemetry could not be delivered).\n"
            "Telemetry goes to $SIGHTLINE_ENDPOINT (default tcp://127.0.0.1:4318);\n"
            "the service name is \"frontend\" unless $SIGHTLINE_SERVICE_NAME or --service.\n");
}

static int one_request(const struct sockaddr_in *checkout, long n)
{
    char peer[64];
    inet_ntop(AF_INET, &checkout->sin_addr, peer, sizeof(peer));

    /* SDK: the root span of the trace, current for this thread so the
     * spans and logs below attach to it. */
    sl_span *root = sl_span_start("GET /shop/checkout", SL_KIND_SERVER);
    sl_span *prev = sl_scope_enter(root);
    sl_span_set_str(root, "http.request.method", "GET");
    sl_span_set_str(root, "http.route", "/shop/checkout");
    sl_span_set_str(root, "url.path", "/shop/checkout");
    sl_span_set_int(root, "demo.request", n);
    sl_log(SL_LEVEL_INFO, "user checks out (request %ld)", n);

    sl_span *render = sl_span_start("load cart", SL_KIND_INTERNAL);
    dn_sleep_ms(0.2 + dn_rand01() * 1.0);
    sl_span_end(render);

    sl_span *cli = sl_span_start("POST /checkout", SL_KIND_CLIENT);
    sl_span_set_str(cli, "http.request.method", "POST");
    sl_span_set_str(cli, "server.address", peer);
    sl_span_set_int(cli, "server.port", ntohs(checkout->sin_port));
    struct dn_out_headers h = {"", 0};
    sl_inject(cli, &h, dn_set_header); /* SDK: traceparent for checkout */
    int status = dn_request(checkout, "POST", "/checkout", &h, "{\"cart\":\"demo\"}", 10000);
    int err = errno;
    if (status < 0) {
        sl_span_record_errno(cli, err);
        sl_log(SL_LEVEL_ERROR, "checkout service unreachable at %s:%d: %s", peer,
               ntohs(checkout->sin_port), strerror(err));
    } else {
        sl_span_set_int(cli, "http.response.status_code", status);
        if (status >= 500)
            sl_span_set_status(cli, SL_STATUS_ERROR, "checkout failed");
    }
    sl_span_end(cli);

    int ok = status == 200;
    sl_span_set_int(root, "http.response.status_code", ok ? 200 : 500);
    if (ok) {
        sl_log(SL_LEVEL_INFO, "checkout page rendered");
    } else {
        sl_span_set_status(root, SL_STATUS_ERROR, "checkout failed");
        sl_log(SL_LEVEL_WARN, "showing the user an error page");
    }

    sl_context ctx;
    char tid[33] = "00000000000000000000000000000000";
    if (sl_span_context(root, &ctx) == SL_OK)
        sl_context_trace_hex(&ctx, tid);
    sl_scope_exit(prev);
    sl_span_end(root);
    printf("trace %s %s\n", tid, ok ? "ok" : "error");
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    const char *checkout_at = NULL, *service = NULL;
    long requests = -1;
    double rate = 10;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--checkout") == 0 && i + 1 < argc) {
            checkout_at = argv[++i];
        } else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
            service = argv[++i];
        } else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc) {
            errno = 0;
            requests = strtol(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || requests < 0) {
                fprintf(stderr, "demo-frontend: --requests wants a count >= 0 (0 = forever)\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
            rate = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !(rate >= 0)) {
                fprintf(stderr, "demo-frontend: --rate wants requests per second >= 0\n");
                return 2;
            }
        } else {
            fprintf(stderr, "demo-frontend: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    struct sockaddr_in checkout;
    if (checkout_at == NULL || dn_parse_addr(checkout_at, &checkout) != 0 ||
        checkout.sin_port == 0) {
        fprintf(stderr, "demo-frontend: --checkout wants the checkout service's HOST:PORT\n");
        return 2;
    }
    if (requests < 0) {
        fprintf(stderr, "demo-frontend: --requests N is required (0 = until interrupted)\n");
        return 2;
    }
    dn_install_signals();
    if (dn_sdk_init("frontend", service) != 0)
        return 1;
    for (long n = 1; !dn_stop && (requests == 0 || n <= requests); n++) {
        one_request(&checkout, n);
        if (rate > 0)
            dn_sleep_ms(1000.0 / rate);
    }
    return dn_sdk_shutdown("demo-frontend") == SL_OK ? 0 : 1;
}
