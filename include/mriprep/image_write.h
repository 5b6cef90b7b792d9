/* image_write.h - 8-bit grayscale pictures to files: PNG (libpng) and animated GIF
 * (giflib 5.2), for `mriprep show`.
 *
 * Like every output of mriprep, a picture is written under a temporary name in its
 * target folder ("<dir>/.<name>.tmp.<pid>") and renamed over the final name only once
 * it is complete, so a failure (disk full, no permission, a library error) never
 * leaves a partial file under the final name, and leaves no temporary file either.
 * Missing parent folders are created. Errors come back as MP_ERR_WRITE with a
 * message naming the path and the OS or library error.
 *
 * Images are row-major [height][width] bytes, 0 black .. 255 white.
 */
#ifndef MRIPREP_IMAGE_WRITE_H
#define MRIPREP_IMAGE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/fs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest width or height of a picture written here, pixels (GIF's 16-bit limit). */
#define IMAGE_MAX_DIM 65535

/* An 8-bit grayscale picture: pixels [height][width], owned (malloc) by whoever filled it. */
typedef struct gray8_image {
    int width, height; /* pixels */
    uint8_t *pixels;   /* [height][width] */
} gray8_image_t;

/* Allocates a width x height picture filled with `fill`. MP_ERR_USAGE for a size
 * outside 1..IMAGE_MAX_DIM, MP_ERR_NOMEM. On failure *img is zeroed. */
mp_status gray8_image_alloc(gray8_image_t *img, int width, int height, uint8_t fill, mp_error *err);

/* Frees the pixels and zeroes *img. Safe on a zeroed image, NULL, and twice. */
void gray8_image_free(gray8_image_t *img);

/* Writes pixels [height][width] as an 8-bit grayscale PNG at `path`, atomically.
 * Returns MP_OK, MP_ERR_USAGE (NULL pixels, size outside 1..IMAGE_MAX_DIM),
 * MP_ERR_NOMEM, or MP_ERR_WRITE ("<path>: cannot ...: <OS or libpng error>"). */
mp_status png_write_gray8(const char *path, int width, int height, const uint8_t *pixels, mp_error *err);

/* An animated GIF being written: gif_writer_open, gif_writer_add_frame per frame,
 * then gif_writer_close (complete: renamed into place) or gif_writer_abort (nothing
 * is left behind). Fields are private. */
typedef struct gif_writer {
    void *gif;          /* GifFileType *, open on the temporary file */
    atomic_file_t file; /* the temporary file, renamed into place by gif_writer_close */
    char *path;         /* the final name, for messages */
    int width, height;  /* frame size, pixels */
    int delay_cs;       /* per frame, hundredths of a second */
    size_t frames;      /* frames added so far */
    uint8_t *row;       /* [width]: giflib wants a mutable row */
} gif_writer_t;

/* Starts a GIF89a at `path` (under a temporary name) of width x height frames with a
 * global palette of the 256 grays (index i is gray i, so frame values are written
 * as they are), looping forever (NETSCAPE2.0 application extension, count 0).
 * delay_cs: the time each frame shows, in hundredths of a second, 0..65535
 * (round(100 / fps); viewers tend to treat 0 and 1 as 10).
 * Returns MP_OK, MP_ERR_USAGE (size or delay out of range), MP_ERR_NOMEM or
 * MP_ERR_WRITE. On failure *w is zeroed and nothing is left on disk. */
mp_status gif_writer_open(gif_writer_t *w, const char *path, int width, int height, int delay_cs, mp_error *err);

/* Appends one frame, pixels [height][width] gray values, with its graphic control
 * extension (the delay; no transparency). MP_ERR_WRITE on failure; the writer is then
 * still to be aborted. */
mp_status gif_writer_add_frame(gif_writer_t *w, const uint8_t *pixels, mp_error *err);

/* Writes the trailer, closes the file and renames it into place. A GIF with no frame
 * is MP_ERR_USAGE (and is not written). On any failure nothing is left on disk.
 * *w is zeroed in every case. */
mp_status gif_writer_close(gif_writer_t *w, mp_error *err);

/* Closes and deletes the temporary file; zeroes *w. Safe on a zeroed writer and twice. */
void gif_writer_abort(gif_writer_t *w);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_IMAGE_WRITE_H */
