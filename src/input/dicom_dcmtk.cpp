// dicom_dcmtk.cpp - the decode stage, the only place that sees dcmtk's C++ API.
//
// Follows docs/dicom.md: codecs registered once before threads start; every
// dcmtk object local to one call (never shared between threads); the header validated
// before anything is allocated for pixels; getUncompressedFrame() for raw and
// compressed syntaxes alike. Errors come back as mp_status plus a sentence that
// starts with the file's name.

#include "mriprep/dicom.h"
#include "mriprep/fs.h"
#include "dicom_fd_stream.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcistrmf.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SSE2__) && !defined(MRIPREP_NO_SIMD)
#include <emmintrin.h>
#endif

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
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

// HTJ2K (JPEG 2000 Part 15), added to DICOM in 2023: dcmtk 3.6.7 does not know these
// UIDs and parses such a file as explicit VR little endian. mriprep names the syntax and
// refuses the file (see validate_header). The name for a UID of the family, nullptr for
// any other.
const char *htj2k_name(const char *uid)
{
    if (!std::strcmp(uid, "1.2.840.10008.1.2.4.201")) return "HTJ2K Lossless Only";
    if (!std::strcmp(uid, "1.2.840.10008.1.2.4.202")) return "HTJ2K RPCL Lossless Only";
    if (!std::strcmp(uid, "1.2.840.10008.1.2.4.203")) return "HTJ2K";
    return nullptr;
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

// `count` numbers of a multi-valued attribute; *present 0 unless all are there, finite
// and within +-limit (a header number that is not one, or is absurd, never reaches the
// geometry's arithmetic: the attribute counts as absent).
void read_doubles(DcmDataset *ds, const DcmTagKey &tag, double *out, unsigned count, int *present, double limit)
{
    *present = 0;
    for (unsigned i = 0; i < count; i++) {
        Float64 v = 0;
        if (ds->findAndGetFloat64(tag, v, i).bad() || !std::isfinite(v) || std::fabs(v) > limit) return;
        out[i] = v;
    }
    *present = 1;
}

// What is known of the Pixel Data element, from a full load or from a header-only read.
struct PixelInfo {
    bool present = false;
    uint64_t declared = 0;            // value length in the element header (UINT32_MAX: undefined)
    uint64_t available = UINT64_MAX;  // bytes of the value actually in the file (unknown: max)
};

// The file a reader has open: the one descriptor the element walk, dcmtk's parse and
// its later read of the pixel data all use (with pread), closed when the reader is done.
// It is declared before the DcmFileFormat that reads through it, so it outlives it.
struct OpenFile {
    int fd = -1;
    uint64_t size = 0; /* at open (fstat) */
    OpenFile() = default;
    OpenFile(const OpenFile &) = delete;
    OpenFile &operator=(const OpenFile &) = delete;
    ~OpenFile()
    {
        if (fd >= 0) close(fd);
    }
};

// Fills hdr with every attribute the dataset has; validates nothing. Zeroes hdr first,
// so fields a file lacks read 0 (or their DICOM defaults). file_bytes: the file's size,
// or UINT64_MAX to stat `path` for it.
void fill_header(const char *path, DcmDataset *ds, dicom_header_t *hdr, uint64_t file_bytes = UINT64_MAX)
{
    std::memset(hdr, 0, sizeof *hdr);
    struct stat st;
    if (file_bytes != UINT64_MAX) hdr->file_bytes = file_bytes;
    else if (stat(path, &st) == 0) hdr->file_bytes = (uint64_t)st.st_size;

    DcmXfer xf(ds->getOriginalXfer());
    const char *uid = xf.getXferID();
    trim_copy(hdr->transfer_syntax, sizeof hdr->transfer_syntax, uid ? uid : "");
    hdr->transfer_syntax_name = xf.getXferName();
    hdr->compressed = xf.isEncapsulated() ? 1 : 0;

    Uint16 v = 0;
    if (ds->findAndGetUint16(DCM_Rows, v).good()) hdr->rows = v;
    if (ds->findAndGetUint16(DCM_Columns, v).good()) hdr->cols = v;
    hdr->samples_per_pixel = ds->findAndGetUint16(DCM_SamplesPerPixel, v).good() ? v : 1;
    if (ds->findAndGetUint16(DCM_BitsAllocated, v).good()) hdr->bits_allocated = v;
    hdr->bits_stored = ds->findAndGetUint16(DCM_BitsStored, v).good() ? v : hdr->bits_allocated;
    hdr->high_bit = ds->findAndGetUint16(DCM_HighBit, v).good() ? v
                                                                 : (uint16_t)(hdr->bits_stored ? hdr->bits_stored - 1 : 0);
    if (ds->findAndGetUint16(DCM_PixelRepresentation, v).good()) hdr->pixel_representation = v;

    Sint32 frames = 1;
    hdr->frames = ds->findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames >= 1 ? (uint32_t)frames : 1;

    OFString photometric;
    if (ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric).good())
        trim_copy(hdr->photometric, sizeof hdr->photometric, photometric.c_str());
    hdr->monochrome1 = std::strcmp(hdr->photometric, "MONOCHROME1") == 0;

    Float64 f = 0;
    hdr->rescale_slope = ds->findAndGetFloat64(DCM_RescaleSlope, f).good() ? f : 1.0;
    hdr->rescale_intercept = ds->findAndGetFloat64(DCM_RescaleIntercept, f).good() ? f : 0.0;
    // Positions within 1,000 km, direction cosines of unit-ish length, spacings in
    // (0, 100 m]: anything else is treated as absent (docs/dicom.md, "Geometry").
    read_doubles(ds, DCM_ImagePositionPatient, hdr->position, 3, &hdr->has_position, 1e9);
    read_doubles(ds, DCM_ImageOrientationPatient, hdr->orientation, 6, &hdr->has_orientation, 1.5);
    read_doubles(ds, DCM_PixelSpacing, hdr->spacing, 2, &hdr->has_spacing, 1e5);
    if (hdr->has_spacing && (hdr->spacing[0] <= 0 || hdr->spacing[1] <= 0)) hdr->has_spacing = 0;
    if (hdr->has_orientation) {
        const double *o = hdr->orientation;
        const double row = o[0] * o[0] + o[1] * o[1] + o[2] * o[2], col = o[3] * o[3] + o[4] * o[4] + o[5] * o[5];
        if (row < 0.25 || col < 0.25) hdr->has_orientation = 0;
    }
    // A Siemens mosaic says so in ImageType (ORIGINAL\PRIMARY\M\ND\MOSAIC); the count
    // of its tiles is a private element of Siemens' CSA group.
    OFString image_type;
    for (unsigned long k = 0; ds->findAndGetOFString(DCM_ImageType, image_type, k).good(); k++)
        if (image_type == "MOSAIC") hdr->mosaic = 1;
    Uint16 tiles = 0;
    DcmElement *tiles_elem = nullptr;
    Uint8 *tiles_bytes = nullptr;
    if (ds->findAndGetUint16(DcmTagKey(0x0019, 0x100A), tiles).good()) {
        hdr->mosaic_images = tiles;
    } else if (ds->findAndGetElement(DcmTagKey(0x0019, 0x100A), tiles_elem).good() && tiles_elem &&
               tiles_elem->getLength() == 2 && tiles_elem->getUint8Array(tiles_bytes).good() && tiles_bytes) {
        // implicit VR without the private dictionary's entry: the value is two bytes of
        // an unknown VR, little endian (implicit VR always is)
        hdr->mosaic_images = (uint32_t)tiles_bytes[0] | (uint32_t)tiles_bytes[1] << 8;
    }
    Sint32 instance = 0;
    if (ds->findAndGetSint32(DCM_InstanceNumber, instance).good()) {
        hdr->has_instance = 1;
        hdr->instance_number = instance;
    }
}

