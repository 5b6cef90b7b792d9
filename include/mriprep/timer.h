/* timer.h - monotonic wall clock for stage times and throughput. */
#ifndef MRIPREP_TIMER_H
#define MRIPREP_TIMER_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC); safe from any thread. */
double mp_wall_seconds(void);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_TIMER_H */
