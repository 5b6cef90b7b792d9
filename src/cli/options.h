/* options.h - the one command-line parser: every command (run, scan, show, info, merge,
 * devices) describes its options as a table of option_spec_t, and options_parse walks
 * argv against it. The values' vocabularies are the library's own (pipeline_option_parse,
 * output_format_parse, device_request_parse, dataset_check_modalities), so the command
 * line and the C API spell and check them alike.
 *
 * Options come as `--name value` or `--name=value`, anywhere among the positional
 * arguments; a lone "-" is positional. `-h` / `--help` asks for the command's help.
 */
#ifndef MRIPREP_CLI_OPTIONS_H
#define MRIPREP_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/dataset.h"
#include "mriprep/error.h"
#include "mriprep/pipeline.h"
#include "mriprep/readahead.h"

typedef enum option_kind {
    OPT_FLAG,   /* no value: *(int *)target = flag (1 for a switch, 0 for --resume) */
    OPT_STRING, /* *(const char **)target = the value; "" refused with `nonempty` */
    OPT_WHOLE,  /* *(int *)target = a whole number in [lo, hi] */
    OPT_NUMBER, /* *(double *)target = a finite number in [lo, hi] */
    OPT_SIZE,   /* ((int *)target)[0], [1] = width, height: "N" or "WxH" ("x" or "X"), each in [lo, hi] */
    OPT_WORD,   /* the pipeline option named like the option (pipeline_option_parse) into the
                   pipeline_options_t *target */
    OPT_LIST,   /* a comma-separated list into the option_list_t *target: replaces it, or
                   with `flag` appends to it (the option may be repeated) */
    OPT_CUSTOM  /* parse(target, name, value, err) */
} option_kind_t;

typedef mp_status (*option_parse_fn)(void *target, const char *name, const char *value, mp_error *err);

typedef struct option_spec {
    const char *name;      /* "--size" */
    const char *alias;     /* "-q", or NULL */
    option_kind_t kind;
    void *target;
    long lo, hi;           /* OPT_WHOLE, OPT_SIZE; OPT_NUMBER as doubles */
    int flag;              /* OPT_FLAG: the value stored; OPT_LIST: append */
    int nonempty;          /* OPT_STRING: "" is refused */
    option_parse_fn parse; /* OPT_CUSTOM */
    int *seen;             /* may be NULL: set to 1 when the option is given */
} option_spec_t;

/* A comma-separated list as given: its items point into `text`. */
#define OPTION_LIST_MAX 4096
typedef struct option_list {
    char text[8192];
    size_t used;                     /* bytes of text the items take */
    const char *items[OPTION_LIST_MAX];
    size_t n;
} option_list_t;

/* Sets the list to `csv`'s items (spaces before an item and empty items skipped).
 * MP_ERR_USAGE naming `name` when it does not fit. */
mp_status option_list_set(option_list_t *list, const char *name, const char *csv, int append, mp_error *err);

/* A list of modality folders: option_list_set then dataset_check_modalities; and the same
 * as an option_parse_fn (target: the option_list_t) for --modalities. */
mp_status option_modalities(option_list_t *list, const char *csv, mp_error *err);
mp_status option_parse_modalities(void *target, const char *name, const char *value, mp_error *err);

/* Parses argv[0 .. argc) against specs[n_specs]: positional arguments into
 * positional[max_positional] (*n_positional of them), -h/--help sets *help (and stops).
 * MP_ERR_USAGE naming the argument and what was expected otherwise: an unknown option,
 * a missing or malformed value, a value given to a flag, too many positional ones. */
mp_status options_parse(int argc, char **argv, const option_spec_t *specs, size_t n_specs, const char **positional,
                        int max_positional, int *n_positional, int *help, mp_error *err);

/* options_parse for a command with min..max positional arguments. Returns 1 when the
 * command goes on; 0 with *rc set when it ends here: 0 after printing `usage` on stdout
 * for -h, 1 after an error message (usage_error; `missing` when there are fewer than min
 * positional arguments, e.g. "merge needs OUT"). */
int command_options(const char *command, const char *usage, int argc, char **argv, const option_spec_t *specs,
                    size_t n_specs, const char **positional, int min_positional, int max_positional,
                    const char *missing, int *rc);

/* The options run and scan share (the dataset and the volumes run would write):
 * --labels, --modalities, --threads, --size, --slices, --dtype, --dark, --margin,
 * --readahead. */
typedef struct dataset_cli {
    pipeline_options_t pipeline; /* defaults, then what was given */
    int size[2];                 /* --size W, H */
    int size_given;
    const char *labels;          /* --labels, or NULL */
    option_list_t modalities;    /* FLAIR, T1w, T1wCE, T2w unless given */
    int64_t readahead_mb;        /* --readahead: READAHEAD_AUTO, 0 (off) or MB */
} dataset_cli_t;

void dataset_cli_init(dataset_cli_t *c);

/* Writes the shared specs (at most DATASET_CLI_SPECS) into specs; returns how many. */
#define DATASET_CLI_SPECS 9
size_t dataset_cli_specs(dataset_cli_t *c, option_spec_t *specs);

/* After parsing: --size into the pipeline options. */
void dataset_cli_finish(dataset_cli_t *c);

/* Prints "mriprep: error: <msg>" and "(see mriprep <command> --help)" on stderr and
 * returns the usage exit code: for the commands' own checks after parsing. */
int usage_error(const char *command, const mp_error *err);

#endif /* MRIPREP_CLI_OPTIONS_H */