// What a reader wants of the image: one slice of a series (a mosaic, a grid of slices,
// is refused), or the file's image as stored (info, show: a mosaic is one image).
enum class Want { Slice, WholeImage };

// Validates a filled header, in the order a person would want to hear about problems.
mp_status validate_header(const char *path, DcmDataset *ds, const PixelInfo &pixel, dicom_header_t *hdr,
                          Want want, mp_error *err)
{
    const char *name = base_name(path);
    bool has_rows = ds->tagExistsWithValue(DCM_Rows), has_cols = ds->tagExistsWithValue(DCM_Columns);
    if (!has_rows && !has_cols && !pixel.present)
        // Random bytes can parse as a (nonsense) dataset; what tells us it is not an image
        // is the absence of everything an image needs.
        return mp_fail(err, MP_ERR_FORMAT, "%s: not a DICOM image (no Rows, Columns or Pixel Data)", name);
    if (!has_rows || !has_cols)
        return mp_fail(err, MP_ERR_FORMAT, "%s: missing %s", name, has_rows ? "Columns" : "Rows");
    if (!pixel.present) return mp_fail(err, MP_ERR_FORMAT, "%s: no Pixel Data", name);
    if (!ds->tagExistsWithValue(DCM_BitsAllocated))
        return mp_fail(err, MP_ERR_FORMAT, "%s: missing BitsAllocated", name);
    OFString frames_text;
    Sint32 frames = 1;
    if (ds->findAndGetOFString(DCM_NumberOfFrames, frames_text).good() && !frames_text.empty() &&
        (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1))
        return mp_fail(err, MP_ERR_FORMAT, "%s: invalid NumberOfFrames '%s'", name, frames_text.c_str());

    const unsigned rows = hdr->rows, cols = hdr->cols, alloc = hdr->bits_allocated;
    const unsigned stored = hdr->bits_stored, high = hdr->high_bit;
    if (rows == 0 || cols == 0) return mp_fail(err, MP_ERR_FORMAT, "%s: empty image (%u x %u)", name, rows, cols);
    if (rows > DICOM_MAX_DIM || cols > DICOM_MAX_DIM || (uint64_t)rows * cols > DICOM_MAX_FRAME_PIXELS)
        return mp_fail(err, MP_ERR_LIMIT, "%s: image of %u x %u pixels is beyond the %u x %u cap", name, rows,
                       cols, DICOM_MAX_DIM, DICOM_MAX_DIM);
    if (hdr->samples_per_pixel != 1)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: %u samples per pixel (%s): only grayscale is supported",
                       name, hdr->samples_per_pixel, hdr->photometric);
    if (alloc != 8 && alloc != 16)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: %u bits allocated: only 8 and 16 are supported", name, alloc);
    if (stored == 0 || stored > alloc || high >= alloc || high + 1 < stored)
        return mp_fail(err, MP_ERR_FORMAT, "%s: inconsistent bits (allocated %u, stored %u, high bit %u)", name,
                       alloc, stored, high);
    if (hdr->pixel_representation > 1)
        return mp_fail(err, MP_ERR_FORMAT, "%s: invalid PixelRepresentation %u", name, hdr->pixel_representation);
    if (hdr->frames > 1)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: multi-frame image (%u frames) where one slice per file is expected",
                       name, hdr->frames);
    if (hdr->mosaic && want == Want::Slice) {
        char tiles[48] = "";
        if (hdr->mosaic_images) snprintf(tiles, sizeof tiles, ", %u slices in one image", hdr->mosaic_images);
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: a Siemens mosaic (ImageType MOSAIC%s): one file holds a grid of "
                       "slices; unpack it into one slice per file first (dcm2niix does)", name, tiles);
    }

    E_TransferSyntax xfer = ds->getOriginalXfer();
    hdr->syntax_refused = 1; /* until a syntax check below passes */
    if (hdr->syntax_unknown)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: transfer syntax %s is not supported (not one this build knows)",
                       name, hdr->transfer_syntax);
    /* HTJ2K is named, not decoded: OpenJPEG's HTJ2K block decoder (2.5.0) asserts on
     * some corrupt code-blocks (ht_dec.c, mel_init), and an assertion aborts the whole
     * process, every series of the run with it (found by tests/fuzz within a minute). */
    if (htj2k_name(hdr->transfer_syntax))
        return mp_fail(err, MP_ERR_UNSUPPORTED,
                       "%s: transfer syntax %s (%s) is not decoded: OpenJPEG's HTJ2K decoder aborts the process on "
                       "some corrupt streams; convert it to JPEG 2000 or uncompressed first", name,
                       hdr->transfer_syntax_name, hdr->transfer_syntax);
    if (hdr->compressed) {
        if (!is_jpeg2000(xfer) && !DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit))
            return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: transfer syntax %s (%s) is not supported", name,
                           hdr->transfer_syntax_name ? hdr->transfer_syntax_name : "?", hdr->transfer_syntax);
        hdr->syntax_refused = 0;
        return MP_OK; /* JPEG 2000: OpenJPEG (j2k_decode.c) checks its own header */
    }
    if (xfer == EXS_Unknown) return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: unknown transfer syntax", name);
    hdr->syntax_refused = 0;
    // Odd-length 8-bit frames are padded to even; only the frame bytes are needed, and
    // longer pixel data (pydicom's MR_small_padded) is fine: the excess is ignored.
    uint64_t need = (uint64_t)rows * cols * (alloc / 8u);
    uint64_t have = pixel.declared < pixel.available ? pixel.declared : pixel.available;
    hdr->pixel_bytes = have;
    if (have < need)
        return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated pixel data (expected %llu bytes, got %llu)", name,
                       (unsigned long long)need, (unsigned long long)have);
    return MP_OK;
}

