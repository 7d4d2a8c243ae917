/*
 * clock.h - monotonic and CPU time, in seconds as double.
 */
#ifndef FR_BASE_CLOCK_H
#define FR_BASE_CLOCK_H

#include <time.h>

static inline double fr_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads). */
static inline double fr_cpu_time_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
