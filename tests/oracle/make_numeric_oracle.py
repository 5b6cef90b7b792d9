#!/usr/bin/env python3
"""numpy as the oracle for mriprep's float16 conversion and .npy headers.

Run with /usr/bin/python3 (Debian's numpy):  make_numeric_oracle.py OUTDIR
Writes into OUTDIR:
  half_cases.bin   float32 inputs (little-endian), then numpy's float16 bits for each
                   (little-endian uint16), preceded by the count as uint32. The inputs
                   are every float16 value, every midpoint between neighbours (the ties),
                   the floats one ulp either side of each midpoint, the overflow and
                   underflow edges, infinities, NaNs, and 1M random bit patterns.
  npy_header_<n>.bin  the .npy header np.save writes for an array of that shape and type;
  npy_cases.txt       one line per header: file descr ndim dims...
"""
import pathlib
import sys

import numpy as np


def half_cases():
    halfs = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = np.sort(np.unique(halfs[np.isfinite(halfs)].astype(np.float32)))
    mids = ((finite[:-1].astype(np.float64) + finite[1:].astype(np.float64)) / 2).astype(np.float32)
    # Midpoints of neighbouring halfs are exact in float32 (11 + 1 bits).
    assert np.all(mids.astype(np.float64) == (finite[:-1].astype(np.float64) + finite[1:]) / 2)
    near = np.concatenate([np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf))])
    edges = np.array([65504, 65519.996, 65520, 65536, 1e30, 2.0**-24, 2.0**-25, 2.0**-26, 3 * 2.0**-26,
                      2.0**-14, 2.0**-14 - 2.0**-25, 5.9604645e-08, 6.1035156e-05, 0.0, -0.0,
                      np.inf, -np.inf], dtype=np.float32)
    nans = np.array([0x7FC00000, 0x7F800001, 0xFFC00001, 0x7FFFFFFF], dtype=np.uint32).view(np.float32)
    rng = np.random.default_rng(20261123)
    random_bits = rng.integers(0, 2**32, size=1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    values = np.concatenate([finite, -finite, mids, -mids, near, -near, edges, -edges, nans, random_bits])
    return values.astype(np.float32)


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    values = half_cases()
    with np.errstate(over="ignore", invalid="ignore"):
        bits = values.astype(np.float16).view(np.uint16)
    with open(out / "half_cases.bin", "wb") as f:
        f.write(np.uint32(values.size).tobytes())
        f.write(values.astype("<f4").tobytes())
        f.write(bits.astype("<u2").tobytes())

    # Headers only: numpy's own header writer, the one np.save calls (format 1.0).
    shapes = [((256, 256, 128), "<f4"), ((128, 256, 256), "<f2"), ((7,), "<f4"), ((1, 2, 3), "<f4"),
              ((12345, 1, 999999), "<f2"), ((), "<f4"), ((64, 48, 0), "<f4")]
    with open(out / "npy_cases.txt", "w") as f:
        for i, (shape, descr) in enumerate(shapes):
            name = f"npy_header_{i}.bin"
            with open(out / name, "wb") as h:
                np.lib.format.write_array_header_1_0(h, {"descr": descr, "fortran_order": False, "shape": shape})
            f.write(" ".join([name, descr, str(len(shape)), *map(str, shape)]) + "\n")
    print(f"numeric oracle: {values.size} float16 cases, {len(shapes)} npy headers -> {out}")


if __name__ == "__main__":
    main()
