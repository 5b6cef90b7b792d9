/* NVRTC has no C library: size_t for the shared kernel headers (CUDA 12 check only). */
#pragma once
#include <cuda/std/cstddef>
typedef cuda::std::size_t size_t;