// Reads the dataset up to the Pixel Data element without loading any of its value, and
// finds where that value starts in the file: what header-only reads need, and what
// tells how many pixel bytes a truncated file still holds.
OFCondition read_prefix(const char *path, DcmFileFormat &ff, PixelInfo *pixel)
{
    *pixel = PixelInfo();
    DcmInputFileStream stream(path);
    if (stream.status().bad()) return stream.status();
    ff.transferInit();
    OFCondition cond = ff.readUntilTag(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, DCM_PixelData);
    ff.transferEnd();
    if (cond.bad()) return cond;
    // Parsing stops right after the Pixel Data element's header: the element is there
    // when the bytes before the stream position are its tag (explicit VR: tag, VR, 2
    // reserved, 4-byte length; implicit VR: tag, 4-byte length).
    const uint64_t value_at = (uint64_t)stream.tell();
    DcmXfer xf(ff.getDataset()->getOriginalXfer());
    const bool big = xf.isBigEndian();
    const size_t head = xf.isExplicitVR() ? 12 : 8;
    unsigned char bytes[12];
    FILE *f = std::fopen(path, "rb");
    if (!f) return EC_InvalidStream;
    bool got = value_at >= head && std::fseek(f, (long)(value_at - head), SEEK_SET) == 0 &&
               std::fread(bytes, 1, head, f) == head;
    std::fseek(f, 0, SEEK_END);
    uint64_t size = (uint64_t)std::ftell(f);
    std::fclose(f);
    const unsigned char tag_le[4] = {0xE0, 0x7F, 0x10, 0x00}, tag_be[4] = {0x7F, 0xE0, 0x00, 0x10};
    if (got && std::memcmp(bytes, big ? tag_be : tag_le, 4) == 0) {
        const unsigned char *len = bytes + head - 4;
        pixel->present = true;
        pixel->declared = big ? ((uint64_t)len[0] << 24 | (uint64_t)len[1] << 16 | (uint64_t)len[2] << 8 | len[3])
                              : ((uint64_t)len[3] << 24 | (uint64_t)len[2] << 16 | (uint64_t)len[1] << 8 | len[0]);
        pixel->available = size > value_at ? size - value_at : 0;
    }
    return EC_Normal;
}

