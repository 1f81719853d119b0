/*
 * sl_state.c - the bottom of the SDK: the process-wide state (sl__g), the
 * thread-local view (sl__tls), the last error, the random source and the
 * thread-exit hook.
 *
 * Every other SDK file builds on these and this file calls none of them:
 * the tracer, the exporter, the transport and the lifecycle (sl_init.c)
 * all share this state, so keeping it apart is what lets them sit in
 * layers (sl_internal.h) instead of a circle.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sl_internal.h"

struct sl_global sl__g = {.reg_mu = PTHREAD_MUTEX_INITIALIZER};

__thread struct sl_tls sl__tls __attribute__((tls_model("initial-exec")));

/* ---- the last error ------------------------------------------------------------ */

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static int last_err;
static char last_err_msg[256];

void sl__set_last_error(int err, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&err_mu);
    last_err = err;
    va_start(ap, fmt);
    vsnprintf(last_err_msg, sizeof(last_err_msg), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&err_mu);
}

void sl__last_error_get(sl_stats *st)
{
    pthread_mutex_lock(&err_mu);
    if (st->last_error == 0) {
        st->last_error = last_err;
        snprintf(st->last_error_msg, sizeof(st->last_error_msg), "%s", last_err_msg);
    }
    pthread_mutex_unlock(&err_mu);
}

void sl__last_error_clear(void)
{
    pthread_mutex_lock(&err_mu);
    last_err = 0;
    last_err_msg[0] = '\0';
    pthread_mutex_unlock(&err_mu);
}

/* ---- random bytes ---------------------------------------------------------------- */

void sl__random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    size_t got = 0;
    for (int tries = 0; got < n && tries < 8; tries++) {
        ssize_t r = getrandom(p + got, n - got, GRND_NONBLOCK);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR)
            break;
    }
    if (got < n) {
        /* No entropy yet (early boot): still unique per process and call. */
        static _Atomic uint64_t ctr;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t s[4] = {(uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32),
                         (uint64_t)ts.tv_sec ^ (uintptr_t)buf,
                         atomic_fetch_add(&ctr, 1) + 0x9e3779b97f4a7c15ull, slc_now_ns()};
        for (size_t i = got; i < n; i++)
            p[i] = (uint8_t)(sl__rng_next(s) >> 56);
    }
}

/* ---- thread exit ---------------------------------------------------------------- */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;

/* Runs (through tls_key) when a thread that used the SDK exits: its buffer
 * becomes an orphan, drained by the exporter and adopted by the next new
 * thread (tls_register in sl_tracer.c), so thread churn does not grow the
 * number of buffers. */
static void tls_destructor(void *v)
{
    (void)v;
    pthread_mutex_lock(&sl__g.reg_mu);
    struct sl_tbuf *tb = sl__tls.tb;
    if (tb != NULL && sl__tls.gen == atomic_load(&sl__g.gen))
        atomic_store(&tb->state, SL_TB_ORPHAN);
    sl__tls.tb = NULL;
    sl__tls.current = NULL;
    pthread_mutex_unlock(&sl__g.reg_mu);
}

static void key_create(void)
{
    (void)pthread_key_create(&tls_key, tls_destructor);
}

void sl__tls_mark(void)
{
    /* The key is made on the first registration: only a thread that got a
     * buffer (and so a running SDK) ever needs it. */
    pthread_once(&key_once, key_create);
    (void)pthread_setspecific(tls_key, (void *)1);
}

/* ---- fork -------------------------------------------------------------------------- */

void sl__state_atfork_child(void)
{
    atomic_store(&sl__g.running, 0);
    atomic_fetch_add(&sl__g.gen, 1);
    pthread_mutex_init(&sl__g.reg_mu, NULL);
    pthread_mutex_init(&err_mu, NULL);
}
