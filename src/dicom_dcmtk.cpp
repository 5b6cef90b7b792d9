// dicom_dcmtk.cpp - the decode stage, the only place that sees dcmtk's C++ API.
//
// Follows ../shared/specs/dcmtk.md: codecs registered once before threads start; every
// dcmtk object local to one call (never shared between threads); the header validated
// before anything is allocated for pixels; getUncompressedFrame() for raw and
// compressed syntaxes alike. Errors come back as mp_status plus a sentence that
// starts with the file's name.

#include "mriprep/dicom.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace {

// The file name without its folders: messages name the file, the series row names the
// folder.
const char *base_name(const char *path)
{
    const char *slash = std::strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool is_jpeg2000(E_TransferSyntax xfer)
{
    return xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000 ||
           xfer == EXS_JPEG2000MulticomponentLosslessOnly || xfer == EXS_JPEG2000Multicomponent;
}

// dcmtk reports a short read of lazily loaded data in several ways; these are the
// conditions that mean "the file ends before the value it announces".
bool is_premature_end(const OFCondition &cond)
{
    return cond == EC_StreamNotifyClient || cond == EC_EndOfStream ||
           cond == EC_PrematureSequDelimitationItem ||
           std::strstr(cond.text(), "end of stream") != nullptr ||
           std::strstr(cond.text(), "Premature") != nullptr ||
           std::strstr(cond.text(), "premature") != nullptr;
}

void trim_copy(char *dst, size_t cap, const char *src)
{
    while (*src == ' ') src++;
    size_t n = std::strlen(src);
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0')) n--;
    if (n >= cap) n = cap - 1;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

void read_doubles(DcmDataset *ds, const DcmTagKey &tag, double *out, unsigned count, int *present)
{
    *present = 0;
    for (unsigned i = 0; i < count; i++) {
        Float64 v = 0;
        if (ds->findAndGetFloat64(tag, v, i).bad()) return;
        out[i] = v;
    }
    *present = 1;
}

// Fills hdr from an already loaded dataset and validates it. Pixel data stays on disk.
mp_status parse_header(const char *path, DcmFileFormat &ff, dicom_header_t *hdr, mp_error *err)
{
    const char *name = base_name(path);
    DcmDataset *ds = ff.getDataset();
    std::memset(hdr, 0, sizeof *hdr);

    struct stat st;
    if (stat(path, &st) == 0) hdr->file_bytes = (uint64_t)st.st_size;

    E_TransferSyntax xfer = ds->getOriginalXfer();
    DcmXfer xf(xfer);
    const char *uid = xf.getXferID();
    trim_copy(hdr->transfer_syntax, sizeof hdr->transfer_syntax, uid ? uid : "");
    hdr->transfer_syntax_name = xf.getXferName();
    hdr->compressed = xf.isEncapsulated() ? 1 : 0;

    Uint16 rows = 0, cols = 0, spp = 1, alloc = 0, stored = 0, high = 0, rep = 0;
    bool has_rows = ds->findAndGetUint16(DCM_Rows, rows).good();
    bool has_cols = ds->findAndGetUint16(DCM_Columns, cols).good();
    DcmElement *pixel = nullptr;
    bool has_pixels = ds->findAndGetElement(DCM_PixelData, pixel).good() && pixel != nullptr;
    if (!has_rows && !has_cols && !has_pixels) {
        // Random bytes can parse as a (nonsense) dataset; what tells us it is not an
        // image is the absence of everything an image needs.
        return mp_fail(err, MP_ERR_FORMAT, "%s: not a DICOM image (no Rows, Columns or Pixel Data)", name);
    }
    if (!has_rows || !has_cols)
        return mp_fail(err, MP_ERR_FORMAT, "%s: missing %s", name, has_rows ? "Columns" : "Rows");
    if (!has_pixels)
        return mp_fail(err, MP_ERR_FORMAT, "%s: no Pixel Data", name);
    ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
    if (ds->findAndGetUint16(DCM_BitsAllocated, alloc).bad())
        return mp_fail(err, MP_ERR_FORMAT, "%s: missing BitsAllocated", name);
    if (ds->findAndGetUint16(DCM_BitsStored, stored).bad()) stored = alloc;
    if (ds->findAndGetUint16(DCM_HighBit, high).bad()) high = (Uint16)(stored ? stored - 1 : 0);
    ds->findAndGetUint16(DCM_PixelRepresentation, rep);

    hdr->rows = rows;
    hdr->cols = cols;
    hdr->samples_per_pixel = spp;
    hdr->bits_allocated = alloc;
    hdr->bits_stored = stored;
    hdr->high_bit = high;
    hdr->pixel_representation = rep;

    Sint32 frames = 1;
    OFString frames_str;
    if (ds->findAndGetOFString(DCM_NumberOfFrames, frames_str).good() && !frames_str.empty()) {
        if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1)
            return mp_fail(err, MP_ERR_FORMAT, "%s: invalid NumberOfFrames '%s'", name, frames_str.c_str());
    }
    hdr->frames = (uint32_t)frames;

    OFString photometric;
    if (ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric).good())
        trim_copy(hdr->photometric, sizeof hdr->photometric, photometric.c_str());
    hdr->monochrome1 = std::strcmp(hdr->photometric, "MONOCHROME1") == 0;

    Float64 slope = 1.0, intercept = 0.0;
    if (ds->findAndGetFloat64(DCM_RescaleSlope, slope).bad()) slope = 1.0;
    if (ds->findAndGetFloat64(DCM_RescaleIntercept, intercept).bad()) intercept = 0.0;
    hdr->rescale_slope = slope;
    hdr->rescale_intercept = intercept;
    read_doubles(ds, DCM_ImagePositionPatient, hdr->position, 3, &hdr->has_position);
    read_doubles(ds, DCM_ImageOrientationPatient, hdr->orientation, 6, &hdr->has_orientation);
    read_doubles(ds, DCM_PixelSpacing, hdr->spacing, 2, &hdr->has_spacing);
    Sint32 instance = 0;
    if (ds->findAndGetSint32(DCM_InstanceNumber, instance).good()) {
        hdr->has_instance = 1;
        hdr->instance_number = instance;
    }

    // Validation, in the order a person would want to hear about problems.
    if (rows == 0 || cols == 0)
        return mp_fail(err, MP_ERR_FORMAT, "%s: empty image (%u x %u)", name, rows, cols);
    if (rows > DICOM_MAX_DIM || cols > DICOM_MAX_DIM ||
        (uint64_t)rows * cols > DICOM_MAX_FRAME_PIXELS)
        return mp_fail(err, MP_ERR_LIMIT, "%s: image of %u x %u pixels is beyond the %u x %u cap",
                       name, rows, cols, DICOM_MAX_DIM, DICOM_MAX_DIM);
    if (spp != 1)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: %u samples per pixel (%s): only grayscale is supported",
                       name, spp, hdr->photometric);
    if (alloc != 8 && alloc != 16)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: %u bits allocated: only 8 and 16 are supported", name, alloc);
    if (stored == 0 || stored > alloc || high >= alloc || high + 1 < stored)
        return mp_fail(err, MP_ERR_FORMAT, "%s: inconsistent bits (allocated %u, stored %u, high bit %u)",
                       name, alloc, stored, high);
    if (rep > 1)
        return mp_fail(err, MP_ERR_FORMAT, "%s: invalid PixelRepresentation %u", name, rep);
    if (frames > 1)
        return mp_fail(err, MP_ERR_UNSUPPORTED,
                       "%s: multi-frame image (%d frames) where one slice per file is expected", name, (int)frames);

    if (hdr->compressed) {
        if (is_jpeg2000(xfer))
            return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: JPEG 2000 is not supported (%s)", name,
                           hdr->transfer_syntax);
        if (!DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit))
            return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: transfer syntax %s (%s) is not supported", name,
                           hdr->transfer_syntax_name ? hdr->transfer_syntax_name : "?", hdr->transfer_syntax);
    } else {
        if (xfer == EXS_Unknown)
            return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: unknown transfer syntax", name);
        uint64_t need = (uint64_t)rows * cols * (alloc / 8u);
        uint64_t have = pixel->getLength();
        hdr->pixel_bytes = have;
        // Odd-length 8-bit frames are padded to even: only the frame bytes are needed.
        if (have < need)
            return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated pixel data (expected %llu bytes, got %llu)",
                           name, (unsigned long long)need, (unsigned long long)have);
    }
    return MP_OK;
}

