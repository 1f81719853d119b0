/*
 * seed_wire.c - writes a few valid frames (compressed and not) into a
 * directory, as the seed corpus for fuzz_wire.  Usage: seed_wire DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/slc_wire.h"

static uint32_t S(slc_batch *b, const char *s)
{
    uint32_t i = 0;
    slc_batch_intern(b, s, strlen(s), &i);
    return i;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_wire DIR\n");
        return 2;
    }
    for (int v = 0; v < 4; v++) {
        slc_batch *b = slc_batch_new();
        b->batch_id = (uint64_t)v + 1;
        for (int i = 0; i <= v; i++) {
            slc_span s;
            memset(&s, 0, sizeof s);
            memset(s.trace_id, 0x11 + v, 16);
            memset(s.span_id, 0x21 + i, 8);
            if (i)
                memset(s.parent_id, 0x21, 8);
            s.kind = SLC_KIND_SERVER;
            s.service = S(b, "svc");
            s.name = S(b, "op");
            s.start_ns = 1000000;
            s.end_ns = 2000000;
            slc_attr a = {.key = S(b, "k"), .type = (uint8_t)(1 + i % 4)};
            if (a.type == SLC_V_STR)
                a.v.str = S(b, "v");
            slc_batch_add_attr(b, &a, &s.attr_first);
            s.attr_count = 1;
            slc_event e = {.time_ns = 1500000, .name = S(b, "ev")};
            slc_batch_add_event(b, &e, &s.event_first);
            s.event_count = 1;
            slc_batch_add_span(b, &s, NULL);
            slc_log l;
            memset(&l, 0, sizeof l);
            l.time_ns = 1500000;
            l.level = SLC_LVL_INFO;
            l.flags = SLC_LOG_F_TRACE;
            memcpy(l.trace_id, s.trace_id, 16);
            memcpy(l.span_id, s.span_id, 8);
            l.service = s.service;
            l.body = S(b, "hello");
            slc_batch_add_log(b, &l, NULL);
        }
        uint8_t *f;
        size_t n;
        if (slc_wire_encode(b, v % 2, &f, &n) != SL_OK)
            return 1;
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%d.bin", argv[1], v);
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(f, 1, n, fp) != n)
            return 1;
        fclose(fp);
        free(f);
        slc_batch_free(b);
    }
    return 0;
}
