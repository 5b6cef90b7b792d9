/* font5x7.h - a small built-in bitmap font for the titles of `mriprep show`.
 *
 * Printable ASCII (32..126) in 5x7 glyphs (plus one row below the baseline for the
 * descenders of g, j, p, q, y and ',') on a 6x9 cell (one blank column between
 * characters, one blank row between lines), drawn into 8-bit grayscale images stored row-major
 * as [height][stride] bytes. Anything outside printable ASCII is drawn as '?'.
 * Every glyph may be scaled by a whole factor (each font pixel becomes scale x scale
 * image pixels). Drawing is clipped to the width x height given, so text never writes
 * outside the image (or the tile) it is drawn into.
 *
 * The table and the functions are in src/explore/image_write.c.
 */
#ifndef MRIPREP_FONT5X7_H
#define MRIPREP_FONT5X7_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FONT5X7_GLYPH_W 5 /* font pixels of ink per glyph, horizontally */
#define FONT5X7_GLYPH_H 7 /* font pixels of ink per glyph, vertically, down to the baseline */
#define FONT5X7_INK_H 8   /* ... and with the descender row below it */
#define FONT5X7_CELL_W 6  /* advance per character, font pixels */
#define FONT5X7_CELL_H 9  /* advance per line, font pixels */

/* Width in image pixels of `text` drawn at `scale` (no trailing blank column):
 * n characters take (6 n - 1) * scale pixels; "" takes 0. */
int font5x7_text_width(const char *text, int scale);

/* Draws `text` on one line with its top-left corner at (x, y), setting the ink pixels
 * to `value` and leaving the rest untouched. `image` is [height][stride] bytes;
 * pixels outside [0, width) x [0, height) are not written (x and y may be negative).
 * Returns the x just after the last character cell drawn (x + 6 n * scale). */
int font5x7_draw_text(uint8_t *image, size_t stride, int width, int height, int x, int y, int scale,
                      uint8_t value, const char *text);

/* Draws `text` from (x, y) in lines of at most `max_width` pixels: lines break at
 * '\n', else at the last space or '/' that fits, else inside a word too long for a
 * line. Stops at the bottom of the image. Returns the number of lines drawn. */
int font5x7_draw_wrapped(uint8_t *image, size_t stride, int width, int height, int x, int y, int max_width,
                         int scale, uint8_t value, const char *text);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_FONT5X7_H */