// True when the file carries the "DICM" magic after its 128-byte preamble.
bool has_dicm_magic(const char *path)
{
    FILE *f = std::fopen(path, "rb");
    if (!f) return false;
    char magic[4] = {0, 0, 0, 0};
    bool ok = std::fseek(f, 128, SEEK_SET) == 0 && std::fread(magic, 1, 4, f) == 4 &&
              std::memcmp(magic, "DICM", 4) == 0;
    std::fclose(f);
    return ok;
}

// How many bytes of Pixel Data a truncated file still holds: the header (read up to the
// Pixel Data tag) gives what is needed, the distance from the Pixel Data tag, which comes
// last in an image file, to the end of the file gives what is there. Returns false when
// the file does not look like that.
bool truncated_pixel_bytes(const char *path, uint64_t *need, uint64_t *have)
{
    DcmFileFormat ff;
    OFCondition cond = ff.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                           ERM_autoDetect, DCM_PixelData);
    if (cond.bad()) return false;
    DcmDataset *ds = ff.getDataset();
    Uint16 rows = 0, cols = 0, alloc = 0, spp = 1;
    if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad() ||
        ds->findAndGetUint16(DCM_BitsAllocated, alloc).bad())
        return false;
    ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
    DcmXfer xf(ds->getOriginalXfer());
    if (xf.isEncapsulated()) return false;

    FILE *f = std::fopen(path, "rb");
    if (!f) return false;
    std::vector<unsigned char> bytes;
    unsigned char chunk[65536];
    size_t got;
    while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
    std::fclose(f);
    const unsigned char tag_le[4] = {0xE0, 0x7F, 0x10, 0x00}, tag_be[4] = {0x7F, 0xE0, 0x00, 0x10};
    const unsigned char *tag = xf.isBigEndian() ? tag_be : tag_le;
    for (size_t i = bytes.size() >= 4 ? bytes.size() - 4 : 0; i-- > 0;) {
        if (std::memcmp(&bytes[i], tag, 4) != 0) continue;
        // Explicit VR: tag, VR, 2 reserved, 4-byte length; implicit VR: tag, 4-byte length.
        size_t value_at = i + (xf.isExplicitVR() ? 12 : 8);
        if (value_at > bytes.size()) return false;
        *need = (uint64_t)rows * cols * spp * (alloc / 8u);
        *have = bytes.size() - value_at;
        return *have < *need;
    }
    return false;
}

