/* main.c - the mriprep command line. The only place that prints results, reads argv
 * and chooses the exit code (table in README.md):
 *   0 every series ok, empty, missing or excluded   1 usage or fatal error
 *   2 no series found in DATA                       3 some series failed, the rest written
 *   4 cannot write output                           130 interrupted
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "console.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/features.h"
#include "mriprep/run.h"
#include "mriprep/shard.h"

enum {
    EXIT_ALL_OK = 0,
    EXIT_USAGE = 1,
    EXIT_NO_SERIES = 2,
    EXIT_SOME_FAILED = 3,
    EXIT_CANNOT_WRITE = 4,
    EXIT_MERGE_INCOMPLETE = 6,
    EXIT_INTERRUPTED = 130
};

#define MAX_LIST 64

static const char USAGE[] =
    "usage: mriprep run DATA OUT [options]   preprocess every series of DATA into OUT\n"
    "       mriprep scan DATA [--json F] [--csv F] [--pixels]   explore: headers only unless --pixels\n"
    "       mriprep merge OUT                join the records of the shards of a run into OUT/manifest.csv\n"
    "       mriprep info FILE.dcm [--json]   what one DICOM file holds\n"
    "       mriprep devices                  CUDA devices (name, memory, capability)\n"
    "       mriprep show PATH --png F | --gif F  middle slices side by side, or a series as an animation\n"
    "       mriprep --version                version and built-in features\n"
    "       mriprep --help\n"
    "\n"
    "run options:\n"
    "  --labels F          labels CSV (default: DATA/train_labels.csv when present)\n"
    "  --modalities LIST   modality folders, comma-separated (FLAIR,T1w,T1wCE,T2w)\n"
    "  --exclude IDS       patient IDs to skip, comma-separated (109 matches 00109)\n"
    "  --size N|WxH        output slice size in pixels (256)\n"
    "  --slices K          keep at most the middle K slices (128)\n"
    "  --dark T            drop slices whose cropped mean is below T (0.01)\n"
    "  --margin M          pixels added around each crop box (0)\n"
    "  --threads N         decode/resize threads, 0 = all cores (0)\n"
    "  --device auto|cpu|cuda[:N]  where the compute stage runs; auto: CUDA when usable (auto)\n"
    "  --dtype float32|float16   output type (float32)\n"
    "  --layout hwd|dhw    volume axes: (H,W,D) like np.stack(axis=-1), or (D,H,W) (hwd; dhw for NIfTI)\n"
    "  --format npy|nii|nii.gz   output files: NumPy arrays, or NIfTI-1 with the affine (npy)\n"
    "  --augment rot90     also write one copy turned by 90, 180 or 270 degrees (<MOD>.rot90.npy, ...)\n"
    "  --seed S            which turn each volume's copy gets (0)\n"
    "volumetric options (README: Presets):\n"
    "  --preset notebook|volumetric   notebook: the defaults below; volumetric: --order position\n"
    "                      --reorient --crop volume --norm nonzero --depth pad --format nii.gz\n"
    "  --order name|position   slice order: file names, or ImagePositionPatient along the normal\n"
    "                      (falls back to InstanceNumber, then names; the manifest says which) (name)\n"
    "  --reorient          permute and flip axes (no resampling) to x->L, y->P, slices->S\n"
    "  --crop slice|volume one crop box per slice, or their union for the whole volume (slice)\n"
    "  --intensity minmax|raw   per-slice min-max to [0,1], or the stored values (minmax)\n"
    "  --rescale           with raw intensity: apply RescaleSlope/RescaleIntercept\n"
    "  --norm volume|nonzero   z-score over every voxel, or over voxels != 0 (those stay 0) (volume)\n"
    "  --depth keep|pad    min(kept, K) slices, or always K with zero slices split before/after (keep)\n"
    "  --center middle|largest  the middle K kept slices, or K around the largest crop box (middle)\n"
    "  --progress auto|bar|lines|none   progress display on stderr (auto)\n"
    "  --dry-run           walk DATA and report what would be done; write nothing\n"
    "  --resume            keep what a previous run into OUT finished, redo the rest (default)\n"
    "  --overwrite         replace a previous run into OUT, also one made with other options\n"
    "  --force             go on when OUT looks too small for the output (warn only)\n"
    "  --shard K/N|none    only shard K (0..N-1) of N, balanced by file count; records in\n"
    "                      OUT/manifest.K-of-N.csv, OUT/run.K-of-N.json; join with merge\n"
    "                      (default: from SLURM_ARRAY_TASK_ID/_MIN/_COUNT in a job array)\n"
    "  -q, --quiet         errors only      -v, --verbose   one line per series\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mriprep: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see mriprep --help)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Splits a comma-separated list in place into items[]; empty items are skipped.
 * Returns the count, or -1 when there are more than `cap`. */
