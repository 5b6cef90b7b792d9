/* main.c - the mriprep program: the command's name to its cmd_* function (commands.h),
 * --version and --help. Only main() exits; the exit codes are the table of exit_codes.h
 * (README "Exit codes"). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "exit_codes.h"
#include "mriprep/features.h"

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

/* fds 0, 1 and 2 open: started with one closed (`2>&-`, some job launchers), the next
 * file opened would take its number, and log lines written to stderr would land in it
 * (the manifest). /dev/null fills the gap. Returns 0, or -1 when it cannot be opened. */
static int ensure_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (null < 0) return -1;
        if (null != fd) { /* a lower fd was also closed and is filled first; keep going */
            if (dup2(null, fd) < 0) return -1;
            close(null);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (ensure_standard_fds() != 0) return EXIT_CANNOT_WRITE;
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