mp_status load_condition_error(const char *path, const OFCondition &cond, mp_error *err)
{
    const char *name = base_name(path);
    struct stat st;
    if (stat(path, &st) != 0)
        return mp_fail(err, MP_ERR_IO, "%s: cannot open: %s", name, std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        return mp_fail(err, MP_ERR_IO, "%s: is a folder, not a file", name);
    if (st.st_size == 0)
        return mp_fail(err, MP_ERR_FORMAT, "%s: empty file (0 bytes)", name);
    uint64_t need = 0, have = 0;
    if (is_premature_end(cond) && truncated_pixel_bytes(path, &need, &have))
        return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated pixel data (expected %llu bytes, got %llu)", name,
                       (unsigned long long)need, (unsigned long long)have);
    if (!has_dicm_magic(path))
        return mp_fail(err, MP_ERR_FORMAT, "%s: not a DICOM file (no DICM marker, and it does not parse as DICOM)",
                       name);
    if (is_premature_end(cond))
        return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated file (it ends inside a DICOM element)", name);
    return mp_fail(err, MP_ERR_FORMAT, "%s: not a readable DICOM file (%s)", name, cond.text());
}

// Masks to BitsStored (unsigned) or sign-extends from HighBit (signed), in place, on
// [n] 16-bit words that hold the allocated bits. Conforming files (HighBit = BitsStored
// - 1, unused bits zero or sign copies) come out unchanged, as pydicom gives them.
void normalise_stored_bits(uint16_t *px, size_t n, const dicom_header_t *hdr)
{
    unsigned stored = hdr->bits_stored, shift = hdr->high_bit + 1u - stored;
    if (stored == 16 && shift == 0) return;
    uint32_t mask = (stored >= 32) ? 0xFFFFFFFFu : ((1u << stored) - 1u);
    if (hdr->pixel_representation == 1) {
        uint32_t sign = 1u << (stored - 1u);
        for (size_t i = 0; i < n; i++) {
            uint32_t v = ((uint32_t)px[i] >> shift) & mask;
            int32_t s = (int32_t)(v ^ sign) - (int32_t)sign;  // sign extension without branches
            px[i] = (uint16_t)(int16_t)s;
        }
    } else {
        for (size_t i = 0; i < n; i++) px[i] = (uint16_t)(((uint32_t)px[i] >> shift) & mask);
    }
}

} // namespace