// The full load both readers use: every element parsed, values over 4 KiB (the pixel
// data) left on disk until getUncompressedFrame asks for them. What ff.loadFile does,
// through the open file (src/input/dicom_fd_stream.h).
OFCondition load_leaving_pixels_on_disk(const OpenFile &file, DcmFileFormat &ff)
{
    return dicom_load_fd(file.fd, file.size, ff, 4096);
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

// The room for a UID (64 characters and a NUL), as in dicom_header_t.transfer_syntax.
constexpr size_t kUidRoom = sizeof(dicom_header_t::transfer_syntax);

// Refuses what dcmtk must not be given at all (before any load). Gives the File Meta
// Information's transfer syntax UID in meta_uid[kUidRoom] ("" without meta).
mp_status refuse_before_loading(const char *path, OpenFile &file, char *meta_uid, mp_error *err)
{
    /* One descriptor, kept open in `file`: the walk of the element headers (the nesting
     * check, and the meta group's syntax: dcmtk inflates a deflated data set whole as it
     * loads it, so a deflate bomb is refused before dcmtk sees the file), then dcmtk's
     * parse. Opening it says what a path that is not a regular file is (a FIFO put in
     * place of a slice, a device), before anything could block on it, and gives the true
     * reason for a file that cannot be read (permission), which dcmtk calls "not DICOM". */
    file.fd = open_regular_file(path, base_name(path), &file.size, nullptr, err);
    if (file.fd < 0) return MP_ERR_IO;
    mp_status nesting = dicom_check_nesting(file.fd, base_name(path), DICOM_MAX_NESTING, meta_uid, kUidRoom, err);
    if (nesting != MP_OK) return nesting;
    if (!std::strcmp(meta_uid, "1.2.840.10008.1.2.1.99"))
        return mp_fail(err, MP_ERR_UNSUPPORTED,
                       "%s: Deflated Explicit VR Little Endian is not supported (1.2.840.10008.1.2.1.99)",
                       base_name(path));
    return MP_OK;
}

// RLE: dcmtk's decoder trusts the first fragment's 64-byte header (segment count and
// offsets) and reads out of bounds when it lies, which would crash the whole run. The
// header is checked here: one fragment per frame (DICOM's rule for RLE), at least 64
// bytes, one segment per byte of a sample, offsets from 64 up, inside the fragment.
mp_status check_rle_fragment(const char *path, DcmPixelData *pixel, const dicom_header_t *hdr, mp_error *err)
{
    const char *name = base_name(path);
    DcmPixelSequence *seq = nullptr;
    if (pixel->getEncapsulatedRepresentation(EXS_RLELossless, nullptr, seq).bad() || !seq)
        return mp_fail(err, MP_ERR_FORMAT, "%s: RLE pixel data is not encapsulated", name);
    DcmPixelItem *fragment = nullptr;
    if (seq->card() < 2 || seq->getItem(fragment, 1).bad() || !fragment)
        return mp_fail(err, MP_ERR_FORMAT, "%s: RLE pixel data without a fragment", name);
    Uint32 len = fragment->getLength();
    Uint8 *data = nullptr;
    if (len < 64 || fragment->getUint8Array(data).bad() || !data)
        return mp_fail(err, MP_ERR_FORMAT, "%s: RLE fragment of %u bytes, shorter than its 64-byte header", name, len);
    auto u32 = [&](int i) { return (uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 |
                                   (uint32_t)data[4 * i + 2] << 16 | (uint32_t)data[4 * i + 3] << 24; };
    const uint32_t segments = u32(0), want = hdr->bits_allocated / 8u;
    if (segments != want)
        return mp_fail(err, MP_ERR_FORMAT, "%s: RLE header has %u segments, %u bits need %u", name, segments,
                       hdr->bits_allocated, want);
    uint32_t last = 64;
    for (uint32_t i = 1; i <= segments; i++) {
        const uint32_t offset = u32((int)i);
        if (offset < last || offset >= len)
            return mp_fail(err, MP_ERR_FORMAT, "%s: RLE segment %u starts at %u, outside the %u-byte fragment", name,
                           i, offset, len);
        last = offset;
    }
    return MP_OK;
}

// A UID dcmtk does not know: dcmtk read the data set by its first bytes and calls it
// what those look like; the file's own UID (meta_uid, "" without meta) is the truth.
void take_meta_syntax(dicom_header_t *hdr, const char *meta_uid)
{
    if (!meta_uid[0] || DcmXfer(meta_uid).getXfer() != EXS_Unknown) return;
    trim_copy(hdr->transfer_syntax, sizeof hdr->transfer_syntax, meta_uid);
    const char *htj2k = htj2k_name(meta_uid);
    hdr->transfer_syntax_name = htj2k ? htj2k : "unknown";
    hdr->compressed = htj2k ? 1 : 0;
    hdr->syntax_unknown = htj2k ? 0 : 1;
}

// Explains a failed full load. When the header before the pixel data is readable, it
// fills hdr and the message says what is wrong with the file (usually: it ends early).
mp_status load_condition_error(const char *path, const OFCondition &cond, const char *meta_uid, dicom_header_t *hdr,
                               mp_error *err)
{
    const char *name = base_name(path);
    struct stat st;
    if (stat(path, &st) != 0) return mp_fail(err, MP_ERR_IO, "%s: cannot open: %s", name, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return mp_fail(err, MP_ERR_IO, "%s: is a folder, not a file", name);
    hdr->file_bytes = (uint64_t)st.st_size;  // what `info` shows even when nothing parses
    if (st.st_size == 0) return mp_fail(err, MP_ERR_FORMAT, "%s: empty file (0 bytes)", name);
    DcmFileFormat ff;
    PixelInfo pixel;
    if (read_prefix(path, ff, &pixel).good() && pixel.present) {
        fill_header(path, ff.getDataset(), hdr);
        take_meta_syntax(hdr, meta_uid);
        mp_status why = validate_header(path, ff.getDataset(), pixel, hdr, Want::WholeImage, err);
        if (why != MP_OK) return why; /* e.g. truncated pixel data (expected N bytes, got M) */
    }
    if (!has_dicm_magic(path))
        return mp_fail(err, MP_ERR_FORMAT, "%s: not a DICOM file (no DICM marker, and it does not parse as DICOM)",
                       name);
    if (is_premature_end(cond))
        return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated file (it ends inside a DICOM element)", name);
    return mp_fail(err, MP_ERR_FORMAT, "%s: not a readable DICOM file (%s)", name, cond.text());
}

// The stored values of docs/dicom.md ("Stored values"), as 16-bit words: the BitsStored
// bits that end at HighBit, masked (unsigned) or sign-extended (signed). In 16-bit
// arithmetic, so that it vectorises to four ops per 8 words (shift, and, xor, subtract):
// v = (w >> shift) & mask < 2^stored, and (v ^ sign) - sign is v sign-extended from bit
// stored - 1 modulo 2^16 (sign = 0 for unsigned: v itself) - the same words as the rule's
// 32-bit form. Shapes: shift = HighBit + 1 - BitsStored <= 15, mask = 2^BitsStored - 1.
struct StoredBits {
    unsigned shift;
    uint16_t mask, sign;
    bool identity; // 16 bits allocated and stored, shift 0: the words as they are
};

StoredBits stored_bits_of(const dicom_header_t *hdr)
{
    const unsigned stored = hdr->bits_stored, shift = hdr->high_bit + 1u - stored;
    StoredBits b;
    b.shift = shift;
    b.mask = (uint16_t)((1u << stored) - 1u);
    b.sign = hdr->pixel_representation == 1 ? (uint16_t)(1u << (stored - 1u)) : 0;
    b.identity = hdr->bits_allocated == 16 && stored == 16 && shift == 0;
    return b;
}

// in [n] allocated values (T: uint8_t for 8 bits allocated, uint16_t for 16) -> out [n]
// stored values. out may be in (16 bits: in place). An 8-bit value goes through the same
// formula zero-extended: HighBit < 8 there, so only its own bits are ever selected.
template <typename T>
void store_values_scalar(const T *in, uint16_t *out, size_t n, StoredBits b)
{
    const unsigned shift = b.shift;
    const uint16_t mask = b.mask, sign = b.sign;
    for (size_t i = 0; i < n; i++) {
        const uint16_t v = (uint16_t)((uint16_t)in[i] >> shift) & mask;
        out[i] = (uint16_t)((uint16_t)(v ^ sign) - sign);
    }
}

template <typename T>
void store_values(const T *in, uint16_t *out, size_t n, StoredBits b)
{
    store_values_scalar(in, out, n, b);
}

#if defined(__SSE2__) && !defined(MRIPREP_NO_SIMD)
// 16 bits, SSE2: the formula on 8 words per op (psrlw, pand, pxor, psubw: lane-wise the
// scalar uint16 operations). gcc widens the scalar loop to 32-bit lanes for the variable
// shift (unpack, psrld, repack): twice the time on a 256 x 256 frame in cache.
template <>
void store_values<uint16_t>(const uint16_t *in, uint16_t *out, size_t n, StoredBits b)
{
    const __m128i count = _mm_cvtsi32_si128((int)b.shift), mask = _mm_set1_epi16((short)b.mask),
                  sign = _mm_set1_epi16((short)b.sign);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i *>(in + i));
        const __m128i v = _mm_and_si128(_mm_srl_epi16(w, count), mask);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i), _mm_sub_epi16(_mm_xor_si128(v, sign), sign));
    }
    store_values_scalar(in + i, out + i, n - i, b);
}
#endif

