/* NVRTC has no C library: the fixed-width types the shared kernel headers use, from
 * CCCL's <cuda/std/cstdint>. Only for the CUDA 12 compile check (tests/cuda12/). */
#pragma once
#include <cuda/std/cstdint>
typedef cuda::std::int8_t int8_t;
typedef cuda::std::int16_t int16_t;
typedef cuda::std::int32_t int32_t;
typedef cuda::std::int64_t int64_t;
typedef cuda::std::uint8_t uint8_t;
typedef cuda::std::uint16_t uint16_t;
typedef cuda::std::uint32_t uint32_t;
typedef cuda::std::uint64_t uint64_t;
typedef cuda::std::uintptr_t uintptr_t;
