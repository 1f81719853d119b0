/*
 * fuzz_alert_rule.c - libFuzzer target for the alert-rule parsers of the
 * collector: the rules document (JSON, from the rules file or PUT
 * /api/v1/alerts/rules) through col_al_set_build, and the expression
 * language ("p99(svc) > 300ms over 5m") through col_al_expr_parse.
 *
 * Properties beyond "no crash or leak": a parsed expression formats
 * (col_al_expr_format) to a canonical text that parses again and formats
 * to the same text; the first byte picks which parser gets the input.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts_int.h"
#include "sightline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512], f1[COL_AL_EXPR_MAX], f2[COL_AL_EXPR_MAX];
    col_al_cond c, d;

    if (size == 0)
        return 0;
    if (data[0] & 1) {
        json_t *doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
        col_al_set *set = NULL;
        if (doc != NULL) {
            if (col_al_set_build(doc, &set, err, sizeof err) == 0)
                col_al_set_unref(set);
            json_decref(doc);
        }
        return 0;
    }
    if (col_al_expr_parse((const char *)data + 1, size - 1, &c, err, sizeof err) == 0) {
        col_al_expr_format(&c, f1, sizeof f1);
        if (col_al_expr_parse(f1, strlen(f1), &d, err, sizeof err) != 0)
            abort();
        col_al_expr_format(&d, f2, sizeof f2);
        if (strcmp(f1, f2) != 0)
            abort();
    }
    return 0;
}