// Masks to BitsStored (unsigned) or sign-extends from HighBit (signed), in place, on
// [n] 16-bit words that hold the allocated bits (16-bit frames, which dcmtk writes
// straight into the output). Conforming files (HighBit = BitsStored - 1, unused bits zero
// or sign copies) come out unchanged, as pydicom gives them.
void normalise_stored_bits(uint16_t *px, size_t n, const dicom_header_t *hdr)
{
    const StoredBits b = stored_bits_of(hdr);
    if (!b.identity) store_values(px, px, n, b);
}

} // namespace

struct DicomGlobals {
    bool ready = false;
};
static DicomGlobals g_dicom;

// The data dictionary a release bundle or wheel carries: ../share/mriprep/dicom.dic (and
// private.dic) from the real folder of the file this code was loaded from, bin/mriprep or
// lib/libmriprep.so.1, so an unpacked bundle works wherever it lies, through a symbolic
// link too, with no environment variable. Empty when that file is not there (a build or
// an install uses dcmtk's own). For the program itself the loader knows only argv[0], so
// its real path comes from /proc/self/exe.
static std::string bundled_dictionary_path()
{
    Dl_info self;
    struct link_map *map = nullptr;
    if (!dladdr1(reinterpret_cast<void *>(&bundled_dictionary_path), &self, reinterpret_cast<void **>(&map),
                 RTLD_DL_LINKMAP) || !map)
        return "";
    char *real = realpath(map->l_name[0] ? map->l_name : "/proc/self/exe", nullptr);
    if (!real) return "";
    std::string dir = real;
    free(real);
    dir = dir.substr(0, dir.rfind('/'));
    const std::string share = dir + "/../share/mriprep/";
    if (access((share + "dicom.dic").c_str(), R_OK) != 0) return "";
    std::string path = share + "dicom.dic";
    if (access((share + "private.dic").c_str(), R_OK) == 0) path += ":" + share + "private.dic";
    return path;
}

