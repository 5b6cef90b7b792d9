/* cmd_scan.c - `mriprep scan DATA`: the notebook's exploration from the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "console.h"
#include "exit_codes.h"
#include "mriprep/dicom.h"
#include "mriprep/scan.h"
#include "options.h"

static const char SCAN_USAGE[] =
    "usage: mriprep scan DATA [options]   explore a dataset: headers only unless --pixels\n"
    "  --json F            everything, machine-readable (stable keys)\n"
    "  --csv F             one row per series\n"
    "  --pixels            also decode: intensity histograms, blank and dark slices\n"
    "  --labels F          labels CSV (default: DATA/train_labels.csv when present)\n"
    "  --modalities LIST   modality folders (FLAIR,T1w,T1wCE,T2w)\n"
    "  --threads N         0 = all cores (0)\n"
    "  --readahead auto|N|0  MB read ahead of the readers: headers only, or whole files with\n"
    "                      --pixels (auto: 128, at most 1/32 of RAM); 0: off\n"
    "  --size N|WxH --slices K --dtype T   the run whose output size is estimated (256, 128)\n"
    "  --dark T --margin M the dark-slice rule for --pixels (0.01, 0)\n"
    "  --problems N        problems listed on screen (20; all of them in --json/--csv)\n"
    "  -q                  no summary on screen\n";

typedef struct scan_cli {
    dataset_cli_t data;
    const char *json, *csv;
    int pixels, quiet, max_problems;
} scan_cli_t;

/* The command line into c: 1 to go on, else 0 with *rc the exit code. */
static int parse_scan(int argc, char **argv, scan_cli_t *c, const char **data, int *rc)
{
    dataset_cli_init(&c->data);
    c->max_problems = 20;
    option_spec_t specs[DATASET_CLI_SPECS + 5];
    size_t n = dataset_cli_specs(&c->data, specs);
    const option_spec_t own[] = {
        {.name = "--json", .kind = OPT_STRING, .target = &c->json, .nonempty = 1},
        {.name = "--csv", .kind = OPT_STRING, .target = &c->csv, .nonempty = 1},
        {.name = "--pixels", .kind = OPT_FLAG, .target = &c->pixels, .flag = 1},
        {.name = "--problems", .kind = OPT_WHOLE, .target = &c->max_problems, .lo = 0, .hi = 1000000},
        {.name = "--quiet", .alias = "-q", .kind = OPT_FLAG, .target = &c->quiet, .flag = 1},
    };
    memcpy(specs + n, own, sizeof own);
    n += sizeof own / sizeof *own;
    if (!command_options("scan", SCAN_USAGE, argc, argv, specs, n, data, 1, 1, "scan needs DATA", rc)) return 0;
    dataset_cli_finish(&c->data);
    return 1;
}

/* The report's files, then the exit code: 4 when one cannot be written, 2 for no series. */
static int write_reports(const scan_cli_t *c, const char *data, const scan_report_t *report)
{
    mp_error err;
    int rc = EXIT_ALL_OK;
    if (c->json && scan_write_json(report, c->json, &err) != MP_OK) rc = exit_with_error(NULL, &err);
    if (c->csv && scan_write_csv(report, c->csv, &err) != MP_OK) rc = exit_with_error(NULL, &err);
    if (rc == EXIT_ALL_OK && scan_series_found(report) == 0) {
        fprintf(stderr, "mriprep: error: %s: no series found\n", data);
        rc = EXIT_NO_SERIES;
    }
    return rc;
}

int cmd_scan(int argc, char **argv)
{
    scan_cli_t *c = calloc(1, sizeof *c);
    if (!c) return EXIT_USAGE;
    const char *data = NULL;
    int rc = EXIT_ALL_OK;
    if (!parse_scan(argc, argv, c, &data, &rc)) {
        free(c);
        return rc;
    }
    mp_error err;
    scan_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.data_dir = data;
    opt.labels_path = c->data.labels;
    opt.modalities = c->data.modalities.items;
    opt.n_modalities = c->data.modalities.n;
    opt.threads = c->data.pipeline.threads;
    opt.pixels = c->pixels;
    opt.readahead_mb = c->data.readahead_mb;
    opt.pipeline = c->data.pipeline;
    console_t console;
    console_init(&console, c->quiet ? MP_LOG_ERROR : MP_LOG_INFO, PROGRESS_NONE);
    opt.log = console_log;
    opt.ctx = &console;

    scan_report_t *report = NULL;
    if (dicom_global_init(&err) != MP_OK || scan_dataset(&opt, &report, &err) != MP_OK) {
        rc = exit_with_error(NULL, &err);
    } else {
        if (!c->quiet) {
            char *text = scan_summary_text(report, (size_t)c->max_problems);
            if (text) fputs(text, stdout);
            free(text);
        }
        rc = write_reports(c, data, report);
        scan_report_free(report);
    }
    dicom_global_cleanup();
    free(c);
    return rc;
}
