/* scan_internal.h - private to src/explore: the scan report as scan.c builds it and
 * scan_report.c writes it (JSON, CSV, the one-screen summary). */
#ifndef MRIPREP_SCAN_INTERNAL_H
#define MRIPREP_SCAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/dataset.h"
#include "mriprep/geometry.h"
#include "mriprep/labels.h"
#include "mriprep/scan.h"

#define SCAN_MAX_SYNTAXES 64
#define SCAN_NO_SYNTAX 0xFFFFu /* scan_file_t.syntax of a file whose header was not read */
#define INTENSITY_BIN 32    /* stored values per histogram bin */
#define INTENSITY_BINS 256  /* [0, 8192): MR stored values; zeros, negatives, above: counted apart */
#define SLICE_HIST_BINS 10  /* slices-per-series histogram */
#define FATE_UNKNOWN 255

/* What reading one file gave. */
typedef struct scan_file {
    uint32_t series;
    mp_status status;
    char *error;          /* the message when status != MP_OK (owned) */
    uint32_t rows, cols;
    uint8_t plane;        /* image_plane_t */
    uint8_t is_signed;
    uint8_t has_instance;
    uint8_t fate;         /* --pixels: slice_fate_t; FATE_UNKNOWN otherwise */
    int32_t instance;
    uint16_t syntax;      /* index into the report's syntaxes; SCAN_NO_SYNTAX when the
                             header was not read (refused files keep theirs) */
    uint64_t bytes;
    /* What the header says even when the file is refused: */
    uint32_t frames;      /* NumberOfFrames (1 when absent) */
    uint8_t mosaic;       /* ImageType MOSAIC */
    uint32_t mosaic_images;
    /* Readable files: where the slice lies (for repeated positions: 4D series) */
    uint8_t has_position, has_orientation;
    double position[3], orientation[6];
} scan_file_t;

/* What a series came to. */
typedef struct scan_series {
    size_t first;         /* its files are report->files[first .. first + n) */
    size_t n;
    uint32_t readable, blank, dark, kept;
    uint32_t rows, cols;  /* of the first readable file */
    int plane;            /* of the first readable file (-1: none) */
    int is_signed;        /* of the first readable file (-1: none) */
    int syntax;           /* of the first readable file (-1: none) */
    int mixed_shapes, mixed_planes;
    int32_t instance_min, instance_max;
    uint32_t duplicate_instances, missing_instances;
    uint64_t bytes;
} scan_series_t;

typedef struct scan_problem {
    const char *kind;     /* static */
    char *series;         /* owned */
    char *file;           /* owned, "" when the problem is not about one file */
    char *detail;         /* owned */
} scan_problem_t;

typedef struct count_item {
    char *key;
    uint64_t count;
} count_item_t;

/* A small insertion-ordered map from text to a count (shapes, labels). */
typedef struct count_map {
    count_item_t *items;
    size_t n, cap;
} count_map_t;

typedef struct modality_summary {
    size_t series;
    uint32_t min, max;
    double median;
    uint32_t edges[SLICE_HIST_BINS + 1];
    uint64_t counts[SLICE_HIST_BINS];
    size_t bins;
    /* --pixels */
    uint64_t hist[INTENSITY_BINS], zeros, negative, above;
    uint64_t slices, blank, dark;
} modality_summary_t;

struct scan_report {
    scan_options_t opt;
    char data_dir[4096];
    dataset_t ds;
    label_table_t labels;
    char labels_used[4096];
    int threads;
    scan_file_t *files;   /* [n_files] in series order */
    size_t n_files;
    scan_series_t *series; /* [ds.n_series] */
    char syntax_uid[SCAN_MAX_SYNTAXES][68];
    const char *syntax_name[SCAN_MAX_SYNTAXES];
    uint64_t syntax_series[SCAN_MAX_SYNTAXES];
    uint8_t syntax_refused[SCAN_MAX_SYNTAXES]; /* 1: a file was refused for this syntax */
    int n_syntaxes;
    scan_problem_t *problems;
    size_t n_problems, cap_problems;
    count_map_t shapes, label_counts, patients;
    uint64_t planes[IMAGE_PLANE_COUNT];
    uint64_t unsigned_series, signed_series;
    modality_summary_t *modalities; /* [n_modalities] */
    uint64_t bytes, non_dcm, found;
    uint64_t output_f32, output_f16;
    double elapsed;
    int failed_alloc;
};

#endif /* MRIPREP_SCAN_INTERNAL_H */