extern "C" mp_status dicom_global_init(mp_error *err)
{
    if (g_dicom.ready) return MP_OK;
    // Errors come back through OFCondition; dcmtk must not print on its own.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    // dcmtk reads DCMDICTPATH when the dictionary is first touched, just below. A user's
    // own DCMDICTPATH wins; otherwise a bundle's copy goes before the path compiled into
    // dcmtk, which a machine without dcmtk installed lacks.
    if (!getenv("DCMDICTPATH")) {
        const std::string bundled = bundled_dictionary_path();
        if (!bundled.empty()) setenv("DCMDICTPATH", bundled.c_str(), 0);
    }
    // An empty or unreadable file can leave the dictionary "loaded" and empty, and every
    // file would then look like one without pixels: check that it knows PixelData.
    bool known = false;
    if (dcmDataDict.isDictionaryLoaded()) {
        known = dcmDataDict.rdlock().findEntry(DcmTagKey(DCM_PixelData), nullptr) != nullptr;
        dcmDataDict.rdunlock();
    }
    if (!known) {
        const char *where = getenv("DCMDICTPATH");
        return mp_fail(err, MP_ERR_INTERNAL,
                       "dcmtk's data dictionary did not load from %s (Debian installs "
                       "/usr/share/libdcmtk17/dicom.dic, a release bundle share/mriprep/dicom.dic)",
                       where ? where : "dcmtk's default path");
    }
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
    static const std::string text = // built once, thread-safe (C++11 static initialisation)
        std::string("dcmtk " PACKAGE_VERSION " (uncompressed LE/BE, RLE, JPEG baseline/extended/lossless, JPEG-LS); "
                    "JPEG 2000 by OpenJPEG ") + dicom_j2k_library() + "; HTJ2K named, not decoded";
    return text.c_str();
}

namespace {

// What both readers do before any pixel is decoded, so that the header read says what
// the decode will say by construction: one parse (dcmtk's full load, pixel values left
// on disk), one fill, one validation. An earlier header read stopped parsing at the
// first (7FE0,0010) tag for speed; on malformed files that parse and the full one part
// ways (elements after Pixel Data, a Pixel Data tag with a broken VR the full load reads
// past), and the fuzzer found both. The full load costs the same on conforming files:
// the pixel value is skipped, not read.
// On MP_OK, *pixel_elem is the Pixel Data element, of the PixelData class.
// A complete image followed by a few stray bytes (a file padded by a copy tool): dcmtk's
// parse fails at the end of the file, inside the "next element", while pydicom reads the
// image. When the top-level Pixel Data is whole, the file is parsed again from memory
// without its last 1..7 bytes (fewer than any element header), values loaded and the
// buffer freed after; the first parse that succeeds is kept. The original condition
// otherwise.
OFCondition load_without_trailing_bytes(const char *path, DcmFileFormat &ff, OFCondition original)
{
    DcmFileFormat prefix;
    PixelInfo pixel;
    if (read_prefix(path, prefix, &pixel).bad() || !pixel.present || pixel.declared == 0xFFFFFFFFull ||
        pixel.available == UINT64_MAX || pixel.available < pixel.declared)
        return original; /* the pixel data itself is cut short: truly truncated */
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size < 16) return original;
    std::vector<char> bytes((size_t)st.st_size);
    FILE *f = std::fopen(path, "rb");
    if (!f) return original;
    const bool got = std::fread(bytes.data(), 1, bytes.size(), f) == bytes.size();
    std::fclose(f);
    if (!got) return original;
    for (size_t stray = 1; stray < 8; stray++) {
        // Parsing from memory loads every value whole: first make sure no element of the
        // shortened file declares a value beyond its end (a fuzzer's 2 GB allocation).
        int overrun = 1;
        mp_error walk_err;
        if (dicom_walk_elements(path, base_name(path), DICOM_MAX_NESTING, bytes.size() - stray, &overrun,
                                &walk_err) != MP_OK ||
            overrun)
            continue;
        DcmInputBufferStream stream;
        stream.setBuffer(bytes.data(), (offile_off_t)(bytes.size() - stray));
        stream.setEos();
        ff.clear();
        ff.transferInit();
        // every value loaded now: nothing may refer to the buffer once it is freed
        OFCondition cond = ff.read(stream, EXS_Unknown, EGL_noChange, 0xFFFFFFFFu);
        ff.transferEnd();
        if (cond.good()) return cond;
    }
    ff.clear();
    return original;
}

