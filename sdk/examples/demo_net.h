/*
 * demo_net.h - the minimal HTTP/1.1 plumbing shared by the demo services
 * (one request per connection, loopback only).  Header-only with static
 * functions because each example is a single .c file.  It is deliberately
 * small: the point of the demos is how they use the SDK, see the
 * "SDK:" comments in demo-*.c.
 */
#ifndef DEMO_NET_H
#define DEMO_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sightline.h"

#define DN_MAX_HEAD 8192
#define DN_MAX_HEADERS 32

static volatile sig_atomic_t dn_stop;

static __attribute__((unused)) void dn_on_signal(int sig)
{
    (void)sig;
    dn_stop = 1;
}

/* SIGTERM/SIGINT end the accept loop so the service can flush the SDK. */
static __attribute__((unused)) void dn_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dn_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Parses "HOST:PORT" (IPv4 literal; PORT 0..65535).  0 or -1. */
static __attribute__((unused)) int dn_parse_addr(const char *s, struct sockaddr_in *out)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (colon == NULL || colon == s || (size_t)(colon - s) >= 64)
        return -1;
    char host[64];
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return -1;
    return 0;
}

/* Listens on addr; writes the bound port to *port.  fd or -1 (errno). */
static __attribute__((unused)) int dn_listen(const struct sockaddr_in *addr, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = *addr;
    socklen_t alen = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Writes the port atomically (temp file + rename) so a script polling for
 * the file never reads half of it.  0 or -1. */
static __attribute__((unused)) int dn_write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Listens on addr (listen_at is its text, for messages) and, when
 * port_file is set, writes the bound port there for scripts that started
 * the service on port 0.  Returns the listening fd and *port, or -1 after
 * telling the user on stderr what to do; prog prefixes the messages. */
static __attribute__((unused)) int dn_open_listener(const char *prog, const char *listen_at,
                                                    const struct sockaddr_in *addr,
                                                    const char *port_file, int *port)
{
    int lfd = dn_listen(addr, port);
    if (lfd < 0) {
        fprintf(stderr, "%s: cannot listen on %s: %s; pick another port\n", prog, listen_at,
                strerror(errno));
        return -1;
    }
    if (port_file != NULL && dn_write_port_file(port_file, *port) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, port_file, strerror(errno));
        close(lfd);
        return -1;
    }
    return lfd;
}

static __attribute__((unused)) void dn_timeouts(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static __attribute__((unused)) int dn_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A parsed request or response head.  Header names are lower-cased. */
struct dn_msg {
    char buf[DN_MAX_HEAD + 1];
    char *method, *path; /* request line */
    int status;          /* response line */
    char *name[DN_MAX_HEADERS], *value[DN_MAX_HEADERS];
    int nheaders;
};

/* Header carrier getter for sl_extract(): case-insensitive lookup. */
static __attribute__((unused)) const char *dn_get_header(void *carrier, const char *key)
{
    struct dn_msg *m = carrier;
    for (int i = 0; i < m->nheaders; i++)
        if (strcasecmp(m->name[i], key) == 0)
            return m->value[i];
    return NULL;
}

/* Splits the next CRLF-terminated line off *p (NUL-terminating it). */
static __attribute__((unused)) char *dn_next_line(char **p)
{
    char *line = *p;
    if (line == NULL || *line == '\0')
        return NULL;
    char *crlf = strstr(line, "\r\n");
    if (crlf != NULL) {
        *crlf = '\0';
        *p = crlf + 2;
    } else {
        *p = line + strlen(line);
    }
    return line;
}

/* Reads a head (until CRLFCRLF, at most DN_MAX_HEAD bytes) and parses it.
 * is_request selects the first-line format.  0 or -1. */
static __attribute__((unused)) int dn_read_head(int fd, struct dn_msg *m, int is_request)
{
    size_t n = 0;
    char *end = NULL;
    m->method = m->path = NULL;
    m->status = 0;
    m->nheaders = 0;
    while (end == NULL) {
        if (n == DN_MAX_HEAD)
            return -1;
        ssize_t r = recv(fd, m->buf + n, DN_MAX_HEAD - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n += (size_t)r;
        m->buf[n] = '\0';
        end = strstr(m->buf, "\r\n\r\n");
    }
    end[2] = '\0'; /* keep the last header's CRLF */
    char *cur = m->buf;
    char *line = dn_next_line(&cur);
    if (line == NULL)
        return -1;
    if (is_request) {
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (sp1 == NULL || sp2 == NULL)
            return -1;
        *sp1 = *sp2 = '\0';
        m->method = line;
        m->path = sp1 + 1;
    } else {
        if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12)
            return -1;
        char *e2 = NULL;
        long st = strtol(line + 9, &e2, 10);
        if (e2 == line + 9 || st < 100 || st > 599)
            return -1;
        m->status = (int)st;
    }
    while ((line = dn_next_line(&cur)) != NULL && m->nheaders < DN_MAX_HEADERS) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        for (char *p = line; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        m->name[m->nheaders] = line;
        m->value[m->nheaders] = v;
        m->nheaders++;
    }
    return 0;
}

static __attribute__((unused)) int dn_respond(int fd, int status, const char *reason, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, reason, strlen(body));
    if (dn_write_all(fd, head, (size_t)n) != 0)
        return -1;
    return dn_write_all(fd, body, strlen(body));
}

