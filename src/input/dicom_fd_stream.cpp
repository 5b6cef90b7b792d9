/* dicom_fd_stream.cpp - dcmtk's input over an open descriptor (dicom_fd_stream.h). */
#include "dicom_fd_stream.h"

#include <dcmtk/dcmdata/dcistrma.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace {

// A producer, a stream, and the stream factory that lets dcmtk leave values over its read
// limit unread, as it does with files: DcmElement::read keeps the stream's factory and
// skips the value; loadValue and getPartialValue create a stream from it, positioned at
// the value, when it is asked for.
//
// The answers are DcmFileProducer's: avail() and skip() go by the size at open; a
// read that meets the end of the file (shorter than it was) makes eos() true until the
// next skip or putback (stdio's end-of-file flag, which fseek clears); a putback before
// the start fails the stream.
class FdProducer : public DcmProducer {
  public:
    FdProducer(int fd, offile_off_t size, offile_off_t at) : fd_(fd), size_(size), pos_(at) {}
    int fd() const { return fd_; }
    offile_off_t size() const { return size_; }
    OFBool good() const override { return status_.good(); }
    OFCondition status() const override { return status_; }
    OFBool eos() override { return at_end_ || pos_ >= size_; }
    offile_off_t avail() override { return size_ - pos_; }
    offile_off_t read(void *buf, offile_off_t buflen) override
    {
        if (!status_.good() || !buf || buflen <= 0) return 0;
        unsigned char *out = static_cast<unsigned char *>(buf);
        offile_off_t done = 0;
        while (done < buflen) {
            if (pos_ >= buf_at_ && pos_ < buf_at_ + buf_len_) { /* from the buffer */
                const offile_off_t here = buf_at_ + buf_len_ - pos_;
                const offile_off_t n = here < buflen - done ? here : buflen - done;
                std::memcpy(out + done, buf_ + (pos_ - buf_at_), (size_t)n);
                done += n, pos_ += n;
                continue;
            }
            const bool direct = buflen - done >= (offile_off_t)sizeof buf_; /* a value: straight into buf */
            ssize_t got;
            do got = pread(fd_, direct ? out + done : buf_, direct ? (size_t)(buflen - done) : sizeof buf_, (off_t)pos_);
            while (got < 0 && errno == EINTR);
            if (got <= 0) {
                at_end_ = true; /* the end of the file, or an error: fread gives what it has */
                break;
            }
            if (direct) {
                done += got, pos_ += got;
            } else {
                buf_at_ = pos_, buf_len_ = got;
            }
        }
        return done;
    }
    offile_off_t skip(offile_off_t skiplen) override
    {
        if (!status_.good() || skiplen <= 0) return 0;
        const offile_off_t n = size_ - pos_ < skiplen ? size_ - pos_ : skiplen;
        pos_ += n;
        at_end_ = false;
        return n;
    }
    void putback(offile_off_t num) override
    {
        if (!status_.good() || !num) return;
        if (num <= pos_) {
            pos_ -= num;
            at_end_ = false;
        } else {
            status_ = EC_PutbackFailed;
        }
    }

  private:
    int fd_;
    offile_off_t size_, pos_;
    bool at_end_ = false;
    OFCondition status_ = EC_Normal;
    offile_off_t buf_at_ = 0, buf_len_ = 0;
    unsigned char buf_[16384];
};

class FdStream : public DcmInputStream {
  public:
    FdStream(int fd, offile_off_t size, offile_off_t at = 0) : DcmInputStream(&producer_), producer_(fd, size, at) {}
    DcmInputStreamFactory *newFactory() const override;

  private:
    FdProducer producer_;
};

class FdStreamFactory : public DcmInputStreamFactory {
  public:
    FdStreamFactory(int fd, offile_off_t size, offile_off_t at) : fd_(fd), size_(size), at_(at) {}
    DcmInputStream *create() const override { return new FdStream(fd_, size_, at_); }
    DcmInputStreamFactory *clone() const override { return new FdStreamFactory(*this); }
    // dcmtk reads ident() only of its own temporary-file factory; a file's is this kind.
    DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

  private:
    int fd_;
    offile_off_t size_, at_;
};

DcmInputStreamFactory *FdStream::newFactory() const
{
    // As DcmInputFileStream: none once a (deflate) filter sits before the producer.
    if (currentProducer() != &producer_) return nullptr;
    return new FdStreamFactory(producer_.fd(), producer_.size(), tell());
}

} // namespace

OFCondition dicom_load_fd(int fd, uint64_t size, DcmFileFormat &ff, Uint32 max_read_length)
{
    FdStream stream(fd, (offile_off_t)size);
    OFCondition cond = ff.clear();
    if (cond.bad()) return cond;
    ff.transferInit();
    cond = ff.read(stream, EXS_Unknown, EGL_noChange, max_read_length);
    ff.transferEnd();
    return cond;
}