static int split_list(char *text, const char **items, int cap)
{
    int n = 0;
    for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        if (n == cap) return -1;
        items[n++] = tok;
    }
    return n;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_size(const char *s, int *w, int *h)
{
    const char *x = strchr(s, 'x');
    if (!x) x = strchr(s, 'X');
    if (!x) {
        if (parse_int(s, 1, 8192, w) != 0) return -1;
        *h = *w;
        return 0;
    }
    char wbuf[16];
    size_t n = (size_t)(x - s);
    if (n == 0 || n >= sizeof wbuf) return -1;
    memcpy(wbuf, s, n);
    wbuf[n] = '\0';
    return parse_int(wbuf, 1, 8192, w) == 0 && parse_int(x + 1, 1, 8192, h) == 0 ? 0 : -1;
}

/* auto | cpu | cuda | cuda:N */
/* `mriprep devices`: what nvidia-smi told the notebook user. Exit 0 with or without one. */
static int cmd_devices(void)
{
    cuda_device_info_t devices[CUDA_MAX_DEVICES];
    int count = 0, driver = 0, runtime = 0;
    char why[300];
    cuda_query_devices(devices, CUDA_MAX_DEVICES, CUDA_PROBE_ALL, &count, &driver, &runtime, why, sizeof why);
    printf("CUDA backend: %s\n", cuda_backend_built() ? cuda_build_description() : "not built");
    printf("driver: %s", driver ? "" : "none\n");
    if (driver) printf("CUDA %d.%d\n", driver / 1000, (driver % 1000) / 10);
    if (runtime) printf("runtime: CUDA %d.%d\n", runtime / 1000, (runtime % 1000) / 10);
    if (count == 0) {
        printf("no CUDA device: %s\n", why);
        return EXIT_ALL_OK;
    }
    for (int i = 0; i < count; i++) {
        const cuda_device_info_t *d = &devices[i];
        printf("cuda:%d  %s  %.1f GiB (%.1f GiB free)  compute capability %d.%d  %d SMs%s\n", d->index, d->name,
               (double)d->total_bytes / (1 << 30), (double)d->free_bytes / (1 << 30), d->major, d->minor,
               d->multiprocessors, d->supported ? "" : "  (no code for it in this build)");
    }
    return EXIT_ALL_OK;
}

/* A modality names a folder inside the patient folder: one plain name, nothing that
 * could lead outside it (the name also becomes part of the output path). */
static int valid_folder_name(const char *s)
{
    return s[0] && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') && !strchr(s, '\\');
}

/* SIGINT / SIGTERM: the first asks the run to stop taking new series (the ones in
 * flight finish, the manifest is written, exit 130); a second exits at once. Either way
 * nothing partial exists under a final name: volumes are renamed into place only when
 * complete, and the hidden temporary files a second signal leaves are removed by the
 * next run. Only async-signal-safe calls here. */
