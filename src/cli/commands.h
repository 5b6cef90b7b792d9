/* commands.h - the subcommands of the mriprep program besides `run` (in main.c). Each
 * takes the arguments after its name (argv[0] is the first of them) and returns the
 * process exit code; only main() exits. */
#ifndef MRIPREP_CLI_COMMANDS_H
#define MRIPREP_CLI_COMMANDS_H

/* mriprep scan DATA [--json F] [--csv F] [--pixels] ...: 0 done, 1 usage, 2 no series,
 * 4 cannot write F. */
int cmd_scan(int argc, char **argv);

/* mriprep info FILE.dcm [--json]: 0 read, 1 usage, 3 the file cannot be read. */
int cmd_info(int argc, char **argv);

/* mriprep show PATH --png F | --gif F ...: 0 written, 1 usage or nothing to show,
 * 4 cannot write F. */
int cmd_show(int argc, char **argv);

/* mriprep merge OUT: 0 merged, 1 usage or shards that disagree, 2 no shard records or
 * DATA unreadable, 3 merged but some series failed, 4 cannot write, 6 series without a
 * row (listed; nothing written). */
int cmd_merge(int argc, char **argv);

#endif /* MRIPREP_CLI_COMMANDS_H */
