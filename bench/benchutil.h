/*
 * benchutil.h - what every benchmark needs to drive a real
 * sightline-collector from outside: a monotonic clock, medians, finding the
 * collector binary, starting it on a fresh data directory, waiting until it
 * listens, stopping it, and sending native frames until they are
 * acknowledged.  Benchmark setup only: nothing here is on a measured path
 * except bu_send_frame, which is what a real client pays too.
 */
#ifndef BENCH_BENCHUTIL_H
#define BENCH_BENCHUTIL_H

#include <nng/nng.h>
#include <stddef.h>
#include <sys/types.h>

/* Seconds on CLOCK_MONOTONIC. */
double bu_now_s(void);

/* qsort comparator for doubles, ascending. */
int bu_cmp_double(const void *a, const void *b);

/* Median of v[0..n); sorts v in place.  0 when n <= 0. */
double bu_median(double *v, int n);

/* The sightline-collector next to this binary, in a static buffer (not
 * owned by the caller); NULL when /proc/self/exe cannot be read. */
const char *bu_collector_next_to_self(void);

/* A TCP port below the ephemeral range (32768+), so no port-0 bind takes
 * it: 12000 + (pid * 7 + salt) % 20000.  Distinct salts per run keep a
 * restarted collector off a port still in TIME_WAIT. */
int bu_port_for(unsigned salt);

/* A port the kernel just handed out; -1 on error.  The collector binds it
 * right after, which is racy but fine on a quiet benchmark machine. */
int bu_free_port(void);

/* A TCP connection to 127.0.0.1:port with TCP_NODELAY; the fd (owned by
 * the caller) or -1. */
int bu_tcp_connect(int port);

/* Forks and execs bin --data dir --listen url --http http_addr [--workers
 * workers when > 0], with its stdout and stderr to /dev/null.  Returns the
 * child's pid (stop it with bu_stop_collector) or -1. */
pid_t bu_start_collector(const char *bin, const char *dir, const char *url,
                         const char *http_addr, int workers);

/* Waits up to 10 s until the collector accepts connections: an nng dial to
 * nng_url when not NULL, and a TCP connect to tcp_port when > 0.  Returns
 * 0, or -1 on timeout or when the process pid has exited (not reaped, so
 * bu_stop_collector still reports its status). */
int bu_wait_ready(pid_t pid, const char *nng_url, int tcp_port);

/* SIGTERM, then up to 30 s for a clean exit (the store compacts on close),
 * then SIGKILL.  Returns the exit status, or -1 when killed or signalled. */
int bu_stop_collector(pid_t pid);

/* rm -rf path (our own temp directories only; refuses a path with a quote).
 * Returns 0 on success. */
int bu_rmrf(const char *path);

/* Opens a req socket to url that waits 30 s for a reply and never resends
 * by itself (bu_send_frame resends on RETRY).  0 or an nng error. */
int bu_req_dial(nng_socket *s, const char *url);

/* Sends one native frame and waits for its acknowledgement, resending
 * after 2 ms while the collector answers RETRY (at most 1000 times;
 * *retries counts them).  Returns 0 when STORED or DUPLICATE; -1 when the
 * transport failed; -2 when refused, with the reason in why. */
int bu_send_frame(nng_socket s, const void *bytes, size_t len, unsigned long *retries,
                  char *why, size_t whylen);

#endif
