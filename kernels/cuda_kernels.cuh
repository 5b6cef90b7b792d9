// cuda_kernels.cuh - the device code of the CUDA backend: thin kernels around the
// per-element math the CPU backend uses (kernels/*_math.h, resize_area.h, half.h).
//
// Device code only (no host API), so it also compiles under NVRTC: that is how CI checks
// it with CUDA 12 for sm_60 (tests/cuda12/), where PyPI has no nvcc. Reductions use CUB's
// block primitives with our own min/max functors (cub::Min/cub::Max left CCCL 3) and
// integer atomics, which add exactly in any order: results do not depend on scheduling.
#ifndef MRIPREP_KERNELS_CUDA_KERNELS_CUH
#define MRIPREP_KERNELS_CUDA_KERNELS_CUH

#include <cub/block/block_reduce.cuh>

#include "kernels/resize_area.h"
#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"

#define MP_STATS_THREADS 128  // per row / per column block
#define MP_PIXEL_THREADS 256  // 1-D element kernels
#define MP_INT64_MAX 0x7FFFFFFFFFFFFFFFLL // no <climits> under NVRTC (tests/cuda12)
#define MP_INT64_MIN (-MP_INT64_MAX - 1)
#define MP_SUMS 5             // the moments buffer: 3 sums, then the smallest and largest q
#define MP_RESIZE_TILE 16     // 16x16 output pixels per block

// One decoded slice on the device. Row and column statistics of all slices of a batch
// live in flat arrays; row_base / col_base say where this slice's start.
struct dev_slice {
    unsigned long long offset; // first word in the batch's raw arena
    int32_t rows, cols;
    int32_t is_signed;
    int32_t row_base, col_base;
};

// What steps 3-5 decided for a slice (device -> host).
struct dev_decision {
    long long sum;
    int32_t min, max;
    int32_t fate;
    slice_box_t box;
    double mean;
};

// One selected slice's crop (host -> device): where its raw words and its crop live.
struct dev_crop {
    unsigned long long raw_offset; // first word of the slice in the raw arena
    unsigned long long crop_offset; // first float of its crop in the crop arena
    int32_t cols, is_signed;
    slice_box_t box;
    int32_t min;
    float range; // (float)(max - min)
    int32_t raw, rescale; // --intensity raw (and --rescale): crop_raw_value instead of crop_value
    double slope, intercept; // the slice's RescaleSlope / RescaleIntercept
};

struct mp_min_op {
    __device__ __forceinline__ int32_t operator()(int32_t a, int32_t b) const { return b < a ? b : a; }
};
struct mp_max_op {
    __device__ __forceinline__ int32_t operator()(int32_t a, int32_t b) const { return b > a ? b : a; }
};
struct mp_min64_op {
    __device__ __forceinline__ long long operator()(long long a, long long b) const { return b < a ? b : a; }
};
struct mp_max64_op {
    __device__ __forceinline__ long long operator()(long long a, long long b) const { return b > a ? b : a; }
};

// Block (i, r): row r of slice i -> its min, max and exact sum. Slices run along x
// (up to 2^31 - 1), rows along y (<= 8192). grid (slices, max rows), block MP_STATS_THREADS.
extern "C" __global__ void mp_row_stats(const uint16_t *raw, const dev_slice *slices, int32_t *row_min,
                                        int32_t *row_max, long long *row_sum)
{
    typedef cub::BlockReduce<int32_t, MP_STATS_THREADS> ReduceInt;
    typedef cub::BlockReduce<long long, MP_STATS_THREADS> ReduceSum;
    __shared__ union {
        typename ReduceInt::TempStorage ints;
        typename ReduceSum::TempStorage sums;
    } tmp;
    const dev_slice s = slices[blockIdx.x];
    const int32_t r = (int32_t)blockIdx.y;
    if (r >= s.rows) return; // the whole block leaves together, before any barrier
    const uint16_t *row = raw + s.offset + (unsigned long long)r * (unsigned long long)s.cols;
    int32_t mn = 2147483647, mx = -2147483647 - 1;
    long long sum = 0;
    for (int32_t c = (int32_t)threadIdx.x; c < s.cols; c += MP_STATS_THREADS) {
        int32_t x = slice_stored_value(row[c], s.is_signed);
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
        sum += x;
    }
    int32_t block_min = ReduceInt(tmp.ints).Reduce(mn, mp_min_op());
    __syncthreads();
    int32_t block_max = ReduceInt(tmp.ints).Reduce(mx, mp_max_op());
    __syncthreads();
    long long block_sum = ReduceSum(tmp.sums).Sum(sum);
    if (threadIdx.x == 0) {
        row_min[s.row_base + r] = block_min;
        row_max[s.row_base + r] = block_max;
        row_sum[s.row_base + r] = block_sum;
    }
}

