/* dataset.h - walk stage: a dataset folder to the ordered list of series.
 *
 * Layout (docs/pipeline.md, "The dataset"): DATA/train/<id>/<MODALITY>/Image-<n>.dcm and
 * DATA/test/... when those folders exist, else DATA/<id>/<MODALITY>/... The walk has a
 * fixed depth (split, patient, modality, file) and never recurses, so a link that loops
 * back cannot send it round in circles; folders that are not a requested modality are
 * never opened.
 */
#ifndef MRIPREP_DATASET_H
#define MRIPREP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/fs.h"
#include "mriprep/labels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The modality folders a command takes when none are given, in output order. */
#define DATASET_DEFAULT_MODALITIES {"FLAIR", "T1w", "T1wCE", "T2w"}
#define DATASET_DEFAULT_MODALITY_COUNT 4
#define DATASET_MAX_MODALITIES 64

/* Checks the modality folder names a command was given: 1..DATASET_MAX_MODALITIES of
 * them, each one plain folder name (not "", ".", "..", nothing with a slash or a
 * backslash: the name becomes part of the output path) and none twice. MP_ERR_USAGE
 * naming the first offender ("--modalities: 'FLAIR' is listed twice"). */
mp_status dataset_check_modalities(const char *const *names, size_t n, mp_error *err);

/* What the walk found for one (patient, modality). */
typedef enum series_presence {
    SERIES_PRESENT = 0,  /* folder with at least one .dcm file */
    SERIES_NO_FOLDER,    /* manifest status "missing" */
    SERIES_NO_DCM,       /* folder without .dcm files: manifest status "empty" */
    SERIES_EXCLUDED,     /* patient listed in --exclude: manifest status "excluded" */
    SERIES_UNREADABLE    /* folder that cannot be listed: manifest status "failed", see `problem` */
} series_presence_t;

typedef struct series {
    const char *split;     /* "train", "test", or "" when DATA holds the patients */
    char *patient;         /* patient folder name, e.g. "00109" */
    const char *modality;  /* e.g. "FLAIR" (points into the walk options) */
    char *dir;             /* DATA/<split>/<patient>/<modality> */
    char **files;          /* [n_files] full paths of the .dcm files, in slice order */
    size_t n_files;
    char **other_files;    /* [n_other] names of the regular files ignored because they do not
                              end in .dcm (notes.txt, .DS_Store), in natural order */
    size_t n_other;
    series_presence_t presence;
    const char *label;     /* from the labels file; "" when none (always "" in test);
                              points into the label table: valid while it lives */
    char *problem;         /* SERIES_UNREADABLE: why, e.g. "cannot list folder: Permission denied" */
} series_t;

typedef struct dataset {
    series_t *series;      /* [n_series]: split, patient, then modality in the requested order */
    size_t n_series;
    size_t n_patients;     /* patient folders found, excluded ones included */
    size_t n_files;        /* .dcm files over all series */
    size_t n_images_without_label; /* train patients with no row in the labels file */
    size_t n_labels_without_images; /* label rows with no train patient folder */
    char *splits_text;     /* "train,test" or "." for the flat layout: for logs */
} dataset_t;

typedef struct dataset_options {
    const char *const *modalities; /* [n_modalities] subfolder names, in output order */
    size_t n_modalities;
    const char *const *exclude;    /* [n_exclude] patient IDs ("109" matches "00109") */
    size_t n_exclude;
    label_table_t *labels;         /* may be NULL; the walk marks the entries it matched */
} dataset_options_t;

/* Walks `root`. Returns MP_OK (also when no patient is found: n_series is then 0),
 * MP_ERR_IO when root (or a split/patient folder) cannot be listed, MP_ERR_NOMEM.
 * On failure *ds is left empty. */
mp_status dataset_walk(const char *root, const dataset_options_t *opt, dataset_t *ds, mp_error *err);

void dataset_free(dataset_t *ds);

/* The series' name in messages and reports, "train/00000/FLAIR" ("00000/FLAIR" in the
 * flat layout), followed by `suffix` (".npy": its output path relative to OUT). */
void series_name(const series_t *s, const char *suffix, char *buf, size_t cap);

/* 1 when series i and i - 1 belong to different patients (i == 0 included). */
int series_starts_patient(const dataset_t *ds, size_t i);

/* Natural order of file names: by the last run of decimal digits read as a number
 * (Image-2 before Image-10; leading zeros do not matter, any length), names with no
 * digits after all names with digits, ties by the bytes of the name. A qsort-style
 * comparison: < 0, 0, > 0. */
int natural_name_compare(const char *a, const char *b);

/* 1 when `name` ends in ".dcm" in any case. */
int has_dcm_extension(const char *name);

/* One series folder, listed as the walk lists it. */
typedef struct series_files {
    char **files;       /* [n_files] full paths of the .dcm files (regular files, links
                           followed, and dangling links named .dcm), in natural order */
    size_t n_files;
    char **other_files; /* [n_other] names of the other regular files */
    size_t n_other;
} series_files_t;

/* Lists the series folder `dir`. MP_ERR_IO ("<dir>: cannot list folder: <why>") or
 * MP_ERR_NOMEM; free with series_files_free(). */
mp_status dataset_list_series(const char *dir, series_files_t *out, mp_error *err);
void series_files_free(series_files_t *files);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_DATASET_H */
