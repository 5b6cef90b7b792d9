/* dicom_nesting.c - how deeply a DICOM file nests its sequences, found without dcmtk and
 * without recursion, before dcmtk parses it (include/mriprep/dicom.h).
 *
 * dcmtk's parser recurses once per nested sequence and item, with no limit: a 190 kB file
 * of 6,000 nested sequences overflows a thread's stack and kills the whole process (5,000
 * pass on an 8 MiB stack). This walk reads the element headers in order, keeps the open
 * sequences and items on an explicit stack, skips every other value, and stops at
 * the top-level Pixel Data, at the end of the file, or at anything it cannot follow
 * (then dcmtk decides). Sequences are known by their VR (explicit VR), or in implicit VR
 * by an undefined length or a value that starts with an item tag (FFFE,E000), which
 * over-counts only for a value that happens to begin with those four bytes.
 */
#include "mriprep/dicom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UNDEFINED 0xFFFFFFFFu

typedef struct frame {
    uint64_t end;    /* absolute offset where a defined-length container ends; UINT64_MAX: undefined */
    int is_sequence; /* 1: a sequence; 0: an item */
} frame_t;

/* The walk reads through its own buffer with pread: skipping a value is an addition, not
 * a seek (glibc's fseek is an lseek each time: 70 system calls for a typical header). */
typedef struct reader {
    int fd;
    uint64_t pos;         /* the walk's position in the file */
    int big;              /* big-endian data set */
    uint64_t buf_at;      /* the file offset of buf[0] */
    size_t buf_len;       /* bytes of buf that hold the file */
    char meta_syntax[81]; /* the File Meta Information's TransferSyntaxUID, trimmed ("": none) */
    unsigned char buf[8192];
} reader_t;

/* n bytes at offset `at` (n <= sizeof buf) into out: from the buffer, refilled by one
 * pread when they are not all in it. 0 when the file ends first. */
static int read_at(reader_t *r, uint64_t at, unsigned char *out, size_t n)
{
    if (at < r->buf_at || at + n > r->buf_at + r->buf_len) {
        ssize_t got;
        do got = pread(r->fd, r->buf, sizeof r->buf, (off_t)at);
        while (got < 0 && errno == EINTR);
        r->buf_at = at;
        r->buf_len = got > 0 ? (size_t)got : 0;
        if (n > r->buf_len) return 0;
    }
    memcpy(out, r->buf + (at - r->buf_at), n);
    return 1;
}

static int read_bytes(reader_t *r, unsigned char *buf, size_t n)
{
    if (!read_at(r, r->pos, buf, n)) return 0;
    r->pos += n;
    return 1;
}

static uint32_t u16(const unsigned char *b, int big) { return big ? (uint32_t)b[0] << 8 | b[1] : (uint32_t)b[1] << 8 | b[0]; }
static uint32_t u32(const unsigned char *b, int big)
{
    return big ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
               : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static int long_length_vr(const unsigned char *vr)
{
    static const char *const vrs[] = {"OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UC", "UR", "UT", "UN", "SV", "UV"};
    for (size_t i = 0; i < sizeof vrs / sizeof *vrs; i++)
        if (vr[0] == vrs[i][0] && vr[1] == vrs[i][1]) return 1;
    return 0;
}

static int is_vr_letters(const unsigned char *vr) { return vr[0] >= 'A' && vr[0] <= 'Z' && vr[1] >= 'A' && vr[1] <= 'Z'; }

/* Pops frames down to (and including) the innermost one of the kind; the depth (open
 * sequences) follows. */
static void pop_to(frame_t *stack, int *n, int *depth, int is_sequence)
{
    while (*n > 0) {
        const int was = stack[*n - 1].is_sequence;
        (*n)--;
        *depth -= was;
        if (was == is_sequence) return;
    }
}

static mp_status walk(reader_t *r, const char *name, int max_depth, uint64_t limit, int *overrun,
                      mp_error *err);

mp_status dicom_check_nesting(int fd, const char *name, int max_depth, char *meta_syntax, size_t cap,
                              mp_error *err)
{
    reader_t r;
    r.fd = fd;
    mp_status st = walk(&r, name, max_depth, 0, NULL, err);
    const char *uid = r.meta_syntax;
    while (*uid == ' ') uid++;
    snprintf(meta_syntax, cap, "%s", uid);
    return st;
}

mp_status dicom_walk_elements(const char *path, const char *name, int max_depth, uint64_t limit, int *overrun,
                              mp_error *err)
{
    if (overrun) *overrun = 0;
    reader_t r;
    r.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) return MP_OK; /* dcmtk says why it cannot be read */
    mp_status st = walk(&r, name, max_depth, limit, overrun, err);
    close(r.fd);
    return st;
}

/* The walk itself, from the start of the file r->fd is open on (left open; only r->fd
 * need be set). */
