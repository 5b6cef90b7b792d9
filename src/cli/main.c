/* main.c - the mriprep program: the command's name to its cmd_* function (commands.h),
 * --version and --help. Only main() exits; the exit codes are the table of exit_codes.h
 * (README "Exit codes"). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "exit_codes.h"
#include "mriprep/features.h"

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

void print_usage(FILE *f)
{
    fputs(USAGE, f);
    fputs("\nexit codes:\n", f);
    for (size_t i = 0; i < EXIT_CODE_ROWS; i++)
        fprintf(f, "  %3d  %s\n", (int)EXIT_CODE_TABLE[i].code, EXIT_CODE_TABLE[i].meaning);
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

/* The command line as typed, for run.json; NULL when out of memory. */
static char *joined(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    char *text = malloc(len);
    if (!text) return NULL;
    text[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i) strcat(text, " ");
        strcat(text, argv[i]);
    }
    return text;
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
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) return print_version();
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_usage(stdout);
        return EXIT_ALL_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"scan", cmd_scan}, {"info", cmd_info}, {"show", cmd_show},
                    {"merge", cmd_merge}, {"devices", cmd_devices}};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) {
        char *command_line = joined(argc, argv);
        if (!command_line) return EXIT_USAGE;
        int rc = cmd_run(argc - 2, argv + 2, command_line);
        free(command_line);
        return rc;
    }
    fprintf(stderr, "mriprep: error: unknown command '%s'\n", cmd);
    print_usage(stderr);
    return EXIT_USAGE;
}
