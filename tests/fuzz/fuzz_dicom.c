/* fuzz_dicom.c - libFuzzer target for the DICOM shim (src/input/dicom_dcmtk.cpp).
 *
 * Each input is written to Image-1.dcm in this process's folder (fuzz_util.h) and read
 * twice, as mriprep reads real files: dicom_read_header() (what `scan` does) and
 * dicom_decode_slice_alloc() (what `run` does). Besides crashes, leaks, hangs and
 * undefined behaviour (the sanitizers), it checks what include/mriprep/dicom.h
 * promises and aborts when a promise breaks:
 *   - every status is one the header documents, and err.code says the same;
 *   - on an error: the message is not empty and starts with the file's base name, and
 *     no pixels are handed out;
 *   - on MP_OK: rows and cols in 1..DICOM_MAX_DIM, rows*cols <= DICOM_MAX_FRAME_PIXELS,
 *     8 or 16 bits allocated, stored <= allocated, one sample, one frame, pixels
 *     non-NULL and every value within BitsStored (masked, or sign-extended when
 *     signed); each of the rows*cols values is read, so ASan sees a short buffer;
 *   - both calls agree: when the header read passes but the decode fails, the decode's
 *     reason is one only the pixel data can give (see header_ok_decode_failed_is_allowed);
 *     when both pass, they describe the same image.
 *
 * dcmtk itself (Debian's libdcmtk17) is not instrumented for coverage; our shim is,
 * and ASan still sees dcmtk's heap through its malloc/new interceptors.
 */
#include "mriprep/dicom.h"

#include "fuzz_util.h"

#include <inttypes.h>

static const char *const input_name = "Image-1.dcm";
static const char *input_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mp_error err;
    mp_error_clear(&err);
    FUZZ_CHECK(dicom_global_init(&err) == MP_OK, "dicom_global_init: %s", err.msg);
    fuzz_make_dir("dicom");
    input_path = fuzz_path(input_name);
    return 0;
}

/* The statuses dicom.h documents for dicom_read_header() and the decoders (MP_ERR_NOMEM
 * is what a failed allocation gives); any other (internal, usage, write, ...) is a bug. */
static int documented_status(mp_status st)
{
    switch (st) {
    case MP_OK:
    case MP_ERR_IO:
    case MP_ERR_FORMAT:
    case MP_ERR_TRUNCATED:
    case MP_ERR_UNSUPPORTED:
    case MP_ERR_LIMIT:
    case MP_ERR_NOMEM:
        return 1;
    default:
        return 0;
    }
}

static void check_error(const char *call, mp_status st, const mp_error *err)
{
    FUZZ_CHECK(documented_status(st), "%s returned undocumented status %d (%s): %s", call, (int)st,
               mp_status_name(st), err->msg);
    if (st == MP_OK) return;
    FUZZ_CHECK(err->code == st, "%s returned %s but err.code is %s", call, mp_status_name(st),
               mp_status_name(err->code));
    FUZZ_CHECK(memchr(err->msg, '\0', sizeof err->msg) != NULL, "%s: message not NUL-terminated", call);
    FUZZ_CHECK(err->msg[0] != '\0', "%s returned %s with an empty message", call, mp_status_name(st));
    FUZZ_CHECK(strncmp(err->msg, input_name, strlen(input_name)) == 0,
               "%s returned %s with a message that does not start with %s: '%s'", call, mp_status_name(st),
               input_name, err->msg);
}

/* What a validated header (MP_OK) guarantees. */
static void check_valid_header(const char *call, const dicom_header_t *h)
{
    FUZZ_CHECK(h->rows >= 1 && h->rows <= DICOM_MAX_DIM && h->cols >= 1 && h->cols <= DICOM_MAX_DIM,
               "%s: MP_OK with %" PRIu32 " x %" PRIu32 " pixels", call, h->rows, h->cols);
    FUZZ_CHECK((uint64_t)h->rows * h->cols <= DICOM_MAX_FRAME_PIXELS, "%s: MP_OK with %" PRIu32 " x %" PRIu32,
               call, h->rows, h->cols);
    FUZZ_CHECK(h->bits_allocated == 8 || h->bits_allocated == 16, "%s: MP_OK with %u bits allocated", call,
               (unsigned)h->bits_allocated);
    FUZZ_CHECK(h->bits_stored >= 1 && h->bits_stored <= h->bits_allocated && h->high_bit < h->bits_allocated &&
                   h->high_bit + 1u >= h->bits_stored,
               "%s: MP_OK with bits allocated %u, stored %u, high bit %u", call, (unsigned)h->bits_allocated,
               (unsigned)h->bits_stored, (unsigned)h->high_bit);
    FUZZ_CHECK(h->pixel_representation <= 1, "%s: MP_OK with PixelRepresentation %u", call,
               (unsigned)h->pixel_representation);
    FUZZ_CHECK(h->samples_per_pixel == 1 && h->frames == 1, "%s: MP_OK with %u samples, %" PRIu32 " frames", call,
               (unsigned)h->samples_per_pixel, h->frames);
    FUZZ_CHECK(memchr(h->transfer_syntax, '\0', sizeof h->transfer_syntax) != NULL &&
                   memchr(h->photometric, '\0', sizeof h->photometric) != NULL,
               "%s: unterminated string in the header", call);
}

