/* show.h - pictures of series for a person to look at (`mriprep show`).
 *
 * Three kinds of PATH (show_classify):
 *   patient folder  DATA/train/<id>/ holding one folder per modality: a PNG with one
 *                   tile per requested modality, side by side in the requested order;
 *   series folder   a folder holding .dcm files (one modality of one patient): a PNG
 *                   with its one tile, or a GIF through its slices in file order;
 *   .npy volume     what `mriprep run` writes ((H, W, D) or (D, H, W)): a PNG with the
 *                   slice at --at, or a GIF through all its slices.
 *
 * A tile is one slice scaled to [0, 1] (a DICOM slice by its own min and max, as
 * numpy does in float32; a slice of a .npy volume by the volume's min and max, since
 * its values are z-scores), resized to size x size with the project's INTER_AREA
 * resize (bit-exact with OpenCV), then rounded half up to 8 bits:
 * gray = floor(v * 255 + 0.5) in float32. A constant slice (min == max) is blank: the
 * GIF skips it, and the PNG shows the nearest nonblank slice instead (ties: the
 * earlier one) and says so in the title ("FLAIR (slice 12/40)").
 *
 * PNG geometry, for n tiles of size S (show_png_geometry): tiles are S pixels apart
 * plus a gap of SHOW_TILE_GAP pixels of gray SHOW_GAP_GRAY; above each tile a black
 * strip of show_title_height(S) pixels holds its title in white, in the built-in 5x7
 * font (font5x7.h): the modality (or the folder or .npy file name), then
 * "  label <v>" when the labels file has the patient. Width n S + (n - 1) gap, height
 * strip + S. A tile that cannot show a slice (missing folder, no .dcm files, a file
 * that cannot be decoded, every slice blank) is dark gray (SHOW_MESSAGE_GRAY) with the
 * reason written in it.
 *
 * Labels: from options.labels_path when set, else from train_labels.csv two folders
 * above the patient folder (DATA/train/<id> -> DATA/train_labels.csv) or one above
 * (flat layout), matched by the patient folder's name (00109 matches 109). Patients
 * under a folder named "test" get no label from a file found that way. The patient
 * folder of a series is its parent, of a .npy volume the folder it is in.
 *
 * DICOM files are decoded with dicom.h: call dicom_global_init() once before these
 * functions. The library never prints: what the user should hear about (a file that
 * could not be decoded, a substituted slice, an unreadable labels file) comes back as
 * lines in show_summary_t.notes.
 */
#ifndef MRIPREP_SHOW_H
#define MRIPREP_SHOW_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/image_write.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHOW_MIN_SIZE 16     /* smallest tile / frame edge, pixels */
#define SHOW_MAX_SIZE 4096   /* largest tile / frame edge, pixels */
#define SHOW_TILE_GAP 4      /* pixels between two tiles of a PNG */
#define SHOW_GAP_GRAY 64     /* gray of the gap */
#define SHOW_MESSAGE_GRAY 40 /* background of a tile that shows a message instead of a slice */

typedef struct show_options {
    double at;                     /* --at: which slice, as a fraction of the series: file
                                      index round(at * (n - 1)), half up; 0..1 (0.5) */
    int size;                      /* --size: tile and frame edge, pixels (256) */
    const char *const *modalities; /* [n_modalities] tiles of a patient folder, in order
                                      (FLAIR, T1w, T1wCE, T2w) */
    size_t n_modalities;
    const char *labels_path;       /* --labels; NULL: look for train_labels.csv (see above) */
    volume_layout_t layout;        /* axes of a .npy volume (LAYOUT_HWD) */
} show_options_t;

/* The defaults above (modalities point to static strings). */
void show_options_default(show_options_t *opt);

typedef enum show_source {
    SHOW_SOURCE_PATIENT = 0,
    SHOW_SOURCE_SERIES,
    SHOW_SOURCE_NPY
} show_source_t;

/* "patient folder", "series folder", ".npy volume". */
const char *show_source_name(show_source_t source);

/* What PATH is: a regular file whose name ends in .npy (any case) is a volume; a folder
 * holding .dcm files is a series; a folder holding at least one of the requested
 * modality folders is a patient. Returns MP_OK; MP_ERR_IO (PATH cannot be read or
 * listed); MP_ERR_USAGE (none of these: the message says what PATH is and what is
 * expected). */
mp_status show_classify(const char *path, const show_options_t *opt, show_source_t *source, mp_error *err);

/* Height of the title strip above a tile of `size` pixels: 12 x the font scale, which
 * is 1 below 512 pixels and 2 from 512 up. */
int show_title_height(int size);
int show_title_scale(int size);

/* Width and height of a PNG of n_tiles tiles of `size` pixels (see above). */
void show_png_geometry(int size, size_t n_tiles, int *width, int *height);

/* What a call did, and what to tell the user. Free with show_summary_free. */
typedef struct show_summary {
    show_source_t source;
    size_t tiles;    /* PNG: tiles drawn */
    size_t pictures; /* PNG: tiles that hold a slice (the others hold a message) */
    size_t slices;   /* GIF: files of the series, or slices of the volume */
    size_t frames;   /* GIF: frames given to the callback */
    size_t blank;    /* GIF: constant slices skipped */
    size_t failed;   /* GIF: files skipped because they could not be decoded */
    char **notes;    /* [n_notes] warnings, one line each (no newline) */
    size_t n_notes;
} show_summary_t;

void show_summary_free(show_summary_t *sum);

/* Draws the PNG picture of `path` into *out (pixels [height][width], the caller's to
 * gray8_image_free; show_png_geometry gives its size). *sum is filled (zeroed first;
 * free it also on failure). Returns MP_OK when at least one tile holds a slice;
 * MP_ERR_USAGE (bad options, PATH not showable: see show_classify), MP_ERR_IO,
 * MP_ERR_FORMAT or the decode error when nothing at all can be shown (the message
 * names PATH and the reason for every tile, e.g. the file that failed), MP_ERR_FORMAT
 * or its npy_read error for a bad .npy file, MP_ERR_IO / MP_ERR_FORMAT for a labels
 * file given in options.labels_path that cannot be read, MP_ERR_NOMEM. */
mp_status show_png(const char *path, const show_options_t *opt, gray8_image_t *out, show_summary_t *sum,
                   mp_error *err);

/* Receives one frame: pixels [height][width] gray values (valid during the call).
 * A status other than MP_OK stops show_frames, which returns it with err as set here. */
typedef mp_status (*show_frame_fn)(void *ctx, const uint8_t *pixels, int width, int height, mp_error *err);

/* Calls on_frame for every nonblank slice of a series folder (files in natural order;
 * a file that cannot be decoded is skipped and noted) or of a .npy volume (scaled by
 * the volume's min and max), in order; frames are size x size. A patient folder is
 * MP_ERR_USAGE (the message suggests a series folder). When no frame at all can be
 * made, returns MP_ERR_FORMAT (every slice blank) or the decode error of the files
 * (the message names PATH and the files), without calling on_frame. *sum is filled
 * (zeroed first; free it also on failure). */
mp_status show_frames(const char *path, const show_options_t *opt, show_frame_fn on_frame, void *ctx,
                      show_summary_t *sum, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_SHOW_H */
