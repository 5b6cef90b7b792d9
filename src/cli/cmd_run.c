/* cmd_run.c - `mriprep run DATA OUT [options]`: the options into run_options_t,
 * run_dataset(), the summary line, the exit code. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "console.h"
#include "exit_codes.h"
#include "mriprep/dicom.h"
#include "mriprep/run.h"
#include "mriprep/shard.h"
#include "options.h"

/* Everything `run`'s command line sets. */
typedef struct run_cli {
    dataset_cli_t data; /* --labels, --modalities, --threads, --size, --slices, --dtype, --dark, --margin */
    run_options_t opt;
    option_list_t exclude;
    progress_mode_t progress;
    int quiet, verbose, layout_given, shard_given;
} run_cli_t;

/* ---- the values that are not plain numbers or pipeline words -------------------------- */

static mp_status parse_progress(void *target, const char *name, const char *value, mp_error *err)
{
    static const char *const words[] = {"auto", "bar", "lines", "none"}; /* progress_mode_t's order */
    for (int m = 0; m < 4; m++)
        if (!strcmp(value, words[m])) return *(progress_mode_t *)target = (progress_mode_t)m, MP_OK;
    return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected auto, bar, lines or none", name, value);
}

static mp_status parse_device(void *target, const char *name, const char *value, mp_error *err)
{
    (void)name;
    run_options_t *opt = target;
    return device_request_parse(value, &opt->device, &opt->cuda_index, err);
}

static mp_status parse_shard(void *target, const char *name, const char *value, mp_error *err)
{
    run_options_t *opt = target;
    if (!strcmp(value, "none")) {
        opt->shard_k = opt->shard_n = 0;
        return MP_OK;
    }
    if (!shard_parse(value, &opt->shard_k, &opt->shard_n))
        return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected K/N with 0 <= K < N <= %d, or none", name, value,
                       SHARD_MAX);
    if (opt->shard_n == 1) opt->shard_k = opt->shard_n = 0; /* one shard: the whole run */
    return MP_OK;
}

static mp_status parse_format(void *target, const char *name, const char *value, mp_error *err)
{
    (void)name;
    return output_format_parse(value, target, err);
}

static mp_status parse_augment(void *target, const char *name, const char *value, mp_error *err)
{
    if (!strcmp(value, "rot90") || !strcmp(value, "none")) return *(int *)target = value[0] == 'r', MP_OK;
    return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected rot90 or none", name, value);
}

static mp_status parse_seed(void *target, const char *name, const char *value, mp_error *err)
{
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-')
        return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected a whole number >= 0", name, value);
    *(uint64_t *)target = (uint64_t)seed;
    return MP_OK;
}

/* --preset: the options it stands for, set before the ones given beside it. */
static mp_status parse_preset(void *target, const char *name, const char *value, mp_error *err)
{
    run_cli_t *c = target;
    if (!strcmp(value, "notebook")) return c->opt.preset = "notebook", MP_OK;
    if (strcmp(value, "volumetric"))
        return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected notebook or volumetric", name, value);
    pipeline_options_t *p = &c->data.pipeline;
    c->opt.preset = "volumetric";
    p->order = SLICE_ORDER_POSITION;
    p->reorient = 1;
    p->crop = CROP_VOLUME;
    p->norm = NORM_NONZERO;
    p->depth = DEPTH_PAD;
    c->opt.format = FORMAT_NII_GZ;
    return MP_OK;
}

/* ---- the table ---------------------------------------------------------------------- */

#define RUN_SPECS (DATASET_CLI_SPECS + 26)

