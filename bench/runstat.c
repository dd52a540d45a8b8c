/* SPDX-License-Identifier: MIT */
/* runstat.c: runstat CMD [ARGS...] -- run CMD (stdout to /dev/null, stdin from $BL_STDIN or
 * inherited) and print "WALL_S CPU_S MAXRSS_KIB". Built static, so the child's peak RSS is not
 * inflated by the parent's memory (a forked Python interpreter counts ~10 MiB before exec). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        const char *in = getenv("BL_STDIN");
        int fd = open(in != NULL ? in : "/dev/null", O_RDONLY);
        if (fd >= 0) dup2(fd, 0);
        fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, 1);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) < 0) return 2;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f %.6f %ld\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
           ru.ru_maxrss);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
