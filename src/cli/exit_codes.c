/* exit_codes.c - see exit_codes.h. */
#include "exit_codes.h"

#include <stdio.h>

const exit_code_row_t EXIT_CODE_TABLE[] = {
    {EXIT_ALL_OK, "every series ok, empty, missing or excluded"},
    {EXIT_USAGE, "usage error, or a bad labels file (the message names it)"},
    {EXIT_NO_SERIES,
     "no series found in DATA (no patient folders, no requested modality folder, or DATA unreadable); merge: no "
     "shard records in OUT"},
    {EXIT_SOME_FAILED, "some series failed (see the manifest's reason); the rest were written; info: the file "
                       "cannot be decoded"},
    {EXIT_CANNOT_WRITE,
     "output cannot be written, or a previous run's records in OUT cannot be read (the message names the path and "
     "the OS error)"},
    {EXIT_MERGE_INCOMPLETE, "merge: some series have no row in any shard (listed); nothing written"},
    {EXIT_INTERRUPTED, "interrupted (SIGINT/SIGTERM): the series in flight were finished, the manifest written; rerun "
                       "to finish"},
};
const size_t EXIT_CODE_ROWS = sizeof EXIT_CODE_TABLE / sizeof *EXIT_CODE_TABLE;

exit_code_t exit_code_for(const mp_error *err)
{
    if (err->code == MP_ERR_INTERRUPTED) return EXIT_INTERRUPTED;
    switch (err->place) {
    case MP_PLACE_DATA: return EXIT_NO_SERIES;
    case MP_PLACE_OUT: return EXIT_CANNOT_WRITE;
    case MP_PLACE_USAGE:
    case MP_PLACE_LABELS:
    case MP_PLACE_NONE: break;
    }
    return EXIT_USAGE;
}

exit_code_t exit_with_error(const char *command, const mp_error *err)
{
    fprintf(stderr, "mriprep: error: %s%s%s\n", command ? command : "", command ? ": " : "", err->msg);
    return exit_code_for(err);
}