// Thread c of slice i: the maximum of column c. Neighbouring threads read neighbouring
// words of each row. grid (slices, ceil(max cols / MP_STATS_THREADS)).
extern "C" __global__ void mp_col_max(const uint16_t *raw, const dev_slice *slices, int32_t *col_max)
{
    const dev_slice s = slices[blockIdx.x];
    const int32_t c = (int32_t)(blockIdx.y * MP_STATS_THREADS + threadIdx.x);
    if (c >= s.cols) return;
    const uint16_t *col = raw + s.offset + (unsigned long long)c;
    int32_t mx = -2147483647 - 1;
    for (int32_t r = 0; r < s.rows; r++) {
        int32_t x = slice_stored_value(col[(unsigned long long)r * (unsigned long long)s.cols], s.is_signed);
        mx = x > mx ? x : mx;
    }
    col_max[s.col_base + c] = mx;
}

// Thread i: slice i's min, max and sum from its rows (in row order: integers, exact),
// then the same slice_decide() the CPU backend calls.
extern "C" __global__ void mp_decide(const dev_slice *slices, int32_t n, const int32_t *row_min,
                                     const int32_t *row_max, const long long *row_sum, const int32_t *col_max,
                                     int32_t margin, double dark, dev_decision *out)
{
    const int32_t i = (int32_t)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const dev_slice s = slices[i];
    int32_t mn = row_min[s.row_base], mx = row_max[s.row_base];
    long long sum = 0;
    for (int32_t r = 0; r < s.rows; r++) {
        mn = row_min[s.row_base + r] < mn ? row_min[s.row_base + r] : mn;
        mx = row_max[s.row_base + r] > mx ? row_max[s.row_base + r] : mx;
        sum += row_sum[s.row_base + r];
    }
    dev_decision d;
    d.sum = sum;
    d.min = mn;
    d.max = mx;
    d.box.row0 = d.box.row1 = d.box.col0 = d.box.col1 = 0;
    d.fate = (int32_t)slice_decide(mn, mx, (int64_t)sum, s.rows, s.cols, row_max + s.row_base, col_max + s.col_base,
                                   margin, dark, &d.box, &d.mean);
    out[i] = d;
}

// Pixel i of selected slice d's crop: step 3 on the raw words.
// grid (ceil(max crop pixels / MP_PIXEL_THREADS), depth).
extern "C" __global__ void mp_crop(const uint16_t *raw, const dev_crop *crops, float *crop_arena)
{
    const dev_crop c = crops[blockIdx.y];
    const int32_t bw = slice_box_width(c.box);
    const long long n = (long long)bw * slice_box_height(c.box);
    const long long i = (long long)blockIdx.x * MP_PIXEL_THREADS + threadIdx.x;
    if (i >= n) return;
    const int32_t r = (int32_t)(i / bw), col = (int32_t)(i % bw);
    crop_arena[c.crop_offset + (unsigned long long)i] =
        c.raw ? crop_raw_value(raw + c.raw_offset, c.cols, c.is_signed, c.box, c.rescale, c.slope, c.intercept, r, col)
              : crop_value(raw + c.raw_offset, c.cols, c.is_signed, c.box, c.min, c.range, r, col);
}

// Output pixel (x, y) of selected slice d: INTER_AREA from its crop with the host's tap
// tables. grid (ceil(W/16), ceil(H/16), depth), block 16x16.
extern "C" __global__ void mp_resize(const resize_tables_t *tables, const dev_crop *crops, const float *crop_arena,
                                     float *resized)
{
    const resize_tables_t *t = &tables[blockIdx.z];
    const int x = (int)(blockIdx.x * MP_RESIZE_TILE + threadIdx.x);
    const int y = (int)(blockIdx.y * MP_RESIZE_TILE + threadIdx.y);
    if (x >= t->dst_w || y >= t->dst_h) return;
    const float *src = crop_arena + crops[blockIdx.z].crop_offset;
    const unsigned long long plane = (unsigned long long)t->dst_w * (unsigned long long)t->dst_h;
    resized[blockIdx.z * plane + (unsigned long long)y * t->dst_w + x] =
        resize_area_pixel(t, src, (size_t)t->src_w, x, y);
}

