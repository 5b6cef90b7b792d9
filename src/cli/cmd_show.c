/* cmd_show.c - `mriprep show`: a PNG of the middle slices of a patient side by side, or
 * an animated GIF through a series or an output volume (src/explore/show.c draws them,
 * src/explore/image_write.c writes them). Exit codes: 0 written, 1 usage error or nothing to
 * show, 4 the output cannot be written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "exit_codes.h"
#include "mriprep/dicom.h"
#include "mriprep/image_write.h"
#include "mriprep/show.h"
#include "options.h"


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
        gray8_image_free(&img);
        show_summary_free(&sum);
        return exit_with_error(NULL, &err);
    }
    printf("wrote %s: %dx%d PNG, %zu tile%s from a %s", out_path, img.width, img.height, sum.tiles,
           sum.tiles == 1 ? "" : "s", show_source_name(sum.source));
    if (sum.pictures < sum.tiles) printf(" (%zu without a slice)", sum.tiles - sum.pictures);
    printf("\n");
    gray8_image_free(&img);
    show_summary_free(&sum);
    return EXIT_ALL_OK;
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
        show_summary_free(&sum);
        return exit_with_error(NULL, &err);
    }
    printf("wrote %s: %dx%d GIF, %zu frame%s at %d fps (%.2f s per frame) from %zu slices of a %s", out_path,
           opt->size, opt->size, sum.frames, sum.frames == 1 ? "" : "s", fps, sink.delay_cs / 100.0, sum.slices,
           show_source_name(sum.source));
    if (sum.blank) printf("; %zu blank skipped", sum.blank);
    if (sum.failed) printf("; %zu undecodable skipped", sum.failed);
    printf("\n");
    show_summary_free(&sum);
    return EXIT_ALL_OK;
}

typedef struct show_cli {
    show_options_t opt;
    const char *png, *gif;
    int fps;
    option_list_t modalities;
    pipeline_options_t words; /* --layout's word lands here */
    int at_seen, modalities_seen, labels_seen, fps_seen;
} show_cli_t;

/* What the options leave to check: a PATH, one picture, options that fit it. */
static mp_status check_show(const show_cli_t *c, mp_error *err)
{
    if (!c->png && !c->gif) return mp_fail(err, MP_ERR_USAGE, "show needs --png FILE or --gif FILE");
    if (c->png && c->gif) return mp_fail(err, MP_ERR_USAGE, "give one of --png and --gif, not both");
    const char *png_only = c->at_seen ? "--at" : c->modalities_seen ? "--modalities" : c->labels_seen ? "--labels" : NULL;
    if (c->gif && png_only) return mp_fail(err, MP_ERR_USAGE, "%s applies to --png, not --gif", png_only);
    if (c->png && c->fps_seen) return mp_fail(err, MP_ERR_USAGE, "--fps applies to --gif, not --png");
    return MP_OK;
}

/* The command line into c: 1 to go on, else 0 with *rc the exit code. */
static int parse_show(int argc, char **argv, show_cli_t *c, const char **path, int *rc)
{
    show_options_default(&c->opt);
    pipeline_options_default(&c->words);
    c->fps = 24;
    const option_spec_t specs[] = {
        {.name = "--png", .kind = OPT_STRING, .target = &c->png, .nonempty = 1},
        {.name = "--gif", .kind = OPT_STRING, .target = &c->gif, .nonempty = 1},
        {.name = "--at", .kind = OPT_NUMBER, .target = &c->opt.at, .lo = 0, .hi = 1, .seen = &c->at_seen},
        {.name = "--size", .kind = OPT_WHOLE, .target = &c->opt.size, .lo = SHOW_MIN_SIZE, .hi = SHOW_MAX_SIZE},
        {.name = "--modalities", .kind = OPT_LIST, .target = &c->modalities, .parse = option_parse_modalities,
         .seen = &c->modalities_seen},
        {.name = "--labels", .kind = OPT_STRING, .target = &c->opt.labels_path, .nonempty = 1, .seen = &c->labels_seen},
        {.name = "--fps", .kind = OPT_WHOLE, .target = &c->fps, .lo = 1, .hi = 100, .seen = &c->fps_seen},
        {.name = "--layout", .kind = OPT_WORD, .target = &c->words},
    };
    if (!command_options("show", SHOW_USAGE, argc, argv, specs, sizeof specs / sizeof *specs, path, 1, 1,
                         "show needs a PATH: a patient folder, a series folder or an .npy volume", rc))
        return 0;
    c->opt.layout = c->words.layout;
    if (c->modalities_seen) c->opt.modalities = c->modalities.items, c->opt.n_modalities = c->modalities.n;
    mp_error err;
    if (check_show(c, &err) != MP_OK) {
        *rc = usage_error("show", &err);
        return 0;
    }
    return 1;
}

int cmd_show(int argc, char **argv)
{
    show_cli_t *c = calloc(1, sizeof *c);
    if (!c) return EXIT_USAGE;
    const char *path = NULL;
    int rc;
    if (!parse_show(argc, argv, c, &path, &rc)) {
        free(c);
        return rc;
    }
    mp_error err;
    if (dicom_global_init(&err) != MP_OK) rc = exit_with_error(NULL, &err);
    else rc = c->png ? write_png(path, c->png, &c->opt) : write_gif(path, c->gif, &c->opt, c->fps);
    dicom_global_cleanup();
    free(c);
    return rc;
}