/* Outgoing headers for sl_inject(): a small fixed buffer. */
struct dn_out_headers {
    char text[1024];
    size_t len;
};

static __attribute__((unused)) void dn_set_header(void *carrier, const char *key, const char *value)
{
    struct dn_out_headers *h = carrier;
    int n = snprintf(h->text + h->len, sizeof(h->text) - h->len, "%s: %s\r\n", key, value);
    if (n > 0 && (size_t)n < sizeof(h->text) - h->len)
        h->len += (size_t)n;
}

/* Sends one request with extra headers and returns the response status
 * (or -1 with errno set when the peer could not be reached). */
static __attribute__((unused)) int dn_request(const struct sockaddr_in *to, const char *method, const char *path,
                      const struct dn_out_headers *extra, const char *body, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    dn_timeouts(fd, timeout_ms);
    if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    char host[64];
    inet_ntop(AF_INET, &to->sin_addr, host, sizeof(host));
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, host, ntohs(to->sin_port), extra ? extra->text : "",
                     strlen(body));
    struct dn_msg *resp = malloc(sizeof(*resp));
    int status = -1;
    if (resp != NULL && n > 0 && (size_t)n < sizeof(head) &&
        dn_write_all(fd, head, (size_t)n) == 0 && dn_write_all(fd, body, strlen(body)) == 0 &&
        dn_read_head(fd, resp, 0) == 0)
        status = resp->status;
    else if (errno == 0)
        errno = EPROTO;
    int e = errno;
    free(resp);
    close(fd);
    errno = e;
    return status;
}

/* Waits up to 200 ms for a connection so the caller can check dn_stop.
 * Returns the accepted fd, or -1 (timeout / signal). */
static __attribute__((unused)) int dn_accept(int lfd)
{
    struct pollfd p = {lfd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0)
        return -1;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        dn_timeouts(fd, 5000);
    return fd;
}

/* Sleeps ms milliseconds (work being simulated). */
static __attribute__((unused)) void dn_sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (double)(long)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !dn_stop)
        ;
}

/* Initialises the SDK for a demo service: defaults, then the service
 * name, then the environment (which may override it), then --service. */
static __attribute__((unused)) int dn_sdk_init(const char *default_service, const char *service_flag)
{
    sl_config c;
    char err[256];
    sl_config_default(&c);
    c.service_name = default_service;
    c.service_version = "0.1.0";
    c.environment = "demo";
    if (sl_config_from_env(&c, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "%s: %s\n", default_service, err);
        return -1;
    }
    if (service_flag != NULL)
        c.service_name = service_flag;
    int rc = sl_init(&c);
    if (rc != SL_OK) {
        sl_stats st;
        sl_stats_get(&st);
        fprintf(stderr, "%s: cannot start the Sightline SDK: %s\n", default_service,
                st.last_error_msg[0] ? st.last_error_msg : sl_strerror(rc));
        return -1;
    }
    return 0;
}

/* Flushes and stops the SDK, reporting anything it could not deliver. */
static __attribute__((unused)) int dn_sdk_shutdown(const char *service)
{
    int rc = sl_shutdown(5000);
    sl_stats st;
    sl_stats_get(&st);
    if (rc != SL_OK || st.spans_dropped + st.logs_dropped > 0)
        fprintf(stderr,
                "%s: %llu spans and %llu logs exported, %llu spans and %llu logs dropped (%s)\n",
                service, (unsigned long long)st.spans_exported, (unsigned long long)st.logs_exported,
                (unsigned long long)st.spans_dropped, (unsigned long long)st.logs_dropped,
                st.last_error_msg[0] ? st.last_error_msg : "no error");
    return rc;
}

/* A per-process random stream for the simulated latency and failures. */
static uint64_t dn_rand_state;

static __attribute__((unused)) double dn_rand01(void)
{
    if (dn_rand_state == 0)
        dn_rand_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    dn_rand_state ^= dn_rand_state << 13;
    dn_rand_state ^= dn_rand_state >> 7;
    dn_rand_state ^= dn_rand_state << 17;
    return (double)(dn_rand_state >> 11) / 9007199254740992.0;
}

#endif /* DEMO_NET_H */
