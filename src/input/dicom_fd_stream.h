/* dicom_fd_stream.h - dcmtk's parse of a DICOM file through a descriptor the caller keeps
 * open (internal to src/input: C++, used by dicom_dcmtk.cpp's readers, and by
 * tests/test_dicom_stream.cpp, which holds it to dcmtk's own file stream).
 *
 * dcmtk's DcmFileFormat::loadFile opens the file by name with stdio, seeks to its end for
 * the size and back, reads in 4 KiB pieces, and reads each value it left unread (the pixel
 * data) later through a factory that opens the file again by name: a decode of a 512x512
 * slice made 30 system calls (strace: 3 opens, 6 fstat, 7 lseek, 7 read). Through the
 * descriptor the element walk already opened, with pread and the size fstat gave, it
 * makes 8: open, fstat, 2 fcntl, 3 pread, close. */
#ifndef MRIPREP_DICOM_FD_STREAM_H
#define MRIPREP_DICOM_FD_STREAM_H

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cstdint>

/* What ff.loadFile(path, EXS_Unknown, EGL_noChange, max_read_length, ERM_autoDetect) does
 * (dcmtk 3.6.7, DcmFileFormat::loadFileUntilTag: clear, then read between transferInit and
 * transferEnd), reading the file `fd` is open on, `size` bytes long when it was opened.
 * Values longer than max_read_length are left unread, and dcmtk reads them later through
 * fd: it must stay open for as long as ff may read them (for its lifetime, in practice). */
OFCondition dicom_load_fd(int fd, uint64_t size, DcmFileFormat &ff, Uint32 max_read_length);

#endif /* MRIPREP_DICOM_FD_STREAM_H */
