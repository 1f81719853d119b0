/*
 * fault_sender.c - a small nng client for tests/e2e/test_faults.sh: sends
 * valid, corrupted, truncated and garbage frames and prints one line per
 * frame with the collector's answer.  Built by the test itself against
 * $O/lib/libslcommon.a (it is a test helper, not a product binary).
 *
 *   fault_sender URL mixed N SEED        N frames, a bad one among valid ones
 *   fault_sender URL fill N SEED KB      N valid frames of ~KB incompressible
 *                                        bytes each, until the first RETRY that
 *                                        says "disk full" (other RETRYs are
 *                                        retried, as an SDK would)
 *   fault_sender URL one SEED            one valid frame
 *
 * Output, one line per frame: "INDEX KIND STATUS BATCH TRACE_HEX REASON"
 * where KIND is valid|corrupt|truncated|garbage|header and STATUS the ack
 * status name (or "noack" when none came).  Exit 0 when every answer was
 * the expected one (valid -> STORED, bad -> REJECTED; fill: STORED until
 * one RETRY), 1 otherwise, 2 on usage errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "common/slc_wire.h"

static const char *const st_name[] = {"STORED", "DUPLICATE", "REJECTED", "RETRY",
                                      "UNAUTHORIZED"};

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A frame of one trace (3 spans), trace id from seed; pad bytes of
 * incompressible text in an attribute. */
static int make_frame(uint64_t seed, size_t pad, uint8_t tid[16], uint8_t **out, size_t *len)
{
    slc_batch *b = slc_batch_new();
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    uint32_t svc, name, key, first = 0, nattr = 0;
    char *junk = NULL;
    int rc;

    if (b == NULL)
        return -1;
    for (int i = 0; i < 16; i++)
        tid[i] = (uint8_t)(rng(&x) | 1);
    b->batch_id = seed;
    slc_batch_intern(b, "fault-svc", 9, &svc);
    slc_batch_intern(b, "op", 2, &name);
    slc_batch_intern(b, "pad", 3, &key);
    /* Strings are at most 64 KiB each: the padding is cut into attributes. */
    first = b->nattrs;
    for (size_t done = 0; done < pad; nattr++) {
        size_t n = pad - done < 60000 ? pad - done : 60000;
        slc_attr a;
        junk = malloc(n);
        for (size_t i = 0; i < n; i++)
            junk[i] = (char)('!' + rng(&x) % 94);
        memset(&a, 0, sizeof a);
        a.key = key;
        a.type = SLC_V_STR;
        slc_batch_intern(b, junk, n, &a.v.str);
        slc_batch_add_attr(b, &a, NULL);
        free(junk);
        done += n;
    }
    for (int i = 0; i < 3; i++) {
        slc_span s;
        memset(&s, 0, sizeof s);
        s.attr_first = first;
        s.attr_count = i == 0 ? nattr : 0;
        memcpy(s.trace_id, tid, 16);
        s.span_id[0] = (uint8_t)(i + 1);
        s.span_id[1] = (uint8_t)seed;
        if (i > 0)
            s.parent_id[0] = 1, s.parent_id[1] = (uint8_t)seed;
        s.service = svc;
        s.name = name;
        s.kind = SLC_KIND_SERVER;
        s.start_ns = 1700000000000000000ULL + seed * 1000 + (uint64_t)i;
        s.end_ns = s.start_ns + 1000;
        slc_batch_add_span(b, &s, NULL);
    }
    rc = slc_wire_encode(b, 1, out, len);
    slc_batch_free(b);
    return rc;
}

/* Sends a frame, returns the ack status (or -1 with no ack). */
static int send_frame(nng_socket s, const uint8_t *f, size_t n, slc_ack *ack)
{
    void *buf = NULL;
    size_t bn = 0;
    int rc;

    memset(ack, 0, sizeof *ack);
    if (nng_send(s, (void *)f, n, 0) != 0 || nng_recv(s, &buf, &bn, NNG_FLAG_ALLOC) != 0)
        return -1;
    rc = slc_ack_decode(buf, bn, ack) == 0 ? ack->status : -1;
    nng_free(buf, bn);
    return rc;
}