static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    if (g_interrupted) {
        static const char msg[] = "\nmriprep: stopped\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)ignored;
        _exit(EXIT_INTERRUPTED);
    }
    g_interrupted = 1;
    static const char msg[] = "\nmriprep: interrupted: finishing the series in flight (again to stop at once)\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int print_version(void)
{
    printf("mriprep %s\n", mriprep_version());
    mp_feature_t features[8];
    size_t n = mriprep_features(features, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        printf("%s: %s (%s)\n", features[i].name, features[i].present ? "yes" : "no", features[i].detail);
    return EXIT_ALL_OK;
}

static int cmd_run(int argc, char **argv, const char *command_line)
{
    run_options_t opt;
    memset(&opt, 0, sizeof opt);
    pipeline_options_default(&opt.pipeline);
    static char modality_text[1024] = "FLAIR,T1w,T1wCE,T2w", exclude_text[8192] = "";
    const char *modalities[MAX_LIST], *exclude[MAX_LIST * 64];
    const char *positional[2];
    int n_positional = 0, quiet = 0, verbose = 0, shard_given = 0, layout_given = 0;
    progress_mode_t progress = PROGRESS_AUTO;

    /* --preset first, wherever it stands: the options given beside it override it. */
    opt.preset = "notebook";
    for (int i = 0; i < argc; i++) {
        const char *value = !strncmp(argv[i], "--preset=", 9) ? argv[i] + 9
                            : !strcmp(argv[i], "--preset") && i + 1 < argc ? argv[i + 1]
                                                                           : NULL;
        if (!value) continue;
        if (!strcmp(value, "notebook")) {
            opt.preset = "notebook";
        } else if (!strcmp(value, "volumetric")) {
            opt.preset = "volumetric";
            opt.pipeline.order = SLICE_ORDER_POSITION;
            opt.pipeline.reorient = 1;
            opt.pipeline.crop = CROP_VOLUME;
            opt.pipeline.norm = NORM_NONZERO;
            opt.pipeline.depth = DEPTH_PAD;
            opt.format = FORMAT_NII_GZ;
        } else {
            return usage_error("--preset '%s': expected notebook or volumetric", value);
        }
    }

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !strcmp(arg, "-")) {
            if (n_positional == 2) return usage_error("unexpected argument '%s'", arg);
            positional[n_positional++] = arg;
            continue;
        }
        /* --opt=value or --opt value */
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) return usage_error("unknown option '%s'", arg);
        memcpy(name, arg, len);
        name[len] = '\0';
        if (eq) value = eq + 1;

        if (!strcmp(name, "-q") || !strcmp(name, "--quiet")) { quiet = 1; continue; }
        if (!strcmp(name, "-v") || !strcmp(name, "--verbose")) { verbose = 1; continue; }
        if (!strcmp(name, "--dry-run")) { opt.dry_run = 1; continue; }
        if (!strcmp(name, "--resume")) { opt.overwrite = 0; continue; } /* the default */
        if (!strcmp(name, "--overwrite")) { opt.overwrite = 1; continue; }
        if (!strcmp(name, "--force")) { opt.force = 1; continue; }
        if (!strcmp(name, "--reorient")) { opt.pipeline.reorient = 1; continue; }
        if (!strcmp(name, "--rescale")) { opt.pipeline.rescale = 1; continue; }
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) { fputs(USAGE, stdout); return EXIT_ALL_OK; }

        static const char *const with_value[] = {"--labels", "--modalities", "--exclude", "--size", "--slices",
                                                 "--dark", "--margin", "--threads", "--dtype", "--layout",
                                                 "--progress", "--device", "--shard", "--order", "--crop",
                                                 "--intensity", "--norm", "--depth", "--center", "--format",
                                                 "--augment", "--seed", "--preset"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= !strcmp(name, with_value[k]);
        if (!known) return usage_error("unknown option '%s'", name);
        if (!value) {
            if (i + 1 >= argc) return usage_error("option %s needs a value", name);
            value = argv[++i];
        }

        if (!strcmp(name, "--labels")) {
            opt.labels_path = value;
        } else if (!strcmp(name, "--modalities")) {
            if (strlen(value) >= sizeof modality_text) return usage_error("--modalities: list too long");
            strcpy(modality_text, value);
        } else if (!strcmp(name, "--exclude")) {
            size_t used = strlen(exclude_text);
            if (used + strlen(value) + 2 >= sizeof exclude_text) return usage_error("--exclude: list too long");
            if (used) strcat(exclude_text, ",");
            strcat(exclude_text, value);
        } else if (!strcmp(name, "--size")) {
            if (parse_size(value, &opt.pipeline.out_w, &opt.pipeline.out_h) != 0)
                return usage_error("--size '%s': expected N or WxH, 1..8192", value);
        } else if (!strcmp(name, "--slices")) {
            if (parse_int(value, 1, 65535, &opt.pipeline.slices) != 0)
                return usage_error("--slices '%s': expected a whole number 1..65535", value);
        } else if (!strcmp(name, "--dark")) {
            char *end;
            errno = 0;
            opt.pipeline.dark = strtod(value, &end);
            if (errno || end == value || *end || !(opt.pipeline.dark >= 0 && opt.pipeline.dark <= 1))
                return usage_error("--dark '%s': expected a number in [0, 1]", value);
        } else if (!strcmp(name, "--margin")) {
            if (parse_int(value, 0, 65536, &opt.pipeline.margin) != 0)
                return usage_error("--margin '%s': expected a whole number >= 0", value);
        } else if (!strcmp(name, "--threads")) {
            if (parse_int(value, 0, 4096, &opt.pipeline.threads) != 0)
                return usage_error("--threads '%s': expected 0 (all cores) .. 4096", value);
        } else if (!strcmp(name, "--dtype")) {
            if (!strcmp(value, "float32")) opt.pipeline.dtype = DTYPE_FLOAT32;
            else if (!strcmp(value, "float16")) opt.pipeline.dtype = DTYPE_FLOAT16;
            else return usage_error("--dtype '%s': expected float32 or float16", value);
        } else if (!strcmp(name, "--order") || !strcmp(name, "--crop") || !strcmp(name, "--intensity") ||
                   !strcmp(name, "--norm") || !strcmp(name, "--depth") || !strcmp(name, "--center")) {
            mp_error word_err;
            mp_error_clear(&word_err);
            if (pipeline_option_parse(name + 2, value, &opt.pipeline, &word_err) != MP_OK)
                return usage_error("%s", word_err.msg);
        } else if (!strcmp(name, "--format")) {
            if (!strcmp(value, "npy")) opt.format = FORMAT_NPY;
            else if (!strcmp(value, "nii")) opt.format = FORMAT_NII;
            else if (!strcmp(value, "nii.gz")) opt.format = FORMAT_NII_GZ;
            else return usage_error("--format '%s': expected npy, nii or nii.gz", value);
        } else if (!strcmp(name, "--augment")) {
            if (!strcmp(value, "rot90")) opt.augment_rot90 = 1;
            else if (!strcmp(value, "none")) opt.augment_rot90 = 0;
            else return usage_error("--augment '%s': expected rot90 or none", value);
        } else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(value, &end, 10);
            if (errno || end == value || *end || value[0] == '-')
                return usage_error("--seed '%s': expected a whole number >= 0", value);
            opt.seed = (uint64_t)seed;
        } else if (!strcmp(name, "--preset")) {
            /* applied before the loop */
        } else if (!strcmp(name, "--layout")) {
            layout_given = 1;
            if (!strcmp(value, "hwd")) opt.pipeline.layout = LAYOUT_HWD;
            else if (!strcmp(value, "dhw")) opt.pipeline.layout = LAYOUT_DHW;
            else return usage_error("--layout '%s': expected hwd or dhw", value);
        } else if (!strcmp(name, "--progress")) {
            if (!strcmp(value, "auto")) progress = PROGRESS_AUTO;
            else if (!strcmp(value, "bar")) progress = PROGRESS_BAR;
            else if (!strcmp(value, "lines")) progress = PROGRESS_LINES;
            else if (!strcmp(value, "none")) progress = PROGRESS_NONE;
            else return usage_error("--progress '%s': expected auto, bar, lines or none", value);
        } else if (!strcmp(name, "--shard")) {
            shard_given = 1;
            if (!strcmp(value, "none")) opt.shard_k = opt.shard_n = 0;
            else if (!shard_parse(value, &opt.shard_k, &opt.shard_n))
                return usage_error("--shard '%s': expected K/N with 0 <= K < N <= %d, or none", value, SHARD_MAX);
            else if (opt.shard_n == 1) opt.shard_k = opt.shard_n = 0; /* one shard: the whole run */
        } else if (!strcmp(name, "--device")) {
            mp_error e;
            if (device_request_parse(value, &opt.device, &opt.cuda_index, &e) != MP_OK) return usage_error("%s", e.msg);
        }
    }
    if (n_positional != 2) return usage_error("run needs DATA and OUT");
    /* NIfTI readers expect x fastest, then y, then the slices: (D, H, W) in C order. */
    if (opt.format != FORMAT_NPY && !layout_given) opt.pipeline.layout = LAYOUT_DHW;
    if (opt.format != FORMAT_NPY && opt.pipeline.dtype == DTYPE_FLOAT16)
        return usage_error("--dtype float16 with --format %s: NIfTI-1 has no float16 type; use float32 or npy",
                           output_format_name(opt.format));
    opt.data_dir = positional[0];
    opt.out_dir = positional[1];
    if (!shard_given) {
        char why[512];
        int found = shard_from_environment(&opt.shard_k, &opt.shard_n, why, sizeof why);
        if (found < 0) return usage_error("%s", why);
    }

    int n = split_list(modality_text, modalities, MAX_LIST);
    if (n <= 0) return usage_error("--modalities: give at least one modality (at most %d)", MAX_LIST);
    for (int i = 0; i < n; i++) {
        if (!valid_folder_name(modalities[i]))
            return usage_error("--modalities: '%s' is not a plain folder name", modalities[i]);
        for (int k = 0; k < i; k++)
            if (!strcmp(modalities[i], modalities[k]))
                return usage_error("--modalities: '%s' is listed twice", modalities[i]);
    }
    opt.modalities = modalities;
    opt.n_modalities = (size_t)n;
    n = split_list(exclude_text, exclude, MAX_LIST * 64);
    if (n < 0) return usage_error("--exclude: more than %d IDs", MAX_LIST * 64);
    opt.exclude = exclude;
    opt.n_exclude = (size_t)n;

    console_t console;
    console_init(&console, quiet ? MP_LOG_ERROR : verbose ? MP_LOG_DEBUG : MP_LOG_INFO,
                 quiet ? PROGRESS_NONE : progress);
    opt.log = console_log;
    opt.progress = console_progress;
    opt.ctx = &console;
    opt.command_line = command_line;
    opt.interrupt = &g_interrupted;
    install_signal_handlers();

    mp_error err;
    mp_error_clear(&err);
    if (dicom_global_init(&err) != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        return EXIT_USAGE;
    }
    run_summary_t sum;
    mp_status st = run_dataset(&opt, &sum, &err);
    console_finish(&console);
    dicom_global_cleanup();

    if (st != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        switch (st) {
        case MP_ERR_INTERRUPTED: return EXIT_INTERRUPTED;
        case MP_ERR_USAGE: return EXIT_USAGE;
        case MP_ERR_WRITE: return EXIT_CANNOT_WRITE;
        case MP_ERR_IO: return EXIT_NO_SERIES; /* DATA itself cannot be read */
        default: return EXIT_USAGE;
        }
    }
    if (!quiet && !opt.dry_run && sum.patients > 0) {
        double secs = sum.elapsed > 0 ? sum.elapsed : 1e-9;
        fprintf(stderr,
                "mriprep: %zu series: %zu ok, %zu empty, %zu missing, %zu failed, %zu excluded; %zu files in %.2f s "
                "(%.0f files/s, %.0f MB/s), %.2f GB written to %s (%d threads)\n",
                sum.series, sum.ok, sum.empty, sum.missing, sum.failed, sum.excluded, sum.files_decoded, sum.elapsed,
                (double)sum.files_decoded / secs, (double)sum.bytes_read / 1e6 / secs,
                (double)sum.bytes_written / 1e9, opt.out_dir, sum.threads);
        char manifest[64], run_json[64];
        shard_record_names(opt.shard_k, opt.shard_n, manifest, sizeof manifest, run_json, sizeof run_json);
        if (sum.failed)
            fprintf(stderr, "mriprep: %zu series failed: see the reason column of %s/%s\n", sum.failed, opt.out_dir,
                    manifest);
        if (opt.shard_n)
            fprintf(stderr, "mriprep: shard %d/%d done; when every shard is, join them: mriprep merge %s\n",
                    opt.shard_k, opt.shard_n, opt.out_dir);
    }
    if (sum.no_series) return EXIT_NO_SERIES;
    if (sum.failed) return EXIT_SOME_FAILED;
    return EXIT_ALL_OK;
}

