/*
 * slq_util.c - JSON times and the span-kind selector (slq_util.h).
 */
#include "slq_util.h"

#include <stdio.h>
#include <string.h>

#include "common/slc_wire.h"

_Static_assert(SLQ_KIND_ENTRY == ((1u << SLC_KIND_SERVER) | (1u << SLC_KIND_CONSUMER)),
               "SLQ_KIND_ENTRY names SERVER and CONSUMER");

json_t *slq_json_ns(uint64_t ns)
{
    char buf[24];

    snprintf(buf, sizeof buf, "%llu", (unsigned long long)ns);
    return json_string(buf);
}

static const struct {
    const char *name;
    unsigned mask;
} slq_kinds[] = {{"entry", SLQ_KIND_ENTRY},
                 {"all", 0},
                 {"server", 1u << SLC_KIND_SERVER},
                 {"client", 1u << SLC_KIND_CLIENT},
                 {"internal", 1u << SLC_KIND_INTERNAL},
                 {"producer", 1u << SLC_KIND_PRODUCER},
                 {"consumer", 1u << SLC_KIND_CONSUMER}};

int slq_kind_parse(const char *s, unsigned *mask, const char **canonical)
{
    for (size_t i = 0; i < sizeof slq_kinds / sizeof slq_kinds[0]; i++)
        if (strcmp(s, slq_kinds[i].name) == 0) {
            *mask = slq_kinds[i].mask;
            if (canonical != NULL)
                *canonical = slq_kinds[i].name;
            return 0;
        }
    return -1;
}

const char *slq_kind_mask_name(unsigned mask)
{
    if (mask == 0)
        return "all";
    for (size_t i = 2; i < sizeof slq_kinds / sizeof slq_kinds[0]; i++)
        if (slq_kinds[i].mask == mask)
            return slq_kinds[i].name;
    return "entry";
}
