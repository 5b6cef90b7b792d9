/* cmd_show.c - `mriprep show`: a PNG of the middle slices of a patient side by side, or
 * an animated GIF through a series or an output volume (src/show.c draws them,
 * src/image_write.c writes them). Exit codes: 0 written, 1 usage error or nothing to
 * show, 4 the output cannot be written.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mriprep/dicom.h"
#include "mriprep/image_write.h"
#include "mriprep/show.h"

enum { SHOW_EXIT_OK = 0, SHOW_EXIT_USAGE = 1, SHOW_EXIT_CANNOT_WRITE = 4 };

#define SHOW_MAX_MODALITIES 64

static const char SHOW_USAGE[] =
    "usage: mriprep show PATH --png F [--at 0.5] [--size 256] [--modalities LIST] [--labels F] [--layout hwd|dhw]\n"
    "       mriprep show PATH --gif F [--size 256] [--fps 24] [--layout hwd|dhw]\n"
    "\n"
    "PATH is a patient folder (DATA/train/<id>), a series folder (one modality: .dcm files)\n"
    "or an .npy volume written by `mriprep run`.\n"
    "  --png F             one slice of each modality side by side, titled with the modality and\n"
    "                      the label; a series folder or a volume gives one tile\n"
    "  --gif F             an animation through the nonblank slices of a series folder or a volume\n"
    "  --at X              which slice for --png, as a fraction of the series: 0 first, 1 last (0.5);\n"
    "                      a blank slice is replaced by the nearest nonblank one\n"
    "  --size N            tile or frame width and height in pixels, 16..4096 (256)\n"
    "  --modalities LIST   tiles of a patient folder, comma-separated, in order (FLAIR,T1w,T1wCE,T2w)\n"
    "  --labels F          labels CSV (default: train_labels.csv two or one folders above the patient)\n"
    "  --fps N             frames per second of --gif, 1..100 (24)\n"
    "  --layout hwd|dhw    axes of an .npy volume: (H,W,D), what `mriprep run` writes by default,\n"
    "                      or (D,H,W) (hwd)\n"
    "Exit codes: 0 written, 1 usage error or nothing to show, 4 the output cannot be written.\n";

static int show_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int show_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mriprep: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see mriprep show --help)\n", stderr);
    va_end(ap);
    return SHOW_EXIT_USAGE;
}

static int parse_whole(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* Writes the frames show_frames() produces into a GIF opened at the first frame, so
 * that nothing is created when there is nothing to show. */
typedef struct gif_sink {
    const char *path;
    int delay_cs;
    int opened;
    gif_writer_t writer;
} gif_sink_t;

static mp_status gif_sink_frame(void *ctx, const uint8_t *pixels, int width, int height, mp_error *err)
{
    gif_sink_t *sink = ctx;
    if (!sink->opened) {
        mp_status st = gif_writer_open(&sink->writer, sink->path, width, height, sink->delay_cs, err);
        if (st != MP_OK) return st;
        sink->opened = 1;
    }
    return gif_writer_add_frame(&sink->writer, pixels, err);
}

static void print_notes(const show_summary_t *sum)
{
    for (size_t i = 0; i < sum->n_notes; i++) fprintf(stderr, "mriprep: warning: %s\n", sum->notes[i]);
}

static int exit_code_for(mp_status st)
{
    return st == MP_ERR_WRITE ? SHOW_EXIT_CANNOT_WRITE : SHOW_EXIT_USAGE;
}

static int write_png(const char *path, const char *out_path, const show_options_t *opt)
{
    gray8_image_t img;
    show_summary_t sum;
    mp_error err;
    mp_error_clear(&err);
    mp_status st = show_png(path, opt, &img, &sum, &err);
    print_notes(&sum);
    if (st == MP_OK) st = png_write_gray8(out_path, img.width, img.height, img.pixels, &err);
    if (st != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        gray8_image_free(&img);
        show_summary_free(&sum);
        return exit_code_for(st);
    }
    printf("wrote %s: %dx%d PNG, %zu tile%s from a %s", out_path, img.width, img.height, sum.tiles,
           sum.tiles == 1 ? "" : "s", show_source_name(sum.source));
    if (sum.pictures < sum.tiles) printf(" (%zu without a slice)", sum.tiles - sum.pictures);
    printf("\n");
    gray8_image_free(&img);
    show_summary_free(&sum);
    return SHOW_EXIT_OK;
}

static int write_gif(const char *path, const char *out_path, const show_options_t *opt, int fps)
{
    gif_sink_t sink;
    memset(&sink, 0, sizeof sink);
    sink.path = out_path;
    sink.delay_cs = (200 / fps + 1) / 2; /* round(100 / fps), half up: 24 fps -> 4 */
    show_summary_t sum;
    mp_error err;
    mp_error_clear(&err);
    mp_status st = show_frames(path, opt, gif_sink_frame, &sink, &sum, &err);
    print_notes(&sum);
    if (st == MP_OK) st = gif_writer_close(&sink.writer, &err);
    else gif_writer_abort(&sink.writer);
    if (st != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        show_summary_free(&sum);
        return exit_code_for(st);
    }
    printf("wrote %s: %dx%d GIF, %zu frame%s at %d fps (%.2f s per frame) from %zu slices of a %s", out_path,
           opt->size, opt->size, sum.frames, sum.frames == 1 ? "" : "s", fps, sink.delay_cs / 100.0, sum.slices,
           show_source_name(sum.source));
    if (sum.blank) printf("; %zu blank skipped", sum.blank);
    if (sum.failed) printf("; %zu undecodable skipped", sum.failed);
    printf("\n");
    show_summary_free(&sum);
    return SHOW_EXIT_OK;
}