static size_t run_specs(run_cli_t *c, option_spec_t *specs)
{
    pipeline_options_t *p = &c->data.pipeline;
    size_t n = dataset_cli_specs(&c->data, specs);
    const option_spec_t own[] = {
        {.name = "--exclude", .kind = OPT_LIST, .target = &c->exclude, .flag = 1},
        {.name = "--device", .kind = OPT_CUSTOM, .target = &c->opt, .parse = parse_device},
        {.name = "--layout", .kind = OPT_WORD, .target = p, .seen = &c->layout_given},
        {.name = "--format", .kind = OPT_CUSTOM, .target = &c->opt.format, .parse = parse_format},
        {.name = "--augment", .kind = OPT_CUSTOM, .target = &c->opt.augment_rot90, .parse = parse_augment},
        {.name = "--seed", .kind = OPT_CUSTOM, .target = &c->opt.seed, .parse = parse_seed},
        {.name = "--preset", .kind = OPT_CUSTOM, .target = c, .parse = parse_preset},
        {.name = "--order", .kind = OPT_WORD, .target = p},
        {.name = "--reorient", .kind = OPT_FLAG, .target = &p->reorient, .flag = 1},
        {.name = "--crop", .kind = OPT_WORD, .target = p},
        {.name = "--intensity", .kind = OPT_WORD, .target = p},
        {.name = "--rescale", .kind = OPT_FLAG, .target = &p->rescale, .flag = 1},
        {.name = "--norm", .kind = OPT_WORD, .target = p},
        {.name = "--depth", .kind = OPT_WORD, .target = p},
        {.name = "--center", .kind = OPT_WORD, .target = p},
        {.name = "--progress", .kind = OPT_CUSTOM, .target = &c->progress, .parse = parse_progress},
        {.name = "--dry-run", .kind = OPT_FLAG, .target = &c->opt.dry_run, .flag = 1},
        {.name = "--resume", .kind = OPT_FLAG, .target = &c->opt.overwrite, .flag = 0},
        {.name = "--overwrite", .kind = OPT_FLAG, .target = &c->opt.overwrite, .flag = 1},
        {.name = "--force", .kind = OPT_FLAG, .target = &c->opt.force, .flag = 1},
        {.name = "--shard", .kind = OPT_CUSTOM, .target = &c->opt, .parse = parse_shard, .seen = &c->shard_given},
        {.name = "--quiet", .alias = "-q", .kind = OPT_FLAG, .target = &c->quiet, .flag = 1},
        {.name = "--verbose", .alias = "-v", .kind = OPT_FLAG, .target = &c->verbose, .flag = 1},
    };
    memcpy(specs + n, own, sizeof own);
    return n + sizeof own / sizeof *own;
}

/* The command line into c; *help when -h was given. The options --preset stands for are
 * set first, wherever it stands, so the ones given beside it override them: a first
 * pass over a scratch copy finds it (and refuses bad options before anything else). */
static mp_status parse_run(int argc, char **argv, run_cli_t *c, int *help, mp_error *err)
{
    memset(c, 0, sizeof *c);
    dataset_cli_init(&c->data);
    c->opt.preset = "notebook";
    run_cli_t *scratch = malloc(sizeof *scratch);
    if (!scratch) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    *scratch = *c;
    option_spec_t specs[RUN_SPECS];
    const char *positional[2];
    int n_positional;
    size_t n = run_specs(scratch, specs);
    mp_status st = options_parse(argc, argv, specs, n, positional, 2, &n_positional, help, err);
    if (st == MP_OK && !*help) parse_preset(c, "--preset", scratch->opt.preset, err);
    free(scratch);
    if (st == MP_OK && !*help) {
        n = run_specs(c, specs);
        st = options_parse(argc, argv, specs, n, positional, 2, &n_positional, help, err);
    }
    if (st != MP_OK || *help) return st;
    if (n_positional != 2) return mp_fail(err, MP_ERR_USAGE, "run needs DATA and OUT");
    c->opt.data_dir = positional[0];
    c->opt.out_dir = positional[1];
    return MP_OK;
}

/* What parsing leaves to settle: --size, the NIfTI layout, the lists, the shard from
 * Slurm's environment. */
static mp_status settle_run(run_cli_t *c, mp_error *err)
{
    run_options_t *opt = &c->opt;
    dataset_cli_finish(&c->data);
    opt->pipeline = c->data.pipeline;
    /* NIfTI readers expect x fastest, then y, then the slices: (D, H, W) in C order. */
    if (opt->format != FORMAT_NPY && !c->layout_given) opt->pipeline.layout = LAYOUT_DHW;
    if (opt->format != FORMAT_NPY && opt->pipeline.dtype == DTYPE_FLOAT16)
        return mp_fail(err, MP_ERR_USAGE, "--dtype float16 with --format %s: NIfTI-1 has no float16 type; use float32 "
                       "or npy", output_format_name(opt->format));
    opt->labels_path = c->data.labels;
    opt->readahead_mb = c->data.readahead_mb;
    opt->modalities = c->data.modalities.items;
    opt->n_modalities = c->data.modalities.n;
    opt->exclude = c->exclude.items;
    opt->n_exclude = c->exclude.n;
    char why[512];
    if (!c->shard_given && shard_from_environment(&opt->shard_k, &opt->shard_n, why, sizeof why) < 0)
        return mp_fail(err, MP_ERR_USAGE, "%s", why);
    return MP_OK;
}

