/*
 * sysio.c - reading the tiny text files of sysfs (powercap, power_supply),
 * and the clocks, through the meter hooks so that tests can point them at a
 * fake tree, deny a file, or move time.
 *
 * sysfs files are read with one read(2) into a bounded buffer: they are a
 * few bytes, and a file that is longer than expected is an error, not a
 * reason to allocate.
 */
#include "energy/meter.h"

#include "base/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int fr_sysio_read(const fr_sysio *io, const char *path, char *buf, size_t n)
{
    if (n == 0)
        return EINVAL;
    int fd = io->h.open_file ? io->h.open_file(path, io->h.ud) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno ? errno : EIO;
    size_t len = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, n - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = errno;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len >= n) {
            rc = EFBIG;
            break;
        }
    }
    close(fd);
    if (rc)
        return rc;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    return 0;
}

int fr_sysio_read_u64(const fr_sysio *io, const char *path, uint64_t *v)
{
    char buf[64];
    int rc = fr_sysio_read(io, path, buf, sizeof buf);
    if (rc)
        return rc;
    if (buf[0] < '0' || buf[0] > '9')
        return EINVAL;
    uint64_t x = 0;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9')
            return EINVAL;
        if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return EINVAL;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    return 0;
}

bool fr_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return w >= 0 && (size_t)w < n;
}

double fr_sysio_now(const fr_sysio *io)
{
    return io->h.now_s ? io->h.now_s(io->h.ud) : fr_now_s();
}

double fr_sysio_cpu(const fr_sysio *io)
{
    return io->h.cpu_s ? io->h.cpu_s(io->h.ud) : fr_cpu_time_s();
}

void fr_sysio_sleep(const fr_sysio *io, double s)
{
    if (io->h.sleep_s) {
        io->h.sleep_s(s, io->h.ud);
        return;
    }
    if (!(s > 0))
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