int cmd_show(int argc, char **argv)
{
    show_options_t opt;
    show_options_default(&opt);
    const char *path = NULL, *png = NULL, *gif = NULL, *modality_arg = NULL;
    int fps = 24, png_only_seen = 0, gif_only_seen = 0;
    const char *png_only_name = NULL, *gif_only_name = NULL;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !strcmp(arg, "-")) {
            if (path) return show_usage_error("unexpected argument '%s' (show takes one PATH)", arg);
            path = arg;
            continue;
        }
        /* --opt=value or --opt value */
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) return show_usage_error("unknown option '%s'", arg);
        memcpy(name, arg, len);
        name[len] = '\0';
        if (eq) value = eq + 1;
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            fputs(SHOW_USAGE, stdout);
            return SHOW_EXIT_OK;
        }
        static const char *const with_value[] = {"--png", "--gif",    "--at",  "--size",
                                                 "--modalities", "--labels", "--fps", "--layout"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= !strcmp(name, with_value[k]);
        if (!known) return show_usage_error("unknown option '%s'", name);
        if (!value) {
            if (i + 1 >= argc) return show_usage_error("option %s needs a value", name);
            value = argv[++i];
        }
        if (!strcmp(name, "--png")) {
            if (!*value) return show_usage_error("--png needs a file name");
            png = value;
        } else if (!strcmp(name, "--gif")) {
            if (!*value) return show_usage_error("--gif needs a file name");
            gif = value;
        } else if (!strcmp(name, "--at")) {
            char *end;
            errno = 0;
            opt.at = strtod(value, &end);
            if (errno || end == value || *end || !(opt.at >= 0.0 && opt.at <= 1.0))
                return show_usage_error("--at '%s': expected a fraction in [0, 1] (0 first slice, 1 last)", value);
            png_only_seen = 1, png_only_name = "--at";
        } else if (!strcmp(name, "--size")) {
            if (parse_whole(value, SHOW_MIN_SIZE, SHOW_MAX_SIZE, &opt.size) != 0)
                return show_usage_error("--size '%s': expected a whole number of pixels, %d..%d", value, SHOW_MIN_SIZE,
                                        SHOW_MAX_SIZE);
        } else if (!strcmp(name, "--modalities")) {
            modality_arg = value;
            png_only_seen = 1, png_only_name = "--modalities";
        } else if (!strcmp(name, "--labels")) {
            if (!*value) return show_usage_error("--labels needs a file name");
            opt.labels_path = value;
            png_only_seen = 1, png_only_name = "--labels";
        } else if (!strcmp(name, "--fps")) {
            if (parse_whole(value, 1, 100, &fps) != 0)
                return show_usage_error("--fps '%s': expected a whole number of frames per second, 1..100", value);
            gif_only_seen = 1, gif_only_name = "--fps";
        } else if (!strcmp(name, "--layout")) {
            if (!strcmp(value, "hwd")) opt.layout = LAYOUT_HWD;
            else if (!strcmp(value, "dhw")) opt.layout = LAYOUT_DHW;
            else return show_usage_error("--layout '%s': expected hwd or dhw", value);
        }
    }
    if (!path) return show_usage_error("show needs a PATH: a patient folder, a series folder or an .npy volume");
    if (!png && !gif) return show_usage_error("show needs --png FILE or --gif FILE");
    if (png && gif) return show_usage_error("give one of --png and --gif, not both");
    if (gif && png_only_seen) return show_usage_error("%s applies to --png, not --gif", png_only_name);
    if (png && gif_only_seen) return show_usage_error("%s applies to --gif, not --png", gif_only_name);

    const char *modalities[SHOW_MAX_MODALITIES];
    char modality_text[1024];
    if (modality_arg) {
        if (strlen(modality_arg) >= sizeof modality_text) return show_usage_error("--modalities: list too long");
        strcpy(modality_text, modality_arg);
        int n = 0;
        for (char *tok = strtok(modality_text, ","); tok; tok = strtok(NULL, ",")) {
            while (*tok == ' ') tok++;
            if (!*tok) continue;
            if (n == SHOW_MAX_MODALITIES) return show_usage_error("--modalities: more than %d", SHOW_MAX_MODALITIES);
            if (!strcmp(tok, ".") || !strcmp(tok, "..") || strchr(tok, '/') || strchr(tok, '\\'))
                return show_usage_error("--modalities: '%s' is not a plain folder name", tok);
            for (int k = 0; k < n; k++)
                if (!strcmp(tok, modalities[k])) return show_usage_error("--modalities: '%s' is listed twice", tok);
            modalities[n++] = tok;
        }
        if (n == 0) return show_usage_error("--modalities: give at least one modality");
        opt.modalities = modalities;
        opt.n_modalities = (size_t)n;
    }

    mp_error err;
    mp_error_clear(&err);
    if (dicom_global_init(&err) != MP_OK) {
        fprintf(stderr, "mriprep: error: %s\n", err.msg);
        return SHOW_EXIT_USAGE;
    }
    int rc = png ? write_png(path, png, &opt) : write_gif(path, gif, &opt, fps);
    dicom_global_cleanup();
    return rc;
}
