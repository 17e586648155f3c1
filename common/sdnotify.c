/* common/sdnotify.c — see sdnotify.h. */
#include "common/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sdn_addr(const char *value, struct sockaddr_un *sa, socklen_t *len)
{
    if (value == NULL || (value[0] != '/' && value[0] != '@'))
        return -1;
    size_t n = strlen(value);
    if (n < 2 || n > sizeof sa->sun_path)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, value, n);
    if (value[0] == '@') {
        /* abstract: the name is exactly these bytes, no terminating NUL */
        sa->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        if (n == sizeof sa->sun_path)
            return -1; /* no room for the NUL a path name needs */
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int sdn_fmt_reloading(char *buf, size_t cap, int64_t mono_us)
{
    return snprintf(buf, cap, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)mono_us);
}

int sdn_send(const char *state)
{
    const char *v = getenv("NOTIFY_SOCKET");
    if (v == NULL || v[0] == '\0')
        return 0;
    struct sockaddr_un sa;
    socklen_t len;
    if (sdn_addr(v, &sa, &len) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, len);
    int e = errno;
    close(fd);
    if (w < 0) {
        errno = e;
        return -1;
    }
    return 1;
}

int sdn_sendf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap); /* a truncated STATUS text is still a valid message */
    va_end(ap);
    return sdn_send(buf);
}

/* STATUS= text on one line: a newline would start a new (bogus) assignment */
static void one_line(char *dst, size_t cap, const char *src)
{
    sk_strlcpy(dst, src, cap);
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

int sdn_ready(const char *status)
{
    if (status == NULL)
        return sdn_send("READY=1");
    char line[512];
    one_line(line, sizeof line, status);
    return sdn_sendf("READY=1\nSTATUS=%s", line);
}

int sdn_status(const char *status)
{
    char line[512];
    one_line(line, sizeof line, status);
    return sdn_sendf("STATUS=%s", line);
}

int sdn_reloading(void)
{
    char buf[96];
    sdn_fmt_reloading(buf, sizeof buf, sk_mono_us());
    return sdn_send(buf);
}

int sdn_stopping(void)
{
    return sdn_send("STOPPING=1");
}
