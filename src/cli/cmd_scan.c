/* cmd_scan.c - `mriprep scan` and `mriprep info`: the notebook's exploration from the
 * command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "console.h"
#include "mriprep/dicom.h"
#include "mriprep/geometry.h"
#include "mriprep/json.h"
#include "mriprep/scan.h"

#define MAX_MODALITIES 64

static const char SCAN_USAGE[] =
    "usage: mriprep scan DATA [options]   explore a dataset: headers only unless --pixels\n"
    "  --json F            everything, machine-readable (stable keys)\n"
    "  --csv F             one row per series\n"
    "  --pixels            also decode: intensity histograms, blank and dark slices\n"
    "  --labels F          labels CSV (default: DATA/train_labels.csv when present)\n"
    "  --modalities LIST   modality folders (FLAIR,T1w,T1wCE,T2w)\n"
    "  --threads N         0 = all cores (0)\n"
    "  --size N|WxH --slices K --dtype T   the run whose output size is estimated (256, 128)\n"
    "  --dark T --margin M the dark-slice rule for --pixels (0.01, 0)\n"
    "  --problems N        problems listed on screen (20; all of them in --json/--csv)\n"
    "  -q                  no summary on screen\n";

static const char INFO_USAGE[] = "usage: mriprep info FILE.dcm [--json]   what one DICOM file holds\n";

static int scan_usage_error(const char *what, const char *value)
{
    fprintf(stderr, "mriprep scan: error: %s%s%s\n(see mriprep scan --help)\n", what, value ? ": " : "",
            value ? value : "");
    return 1;
}

static int parse_whole(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cmd_scan(int argc, char **argv)
{
    scan_options_t opt;
    memset(&opt, 0, sizeof opt);
    pipeline_options_default(&opt.pipeline);
    static char modality_text[1024] = "FLAIR,T1w,T1wCE,T2w";
    const char *modalities[MAX_MODALITIES];
    const char *data = NULL, *json_path = NULL, *csv_path = NULL;
    int quiet = 0, max_problems = 20;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (data) return scan_usage_error("unexpected argument", a);
            data = a;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(SCAN_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--pixels")) {
            opt.pixels = 1;
            continue;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        char name[32];
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name) return scan_usage_error("unknown option", a);
        memcpy(name, a, len);
        name[len] = '\0';
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return scan_usage_error("option needs a value", name);
        if (!strcmp(name, "--json")) json_path = v;
        else if (!strcmp(name, "--csv")) csv_path = v;
        else if (!strcmp(name, "--labels")) opt.labels_path = v;
        else if (!strcmp(name, "--modalities")) {
            if (strlen(v) >= sizeof modality_text) return scan_usage_error("--modalities: too long", NULL);
            strcpy(modality_text, v);
        } else if (!strcmp(name, "--threads")) {
            if (parse_whole(v, 0, 4096, &opt.threads)) return scan_usage_error("--threads: expected 0..4096", v);
        } else if (!strcmp(name, "--problems")) {
            if (parse_whole(v, 0, 1000000, &max_problems)) return scan_usage_error("--problems: expected a count", v);
        } else if (!strcmp(name, "--slices")) {
            if (parse_whole(v, 1, 65535, &opt.pipeline.slices)) return scan_usage_error("--slices: expected 1..65535", v);
        } else if (!strcmp(name, "--margin")) {
            if (parse_whole(v, 0, 65536, &opt.pipeline.margin)) return scan_usage_error("--margin: expected >= 0", v);
        } else if (!strcmp(name, "--size")) {
            int w, h;
            const char *x = strchr(v, 'x');
            char wtext[16] = "";
            if (x && (size_t)(x - v) < sizeof wtext) memcpy(wtext, v, (size_t)(x - v));
            if (x ? parse_whole(wtext, 1, 8192, &w) || parse_whole(x + 1, 1, 8192, &h)
                  : (parse_whole(v, 1, 8192, &w) || ((h = w), 0)))
                return scan_usage_error("--size: expected N or WxH", v);
            opt.pipeline.out_w = w;
            opt.pipeline.out_h = h;
        } else if (!strcmp(name, "--dtype")) {
            if (!strcmp(v, "float32")) opt.pipeline.dtype = DTYPE_FLOAT32;
            else if (!strcmp(v, "float16")) opt.pipeline.dtype = DTYPE_FLOAT16;
            else return scan_usage_error("--dtype: expected float32 or float16", v);
        } else if (!strcmp(name, "--dark")) {
            char *end;
            opt.pipeline.dark = strtod(v, &end);
            if (end == v || *end || !(opt.pipeline.dark >= 0 && opt.pipeline.dark <= 1))
                return scan_usage_error("--dark: expected a number in [0, 1]", v);
        } else {
            return scan_usage_error("unknown option", name);
        }
    }
    if (!data) return scan_usage_error("scan needs DATA", NULL);
    int n = 0;
    for (char *tok = strtok(modality_text, ","); tok && n < MAX_MODALITIES; tok = strtok(NULL, ","))
        if (*tok && !strchr(tok, '/') && strcmp(tok, ".") && strcmp(tok, "..")) modalities[n++] = tok;
        else return scan_usage_error("--modalities: not a plain folder name", tok);
    if (n == 0) return scan_usage_error("--modalities: give at least one", NULL);
    opt.data_dir = data;
    opt.modalities = modalities;
    opt.n_modalities = (size_t)n;

    console_t console;
    console_init(&console, quiet ? MP_LOG_ERROR : MP_LOG_INFO, PROGRESS_NONE);
    opt.log = console_log;
    opt.ctx = &console;
    mp_error err;
    mp_error_clear(&err);
    if (dicom_global_init(&err) != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        return 1;
    }
    scan_report_t *report = NULL;
    mp_status st = scan_dataset(&opt, &report, &err);
    if (st != MP_OK) {
        dicom_global_cleanup();
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        return st == MP_ERR_IO ? 2 : 1;
    }
    int rc = 0;
    if (!quiet) {
        char *text = scan_summary_text(report, (size_t)max_problems);
        if (text) fputs(text, stdout);
        free(text);
    }
    if (json_path && scan_write_json(report, json_path, &err) != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        rc = 4;
    }
    if (csv_path && scan_write_csv(report, csv_path, &err) != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        rc = 4;
    }
    if (rc == 0 && scan_series_found(report) == 0) {
        fprintf(stderr, "mriprep: error: %s: no series found\n", data);
        rc = 2;
    }
    scan_report_free(report);
    dicom_global_cleanup();
    return rc;
}

/* ---- info ------------------------------------------------------------------------ */

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(INFO_USAGE, stdout);
            return 0;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "mriprep info: error: unexpected argument '%s'\n%s", argv[i], INFO_USAGE);
            return 1;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fputs(INFO_USAGE, stderr);
        return 1;
    }
    mp_error err;
    mp_error_clear(&err);
    if (dicom_global_init(&err) != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        return 1;
    }
    dicom_header_t h;
    uint16_t *px = NULL;
    mp_status st = dicom_decode_slice_alloc(path, &h, &px, &err);
    int32_t mn = 0, mx = 0;
    double mean = 0;
    size_t n = (size_t)h.rows * h.cols, zeros = 0;
    if (st == MP_OK && n) {
        const int is_signed = h.pixel_representation == 1;
        int64_t sum = 0;
        mn = mx = is_signed ? (int16_t)px[0] : px[0];
        for (size_t i = 0; i < n; i++) {
            int32_t v = is_signed ? (int32_t)(int16_t)px[i] : (int32_t)px[i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            sum += v;
            zeros += v == 0;
        }
        mean = (double)sum / (double)n;
    }
    free(px);
    const int readable = h.rows != 0; /* the header was read even when the pixels were not */
    const char *plane = h.has_orientation ? plane_name(plane_from_orientation(h.orientation)) : "unknown";
    if (as_json) {
        json_writer_t j;
        json_init(&j);
        json_object_begin(&j, NULL);
        json_string(&j, "file", path);
        json_uint(&j, "file_bytes", h.file_bytes);
        json_string(&j, "status", st == MP_OK ? "ok" : mp_status_name(st));
        json_string(&j, "error", st == MP_OK ? NULL : err.msg);
        if (readable) {
            json_uint(&j, "rows", h.rows);
            json_uint(&j, "columns", h.cols);
            json_uint(&j, "frames", h.frames);
            json_uint(&j, "bits_allocated", h.bits_allocated);
            json_uint(&j, "bits_stored", h.bits_stored);
            json_uint(&j, "high_bit", h.high_bit);
            json_uint(&j, "pixel_representation", h.pixel_representation);
            json_string(&j, "dtype", h.bits_allocated == 8 ? (h.pixel_representation ? "int8" : "uint8")
                                                           : (h.pixel_representation ? "int16" : "uint16"));
            json_string(&j, "photometric_interpretation", h.photometric);
            json_double(&j, "rescale_slope", h.rescale_slope);
            json_double(&j, "rescale_intercept", h.rescale_intercept);
            json_string(&j, "transfer_syntax", h.transfer_syntax);
            json_string(&j, "transfer_syntax_name", h.transfer_syntax_name);
            if (h.has_spacing) {
                json_array_begin(&j, "pixel_spacing");
                json_double(&j, NULL, h.spacing[0]);
                json_double(&j, NULL, h.spacing[1]);
                json_array_end(&j);
            }
            if (h.has_position) {
                json_array_begin(&j, "image_position_patient");
                for (int i = 0; i < 3; i++) json_double(&j, NULL, h.position[i]);
                json_array_end(&j);
            }
            if (h.has_orientation) {
                json_array_begin(&j, "image_orientation_patient");
                for (int i = 0; i < 6; i++) json_double(&j, NULL, h.orientation[i]);
                json_array_end(&j);
            }
            json_string(&j, "plane", plane);
            if (h.has_instance) json_int(&j, "instance_number", h.instance_number);
        }
        if (st == MP_OK) {
            json_int(&j, "min", mn);
            json_int(&j, "max", mx);
            json_double(&j, "mean", mean);
            json_double(&j, "zero_fraction", n ? (double)zeros / (double)n : 0.0);
        }
        json_object_end(&j);
        if (!j.failed) fputs(j.text, stdout);
        json_free(&j);
    } else {
        printf("file: %s (%llu bytes)\n", path, (unsigned long long)h.file_bytes);
        if (readable) {
            printf("image: %u x %u (rows x columns), %u frame%s, %s %u-bit (stored %u, high bit %u), %s\n", h.rows,
                   h.cols, h.frames, h.frames == 1 ? "" : "s", h.pixel_representation ? "signed" : "unsigned",
                   h.bits_allocated, h.bits_stored, h.high_bit, h.photometric[0] ? h.photometric : "?");
            printf("transfer syntax: %s (%s)\n", h.transfer_syntax_name ? h.transfer_syntax_name : "?",
                   h.transfer_syntax);
            printf("rescale: slope %g, intercept %g\n", h.rescale_slope, h.rescale_intercept);
            if (h.has_spacing) printf("pixel spacing: %g x %g mm\n", h.spacing[0], h.spacing[1]);
            if (h.has_position) printf("position: %g, %g, %g mm\n", h.position[0], h.position[1], h.position[2]);
            if (h.has_orientation)
                printf("orientation: %g, %g, %g / %g, %g, %g (%s)\n", h.orientation[0], h.orientation[1],
                       h.orientation[2], h.orientation[3], h.orientation[4], h.orientation[5], plane);
            if (h.has_instance) printf("instance number: %d\n", (int)h.instance_number);
        }
        if (st == MP_OK)
            printf("pixels: min %d, max %d, mean %.2f, %.1f%% zeros\n", (int)mn, (int)mx, mean,
                   n ? 100.0 * (double)zeros / (double)n : 0.0);
    }
    dicom_global_cleanup();
    if (st != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        return 3;
    }
    return 0;
}
