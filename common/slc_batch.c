/*
 * slc_batch.c - building batches: growable arrays, a string arena and an
 * intern table, so every string of a batch is stored once.
 *
 * Built and decoded batches share one struct (slc_batch); what differs is
 * who owns the string bytes: the arena here, or the inflated payload kept
 * by the decoder (slc_wire.c).  Both live in struct slc_batch_mem.
 */
#include <stdlib.h>
#include <string.h>

#include "slc_batch_int.h"
#include "slc_util.h"

#define ARENA_CHUNK (64 * 1024)

static uint64_t str_hash(const char *s, size_t len)
{
    /* FNV-1a, 64-bit: small and good enough for a per-batch table. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static char *arena_alloc(struct slc_batch_mem *m, size_t len)
{
    if (m->cur && m->cur_cap - m->cur_used >= len) {
        char *p = m->cur + m->cur_used;
        m->cur_used += len;
        return p;
    }
    size_t cap = len > ARENA_CHUNK ? len : ARENA_CHUNK;
    if (slc_grow((void **)&m->chunks, &m->cap_chunks, m->nchunks + 1, sizeof(char *)))
        return NULL;
    char *c = malloc(cap ? cap : 1);
    if (!c)
        return NULL;
    if (m->nchunks == 0)
        m->chunk0_cap = cap;
    m->chunks[m->nchunks++] = c;
    m->cur = c;
    m->cur_cap = cap;
    m->cur_used = len;
    return c;
}

slc_batch *slc_batch_new(void)
{
    slc_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->mem = calloc(1, sizeof *b->mem);
    if (!b->mem)
        goto fail;
    if (slc_grow((void **)&b->strs, &b->mem->cap_strs, 1, sizeof(slc_str)))
        goto fail;
    b->strs[0].ptr = "";
    b->strs[0].len = 0;
    b->nstrs = 1;
    return b;
fail:
    slc_batch_free(b);
    return NULL;
}

void slc_batch_free(slc_batch *b)
{
    if (!b)
        return;
    if (b->mem) {
        for (uint32_t i = 0; i < b->mem->nchunks; i++)
            free(b->mem->chunks[i]);
        free(b->mem->chunks);
        free(b->mem->htab);
        free(b->mem->payload);
        free(b->mem);
    }
    free(b->strs);
    free(b->spans);
    free(b->logs);
    free(b->attrs);
    free(b->events);
    free(b->links);
    free(b);
}

void slc_batch_reset(slc_batch *b)
{
    struct slc_batch_mem *m = b->mem;
    /* Keep the first arena chunk; later ones were for big batches. */
    for (uint32_t i = 1; i < m->nchunks; i++)
        free(m->chunks[i]);
    m->nchunks = m->nchunks ? 1 : 0;
    m->cur = m->nchunks ? m->chunks[0] : NULL;
    m->cur_used = 0;
    /* The capacity of the chunk kept, not of the last one used: a batch
     * that ended in a large chunk must not lend its size to chunk 0. */
    m->cur_cap = m->nchunks ? m->chunk0_cap : 0;
    if (m->htab)
        memset(m->htab, 0, (size_t)m->hcap * sizeof *m->htab);
    m->hcount = 0;
    b->nstrs = 1;
    b->nspans = b->nlogs = b->nattrs = b->nevents = b->nlinks = 0;
    b->batch_id = 0;
}

/* Rebuilds the open-addressing table at twice the size.  Slots hold string
 * index + 1 (0 = empty). */
static int htab_grow(slc_batch *b)
{
    struct slc_batch_mem *m = b->mem;
    uint64_t ncap = m->hcap ? (uint64_t)m->hcap * 2 : 256;
    while (ncap * 3 <= (uint64_t)b->nstrs * 4)
        ncap *= 2;
    if (ncap > (1u << 31))
        return SL_ENOMEM;
    uint32_t *t = calloc(ncap, sizeof *t);
    if (!t)
        return SL_ENOMEM;
    for (uint32_t i = 1; i < b->nstrs; i++) {
        uint64_t h = str_hash(b->strs[i].ptr, b->strs[i].len);
        uint32_t j = (uint32_t)(h & (ncap - 1));
        while (t[j])
            j = (uint32_t)((j + 1) & (ncap - 1));
        t[j] = i + 1;
    }
    free(m->htab);
    m->htab = t;
    m->hcap = (uint32_t)ncap;
    m->hcount = b->nstrs - 1;
    return SL_OK;
}

int slc_batch_intern(slc_batch *b, const char *s, size_t len, uint32_t *idx)
{
    if (len == 0) {
        *idx = 0;
        return SL_OK;
    }
    if (len > UINT32_MAX)
        return SL_EINVAL;
    struct slc_batch_mem *m = b->mem;
    /* Rebuild when the table is missing, too full, or does not index every
     * string (a decoded batch being extended). */
    if (m->hcap == 0 || m->hcount != b->nstrs - 1 || (uint64_t)(m->hcount + 1) * 4 >= (uint64_t)m->hcap * 3) {
        if (htab_grow(b))
            return SL_ENOMEM;
    }
    uint64_t h = str_hash(s, len);
    uint32_t j = (uint32_t)h & (m->hcap - 1);
    while (m->htab[j]) {
        const slc_str *e = &b->strs[m->htab[j] - 1];
        if (e->len == len && memcmp(e->ptr, s, len) == 0) {
            *idx = m->htab[j] - 1;
            return SL_OK;
        }
        j = (j + 1) & (m->hcap - 1);
    }
    if (slc_grow((void **)&b->strs, &m->cap_strs, b->nstrs + 1, sizeof(slc_str)))
        return SL_ENOMEM;
    char *copy = arena_alloc(m, len);
    if (!copy)
        return SL_ENOMEM;
    memcpy(copy, s, len);
    b->strs[b->nstrs].ptr = copy;
    b->strs[b->nstrs].len = (uint32_t)len;
    m->htab[j] = b->nstrs + 1;
    m->hcount++;
    *idx = b->nstrs++;
    return SL_OK;
}