static void print_line(int i, const char *kind, int st, const slc_ack *a, const uint8_t tid[16])
{
    printf("%d %s %s %llu ", i, kind, st < 0 ? "noack" : st_name[st],
           (unsigned long long)a->batch_id);
    for (int k = 0; k < 16; k++)
        printf("%02x", tid[k]);
    printf(" %s\n", st < 0 ? "-" : (a->reason[0] ? a->reason : "-"));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    nng_socket s;
    int n, bad = 0;
    uint64_t seed;

    if (argc < 4 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: fault_sender URL mixed N SEED | URL fill N SEED KB | URL one SEED\n");
        return 2;
    }
    if (nng_req0_open(&s) != 0 || nng_dial(s, argv[1], NULL, 0) != 0) {
        fprintf(stderr, "fault_sender: cannot connect to %s\n", argv[1]);
        return 1;
    }
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 15000);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 15000);
    /* The req socket would resend a request after a minute; never here. */
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, 3600000);
    if (strcmp(argv[2], "one") == 0) {
        uint8_t *f, tid[16];
        size_t len;
        slc_ack a;
        seed = strtoull(argv[3], NULL, 10);
        if (make_frame(seed, 0, tid, &f, &len) != 0)
            return 1;
        int st = send_frame(s, f, len, &a);
        print_line(0, "valid", st, &a, tid);
        free(f);
        nng_close(s);
        return st == SLC_ACK_STORED || st == SLC_ACK_DUPLICATE ? 0 : 1;
    }
    if (argc < 5)
        return 2;
    n = atoi(argv[3]) > 0 ? atoi(argv[3]) : 1;
    seed = strtoull(argv[4], NULL, 10);
    if (strcmp(argv[2], "fill") == 0) {
        size_t kb = argc > 5 ? strtoull(argv[5], NULL, 10) : 200;
        int retries = 0;
        for (int i = 0; i < n; i++) {
            uint8_t *f, tid[16];
            size_t len;
            slc_ack a;
            if (make_frame(seed + (uint64_t)i, kb * 1024, tid, &f, &len) != 0)
                return 1;
            int st = send_frame(s, f, len, &a);
            /* RETRY for another reason than a full disk (a write stall,
             * the store being reopened) is what an SDK retries: so does
             * fill, up to 5 s, with the same bytes. */
            for (int t = 0; t < 100 && st == SLC_ACK_RETRY && !strstr(a.reason, "disk full"); t++) {
                nng_msleep(50);
                st = send_frame(s, f, len, &a);
            }
            print_line(i, "valid", st, &a, tid);
            free(f);
            if (st == SLC_ACK_RETRY) {
                retries++;
                break;
            }
            if (st != SLC_ACK_STORED)
                bad++;
            if (st < 0) /* no answer: the collector is gone; stop */
                break;
        }
        nng_close(s);
        return bad == 0 && retries == 1 ? 0 : 1;
    }
    if (strcmp(argv[2], "mixed") != 0)
        return 2;
    for (int i = 0; i < n; i++) {
        uint8_t *f, tid[16];
        size_t len, sendlen;
        slc_ack a;
        const char *kind = "valid";
        uint64_t x = seed + (uint64_t)i + 7;
        if (make_frame(seed + (uint64_t)i, 64, tid, &f, &len) != 0)
            return 1;
        sendlen = len;
        switch (i % 6) {
        case 1: /* a flipped payload byte: the payload CRC catches it */
            kind = "corrupt";
            f[SLC_WIRE_HEADER_LEN + rng(&x) % (len - SLC_WIRE_HEADER_LEN)] ^= 0x40;
            break;
        case 3: /* cut short */
            kind = "truncated";
            sendlen = SLC_WIRE_HEADER_LEN + rng(&x) % (len - SLC_WIRE_HEADER_LEN);
            break;
        case 4: /* a flipped header byte: the header CRC or magic catches it */
            kind = "header";
            f[rng(&x) % 28] ^= 0x01;
            break;
        case 5: /* not a frame at all */
            kind = "garbage";
            for (size_t k = 0; k < len; k++)
                f[k] = (uint8_t)rng(&x);
            break;
        default:
            break;
        }
        int st = send_frame(s, f, sendlen, &a);
        print_line(i, kind, st, &a, tid);
        if (strcmp(kind, "valid") == 0 ? st != SLC_ACK_STORED : st != SLC_ACK_REJECTED)
            bad++;
        free(f);
    }
    nng_close(s);
    return bad == 0 ? 0 : 1;
}
