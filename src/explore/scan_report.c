/* scan_report.c - the scan report written out (include/mriprep/scan.h): JSON with
 * stable keys, one CSV row per series, and the one-screen summary for people. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mriprep/csv.h"
#include "mriprep/features.h"
#include "mriprep/fs.h"
#include "mriprep/json.h"
#include "scan_internal.h"


static double files_per_second(const scan_report_t *r)
{
    return r->elapsed > 0 ? (double)r->n_files / r->elapsed : 0.0;
}

static void json_histogram(json_writer_t *j, const char *key, const uint32_t *edges, const uint64_t *counts,
                           size_t bins)
{
    json_object_begin(j, key);
    json_array_begin(j, "edges");
    for (size_t b = 0; bins && b <= bins; b++) json_uint(j, NULL, edges[b]);
    json_array_end(j);
    json_array_begin(j, "counts");
    for (size_t b = 0; b < bins; b++) json_uint(j, NULL, counts[b]);
    json_array_end(j);
    json_object_end(j);
}

/* Patients per split, and the labels: counts, shares, who lacks what. */
static void json_people(json_writer_t *j, const scan_report_t *r)
{
    json_object_begin(j, "patients");
    uint64_t total = 0;
    for (size_t i = 0; i < r->patients.n; i++) {
        json_uint(j, r->patients.items[i].key, r->patients.items[i].count);
        total += r->patients.items[i].count;
    }
    json_uint(j, "total", total);
    json_object_end(j);

    json_object_begin(j, "labels");
    json_string(j, "file", r->labels_used[0] ? r->labels_used : NULL);
    uint64_t labelled = 0;
    for (size_t i = 0; i < r->label_counts.n; i++) labelled += r->label_counts.items[i].count;
    json_object_begin(j, "counts");
    for (size_t i = 0; i < r->label_counts.n; i++) json_uint(j, r->label_counts.items[i].key, r->label_counts.items[i].count);
    json_object_end(j);
    json_object_begin(j, "percent");
    for (size_t i = 0; i < r->label_counts.n; i++)
        json_double(j, r->label_counts.items[i].key, 100.0 * (double)r->label_counts.items[i].count / (double)labelled);
    json_object_end(j);
    json_uint(j, "images_without_label", r->ds.n_images_without_label);
    json_uint(j, "labels_without_images", r->ds.n_labels_without_images);
    json_object_end(j);
}

/* Slices per series per modality: min, median, max and a histogram. */
static void json_modalities(json_writer_t *j, const scan_report_t *r)
{
    json_object_begin(j, "modalities");
    for (size_t m = 0; m < r->opt.n_modalities; m++) {
        const modality_summary_t *ms = &r->modalities[m];
        json_object_begin(j, r->opt.modalities[m]);
        json_uint(j, "series", ms->series);
        if (ms->series) {
            json_uint(j, "min", ms->min);
            json_double(j, "median", ms->median);
            json_uint(j, "max", ms->max);
        } else {
            json_null(j, "min");
            json_null(j, "median");
            json_null(j, "max");
        }
        json_histogram(j, "histogram", ms->edges, ms->counts, ms->bins);
        json_object_end(j);
    }
    json_object_end(j);
}

/* Shapes, planes, pixel representation and transfer syntaxes: series per value. */
static void json_images(json_writer_t *j, const scan_report_t *r)
{
    json_object_begin(j, "shapes");
    for (size_t i = 0; i < r->shapes.n; i++) json_uint(j, r->shapes.items[i].key, r->shapes.items[i].count);
    json_object_end(j);
    json_object_begin(j, "planes");
    for (int p = PLANE_AXIAL; p <= PLANE_OBLIQUE; p++) json_uint(j, plane_name((image_plane_t)p), r->planes[p]);
    json_uint(j, "unknown", r->planes[PLANE_UNKNOWN]);
    json_object_end(j);
    json_object_begin(j, "pixel_representation");
    json_uint(j, "unsigned", r->unsigned_series);
    json_uint(j, "signed", r->signed_series);
    json_object_end(j);
    json_object_begin(j, "transfer_syntaxes");
    for (int x = 0; x < r->n_syntaxes; x++) {
        json_object_begin(j, r->syntax_uid[x]);
        json_string(j, "name", r->syntax_name[x]);
        json_uint(j, "series", r->syntax_series[x]);
        json_bool(j, "decodable", !r->syntax_refused[x]);
        json_object_end(j);
    }
    json_object_end(j);
}