#define DEFINE_ADD(fn, type, arr, n, capf)                                                    \
    int fn(slc_batch *b, const type *x, uint32_t *idx)                                        \
    {                                                                                         \
        if (slc_grow((void **)&b->arr, &b->mem->capf, b->n + 1, sizeof(type)))                \
            return SL_ENOMEM;                                                                 \
        b->arr[b->n] = *x;                                                                    \
        if (idx)                                                                              \
            *idx = b->n;                                                                      \
        b->n++;                                                                               \
        return SL_OK;                                                                         \
    }

DEFINE_ADD(slc_batch_add_attr, slc_attr, attrs, nattrs, cap_attrs)
DEFINE_ADD(slc_batch_add_event, slc_event, events, nevents, cap_events)
DEFINE_ADD(slc_batch_add_link, slc_link, links, nlinks, cap_links)
DEFINE_ADD(slc_batch_add_span, slc_span, spans, nspans, cap_spans)
DEFINE_ADD(slc_batch_add_log, slc_log, logs, nlogs, cap_logs)

static int intern_ref(slc_batch *dst, const slc_batch *src, uint32_t ref, uint32_t *out)
{
    if (ref >= src->nstrs)
        return SL_EINVAL;
    return slc_batch_intern(dst, src->strs[ref].ptr, src->strs[ref].len, out);
}

/* Copies count attributes starting at first; writes the new first index. */
static int copy_attrs(slc_batch *dst, const slc_batch *src, uint32_t first, uint32_t count,
                      uint32_t *nfirst)
{
    if ((uint64_t)first + count > src->nattrs)
        return SL_EINVAL;
    *nfirst = dst->nattrs;
    for (uint32_t i = 0; i < count; i++) {
        slc_attr a = src->attrs[first + i];
        int rc;
        if ((rc = intern_ref(dst, src, a.key, &a.key)))
            return rc;
        if (a.type == SLC_V_STR && (rc = intern_ref(dst, src, a.v.str, &a.v.str)))
            return rc;
        if ((rc = slc_batch_add_attr(dst, &a, NULL)))
            return rc;
    }
    return SL_OK;
}

/* Both copies may leave orphan attributes/events in dst on ENOMEM; the item
 * itself is appended last, so counts of spans/logs stay consistent. */
int slc_batch_copy_span(slc_batch *dst, const slc_batch *src, uint32_t i)
{
    if (i >= src->nspans)
        return SL_EINVAL;
    slc_span s = src->spans[i];
    int rc;
    if ((rc = intern_ref(dst, src, s.service, &s.service)) ||
        (rc = intern_ref(dst, src, s.name, &s.name)) ||
        (rc = intern_ref(dst, src, s.status_msg, &s.status_msg)) ||
        (rc = copy_attrs(dst, src, s.attr_first, s.attr_count, &s.attr_first)))
        return rc;
    if ((uint64_t)s.event_first + s.event_count > src->nevents ||
        (uint64_t)s.link_first + s.link_count > src->nlinks)
        return SL_EINVAL;
    uint32_t ev_first = dst->nevents;
    for (uint32_t k = 0; k < s.event_count; k++) {
        slc_event e = src->events[s.event_first + k];
        if ((rc = intern_ref(dst, src, e.name, &e.name)) ||
            (rc = copy_attrs(dst, src, e.attr_first, e.attr_count, &e.attr_first)) ||
            (rc = slc_batch_add_event(dst, &e, NULL)))
            return rc;
    }
    uint32_t ln_first = dst->nlinks;
    for (uint32_t k = 0; k < s.link_count; k++) {
        slc_link l = src->links[s.link_first + k];
        if ((rc = copy_attrs(dst, src, l.attr_first, l.attr_count, &l.attr_first)) ||
            (rc = slc_batch_add_link(dst, &l, NULL)))
            return rc;
    }
    s.event_first = ev_first;
    s.link_first = ln_first;
    return slc_batch_add_span(dst, &s, NULL);
}

int slc_batch_copy_log(slc_batch *dst, const slc_batch *src, uint32_t i)
{
    if (i >= src->nlogs)
        return SL_EINVAL;
    slc_log l = src->logs[i];
    int rc;
    if ((rc = intern_ref(dst, src, l.service, &l.service)) ||
        (rc = intern_ref(dst, src, l.body, &l.body)) ||
        (rc = copy_attrs(dst, src, l.attr_first, l.attr_count, &l.attr_first)))
        return rc;
    return slc_batch_add_log(dst, &l, NULL);
}

size_t slc_batch_size_hint(const slc_batch *b)
{
    size_t n = 16;
    for (uint32_t i = 0; i < b->nstrs; i++)
        n += 5 + b->strs[i].len;
    n += (size_t)b->nspans * (32 + 2 + 15 + 8 + 10 + 15);
    n += (size_t)b->nlogs * (8 + 2 + 24 + 15);
    n += (size_t)b->nattrs * (5 + 1 + 10);
    n += (size_t)b->nevents * (10 + 5 + 5);
    n += (size_t)b->nlinks * (24 + 5);
    return n;
}
