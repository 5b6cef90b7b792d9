/* usage.c - the program's help: every command, run's options, and the exit-code table
 * (exit_codes.h), for `mriprep --help` and `mriprep run --help`. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"

static const char USAGE[] =
    "usage: mriprep run DATA OUT [options]   preprocess every series of DATA into OUT\n"
    "       mriprep scan DATA [--json F] [--csv F] [--pixels]   explore: headers only unless --pixels\n"
    "       mriprep merge OUT                join the records of the shards of a run into OUT/manifest.csv\n"
    "       mriprep info FILE.dcm [--json] [--npy OUT.npy]   what one DICOM file holds\n"
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
    "  --readahead auto|N|0  MB of the next files read ahead of the decoders (auto: 128, at\n"
    "                      most 1/32 of RAM); 0: off\n"
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