// Fixed-point moments of the whole resized volume [count] and whether any value differs
// from the first: sums[0] += q, sums[1] += q2 (two's complement wraps exactly),
// sums[2] |= differs.
extern "C" __global__ void mp_moments(const float *resized, unsigned long long count, unsigned long long *sums)
{
    typedef cub::BlockReduce<long long, MP_PIXEL_THREADS> ReduceSum;
    __shared__ typename ReduceSum::TempStorage tmp;
    const unsigned long long i = (unsigned long long)blockIdx.x * MP_PIXEL_THREADS + threadIdx.x;
    long long q = 0, q2 = 0;
    int differs = 0;
    if (i < count) {
        const float v = resized[i];
        q = (long long)zscore_fixed(v);
        q2 = (long long)zscore_fixed_sq(v);
        differs = v != resized[0];
    }
    long long block_q = ReduceSum(tmp).Sum(q);
    __syncthreads();
    long long block_q2 = ReduceSum(tmp).Sum(q2);
    int block_differs = __syncthreads_or(differs);
    if (threadIdx.x == 0) {
        atomicAdd(&sums[0], (unsigned long long)block_q);
        atomicAdd(&sums[1], (unsigned long long)block_q2);
        if (block_differs) atomicOr(&sums[2], 1ull);
    }
}

// The volumetric options' moments (--intensity raw, --norm nonzero), the CPU backend's
// crop_resize_measure_any over the whole resized volume [count]: over the voxels that
// count (all, or v != 0), q of v * scale (a power of two), summed (two's complement
// wraps exactly), counted, and their smallest and largest q:
// sums[0] += q, sums[1] += q2, sums[2] += 1, q_minmax[0] = min q, q_minmax[1] = max q.
extern "C" __global__ void mp_moments_any(const float *resized, unsigned long long count, float scale, int32_t nonzero,
                                          unsigned long long *sums, long long *q_minmax)
{
    typedef cub::BlockReduce<long long, MP_PIXEL_THREADS> Reduce;
    __shared__ typename Reduce::TempStorage tmp;
    const unsigned long long i = (unsigned long long)blockIdx.x * MP_PIXEL_THREADS + threadIdx.x;
    long long q = 0, q2 = 0, n = 0, lo = MP_INT64_MAX, hi = MP_INT64_MIN;
    if (i < count && !(nonzero && resized[i] == 0.0f)) {
        const float v = resized[i] * scale;
        q = (long long)zscore_fixed(v);
        q2 = (long long)zscore_fixed_sq(v);
        n = 1, lo = q, hi = q;
    }
    long long block_q = Reduce(tmp).Sum(q);
    __syncthreads();
    long long block_q2 = Reduce(tmp).Sum(q2);
    __syncthreads();
    long long block_n = Reduce(tmp).Sum(n);
    __syncthreads();
    long long block_lo = Reduce(tmp).Reduce(lo, mp_min64_op());
    __syncthreads();
    long long block_hi = Reduce(tmp).Reduce(hi, mp_max64_op());
    if (threadIdx.x == 0 && block_n > 0) {
        atomicAdd(&sums[0], (unsigned long long)block_q);
        atomicAdd(&sums[1], (unsigned long long)block_q2);
        atomicAdd(&sums[2], (unsigned long long)block_n);
        atomicMin(&q_minmax[0], block_lo);
        atomicMax(&q_minmax[1], block_hi);
    }
}

// Output element o (one thread each, in output order so the stores coalesce): the source
// voxel the map gives (layout, --reorient; none for the zero slices of --depth pad),
// z-scored (masked for --norm nonzero), in the dtype. grid ceil(count / MP_PIXEL_THREADS).
extern "C" __global__ void mp_store(const float *resized, volume_map_t map, int32_t w, int32_t h, int32_t nonzero,
                                    int32_t float16, double mean, double std, void *out)
{
    const unsigned long long o = (unsigned long long)blockIdx.x * MP_PIXEL_THREADS + threadIdx.x;
    if (o >= map.dims[0] * map.dims[1] * map.dims[2]) return;
    uint64_t x, y;
    uint32_t d;
    float z = 0.0f;
    if (volume_map_source(&map, o, &x, &y, &d))
        z = zscore_apply_masked(resized[((unsigned long long)d * h + y) * w + x], mean, std, nonzero);
    volume_store(out, o, float16, z);
}

#endif // MRIPREP_KERNELS_CUDA_KERNELS_CUH
