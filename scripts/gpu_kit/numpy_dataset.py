#!/usr/bin/env python3
"""A synthetic dataset shaped like the RSNA-MICCAI one, written with numpy and the standard
library only (no pydicom): for the GPU kit, which runs where pydicom is not installed.

    python3 numpy_dataset.py OUT [--patients 4] [--size 512] [--slices 40:80] [--seed 0]

Writes OUT/train/<id>/<FLAIR|T1w|T1wCE|T2w>/Image-<n>.dcm and OUT/train_labels.csv. Each
file is a DICOM Part 10 file (preamble, "DICM", explicit VR little endian file meta
information) whose data set is Implicit VR Little Endian: an MR image of 16-bit unsigned
values (12 stored bits), with position, orientation, spacing and instance number. Every
series is an axial stack of an ellipsoid head phantom with noise, blank slices at both
ends, as the real data has. tests/e2e/test_gpu_kit.py reads these files with pydicom
and with mriprep to check the writer.
"""
import argparse
import os
import struct

import numpy as np

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
UID_ROOT = "1.2.826.0.1.3680043.10.1138."   # a private root for synthetic data
MODALITIES = ("FLAIR", "T1w", "T1wCE", "T2w")


def _even(b, pad):
    return b + pad if len(b) % 2 else b


def _text(value, pad=b" "):
    return _even(str(value).encode("ascii"), pad)


def explicit(group, element, vr, value):
    """One explicit-VR little-endian element (the file meta group)."""
    head = struct.pack("<HH", group, element) + vr.encode()
    if vr in ("OB", "OW", "SQ", "UN", "UT"):
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def implicit(group, element, value):
    """One implicit-VR little-endian element (the data set)."""
    return struct.pack("<HHI", group, element, len(value)) + value


def dicom_file(pixels, instance, position, series_uid, study_uid, patient):
    rows, cols = pixels.shape
    sop_uid = f"{series_uid}.{instance}"
    meta_body = (explicit(0x0002, 0x0001, "OB", b"\0\1")
                 + explicit(0x0002, 0x0002, "UI", _text(MR_IMAGE_STORAGE, b"\0"))
                 + explicit(0x0002, 0x0003, "UI", _text(sop_uid, b"\0"))
                 + explicit(0x0002, 0x0010, "UI", _text(IMPLICIT_LE, b"\0"))
                 + explicit(0x0002, 0x0012, "UI", _text(UID_ROOT + "1", b"\0")))
    meta = explicit(0x0002, 0x0000, "UL", struct.pack("<I", len(meta_body))) + meta_body
    ds = b"".join([
        implicit(0x0008, 0x0016, _text(MR_IMAGE_STORAGE, b"\0")),
        implicit(0x0008, 0x0018, _text(sop_uid, b"\0")),
        implicit(0x0008, 0x0060, _text("MR")),
        implicit(0x0010, 0x0020, _text(patient)),
        implicit(0x0020, 0x000D, _text(study_uid, b"\0")),
        implicit(0x0020, 0x000E, _text(series_uid, b"\0")),
        implicit(0x0020, 0x0013, _text(instance)),
        implicit(0x0020, 0x0032, _text("\\".join(f"{v:.4f}" for v in position))),
        implicit(0x0020, 0x0037, _text("1\\0\\0\\0\\1\\0")),
        implicit(0x0028, 0x0002, struct.pack("<H", 1)),
        implicit(0x0028, 0x0004, _text("MONOCHROME2")),
        implicit(0x0028, 0x0010, struct.pack("<H", rows)),
        implicit(0x0028, 0x0011, struct.pack("<H", cols)),
        implicit(0x0028, 0x0030, _text("0.9375\\0.9375")),
        implicit(0x0028, 0x0100, struct.pack("<H", 16)),
        implicit(0x0028, 0x0101, struct.pack("<H", 12)),
        implicit(0x0028, 0x0102, struct.pack("<H", 11)),
        implicit(0x0028, 0x0103, struct.pack("<H", 0)),
        implicit(0x7FE0, 0x0010, pixels.astype("<u2").tobytes()),
    ])
    return b"\0" * 128 + b"DICM" + meta + ds


def phantom(rng, size, n):
    """n axial slices [n, size, size] of uint16 (12-bit): an ellipsoid head with noise;
    the first and last two slices blank, as scanners write them."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    out = np.zeros((n, size, size), np.uint16)
    a, b = rng.uniform(0.28, 0.4), rng.uniform(0.32, 0.45)
    for k in range(2, n - 2):
        z = (k - n / 2) / (n / 2)
        scale = max(0.0, 1 - z * z) ** 0.5
        if scale <= 0.05:
            continue
        inside = (xx / (a * scale)) ** 2 + (yy / (b * scale)) ** 2 <= 1
        tissue = 900 + 600 * np.cos(xx * 9 + k * 0.1) * np.sin(yy * 7)
        noise = rng.normal(0, 60, (size, size))
        out[k] = np.where(inside, np.clip(tissue + noise, 1, 4095), 0).astype(np.uint16)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--patients", type=int, default=4)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--slices", default="40:80")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    lo, hi = (int(v) for v in a.slices.split(":"))
    rng = np.random.default_rng(a.seed)
    labels = ["BraTS21ID,MGMT_value"]
    files = 0
    for p in range(a.patients):
        pid = f"{p:05d}"
        labels.append(f"{pid},{p % 2}")
        for m, modality in enumerate(MODALITIES):
            n = int(rng.integers(lo, hi + 1))
            folder = os.path.join(a.out, "train", pid, modality)
            os.makedirs(folder, exist_ok=True)
            study = f"{UID_ROOT}{a.seed}.{p}"
            series = f"{study}.{m + 1}"
            for k, pixels in enumerate(phantom(rng, a.size, n)):
                position = (-a.size * 0.9375 / 2, -a.size * 0.9375 / 2, -60.0 + 2.0 * k)
                with open(os.path.join(folder, f"Image-{k + 1}.dcm"), "wb") as f:
                    f.write(dicom_file(pixels, k + 1, position, series, study, pid))
                files += 1
    with open(os.path.join(a.out, "train_labels.csv"), "w") as f:
        f.write("\n".join(labels) + "\n")
    print(f"{files} files of {a.size}x{a.size} in {a.out}")


if __name__ == "__main__":
    main()
