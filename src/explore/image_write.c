/* image_write.c - PNG and animated GIF writers and the 5x7 bitmap font
 * (see include/mriprep/image_write.h and include/mriprep/font5x7.h). */
#include "mriprep/image_write.h"

#include <errno.h>
#include <fcntl.h>
#include <gif_lib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mriprep/font5x7.h"
#include "mriprep/fs.h"

/* ---- the font ---------------------------------------------------------------------- */

/* Printable ASCII 32..126, 5 columns per glyph, left to right; bit r of a column is
 * row r counted from the top. Rows 0-6 are the classic 5x7 LCD font (row 6 is the
 * baseline); row 7 holds the descenders of g, j, p, q, y and the comma, which the
 * classic font squeezes above the baseline (its g reads as a 9). */
static const uint8_t FONT5X7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, /* ' ' */
    {0x00, 0x00, 0x5F, 0x00, 0x00}, /* ! */
    {0x00, 0x07, 0x00, 0x07, 0x00}, /* " */
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, /* # */
    {0x24, 0x2A, 0x7F, 0x2A, 0x12}, /* $ */
    {0x23, 0x13, 0x08, 0x64, 0x62}, /* % */
    {0x36, 0x49, 0x55, 0x22, 0x50}, /* & */
    {0x00, 0x05, 0x03, 0x00, 0x00}, /* ' */
    {0x00, 0x1C, 0x22, 0x41, 0x00}, /* ( */
    {0x00, 0x41, 0x22, 0x1C, 0x00}, /* ) */
    {0x14, 0x08, 0x3E, 0x08, 0x14}, /* * */
    {0x08, 0x08, 0x3E, 0x08, 0x08}, /* + */
    {0x00, 0x80, 0x60, 0x00, 0x00}, /* , */
    {0x08, 0x08, 0x08, 0x08, 0x08}, /* - */
    {0x00, 0x60, 0x60, 0x00, 0x00}, /* . */
    {0x20, 0x10, 0x08, 0x04, 0x02}, /* / */
    {0x3E, 0x51, 0x49, 0x45, 0x3E}, /* 0 */
    {0x00, 0x42, 0x7F, 0x40, 0x00}, /* 1 */
    {0x42, 0x61, 0x51, 0x49, 0x46}, /* 2 */
    {0x21, 0x41, 0x45, 0x4B, 0x31}, /* 3 */
    {0x18, 0x14, 0x12, 0x7F, 0x10}, /* 4 */
    {0x27, 0x45, 0x45, 0x45, 0x39}, /* 5 */
    {0x3C, 0x4A, 0x49, 0x49, 0x30}, /* 6 */
    {0x01, 0x71, 0x09, 0x05, 0x03}, /* 7 */
    {0x36, 0x49, 0x49, 0x49, 0x36}, /* 8 */
    {0x06, 0x49, 0x49, 0x29, 0x1E}, /* 9 */
    {0x00, 0x36, 0x36, 0x00, 0x00}, /* : */
    {0x00, 0x56, 0x36, 0x00, 0x00}, /* ; */
    {0x08, 0x14, 0x22, 0x41, 0x00}, /* < */
    {0x14, 0x14, 0x14, 0x14, 0x14}, /* = */
    {0x00, 0x41, 0x22, 0x14, 0x08}, /* > */
    {0x02, 0x01, 0x51, 0x09, 0x06}, /* ? */
    {0x32, 0x49, 0x79, 0x41, 0x3E}, /* @ */
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, /* A */
    {0x7F, 0x49, 0x49, 0x49, 0x36}, /* B */
    {0x3E, 0x41, 0x41, 0x41, 0x22}, /* C */
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, /* D */
    {0x7F, 0x49, 0x49, 0x49, 0x41}, /* E */
    {0x7F, 0x09, 0x09, 0x09, 0x01}, /* F */
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, /* G */
    {0x7F, 0x08, 0x08, 0x08, 0x7F}, /* H */
    {0x00, 0x41, 0x7F, 0x41, 0x00}, /* I */
    {0x20, 0x40, 0x41, 0x3F, 0x01}, /* J */
    {0x7F, 0x08, 0x14, 0x22, 0x41}, /* K */
    {0x7F, 0x40, 0x40, 0x40, 0x40}, /* L */
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, /* M */
    {0x7F, 0x04, 0x08, 0x10, 0x7F}, /* N */
    {0x3E, 0x41, 0x41, 0x41, 0x3E}, /* O */
    {0x7F, 0x09, 0x09, 0x09, 0x06}, /* P */
    {0x3E, 0x41, 0x51, 0x21, 0x5E}, /* Q */
    {0x7F, 0x09, 0x19, 0x29, 0x46}, /* R */
    {0x46, 0x49, 0x49, 0x49, 0x31}, /* S */
    {0x01, 0x01, 0x7F, 0x01, 0x01}, /* T */
    {0x3F, 0x40, 0x40, 0x40, 0x3F}, /* U */
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, /* V */
    {0x3F, 0x40, 0x38, 0x40, 0x3F}, /* W */
    {0x63, 0x14, 0x08, 0x14, 0x63}, /* X */
    {0x07, 0x08, 0x70, 0x08, 0x07}, /* Y */
    {0x61, 0x51, 0x49, 0x45, 0x43}, /* Z */
    {0x00, 0x7F, 0x41, 0x41, 0x00}, /* [ */
    {0x02, 0x04, 0x08, 0x10, 0x20}, /* backslash */
    {0x00, 0x41, 0x41, 0x7F, 0x00}, /* ] */
    {0x04, 0x02, 0x01, 0x02, 0x04}, /* ^ */
    {0x40, 0x40, 0x40, 0x40, 0x40}, /* _ */
    {0x00, 0x01, 0x02, 0x04, 0x00}, /* ` */
    {0x20, 0x54, 0x54, 0x54, 0x78}, /* a */
    {0x7F, 0x48, 0x44, 0x44, 0x38}, /* b */
    {0x38, 0x44, 0x44, 0x44, 0x20}, /* c */
    {0x38, 0x44, 0x44, 0x48, 0x7F}, /* d */
    {0x38, 0x54, 0x54, 0x54, 0x18}, /* e */
    {0x08, 0x7E, 0x09, 0x01, 0x02}, /* f */
    {0x98, 0xA4, 0xA4, 0xA4, 0x7C}, /* g */
    {0x7F, 0x08, 0x04, 0x04, 0x78}, /* h */
    {0x00, 0x44, 0x7D, 0x40, 0x00}, /* i */
    {0x00, 0x80, 0x84, 0x7D, 0x00}, /* j */
    {0x7F, 0x10, 0x28, 0x44, 0x00}, /* k */
    {0x00, 0x41, 0x7F, 0x40, 0x00}, /* l */
    {0x7C, 0x04, 0x18, 0x04, 0x78}, /* m */
    {0x7C, 0x08, 0x04, 0x04, 0x78}, /* n */
    {0x38, 0x44, 0x44, 0x44, 0x38}, /* o */
    {0xFC, 0x24, 0x24, 0x24, 0x18}, /* p */
    {0x18, 0x24, 0x24, 0x24, 0xFC}, /* q */
    {0x7C, 0x08, 0x04, 0x04, 0x08}, /* r */
    {0x48, 0x54, 0x54, 0x54, 0x20}, /* s */
    {0x04, 0x3F, 0x44, 0x40, 0x20}, /* t */
    {0x3C, 0x40, 0x40, 0x20, 0x7C}, /* u */
    {0x1C, 0x20, 0x40, 0x20, 0x1C}, /* v */
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, /* w */
    {0x44, 0x28, 0x10, 0x28, 0x44}, /* x */
    {0x1C, 0xA0, 0xA0, 0xA0, 0x7C}, /* y */
    {0x44, 0x64, 0x54, 0x4C, 0x44}, /* z */
    {0x00, 0x08, 0x36, 0x41, 0x00}, /* { */
    {0x00, 0x00, 0x7F, 0x00, 0x00}, /* | */
    {0x00, 0x41, 0x36, 0x08, 0x00}, /* } */
    {0x08, 0x04, 0x08, 0x10, 0x08}, /* ~ */
};

