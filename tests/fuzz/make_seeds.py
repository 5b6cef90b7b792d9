#!/usr/bin/python3
"""make_seeds.py OUTDIR - the seed corpora of the fuzz targets (tests/fuzz/).

Run with Debian's interpreter (pydicom 2.3, numpy 1.24):
    /usr/bin/python3 tests/fuzz/make_seeds.py build/fuzz/seeds

Writes, deterministically (fixed UIDs, fixed pixel values), in well under a second:

  OUTDIR/dicom/pydicom_<name>.dcm  every *.dcm of pydicom's own test data (real files from
                                   many writers: explicit/implicit/big endian, deflate,
                                   RLE, JPEG, JPEG-LS, JPEG 2000, truncated, odd VRs)
  OUTDIR/dicom/gen_<case>.dcm      small files made here for the shim's own paths: 8-bit,
                                   16-bit signed, big endian, deflate, RLE, a shifted
                                   HighBit, an icon image sequence (Pixel Data nested
                                   before the real one), multi-frame, colour, 32-bit, too
                                   large, no pixel data, truncated, no file meta, empty,
                                   a cut JPEG 2000 codestream and one whose SIZ is huge
  OUTDIR/labels/<case>.csv         labels files: plain, BOM + CRLF, quotes, duplicates and
                                   conflicts, junk rows, no header, other column orders,
                                   CR line ends, an unterminated quote, long IDs, binary

The project commits no binary test data, so the seeds are made at build time (fuzz.mk).
Without pydicom only the labels seeds are written (the DICOM fuzzer then starts from an
empty corpus, which libFuzzer allows), and the script says so on stderr.
"""

import os
import shutil
import struct
import sys


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---- labels ---------------------------------------------------------------------------

LABELS = {
    "plain": b"BraTS21ID,MGMT_value\n00000,1\n00002,1\n00003,0\n00005,1\n00006,1\n",
    "bom_crlf": b"\xef\xbb\xbfBraTS21ID,MGMT_value\r\n00000,1\r\n00002,0\r\n",
    "quoted": b'"BraTS21ID","MGMT_value"\r\n"00109","1"\r\n"1,2",0\r\n"a""b",1\r\n" 00110 ", "0"\r\n',
    "duplicates_conflicts": b"BraTS21ID,MGMT_value\n109,1\n00109,1\n110,0\n0110,1\n110,1\n0,0\n000,0\n",
    "junk": (b"BraTS21ID,MGMT_value\n\n00000,1\nabc,1\n00002,2\n00003\n00004,1,extra\n,1\n00005,\n"
             b"  00006\t,\t0  \n-7,1\n+8,0\n9e2,1\n00010,01\n"),
    "no_header": b"109,1\n110,0\n111,1",
    "other_order": b"mgmt_value,extra,brats21id\n1,x,00109\n0,y,00110\n",
    "unnamed_header": b"id,label\n109,1\n110,0\n",
    "cr_only": b"BraTS21ID,MGMT_value\r109,1\r110,0\r",
    "unterminated_quote": b'BraTS21ID,MGMT_value\n109,"1\n110,0\n',
    "multiline_quote": b'BraTS21ID,MGMT_value\n"1\n09",1\n110,"0\r\n"\n111,1\n',
    "long_ids": (b"BraTS21ID,MGMT_value\n" + b"0" * 150 + b"1" * 150 + b",1\n" +
                 b"x" * 254 + b" y,0\n" + b"9" * 300 + b",0\n"),
    "many_fields": b"BraTS21ID,MGMT_value\n" + b",".join([b"1"] * 80) + b"\n" + b"a," * 70 + b"\n",
    "empty": b"",
    "header_only": b"BraTS21ID,MGMT_value\n",
    "binary": bytes(range(256)) + b"\n109,\x001\n\xff\xfe,0\n",
}


def write_labels(outdir):
    os.makedirs(outdir, exist_ok=True)
    for name, data in LABELS.items():
        write(os.path.join(outdir, name + ".csv"), data)
    return len(LABELS)


# ---- DICOM ----------------------------------------------------------------------------



