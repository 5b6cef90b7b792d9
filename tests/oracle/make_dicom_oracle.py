#!/usr/bin/python3
"""make_dicom_oracle.py OUTDIR - the external oracle for tests/test_dicom.cpp.

Run with Debian's interpreter (pydicom 2.3, numpy 1.24):
    /usr/bin/python3 tests/oracle/make_dicom_oracle.py build/oracle/dicom

What it writes into OUTDIR (about 260 kB, deterministic, well under a second):

  * <case>.npy          the pixel array a test compares against, [rows][cols], int32
                        ('<i4' on a little-endian machine), C order.
  * <case>.pydicom.npy  only where pydicom's pixel_array differs from what DICOM's rules
                        give (pydicom 2.3 neither masks to BitsStored nor sign-extends
                        from HighBit); <case>.npy is then the numpy-computed expectation
                        and is the one to test against.
  * gen_*.dcm           DICOM files generated with pydicom for the edge cases.
  * oracle.json         every case as {"case": {"key": value, ...}}, for people and Python.
  * oracle.txt          the same facts for C++, one fact per line:

        case <name>                 starts a case; every following line belongs to it
        <key> <value...>            the value is the rest of the line (may hold spaces)
        end                         closes the case
    Lines starting with '#' and blank lines are comments.

Keys (a key is absent when it does not apply or the attribute is absent):
  path            absolute path of the DICOM file to decode
  source          pydicom | generated | pydicom-undecodable (pydicom cannot decode it here)
  expect          ok | MP_ERR_IO | MP_ERR_FORMAT | MP_ERR_TRUNCATED | MP_ERR_UNSUPPORTED | MP_ERR_LIMIT
  message         a fragment the error message must contain (may repeat: all must match)
  npy             file name (in OUTDIR) of the expected array when expect = ok
  pydicom_npy     file name of pydicom's own array, when it differs from npy
  rows cols bits_allocated bits_stored high_bit pixel_representation   integers
  samples_per_pixel frames instance_number                           integers
  photometric     PhotometricInterpretation, trimmed
  monochrome1     1 when photometric is MONOCHROME1, else 0
  rescale_slope rescale_intercept    repr() of pydicom's float (exact round trip)
  position        3 floats (ImagePositionPatient), repr() each
  orientation     6 floats (ImageOrientationPatient)
  spacing         2 floats (PixelSpacing)
  transfer_syntax the Transfer Syntax UID
  header_only     what dicom_read_header (header only) may return, when it differs from
                  `expect` (e.g. a file cut inside its pixel data): ok or an error code, or
                  several alternatives joined by '|' ("ok|MP_ERR_TRUNCATED")
  note            free text: why the expectation is what it is
"""

import json
import os
import struct
import sys
import warnings

import numpy as np
import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (DeflatedExplicitVRLittleEndian, RLELossless, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage)

# Files from pydicom's own test data whose pixel_array pydicom decodes here.
PYDICOM_DECODED = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                   "MR_small_expb.dcm", "MR_small_RLE.dcm", "MR_small_padded.dcm",
                   "CT_small.dcm"]

FIXED_UID_ROOT = "1.2.826.0.1.3680043.8.498.4242."  # fixed UIDs keep the output deterministic


def testdata(name):
    path = pydicom.data.get_testdata_file(name)
    if path is None:
        sys.exit(f"make_dicom_oracle.py: pydicom's test file {name} is missing")
    return os.path.abspath(path)


