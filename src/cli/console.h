/* console.h - what the CLI prints: log lines and progress, on stderr.
 *
 * Progress is a bar with files/s and ETA on a terminal, plain periodic lines otherwise;
 * log lines clear the bar first so the two never mix on one line.
 */
#ifndef MRIPREP_CLI_CONSOLE_H
#define MRIPREP_CLI_CONSOLE_H

#include "mriprep/run.h"

typedef enum progress_mode {
    PROGRESS_AUTO = 0, /* bar on a terminal, lines otherwise */
    PROGRESS_BAR,
    PROGRESS_LINES,
    PROGRESS_NONE
} progress_mode_t;

typedef struct console {
    mp_log_level_t level;  /* print messages up to this level */
    progress_mode_t mode;  /* resolved: never AUTO after console_init */
    int bar_visible;       /* a bar is on the current line */
    double last_draw;      /* wall time of the last bar or line */
    double interval;       /* seconds between progress lines */
} console_t;

void console_init(console_t *c, mp_log_level_t level, progress_mode_t mode);

/* mp_log_fn and run_progress_fn for run_options_t, ctx = console_t*. */
void console_log(void *ctx, mp_log_level_t level, const char *message);
void console_progress(void *ctx, const run_progress_t *p);

/* Ends the bar line, if one is showing. */
void console_finish(console_t *c);

#endif /* MRIPREP_CLI_CONSOLE_H */
