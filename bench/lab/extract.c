/* extract.c - real slices for the kernel labs: decodes the .dcm files named on stdin
 * (one path a line, in the order given) with the project's decoder, keeps every k-th one
 * so about TARGET slices are written, and dumps them to OUT in lab.h's format. Also
 * says, over ALL the files, which resize path each slice's crop takes to 256x256 - the
 * mix that the stats and resize stages really see.
 *
 *   find bench/data -name '*.dcm' | sort | build/lab/extract OUT [TARGET]
 *
 * Links build/libmriprep_internal.a (dicom_decode_slice_alloc) and dcmtk; run_lab.sh falls back
 * to synthetic slices when that library is not there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mriprep/resize.h"
#include "kernels/slice_math.h"
#include "mriprep/dicom.h"

static void stats(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                  int32_t *col_max, int32_t *mn_out, int32_t *mx_out, int64_t *sum_out)
{
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    int64_t sum = 0;
    for (uint32_t c = 0; c < cols; c++) col_max[c] = INT32_MIN;
    for (uint32_t r = 0; r < rows; r++) {
        int32_t rmax = INT32_MIN;
        for (uint32_t c = 0; c < cols; c++) {
            int32_t x = slice_stored_value(px[(size_t)r * cols + c], is_signed);
            sum += x;
            mn = x < mn ? x : mn;
            rmax = x > rmax ? x : rmax;
            col_max[c] = x > col_max[c] ? x : col_max[c];
        }
        row_max[r] = rmax;
        mx = rmax > mx ? rmax : mx;
    }
    *mn_out = mn;
    *mx_out = mx;
    *sum_out = sum;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: find DATA -name '*.dcm' | sort | %s OUT [TARGET]\n", argv[0]);
        return 2;
    }
    int target = argc > 2 ? atoi(argv[2]) : 200;
    mp_error err;
    if (dicom_global_init(&err) != MP_OK) {
        fprintf(stderr, "extract: %s\n", err.msg);
        return 1;
    }
    size_t cap = 1024, n = 0;
    char **paths = malloc(cap * sizeof *paths), line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        if (n == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
        paths[n++] = strdup(line);
    }
    if (!n) {
        fprintf(stderr, "extract: no paths on stdin\n");
        return 1;
    }
    size_t stride = n / (size_t)target > 0 ? n / (size_t)target : 1;
    FILE *out = fopen(argv[1], "wb");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    uint32_t count = 0;
    fwrite("MRLAB1\n", 1, 7, out);
    fwrite(&count, 4, 1, out);

    static int32_t row_max[8192], col_max[8192];
    long paths_n[4] = {0}, blank = 0, dark = 0, failed = 0, shapes512 = 0;
    double area_sum[4] = {0};
    long wh_hist[6] = {0}; /* max(bw,bh) crops: <256, 256..299, 300..399, 400..499, 500..511, 512 */
    for (size_t i = 0; i < n; i++) {
        dicom_header_t h;
        uint16_t *px = NULL;
        if (dicom_decode_slice_alloc(paths[i], &h, &px, &err) != MP_OK) {
            failed++;
            continue;
        }
        int sg = h.pixel_representation == 1;
        int32_t mn, mx;
        int64_t sum;
        slice_box_t box;
        double mean;
        stats(px, h.rows, h.cols, sg, row_max, col_max, &mn, &mx, &sum);
        slice_fate_t fate = slice_decide(mn, mx, sum, (int32_t)h.rows, (int32_t)h.cols, row_max, col_max, 0, 0.01,
                                         &box, &mean);
        shapes512 += h.rows == 512 && h.cols == 512;
        if (fate == SLICE_BLANK) blank++;
        else if (fate == SLICE_DARK) dark++;
        else {
            int32_t bw = slice_box_width(box), bh = slice_box_height(box);
            int p = (int)resize_select_path(bw, bh, 256, 256);
            paths_n[p]++;
            area_sum[p] += (double)bw * bh;
            int32_t m = bw > bh ? bw : bh;
            wh_hist[m < 256 ? 0 : m < 300 ? 1 : m < 400 ? 2 : m < 500 ? 3 : m < 512 ? 4 : 5]++;
        }
        if (i % stride == 0 && count < (uint32_t)target) {
            uint32_t hd[3] = {h.rows, h.cols, (uint32_t)sg};
            fwrite(hd, 4, 3, out);
            fwrite(px, 2, (size_t)h.rows * h.cols, out);
            count++;
        }
        free(px);
    }
    fseek(out, 7, SEEK_SET);
    fwrite(&count, 4, 1, out);
    if (fclose(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    dicom_global_cleanup();
    long kept = paths_n[0] + paths_n[1] + paths_n[2] + paths_n[3];
    printf("extract: %zu files (%ld 512x512, %ld undecodable): %ld kept, %ld blank, %ld dark; wrote %u slices "
           "(every %zu-th) to %s\n",
           n, shapes512, failed, kept, blank, dark, count, stride, argv[1]);
    printf("  resize path of the kept crops to 256x256:");
    for (int p = 0; p < 4; p++)
        if (paths_n[p])
            printf(" %s %ld (%.0f%%, mean crop %.0f px^2)", resize_path_name((resize_path_t)p), paths_n[p],
                   100.0 * paths_n[p] / (double)kept, area_sum[p] / (double)paths_n[p]);
    printf("\n  larger crop side: <256 %ld, 256..299 %ld, 300..399 %ld, 400..499 %ld, 500..511 %ld, 512 %ld\n",
           wh_hist[0], wh_hist[1], wh_hist[2], wh_hist[3], wh_hist[4], wh_hist[5]);
    return 0;
}