/* Every decoded value is a stored value: below 2^BitsStored unsigned, within
 * [-2^(BitsStored-1), 2^(BitsStored-1)) signed (dicom.h: masked or sign-extended). */
static void check_pixels(const dicom_header_t *h, const uint16_t *px)
{
    const size_t n = (size_t)h->rows * h->cols;
    const unsigned stored = h->bits_stored;
    const int32_t lo = h->pixel_representation ? -(int32_t)(1u << (stored - 1u)) : 0;
    const int32_t hi = h->pixel_representation ? (int32_t)(1u << (stored - 1u)) - 1 : (int32_t)((1u << stored) - 1u);
    for (size_t i = 0; i < n; i++) {
        const int32_t v = h->pixel_representation ? (int32_t)(int16_t)px[i] : (int32_t)px[i];
        FUZZ_CHECK(v >= lo && v <= hi, "pixel %zu is %" PRId32 ", outside [%" PRId32 ", %" PRId32 "] for %u bits stored",
                   i, v, lo, hi, stored);
    }
}

/* The header read is the decode's own parse and validation (dcmtk's full load with the
 * pixel value left on disk) without the decode of the value (that is the point: `scan`
 * reads headers of whole datasets in seconds). So a decode may still fail where the
 * header read passed, but only for what the pixel data alone decides:
 *   MP_ERR_FORMAT      a compressed stream or its fragment table that does not decode;
 *   MP_ERR_TRUNCATED   fragments or items that run past the end of the file;
 *   MP_ERR_UNSUPPORTED a codec that refuses the stream's parameters.
 * Not MP_ERR_LIMIT (sizes are the header's, already checked), MP_ERR_IO (the file was
 * just read), MP_ERR_NOMEM (the decode allocates rows*cols values, within the caps). */
static int header_ok_decode_failed_is_allowed(mp_status st)
{
    return st == MP_ERR_FORMAT || st == MP_ERR_TRUNCATED || st == MP_ERR_UNSUPPORTED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_file(input_path, data, size);

    dicom_header_t head;
    mp_error head_err;
    mp_error_clear(&head_err);
    const mp_status head_st = dicom_read_header(input_path, &head, &head_err);
    check_error("dicom_read_header", head_st, &head_err);
    if (head_st == MP_OK) check_valid_header("dicom_read_header", &head);

    dicom_header_t hdr;
    mp_error err;
    mp_error_clear(&err);
    uint16_t *pixels = (uint16_t *)(uintptr_t)1; /* must come back NULL on an error */
    const mp_status st = dicom_decode_slice_alloc(input_path, &hdr, &pixels, &err);
    check_error("dicom_decode_slice_alloc", st, &err);
    if (st != MP_OK) {
        FUZZ_CHECK(pixels == NULL, "dicom_decode_slice_alloc returned %s but pixels is not NULL",
                   mp_status_name(st));
        FUZZ_CHECK(head_st != MP_OK || header_ok_decode_failed_is_allowed(st),
                   "dicom_read_header said MP_OK, the decode said %s: '%s'", mp_status_name(st), err.msg);
        return 0;
    }
    FUZZ_CHECK(pixels != NULL, "dicom_decode_slice_alloc returned MP_OK with no pixels");
    check_valid_header("dicom_decode_slice_alloc", &hdr);
    check_pixels(&hdr, pixels);
    free(pixels);

    if (head_st == MP_OK)
        FUZZ_CHECK(head.rows == hdr.rows && head.cols == hdr.cols && head.bits_allocated == hdr.bits_allocated &&
                       head.bits_stored == hdr.bits_stored && head.high_bit == hdr.high_bit &&
                       head.pixel_representation == hdr.pixel_representation &&
                       strcmp(head.transfer_syntax, hdr.transfer_syntax) == 0,
                   "the header read and the decode describe different images: %" PRIu32 "x%" PRIu32
                   " %u/%u/%u rep %u %s vs %" PRIu32 "x%" PRIu32 " %u/%u/%u rep %u %s",
                   head.rows, head.cols, (unsigned)head.bits_allocated, (unsigned)head.bits_stored,
                   (unsigned)head.high_bit, (unsigned)head.pixel_representation, head.transfer_syntax, hdr.rows,
                   hdr.cols, (unsigned)hdr.bits_allocated, (unsigned)hdr.bits_stored, (unsigned)hdr.high_bit,
                   (unsigned)hdr.pixel_representation, hdr.transfer_syntax);
    /* The other direction: both readers share one parse and validation (the decode only
     * adds the frame), so a decode never passes where the header read failed. */
    FUZZ_CHECK(head_st == MP_OK, "the decode passed where dicom_read_header said %s: '%s'", mp_status_name(head_st),
               head_err.msg);
    return 0;
}