/* ---- signals -------------------------------------------------------------------------- */

/* SIGINT / SIGTERM: the first asks the run to stop taking new series (the ones in flight
 * finish, the manifest is written, exit 130); a second exits at once. Either way nothing
 * partial exists under a final name: volumes are renamed into place only when complete,
 * and the hidden temporary files a second signal leaves are removed by the next run.
 * Only async-signal-safe calls here. */
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

/* ---- the command ---------------------------------------------------------------------- */

static void print_summary(const run_options_t *opt, const run_summary_t *sum)
{
    const run_totals_t *t = &sum->totals;
    const size_t *n = t->status.n;
    double secs = t->elapsed > 0 ? t->elapsed : 1e-9;
    fprintf(stderr,
            "mriprep: %zu series: %zu ok, %zu empty, %zu missing, %zu failed, %zu excluded; %zu files in %.2f s "
            "(%.0f files/s, %.0f MB/s), %.2f GB written to %s (%d threads)\n",
            t->series, n[STATUS_OK], n[STATUS_EMPTY], n[STATUS_MISSING], n[STATUS_FAILED], n[STATUS_EXCLUDED],
            t->files_decoded, t->elapsed, (double)t->files_decoded / secs, (double)t->bytes_read / 1e6 / secs,
            (double)t->bytes_written / 1e9, opt->out_dir, sum->threads);
    char manifest[64], run_json[64];
    shard_record_names(opt->shard_k, opt->shard_n, manifest, sizeof manifest, run_json, sizeof run_json);
    if (n[STATUS_FAILED])
        fprintf(stderr, "mriprep: %zu series failed: see the reason column of %s/%s\n", n[STATUS_FAILED], opt->out_dir,
                manifest);
    if (opt->shard_n)
        fprintf(stderr, "mriprep: shard %d/%d done; when every shard is, join them: mriprep merge %s\n", opt->shard_k,
                opt->shard_n, opt->out_dir);
}

int cmd_run(int argc, char **argv, const char *command_line)
{
    run_cli_t *c = calloc(1, sizeof *c);
    if (!c) return EXIT_USAGE;
    mp_error err;
    mp_error_clear(&err);
    int help = 0;
    mp_status st = parse_run(argc, argv, c, &help, &err);
    if (st == MP_OK && !help) st = settle_run(c, &err);
    if (st != MP_OK || help) {
        if (help) print_usage(stdout);
        int rc = help ? EXIT_ALL_OK : usage_error(NULL, &err);
        free(c);
        return rc;
    }
    run_options_t *opt = &c->opt;
    console_t console;
    console_init(&console, c->quiet ? MP_LOG_ERROR : c->verbose ? MP_LOG_DEBUG : MP_LOG_INFO,
                 c->quiet ? PROGRESS_NONE : c->progress);
    opt->log = console_log;
    opt->progress = console_progress;
    opt->ctx = &console;
    opt->command_line = command_line;
    opt->interrupt = &g_interrupted;
    install_signal_handlers();

    run_summary_t sum;
    memset(&sum, 0, sizeof sum);
    st = dicom_global_init(&err);
    if (st == MP_OK) st = run_dataset(opt, &sum, &err);
    console_finish(&console);
    dicom_global_cleanup();
    int rc = EXIT_ALL_OK;
    if (st != MP_OK) rc = exit_with_error(NULL, &err);
    else if (sum.no_series) rc = EXIT_NO_SERIES;
    else if (sum.totals.status.n[STATUS_FAILED]) rc = EXIT_SOME_FAILED;
    if (st == MP_OK && !c->quiet && !opt->dry_run && sum.totals.patients > 0) print_summary(opt, &sum);
    free(c);
    return rc;
}
