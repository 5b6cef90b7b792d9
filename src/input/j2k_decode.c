/* j2k_decode.c - JPEG 2000 frames (transfer syntaxes 1.2.840.10008.1.2.4.90 to .93)
 * through OpenJPEG, for the decode stage (include/mriprep/dicom.h, dicom_j2k_decode).
 *
 * The codestream (raw J2K, or a JP2 file, told apart by their first bytes) is read from
 * memory. Its main header is read first, and its image must be what the DICOM header
 * says (one component, Rows x Columns, at most 16 bits) before OpenJPEG decodes, and so
 * allocates, anything; the caller's room for the values is asked for after the decode. The decoded integers are then stored as the uncompressed path
 * stores values (dicom_store_values: masked to BitsStored, sign-extended from HighBit
 * where PixelRepresentation is 1), so a lossless J2K file gives the bytes its
 * uncompressed original gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openjpeg.h>

#include "mriprep/dicom.h"

/* The codestream as an OpenJPEG input stream. */
typedef struct memory_source {
    const unsigned char *data;
    size_t size, at;
} memory_source_t;

static OPJ_SIZE_T source_read(void *buf, OPJ_SIZE_T n, void *user)
{
    memory_source_t *m = user;
    if (m->at >= m->size) return (OPJ_SIZE_T)-1; /* OpenJPEG's end of stream */
    const size_t left = m->size - m->at, take = n < left ? n : left;
    memcpy(buf, m->data + m->at, take);
    m->at += take;
    return take;
}

static OPJ_OFF_T source_skip(OPJ_OFF_T n, void *user)
{
    memory_source_t *m = user;
    if (n < 0) {
        if ((size_t)-n > m->at) return -1;
        m->at -= (size_t)-n;
        return n;
    }
    const size_t left = m->size - m->at, take = (size_t)n < left ? (size_t)n : left;
    m->at += take;
    return (OPJ_OFF_T)take;
}

static OPJ_BOOL source_seek(OPJ_OFF_T to, void *user)
{
    memory_source_t *m = user;
    if (to < 0 || (uint64_t)to > m->size) return OPJ_FALSE;
    m->at = (size_t)to;
    return OPJ_TRUE;
}

/* OpenJPEG's first error message, kept for ours; warnings and notes are dropped. */
typedef struct message {
    char text[160];
} message_t;

static void on_error(const char *msg, void *user)
{
    message_t *m = user;
    if (m->text[0]) return;
    snprintf(m->text, sizeof m->text, "%s", msg);
    size_t n = strlen(m->text);
    while (n && (m->text[n - 1] == '\n' || m->text[n - 1] == ' ')) m->text[--n] = '\0';
}

static void on_nothing(const char *msg, void *user)
{
    (void)msg, (void)user;
}

const char *dicom_j2k_library(void)
{
    return opj_version();
}