// `file` is opened here, and must outlive `ff` (dcmtk reads the pixel data through it).
mp_status load_and_validate(const char *path, OpenFile &file, DcmFileFormat &ff, dicom_header_t *hdr,
                            DcmPixelData **pixel_elem, Want want, mp_error *err)
{
    std::memset(hdr, 0, sizeof *hdr);
    char meta_uid[kUidRoom];
    mp_status refused = refuse_before_loading(path, file, meta_uid, err);
    if (refused == MP_ERR_UNSUPPORTED && meta_uid[0]) { /* refused for its syntax (deflate), unread */
        trim_copy(hdr->transfer_syntax, sizeof hdr->transfer_syntax, meta_uid);
        hdr->transfer_syntax_name = DcmXfer(meta_uid).getXferName();
        hdr->compressed = 1;
        hdr->syntax_refused = 1;
    }
    if (refused != MP_OK) return refused;
    OFCondition cond = load_leaving_pixels_on_disk(file, ff);
    if (cond.bad() && is_premature_end(cond)) cond = load_without_trailing_bytes(path, ff, cond);
    if (cond.bad()) return load_condition_error(path, cond, meta_uid, hdr, err);
    DcmDataset *ds = ff.getDataset();
    DcmElement *elem = nullptr;
    PixelInfo info;
    info.present = ds->findAndGetElement(DCM_PixelData, elem).good() && elem != nullptr;
    if (info.present) info.declared = elem->getLength();
    fill_header(path, ds, hdr, file.size);
    take_meta_syntax(hdr, meta_uid);
    mp_status st = validate_header(path, ds, info, hdr, want, err);
    if (st != MP_OK) return st;
    // (7FE0,0010) with an odd VR is read as another element class: not pixel data.
    if (elem->ident() != EVR_PixelData)
        return mp_fail(err, MP_ERR_FORMAT, "%s: the Pixel Data element has an unexpected VR (%s)", base_name(path),
                       DcmVR(elem->getVR()).getVRName());
    *pixel_elem = OFstatic_cast(DcmPixelData *, elem);
    return MP_OK;
}

} // namespace

extern "C" mp_status dicom_read_header(const char *path, dicom_header_t *hdr, mp_error *err)
{
    try {
        OpenFile file;
        DcmFileFormat ff;
        DcmPixelData *pixel = nullptr;
        return load_and_validate(path, file, ff, hdr, &pixel, Want::Slice, err);
    } catch (const std::bad_alloc &) {
        return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory reading the header", base_name(path));
    }
}

namespace {

// The codestream of frame 0 of an encapsulated, single-frame JPEG 2000 Pixel Data: its
// fragments (items after the Basic Offset Table) end to end.
mp_status j2k_codestream(const char *name, DcmDataset *ds, DcmPixelData *pixel, std::vector<unsigned char> &code,
                         mp_error *err)
{
    DcmPixelSequence *seq = nullptr;
    E_TransferSyntax xfer = ds->getOriginalXfer();
    if (pixel->getEncapsulatedRepresentation(xfer, nullptr, seq).bad() || !seq || seq->card() < 2)
        return mp_fail(err, MP_ERR_FORMAT, "%s: JPEG 2000 Pixel Data without fragments", name);
    for (unsigned long i = 1; i < seq->card(); i++) {
        DcmPixelItem *item = nullptr;
        Uint8 *bytes = nullptr;
        OFCondition cond = seq->getItem(item, i);
        if (cond.good() && item->getLength() > 0) cond = item->getUint8Array(bytes);
        if (cond.bad()) {
            if (is_premature_end(cond))
                return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated pixel data (fragment %lu: %s)", name, i,
                               cond.text());
            return mp_fail(err, MP_ERR_FORMAT, "%s: unreadable JPEG 2000 fragment %lu (%s)", name, i, cond.text());
        }
        if (bytes) code.insert(code.end(), bytes, bytes + item->getLength());
        item->compact(); // the fragment's bytes are copied: dcmtk's may go
    }
    return MP_OK;
}

