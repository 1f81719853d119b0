/*
 * benchutil.c - the collector harness shared by the benchmarks (see
 * benchutil.h).
 */
#include "benchutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/slc_wire.h"

double bu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bu_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bu_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, bu_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *bu_collector_next_to_self(void)
{
    static char self[4096];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 32);
    if (l <= 0)
        return NULL;
    self[l] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    snprintf(slash + 1, sizeof self - (size_t)(slash + 1 - self), "sightline-collector");
    return self;
}

int bu_port_for(unsigned salt)
{
    return 12000 + (int)(((unsigned)getpid() * 7 + salt) % 20000);
}

int bu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int bu_tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

pid_t bu_start_collector(const char *bin, const char *dir, const char *url,
                         const char *http_addr, int workers)
{
    pid_t pid = fork();
    if (pid == 0) {
        char w[16];
        snprintf(w, sizeof w, "%d", workers);
        /* SIGHTLINE_BENCH_COLLECTOR_LOG=FILE keeps the collectors' logs
         * (appended) to see where a run spends its time. */
        const char *keep = getenv("SIGHTLINE_BENCH_COLLECTOR_LOG");
        int fd = keep != NULL && keep[0] != '\0'
                     ? open(keep, O_WRONLY | O_CREAT | O_APPEND, 0644)
                     : open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (workers > 0)
            execl(bin, bin, "--data", dir, "--listen", url, "--http", http_addr, "--workers", w,
                  (char *)NULL);
        else
            execl(bin, bin, "--data", dir, "--listen", url, "--http", http_addr, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Whether pid has exited, without reaping it. */
static int exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

int bu_wait_ready(pid_t pid, const char *nng_url, int tcp_port)
{
    for (int i = 0; i < 500; i++) {
        int ok = 1;
        if (nng_url) {
            nng_socket s;
            ok = 0;
            if (nng_req0_open(&s) == 0) {
                ok = nng_dial(s, nng_url, NULL, 0) == 0;
                nng_close(s);
            }
        }
        if (ok && tcp_port > 0) {
            int fd = bu_tcp_connect(tcp_port);
            ok = fd >= 0;
            if (fd >= 0)
                close(fd);
        }
        if (ok)
            return 0;
        if (pid > 0 && exited(pid))
            return -1;
        usleep(20000);
    }
    return -1;
}

int bu_stop_collector(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    for (int i = 0; i < 600; i++) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (w < 0)
            return -1;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int bu_rmrf(const char *path)
{
    char cmd[4200];
    if (strchr(path, '\'') != NULL)
        return -1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd) == 0 ? 0 : -1;
}

int bu_req_dial(nng_socket *s, const char *url)
{
    int rv = nng_req0_open(s);
    if (rv != 0)
        return rv;
    nng_setopt_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_setopt_ms(*s, NNG_OPT_RECVTIMEO, 30000);
    rv = nng_dial(*s, url, NULL, 0);
    if (rv != 0)
        nng_close(*s);
    return rv;
}

int bu_send_frame(nng_socket s, const void *bytes, size_t len, unsigned long *retries,
                  char *why, size_t whylen)
{
    for (int attempt = 0;; attempt++) {
        void *reply = NULL;
        size_t rlen = 0;
        slc_ack ack;
        if (nng_send(s, (void *)bytes, len, 0) != 0 ||
            nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC) != 0)
            return -1;
        int rc = slc_ack_decode(reply, rlen, &ack);
        nng_free(reply, rlen);
        if (rc == 0 && (ack.status == SLC_ACK_STORED || ack.status == SLC_ACK_DUPLICATE))
            return 0;
        if (rc == 0 && ack.status == SLC_ACK_RETRY && attempt < 1000) {
            (*retries)++;
            usleep(2000);
            continue;
        }
        snprintf(why, whylen, "%s", rc ? "bad ack" : ack.reason);
        return -2;
    }
}
