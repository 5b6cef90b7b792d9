/* hostdev.h - the one macro that lets per-element math be shared by the CPU
 * backend (C11, OpenMP) and the CUDA kernels (nvcc).
 *
 * Headers under kernels/ are written in the common subset of C11 and CUDA C++:
 * `static inline` functions, fixed-width integer types, no C-only or C++-only
 * syntax. Compiled with -ffp-contract=off (gcc) and -fmad=false (nvcc) so every
 * float operation happens in the written order and the two backends agree bit
 * for bit.
 */
#ifndef MRIPREP_KERNELS_HOSTDEV_H
#define MRIPREP_KERNELS_HOSTDEV_H

#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define HOST_DEVICE __host__ __device__
#else
#define HOST_DEVICE
#endif

#endif /* MRIPREP_KERNELS_HOSTDEV_H */
