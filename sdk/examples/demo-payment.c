/*
 * demo-payment - the last service of the demo: POST /pay charges a card.
 * It takes a few milliseconds and fails now and then, so the traces show
 * varied latency and real errors with their logs.
 *
 * Lines marked "SDK:" are the instrumentation a user would write.
 */
#include "demo_net.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: demo-payment --listen 127.0.0.1:PORT [--port-file FILE] [--service NAME]\n"
            "                    [--fail-rate R]\n"
            "\n"
            "Serves POST /pay on PORT (0 = any free port; the bound port is written to FILE).\n"
            "Each payment takes 1-9 ms and fails with probability R (default 0.1).\n"
            "Telemetry goes to $SIGHTLINE_ENDPOINT (default tcp://127.0.0.1:4318);\n"
            "the service name is \"payment\" unless $SIGHTLINE_SERVICE_NAME or --service.\n"
            "Stops cleanly on SIGTERM or SIGINT, flushing the SDK.\n");
}

static void handle(int fd, int port, double fail_rate)
{
    struct dn_msg *req = malloc(sizeof(*req));
    if (req == NULL || dn_read_head(fd, req, 1) != 0) {
        free(req);
        return;
    }
    /* SDK: continue the caller's trace from its traceparent header. */
    sl_context parent;
    int have_parent = sl_extract(req, dn_get_header, &parent) == SL_OK;
    sl_span *srv = sl_span_start_remote("POST /pay", SL_KIND_SERVER, have_parent ? &parent : NULL);
    sl_span *prev = sl_scope_enter(srv);
    sl_span_set_str(srv, "http.request.method", req->method);
    sl_span_set_str(srv, "http.route", "/pay");
    sl_span_set_str(srv, "url.path", req->path);
    sl_span_set_str(srv, "server.address", "127.0.0.1");
    sl_span_set_int(srv, "server.port", port);

    int status;
    const char *reason, *body;
    if (strcmp(req->path, "/pay") != 0) {
        status = 404;
        reason = "Not Found";
        body = "{\"error\":\"no such route\"}";
        sl_log(SL_LEVEL_WARN, "unknown route %s", req->path);
    } else {
        double amount = 5 + dn_rand01() * 195;
        /* SDK: an internal span for the work, with its own attributes. */
        sl_span *charge = sl_span_start("charge card", SL_KIND_INTERNAL);
        sl_span_set_double(charge, "payment.amount", amount);
        sl_span_set_str(charge, "payment.currency", "EUR");
        sl_attr la[] = {SL_ATTR_D("payment.amount", amount), SL_ATTR_S("payment.currency", "EUR")};
        sl_log_attrs(SL_LEVEL_INFO, la, 2, "charging card for %.2f EUR", amount);
        dn_sleep_ms(1 + dn_rand01() * 8);
        if (dn_rand01() < fail_rate) {
            /* SDK: record the failure on the span and log it. */
            sl_span_record_error(charge, "CardProcessorTimeout",
                                 "card processor did not answer in time");
            sl_log(SL_LEVEL_ERROR, "payment failed: card processor did not answer in time");
            status = 503;
            reason = "Service Unavailable";
            body = "{\"paid\":false,\"error\":\"card processor timeout\"}";
        } else {
            sl_span_add_event(charge, "card authorized", NULL, 0);
            sl_span_set_status(charge, SL_STATUS_OK, NULL);
            status = 200;
            reason = "OK";
            body = "{\"paid\":true}";
        }
        sl_span_end(charge);
    }
    sl_span_set_int(srv, "http.response.status_code", status);
    if (status >= 500)
        sl_span_set_status(srv, SL_STATUS_ERROR, reason);
    dn_respond(fd, status, reason, body);
    sl_scope_exit(prev);
    sl_span_end(srv);
    free(req);
}

int main(int argc, char **argv)
{
    const char *listen_at = NULL, *port_file = NULL, *service = NULL;
    double fail_rate = 0.1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_at = argv[++i];
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
            service = argv[++i];
        } else if (strcmp(argv[i], "--fail-rate") == 0 && i + 1 < argc) {
            char *end = NULL;
            fail_rate = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !(fail_rate >= 0 && fail_rate <= 1)) {
                fprintf(stderr, "demo-payment: --fail-rate wants a number from 0 to 1\n");
                return 2;
            }
        } else {
            fprintf(stderr, "demo-payment: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    struct sockaddr_in addr;
    if (listen_at == NULL || dn_parse_addr(listen_at, &addr) != 0) {
        fprintf(stderr, "demo-payment: --listen wants HOST:PORT, e.g. 127.0.0.1:0\n");
        return 2;
    }
    dn_install_signals();
    int port;
    int lfd = dn_open_listener("demo-payment", listen_at, &addr, port_file, &port);
    if (lfd < 0)
        return 1;
    if (dn_sdk_init("payment", service) != 0)
        return 1;
    fprintf(stderr, "demo-payment: listening on 127.0.0.1:%d\n", port);
    while (!dn_stop) {
        int fd = dn_accept(lfd);
        if (fd < 0)
            continue;
        handle(fd, port, fail_rate);
        close(fd);
    }
    close(lfd);
    return dn_sdk_shutdown("demo-payment") == SL_OK ? 0 : 1;
}
