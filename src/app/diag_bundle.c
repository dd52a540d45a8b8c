/* SPDX-License-Identifier: MIT */
/* diag_bundle.c: `diagnose --bundle FILE.tar.gz` (issue 13 item 6): a ustar archive written by
 * hand (one 512-byte header per member, POSIX.1-1988 ustar) and compressed by piping it through
 * gzip(1). gzip is an Essential package in Debian, so every system batlink runs on has it; this
 * keeps zlib out of the build for one rarely used option (README "A bundle for a forum post"). */
#include "app/diag_bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

static bool header(int fd, const char *name, uint64_t size, time_t mtime)
{
    unsigned char h[512];
    memset(h, 0, sizeof h);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644u);
    snprintf((char *)h + 108, 8, "%07o", 0u);
    snprintf((char *)h + 116, 8, "%07o", 0u);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)mtime);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    snprintf((char *)h + 265, 32, "batlink");
    snprintf((char *)h + 297, 32, "batlink");
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return write_all(fd, h, sizeof h);
}

static bool pad(int fd, uint64_t size)
{
    static const char zero[512];
    size_t r = (size_t)(size % 512u);
    return r == 0 || write_all(fd, zero, 512u - r);
}

static bool member(int fd, const struct diag_bundle_file *m, time_t now)
{
    if (m->fp != NULL) {
        if (fflush(m->fp) != 0 || fseek(m->fp, 0, SEEK_END) != 0) return false;
        long size = ftell(m->fp);
        if (size < 0 || fseek(m->fp, 0, SEEK_SET) != 0) return false;
        if (!header(fd, m->name, (uint64_t)size, now)) return false;
        char buf[65536];
        uint64_t left = (uint64_t)size;
        while (left > 0) {
            size_t k = fread(buf, 1, left < sizeof buf ? (size_t)left : sizeof buf, m->fp);
            if (k == 0 || !write_all(fd, buf, k)) return false;
            left -= k;
        }
        return pad(fd, (uint64_t)size);
    }
    return header(fd, m->name, m->len, now) && write_all(fd, m->data, m->len) && pad(fd, m->len);
}

bool diag_bundle__write(const char *path, const struct diag_bundle_file *files, size_t n, char *err,
                        size_t errlen)
{
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    int p[2];
    if (pipe(p) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(out);
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(out);
        close(p[0]);
        close(p[1]);
        return false;
    }
    if (pid == 0) {
        if (dup2(p[0], 0) < 0 || dup2(out, 1) < 0) _exit(126);
        close(p[0]);
        close(p[1]);
        close(out);
        execlp("gzip", "gzip", "-n", "-c", (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    close(out);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    time_t now = time(NULL);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++)
        ok = member(p[1], &files[i], now);
    static const char end[1024];
    ok = ok && write_all(p[1], end, sizeof end); /* two zero blocks end the archive */
    close(p[1]);
    signal(SIGPIPE, old);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s: gzip failed (%s)", path,
                 WIFEXITED(st) && WEXITSTATUS(st) == 127 ? "not found" : "exit status");
        return false;
    }
    if (!ok) snprintf(err, errlen, "%s: writing the archive failed", path);
    return ok;
}

/* key = value lines whose key names a secret lose the value; URLs lose the password of their
 * user:password@ part */
void diag_bundle__redact(const char *text, size_t len, FILE *out)
{
    static const char *const secret[] = {"password", "passwd", "secret", "token"};
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        char line[1024];
        size_t ll = e - i < sizeof line - 1 ? e - i : sizeof line - 1;
        memcpy(line, text + i, ll);
        line[ll] = '\0';
        char *eq = strchr(line, '=');
        bool hide = false;
        if (eq != NULL && line[0] != '#' && line[0] != ';' && line[0] != '[') {
            for (char *k = line; k < eq; k++)
                if (*k >= 'A' && *k <= 'Z') *k = (char)(*k - 'A' + 'a');
            for (size_t s = 0; s < sizeof secret / sizeof secret[0]; s++) {
                char *hit = strstr(line, secret[s]);
                if (hit != NULL && hit < eq) hide = true;
            }
        }
        if (hide) {
            fprintf(out, "%.*s= (removed by batlink diagnose --bundle)\n", (int)(eq - line), line);
        } else {
            memcpy(line, text + i, ll); /* the original case */
            char *at = strchr(line, '@'), *sch = strstr(line, "://");
            char *colon = sch != NULL && at != NULL ? strchr(sch + 3, ':') : NULL;
            if (colon != NULL && colon < at)
                fprintf(out, "%.*s:(removed)%s\n", (int)(colon - line), line, at);
            else
                fprintf(out, "%s\n", line);
        }
        i = e + 1;
    }
}