mp_status dicom_j2k_decode(const char *name, const unsigned char *code, size_t size, const dicom_header_t *hdr,
                           dicom_place_fn place, void *ctx, mp_error *err)
{
    uint16_t *out = NULL;
    static const unsigned char jp2_magic[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
    static const unsigned char j2k_magic[4] = {0xFF, 0x4F, 0xFF, 0x51}; /* SOC, then SIZ */
    OPJ_CODEC_FORMAT format;
    if (size >= sizeof jp2_magic && !memcmp(code, jp2_magic, sizeof jp2_magic)) format = OPJ_CODEC_JP2;
    else if (size >= sizeof j2k_magic && !memcmp(code, j2k_magic, sizeof j2k_magic)) format = OPJ_CODEC_J2K;
    else return mp_fail(err, MP_ERR_FORMAT, "%s: the JPEG 2000 frame starts with neither a codestream nor a JP2 box", name);

    memory_source_t source = {code, size, 0};
    message_t message;
    memset(&message, 0, sizeof message);
    opj_codec_t *codec = opj_create_decompress(format);
    opj_stream_t *stream = opj_stream_create(1 << 16, OPJ_TRUE);
    opj_image_t *image = NULL;
    mp_status st = MP_OK;
    if (!codec || !stream) {
        st = mp_fail(err, MP_ERR_NOMEM, "%s: cannot start the JPEG 2000 decoder", name);
        goto done;
    }
    opj_set_error_handler(codec, on_error, &message);
    opj_set_warning_handler(codec, on_nothing, NULL);
    opj_set_info_handler(codec, on_nothing, NULL);
    opj_stream_set_user_data(stream, &source, NULL);
    opj_stream_set_user_data_length(stream, (OPJ_UINT64)size);
    opj_stream_set_read_function(stream, source_read);
    opj_stream_set_skip_function(stream, source_skip);
    opj_stream_set_seek_function(stream, source_seek);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec, &params) || !opj_read_header(stream, codec, &image) || !image) {
        st = mp_fail(err, MP_ERR_FORMAT, "%s: unreadable JPEG 2000 header (%s)", name,
                     message.text[0] ? message.text : "OpenJPEG gave no reason");
        goto done;
    }
    /* What the DICOM header promised, before anything is decoded (or allocated). */
    const uint64_t width = (uint64_t)image->x1 - image->x0, height = (uint64_t)image->y1 - image->y0;
    if (image->numcomps != 1 || width != hdr->cols || height != hdr->rows || image->x1 < image->x0 ||
        image->y1 < image->y0) {
        st = mp_fail(err, MP_ERR_FORMAT, "%s: the JPEG 2000 image is %llu x %llu with %u components; the header says "
                     "%u x %u, one component", name, (unsigned long long)width, (unsigned long long)height,
                     image->numcomps, hdr->cols, hdr->rows);
        goto done;
    }
    const opj_image_comp_t *c0 = &image->comps[0];
    if (c0->prec < 1 || c0->prec > 16 || c0->dx != 1 || c0->dy != 1 || c0->prec > hdr->bits_allocated) {
        st = mp_fail(err, MP_ERR_FORMAT, "%s: JPEG 2000 samples of %u bits (subsampling %u x %u) for %u bits allocated",
                     name, c0->prec, c0->dx, c0->dy, hdr->bits_allocated);
        goto done;
    }
    if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
        st = mp_fail(err, MP_ERR_FORMAT, "%s: corrupt JPEG 2000 data (%s)", name,
                     message.text[0] ? message.text : "OpenJPEG gave no reason");
        goto done;
    }
    const opj_image_comp_t *c = &image->comps[0];
    const size_t n = (size_t)hdr->rows * hdr->cols;
    if (!c->data || c->w != hdr->cols || c->h != hdr->rows) {
        st = mp_fail(err, MP_ERR_FORMAT, "%s: the JPEG 2000 decoder gave a %u x %u plane for %u x %u", name, c->w,
                     c->h, hdr->cols, hdr->rows);
        goto done;
    }
    if ((st = place(ctx, n, &out, err)) != MP_OK) goto done;
    /* The integers' low bits as the file's words (bytes for 8 bits allocated), then the
     * stored-values rule, as for uncompressed data. */
    if (hdr->bits_allocated == 8) {
        unsigned char *bytes = malloc(n ? n : 1);
        if (!bytes) {
            st = mp_fail(err, MP_ERR_NOMEM, "%s: out of memory decoding JPEG 2000", name);
            goto done;
        }
        for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)(uint32_t)c->data[i];
        dicom_store_values(bytes, out, n, hdr);
        free(bytes);
    } else {
        for (size_t i = 0; i < n; i++) out[i] = (uint16_t)(uint32_t)c->data[i];
        dicom_store_values(out, out, n, hdr);
    }
done:
    if (image) opj_image_destroy(image);
    if (stream) opj_stream_destroy(stream);
    if (codec) opj_destroy_codec(codec);
    return st;
}