/* Every problem, in series order. */
static void json_problems(json_writer_t *j, const scan_report_t *r)
{
    json_array_begin(j, "problems");
    for (size_t i = 0; i < r->n_problems; i++) {
        const scan_problem_t *p = &r->problems[i];
        json_object_begin(j, NULL);
        json_string(j, "kind", p->kind);
        json_string(j, "series", p->series);
        json_string(j, "file", p->file);
        json_string(j, "detail", p->detail);
        json_object_end(j);
    }
    json_array_end(j);
}

/* The whole scan: series, files, bytes, speed, and what `run` would write. */
static void json_totals(json_writer_t *j, const scan_report_t *r)
{
    json_object_begin(j, "totals");
    json_uint(j, "series", r->found);
    json_uint(j, "files", r->n_files);
    json_uint(j, "non_dcm_files", r->non_dcm);
    json_uint(j, "bytes", r->bytes);
    json_double(j, "elapsed_s", r->elapsed);
    json_double(j, "files_per_s", files_per_second(r));
    json_int(j, "threads", r->threads);
    json_object_begin(j, "run_output_bytes");
    json_uint(j, "float32", r->output_f32);
    json_uint(j, "float16", r->output_f16);
    json_object_end(j);
    json_object_end(j);
}

/* --pixels: the stored values per modality, and blank and dark slices. */
static void json_intensity(json_writer_t *j, const scan_report_t *r)
{
    json_object_begin(j, "intensity");
    for (size_t m = 0; m < r->opt.n_modalities; m++) {
        const modality_summary_t *ms = &r->modalities[m];
        json_object_begin(j, r->opt.modalities[m]);
        json_array_begin(j, "edges");
        for (int b = 0; b <= INTENSITY_BINS; b++) json_uint(j, NULL, (uint64_t)b * INTENSITY_BIN);
        json_array_end(j);
        json_array_begin(j, "counts");
        for (int b = 0; b < INTENSITY_BINS; b++) json_uint(j, NULL, ms->hist[b]);
        json_array_end(j);
        json_uint(j, "zeros", ms->zeros);
        json_uint(j, "negative", ms->negative);
        json_uint(j, "above", ms->above);
        json_uint(j, "slices", ms->slices);
        json_uint(j, "blank_slices", ms->blank);
        json_uint(j, "dark_slices", ms->dark);
        json_object_end(j);
    }
    json_object_end(j);
}

mp_status scan_write_json(const scan_report_t *r, const char *path, mp_error *err)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, NULL);
    json_string(&j, "tool", "mriprep");
    json_string(&j, "version", mriprep_version());
    json_string(&j, "command", "scan");
    json_string(&j, "data", r->data_dir);
    json_people(&j, r);
    json_modalities(&j, r);
    json_images(&j, r);
    json_problems(&j, r);
    json_totals(&j, r);
    if (r->opt.pixels) json_intensity(&j, r);
    json_object_end(&j);
    mp_status st = j.failed ? mp_fail(err, MP_ERR_NOMEM, "out of memory writing %s", path)
                            : text_write_atomic(path, j.text, j.len, err);
    json_free(&j);
    return st;
}

mp_status scan_write_csv(const scan_report_t *r, const char *path, mp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return mp_fail(err, MP_ERR_NOMEM, "out of memory writing %s", path);
    fputs("split,id,modality,label,status,files,non_dcm_files,readable,unreadable,rows,cols,mixed_shapes,plane,"
          "mixed_planes,pixel_representation,transfer_syntax,instance_min,instance_max,duplicate_instances,"
          "missing_instances,bytes,blank,dark,kept\n",
          f);
    for (size_t s = 0; s < r->ds.n_series; s++) {
        const series_t *se = &r->ds.series[s];
        const scan_series_t *ss = &r->series[s];
        static const char *const status[] = {"present", "missing", "empty", "excluded", "unreadable"};
        csv_write_field(f, se->split);
        fputc(',', f);
        csv_write_field(f, se->patient);
        fputc(',', f);
        csv_write_field(f, se->modality);
        fputc(',', f);
        csv_write_field(f, se->label);
        fprintf(f, ",%s,%zu,%zu,", status[se->presence], se->n_files, se->n_other);
        if (se->presence == SERIES_PRESENT) {
            fprintf(f, "%u,%zu,", ss->readable, ss->n - ss->readable);
            if (ss->readable)
                fprintf(f, "%u,%u,%d,%s,%d,%s,%s,", ss->rows, ss->cols, ss->mixed_shapes,
                        plane_name((image_plane_t)ss->plane), ss->mixed_planes, ss->is_signed ? "signed" : "unsigned",
                        r->syntax_uid[ss->syntax]);
            else
                fputs(",,,,,,,", f);
            if (ss->instance_min || ss->instance_max)
                fprintf(f, "%d,%d,", (int)ss->instance_min, (int)ss->instance_max);
            else
                fputs(",,", f);
            fprintf(f, "%u,%u,%llu,", ss->duplicate_instances, ss->missing_instances, (unsigned long long)ss->bytes);
            if (r->opt.pixels) fprintf(f, "%u,%u,%u\n", ss->blank, ss->dark, ss->kept);
            else fputs(",,\n", f);
        } else {
            fputs(",,,,,,,,,,,,,,,,,\n", f);
        }
    }
    if (fclose(f) != 0 || !text) {
        free(text);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory writing %s", path);
    }
    mp_status st = text_write_atomic(path, text, len, err);
    free(text);
    return st;
}

