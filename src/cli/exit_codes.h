/* exit_codes.h - the program's one exit-code table (README "Exit codes" shows the same
 * rows; tests/e2e/test_e2e.py compares the two), and how a library error maps to it. */
#ifndef MRIPREP_CLI_EXIT_CODES_H
#define MRIPREP_CLI_EXIT_CODES_H

#include <stddef.h>

#include "mriprep/error.h"

typedef enum exit_code {
    EXIT_ALL_OK = 0,
    EXIT_USAGE = 1,
    EXIT_NO_SERIES = 2,
    EXIT_SOME_FAILED = 3,
    EXIT_CANNOT_WRITE = 4,
    EXIT_MERGE_INCOMPLETE = 6,
    EXIT_INTERRUPTED = 130
} exit_code_t;

typedef struct exit_code_row {
    exit_code_t code;
    const char *meaning;
} exit_code_row_t;

/* The table, in code order. */
extern const exit_code_row_t EXIT_CODE_TABLE[];
extern const size_t EXIT_CODE_ROWS;

/* The exit code of a library error, by where it happened (mp_place) and what it is:
 * interrupted 130; the usage or the labels file 1; DATA (or merge's shard records) 2;
 * OUT 4; anything else (memory, a bug) 1. */
exit_code_t exit_code_for(const mp_error *err);

/* Prints "mriprep: error: <message>" (with the command's name when given) and returns
 * exit_code_for(err). */
exit_code_t exit_with_error(const char *command, const mp_error *err);

#endif /* MRIPREP_CLI_EXIT_CODES_H */