int font5x7_text_width(const char *text, int scale)
{
    size_t n = strlen(text);
    return n ? (int)(FONT5X7_CELL_W * n - 1) * scale : 0;
}

static void draw_glyph(uint8_t *image, size_t stride, int width, int height, int x, int y, int scale,
                       uint8_t value, unsigned char c)
{
    const uint8_t *glyph = FONT5X7[(c >= 32 && c <= 126 ? c : '?') - 32];
    for (int col = 0; col < FONT5X7_GLYPH_W; col++)
        for (int row = 0; row < FONT5X7_INK_H; row++) {
            if (!((glyph[col] >> row) & 1)) continue;
            for (int dy = 0; dy < scale; dy++) {
                int py = y + row * scale + dy;
                if (py < 0 || py >= height) continue;
                for (int dx = 0; dx < scale; dx++) {
                    int px = x + col * scale + dx;
                    if (px >= 0 && px < width) image[(size_t)py * stride + (size_t)px] = value;
                }
            }
        }
}

int font5x7_draw_text(uint8_t *image, size_t stride, int width, int height, int x, int y, int scale,
                      uint8_t value, const char *text)
{
    if (scale < 1) scale = 1;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (x >= width) { /* the rest is clipped; keep counting the advance */
            x += FONT5X7_CELL_W * scale;
            continue;
        }
        draw_glyph(image, stride, width, height, x, y, scale, value, *p);
        x += FONT5X7_CELL_W * scale;
    }
    return x;
}

