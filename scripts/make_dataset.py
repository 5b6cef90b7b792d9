#!/usr/bin/env python3
"""Write a synthetic DICOM dataset shaped like RSNA-MICCAI Brain Tumor Radiogenomic
Classification (docs/pipeline.md, "The dataset"), for mriprep's tests, demo and
benchmarks.

Run it with Debian's Python, which has python3-pydicom and python3-numpy:

    /usr/bin/python3 scripts/make_dataset.py OUT [options]

Layout written:

    OUT/train_labels.csv                      BraTS21ID,MGMT_value (train patients only)
    OUT/sample_submission.csv                 only when there are test patients
    OUT/train/<5-digit id>/<MOD>/Image-<n>.dcm
    OUT/test/<5-digit id>/<MOD>/Image-<n>.dcm

Every file is an uncompressed Implicit VR Little Endian MR image with a file meta header,
one 16-bit slice of a head phantom (an ellipsoid whose cross-section grows and then
shrinks across the series). The same arguments always give the same bytes.

Why the files are encoded here by hand instead of with pydicom.dcmwrite: pydicom spends
0.5-1 ms per file building the header, about as long as writing the 512 kB of pixels,
and --target-files is meant to produce thousands of files for benchmarks. The encoder
below is small (tag, length, value, in tag order: PS3.5 section 7.1.3 for implicit VR,
PS3.10 section 7.1 for the explicit VR meta group). Its output is what pydicom itself
writes: reading a file with pydicom.dcmread and writing it back with
pydicom.dcmwrite(..., write_like_original=False) gives the same bytes.

Dark slices (crop mean below mriprep's default --dark 0.01) need --size 32 or more: a
crop holding one bright pixel can only be that dark when it has over 100 pixels.
"""

import argparse
import os
import struct
import sys
import time

import numpy as np

DEFAULT_MODALITIES = "FLAIR,T1w,T1wCE,T2w"

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
# pydicom's registered root; UIDs below are this root + readable numbers, so they are
# deterministic and stay under the 64-character limit.
UID_ROOT = "1.2.826.0.1.3680043.8.498."
IMPLEMENTATION_UID = UID_ROOT + "1"
IMPLEMENTATION_NAME = "MRIPREP_SYNTH"