/* ---- the one-screen summary ------------------------------------------------------- */

typedef struct text_buffer {
    FILE *f;
    char *text;
    size_t len;
} text_buffer_t;

static void format_count(char *buf, size_t cap, uint64_t n)
{
    /* 348120 -> "348,120" */
    char digits[32];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < nd && o + 2 < cap; i++) {
        if (i && (nd - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* A row of SLICE_HIST_BINS characters, taller for fuller bins. */
static void sparkline(const modality_summary_t *ms, char *out)
{
    static const char levels[] = " .:-=+*#";
    uint64_t top = 1;
    for (size_t b = 0; b < ms->bins; b++) top = ms->counts[b] > top ? ms->counts[b] : top;
    size_t b = 0;
    for (; b < ms->bins; b++) {
        size_t level = ms->counts[b] ? 1 + (size_t)((double)ms->counts[b] / (double)top * 6.999) : 0;
        out[b] = levels[level > 7 ? 7 : level];
    }
    out[b] = '\0';
}

char *scan_summary_text(const scan_report_t *r, size_t max_problems)
{
    text_buffer_t t = {NULL, NULL, 0};
    t.f = open_memstream(&t.text, &t.len);
    if (!t.f) return NULL;
    FILE *f = t.f;
    char a[32], b[32];
    uint64_t patients = 0;
    for (size_t i = 0; i < r->patients.n; i++) patients += r->patients.items[i].count;
    format_count(a, sizeof a, r->n_files);
    fprintf(f, "%s: %llu patients (", r->data_dir, (unsigned long long)patients);
    for (size_t i = 0; i < r->patients.n; i++)
        fprintf(f, "%s%s %llu", i ? ", " : "", r->patients.items[i].key[0] ? r->patients.items[i].key : "flat",
                (unsigned long long)r->patients.items[i].count);
    fprintf(f, "), %llu series, %s .dcm files, %.2f GB\n", (unsigned long long)r->found, a, (double)r->bytes / 1e9);
    format_count(b, sizeof b, (uint64_t)files_per_second(r));
    fprintf(f, "read %s in %.2f s (%s files/s, %d threads)\n", r->opt.pixels ? "headers and pixels" : "headers",
            r->elapsed, b, r->threads);

    if (r->labels_used[0]) {
        uint64_t labelled = 0;
        for (size_t i = 0; i < r->label_counts.n; i++) labelled += r->label_counts.items[i].count;
        fprintf(f, "\nlabels (%s):", r->labels_used);
        for (size_t i = 0; i < r->label_counts.n; i++)
            fprintf(f, "  %s: %llu (%.1f%%)", r->label_counts.items[i].key,
                    (unsigned long long)r->label_counts.items[i].count,
                    100.0 * (double)r->label_counts.items[i].count / (double)(labelled ? labelled : 1));
        fprintf(f, "\n  %zu train patients without a label, %zu labels without images\n", r->ds.n_images_without_label,
                r->ds.n_labels_without_images);
    } else {
        fprintf(f, "\nlabels: none (no train_labels.csv in %s; --labels F)\n", r->data_dir);
    }

    fprintf(f, "\nslices per series   series   min  median   max  histogram (min..max)\n");
    for (size_t m = 0; m < r->opt.n_modalities; m++) {
        const modality_summary_t *ms = &r->modalities[m];
        if (!ms->series) {
            fprintf(f, "  %-16s %7s\n", r->opt.modalities[m], "0");
            continue;
        }
        char line[SLICE_HIST_BINS + 1];
        sparkline(ms, line);
        fprintf(f, "  %-16s %7zu %5u %7.1f %5u  [%s]\n", r->opt.modalities[m], ms->series, ms->min, ms->median, ms->max,
                line);
    }
    if (r->opt.pixels) {
        fprintf(f, "\nslices (pixels)     slices   blank          dark\n");
        for (size_t m = 0; m < r->opt.n_modalities; m++) {
            const modality_summary_t *ms = &r->modalities[m];
            double n = (double)(ms->slices ? ms->slices : 1);
            fprintf(f, "  %-16s %7llu %7llu %5.1f%% %7llu %5.1f%%\n", r->opt.modalities[m],
                    (unsigned long long)ms->slices, (unsigned long long)ms->blank, 100.0 * (double)ms->blank / n,
                    (unsigned long long)ms->dark, 100.0 * (double)ms->dark / n);
        }
    }

    fprintf(f, "\nshapes (rows x cols, series):");
    for (size_t i = 0; i < r->shapes.n; i++)
        fprintf(f, " %s %llu%s", r->shapes.items[i].key, (unsigned long long)r->shapes.items[i].count,
                i + 1 < r->shapes.n ? "," : "");
    fprintf(f, "\nplanes:");
    for (int p = PLANE_AXIAL; p <= PLANE_OBLIQUE; p++)
        fprintf(f, " %s %llu,", plane_name((image_plane_t)p), (unsigned long long)r->planes[p]);
    fprintf(f, " unknown %llu\n", (unsigned long long)r->planes[PLANE_UNKNOWN]);
    fprintf(f, "pixel representation: unsigned %llu, signed %llu\n", (unsigned long long)r->unsigned_series,
            (unsigned long long)r->signed_series);
    fprintf(f, "transfer syntaxes:");
    for (int x = 0; x < r->n_syntaxes; x++)
        fprintf(f, " %s (%s) %llu%s%s", r->syntax_name[x], r->syntax_uid[x], (unsigned long long)r->syntax_series[x],
                r->syntax_refused[x] ? " [not decodable]" : "", x + 1 < r->n_syntaxes ? "," : "");
    fputc('\n', f);

    fprintf(f, "\nproblems: %zu", r->n_problems);
    if (r->n_problems) {
        static const char *const kinds[] = {"missing_modality", "empty_series", "blank_series", "unreadable_file",
                                            "not_dicom", "non_dcm_file", "mixed_shapes", "mixed_planes",
                                            "duplicate_instance", "missing_instance", "multiple_volumes",
                                            "mosaic", "multi_frame", "name_order", "label_without_images",
                                            "images_without_label"};
        const char *sep = " (";
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
            size_t n = 0;
            for (size_t i = 0; i < r->n_problems; i++) n += !strcmp(r->problems[i].kind, kinds[k]);
            if (n) fprintf(f, "%s%s %zu", sep, kinds[k], n), sep = ", ";
        }
        fputc(')', f);
    }
    fputc('\n', f);
    for (size_t i = 0; i < r->n_problems && i < max_problems; i++) {
        const scan_problem_t *p = &r->problems[i];
        fprintf(f, "  %-20s %-22s %s%s%s\n", p->kind, p->series, p->file, p->file[0] ? ": " : "", p->detail);
    }
    if (r->n_problems > max_problems)
        fprintf(f, "  ... and %zu more (all of them in --json / --csv)\n", r->n_problems - max_problems);

    const pipeline_options_t *p = &r->opt.pipeline;
    fprintf(f, "\nmriprep run would write %.1f GB as float32, %.1f GB as float16 (--size %dx%d --slices %d%s)",
            (double)r->output_f32 / 1e9, (double)r->output_f16 / 1e9, p->out_w, p->out_h, p->slices,
            r->opt.pixels ? "" : "; at most: blank and dark slices not counted without --pixels");
    if (r->output_f32 > 20000000000ull)
        fprintf(f, "\n  more than the ~20 GB of a Kaggle working disk%s",
                r->output_f16 <= 20000000000ull ? ": --dtype float16 fits" : "");
    fputc('\n', f);
    if (fclose(f) != 0) {
        free(t.text);
        return NULL;
    }
    return t.text;
}
