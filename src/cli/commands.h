/* commands.h - the subcommands of the mriprep program. Each takes the arguments after its
 * name (argv[0] is the first of them), parses them with the one option parser
 * (options.h), calls the library, prints, and returns the process exit code from the one
 * table (exit_codes.h); only main() exits. */
#ifndef MRIPREP_CLI_COMMANDS_H
#define MRIPREP_CLI_COMMANDS_H

#include <stdio.h>

/* mriprep run DATA OUT [options]; command_line is recorded in run.json. */
int cmd_run(int argc, char **argv, const char *command_line);

/* mriprep scan DATA [--json F] [--csv F] [--pixels] ...: 0 done, 1 usage, 2 no series,
 * 4 cannot write F. */
int cmd_scan(int argc, char **argv);

/* mriprep info FILE.dcm [--json]: 0 read, 1 usage, 3 the file cannot be decoded. */
int cmd_info(int argc, char **argv);

/* mriprep show PATH --png F | --gif F ...: 0 written, 1 usage or nothing to show,
 * 4 cannot write F. */
int cmd_show(int argc, char **argv);

/* mriprep merge OUT: 0 merged, 1 usage or shards that disagree, 2 no shard records or
 * DATA unreadable, 3 merged but some series failed, 4 cannot write, 6 series without a
 * row (listed; nothing written). */
int cmd_merge(int argc, char **argv);

/* mriprep devices: the CUDA devices, or why there are none; 0 either way. */
int cmd_devices(int argc, char **argv);

/* The program's usage: every command, run's options and the exit codes. */
void print_usage(FILE *f);

#endif /* MRIPREP_CLI_COMMANDS_H */
