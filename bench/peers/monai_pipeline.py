#!/usr/bin/env python3
"""A peer of `mriprep run` for the benchmark: what a MONAI user writes instead.

Run it with the peers' venv (bench/peers/setup_venv.sh makes it; bench/bench.py runs it
when BENCH_PEERS=1):

    bench/.peers-venv/bin/python bench/peers/monai_pipeline.py DATA OUT [--workers 2] [-q]

For every series folder of DATA (the layout of tests/reference/notebook_pipeline.py:
DATA/train and DATA/test when either exists, else DATA itself; one folder per patient,
sorted; in it FLAIR, T1w, T1wCE, T2w), in a torch DataLoader with --workers worker
processes (2), one volume per item:

  LoadImaged(reader="PydicomReader", ensure_channel_first=True)  the series folder as one volume
  CropForegroundd                  the bounding box of v > 0 over the whole volume
  CenterSpatialCropd((-1, -1, K))  the middle K slices (all of them when there are fewer)
  Resized((W, H, -1), mode="area") every slice to W x H, the depth kept
  NormalizeIntensityd              z-score of the volume

and the main process writes each volume as float32 OUT/<split>/<id>/<MOD>.npy. The last
line printed is the benchmark figure: series, files, seconds, files/s.

This is a peer for speed, not an oracle: it is the usual MONAI code for this job, and
its numbers differ from mriprep's (and the notebook's) on purpose:
  - files: every file in the folder (PydicomReader's glob, no .dcm filter), slice order
    by InstanceNumber (mriprep: the number in the file name); pydicom reads each whole
    file and the series is stacked before any transform runs
  - values: RescaleSlope/Intercept applied when present (mriprep: stored values);
    no per-slice min-max to [0, 1]
  - crop: one box for the volume, of the raw values > 0 (mriprep's default: a box per
    slice after its min-max, like `--crop volume` only in spirit)
  - no blank or dark slice is dropped (mriprep: --dark 0.01), so the middle K are taken
    of all slices, not of the kept ones
  - resize: torch's "area" interpolation (adaptive average pooling), equal to OpenCV's
    INTER_AREA only for integer factors; mriprep matches INTER_AREA bit for bit
  - z-score: NormalizeIntensity's mean and std in float32 torch (mriprep: float64)
  - axes: MONAI's (W, H, D) after PydicomReader's swap of the first two axes (mriprep's
    default layout is (H, W, D)); no manifest, no labels, a bad file stops the run
"""

import argparse
import logging
import os
import re
import sys
import time
import warnings

import numpy as np
import torch
from monai.data import Dataset
from monai.transforms import (CenterSpatialCropd, Compose, CropForegroundd, LoadImaged, NormalizeIntensityd,
                              Resized)

DEFAULT_MODALITIES = "FLAIR,T1w,T1wCE,T2w"

# LoadImage constructs every reader MONAI knows before the one asked for (which it then
# uses); the nvImageCodec one says, twice per worker, that nvImageCodec is not installed.
logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="NvImgCodecPydicomReader")


def find_splits(data):
    """[(split name, folder)]: train and test when either exists, else DATA itself."""
    splits = [(s, os.path.join(data, s)) for s in ("train", "test") if os.path.isdir(os.path.join(data, s))]
    return splits or [("", data)]


def series_items(data, modalities):
    """One item per series folder that holds files: image (the folder), out (the
    relative .npy path), files (how many)."""
    items = []
    for split, split_dir in find_splits(data):
        for pid in sorted(e.name for e in os.scandir(split_dir) if e.is_dir()):
            for mod in modalities:
                folder = os.path.join(split_dir, pid, mod)
                if not os.path.isdir(folder):
                    continue
                n = sum(1 for e in os.scandir(folder) if e.is_file())
                if n:
                    items.append({"image": folder, "out": os.path.join(split, pid, mod + ".npy"), "files": n})
    return items


def parse_size(text):
    m = re.fullmatch(r"(\d+)(?:x(\d+))?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"expected N or WxH, got {text!r}")
    w = int(m.group(1))
    return (w, int(m.group(2)) if m.group(2) else w)


def main(argv=None):
    p = argparse.ArgumentParser(description="MONAI peer of mriprep run (bench/peers/monai_pipeline.py)")
    p.add_argument("data", metavar="DATA")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--size", type=parse_size, default=(256, 256), metavar="N|WxH")
    p.add_argument("--slices", type=int, default=128, metavar="K")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (2)")
    p.add_argument("--modalities", default=DEFAULT_MODALITIES)
    p.add_argument("-q", "--quiet", action="store_true")
    opts = p.parse_args(argv)

    W, H = opts.size
    transform = Compose([
        LoadImaged(keys="image", reader="PydicomReader", ensure_channel_first=True, image_only=True),
        CropForegroundd(keys="image", source_key="image"),
        CenterSpatialCropd(keys="image", roi_size=(-1, -1, opts.slices)),
        Resized(keys="image", spatial_size=(W, H, -1), mode="area"),
        NormalizeIntensityd(keys="image"),
    ])
    items = series_items(opts.data, [m.strip() for m in opts.modalities.split(",") if m.strip()])
    # batch_size=None: no batching (the depths differ), each item comes as the transform made it.
    loader = torch.utils.data.DataLoader(Dataset(items, transform), batch_size=None, num_workers=opts.workers)
    t0 = time.perf_counter()
    nfiles = 0
    for item in loader:
        vol = np.asarray(item["image"].as_tensor()[0], dtype=np.float32)
        path = os.path.join(opts.out, item["out"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, vol)
        nfiles += item["files"]
        if not opts.quiet:
            print(f"{item['out']}: {vol.shape}", file=sys.stderr)
    dt = time.perf_counter() - t0
    print(f"monai_pipeline: {len(items)} series, {nfiles} files, {dt:.2f} s, "
          f"{nfiles / dt if dt > 0 else 0:.1f} files/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
