// shared_math_check.cu - compiles the per-element headers shared with the CPU backend
// inside real kernels, so nvcc (CUDA 12 and 13) keeps accepting them until the CUDA
// backend (its own issue) uses them for real. Nothing here is launched.
#include "kernels/half.h"
#include "kernels/resize_area.h"
#include "kernels/slice_math.h"
#include "kernels/zscore_math.h"

// One thread per output pixel: crop+resize of a float slice, then z-score to float16.
__global__ void shared_math_check_resize(resize_tables_t tables, const float *d_src, size_t src_stride,
                                         double mean, double std, uint16_t *d_out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= tables.dst_w || y >= tables.dst_h) return;
    float v = resize_area_pixel(&tables, d_src, src_stride, x, y);
    d_out[(size_t)y * tables.dst_w + x] = half_from_float(zscore_apply(v, mean, std));
}

// Per-slice decisions and fixed-point moments, one thread per slice.
__global__ void shared_math_check_slice(const uint16_t *d_px, int is_signed, const int32_t *d_row_max,
                                        const int32_t *d_col_max, int32_t rows, int32_t cols, int64_t sum,
                                        int32_t min, int32_t max, slice_box_t *d_box, int64_t *d_q)
{
    double mean;
    slice_box_t box;
    slice_fate_t fate = slice_decide(min, max, sum, rows, cols, d_row_max, d_col_max, 0, 0.01, &box, &mean);
    int32_t depth;
    int32_t start = slice_middle_start(rows, 128, &depth);
    float v = slice_minmax_value(slice_stored_value(d_px[start], is_signed), min, (float)(max - min));
    *d_box = box;
    d_q[0] = zscore_fixed(v) + zscore_fixed_sq(v) + (int64_t)fate;
    double m, s;
    zscore_moments(d_q[0], d_q[1], 1, 0, &m, &s);
    d_q[2] = (int64_t)m + (int64_t)s;
    d_q[3] = resize_select_path(cols, rows, 256, 256);
}