struct DicomGlobals {
    bool ready = false;
};
static DicomGlobals g_dicom;

extern "C" mp_status dicom_global_init(mp_error *err)
{
    if (g_dicom.ready) return MP_OK;
    // Errors come back through OFCondition; dcmtk must not print on its own.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    if (!dcmDataDict.isDictionaryLoaded())
        return mp_fail(err, MP_ERR_INTERNAL,
                       "dcmtk's data dictionary did not load (check DCMDICTPATH; Debian installs "
                       "/usr/share/libdcmtk17/dicom.dic)");
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    g_dicom.ready = true;
    return MP_OK;
}

extern "C" void dicom_global_cleanup(void)
{
    if (!g_dicom.ready) return;
    DJLSDecoderRegistration::cleanup();
    DJDecoderRegistration::cleanup();
    DcmRLEDecoderRegistration::cleanup();
    g_dicom.ready = false;
}

extern "C" const char *dicom_library_description(void)
{
    return "dcmtk " PACKAGE_VERSION " (uncompressed LE/BE, deflate, RLE, JPEG baseline/extended/lossless, JPEG-LS)";
}

extern "C" mp_status dicom_read_header(const char *path, dicom_header_t *hdr, mp_error *err)
{
    try {
        DcmFileFormat ff;
        // Stop before the pixel data: header-only reads never touch the image bytes.
        OFCondition cond = ff.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                               ERM_autoDetect, DCM_PixelData);
        if (cond.bad()) return load_condition_error(path, cond, err);
        return parse_header(path, ff, hdr, err);
    } catch (const std::bad_alloc &) {
        return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory reading the header", base_name(path));
    }
}