def header_facts(ds):
    """The header attributes test_dicom.cpp compares, as pydicom reads them."""
    facts = {}
    for key, attr in [("rows", "Rows"), ("cols", "Columns"), ("bits_allocated", "BitsAllocated"),
                      ("bits_stored", "BitsStored"), ("high_bit", "HighBit"),
                      ("pixel_representation", "PixelRepresentation"),
                      ("samples_per_pixel", "SamplesPerPixel")]:
        if attr in ds:
            facts[key] = int(ds[attr].value)
    facts["frames"] = int(ds.NumberOfFrames) if "NumberOfFrames" in ds else 1
    if "PhotometricInterpretation" in ds:
        facts["photometric"] = str(ds.PhotometricInterpretation).strip()
        facts["monochrome1"] = int(facts["photometric"] == "MONOCHROME1")
    if "RescaleSlope" in ds:
        facts["rescale_slope"] = float(ds.RescaleSlope)
    if "RescaleIntercept" in ds:
        facts["rescale_intercept"] = float(ds.RescaleIntercept)
    for key, attr, n in [("position", "ImagePositionPatient", 3),
                         ("orientation", "ImageOrientationPatient", 6),
                         ("spacing", "PixelSpacing", 2)]:
        if attr in ds and ds[attr].VM == n:
            facts[key] = [float(v) for v in ds[attr].value]
    if "InstanceNumber" in ds and ds.InstanceNumber is not None and str(ds.InstanceNumber) != "":
        facts["instance_number"] = int(ds.InstanceNumber)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        facts["transfer_syntax"] = str(meta.TransferSyntaxUID)
    return facts


def save_npy(outdir, name, arr):
    np.save(os.path.join(outdir, name), np.ascontiguousarray(arr, dtype="<i4"))
    return name


def dicom_rules(raw, bits_allocated, bits_stored, pixel_representation):
    """Stored values by DICOM's rules, from the raw allocated words, in numpy: mask to
    BitsStored (unsigned) or sign-extend from HighBit = BitsStored - 1 (signed)."""
    words = raw.astype(np.int64) & ((1 << bits_allocated) - 1)
    value = words & ((1 << bits_stored) - 1)
    if pixel_representation == 1:
        sign = 1 << (bits_stored - 1)
        value = np.where(value & sign, value - (1 << bits_stored), value)
    return value.astype(np.int32)


