/* SPDX-License-Identifier: MIT */
/* diag_bundle.h: the --bundle FILE.tar.gz of `diagnose` (a ustar writer piped through gzip). */
#ifndef BATLINK_DIAG_BUNDLE_H
#define BATLINK_DIAG_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** One member: from memory (data, len) or, when fp is not NULL, the whole of a file. */
struct diag_bundle_file {
    const char *name;
    const char *data;
    size_t len;
    FILE *fp;
};

/** Write the members as a .tar.gz to `path` (gzip(1) compresses). False with `err` filled. */
bool diag_bundle__write(const char *path, const struct diag_bundle_file *files, size_t n, char *err,
                        size_t errlen);

/** Copy an INI text to `out` with secret values (keys naming password, passwd, secret, token)
 * and URL passwords removed. */
void diag_bundle__redact(const char *text, size_t len, FILE *out);

#endif
