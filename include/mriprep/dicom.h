/* dicom.h - decode stage: one DICOM file to a header and its stored pixel values.
 *
 * Implemented by src/input/dicom_dcmtk.cpp, the only file that sees dcmtk's C++ API.
 * Thread safety (docs/dicom.md): call dicom_global_init() once before
 * any thread starts; afterwards dicom_read_header() and dicom_decode_slice() may run
 * from any number of threads at once (each call uses its own dcmtk objects).
 */
#ifndef MRIPREP_DICOM_H
#define MRIPREP_DICOM_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sane caps checked against the header before any allocation. */
#define DICOM_MAX_DIM 8192u              /* rows and columns */
#define DICOM_MAX_FRAME_PIXELS (1u << 26) /* rows x columns (64 Mi pixels) */

/* The attributes of one file that mriprep uses. */
typedef struct dicom_header {
    uint32_t rows, cols;            /* image size in pixels */
    uint32_t frames;                /* NumberOfFrames (1 when absent) */
    uint16_t bits_allocated;        /* 8 or 16 are decodable */
    uint16_t bits_stored;           /* <= bits_allocated */
    uint16_t high_bit;              /* bits_stored - 1 in practice */
    uint16_t pixel_representation;  /* 0 unsigned, 1 signed (two's complement) */
    uint16_t samples_per_pixel;     /* 1 is decodable */
    int monochrome1;                /* 1: PhotometricInterpretation MONOCHROME1 (noted, not inverted) */
    char photometric[20];           /* PhotometricInterpretation, trimmed */
    double rescale_slope;           /* 1 when absent */
    double rescale_intercept;       /* 0 when absent */
    int has_position;               /* ImagePositionPatient present (3 values) */
    double position[3];             /* mm, patient coordinates */
    int has_orientation;            /* ImageOrientationPatient present (6 values) */
    double orientation[6];          /* row direction cosines, then column direction cosines */
    int has_spacing;                /* PixelSpacing present (2 values) */
    double spacing[2];              /* mm: between rows, between columns */
    int mosaic;                     /* ImageType holds MOSAIC: a Siemens mosaic, one file
                                       holding a grid of slices (refused) */
    uint32_t mosaic_images;         /* Siemens' NumberOfImagesInMosaic (0019,100A); 0 when absent */
    int has_instance;               /* InstanceNumber present */
    int32_t instance_number;
    char transfer_syntax[68];       /* UID, e.g. "1.2.840.10008.1.2" */
    const char *transfer_syntax_name; /* static string, e.g. "Implicit VR Little Endian" */
    int compressed;                 /* 1 for encapsulated (compressed) pixel data */
    int syntax_unknown;             /* 1: the file's TransferSyntaxUID is one this build does not
                                       know (refused; transfer_syntax holds it) */
    int syntax_refused;             /* 1: the file was refused for its transfer syntax (unknown,
                                       deflate, no decoder): what scan's table notes */
    uint64_t pixel_bytes;           /* bytes of PixelData in the file (0 if unknown, e.g. compressed) */
    uint64_t file_bytes;            /* size of the file */
} dicom_header_t;

/* The deepest nesting of sequences a file may have: dcmtk's parser recurses per level
 * with no limit of its own (6,000 levels overflow a thread's stack); real files nest a
 * few levels, structured reports some tens. */
#define DICOM_MAX_NESTING 128

/* MP_ERR_FORMAT ("NAME: sequences nested more than MAX deep ...") when the file's
 * sequences nest deeper than max_depth, found by a walk of its element headers without
 * recursion (src/input/dicom_nesting.c), over the file `fd` is open on (read with pread;
 * it stays open); MP_OK otherwise, and when the walk cannot follow the file (dcmtk then
 * says what is wrong). The same walk gives the File Meta Information's TransferSyntaxUID,
 * trimmed, in meta_syntax[cap] ("" without meta): what refuses a deflated file before
 * dcmtk would inflate it whole. Every decode and header read calls it first, on the one
 * descriptor that also checked the file is regular. */
mp_status dicom_check_nesting(int fd, const char *name, int max_depth, char *meta_syntax, size_t cap,
                              mp_error *err);

/* The same walk over the whole of the file's first `limit` bytes (limit > 0: past the
 * Pixel Data too): *overrun is 1 when an element declares a value that would end beyond
 * `limit` (dcmtk would allocate it whole when it parses from memory). */
mp_status dicom_walk_elements(const char *path, const char *name, int max_depth, uint64_t limit, int *overrun,
                              mp_error *err);

/* Registers the RLE, JPEG and JPEG-LS decoders, silences dcmtk's logger and checks
 * that the data dictionary loaded. Call once, before any parallel region.
 * Returns MP_OK or MP_ERR_INTERNAL (message says what is missing). */
mp_status dicom_global_init(mp_error *err);

/* Deregisters the codecs; call once after all threads have joined. */
void dicom_global_cleanup(void);

/* A short description of the decoders built in, e.g. "dcmtk 3.6.7 (RLE, JPEG, JPEG-LS)". */
const char *dicom_library_description(void);