// Loads, validates, then asks `place(n, &out)` for room for n = rows*cols values and
// decodes frame 0 into it. `place` returns MP_OK, or the reason it has no room (with its
// own message set).
template <typename Place>
mp_status decode_into(const char *path, dicom_header_t *hdr, Place place, mp_error *err, Want want = Want::Slice)
{
    const char *name = base_name(path);
    try {
        OpenFile file;
        DcmFileFormat ff;
        DcmPixelData *pixel = nullptr;
        mp_status st = load_and_validate(path, file, ff, hdr, &pixel, want, err);
        if (st != MP_OK) return st;
        DcmDataset *ds = ff.getDataset();
        size_t n = (size_t)hdr->rows * hdr->cols;
        struct Room {
            Place *place;
            static mp_status give(void *self, size_t count, uint16_t **out, mp_error *) {
                return (*static_cast<Room *>(self)->place)(count, out);
            }
        } room{&place};
        if (is_jpeg2000(ds->getOriginalXfer())) {
            std::vector<unsigned char> code;
            st = j2k_codestream(name, ds, pixel, code, err);
            if (st != MP_OK) return st;
            return dicom_j2k_decode(name, code.data(), code.size(), hdr, Room::give, &room, err);
        }
        if (ds->getOriginalXfer() == EXS_RLELossless) {
            st = check_rle_fragment(path, pixel, hdr, err);
            if (st != MP_OK) return st;
        }
        Uint32 frame_bytes = 0;
        OFCondition cond = pixel->getUncompressedFrameSize(ds, frame_bytes);
        if (cond.bad())
            return mp_fail(err, MP_ERR_FORMAT, "%s: cannot size the frame (%s)", name, cond.text());
        if (frame_bytes != n * (hdr->bits_allocated / 8u))
            return mp_fail(err, MP_ERR_FORMAT, "%s: frame of %u bytes for %u x %u x %u bits", name,
                           frame_bytes, hdr->rows, hdr->cols, hdr->bits_allocated);
        uint16_t *out = nullptr;
        st = place(n, &out);
        if (st != MP_OK) return st;

        Uint32 even_bytes = frame_bytes + (frame_bytes & 1u);
        Uint32 start_fragment = 0;
        OFString color_model;
        if (hdr->bits_allocated == 16) {
            // dcmtk writes the frame straight into `out` (read from the file, or from a
            // decoder); the rule runs over it in place. (Reading the value a piece at a
            // time with getPartialValue and applying the rule on the way out was measured
            // no faster: more reads, and `out` is written once either way.)
            cond = pixel->getUncompressedFrame(ds, 0, start_fragment, out, even_bytes, color_model);
            if (cond.good()) normalise_stored_bits(out, n, hdr);
        } else {
            // 8-bit frames (odd sizes padded to even) are decoded to bytes, then widened
            // to stored values in one pass: the copy out of dcmtk's bytes is where the
            // rule runs (it sign-extends where PixelRepresentation says so).
            std::vector<uint8_t> bytes(even_bytes);
            cond = pixel->getUncompressedFrame(ds, 0, start_fragment, bytes.data(), even_bytes, color_model);
            if (cond.good()) store_values(bytes.data(), out, n, stored_bits_of(hdr));
        }
        if (cond.bad()) {
            if (is_premature_end(cond))
                return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated pixel data (the file ends early; %s)", name,
                               cond.text());
            return mp_fail(err, MP_ERR_FORMAT, "%s: cannot decode pixel data (%s: %s)", name,
                           hdr->transfer_syntax_name ? hdr->transfer_syntax_name : "?", cond.text());
        }
        return MP_OK;
    } catch (const std::bad_alloc &) {
        return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory decoding", name);
    }
}

} // namespace

extern "C" void dicom_store_values(const void *in, uint16_t *out, size_t n, const dicom_header_t *hdr)
{
    const StoredBits bits = stored_bits_of(hdr);
    if (hdr->bits_allocated == 8)
        store_values(static_cast<const uint8_t *>(in), out, n, bits);
    else if (!bits.identity || in != out)
        store_values(static_cast<const uint16_t *>(in), out, n, bits);
}

extern "C" mp_status dicom_decode_slice(const char *path, dicom_header_t *hdr, uint16_t *out,
                                        size_t out_capacity, mp_error *err)
{
    return decode_into(path, hdr, [&](size_t n, uint16_t **place) -> mp_status {
        if (out_capacity < n)
            return mp_fail(err, MP_ERR_LIMIT, "%s: %u x %u image does not fit the %zu-pixel buffer", base_name(path),
                           hdr->rows, hdr->cols, out_capacity);
        *place = out;
        return MP_OK;
    }, err);
}

extern "C" mp_status dicom_decode_slice_with(const char *path, dicom_header_t *hdr, dicom_place_fn place,
                                             void *ctx, mp_error *err)
{
    return decode_into(path, hdr, [&](size_t n, uint16_t **out) -> mp_status {
        mp_status st = place(ctx, n, out, err);
        if (st == MP_OK && !*out) return mp_fail(err, MP_ERR_INTERNAL, "%s: no buffer for the pixels", base_name(path));
        return st;
    }, err);
}

namespace {

mp_status decode_alloc(const char *path, dicom_header_t *hdr, uint16_t **pixels, Want want, mp_error *err)
{
    *pixels = nullptr;
    uint16_t *owned = nullptr;
    mp_status st = decode_into(path, hdr, [&](size_t n, uint16_t **place) -> mp_status {
        owned = static_cast<uint16_t *>(std::malloc(n * sizeof(uint16_t)));
        if (!owned)
            return mp_fail(err, MP_ERR_NOMEM, "%s: cannot allocate %zu bytes for pixels", base_name(path),
                           n * sizeof(uint16_t));
        *place = owned;
        return MP_OK;
    }, err, want);
    if (st != MP_OK) {
        std::free(owned);
        return st;
    }
    *pixels = owned;
    return MP_OK;
}

} // namespace

extern "C" mp_status dicom_decode_slice_alloc(const char *path, dicom_header_t *hdr, uint16_t **pixels,
                                              mp_error *err)
{
    return decode_alloc(path, hdr, pixels, Want::Slice, err);
}

extern "C" mp_status dicom_decode_image_alloc(const char *path, dicom_header_t *hdr, uint16_t **pixels,
                                              mp_error *err)
{
    return decode_alloc(path, hdr, pixels, Want::WholeImage, err);
}