def write_dicom(outdir):
    import numpy as np
    import pydicom
    import pydicom.data
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian,
                             ImplicitVRLittleEndian, RLELossless)

    os.makedirs(outdir, exist_ok=True)
    count = 0

    # pydicom's own test files, as they are.
    anchor = pydicom.data.get_testdata_file("MR_small.dcm")
    test_files = os.path.dirname(anchor)
    for name in sorted(os.listdir(test_files)):
        if name.lower().endswith(".dcm"):
            shutil.copyfile(os.path.join(test_files, name), os.path.join(outdir, "pydicom_" + name))
            count += 1

    # JPEG 2000 (OpenJPEG): MR_small's lossless J2K cut inside its codestream, and with
    # its SIZ marker's image size made huge (the header check must refuse it before any
    # allocation).
    j2k = open(os.path.join(test_files, "MR_small_jp2klossless.dcm"), "rb").read()
    write(os.path.join(outdir, "gen_j2k_cut.dcm"), j2k[: len(j2k) * 3 // 4])
    siz = j2k.find(b"\xff\x4f\xff\x51")
    if siz >= 0:  # SOC, SIZ marker, Lsiz (2), Rsiz (2), then Xsiz, Ysiz (4 each)
        huge = bytearray(j2k)
        huge[siz + 8:siz + 16] = b"\x7f\xff\xff\xff\x7f\xff\xff\xff"
        write(os.path.join(outdir, "gen_j2k_huge_siz.dcm"), bytes(huge))
        count += 1
    count += 1

    # HTJ2K (a syntax dcmtk does not know; mriprep reads its fragments itself): a real
    # file (tests/real_files/htj2k), whole and cut inside its codestream.
    htj2k_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "real_files", "htj2k", "MR3_JPH.dcm")
    htj2k = open(htj2k_file, "rb").read()
    write(os.path.join(outdir, "real_htj2k.dcm"), htj2k)
    write(os.path.join(outdir, "real_htj2k_cut.dcm"), htj2k[: len(htj2k) * 2 // 3])
    count += 2

    # The oracle's small valid MR dataset, with the HighBit override the seeds need.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
    from make_dicom_oracle import new_dataset

    def dataset(rows, cols, bits_allocated, bits_stored, signed, syntax=ExplicitVRLittleEndian,
                photometric="MONOCHROME2", high_bit=None, instance=1):
        ds = new_dataset(rows, cols, bits_allocated, bits_stored, 1 if signed else 0, photometric=photometric,
                         syntax=syntax, instance=instance)
        if high_bit is not None:
            ds.HighBit = high_bit
        return ds

    def ramp(rows, cols, bits_stored, signed, frames=1, samples=1):
        n = rows * cols * frames * samples
        span = 1 << bits_stored
        values = (np.arange(n, dtype=np.int64) * 37) % span
        if signed:
            values -= span // 2
        return values

    def pixel_bytes(values, bits_allocated, big_endian=False):
        if bits_allocated == 8:
            data = (values & 0xFF).astype(np.uint8).tobytes()
        elif bits_allocated == 16:
            data = (values & 0xFFFF).astype(">u2" if big_endian else "<u2").tobytes()
        else:
            data = (values & 0xFFFFFFFF).astype(">u4" if big_endian else "<u4").tobytes()
        return data + (b"\0" if len(data) % 2 else b"")

    def set_pixels(ds, data):
        ds.PixelData = data
        ds["PixelData"].VR = "OB" if ds.BitsAllocated == 8 else "OW"

    def save(name, ds):
        nonlocal count
        path = os.path.join(outdir, "gen_" + name + ".dcm")
        ds.save_as(path, write_like_original=False)
        count += 1
        return path

    def plain(name, rows, cols, alloc, stored, signed, syntax=ExplicitVRLittleEndian, **kw):
        ds = dataset(rows, cols, alloc, stored, signed, syntax, **kw)
        set_pixels(ds, pixel_bytes(ramp(rows, cols, stored, signed), alloc, syntax == ExplicitVRBigEndian))
        return save(name, ds)

    plain("u8_explicit_le_odd", 5, 7, 8, 8, False)
    plain("s8_explicit_le", 8, 8, 8, 8, True)
    s16 = plain("s16_implicit_le_12bit", 12, 10, 16, 12, True, ImplicitVRLittleEndian)
    plain("u16_big_endian", 9, 11, 16, 16, False, ExplicitVRBigEndian)
    plain("s16_big_endian", 6, 6, 16, 16, True, ExplicitVRBigEndian)
    plain("u16_deflate", 10, 10, 16, 16, False, DeflatedExplicitVRLittleEndian)
    plain("u16_monochrome1", 4, 4, 16, 10, False, photometric="MONOCHROME1")
    # HighBit above BitsStored - 1: the stored bits are shifted up inside the word.
    plain("u16_high_bit_shifted", 6, 5, 16, 12, False, high_bit=13)
    plain("s16_high_bit_shifted", 6, 5, 16, 9, True, high_bit=14)

    for name, alloc, signed in [("rle_u16", 16, False), ("rle_s16", 16, True), ("rle_u8", 8, False)]:
        ds = dataset(8, 9, alloc, alloc, signed)
        values = ramp(8, 9, alloc, signed).reshape(8, 9)
        arr = values.astype({(8, False): np.uint8, (16, False): np.uint16, (16, True): np.int16}[(alloc, signed)])
        try:
            ds.compress(RLELossless, arr)
        except Exception as e:  # pydicom older than 2.2 cannot encode RLE
            print(f"make_seeds.py: no RLE seed {name} ({e})", file=sys.stderr)
            continue
        save(name, ds)

    # Multi-frame, colour, 32-bit and oversized images: each fails with its own reason.
    ds = dataset(4, 4, 16, 16, False)
    ds.NumberOfFrames = 2
    set_pixels(ds, pixel_bytes(ramp(4, 4, 16, False, frames=2), 16))
    save("multiframe", ds)
    ds = dataset(4, 4, 8, 8, False, photometric="RGB")
    ds.SamplesPerPixel = 3
    ds.PlanarConfiguration = 0
    set_pixels(ds, pixel_bytes(ramp(4, 4, 8, False, samples=3), 8))
    save("rgb", ds)
    ds = dataset(4, 4, 32, 32, False)
    set_pixels(ds, pixel_bytes(ramp(4, 4, 16, False), 32))
    save("u32", ds)
    ds = dataset(9000, 9000, 16, 16, False)
    set_pixels(ds, b"\0" * 64)
    save("too_large", ds)
    ds = dataset(8, 8, 16, 16, False)
    save("no_pixel_data", ds)
    ds = dataset(8, 8, 16, 16, False)
    set_pixels(ds, b"")
    save("empty_pixel_data", ds)

    # An icon image: a sequence item with Pixel Data of its own, before the image's.
    ds = dataset(8, 8, 16, 16, False)
    icon = Dataset()
    icon.SamplesPerPixel = 1
    icon.PhotometricInterpretation = "MONOCHROME2"
    icon.Rows = 2
    icon.Columns = 2
    icon.BitsAllocated = 8
    icon.BitsStored = 8
    icon.HighBit = 7
    icon.PixelRepresentation = 0
    icon.PixelData = b"\1\2\3\4"
    icon["PixelData"].VR = "OB"
    ds.IconImageSequence = Sequence([icon])
    set_pixels(ds, pixel_bytes(ramp(8, 8, 16, False), 16))
    save("icon_image_sequence", ds)

    # An element after Pixel Data (out of tag order): PixelRepresentation appended, which
    # the full load files by tag; the header-only read must notice it too.
    ds = dataset(8, 8, 8, 8, False)
    del ds.PixelRepresentation
    set_pixels(ds, pixel_bytes(ramp(8, 8, 8, False), 8))
    after = save("tag_after_pixel_data", ds)
    with open(after, "ab") as f:
        f.write(struct.pack("<HH2sHH", 0x0028, 0x0103, b"US", 2, 1))

    # Cut files: inside the pixel data, inside the header, and nothing at all.
    with open(s16, "rb") as f:
        whole = f.read()
    write(os.path.join(outdir, "gen_truncated_pixels.dcm"), whole[: len(whole) - 50])
    write(os.path.join(outdir, "gen_truncated_header.dcm"), whole[:200])
    write(os.path.join(outdir, "gen_zero_length.dcm"), b"")
    count += 3

    # The parse from memory of a file with stray bytes at its end (dicom_dcmtk.cpp,
    # load_without_trailing_bytes): one stray byte; a value declaring 2 GiB inside an
    # undefined-length sequence after the image; and the fuzzer's own finding of that
    # shape (a 2.2 GB allocation before the element walk guarded it), kept as found.
    write(os.path.join(outdir, "gen_stray_byte.dcm"), whole + b"x")
    big = (struct.pack("<HH2sHI", 0x0009, 0x1020, b"SQ", 0, 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
           + struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, 0x80000000) + b"xy")
    write(os.path.join(outdir, "gen_stray_big_value.dcm"), whole + big)
    found = bytes.fromhex(
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000000000000000000000004449434d02000000554c0400b2000000"
        "020001004f4200000200000000010200020055491a00312e322e3834302e31303030382e352e312e342e312e312e3400"
        "0200030055492000312e322e3832362e302e312e333638303034332e382e3439382e343234322e310200100055491400"
        "312e322e3834302e31303030382e312e322e31000200120055492000312e322e3832362e302e312e333638303034332e"
        "382e3439382e343234322e300200130053480e0050594449434f4d20322e332e31200800160055491a00312e322e3834"
        "302e31303030382e352e312e342e312e312e34000800180055492000312e322e3832362e302e312e333638303034332e"
        "382e3439382e343234322e3108006000435302004d5210001000504e0c004f7261636c655e4564676520100020004c4f"
        "06004f5241434c4520000d0055492400312e322e3832362e302e312e333638303034332e382e3439382e343234322e32"
        "3030300020000e0055492400312e322e3832362e302e312e333638303034332e382e3439382e343234322e3130303000"
        "2000130049530200312020003200445310002d31322e355c33302e32355c352e30202000370044531800312e305c302e"
        "305c302e305c302e305c312e305c302e3020280002005553020001002800040043530c004d4f4e4f4348524f4d453220"
        "28001000555302000800280011005553020008002800300044530e00302e393337355c302e3933373520280000015553"
        "020010002800010155530200100028000201555302000f0028000301555302000000880000025351000072000000feff"
        "00e06a000000280002005553020001002800040043530c004d4f4e4f4348524f4d453220280010005553020002002800"
        "110055530200020028000001555302000800280001015553020008002800020155530200070028000301555302000000"
        "e07f10004f4200000400000001020304e07f10004f57000080000000000025004a006f009400b900de00030128014d01"
        "72019701bc01e10106022b02500275029a02bf02e40209032e03530378039d03c203e7030c04310456047b04a004c504"
        "ea040f05340559057e05a305c805ed05120637065c068106a606cb06f00615073a075f56565656565656565656565656"
        "56565656565656565656565656565656565656565656078407a907ce07f30718083d0862088708ac08d108f6081b09"
    )
    write(os.path.join(outdir, "found_oom_parse_from_memory.dcm"), found)
    # Nested sequences for the element walk (dicom_nesting.c) to start from: 40 levels
    # spliced in after the meta group (not a valid file; the fuzzer mutates it).
    nest = (struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)) * 40
    unnest = (struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)) * 40
    meta_end = whole.find(b"\x08\x00")  # the first data set element (group 0008) after the meta group
    if meta_end > 132:
        write(os.path.join(outdir, "gen_nested_40.dcm"), whole[:meta_end] + nest + unnest + whole[meta_end:])
        count += 1
    count += 3

    # A bare dataset: no preamble, no DICM, no file meta (implicit VR little endian).
    ds = dataset(6, 6, 16, 16, False, ImplicitVRLittleEndian)
    set_pixels(ds, pixel_bytes(ramp(6, 6, 16, False), 16))
    del ds.file_meta
    buf = DicomBytesIO()
    buf.is_little_endian = True
    buf.is_implicit_VR = True
    write_dataset(buf, ds)
    write(os.path.join(outdir, "gen_no_meta_implicit.dcm"), buf.getvalue())
    count += 1
    return count


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py OUTDIR")
    out = sys.argv[1]
    for sub in ("dicom", "labels"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    n_labels = write_labels(os.path.join(out, "labels"))
    try:
        import pydicom  # noqa: F401  (only to say clearly why there are no DICOM seeds)
    except ImportError as e:
        os.makedirs(os.path.join(out, "dicom"), exist_ok=True)
        print(f"make_seeds.py: no DICOM seeds: {e} (install python3-pydicom)", file=sys.stderr)
        n_dicom = 0
    else:
        n_dicom = write_dicom(os.path.join(out, "dicom"))
    print(f"make_seeds.py: {n_dicom} DICOM and {n_labels} labels seeds in {out}")


if __name__ == "__main__":
    main()