# Direction cosines (row direction, column direction) of the three planes the real data
# uses; the slice normal is their cross product.
PLANES = {
    "axial": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "coronal": (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    "sagittal": (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
}

DARK_THRESHOLD = 0.01  # mriprep's default --dark; "nearly dark" slices are built around it
DARK_MARGIN = 2e-3     # crop means are kept at least this far from the threshold


# ---------------------------------------------------------------------------------------
# DICOM encoding
# ---------------------------------------------------------------------------------------

def _pad(raw, pad_byte):
    """DICOM values have even length; strings are padded with a space, UIDs with NUL."""
    return raw + pad_byte if len(raw) % 2 else raw


def _str(value):
    return _pad(value.encode("ascii"), b" ")


def _uid(value):
    return _pad(value.encode("ascii"), b"\0")


def _ds(*values):
    """Decimal String: at most 16 characters per value, backslash-separated."""
    parts = []
    for v in values:
        s = format(float(v), ".8g")
        if s == "-0":
            s = "0"
        assert len(s) <= 16, s
        parts.append(s)
    return _str("\\".join(parts))


def _us(value):
    return struct.pack("<H", value)


def _implicit(tag, value):
    """One implicit VR little endian data element: group, element, 32-bit length, value."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _explicit(tag, vr, value):
    """One explicit VR little endian data element, as used by the file meta group."""
    group, elem = tag >> 16, tag & 0xFFFF
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def file_meta(sop_instance_uid):
    """128-byte preamble, 'DICM', and the group 0002 elements with their group length."""
    body = b"".join([
        _explicit(0x00020001, b"OB", b"\x00\x01"),
        _explicit(0x00020002, b"UI", _uid(MR_IMAGE_STORAGE)),
        _explicit(0x00020003, b"UI", _uid(sop_instance_uid)),
        _explicit(0x00020010, b"UI", _uid(IMPLICIT_VR_LE)),
        _explicit(0x00020012, b"UI", _uid(IMPLEMENTATION_UID)),
        _explicit(0x00020013, b"SH", _str(IMPLEMENTATION_NAME)),
    ])
    length = _explicit(0x00020000, b"UL", struct.pack("<I", len(body)))
    return b"\0" * 128 + b"DICM" + length + body


class SeriesEncoder:
    """Encodes the files of one series: the elements that are the same for every slice are
    encoded once; per slice only the SOP instance UID, instance number, position, slice
    location and pixels change."""

    def __init__(self, s):
        iop = PLANES[s.plane]
        wc = s.max_value / 2.0
        fixed = {
            0x00080008: _str("DERIVED\\SECONDARY"),
            0x00080016: _uid(MR_IMAGE_STORAGE),
            0x00080060: _str("MR"),
            0x0008103E: _str(s.modality),
            0x00100010: _str(s.patient),
            0x00100020: _str(s.patient),
            0x00180050: _ds(s.thickness),
            0x00180088: _ds(s.thickness),
            0x0020000D: _uid(s.study_uid),
            0x0020000E: _uid(s.series_uid),
            0x00200011: _str(str(s.series_number)),
            0x00200037: _ds(*iop),
            0x00200052: _uid(s.frame_uid),
            0x00280002: _us(1),
            0x00280004: _str("MONOCHROME2"),
            0x00280010: _us(s.rows),
            0x00280011: _us(s.cols),
            0x00280030: _ds(s.spacing[0], s.spacing[1]),
            0x00280100: _us(16),
            0x00280101: _us(16),
            0x00280102: _us(15),
            0x00280103: _us(1 if s.signed else 0),
            0x00281050: _ds(wc),
            0x00281051: _ds(s.max_value),
            0x00281052: _ds(0),
            0x00281053: _ds(1),
        }
        self.varying = (0x00080018, 0x00200013, 0x00200032, 0x00201041)
        self.order = sorted(list(fixed) + list(self.varying))
        self.fixed = {t: _implicit(t, v) for t, v in fixed.items()}
        self.dtype = np.dtype("<i2") if s.signed else np.dtype("<u2")

    def encode(self, sop_uid, number, position, location, pixels):
        """Return the whole file for one slice. pixels: [rows][cols] integers."""
        var = {
            0x00080018: _implicit(0x00080018, _uid(sop_uid)),
            0x00200013: _implicit(0x00200013, _str(str(number))),
            0x00200032: _implicit(0x00200032, _ds(*position)),
            0x00201041: _implicit(0x00201041, _ds(location)),
        }
        data = pixels.astype(self.dtype, copy=False).tobytes()
        parts = [file_meta(sop_uid)]
        parts += [self.fixed[t] if t in self.fixed else var[t] for t in self.order]
        # Pixel Data is (7FE0,0010), the last element; implicit VR reads it as OW.
        parts.append(_implicit(0x7FE00010, data))
        return b"".join(parts), len(data)


# ---------------------------------------------------------------------------------------
# Series description and the head phantom
# ---------------------------------------------------------------------------------------

def rng_for(seed, *keys):
    """An independent generator per (seed, patient, modality, purpose), so a patient's
    content does not depend on which other patients or options exist."""
    words = []
    for k in keys:
        if isinstance(k, str):
            k = int.from_bytes(k.encode("utf-8"), "little")
        words.append(int(k))
    return np.random.default_rng(np.random.SeedSequence([seed] + words))


class Series:
    """Everything that decides the bytes of one series, drawn before any pixel exists.

    kind: "normal", "blank" (every slice zero), "dark" (every slice below the dark
    threshold) or "short" (content only, no edge slices).
    slice_kinds: one per file in file order: "blank", "content", or a nearly dark kind:
      faint_dark  faint small ellipse (values 1-2) + one bright pixel: crop mean < 0.01
      faint_kept  faint small ellipse (values 3-6) + one bright pixel: crop mean > 0.01
      two_spots   two single bright pixels far apart: tiny crop mean, dropped
      tiny_spot   one small bright block: crop mean 1, kept (a crop a few pixels wide)
    """

    def __init__(self, seed, split, patient, modality, series_number, nslices, size,
                 kind="normal", forced=None, shuffled=False):
        rng = rng_for(seed, split, int(patient), modality, 1)
        forced = forced or {}
        self.seed, self.split, self.patient, self.modality = seed, split, patient, modality
        self.series_number = series_number
        self.kind = kind
        self.rng_seed = (seed, split, int(patient), modality)

        self.plane = forced.get("plane") or rng.choice(
            ["axial", "coronal", "sagittal"], p=[0.5, 0.25, 0.25]).item()
        self.signed = forced.get("signed", bool(rng.random() < 1 / 3))
        shape = "full" if size < 128 else (forced.get("shape") or rng.choice(
            ["full", "half", "rect"], p=[0.7, 0.15, 0.15]).item())
        self.rows, self.cols = {
            "full": (size, size),
            "half": (size // 2, size // 2),
            "rect": (size // 2, 3 * size // 8),   # 256x192 for --size 512
        }[shape]
        # Intensity scale: log-uniform 300..4000, so series differ by an order of magnitude.
        self.max_value = int(forced.get("max_value", round(300 * (4000 / 300) ** rng.random())))
        # Negative values inside the head (signed series only, about half of them), so the
        # slice minimum is below the background and the whole slice becomes the crop.
        self.negative = self.signed and forced.get("negative", bool(rng.random() < 0.5))
        fov = rng.uniform(200.0, 250.0)
        self.spacing = (fov / self.rows, fov / self.cols)
        self.thickness = float(rng.choice([1.0, 1.2, 2.0, 3.0, 5.0]))
        self.direction = float(rng.choice([-1.0, 1.0]))  # positions rise or fall with n
        self.origin = rng.uniform(-20.0, 20.0, size=3)

        n = nslices
        if kind == "short":
            self.slice_kinds = ["content"] * n
        elif kind == "blank":
            self.slice_kinds = ["blank"] * n
        elif kind == "dark":
            # Non-zero but dark everywhere: the tool must report it empty, not crash.
            self.slice_kinds = [("faint_dark", "two_spots")[i % 2] for i in range(n)]
        else:
            self.slice_kinds = self._draw_slice_kinds(rng, n, forced)

        # File numbers: 1..n, with occasional gaps (about 1 series in 4).
        gaps = forced.get("gaps", 0 if rng.random() < 0.75 else int(rng.integers(1, 4)))
        if gaps and n > 2:
            pool = np.arange(2, n + gaps + 1)
            self.numbers = [1] + sorted(rng.choice(pool, size=n - 1, replace=False).tolist())
        else:
            self.numbers = list(range(1, n + 1))

        # Where each file lies along the slice normal, in units of slices. Normally file
        # order is anatomical order; "shuffled" series break that as the real data does
        # ("Image-<n> order is not always anatomical order"), here like an interleaved
        # acquisition numbered in time order: positions 0, 2, 4, ..., then 1, 3, 5, ...
        self.position_index = list(range(n))
        if shuffled and n > 3:
            self.position_index = list(range(0, n, 2)) + list(range(1, n, 2))
            # Content follows anatomy, so reorder the slice kinds by position too.
            kinds = list(self.slice_kinds)
            self.slice_kinds = [kinds[p] for p in self.position_index]

        uid_tail = f"{seed}.{'12'[split == 'test']}.{int(patient)}"
        self.study_uid = f"{UID_ROOT}1.{uid_tail}"
        self.series_uid = f"{UID_ROOT}2.{uid_tail}.{series_number}"
        self.frame_uid = f"{UID_ROOT}4.{uid_tail}.{series_number}"
        self.sop_prefix = f"{UID_ROOT}3.{uid_tail}.{series_number}."
        assert len(self.sop_prefix) + 6 <= 64

    @staticmethod
    def _draw_slice_kinds(rng, n, forced):
        """Blank edge slices (the real data has them in most series) and a few nearly dark
        slices between them and the head, both sides independently."""
        lead = forced.get("lead")
        trail = forced.get("trail")
        if lead is None:
            lead, trail = [], []
            # Short series stay all content: the head must keep most of the slices.
            if n >= 12 and rng.random() < 0.75:
                for side in (lead, trail):
                    nblank = int(rng.integers(1, 5))
                    ndark = int(rng.choice([0, 0, 1, 2]))
                    dark = rng.choice(["faint_dark", "faint_kept", "two_spots", "tiny_spot"],
                                      size=ndark).tolist()
                    side.extend(["blank"] * nblank + dark)
        body = n - len(lead) - len(trail)
        assert body >= 1, "too few slices for the forced edges"
        return list(lead) + ["content"] * body + list(reversed(trail))


class Phantom:
    """Pixels of one series. The expensive fields are computed once per series and each
    slice only thresholds and adds them inside the head's bounding rectangle."""

    def __init__(self, s):
        self.s = s
        rng = rng_for(*s.rng_seed, 2)
        R, C = s.rows, s.cols
        self.noise_stride = 997  # per-slice offset into one noise bank (prime: no repeats)
        # Semi-axes of the head ellipse in pixels and its centre, slightly off-centre.
        self.a = R * rng.uniform(0.36, 0.44)
        self.b = C * rng.uniform(0.34, 0.42)
        cy = (R - 1) / 2 + rng.uniform(-0.03, 0.03) * R
        cx = (C - 1) / 2 + rng.uniform(-0.03, 0.03) * C
        self.cy, self.cx = cy, cx
        y = (np.arange(R, dtype=np.float32) - np.float32(cy))[:, None]   # [R][1]
        x = (np.arange(C, dtype=np.float32) - np.float32(cx))[None, :]   # [1][C]
        # q <= s^2 is the head's cross-section at scale s. [R][C] float32
        self.q = (y / np.float32(self.a)) ** 2 + (x / np.float32(self.b)) ** 2
        m = np.float32(s.max_value)
        fy, fx = rng.uniform(2, 6, size=2) * np.float32(np.pi) / np.float32([R, C])
        py, px = rng.uniform(0, 2 * np.pi, size=2)
        # Smooth tissue pattern, brighter towards the rim (cortex-like). Peak <= 0.72 m.
        self.tissue = (m * np.float32(0.45)
                       + m * np.float32(0.12) * np.sin(fy * y + np.float32(py)) * np.cos(fx * x + np.float32(px))
                       + m * np.float32(0.15) * np.minimum(self.q, np.float32(1.0))).astype(np.float32)
        # A few brighter blobs ("lesions"), each Gaussian in-plane and along the series.
        self.blobs = []
        for _ in range(int(rng.integers(2, 5))):
            sig = rng.uniform(0.03, 0.08) * min(R, C)
            by = cy + rng.uniform(-0.5, 0.5) * self.a
            bx = cx + rng.uniform(-0.5, 0.5) * self.b
            r0, r1 = max(0, int(by - 3 * sig)), min(R, int(by + 3 * sig) + 1)
            c0, c1 = max(0, int(bx - 3 * sig)), min(C, int(bx + 3 * sig) + 1)
            gy = np.exp(-((np.arange(r0, r1) - by) ** 2) / (2 * sig * sig))[:, None]
            gx = np.exp(-((np.arange(c0, c1) - bx) ** 2) / (2 * sig * sig))[None, :]
            amp = rng.uniform(0.15, 0.25) * s.max_value
            patch = (amp * gy * gx).astype(np.float32)
            self.blobs.append((r0, r1, c0, c1, patch, rng.uniform(-0.6, 0.6), rng.uniform(0.2, 0.5)))
        # Negative region (signed series): a small square patch near the centre, -1..-50.
        if s.negative:
            nr, nc = max(2, int(0.08 * R)), max(2, int(0.08 * C))
            ny, nx = int(cy) - nr // 2, int(cx) - nc // 2
            vals = -rng.integers(1, 51, size=(nr, nc))
            vals[0, 0] = -50   # the minimum really is -50 wherever it is drawn
            self.neg = (ny, nx, vals.astype(np.int32))
        # Mild noise, integers: one bank for the series, a shifted window per slice.
        amp = max(1, int(round(0.01 * s.max_value)))
        n = len(s.slice_kinds)
        self.noise = rng.integers(-amp, amp + 1, size=R * C + self.noise_stride * n,
                                  dtype=np.int16).astype(np.float32)
        self.rng = rng

    def slice(self, i, z):
        """Slice i of the series (file order), whose position along the head is z in
        (-1, 1). Returns [rows][cols] int32, background exactly 0."""
        s = self.s
        kind = s.slice_kinds[i]
        out = np.zeros((s.rows, s.cols), dtype=np.int32)
        if kind == "blank":
            return out
        if kind != "content":
            return self._nearly_dark(kind, out)
        scale = float(np.sqrt(max(1.0 - z * z, 0.04)))
        # Only the head's bounding rectangle at this scale can be non-zero.
        r0 = max(0, int(np.floor(self.cy - self.a * scale)))
        r1 = min(s.rows, int(np.ceil(self.cy + self.a * scale)) + 1)
        c0 = max(0, int(np.floor(self.cx - self.b * scale)))
        c1 = min(s.cols, int(np.ceil(self.cx + self.b * scale)) + 1)
        img = self.tissue[r0:r1, c0:c1].copy()
        for br0, br1, bc0, bc1, patch, zc, zs in self.blobs:
            w = np.exp(-((z - zc) / zs) ** 2)
            if w < 0.02:
                continue
            y0, y1, x0, x1 = max(r0, br0), min(r1, br1), max(c0, bc0), min(c1, bc1)
            if y0 < y1 and x0 < x1:
                img[y0 - r0:y1 - r0, x0 - c0:x1 - c0] += np.float32(w) * patch[
                    y0 - br0:y1 - br0, x0 - bc0:x1 - bc0]
        off = self.noise_stride * i
        noise = self.noise[off:off + s.rows * s.cols].reshape(s.rows, s.cols)
        img += noise[r0:r1, c0:c1]
        np.clip(img, 1, s.max_value, out=img)        # inside the head: 1..max
        img *= self.q[r0:r1, c0:c1] <= np.float32(scale * scale)  # outside: exactly 0
        out[r0:r1, c0:c1] = img                       # float -> int32 truncates (>= 0)
        if s.negative and abs(z) < 0.6:
            ny, nx, vals = self.neg
            out[ny:ny + vals.shape[0], nx:nx + vals.shape[1]] = vals
        return out

    def _nearly_dark(self, kind, out):
        """Near-empty slices whose crop mean is decided well away from the dark threshold."""
        s, rng = self.s, self.rng
        R, C = s.rows, s.cols
        cy, cx = int(self.cy), int(self.cx)
        if kind == "two_spots":
            # Two single pixels far apart: the crop spans them, only 2 pixels are non-zero,
            # so the crop mean is about 1.5 / crop area (dark from --size 32 up).
            out[cy - R // 4, cx - C // 4] = s.max_value
            second = s.max_value // 2
            while True:
                out[cy + R // 4, cx + C // 4] = second
                if abs(crop_mean(out) - DARK_THRESHOLD) >= DARK_MARGIN or second <= 1:
                    break
                second //= 2
        elif kind == "tiny_spot":
            h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            out[cy:cy + h, cx:cx + w] = s.max_value // 3
        else:
            lo, hi = (1, 2) if kind == "faint_dark" else (3, 6)
            # Half-axes of the faint ellipse; they must fit around the centre pixel.
            ar = max(1, min(max(3, int(0.12 * R)), cy, R - 1 - cy))
            ac = max(1, min(max(3, int(0.12 * C)), cx, C - 1 - cx))
            yy = (np.arange(-ar, ar + 1) / ar)[:, None]
            xx = (np.arange(-ac, ac + 1) / ac)[None, :]
            faint = rng.integers(lo, hi + 1, size=yy.shape[0] * xx.shape[1]).reshape(
                yy.shape[0], xx.shape[1]) * (yy * yy + xx * xx <= 1.0)
            out[cy - ar:cy + ar + 1, cx - ac:cx + ac + 1] = faint
            # The bright pixel sets the max; its value moves the crop mean. The mean is at
            # least 1 / crop area (the bright pixel itself), so below --size 32 a crop
            # may be too small to be dark; then any mean clear of the threshold will do.
            want_dark = kind == "faint_dark"
            if want_dark:
                peaks = [int(300 * 1.5 ** k) for k in range(12)]      # up to ~26000
            else:
                peaks = [max(hi + 1, int(120 / 1.5 ** k)) for k in range(12)]
            means = []
            for peak in peaks:
                out[cy, cx] = peak
                means.append(crop_mean(out))
                if abs(means[-1] - DARK_THRESHOLD) >= DARK_MARGIN and \
                        (means[-1] < DARK_THRESHOLD) == want_dark:
                    break
            else:
                clear = [p for p, m in zip(peaks, means) if abs(m - DARK_THRESHOLD) >= DARK_MARGIN]
                if not clear:
                    raise AssertionError("could not place a nearly dark slice")
                out[cy, cx] = clear[0]
        return out


def crop_mean(x):
    """Mean of the min-max normalised slice over the bounding box of its non-zero part,
    exactly as the notebook pipeline computes it (docs/pipeline.md steps 3-5)."""
    x = x.astype(np.float32)
    mn, mx = x.min(), x.max()
    if mx == mn:
        return 0.0
    v = (x - mn) / (mx - mn)
    rows = np.flatnonzero((v > 0).any(axis=1))
    cols = np.flatnonzero((v > 0).any(axis=0))
    crop = v[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return float(crop.astype(np.float64).mean())


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.patients = self.series = self.files = self.bytes = 0


def write_series(path, s, stats, extension_of=None, truncate=None, garbage=None):
    """Write one series folder. extension_of: {file index: extension} overrides ".dcm";
    truncate: index of a file cut at half its pixel data; garbage: index of a file that
    is random bytes instead of DICOM."""
    os.makedirs(path, exist_ok=True)
    enc = SeriesEncoder(s)
    phantom = Phantom(s)
    normal = np.cross(PLANES[s.plane][:3], PLANES[s.plane][3:])
    n = len(s.slice_kinds)
    # File indexes past the end (a short --slices range) move to the last file.
    extension_of = {min(k, n - 1): v for k, v in (extension_of or {}).items()}
    truncate = None if truncate is None else min(truncate, n - 1)
    garbage = None if garbage is None else min(garbage, n - 1)
    content_pos = [s.position_index[i] for i, k in enumerate(s.slice_kinds) if k == "content"]
    lo, hi = (min(content_pos), max(content_pos)) if content_pos else (0, 0)
    for i, number in enumerate(s.numbers):
        p = s.position_index[i]
        # z runs over (-1, 1) across the content slices, in anatomical order.
        z = -1.0 + (2.0 * (p - lo) + 1.0) / (hi - lo + 1) if content_pos else 0.0
        pixels = phantom.slice(i, z)
        offset = s.direction * s.thickness * (p - (n - 1) / 2)
        pos = s.origin + offset * normal
        data, pixel_len = enc.encode(s.sop_prefix + str(number), number, pos,
                                     float(np.dot(pos, normal)), pixels)
        if truncate == i:
            data = data[:len(data) - pixel_len // 2]
        if garbage == i:
            data = bytearray(phantom.rng.bytes(8192))
            data[128:132] = b"JUNK"   # never an accidental DICM magic
            data = bytes(data)
        ext = extension_of.get(i, ".dcm")
        with open(os.path.join(path, f"Image-{number}{ext}"), "wb") as f:
            f.write(data)
        stats.files += 1
        stats.bytes += len(data)
    stats.series += 1


class Ids:
    """Patient IDs like the real data: increasing with gaps (00000, 00002, 00003, ...).
    The gaps are where test patients come from, so test IDs never collide with train."""

    def __init__(self, seed):
        self.rng = rng_for(seed, "ids")
        self.next = 0
        self.gaps = []

    def take(self):
        # The first ID is 00000, as in the real train set; gaps come after it.
        while self.next > 0 and self.rng.random() < 0.35:
            self.gaps.append(self.next)
            self.next += 1
        pid = self.next
        self.next += 1
        return pid

    def take_gap(self):
        return self.gaps.pop(0) if self.gaps else self.take()


def nslices_for(seed, split, pid, modality, lo, hi):
    return int(rng_for(seed, split, pid, modality, 0).integers(lo, hi + 1))


# Attributes forced on the first train series so that even a tiny dataset has all
# planes, both pixel representations, several shapes, negative values, numbering gaps,
# and blank plus every kind of nearly dark edge slice.
FORCED = [
    dict(plane="coronal", signed=False, shape="full", gaps=2,
         lead=["blank", "blank", "faint_dark", "faint_kept"],
         trail=["blank", "blank", "blank", "two_spots", "tiny_spot"]),
    dict(plane="axial", signed=True, negative=True, shape="half"),
    dict(plane="sagittal", signed=False, shape="rect"),
    dict(plane="axial", signed=True, negative=False, shape="full", max_value=4000),
]


def write_patient(root, split, pid, args, stats, forced_iter=None, special=None):
    """One patient folder with every requested modality. special(modality_index) may
    return a dict that changes that one series (see --problems and --broken)."""
    pdir = os.path.join(root, split, f"{pid:05d}")
    os.makedirs(pdir, exist_ok=True)
    stats.patients += 1
    for k, mod in enumerate(args.modalities):
        spec = (special(k) if special else None) or {}
        if spec.get("missing"):
            continue
        mdir = os.path.join(pdir, mod)
        if "no_dcm" in spec:
            os.makedirs(mdir, exist_ok=True)
            if spec["no_dcm"] == "notes":
                with open(os.path.join(mdir, "notes.txt"), "w") as f:
                    f.write("scan aborted, series not exported\n")
            continue
        n = spec.get("nslices") or nslices_for(args.seed, split, pid, mod, *args.slices)
        forced = next(forced_iter, None) if forced_iter is not None else None
        if forced and forced.get("lead") and n < len(forced["lead"]) + len(forced["trail"]) + 4:
            # Too few slices (small --slices) for the forced edges: keep the rest forced.
            forced = {k: v for k, v in forced.items() if k not in ("lead", "trail")}
        s = Series(args.seed, split, f"{pid:05d}", mod, k + 1, n, args.size,
                   kind=spec.get("kind", "normal"), forced=forced,
                   shuffled=spec.get("shuffled", False))
        write_series(mdir, s, stats, extension_of=spec.get("extension_of"),
                     truncate=spec.get("truncate"), garbage=spec.get("garbage"))
        for name, text in spec.get("extra_files", {}).items():
            with open(os.path.join(mdir, name), "wb") as f:
                f.write(text)


def problem_patients(nmod):
    """Each problem case in its own train patient; the affected modality rotates so that
    cases are spread over modalities. Returns (description, special) pairs."""
    last = nmod - 1

    def only(k, spec):
        return lambda i: spec if i == k else None

    return [
        ("missing modality folder", only(last, {"missing": True})),
        ("empty modality folder", only(0, {"no_dcm": "empty"})),
        ("modality folder with only notes.txt", only(1 % nmod, {"no_dcm": "notes"})),
        ("blank series (all zeros)", only(2 % nmod, {"kind": "blank"})),
        ("series with every slice dark", only(3 % nmod, {"kind": "dark"})),
        ("non-.dcm files in a series", only(0, {"extra_files": {
            ".DS_Store": b"\0\0\0\1Bud1" + b"\0" * 64,
            "README.txt": b"exported by the scanner console\n"}})),
        ("upper-case .DCM extension", only(1 % nmod, {"extension_of": {4: ".DCM"}})),
        ("series shorter than 3 slices",
         lambda i: {"kind": "short", "nslices": 2 if i == last else 1}
         if i in (last, (last - 1) % nmod) else None),
        ("file order is not anatomical order", only(0, {"shuffled": True})),
    ]


def broken_patients(nmod):
    """Two train patients, each with one unreadable file in one series (the 6th and the
    4th file, or the last of a shorter series)."""
    return [
        ("truncated file", lambda i: {"truncate": 5} if i == 0 else None),
        ("random bytes in a .dcm file", lambda i: {"garbage": 3} if i == 1 % nmod else None),
    ]


def write_labels(path, rows, awkward):
    """rows: (id, label). awkward: UTF-8 BOM, CRLF and one quoted ID, as exported by
    spreadsheet tools, so the tool's CSV reader is exercised."""
    eol = "\r\n" if awkward else "\n"
    lines = ["BraTS21ID,MGMT_value"]
    for j, (pid, label) in enumerate(rows):
        field = f'"{pid:05d}"' if awkward and j == 1 else f"{pid:05d}"
        lines.append(f"{field},{label}")
    with open(path, "w", encoding="utf-8-sig" if awkward else "utf-8", newline="") as f:
        f.write(eol.join(lines) + eol)


def parse_range(text):
    try:
        lo, hi = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX, got {text!r}")
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"need 1 <= MIN <= MAX, got {text!r}")
    return lo, hi


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Write a synthetic brain-MRI DICOM dataset laid out like the "
                    "RSNA-MICCAI Brain Tumor Radiogenomic Classification data "
                    "(OUT/train/<id>/<MOD>/Image-<n>.dcm, OUT/test/..., "
                    "OUT/train_labels.csv). Same arguments, same bytes. "
                    "Run with /usr/bin/python3.")
    p.add_argument("out", metavar="OUT", help="output folder (created; existing files "
                   "with the same names are overwritten)")
    p.add_argument("--patients", type=int, default=8, metavar="N",
                   help="normal train patients (default 8)")
    p.add_argument("--test-patients", type=int, default=2, metavar="M",
                   help="test patients, unlabelled (default 2)")
    p.add_argument("--size", type=int, default=512,
                   help="rows and columns of most series (default 512); from 128 up "
                        "some series are SIZE/2 square or SIZE/2 x 3*SIZE/8; below 32 "
                        "a crop is too small to be dark, so no slice is dark")
    p.add_argument("--slices", type=parse_range, default=(20, 60), metavar="MIN:MAX",
                   help="files per series, drawn uniformly (default 20:60)")
    p.add_argument("--modalities", default=DEFAULT_MODALITIES,
                   help=f"comma-separated series folders per patient (default {DEFAULT_MODALITIES})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--problems", action="store_true",
                   help="add train patients with cases the tool must handle: missing "
                        "modality, folders without .dcm, blank and all-dark series, "
                        "non-.dcm files, a .DCM file, series shorter than 3 slices, file "
                        "order unlike anatomy; and a labels file with a BOM, CRLF, a "
                        "quoted field and an ID without images")
    p.add_argument("--broken", action="store_true",
                   help="add two train patients with an unreadable file: one truncated "
                        "at half its pixel data, one of random bytes")
    p.add_argument("--target-files", type=int, metavar="F",
                   help="instead of --patients, add train patients until at least F "
                        "train files exist (test and problem patients come on top)")
    args = p.parse_args(argv)
    args.modalities = [m.strip() for m in args.modalities.split(",") if m.strip()]
    if not args.modalities:
        p.error("--modalities is empty")
    if args.size < 8:
        p.error("--size must be at least 8")
    if args.seed < 0 or args.patients < 0 or args.test_patients < 0:
        p.error("--seed, --patients and --test-patients must not be negative")
    if args.target_files is not None and args.target_files < 1:
        p.error("--target-files must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    stats = Stats()
    ids = Ids(args.seed)
    forced = iter(FORCED)
    labels = []
    label_rng = rng_for(args.seed, "labels")

    def add_train(special=None, use_forced=False):
        pid = ids.take()
        write_patient(args.out, "train", pid, args, stats,
                      forced if use_forced else None, special)
        labels.append(pid)

    if args.target_files is not None:
        while stats.files < args.target_files:
            add_train(use_forced=True)
    else:
        for _ in range(args.patients):
            add_train(use_forced=True)
    test_ids = [ids.take_gap() for _ in range(args.test_patients)]
    for pid in test_ids:
        write_patient(args.out, "test", pid, args, stats)
    extra = []
    if args.problems:
        extra += problem_patients(len(args.modalities))
    if args.broken:
        extra += broken_patients(len(args.modalities))
    for _, special in extra:
        add_train(special)

    # Labels: a shuffled, balanced set of 0s and 1s.
    values = np.array([j % 2 for j in range(len(labels))])
    label_rng.shuffle(values)
    rows = sorted(zip(labels, values.tolist()))
    if args.problems:
        rows = sorted(rows + [(ids.take(), 1)])   # a labelled ID with no images
    os.makedirs(args.out, exist_ok=True)
    write_labels(os.path.join(args.out, "train_labels.csv"), rows, args.problems)
    if test_ids:
        with open(os.path.join(args.out, "sample_submission.csv"), "w") as f:
            f.write("BraTS21ID,MGMT_value\n")
            f.writelines(f"{pid:05d},0.5\n" for pid in sorted(test_ids))

    dt = time.perf_counter() - t0
    print(f"make_dataset: {stats.patients} patients, {stats.series} series, "
          f"{stats.files} files, {stats.bytes} bytes ({stats.bytes / 1e6:.1f} MB), "
          f"{dt:.2f} s ({stats.files / dt:.0f} files/s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