int font5x7_draw_wrapped(uint8_t *image, size_t stride, int width, int height, int x, int y, int max_width,
                         int scale, uint8_t value, const char *text)
{
    if (scale < 1) scale = 1;
    int per_line = (max_width + scale) / (FONT5X7_CELL_W * scale); /* the last cell needs no blank column */
    if (per_line < 1) per_line = 1;
    char line[1024];
    if (per_line > (int)sizeof line - 1) per_line = (int)sizeof line - 1;
    int lines = 0;
    const char *p = text;
    while (*p && y < height) {
        /* The longest prefix that fits, ending at a break opportunity when there is one. */
        int n = 0, brk = -1;
        while (p[n] && p[n] != '\n' && n < per_line) {
            if (p[n] == ' ') brk = n;       /* break before the space (dropped) */
            else if (p[n] == '/') brk = n + 1; /* break after the slash (kept) */
            n++;
        }
        int take = n, skip = 0;
        if (p[n] == '\n') {
            skip = 1;
        } else if (p[n] && brk > 0) {
            take = brk;
        }
        memcpy(line, p, (size_t)take);
        line[take] = '\0';
        font5x7_draw_text(image, stride, width, height, x, y, scale, value, line);
        lines++;
        y += FONT5X7_CELL_H * scale;
        p += take + skip;
        while (*p == ' ') p++; /* a wrapped line does not start with spaces */
    }
    return lines;
}

/* ---- images and atomic files -------------------------------------------------------- */

mp_status gray8_image_alloc(gray8_image_t *img, int width, int height, uint8_t fill, mp_error *err)
{
    memset(img, 0, sizeof *img);
    if (width < 1 || height < 1 || width > IMAGE_MAX_DIM || height > IMAGE_MAX_DIM)
        return mp_fail(err, MP_ERR_USAGE, "image of %d x %d pixels: sizes are 1..%d", width, height,
                       IMAGE_MAX_DIM);
    img->pixels = malloc((size_t)width * (size_t)height);
    if (!img->pixels) return mp_fail(err, MP_ERR_NOMEM, "out of memory for a %d x %d image", width, height);
    memset(img->pixels, fill, (size_t)width * (size_t)height);
    img->width = width;
    img->height = height;
    return MP_OK;
}

