/* console.c - see console.h. */
#include "console.h"

#include <stdio.h>
#include <unistd.h>

#include "mriprep/timer.h"

#define BAR_WIDTH 28
#define BAR_REDRAW_S 0.1   /* at most 10 redraws a second */
#define LINES_EVERY_S 10.0 /* a plain progress line every 10 s */

void console_init(console_t *c, mp_log_level_t level, progress_mode_t mode)
{
    c->level = level;
    if (mode == PROGRESS_AUTO) mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
    c->mode = mode;
    c->bar_visible = 0;
    c->last_draw = mp_wall_seconds();
    c->interval = mode == PROGRESS_BAR ? BAR_REDRAW_S : LINES_EVERY_S;
}

void console_finish(console_t *c)
{
    if (c->bar_visible) {
        fputc('\n', stderr);
        c->bar_visible = 0;
    }
}

void console_log(void *ctx, mp_log_level_t level, const char *message)
{
    console_t *c = ctx;
    if (level > c->level) return;
    if (c->bar_visible) {
        fputs("\r\033[K", stderr); /* clear the bar; it is redrawn on the next update */
        c->bar_visible = 0;
    }
    const char *prefix = level == MP_LOG_ERROR ? "error: " : level == MP_LOG_WARN ? "warning: " : "";
    fprintf(stderr, "mriprep: %s%s\n", prefix, message);
}

static void format_duration(double s, char *buf, size_t cap)
{
    if (s < 0 || s > 1e7) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void console_progress(void *ctx, const run_progress_t *p)
{
    console_t *c = ctx;
    if (c->mode == PROGRESS_NONE) return;
    double now = mp_wall_seconds();
    int last = p->series_done == p->series_total;
    if (!last && now - c->last_draw < c->interval) return;
    c->last_draw = now;

    double rate = p->elapsed > 0 ? (double)p->files_done / p->elapsed : 0.0;
    double frac = p->files_total ? (double)p->files_done / (double)p->files_total
                                 : (p->series_total ? (double)p->series_done / (double)p->series_total : 1.0);
    double eta = rate > 0 ? (double)(p->files_total - p->files_done) / rate : -1.0;
    char eta_text[32], elapsed_text[32];
    format_duration(eta, eta_text, sizeof eta_text);
    format_duration(p->elapsed, elapsed_text, sizeof elapsed_text);

    if (c->mode == PROGRESS_BAR) {
        char bar[BAR_WIDTH + 1];
        int filled = (int)(frac * BAR_WIDTH + 0.5);
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r\033[K[%s] %3.0f%% %zu/%zu files  %.0f files/s  ETA %s  %s", bar, frac * 100.0,
                p->files_done, p->files_total, rate, eta_text, p->current ? p->current : "");
        c->bar_visible = 1;
        if (last) console_finish(c);
    } else {
        fprintf(stderr, "mriprep: progress %zu/%zu series, %zu/%zu files (%.0f%%), %.0f files/s, elapsed %s, ETA %s\n",
                p->series_done, p->series_total, p->files_done, p->files_total, frac * 100.0, rate, elapsed_text,
                eta_text);
    }
    fflush(stderr);
}
