/* cmd_info.c - `mriprep info FILE.dcm [--json]`: what one DICOM file holds. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "exit_codes.h"
#include "mriprep/dicom.h"
#include "mriprep/info.h"
#include "options.h"

static const char INFO_USAGE[] = "usage: mriprep info FILE.dcm [--json] [--npy OUT.npy]   what one DICOM file holds "
                                 "(--npy: its stored values as an array)\n";

int cmd_info(int argc, char **argv)
{
    int as_json = 0, rc;
    const char *positional[1], *npy = NULL;
    const option_spec_t specs[] = {{.name = "--json", .kind = OPT_FLAG, .target = &as_json, .flag = 1},
                                   {.name = "--npy", .kind = OPT_STRING, .target = &npy, .nonempty = 1}};
    if (!command_options("info", INFO_USAGE, argc, argv, specs, 2, positional, 1, 1, "info needs FILE.dcm", &rc))
        return rc;
    mp_error err;
    if (dicom_global_init(&err) != MP_OK) return exit_with_error(NULL, &err);
    file_info_t info;
    file_info_read(positional[0], &info);
    char *text = as_json ? file_info_json(&info) : file_info_text(&info);
    if (text) fputs(text, stdout);
    free(text);
    mp_status written = MP_OK;
    if (npy && info.status == MP_OK) written = file_info_write_npy(positional[0], npy, &err);
    dicom_global_cleanup();
    if (written != MP_OK) return exit_with_error(NULL, &err);
    if (info.status != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", info.error.msg);
        return EXIT_SOME_FAILED;
    }
    return EXIT_ALL_OK;
}