void gray8_image_free(gray8_image_t *img)
{
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* ---- PNG ---------------------------------------------------------------------------- */

typedef struct png_error_ctx {
    char msg[200];   /* libpng's message */
    int saved_errno; /* errno when libpng gave up (a failed fwrite sets it) */
} png_error_ctx_t;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_error_ctx_t *ctx = png_get_error_ptr(png);
    ctx->saved_errno = errno;
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* the library never prints */
}

/* Encodes pixels [height][width] into `f`. Only what is set before setjmp is used after
 * a longjmp back to it, so nothing needs to be volatile. */
static mp_status png_encode(FILE *f, const char *path, int width, int height, const uint8_t *pixels,
                            mp_error *err)
{
    png_error_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    if (!png) return mp_fail(err, MP_ERR_NOMEM, "%s: cannot start libpng (out of memory)", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return mp_fail(err, MP_ERR_NOMEM, "%s: cannot start libpng (out of memory)", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        if (ctx.saved_errno)
            return mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s (libpng: %s)", path, strerror(ctx.saved_errno),
                           ctx.msg);
        return mp_fail(err, MP_ERR_WRITE, "%s: cannot write: libpng: %s", path, ctx.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * (size_t)width);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return MP_OK;
}

mp_status png_write_gray8(const char *path, int width, int height, const uint8_t *pixels, mp_error *err)
{
    if (!pixels || width < 1 || height < 1 || width > IMAGE_MAX_DIM || height > IMAGE_MAX_DIM)
        return mp_fail(err, MP_ERR_USAGE, "%s: cannot write a %d x %d image%s", path, width, height,
                       pixels ? "" : " without pixels");
    atomic_file_t af;
    mp_status st = atomic_file_open(&af, path, err);
    if (st != MP_OK) return st;
    FILE *f = fdopen(af.fd, "wb");
    if (!f) {
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", path, strerror(errno));
        atomic_file_abort(&af);
        return st;
    }
    af.fd = -1; /* the FILE owns it now */
    st = png_encode(f, path, width, height, pixels, err);
    if (st == MP_OK && (fflush(f) != 0 || ferror(f)))
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", path, strerror(errno));
    if (fclose(f) != 0 && st == MP_OK) st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", path, strerror(errno));
    if (st != MP_OK) {
        atomic_file_abort(&af);
        return st;
    }
    return atomic_file_commit(&af, err);
}

/* ---- GIF ---------------------------------------------------------------------------- */

/* "<giflib's words> (<OS error>)" when the OS said something, else giflib's words. */
static mp_status gif_fail(mp_error *err, const char *path, const char *doing, int gif_error, int os_errno)
{
    const char *words = GifErrorString(gif_error);
    if (!words) words = "unknown giflib error";
    if (os_errno)
        return mp_fail(err, MP_ERR_WRITE, "%s: cannot %s: %s (giflib: %s)", path, doing, strerror(os_errno), words);
    return mp_fail(err, MP_ERR_WRITE, "%s: cannot %s: giflib: %s", path, doing, words);
}

mp_status gif_writer_open(gif_writer_t *w, const char *path, int width, int height, int delay_cs, mp_error *err)
{
    memset(w, 0, sizeof *w);
    if (width < 1 || height < 1 || width > IMAGE_MAX_DIM || height > IMAGE_MAX_DIM)
        return mp_fail(err, MP_ERR_USAGE, "%s: cannot write %d x %d frames", path, width, height);
    if (delay_cs < 0 || delay_cs > 65535)
        return mp_fail(err, MP_ERR_USAGE, "%s: frame delay %d is outside 0..65535 hundredths", path, delay_cs);
    w->path = strdup(path);
    w->row = malloc((size_t)width);
    if (!w->path || !w->row) {
        gif_writer_abort(w);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    mp_status st = atomic_file_open(&w->file, path, err);
    if (st != MP_OK) {
        gif_writer_abort(w);
        return st;
    }
    int gerr = 0;
    errno = 0;
    GifFileType *gif = EGifOpenFileHandle(w->file.fd, &gerr);
    if (!gif) { /* giflib does not close the handle it failed to take: abort does */
        st = gif_fail(err, path, "write", gerr, errno);
        gif_writer_abort(w);
        return st;
    }
    w->file.fd = -1; /* giflib closes it in EGifCloseFile */
    w->gif = gif;
    w->width = width;
    w->height = height;
    w->delay_cs = delay_cs;

    ColorMapObject *map = GifMakeMapObject(256, NULL);
    if (!map) {
        gif_writer_abort(w);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < 256; i++)
        map->Colors[i].Red = map->Colors[i].Green = map->Colors[i].Blue = (GifByteType)i;
    EGifSetGifVersion(gif, true); /* extensions need GIF89a */
    errno = 0;
    int ok = EGifPutScreenDesc(gif, width, height, 8, 0, map) == GIF_OK;
    GifFreeMapObject(map);
    /* Loop forever: application extension "NETSCAPE2.0", sub-block {1, count 0 (LE)}. */
    static const GifByteType loop[3] = {1, 0, 0};
    ok = ok && EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_OK &&
         EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_OK && EGifPutExtensionBlock(gif, 3, loop) == GIF_OK &&
         EGifPutExtensionTrailer(gif) == GIF_OK;
    if (!ok) {
        st = gif_fail(err, path, "write", gif->Error, errno);
        gif_writer_abort(w);
        return st;
    }
    return MP_OK;
}

mp_status gif_writer_add_frame(gif_writer_t *w, const uint8_t *pixels, mp_error *err)
{
    GifFileType *gif = w->gif;
    if (!gif) return mp_fail(err, MP_ERR_INTERNAL, "GIF writer used after it was closed");
    GraphicsControlBlock gcb;
    memset(&gcb, 0, sizeof gcb);
    gcb.DisposalMode = DISPOSE_DO_NOT; /* each frame covers the whole screen anyway */
    gcb.UserInputFlag = false;
    gcb.DelayTime = w->delay_cs;
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    size_t ext_len = EGifGCBToExtension(&gcb, ext);
    errno = 0;
    int ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)ext_len, ext) == GIF_OK &&
             EGifPutImageDesc(gif, 0, 0, w->width, w->height, false, NULL) == GIF_OK;
    for (int y = 0; ok && y < w->height; y++) {
        memcpy(w->row, pixels + (size_t)y * (size_t)w->width, (size_t)w->width);
        ok = EGifPutLine(gif, w->row, w->width) == GIF_OK;
    }
    if (!ok) return gif_fail(err, w->path, "write", gif->Error, errno);
    w->frames++;
    return MP_OK;
}

mp_status gif_writer_close(gif_writer_t *w, mp_error *err)
{
    if (!w->gif) {
        gif_writer_abort(w);
        return mp_fail(err, MP_ERR_INTERNAL, "GIF writer closed twice");
    }
    if (w->frames == 0) {
        mp_status st = mp_fail(err, MP_ERR_USAGE, "%s: a GIF needs at least one frame", w->path);
        gif_writer_abort(w);
        return st;
    }
    int gerr = 0;
    errno = 0;
    int ok = EGifCloseFile(w->gif, &gerr) == GIF_OK; /* frees the handle in every case */
    int saved = errno;
    w->gif = NULL;
    mp_status st = MP_OK;
    if (!ok) st = gif_fail(err, w->path, "write", gerr, saved);
    else st = atomic_file_commit(&w->file, err);
    gif_writer_abort(w);
    return st;
}

void gif_writer_abort(gif_writer_t *w)
{
    if (!w) return;
    if (w->gif) {
        int gerr;
        EGifCloseFile(w->gif, &gerr);
    }
    atomic_file_abort(&w->file);
    free(w->path);
    free(w->row);
    memset(w, 0, sizeof *w);
}
