/* ctl/runio.c — `./dev fault` as a child process, report files; see runio.h. */
#include "ctl/runio.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int ctl_dev_fault(const char *dev, const char *target, const char *action)
{
    char *argv[] = {(char *)dev, "fault", (char *)target, (char *)action, NULL};
    return ctl_run(argv, CTL_DEV_FAULT_TIMEOUT_MS);
}

int ctl_run(char *const argv[], int64_t timeout_ms)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = fileno(stdout);
        dup2(2, fd); /* keep the caller's summary line alone on stdout */
        execv(argv[0], argv);
        _exit(127);
    }
    int64_t deadline = sk_mono_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (sk_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(20000);
    }
}

int ctl_write_report(const char *cmd, const char *dir, json_t *j, int indent, const rep_run *run,
                     const rep_summary *sum)
{
    char path[4096];
    int rc = 0;
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (json_dump_file(j, path, JSON_INDENT(indent)) != 0) {
        fprintf(stderr, "skipctl %s: cannot write %s\n", cmd, path);
        rc = 1;
    }
    char *svg = rep_svg(run, sum);
    snprintf(path, sizeof path, "%s/report.svg", dir);
    if (svg == NULL || ctl_write_file(path, svg) != 0) {
        fprintf(stderr, "skipctl %s: cannot write %s\n", cmd, path);
        rc = 1;
    }
    free(svg);
    return rc;
}

int ctl_write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t n = strlen(data);
    int rc = fwrite(data, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}