static mp_status walk(reader_t *rd, const char *name, int max_depth, uint64_t limit, int *overrun,
                      mp_error *err)
{
    reader_t *const r = rd;
    r->pos = 0, r->big = 0, r->buf_at = 0, r->buf_len = 0, r->meta_syntax[0] = '\0';
    unsigned char head[132];
    int explicit_vr = 1, in_meta = 0;
    if (read_at(r, 0, head, 132) && memcmp(head + 128, "DICM", 4) == 0) {
        r->pos = 132;
        in_meta = 1;
    } else {
        /* No meta: explicit VR when the bytes after the first tag are VR letters. */
        explicit_vr = read_at(r, 0, head, 6) && is_vr_letters(head + 4);
    }
    frame_t stack[2 * DICOM_MAX_NESTING + 8]; /* a sequence and its item per level */
    const int cap = (int)(sizeof stack / sizeof *stack);
    int n = 0, depth = 0;
    mp_status st = MP_OK;
    /* With a limit, the walk must follow the file to exactly that end: anything it cannot
     * follow counts as an overrun (no parse from memory of what it could not check). */
    int reached_limit = 0;
    for (;;) {
        if (limit && r->pos >= limit) {
            reached_limit = r->pos == limit;
            break;
        }
        while (n > 0 && stack[n - 1].end != UINT64_MAX && r->pos >= stack[n - 1].end) {
            depth -= stack[n - 1].is_sequence;
            n--;
        }
        unsigned char t[8];
        if (!read_bytes(r, t, 4)) break;
        /* The meta group (0002) is explicit VR little endian; the data set as its syntax says. */
        int big = r->big;
        uint32_t group = u16(t, in_meta ? 0 : big), element = u16(t + 2, in_meta ? 0 : big);
        if (in_meta && group != 0x0002) {
            in_meta = 0;
            big = r->big;
            group = u16(t, big);
            element = u16(t + 2, big);
        }
        if (group == 0xFFFE) {
            if (!read_bytes(r, t, 4)) break;
            const uint32_t len = u32(t, big);
            if (limit && element == 0xE000 && len != UNDEFINED && r->pos + len > limit) {
                if (overrun) *overrun = 1;
                break;
            }
            if (element == 0xE000) {
                if (n >= cap) {
                    st = mp_fail(err, MP_ERR_FORMAT, "%s: items nested more than %d deep (refused: parsing it "
                                 "could exhaust the stack)", name, max_depth);
                    break;
                }
                stack[n].end = len == UNDEFINED ? UINT64_MAX : r->pos + len;
                stack[n++].is_sequence = 0;
            } else if (element == 0xE00D) {
                pop_to(stack, &n, &depth, 0);
            } else if (element == 0xE0DD) {
                pop_to(stack, &n, &depth, 1);
            }
            continue;
        }
        uint32_t len;
        unsigned char vr[2] = {0, 0};
        const int explicit_here = in_meta || explicit_vr;
        if (explicit_here) {
            if (!read_bytes(r, t, 4)) break;
            vr[0] = t[0], vr[1] = t[1];
            if (!is_vr_letters(vr)) break; /* not what we can follow */
            if (long_length_vr(vr)) {
                if (!read_bytes(r, t, 4)) break;
                len = u32(t, in_meta ? 0 : big);
            } else {
                len = u16(t + 2, in_meta ? 0 : big);
            }
        } else {
            if (!read_bytes(r, t, 4)) break;
            len = u32(t, big);
        }
        if (in_meta && group == 0x0002 && element == 0x0010 && len < 80) {
            /* TransferSyntaxUID: implicit VR little endian, or explicit big endian */
            char *uid = r->meta_syntax;
            if (!read_bytes(r, (unsigned char *)uid, len)) break;
            uid[len] = '\0';
            for (int k = (int)len - 1; k >= 0 && (uid[k] == '\0' || uid[k] == ' '); k--) uid[k] = '\0';
            if (!strcmp(uid, "1.2.840.10008.1.2")) explicit_vr = 0;
            if (!strcmp(uid, "1.2.840.10008.1.2.2")) r->big = 1;
            continue;
        }
        if (group == 0x7FE0 && element == 0x0010 && n == 0 && !limit) break; /* the pixel data: done */
        if (limit && len != UNDEFINED && r->pos + len > limit) { /* a value past the end given */
            if (overrun) *overrun = 1;
            break;
        }
        int is_sequence;
        if (explicit_here) {
            is_sequence = (vr[0] == 'S' && vr[1] == 'Q') || (len == UNDEFINED);
        } else if (len == UNDEFINED) {
            is_sequence = 1;
        } else {
            unsigned char first[4];
            is_sequence = len >= 8 && read_at(r, r->pos, first, 4) && u16(first, big) == 0xFFFE &&
                          u16(first + 2, big) == 0xE000;
        }
        if (is_sequence) {
            if (n >= cap) {
                st = mp_fail(err, MP_ERR_FORMAT, "%s: sequences nested more than %d deep (refused: parsing it could "
                             "exhaust the stack)", name, max_depth);
                break;
            }
            stack[n].end = len == UNDEFINED ? UINT64_MAX : r->pos + len;
            stack[n++].is_sequence = 1;
            if (++depth > max_depth) {
                st = mp_fail(err, MP_ERR_FORMAT, "%s: sequences nested more than %d deep (refused: parsing it could "
                             "exhaust the stack)", name, max_depth);
                break;
            }
            continue;
        }
        if (len == UNDEFINED) break;
        r->pos += len;
    }
    if (limit && overrun && !reached_limit) *overrun = 1;
    return st;
}
