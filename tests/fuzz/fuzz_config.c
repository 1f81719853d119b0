/*
 * fuzz_config.c - libFuzzer target for the collector's settings parser:
 * col_config_load_file (the "key = value" config file, read through a
 * memfd so every input is a real file) and col_config_set (one flag's
 * value, as from the command line).
 *
 * Input: first line "NAME=VALUE" goes to col_config_set, the whole input
 * is the config file.  Properties beyond "no crash": a failure writes a
 * NUL-terminated message; a setting refused leaves the struct as it was
 * (settings are range-checked before they are stored).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "sightline.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static col_config c, before;
    char err[512], name[128], value[1024];
    const uint8_t *nl, *eq;
    size_t n, k;

    if (fuzz_fd < 0) {
        fuzz_fd = memfd_create("fuzz_config", 0);
        if (fuzz_fd < 0)
            abort();
        snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
    }

    /* One flag: NAME=VALUE from the first line. */
    nl = memchr(data, '\n', size);
    n = nl != NULL ? (size_t)(nl - data) : size;
    eq = memchr(data, '=', n);
    if (eq != NULL) {
        k = (size_t)(eq - data);
        if (k >= sizeof name)
            k = sizeof name - 1;
        memcpy(name, data, k);
        name[k] = '\0';
        k = n - (size_t)(eq - data) - 1;
        if (k >= sizeof value)
            k = sizeof value - 1;
        memcpy(value, eq + 1, k);
        value[k] = '\0';
        col_config_defaults(&c);
        memcpy(&before, &c, sizeof c);
        memset(err, 'x', sizeof err);
        if (col_config_set(&c, name, value, err, sizeof err) != 0) {
            if (memchr(err, '\0', sizeof err) == NULL)
                abort();
            if (memcmp(&before, &c, sizeof c) != 0)
                abort();
        }
        (void)col_config_is_flag(name);
    }

    /* The whole input as a config file. */
    if (ftruncate(fuzz_fd, 0) != 0 || lseek(fuzz_fd, 0, SEEK_SET) != 0)
        abort();
    if (size > 0 && write(fuzz_fd, data, size) != (ssize_t)size)
        abort();
    col_config_defaults(&c);
    memset(err, 'x', sizeof err);
    if (col_config_load_file(&c, fuzz_path, err, sizeof err) != 0 &&
        memchr(err, '\0', sizeof err) == NULL)
        abort();
    return 0;
}
