/* timer.c - see include/mriprep/timer.h. */
#include "mriprep/timer.h"

#include <time.h>

double mp_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