def new_dataset(rows, cols, bits_allocated, bits_stored, pixel_representation,
                photometric="MONOCHROME2", syntax=ExplicitVRLittleEndian, instance=7):
    """A small, valid MR image dataset with a file meta group (pixel data set by caller)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = FIXED_UID_ROOT + str(instance)
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = FIXED_UID_ROOT + "0"
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.is_little_endian = syntax != ExplicitVRBigEndian
    ds.is_implicit_VR = syntax == ImplicitVRLittleEndian
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.PatientName = "Oracle^Edge"
    ds.PatientID = "ORACLE"
    ds.SeriesInstanceUID = FIXED_UID_ROOT + "1000"
    ds.StudyInstanceUID = FIXED_UID_ROOT + "2000"
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [-12.5, 30.25, 4.0 + instance]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.9375, 0.9375]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = pixel_representation
    return ds


def words_bytes(words, bits_allocated, big_endian=False):
    """Raw allocated words to the Pixel Data bytes, padded to an even length."""
    if bits_allocated == 8:
        data = words.astype(np.uint8).tobytes()
    else:
        data = words.astype(">u2" if big_endian else "<u2").tobytes()
    return data + (b"\0" if len(data) % 2 else b"")


def set_pixels(ds, data):
    ds.PixelData = data
    # OB for 8-bit, OW otherwise (the VR is only written with explicit VR syntaxes).
    ds["PixelData"].VR = "OB" if ds.BitsAllocated == 8 else "OW"


class Oracle:
    def __init__(self, outdir):
        self.outdir = os.path.abspath(outdir)
        self.cases = {}

    def path(self, name):
        return os.path.join(self.outdir, name)

    def add(self, name, **facts):
        assert name not in self.cases, name
        facts.setdefault("expect", "ok")
        self.cases[name] = facts

    def write(self):
        with open(self.path("oracle.json"), "w") as f:
            json.dump(self.cases, f, indent=1, sort_keys=True)
            f.write("\n")
        lines = ["# mriprep dicom oracle, written by tests/oracle/make_dicom_oracle.py "
                 f"(pydicom {pydicom.__version__}, numpy {np.__version__})",
                 "# format: see the docstring of make_dicom_oracle.py"]
        for name in sorted(self.cases):
            lines.append(f"case {name}")
            for key in sorted(self.cases[name]):
                value = self.cases[name][key]
                values = value if key == "message" and isinstance(value, list) else [value]
                for v in values:
                    if isinstance(v, (list, tuple)):
                        text = " ".join(repr(float(x)) for x in v)
                    elif isinstance(v, float):
                        text = repr(v)
                    else:
                        text = str(v)
                    assert "\n" not in text
                    lines.append(f"{key} {text}")
            lines.append("end")
        with open(self.path("oracle.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


def add_pydicom_files(orc):
    for fname in PYDICOM_DECODED:
        stem = fname[:-4]
        path = testdata(fname)
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
        orc.add(stem, path=path, source="pydicom", npy=save_npy(orc.outdir, stem + ".npy", arr),
                **header_facts(ds))

    # JPEG-LS: Debian's pydicom has no JPEG-LS decoder; the file is MR_small losslessly
    # compressed, so its pixels are MR_small's.
    path = testdata("MR_small_jpeg_ls_lossless.dcm")
    ds = pydicom.dcmread(path)
    orc.add("MR_small_jpeg_ls_lossless", path=path, source="pydicom-undecodable",
            npy="MR_small.npy", note="lossless JPEG-LS of MR_small: its pixels equal MR_small's",
            **header_facts(ds))

    # JPEG 2000 (OpenJPEG): Debian's pydicom has no JPEG 2000 decoder; the file is MR_small
    # losslessly compressed, so its pixels are MR_small's.
    path = testdata("MR_small_jp2klossless.dcm")
    ds = pydicom.dcmread(path)
    orc.add("MR_small_jp2klossless", path=path, source="pydicom-undecodable",
            npy="MR_small.npy", note="lossless JPEG 2000 of MR_small: its pixels equal MR_small's",
            **header_facts(ds))
    orc.add("MR_truncated", path=testdata("MR_truncated.dcm"), source="pydicom",
            expect="MP_ERR_TRUNCATED", message="truncated",
            note="pydicom's MR_small with the pixel data cut short")

    for fname, why in [("rtdose_1frame.dcm", "bits allocated"),
                       ("SC_rgb_rle.dcm", "samples per pixel")]:
        path = testdata(fname)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        orc.add(fname[:-4], path=path, source="pydicom", expect="MP_ERR_UNSUPPORTED", message=why,
                **header_facts(ds))

    # pydicom's only multi-frame grayscale file is 32-bit; the generated gen_multiframe_u16
    # below isolates the multi-frame rule. Either reason is a correct rejection here.
    path = testdata("rtdose.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert int(ds.NumberOfFrames) > 1 and ds.SamplesPerPixel == 1
    orc.add("rtdose", path=path, source="pydicom", expect="MP_ERR_UNSUPPORTED",
            note="15 frames, 32 bits allocated: unsupported for both reasons",
            **header_facts(ds))


def add_generated(orc):
    rng = np.random.default_rng(20240611)

    def save(name, ds, write_like_original=False):
        path = orc.path(name + ".dcm")
        ds.save_as(path, write_like_original=write_like_original)
        return path

    def ok_case(name, ds, words, expected, big_endian=False, write_like_original=False, note=None):
        """Writes ds with `words` as its pixel data; records pydicom's read-back and the
        numpy expectation (and both files when they differ)."""
        set_pixels(ds, words_bytes(words, ds.BitsAllocated, big_endian))
        path = save(name, ds, write_like_original)
        back = pydicom.dcmread(path, force=True)
        pyarr = back.pixel_array.astype(np.int32)
        facts = dict(path=path, source="generated", **header_facts(back))
        facts["npy"] = save_npy(orc.outdir, name + ".npy", expected)
        if not np.array_equal(pyarr, expected):
            facts["pydicom_npy"] = save_npy(orc.outdir, name + ".pydicom.npy", pyarr)
        if note:
            facts["note"] = note
        orc.add(name, **facts)

    # 8-bit unsigned, 8-bit signed.
    words = rng.integers(0, 256, size=(16, 12))
    ok_case("gen_u8", new_dataset(16, 12, 8, 8, 0), words, dicom_rules(words, 8, 8, 0))
    words = rng.integers(0, 256, size=(16, 12))
    ok_case("gen_s8", new_dataset(16, 12, 8, 8, 1), words, dicom_rules(words, 8, 8, 1))
    # Odd rows*cols: the 35 bytes of pixel data are padded to 36 in the file.
    words = rng.integers(0, 256, size=(5, 7))
    ok_case("gen_u8_odd_5x7", new_dataset(5, 7, 8, 8, 0), words, dicom_rules(words, 8, 8, 0),
            note="35 pixel bytes, padded to 36 on disk")

    # 16-bit unsigned, BitsStored 12, garbage in bits 12-15: pydicom 2.3 does not mask.
    words = rng.integers(0, 1 << 12, size=(32, 24)) | (rng.integers(1, 16, size=(32, 24)) << 12)
    ok_case("gen_u16_bits12_garbage", new_dataset(32, 24, 16, 12, 0), words,
            dicom_rules(words, 16, 12, 0),
            note="upper 4 bits are garbage; npy is masked to 12 bits, pydicom_npy is pydicom's unmasked array")
    # 16-bit signed, BitsStored 12, written properly sign-extended.
    values = rng.integers(-2048, 2048, size=(32, 24))
    words = values & 0xFFFF
    ok_case("gen_s16_bits12", new_dataset(32, 24, 16, 12, 1), words, dicom_rules(words, 16, 12, 1))
    assert np.array_equal(dicom_rules(words, 16, 12, 1), values)
    # 16-bit signed, BitsStored 12, bits 12-15 garbage (not copies of the sign bit).
    values = rng.integers(-2048, 2048, size=(32, 24))
    words = (values & 0x0FFF) | (rng.integers(0, 16, size=(32, 24)) << 12)
    expected = dicom_rules(words, 16, 12, 1)
    assert np.array_equal(expected, values)
    ok_case("gen_s16_bits12_garbage", new_dataset(32, 24, 16, 12, 1), words, expected,
            note="bits 12-15 are garbage; npy is sign-extended from bit 11")
    # MONOCHROME1: values unchanged, only the flag.
    words = rng.integers(0, 1 << 16, size=(20, 18))
    ok_case("gen_mono1_u16", new_dataset(20, 18, 16, 16, 0, photometric="MONOCHROME1"), words,
            dicom_rules(words, 16, 16, 0))
    # Implicit VR Little Endian, 16-bit signed.
    values = rng.integers(-32768, 32768, size=(24, 20))
    ok_case("gen_implicit_s16", new_dataset(24, 20, 16, 16, 1, syntax=ImplicitVRLittleEndian),
            values & 0xFFFF, values)
    # Explicit VR Big Endian (retired, still readable), 16-bit signed.
    values = rng.integers(-32768, 32768, size=(24, 20))
    ok_case("gen_bigendian_s16", new_dataset(24, 20, 16, 16, 1, syntax=ExplicitVRBigEndian),
            values & 0xFFFF, values, big_endian=True)
    # Deflated Explicit VR Little Endian (zlib over the whole dataset): refused before
    # dcmtk inflates it - dcmtk inflates a deflated dataset whole, at whatever lengths it
    # declares, so a 1.5 MB deflate bomb took 1.5 GB (a fuzzer finding). pydicom reads it.
    words = rng.integers(0, 1 << 16, size=(16, 16))
    ds = new_dataset(16, 16, 16, 16, 0, syntax=DeflatedExplicitVRLittleEndian)
    set_pixels(ds, words_bytes(words, 16))
    path = save("gen_deflate_u16", ds)
    # (no header facts: the decoder refuses the file before reading any of it)
    orc.add("gen_deflate_u16", path=path, source="generated", expect="MP_ERR_UNSUPPORTED",
            message="Deflated Explicit VR Little Endian is not supported")
    # RLE whose first fragment lies about its segments: dcmtk's RLE decoder reads out of
    # bounds on it (a fuzzer finding); the header must be checked before decoding.
    ds = new_dataset(8, 8, 8, 8, 0, syntax=RLELossless)
    header = struct.pack("<16I", 1, 0xFFFFFF00, *([0] * 14))
    ds.PixelData = pydicom.encaps.encapsulate([header + bytes(16)])
    ds["PixelData"].VR = "OB"
    path = save("gen_rle_bad_offsets", ds)
    orc.add("gen_rle_bad_offsets", path=path, source="generated", expect="MP_ERR_FORMAT",
            message="RLE segment 1 starts at", header_only="ok", **header_facts(pydicom.dcmread(path, stop_before_pixels=True)))
    ds = new_dataset(8, 8, 8, 8, 0, syntax=RLELossless)
    item = b"\xfe\xff\x00\xe0"  # (FFFE,E000): an empty offset table, then an empty fragment
    ds.PixelData = item + bytes(4) + item + bytes(4)  # pydicom adds the sequence delimiter
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    path = save("gen_rle_empty_fragment", ds)
    orc.add("gen_rle_empty_fragment", path=path, source="generated", expect="MP_ERR_FORMAT",
            message="shorter than its 64-byte header", header_only="ok", **header_facts(pydicom.dcmread(path, stop_before_pixels=True)))
    # Pixel data longer than needed: the excess is ignored.
    ds = new_dataset(8, 8, 16, 16, 0)
    words = rng.integers(0, 1 << 16, size=(8, 8))
    set_pixels(ds, words_bytes(words, 16) + bytes(range(36)))
    path = save("gen_long_pixeldata", ds)
    orc.add("gen_long_pixeldata", path=path, source="generated",
            npy=save_npy(orc.outdir, "gen_long_pixeldata.npy", dicom_rules(words, 16, 16, 0)),
            note="128 bytes needed, 164 in the element: the excess is ignored",
            **header_facts(pydicom.dcmread(path)))

    # An element after Pixel Data, out of tag order: PixelRepresentation 1 appended to a
    # file that has none before the pixels. pydicom files elements by tag and so reads it
    # as signed; the decode must, and the header-only read (which stops at Pixel Data for
    # speed) must notice the bytes after the pixels and say the same. A fuzzer finding.
    ds = new_dataset(8, 8, 8, 8, 1)
    del ds.PixelRepresentation
    words = rng.integers(0, 256, size=(8, 8))
    set_pixels(ds, words_bytes(words, 8))
    path = save("gen_s8_tag_after_pixeldata", ds)
    with open(path, "ab") as f:
        f.write(struct.pack("<HH2sHH", 0x0028, 0x0103, b"US", 2, 1))
    back = pydicom.dcmread(path)
    assert int(back.PixelRepresentation) == 1 and back.pixel_array.dtype == np.int8
    expected = dicom_rules(words, 8, 8, 1)
    assert np.array_equal(back.pixel_array.astype(np.int32), expected)
    orc.add("gen_s8_tag_after_pixeldata", path=path, source="generated",
            npy=save_npy(orc.outdir, "gen_s8_tag_after_pixeldata.npy", expected),
            note="PixelRepresentation 1 written after Pixel Data: signed, as pydicom reads it",
            **header_facts(back))

    # No 128-byte preamble and no DICM, file meta group still present (Explicit VR LE,
    # same as the dataset). dcmtk's ERM_autoDetect reads such files (it detects the
    # syntax from the first bytes); the decoder must therefore decode it.
    ds = new_dataset(16, 16, 16, 16, 0)
    ds.preamble = None
    words = rng.integers(0, 1 << 16, size=(16, 16))
    ok_case("gen_no_preamble", ds, words, dicom_rules(words, 16, 16, 0), write_like_original=True,
            note="no preamble/DICM, meta group present; dcmtk auto-detects: decodes")
    with open(orc.path("gen_no_preamble.dcm"), "rb") as f:
        assert f.read(2) == b"\x02\x00", "expected to start with a (0002,xxxx) tag"
    # No preamble and no file meta at all: a bare Implicit VR LE dataset (ACR-NEMA style).
    ds = new_dataset(16, 16, 16, 16, 1, syntax=ImplicitVRLittleEndian)
    values = rng.integers(-32768, 32768, size=(16, 16))
    set_pixels(ds, words_bytes(values & 0xFFFF, 16))
    path = orc.path("gen_no_meta_implicit.dcm")
    ds.preamble = None
    ds.file_meta = FileMetaDataset()
    pydicom.filewriter.dcmwrite(path, ds, write_like_original=True)
    with open(path, "rb") as f:
        assert f.read(2) == b"\x08\x00", "expected to start with a (0008,xxxx) tag"
    back = pydicom.dcmread(path, force=True)
    back.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian  # pydicom needs to be told
    assert np.array_equal(back.pixel_array, values)
    facts = header_facts(back)
    facts.pop("transfer_syntax", None)
    orc.add("gen_no_meta_implicit", path=path, source="generated",
            npy=save_npy(orc.outdir, "gen_no_meta_implicit.npy", values),
            transfer_syntax=ImplicitVRLittleEndian,
            note="bare dataset, no preamble, no meta: dcmtk guesses Implicit VR LE", **facts)

    # Multi-frame 16-bit grayscale: isolates the "one slice per file" rule.
    ds = new_dataset(8, 8, 16, 16, 0)
    ds.NumberOfFrames = 2
    set_pixels(ds, words_bytes(rng.integers(0, 1 << 16, size=(2, 8, 8)), 16))
    path = save("gen_multiframe_u16", ds)
    orc.add("gen_multiframe_u16", path=path, source="generated", expect="MP_ERR_UNSUPPORTED",
            message="multi-frame", **header_facts(pydicom.dcmread(path, stop_before_pixels=True)))

    # PixelData element consistent with itself but shorter than Rows*Columns*2.
    ds = new_dataset(64, 64, 16, 16, 0)
    set_pixels(ds, bytes(range(100)))
    path = save("gen_short_pixeldata", ds)
    orc.add("gen_short_pixeldata", path=path, source="generated", expect="MP_ERR_TRUNCATED",
            message="truncated pixel data (expected 8192 bytes, got 100)",
            **header_facts(pydicom.dcmread(path, stop_before_pixels=True)))

    # A valid file cut inside its pixel data: header intact, element length says 8192,
    # only 1000 bytes follow.
    ds = new_dataset(64, 64, 16, 16, 0)
    words = rng.integers(0, 1 << 12, size=(64, 64))  # < 0x1000: no byte pair looks like E0 7F
    set_pixels(ds, words_bytes(words, 16))
    full = orc.path("gen_cut_pixeldata.dcm")
    ds.save_as(full, write_like_original=False)
    with open(full, "rb") as f:
        data = f.read()
    value_at = len(data) - 8192
    assert data[value_at - 12:value_at - 8] == b"\xe0\x7f\x10\x00"
    with open(full, "wb") as f:
        f.write(data[:value_at + 1000])
    orc.add("gen_cut_pixeldata", path=full, source="generated", expect="MP_ERR_TRUNCATED",
            message=["truncated", "expected 8192 bytes, got 1000"],
            header_only="ok|MP_ERR_TRUNCATED",
            note="the header is whole: a header-only read may return it (ok) or, as dicom.h's "
                 "'not truncated' allows, notice the short file (MP_ERR_TRUNCATED); decoding is truncated",
            **header_facts(pydicom.dcmread(full, stop_before_pixels=True)))

    # The same cut, but the surviving pixel bytes contain the byte pattern of the Pixel
    # Data tag (E0 7F 10 00) and an explicit-VR-like tail: the count of surviving bytes
    # must still be measured from the real tag.
    ds = new_dataset(64, 64, 16, 16, 0)
    words = rng.integers(0, 1 << 12, size=(64, 64))
    words.flat[100:106] = [0x7FE0, 0x0010, 0x574F, 0x0000, 0x0000, 0x0000]  # "E07F1000 OW 0000 00000000"
    set_pixels(ds, words_bytes(words, 16))
    full = orc.path("gen_cut_pixeldata_taglike.dcm")
    ds.save_as(full, write_like_original=False)
    with open(full, "rb") as f:
        data = f.read()
    value_at = len(data) - 8192
    with open(full, "wb") as f:
        f.write(data[:value_at + 1000])
    orc.add("gen_cut_pixeldata_taglike", path=full, source="generated", expect="MP_ERR_TRUNCATED",
            message=["truncated", "expected 8192 bytes, got 1000"], header_only="ok|MP_ERR_TRUNCATED",
            note="pixel words 100-105 spell the Pixel Data tag's bytes", 
            **header_facts(pydicom.dcmread(full, stop_before_pixels=True)))

    # Empty file, random bytes.
    with open(orc.path("gen_empty.dcm"), "wb"):
        pass
    orc.add("gen_empty", path=orc.path("gen_empty.dcm"), source="generated",
            expect="MP_ERR_FORMAT", message="empty file")
    with open(orc.path("gen_random.dcm"), "wb") as f:
        f.write(rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    orc.add("gen_random", path=orc.path("gen_random.dcm"), source="generated",
            expect="MP_ERR_FORMAT", message="not a DICOM")

    # 60000 x 60000 declared with 64 bytes of pixel data: the caps must reject it before
    # anything is allocated (3.6 GB of uint16 otherwise).
    ds = new_dataset(60000, 60000, 16, 16, 0)
    set_pixels(ds, bytes(64))
    path = save("gen_huge_dims", ds)
    orc.add("gen_huge_dims", path=path, source="generated", expect="MP_ERR_LIMIT",
            message="60000 x 60000",
            **header_facts(pydicom.dcmread(path, stop_before_pixels=True)))

    # BitsAllocated 1 (bit-packed): unsupported.
    ds = new_dataset(8, 8, 1, 1, 0)
    set_pixels(ds, rng.integers(0, 256, size=8, dtype=np.uint8).tobytes())
    ds["PixelData"].VR = "OB"
    path = save("gen_bits1", ds)
    orc.add("gen_bits1", path=path, source="generated", expect="MP_ERR_UNSUPPORTED",
            message="1 bits allocated",
            **header_facts(pydicom.dcmread(path, stop_before_pixels=True)))

    # A path that does not exist.
    orc.add("gen_nonexistent", path=orc.path("gen_does_not_exist.dcm"), source="generated",
            expect="MP_ERR_IO", message="gen_does_not_exist.dcm")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 tests/oracle/make_dicom_oracle.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    # MR_small_padded.dcm makes pydicom warn about its (intended) excess padding.
    warnings.simplefilter("ignore", UserWarning)
    for name in os.listdir(outdir):  # a rerun leaves no stale cases behind
        if name.endswith((".npy", ".dcm")) or name in ("oracle.json", "oracle.txt"):
            os.remove(os.path.join(outdir, name))
    orc = Oracle(outdir)
    add_pydicom_files(orc)
    add_generated(orc)
    orc.write()
    total = sum(os.path.getsize(os.path.join(orc.outdir, n)) for n in os.listdir(orc.outdir))
    print(f"make_dicom_oracle.py: {len(orc.cases)} cases, {total} bytes in {orc.outdir}")


if __name__ == "__main__":
    main()