/* Reads the header of `path` without reading its pixel data and validates it (sizes
 * within the caps, one sample per pixel, 8 or 16 bits allocated, bits stored <=
 * allocated, one frame, pixel data present and as long as the header needs, transfer
 * syntax decodable): what a full decode would say, short of decoding.
 * `hdr` is zeroed first and filled whenever the header is readable, also on later
 * errors (not for deflated files: they are refused unread, since dcmtk would inflate
 * them whole - a deflate bomb). `err` may be NULL.
 * Returns MP_OK, or MP_ERR_IO / MP_ERR_FORMAT / MP_ERR_TRUNCATED / MP_ERR_UNSUPPORTED /
 * MP_ERR_LIMIT with a message that starts with the file name. */
mp_status dicom_read_header(const char *path, dicom_header_t *hdr, mp_error *err);

/* Reads and validates the header, then decodes frame 0 into `out`, which holds
 * `out_capacity` values: [rows][cols] stored values, after masking to BitsStored
 * (unsigned) or sign extension from HighBit (signed), as raw 16-bit words. Read them
 * as int16_t when hdr->pixel_representation == 1, as uint16_t otherwise (8-bit images
 * are widened). No rescale, no MONOCHROME1 inversion: the stored values, as pydicom's
 * pixel_array gives them.
 * Pixel data longer than rows*cols*bytes is decoded with the excess ignored; shorter is
 * MP_ERR_TRUNCATED. Multi-frame files are MP_ERR_UNSUPPORTED (a series is one file per
 * slice). `out_capacity` smaller than rows*cols is MP_ERR_LIMIT, checked before decoding.
 * `hdr` is zeroed first and filled whenever the header is readable, also on later
 * errors. `err` may be NULL. */
mp_status dicom_decode_slice(const char *path, dicom_header_t *hdr, uint16_t *out,
                             size_t out_capacity, mp_error *err);

/* Where a decoded frame goes: called once the header is validated, with the number of
 * values (rows*cols) the frame needs; sets *out to room for them and returns MP_OK, or
 * returns why there is none (message set in err). Lets callers decode straight into
 * buffers they keep from file to file (pinned memory for the CUDA backend). */
typedef mp_status (*dicom_place_fn)(void *ctx, size_t n_values, uint16_t **out, mp_error *err);

/* As dicom_decode_slice, into the room `place` gives. */
mp_status dicom_decode_slice_with(const char *path, dicom_header_t *hdr, dicom_place_fn place, void *ctx,
                                  mp_error *err);

/* JPEG 2000 (1.2.840.10008.1.2.4.90-.93) frames decode through OpenJPEG
 * (src/input/j2k_decode.c): `code` [size] is the frame's codestream (J2K or JP2), `hdr`
 * the validated DICOM header. Its image must be one component of Rows x Columns, of at
 * most BitsAllocated bits, before anything is decoded; then `place` gives room for
 * Rows x Columns values, which get the stored-values rule (dicom_store_values). Errors
 * (MP_ERR_FORMAT for a header that disagrees or a corrupt stream) start with `name`. */
mp_status dicom_j2k_decode(const char *name, const unsigned char *code, size_t size, const dicom_header_t *hdr,
                           dicom_place_fn place, void *ctx, mp_error *err);
const char *dicom_j2k_library(void); /* OpenJPEG's version, e.g. "2.5.0" */

/* A pixel buffer kept from file to file and replaced by a larger one when an image needs
 * it: what every caller of dicom_decode_slice_with places frames in. Zero it (malloc and
 * free), or set `alloc` and `release` (pinned memory for the CUDA backend), before the
 * first use. */
typedef struct dicom_buffer {
    uint16_t *pixels; /* [capacity] values */
    size_t capacity;
    void *(*alloc)(void *owner, size_t bytes); /* NULL: malloc */
    void (*release)(void *owner, void *p);     /* NULL: free */
    void *owner;
} dicom_buffer_t;

/* A dicom_place_fn; ctx is a dicom_buffer_t. */
mp_status dicom_place_in_buffer(void *buffer, size_t n_values, uint16_t **out, mp_error *err);

/* Frees the pixels (the struct's allocator settings stay). */
void dicom_buffer_free(dicom_buffer_t *b);

/* The stored-values rule of dicom_decode_slice (docs/dicom.md, "Stored values") on n
 * values as decoded: `in` holds hdr->bits_allocated-bit values (bytes for 8, host-order
 * words for 16), `out` gets the 16-bit words dicom_decode_slice gives for them (masked to
 * BitsStored, sign-extended from HighBit when hdr->pixel_representation is 1, 8-bit values
 * widened). For 16 bits `in` may be `out`. The header must have passed validation (as
 * dicom_read_header's MP_OK says). Exposed for the tests. */
void dicom_store_values(const void *in, uint16_t *out, size_t n, const dicom_header_t *hdr);

/* As dicom_decode_slice, but allocates exactly rows*cols values with malloc() after the
 * header is validated; on MP_OK *pixels is the caller's to free(), else it is NULL. */
mp_status dicom_decode_slice_alloc(const char *path, dicom_header_t *hdr, uint16_t **pixels,
                                   mp_error *err);

/* As dicom_decode_slice_alloc, for a reader of one file's image as stored (info --npy,
 * show): a Siemens mosaic, which a series refuses, is decoded as the one grid image it
 * is (hdr->mosaic says so). */
mp_status dicom_decode_image_alloc(const char *path, dicom_header_t *hdr, uint16_t **pixels, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_DICOM_H */
