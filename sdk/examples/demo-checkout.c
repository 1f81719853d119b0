/*
 * demo-checkout - the middle service of the demo: POST /checkout reserves
 * stock, then asks demo-payment to charge the card, passing the W3C
 * traceparent so the three services form one trace.
 *
 * Lines marked "SDK:" are the instrumentation a user would write.
 */
#include "demo_net.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: demo-checkout --listen 127.0.0.1:PORT --payment 127.0.0.1:PORT\n"
            "                     [--port-file FILE] [--service NAME]\n"
            "\n"
            "Serves POST /checkout on PORT (0 = any free port; the bound port is written to\n"
            "FILE) and calls POST /pay on the payment service for each order.\n"
            "Telemetry goes to $SIGHTLINE_ENDPOINT (default tcp://127.0.0.1:4318);\n"
            "the service name is \"checkout\" unless $SIGHTLINE_SERVICE_NAME or --service.\n"
            "Stops cleanly on SIGTERM or SIGINT, flushing the SDK.\n");
}

static int call_payment(const struct sockaddr_in *payment)
{
    char peer[64];
    inet_ntop(AF_INET, &payment->sin_addr, peer, sizeof(peer));
    /* SDK: a client span around the outgoing call; its context goes out
     * in the request headers. */
    sl_span *cli = sl_span_start("POST /pay", SL_KIND_CLIENT);
    sl_span_set_str(cli, "http.request.method", "POST");
    sl_span_set_str(cli, "server.address", peer);
    sl_span_set_int(cli, "server.port", ntohs(payment->sin_port));
    sl_span_set_str(cli, "url.full", "/pay");
    struct dn_out_headers h = {"", 0};
    sl_inject(cli, &h, dn_set_header);
    int status = dn_request(payment, "POST", "/pay", &h, "{\"amount\":42}", 5000);
    if (status < 0) {
        sl_span_record_errno(cli, errno);
        sl_log(SL_LEVEL_ERROR, "payment service unreachable at %s:%d: %s", peer,
               ntohs(payment->sin_port), strerror(errno));
    } else {
        sl_span_set_int(cli, "http.response.status_code", status);
        if (status >= 500)
            sl_span_set_status(cli, SL_STATUS_ERROR, "payment failed");
    }
    sl_span_end(cli);
    return status;
}

static void handle(int fd, int port, const struct sockaddr_in *payment)
{
    struct dn_msg *req = malloc(sizeof(*req));
    if (req == NULL || dn_read_head(fd, req, 1) != 0) {
        free(req);
        return;
    }
    /* SDK: continue the frontend's trace. */
    sl_context parent;
    int have_parent = sl_extract(req, dn_get_header, &parent) == SL_OK;
    sl_span *srv =
        sl_span_start_remote("POST /checkout", SL_KIND_SERVER, have_parent ? &parent : NULL);
    sl_span *prev = sl_scope_enter(srv);
    sl_span_set_str(srv, "http.request.method", req->method);
    sl_span_set_str(srv, "http.route", "/checkout");
    sl_span_set_str(srv, "url.path", req->path);
    sl_span_set_str(srv, "server.address", "127.0.0.1");
    sl_span_set_int(srv, "server.port", port);

    int status;
    const char *reason, *body;
    if (strcmp(req->path, "/checkout") != 0) {
        status = 404;
        reason = "Not Found";
        body = "{\"error\":\"no such route\"}";
    } else {
        int items = 1 + (int)(dn_rand01() * 5);
        sl_span *inv = sl_span_start("reserve inventory", SL_KIND_INTERNAL);
        sl_span_set_int(inv, "cart.items", items);
        dn_sleep_ms(0.5 + dn_rand01() * 2.5);
        sl_span_end(inv);
        sl_log(SL_LEVEL_INFO, "reserved %d items, charging the card", items);

        int pay = call_payment(payment);
        if (pay == 200) {
            status = 200;
            reason = "OK";
            body = "{\"order\":\"confirmed\"}";
            sl_log(SL_LEVEL_INFO, "order confirmed");
        } else {
            status = 502;
            reason = "Bad Gateway";
            body = "{\"order\":\"failed\",\"error\":\"payment failed\"}";
            sl_attr la[] = {SL_ATTR_I("payment.status", pay)};
            sl_log_attrs(SL_LEVEL_ERROR, la, 1, "checkout failed: payment answered %d", pay);
        }
    }
    sl_span_set_int(srv, "http.response.status_code", status);
    if (status >= 500)
        sl_span_set_status(srv, SL_STATUS_ERROR, "payment failed");
    dn_respond(fd, status, reason, body);
    sl_scope_exit(prev);
    sl_span_end(srv);
    free(req);
}

int main(int argc, char **argv)
{
    const char *listen_at = NULL, *payment_at = NULL, *port_file = NULL, *service = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_at = argv[++i];
        } else if (strcmp(argv[i], "--payment") == 0 && i + 1 < argc) {
            payment_at = argv[++i];
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
            service = argv[++i];
        } else {
            fprintf(stderr, "demo-checkout: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    struct sockaddr_in addr, payment;
    if (listen_at == NULL || dn_parse_addr(listen_at, &addr) != 0) {
        fprintf(stderr, "demo-checkout: --listen wants HOST:PORT, e.g. 127.0.0.1:0\n");
        return 2;
    }
    if (payment_at == NULL || dn_parse_addr(payment_at, &payment) != 0 ||
        payment.sin_port == 0) {
        fprintf(stderr, "demo-checkout: --payment wants the payment service's HOST:PORT\n");
        return 2;
    }
    dn_install_signals();
    int port;
    int lfd = dn_open_listener("demo-checkout", listen_at, &addr, port_file, &port);
    if (lfd < 0)
        return 1;
    if (dn_sdk_init("checkout", service) != 0)
        return 1;
    fprintf(stderr, "demo-checkout: listening on 127.0.0.1:%d, payment at %s\n", port,
            payment_at);
    while (!dn_stop) {
        int fd = dn_accept(lfd);
        if (fd < 0)
            continue;
        handle(fd, port, &payment);
        close(fd);
    }
    close(lfd);
    return dn_sdk_shutdown("demo-checkout") == SL_OK ? 0 : 1;
}
