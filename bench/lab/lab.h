/* lab.h - what the kernel labs (bench/lab/stats.c, bench/lab/resize.c) share: a clock,
 * medians, a seeded generator, slice generators and the loader of real slices that
 * bench/lab/extract.c dumps from bench/data.
 *
 * Header-only (static functions) so each lab is one translation unit plus the project
 * sources it links as its reference. Single-threaded throughout.
 */
#ifndef MRIPREP_BENCH_LAB_H
#define MRIPREP_BENCH_LAB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double lab_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int lab_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[n] (sorts v). */
static inline double lab_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, lab_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* splitmix64: small, seeded, the same sequence everywhere. */
typedef struct lab_rng {
    uint64_t s;
} lab_rng_t;

static inline uint64_t lab_next(lab_rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform integer in [lo, hi]. */
static inline int32_t lab_range(lab_rng_t *r, int32_t lo, int32_t hi)
{
    return lo + (int32_t)(lab_next(r) % (uint64_t)(hi - lo + 1));
}

/* One decoded slice: [rows][cols] 16-bit words, int16 when is_signed. */
typedef struct lab_slice {
    uint32_t rows, cols;
    int is_signed;
    uint16_t *px;
} lab_slice_t;

typedef enum lab_fill {
    LAB_FILL_UNSIGNED = 0, /* uniform over 0..65535 */
    LAB_FILL_SIGNED = 1,   /* uniform over -32768..32767 */
    LAB_FILL_MR = 2,       /* zero background, an ellipse of noisy tissue (like make_dataset.py) */
    LAB_FILL_MR_SIGNED = 3 /* as MR, signed, with a small negative patch */
} lab_fill_t;

static inline void lab_slice_fill(lab_slice_t *s, uint32_t rows, uint32_t cols, lab_fill_t fill, lab_rng_t *rng)
{
    s->rows = rows;
    s->cols = cols;
    s->is_signed = fill == LAB_FILL_SIGNED || fill == LAB_FILL_MR_SIGNED;
    s->px = malloc((size_t)rows * cols * sizeof *s->px);
    if (!s->px) {
        fprintf(stderr, "lab: out of memory\n");
        exit(2);
    }
    if (fill == LAB_FILL_UNSIGNED || fill == LAB_FILL_SIGNED) {
        for (size_t i = 0; i < (size_t)rows * cols; i++) s->px[i] = (uint16_t)lab_next(rng);
        return;
    }
    /* MR-like: head ellipse with semi-axes 0.25..0.44 of the size, values 1..maxv inside. */
    int32_t maxv = lab_range(rng, 300, 4000);
    double a = rows * (0.25 + 0.19 * (double)(lab_next(rng) % 1000) / 1000.0);
    double b = cols * (0.25 + 0.17 * (double)(lab_next(rng) % 1000) / 1000.0);
    double cy = (rows - 1) / 2.0 + (double)lab_range(rng, -10, 10) * rows / 400.0;
    double cx = (cols - 1) / 2.0 + (double)lab_range(rng, -10, 10) * cols / 400.0;
    int32_t amp = maxv / 100 + 1;
    for (uint32_t r = 0; r < rows; r++) {
        for (uint32_t c = 0; c < cols; c++) {
            double y = (r - cy) / a, x = (c - cx) / b, q = y * y + x * x;
            int32_t v = 0;
            if (q <= 1.0) {
                v = (int32_t)(maxv * (0.45 + 0.15 * q)) + lab_range(rng, -amp, amp);
                v = v < 1 ? 1 : v > maxv ? maxv : v;
            }
            s->px[(size_t)r * cols + c] = (uint16_t)v;
        }
    }
    if (fill == LAB_FILL_MR_SIGNED) {
        uint32_t n = rows / 12 + 1;
        for (uint32_t r = 0; r < n && r + (uint32_t)cy < rows; r++)
            for (uint32_t c = 0; c < n && c + (uint32_t)cx < cols; c++)
                s->px[(size_t)(r + (uint32_t)cy) * cols + c + (uint32_t)cx] = (uint16_t)(int16_t)-lab_range(rng, 1, 50);
    }
}

/* Real slices dumped by extract.c: "MRLAB1\n", uint32 count, then per slice uint32 rows,
 * cols, is_signed and rows*cols uint16 words. Returns the count (0 when the file is
 * missing or bad; *out is then NULL). */
static inline int lab_load_real(const char *path, lab_slice_t **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[7];
    uint32_t n = 0;
    if (fread(magic, 1, 7, f) != 7 || memcmp(magic, "MRLAB1\n", 7) != 0 || fread(&n, 4, 1, f) != 1 || n == 0) {
        fclose(f);
        return 0;
    }
    lab_slice_t *s = calloc(n, sizeof *s);
    for (uint32_t i = 0; s && i < n; i++) {
        uint32_t h[3];
        if (fread(h, 4, 3, f) != 3 || h[0] == 0 || h[1] == 0 || h[0] > 8192 || h[1] > 8192) goto bad;
        s[i].rows = h[0];
        s[i].cols = h[1];
        s[i].is_signed = (int)h[2];
        s[i].px = malloc((size_t)h[0] * h[1] * 2);
        if (!s[i].px || fread(s[i].px, 2, (size_t)h[0] * h[1], f) != (size_t)h[0] * h[1]) goto bad;
    }
    fclose(f);
    *out = s;
    return (int)n;
bad:
    fclose(f);
    if (s)
        for (uint32_t i = 0; i < n; i++) free(s[i].px);
    free(s);
    return 0;
}

/* Reads every byte of a buffer, so the next kernel finds it in cache as the pipeline
 * does (the stats run right after the decode wrote the slice). */
static inline uint64_t lab_touch(const void *p, size_t bytes)
{
    const uint64_t *w = p;
    uint64_t x = 0;
    for (size_t i = 0; i < bytes / 8; i++) x ^= w[i];
    return x;
}

#endif /* MRIPREP_BENCH_LAB_H */