int main(int argc, char **argv)
{
    /* A closed pipe on stderr (`mriprep run ... 2>&1 | head`) must not kill the run
     * half way: messages are lost, the volumes and the manifest are not. */
    signal(SIGPIPE, SIG_IGN);
    /* A write beyond the file-size limit must come back as EFBIG (exit 4, the path
     * named), not kill the process with SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) return print_version();
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return EXIT_ALL_OK;
    }
    if (!strcmp(cmd, "devices")) return cmd_devices();
    if (!strcmp(cmd, "show")) return cmd_show(argc - 2, argv + 2);
    if (!strcmp(cmd, "scan")) return cmd_scan(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "merge")) return cmd_merge(argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) {
        /* The command line as typed, for run.json. */
        size_t len = 0;
        for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
        char *command_line = malloc(len + 1);
        if (!command_line) return EXIT_USAGE;
        command_line[0] = '\0';
        for (int i = 0; i < argc; i++) {
            if (i) strcat(command_line, " ");
            strcat(command_line, argv[i]);
        }
        int rc = cmd_run(argc - 2, argv + 2, command_line);
        free(command_line);
        return rc;
    }
    fprintf(stderr, "mriprep: error: unknown command '%s'\n%s", cmd, USAGE);
    return EXIT_USAGE;
}
