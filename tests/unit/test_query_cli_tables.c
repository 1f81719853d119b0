/*
 * test_query_cli_tables.c - the tables of the CLI's query commands
 * (query/cli/slcli_fmt_tables.c): services with rates, latency over time,
 * operations, dependencies, logs.  Pure rendering, compiled in directly
 * like test_query_cli_fmt.c (the CLI is not in libslquery).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../query/cli/slcli_fmt.c"
#include "../../query/cli/slcli_fmt_tables.c"

static char *render(int (*fn)(FILE *, const json_t *, const slcli_style *), const char *js, int want)
{
    json_error_t e;
    json_t *j = json_loads(js, 0, &e);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    slcli_style st = {0};
    if (j == NULL)
        fail_msg("bad test JSON: %s", e.text);
    assert_int_equal(fn(f, j, &st), want);
    fclose(f);
    json_decref(j);
    return buf;
}

static void test_latency(void **state)
{
    (void)state;
    char *t = render(slcli_render_latency,
                     "{\"step_ns\":60000000000,\"t_us\":[1764090000000000,1764090060000000,1764090120000000],"
                     "\"series\":[{\"service\":\"pay\",\"operation\":\"charge\",\"total\":{\"count\":30,\"errors\":3},"
                     "\"count\":[20,0,10],\"rate\":[0.3333,0,0.1667],\"error_rate\":[0.15,0,0],"
                     "\"p50_ns\":[1500000,null,2000000],\"p90_ns\":[3000000,null,2500000],"
                     "\"p95_ns\":[4000000,null,2600000],\"p99_ns\":[9000000,null,2700000]}]}",
                     1);
    assert_string_equal(t, "pay charge  (30 requests, 3 errors, step 1m00s)\n"
                           "  TIME (UTC)              REQ/S     ERR%      P50      P90      P95      P99\n"
                           "  2025-11-25 17:00:00     0.333   15.00%   1.50ms   3.00ms   4.00ms   9.00ms\n"
                           "  2025-11-25 17:02:00     0.167    0.00%   2.00ms   2.50ms   2.60ms   2.70ms\n"
                           "  (1 bucket without requests not shown)\n");
    free(t);
    t = render(slcli_render_latency, "{\"series\":{}}", -1);
    assert_string_equal(t, "");
    free(t);
}

static void test_ops_and_deps(void **state)
{
    (void)state;
    char *t = render(slcli_render_ops,
                     "{\"operations\":[{\"service\":\"api\",\"operation\":\"GET /x\",\"count\":1200,\"rate\":20,"
                     "\"errors\":12,\"error_rate\":0.01,\"p50_ns\":1000,\"p90_ns\":2000000,\"p99_ns\":3000000000,"
                     "\"max_ns\":4000000000}]}",
                     1);
    assert_string_equal(t, "SERVICE  OPERATION     COUNT     REQ/S   ERRORS     ERR%      P50      P90      P99      MAX\n"
                           "api      GET /x         1200     20.00       12    1.00%   1.00us   2.00ms    3.00s    4.00s\n");
    free(t);
    /* without service (per-service operations); a missing number prints "-" */
    t = render(slcli_render_ops, "{\"operations\":[{\"operation\":\"q\",\"count\":1}]}", 1);
    assert_string_equal(t, "OPERATION     COUNT     REQ/S   ERRORS     ERR%      P50      P90      P99      MAX\n"
                           "q                 1         -        -        -        -        -        -        -\n");
    free(t);
    t = render(slcli_render_deps,
               "{\"edges\":[{\"caller\":\"front\",\"callee\":\"db\\u001b[2J\",\"calls\":5,\"rate\":0.5,\"errors\":0,"
               "\"error_rate\":0,\"p50_ns\":1000000,\"p99_ns\":2000000}]}",
               1);
    /* the escape sequence from the server is neutralised */
    assert_string_equal(t, "CALLER    CALLEE     CALLS     REQ/S   ERRORS     ERR%      P50      P99\n"
                           "front  -> db?[2J         5     0.500        0    0.00%   1.00ms   2.00ms\n");
    free(t);
    t = render(slcli_render_deps, "{\"edges\":[]}", 0);
    assert_string_equal(t, "");
    free(t);
}

static int slcli_render_logs_newest(FILE *f, const json_t *j, const slcli_style *st)
{
    return slcli_render_logs(f, j, 0, st);
}

static int render_logs_oldest(FILE *f, const json_t *j, const slcli_style *st)
{
    return slcli_render_logs(f, j, 1, st);
}

static void test_logs(void **state)
{
    (void)state;
    const char *js = "{\"logs\":[{\"time_ns\":\"1764090001000000000\",\"level\":\"error\",\"service\":\"pay\","
                     "\"body\":\"declined\\nretry\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"},"
                     "{\"time_ns\":\"1764090000000000000\",\"level\":\"info\",\"service\":\"frontend\","
                     "\"body\":\"hello\",\"trace_id\":\"\"}]}";
    char *t = render(slcli_render_logs_newest, js, 2);
    assert_string_equal(t, "2025-11-25 17:00:01.000  ERROR  pay       declined\\nretry  "
                           "trace=4bf92f3577b34da6a3ce929d0e0e4736\n"
                           "2025-11-25 17:00:00.000  INFO   frontend  hello\n");
    free(t);
    t = render(render_logs_oldest, js, 2);
    assert_true(strncmp(t, "2025-11-25 17:00:00.000  INFO", 29) == 0);
    free(t);
}

static int render_services(FILE *f, const json_t *j, const slcli_style *st)
{
    return slcli_render_service_table(f, json_object_get(j, "s"), json_object_get(j, "r"), st);
}

static void test_services(void **state)
{
    (void)state;
    char *t = render(render_services,
                     "{\"s\":{\"services\":[{\"name\":\"api\",\"spans\":100,\"errors\":2,\"logs\":7},"
                     "{\"name\":\"quiet\",\"spans\":0,\"errors\":0,\"logs\":0}]},"
                     "\"r\":{\"series\":[{\"service\":\"api\",\"rate\":[1.5],\"error_rate\":[0.02],"
                     "\"p50_ns\":[1200000],\"p99_ns\":[55000000]}]}}",
                     2);
    assert_string_equal(t, "SERVICE     REQ/S     ERR%      P50      P99      SPANS   ERRORS      LOGS\n"
                           "api          1.50    2.00%   1.20ms   55.0ms        100        2         7\n"
                           "quiet           -        -        -        -          0        0         0\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_ops_and_deps),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
