/*
 * test_colbcache.c - the shared cache of decoded blocks (blockcache.h):
 * hits return the same decoded batch, a frame with other bytes under the
 * same key is never served stale, the byte budget holds, entries in use
 * survive eviction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/blockcache.h"
#include "sightline.h"

/* A one-span frame; batch_id makes its header differ. */
static uint8_t *frame(uint64_t batch_id, const char *svc, size_t *len)
{
    slc_batch *b = slc_batch_new();
    slc_span s;
    uint8_t *out = NULL;

    assert_non_null(b);
    b->batch_id = batch_id;
    memset(&s, 0, sizeof s);
    memset(s.trace_id, 7, 16);
    memset(s.span_id, 9, 8);
    assert_int_equal(slc_batch_intern(b, svc, strlen(svc), &s.service), 0);
    assert_int_equal(slc_batch_intern(b, "GET /", 5, &s.name), 0);
    s.start_ns = 1000;
    s.end_ns = 2000;
    assert_int_equal(slc_batch_add_span(b, &s, NULL), 0);
    assert_int_equal(slc_wire_encode(b, 1, &out, len), 0);
    slc_batch_free(b);
    return out;
}

static void test_hit_and_stale(void **state)
{
    static const int owner = 0;
    uint8_t key[12] = {1, 2, 3};
    size_t l1, l2;
    uint8_t *f1 = frame(11, "cart", &l1), *f2 = frame(12, "payment", &l2);
    col_bcache_ent *e1, *e2, *e3;
    const slc_batch *b1, *b2, *b3;
    uint64_t h0, h1, m0, m1;

    (void)state;
    col_bcache_set_max_bytes(64u << 20);
    col_bcache_clear();
    col_bcache_stats(&h0, &m0, NULL);
    assert_int_equal(col_bcache_get(&owner, key, f1, l1, NULL, &e1, &b1, NULL, 0), 0);
    assert_int_equal(col_bcache_get(&owner, key, f1, l1, NULL, &e2, &b2, NULL, 0), 0);
    assert_ptr_equal(b1, b2); /* decoded once */
    col_bcache_stats(&h1, &m1, NULL);
    assert_int_equal(h1 - h0, 1);
    assert_int_equal(m1 - m0, 1);
    /* Same key, other bytes (another store, or the block was replaced):
     * decoded afresh, while the old batch stays valid for its holders. */
    assert_int_equal(col_bcache_get(&owner, key, f2, l2, NULL, &e3, &b3, NULL, 0), 0);
    assert_ptr_not_equal(b3, b1);
    assert_int_equal(b3->strs[b3->spans[0].service].len, 7);
    assert_memory_equal(b1->strs[b1->spans[0].service].ptr, "cart", 4);
    col_bcache_put(e1);
    col_bcache_put(e2);
    col_bcache_put(e3);
    /* Another owner with the same key is another block. */
    assert_int_equal(col_bcache_get(&h0, key, f2, l2, NULL, &e1, &b1, NULL, 0), 0);
    assert_ptr_not_equal(b1, b3);
    col_bcache_put(e1);
    free(f1);
    free(f2);
}

static void test_budget_and_errors(void **state)
{
    static const int owner = 0;
    uint8_t key[12] = {4};
    size_t l1, held;
    uint8_t *f1 = frame(21, "cart", &l1);
    col_bcache_ent *e1, *e2;
    const slc_batch *b1, *b2;
    char msg[128];

    (void)state;
    col_bcache_clear();
    col_bcache_set_max_bytes(0); /* nothing kept: every get decodes */
    assert_int_equal(col_bcache_get(&owner, key, f1, l1, NULL, &e1, &b1, NULL, 0), 0);
    assert_int_equal(col_bcache_get(&owner, key, f1, l1, NULL, &e2, &b2, NULL, 0), 0);
    assert_ptr_not_equal(b1, b2);
    col_bcache_stats(NULL, NULL, &held);
    assert_int_equal(held, 0);
    col_bcache_put(e1);
    col_bcache_put(e2);
    /* An entry in use outlives clear() and eviction. */
    col_bcache_set_max_bytes(64u << 20);
    assert_int_equal(col_bcache_get(&owner, key, f1, l1, NULL, &e1, &b1, NULL, 0), 0);
    col_bcache_clear();
    col_bcache_stats(NULL, NULL, &held);
    assert_int_equal(held, 0);
    assert_int_equal(b1->nspans, 1);
    col_bcache_put(e1);
    /* A corrupt frame is an error, not an entry. */
    f1[l1 - 1] ^= 0xff;
    assert_int_not_equal(col_bcache_get(&owner, key, f1, l1, NULL, &e1, &b1, msg, sizeof msg), 0);
    assert_int_equal(col_bcache_get(&owner, key, f1, 10, NULL, &e1, &b1, msg, sizeof msg) != 0, 1);
    free(f1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_stale),
        cmocka_unit_test(test_budget_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