namespace {

// Loads, validates, then asks `place` for room for rows*cols values and decodes frame 0
// into it. `place` returns NULL when it cannot give that room (its own error is set).
template <typename Place>
mp_status decode_into(const char *path, dicom_header_t *hdr, Place place, mp_error *err)
{
    const char *name = base_name(path);
    try {
        DcmFileFormat ff;
        // Elements over 4 KiB (the pixel data) stay on disk until getUncompressedFrame asks.
        OFCondition cond = ff.loadFile(path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
        if (cond.bad()) return load_condition_error(path, cond, err);
        mp_status st = parse_header(path, ff, hdr, err);
        if (st != MP_OK) return st;

        size_t n = (size_t)hdr->rows * hdr->cols;
        DcmDataset *ds = ff.getDataset();
        DcmElement *elem = nullptr;
        ds->findAndGetElement(DCM_PixelData, elem);
        DcmPixelData *pixel = OFstatic_cast(DcmPixelData *, elem);
        Uint32 frame_bytes = 0;
        cond = pixel->getUncompressedFrameSize(ds, frame_bytes);
        if (cond.bad())
            return mp_fail(err, MP_ERR_FORMAT, "%s: cannot size the frame (%s)", name, cond.text());
        if (frame_bytes != n * (hdr->bits_allocated / 8u))
            return mp_fail(err, MP_ERR_FORMAT, "%s: frame of %u bytes for %u x %u x %u bits", name,
                           frame_bytes, hdr->rows, hdr->cols, hdr->bits_allocated);
        uint16_t *out = place(n);
        if (!out) return err ? err->code : MP_ERR_NOMEM;

        Uint32 even_bytes = frame_bytes + (frame_bytes & 1u);
        Uint32 start_fragment = 0;
        OFString color_model;
        if (hdr->bits_allocated == 16) {
            cond = pixel->getUncompressedFrame(ds, 0, start_fragment, out, even_bytes, color_model);
        } else {
            // 8-bit frames (odd sizes padded to even) are decoded to bytes, then widened
            // with the sign where PixelRepresentation says so.
            std::vector<uint8_t> bytes(even_bytes);
            cond = pixel->getUncompressedFrame(ds, 0, start_fragment, bytes.data(), even_bytes, color_model);
            if (cond.good()) {
                if (hdr->pixel_representation == 1)
                    for (size_t i = 0; i < n; i++) out[i] = (uint16_t)(int16_t)(int8_t)bytes[i];
                else
                    for (size_t i = 0; i < n; i++) out[i] = bytes[i];
            }
        }
        if (cond.bad()) {
            if (is_premature_end(cond))
                return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated pixel data (the file ends early; %s)", name,
                               cond.text());
            return mp_fail(err, MP_ERR_FORMAT, "%s: cannot decode pixel data (%s: %s)", name,
                           hdr->transfer_syntax_name ? hdr->transfer_syntax_name : "?", cond.text());
        }
        normalise_stored_bits(out, n, hdr);
        return MP_OK;
    } catch (const std::bad_alloc &) {
        return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory decoding", name);
    }
}

} // namespace

extern "C" mp_status dicom_decode_slice(const char *path, dicom_header_t *hdr, uint16_t *out,
                                        size_t out_capacity, mp_error *err)
{
    return decode_into(path, hdr, [&](size_t n) -> uint16_t * {
        if (out_capacity < n) {
            mp_fail(err, MP_ERR_LIMIT, "%s: %u x %u image does not fit the %zu-pixel buffer", base_name(path),
                    hdr->rows, hdr->cols, out_capacity);
            return nullptr;
        }
        return out;
    }, err);
}

extern "C" mp_status dicom_decode_slice_grow(const char *path, dicom_header_t *hdr, uint16_t **buffer,
                                             size_t *capacity, mp_error *err)
{
    return decode_into(path, hdr, [&](size_t n) -> uint16_t * {
        if (*capacity < n) {
            uint16_t *grown = static_cast<uint16_t *>(std::realloc(*buffer, n * sizeof(uint16_t)));
            if (!grown) {
                mp_fail(err, MP_ERR_NOMEM, "%s: cannot allocate %zu bytes for pixels", base_name(path),
                        n * sizeof(uint16_t));
                return nullptr;
            }
            *buffer = grown;
            *capacity = n;
        }
        return *buffer;
    }, err);
}

extern "C" mp_status dicom_decode_slice_alloc(const char *path, dicom_header_t *hdr, uint16_t **pixels,
                                              mp_error *err)
{
    *pixels = nullptr;
    uint16_t *owned = nullptr;
    mp_status st = decode_into(path, hdr, [&](size_t n) -> uint16_t * {
        owned = static_cast<uint16_t *>(std::malloc(n * sizeof(uint16_t)));
        if (!owned)
            mp_fail(err, MP_ERR_NOMEM, "%s: cannot allocate %zu bytes for pixels", base_name(path),
                    n * sizeof(uint16_t));
        return owned;
    }, err);
    if (st != MP_OK) {
        std::free(owned);
        return st;
    }
    *pixels = owned;
    return MP_OK;
}
