#!/usr/bin/env python3
"""End-to-end tests of `mriprep show` (PNG of a patient's slices side by side, GIF
through a series or an output volume).

Run with /usr/bin/python3 (Debian's numpy, pydicom, OpenCV and PIL). The dataset comes
from scripts/make_dataset.py; the pictures are decoded with PIL (the real decoders) and
every tile and frame is compared with an independent computation in numpy:

    DICOM slice: pydicom pixel_array -> float32, v = (x - min) / (max - min)
    .npy volume: float32, v = (x - volume min) / (volume max - volume min)
    then cv2.resize(v, (S, S), interpolation=cv2.INTER_AREA) and
    gray = floor(r * 255 + 0.5) in float32 (round half up), clipped to 0..255

which must agree within 1 gray level (it is exact in practice; the count of exact
pixels is reported). The slice a PNG shows is file index round(at * (n - 1)) (half up),
or the nearest nonblank one (the earlier at equal distance); blank = min == max.

PNG geometry (show.h): n tiles of S pixels, 4-pixel gaps of gray 64, a black title
strip of 12 pixels (24 from S = 512 up) above each tile, the title in white from x = 3
(x 6 at scale 2) in a 5x7 font on a 6-pixel advance.

    /usr/bin/python3 tests/test_show.py [--results FILE.json] [-k SUBSTRING] [--keep]

Prints one line per test and writes {"tests": [{"name", "status", "message"}]} for
tests/summarize_results.py.
"""
import csv
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from testlib import Failure, Suite, check  # noqa: E402
PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
MAKE_DATASET = ROOT / "scripts" / "make_dataset.py"
MODALITIES = ["FLAIR", "T1w", "T1wCE", "T2w"]

GAP, GAP_GRAY, MESSAGE_GRAY = 4, 64, 40
suite = Suite("show", __doc__)


def run(cmd, expect=None):
    """Runs a command; returns CompletedProcess. `expect`: required exit code."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    if expect is not None and p.returncode != expect:
        raise Failure(f"{' '.join(map(str, cmd))} exited {p.returncode}, expected {expect}\n"
                      f"stdout: {p.stdout[-1000:]}\nstderr: {p.stderr[-2000:]}")
    return p


def show(*args, expect=None):
    return run([MRIPREP, "show", *args], expect=expect)


# ---- the independent computation -------------------------------------------------------

_LAST_DIGITS = re.compile(r"[0-9]+(?=[^0-9]*$)")


def series_files(folder):
    """The .dcm files of a series in natural order (tests/reference/notebook_pipeline.py)."""
    def key(name):
        m = _LAST_DIGITS.search(name)
        return (0, int(m.group()), os.fsencode(name)) if m else (1, 0, os.fsencode(name))
    names = [e.name for e in os.scandir(folder) if e.name.lower().endswith(".dcm") and e.is_file()]
    return [pathlib.Path(folder) / n for n in sorted(names, key=key)]


def dicom_pixels(path):
    import pydicom
    return pydicom.dcmread(str(path)).pixel_array


def to_gray8(r):
    """floor(r * 255 + 0.5) in float32, clipped: round half up."""
    g = np.floor(r.astype(np.float32) * np.float32(255) + np.float32(0.5))
    return np.clip(g, 0, 255).astype(np.uint8)


def resize(v, size):
    import cv2
    return cv2.resize(v, (size, size), interpolation=cv2.INTER_AREA)


def dicom_tile(path, size):
    """The tile of one DICOM file, or None when the slice is blank."""
    x = dicom_pixels(path).astype(np.float32)
    mn, mx = x.min(), x.max()
    if mx == mn:
        return None
    return to_gray8(resize((x - mn) / (mx - mn), size))


def volume_slices(vol, layout):
    """[D][H][W] float32 view of a volume saved as (H, W, D) or (D, H, W)."""
    vol = vol.astype(np.float32)
    return np.moveaxis(vol, 2, 0) if layout == "hwd" else vol


def volume_tiles(vol, layout, size):
    """Tiles of every slice (None for a constant one), scaled by the volume's range."""
    sl = volume_slices(vol, layout)
    lo, hi = sl.min(), sl.max()
    out = []
    for s in sl:
        if s.min() == s.max():
            out.append(None)
        else:
            out.append(to_gray8(resize(np.ascontiguousarray((s - lo) / (hi - lo)), size)))
    return out


def index_at(at, n):
    return int(math.floor(at * (n - 1) + 0.5))


def nearest_nonblank(blank, want):
    """Index of the nearest nonblank slice to `want`, the earlier at equal distance."""
    if not blank[want]:
        return want
    for d in range(1, len(blank)):
        for k in (want - d, want + d):
            if 0 <= k < len(blank) and not blank[k]:
                return k
    return None


def strip_height(size):
    return 24 if size >= 512 else 12


def tile_box(i, size):
    """(x0, y0) of tile i's slice in the PNG."""
    return i * (size + GAP), strip_height(size)


def compare_tile(img, i, size, want, what):
    """Tile i of the PNG against the computed tile: within 1 gray level. Returns exact count."""
    x0, y0 = tile_box(i, size)
    got = img[y0:y0 + size, x0:x0 + size]
    diff = np.abs(got.astype(int) - want.astype(int))
    check(diff.max() <= 1, f"{what}: {int((diff > 1).sum())} pixels differ by more than 1 "
          f"(max {diff.max()}) from the numpy/OpenCV tile")
    check(got.max() > 0, f"{what}: the tile is all black where the slice is not blank")
    return int((diff == 0).sum())


def title_ink_right(img, i, size):
    """Rightmost column with white ink in tile i's title strip, relative to the tile; -1 if none."""
    x0, _ = tile_box(i, size)
    strip = img[:strip_height(size), x0:x0 + size]
    cols = np.flatnonzero((strip == 255).any(axis=0))
    return int(cols[-1]) if cols.size else -1


def check_title_length(img, i, size, title, what):
    """The title's ink ends where `title` in the 6-pixel-advance font must end: the last
    glyph's ink is 5 columns from x = 3 + 6 (n - 1), of which the last 1-2 may be empty."""
    scale = 2 if size >= 512 else 1
    n = len(title)
    end = 3 * scale + (6 * (n - 1) + 5) * scale - 1  # last possible ink column
    right = title_ink_right(img, i, size)
    check(end - 2 * scale <= right <= end,
          f"{what}: title ink ends at column {right}, '{title}' ({n} characters) ends at {end}")


def load_png(path):
    from PIL import Image
    with Image.open(path) as im:
        check(im.format == "PNG", f"{path}: PIL says format {im.format}")
        check(im.mode == "L", f"{path}: mode {im.mode}, expected L (8-bit gray)")
        return np.array(im)


def load_gif(path):
    """Frames as [n][h][w] uint8 and the per-frame durations, plus the loop count."""
    from PIL import Image
    frames, durations = [], []
    with Image.open(path) as im:
        check(im.format == "GIF", f"{path}: PIL says format {im.format}")
        loop = im.info.get("loop")
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info.get("duration"))
            frames.append(np.array(im.convert("L")))
    return np.array(frames), durations, loop


# ---- shared data -----------------------------------------------------------------------

class Work:
    tmp = None
    _data = None
    _out = {}

    @classmethod
    def data(cls):
        if cls._data is None:
            path = cls.tmp / "data"
            run([PY, MAKE_DATASET, path, "--patients", "2", "--test-patients", "0", "--size", "128",
                 "--problems"], expect=0)
            cls._data = path
        return cls._data

    @classmethod
    def patient(cls, pid="00000"):
        return cls.data() / "train" / pid

    @classmethod
    def labels(cls):
        with open(cls.data() / "train_labels.csv", newline="", encoding="utf-8-sig") as f:
            return {int(r["BraTS21ID"]): r["MGMT_value"] for r in csv.DictReader(f)}

    @classmethod
    def volumes(cls, name, *opts):
        """`mriprep run` output for these options (made once)."""
        if name not in cls._out:
            out = cls.tmp / name
            run([MRIPREP, "run", cls.data(), out, "--progress", "none", "-q", *opts], expect=0)
            cls._out[name] = out
        return cls._out[name]

    @classmethod
    def broken_patient(cls):
        """A copy of patient 00000 whose FLAIR file at --at 0.5 is cut in half."""
        dst = cls.tmp / "broken" / "00000"
        if not dst.exists():
            shutil.copytree(cls.patient(), dst)
            files = series_files(dst / "FLAIR")
            victim = files[index_at(0.5, len(files))]
            raw = victim.read_bytes()
            victim.write_bytes(raw[:len(raw) - 8000])
        return dst


def blank_mask(files):
    """blank[i]: file i is a constant slice (pydicom)."""
    return [dicom_tile(f, 16) is None for f in files]


# ---- PNG -------------------------------------------------------------------------------

@suite.test
def png_of_a_patient_matches_numpy_tile_by_tile():
    patient = Work.patient()
    out = Work.tmp / "patient.png"
    size = 128
    p = show(patient, "--png", out, "--size", size, expect=0)
    img = load_png(out)
    width = 4 * size + 3 * GAP
    check(f"wrote {out}: {width}x{strip_height(size) + size} PNG, 4 tiles" in p.stdout, f"stdout: {p.stdout}")
    check(img.shape == (strip_height(size) + size, width), f"PNG {img.shape[::-1]}, expected ({width}, "
          f"{strip_height(size) + size})")
    label = Work.labels()[0]
    exact = 0
    for i, mod in enumerate(MODALITIES):
        files = series_files(patient / mod)
        blank = blank_mask(files)
        k = nearest_nonblank(blank, index_at(0.5, len(files)))
        check(k is not None, f"{mod}: generator gave a blank series")
        exact += compare_tile(img, i, size, dicom_tile(files[k], size), f"{mod} tile (file {files[k].name})")
        title = mod + (f" (slice {k + 1}/{len(files)})" if k != index_at(0.5, len(files)) else "") + \
            f"  label {label}"
        check_title_length(img, i, size, title, mod)
        strip = img[:strip_height(size), tile_box(i, size)[0]:tile_box(i, size)[0] + size]
        check(set(np.unique(strip)) <= {0, 255}, f"{mod}: title strip is not white on black")
    for i in range(1, 4):
        x = tile_box(i, size)[0] - GAP
        check((img[:, x:x + GAP] == GAP_GRAY).all(), f"gap before tile {i} is not gray {GAP_GRAY}")
    return f"4 tiles, {exact} of {4 * size * size} pixels exact, the rest within 1"


@suite.test
def png_default_size_and_at_fraction_of_a_series():
    series = Work.patient() / "T2w"
    files = series_files(series)
    blank = blank_mask(files)
    out = Work.tmp / "series.png"
    notes = []
    for at in ("0.5", "0.25", "0.8"):
        show(series, "--png", out, "--at", at, expect=0)
        img = load_png(out)
        check(img.shape == (12 + 256, 256), f"--at {at}: PNG {img.shape[::-1]}, expected (256, 268)")
        k = nearest_nonblank(blank, index_at(float(at), len(files)))
        compare_tile(img, 0, 256, dicom_tile(files[k], 256), f"T2w --at {at}")
        notes.append(f"{at}->{files[k].name}")
    return ", ".join(notes)


@suite.test
def png_at_0_and_1_pick_the_first_and_last_nonblank_slice():
    # The first train series has blank and nearly dark edge slices (make_dataset FORCED).
    series = Work.patient() / "FLAIR"
    files = series_files(series)
    blank = blank_mask(files)
    check(blank[0] and blank[-1], "the generator no longer writes blank edge slices: test lost its point")
    first = blank.index(False)
    last = len(blank) - 1 - blank[::-1].index(False)
    out = Work.tmp / "at.png"
    label = Work.labels()[0]
    for at, k in (("0", first), ("1", last)):
        p = show(series, "--png", out, "--at", at, "--size", "200", expect=0)
        img = load_png(out)
        compare_tile(img, 0, 200, dicom_tile(files[k], 200), f"--at {at}")
        check_title_length(img, 0, 200, f"FLAIR (slice {k + 1}/{len(files)})  label {label}", f"--at {at}")
        check(f"showing slice {k + 1}/{len(files)}" in p.stderr, f"--at {at}: stderr does not say which "
              f"slice is shown instead: {p.stderr}")
    return f"--at 0 -> slice {first + 1}, --at 1 -> slice {last + 1} of {len(files)}"


@suite.test
def png_titles_follow_the_labels_file():
    patient = Work.patient("00003")
    out = Work.tmp / "labels.png"
    show(patient, "--png", out, "--size", "128", "--modalities", "T1w", expect=0)
    img = load_png(out)
    label = Work.labels()[3]
    check_title_length(img, 0, 128, f"T1w  label {label}", "labels found two folders up")
    # --labels: ID 3 written without zeros matches folder 00003; the other label value
    # than the dataset's, so the title shows which file it came from.
    other = "0" if str(label) == "1" else "1"
    csv_path = Work.tmp / "other_labels.csv"
    csv_path.write_text(f"BraTS21ID,MGMT_value\n3,{other}\n")
    show(patient, "--png", out, "--size", "128", "--modalities", "T1w", "--labels", csv_path, expect=0)
    check_title_length(load_png(out), 0, 128, f"T1w  label {other}", "--labels")
    # A labels file without the patient: the title is the modality alone.
    csv_path.write_text("BraTS21ID,MGMT_value\n99999,1\n")
    show(patient, "--png", out, "--size", "128", "--modalities", "T1w", "--labels", csv_path, expect=0)
    check_title_length(load_png(out), 0, 128, "T1w", "no label")
    return "label from DATA/train_labels.csv, from --labels (3 = 00003), and none"


@suite.test
def png_missing_empty_and_blank_modalities_get_a_tile_that_says_so():
    data = Work.data() / "train"
    found = {}
    for patient in sorted(data.iterdir()):
        for i, mod in enumerate(MODALITIES):
            d = patient / mod
            if not d.exists():
                found.setdefault("missing", (patient, i, mod))
            elif not series_files(d):
                found.setdefault("no .dcm files", (patient, i, mod))
            elif all(blank_mask(series_files(d))) and len(series_files(d)) > 2:
                found.setdefault("blank", (patient, i, mod))
    check(len(found) == 3, f"the generator's problem cases changed: found {sorted(found)}")
    size = 128
    for what, (patient, i, mod) in found.items():
        out = Work.tmp / f"problem-{patient.name}.png"
        p = show(patient, "--png", out, "--size", size, expect=0)
        img = load_png(out)
        check(img.shape == (12 + size, 4 * size + 3 * GAP), f"{what}: PNG {img.shape[::-1]}")
        x0, y0 = tile_box(i, size)
        tile = img[y0:y0 + size, x0:x0 + size]
        values = set(np.unique(tile).tolist())
        check(MESSAGE_GRAY in values and len(values) == 2 and (tile == MESSAGE_GRAY).mean() > 0.8,
              f"{what}: tile {mod} is not a message tile (values {sorted(values)[:10]})")
        check(mod in p.stderr and what.split()[0] in p.stderr,
              f"{what}: stderr does not say what happened to {mod}: {p.stderr}")
        check("without a slice" in p.stdout, f"{what}: stdout: {p.stdout}")
    return "; ".join(f"{w}: {p.name}/{m}" for w, (p, _, m) in found.items())


@suite.test
def png_with_an_undecodable_file_shows_the_error_in_its_tile():
    patient = Work.broken_patient()
    files = series_files(patient / "FLAIR")
    victim = files[index_at(0.5, len(files))]
    out = Work.tmp / "broken.png"
    p = show(patient, "--png", out, "--size", "128", expect=0)
    img = load_png(out)
    tile = img[12:140, 0:128]
    check((tile == MESSAGE_GRAY).mean() > 0.8, "the FLAIR tile does not show a message")
    check(victim.name in p.stderr and "truncated" in p.stderr, f"stderr does not name {victim.name}: {p.stderr}")
    # The other modalities are still right.
    files = series_files(patient / "T1w")
    k = nearest_nonblank(blank_mask(files), index_at(0.5, len(files)))
    compare_tile(img, 1, 128, dicom_tile(files[k], 128), "T1w next to the broken FLAIR")
    # The series alone: nothing can be shown, exit 1 naming the file, no PNG.
    alone = Work.tmp / "broken-alone.png"
    p = show(patient / "FLAIR", "--png", alone, expect=1)
    check(victim.name in p.stderr and "nothing to show" in p.stderr, f"stderr: {p.stderr}")
    check(not alone.exists(), "a PNG was written although nothing could be shown")
    return p.stderr.strip().splitlines()[-1][:160]


# ---- GIF -------------------------------------------------------------------------------

@suite.test
def gif_of_series_has_one_frame_per_nonblank_slice():
    patient = Work.patient()
    notes = []
    for mod in MODALITIES:
        files = series_files(patient / mod)
        want = [t for t in (dicom_tile(f, 128) for f in files) if t is not None]
        out = Work.tmp / f"{mod}.gif"
        p = show(patient / mod, "--gif", out, "--size", "128", expect=0)
        frames, durations, loop = load_gif(out)
        check(len(frames) == len(want), f"{mod}: {len(frames)} frames, {len(want)} nonblank slices "
              f"of {len(files)} (pydicom)")
        check(frames.shape[1:] == (128, 128), f"{mod}: frame size {frames.shape[1:]}")
        check(all(d == 40 for d in durations), f"{mod}: durations {set(durations)} ms, expected 40 (24 fps)")
        check(loop == 0, f"{mod}: loop {loop}, expected 0 (forever)")
        diff = np.abs(frames.astype(int) - np.array(want).astype(int))
        check(diff.max() <= 1, f"{mod}: frames differ from numpy by up to {diff.max()}")
        check(f"{len(want)} frames" in p.stdout, f"{mod}: stdout: {p.stdout}")
        notes.append(f"{mod} {len(want)}/{len(files)}")
    return "frames/files: " + ", ".join(notes)


@suite.test
def gif_fps_sets_the_frame_delay():
    series = Work.patient() / "T1w"
    out = Work.tmp / "fps.gif"
    seen = []
    for fps, ms in (("10", 100), ("30", 30), ("1", 1000), ("100", 10)):
        show(series, "--gif", out, "--fps", fps, "--size", "32", expect=0)
        _, durations, _ = load_gif(out)
        check(set(durations) == {ms}, f"--fps {fps}: durations {set(durations)}, expected {ms} ms")
        seen.append(f"{fps} fps -> {ms} ms")
    return ", ".join(seen)


@suite.test
def gif_skips_an_undecodable_file_and_says_so():
    patient = Work.broken_patient()
    files = series_files(patient / "FLAIR")
    victim = files[index_at(0.5, len(files))]
    good = [f for f in files if f != victim]
    want = sum(dicom_tile(f, 16) is not None for f in good)
    out = Work.tmp / "broken.gif"
    p = show(patient / "FLAIR", "--gif", out, "--size", "64", expect=0)
    frames, _, _ = load_gif(out)
    check(len(frames) == want, f"{len(frames)} frames, expected {want} (nonblank minus the broken file)")
    check(victim.name in p.stderr and "truncated" in p.stderr, f"stderr does not name {victim.name}: {p.stderr}")
    return f"{want} frames; stderr: {p.stderr.strip().splitlines()[0][:120]}"


@suite.test
def gif_and_png_of_an_output_volume():
    out = Work.volumes("vol_hwd")
    notes = []
    for npy in sorted((out / "train" / "00000").glob("*.npy")):
        vol = np.load(npy)
        check(vol.ndim == 3, f"{npy}: shape {vol.shape}")
        tiles = volume_tiles(vol, "hwd", 96)
        want = [t for t in tiles if t is not None]
        gif = Work.tmp / f"vol-{npy.stem}.gif"
        show(npy, "--gif", gif, "--size", "96", expect=0)
        frames, durations, loop = load_gif(gif)
        check(len(frames) == len(want), f"{npy.name}: {len(frames)} frames, expected {len(want)} "
              f"(D = {vol.shape[2]} minus {len(tiles) - len(want)} constant)")
        check(set(durations) == {40} and loop == 0, f"{npy.name}: durations {set(durations)} loop {loop}")
        diff = np.abs(frames.astype(int) - np.array(want).astype(int))
        check(diff.max() <= 1, f"{npy.name}: frames differ from numpy by up to {diff.max()}")
        png = Work.tmp / f"vol-{npy.stem}.png"
        show(npy, "--png", png, "--size", "96", expect=0)
        img = load_png(png)
        check(img.shape == (12 + 96, 96), f"{npy.name}: PNG {img.shape[::-1]}")
        k = nearest_nonblank([t is None for t in tiles], index_at(0.5, len(tiles)))
        compare_tile(img, 0, 96, tiles[k], f"{npy.name} PNG")
        notes.append(f"{npy.stem} {len(want)}/{vol.shape[2]}")
    check(notes, "mriprep run wrote no volume for patient 00000")
    return "frames/D: " + ", ".join(notes)


@suite.test
def volume_float16_dhw_layout():
    out = Work.volumes("vol_dhw16", "--layout", "dhw", "--dtype", "float16", "--size", "64")
    npy = out / "train" / "00000" / "T1wCE.npy"
    vol = np.load(npy)
    check(vol.dtype == np.float16 and vol.shape[1:] == (64, 64), f"{npy}: {vol.dtype} {vol.shape}")
    tiles = volume_tiles(vol, "dhw", 64)
    want = [t for t in tiles if t is not None]
    gif = Work.tmp / "dhw.gif"
    show(npy, "--gif", gif, "--size", "64", "--layout", "dhw", expect=0)
    frames, _, _ = load_gif(gif)
    check(len(frames) == len(want), f"{len(frames)} frames, expected {len(want)}")
    diff = np.abs(frames.astype(int) - np.array(want).astype(int))
    check(diff.max() <= 1, f"float16 (D, H, W) frames differ from numpy by up to {diff.max()}")
    # Read as (H, W, D) instead, the same file has 64 "slices" of D x 64: not what was asked,
    # but a picture all the same (the layout is the user's to say).
    show(npy, "--gif", gif, "--size", "64", expect=0)
    frames_hwd, _, _ = load_gif(gif)
    return f"{len(frames)} frames of {vol.shape[0]}; read as hwd: {len(frames_hwd)}"


@suite.test
def nothing_to_show_exits_1_and_writes_nothing():
    data = Work.data() / "train"
    blank = [d for p in sorted(data.iterdir()) for d in sorted(p.iterdir())
             if d.is_dir() and series_files(d) and len(series_files(d)) > 2 and all(blank_mask(series_files(d)))]
    check(blank, "the generator no longer writes a blank series")
    for flag, name in (("--gif", "blank.gif"), ("--png", "blank.png")):
        out = Work.tmp / name
        p = show(blank[0], flag, out, expect=1)
        check("blank" in p.stderr and "nothing to show" in p.stderr, f"{flag}: stderr {p.stderr}")
        check(not out.exists(), f"{flag}: {out} written")
    # A folder that is neither a patient nor a series (the dataset root).
    p = show(Work.data(), "--png", Work.tmp / "root.png", expect=1)
    check("nothing to show" in p.stderr, f"dataset root: {p.stderr}")
    return f"{blank[0].parent.name}/{blank[0].name}: {p.stderr.strip()[:100]}"


@suite.test
def bad_npy_files_are_clear_errors():
    notes = []
    cases = {
        "big.npy": (lambda f: np.save(f, np.zeros((4, 4, 2), dtype=">f4")), "big-endian"),
        "f8.npy": (lambda f: np.save(f, np.zeros((4, 4, 2), dtype="<f8")), "'<f8' is not supported"),
        "fortran.npy": (lambda f: np.save(f, np.asfortranarray(np.arange(32, dtype=np.float32).reshape(4, 4, 2))),
                        "Fortran"),
        "4d.npy": (lambda f: np.save(f, np.ones((2, 2, 2, 2), dtype=np.float32)), "3 dimensions"),
    }
    for name, (make, words) in cases.items():
        path = Work.tmp / name
        make(str(path))
        out = Work.tmp / (name + ".png")
        p = show(path, "--png", out, expect=1)
        check(words in p.stderr and name in p.stderr, f"{name}: stderr {p.stderr}")
        check(not out.exists(), f"{name}: PNG written")
        notes.append(name)
    truncated = Work.tmp / "cut.npy"
    np.save(truncated, np.ones((8, 8, 3), dtype=np.float32))
    truncated.write_bytes(truncated.read_bytes()[:-10])
    p = show(truncated, "--gif", Work.tmp / "cut.gif", expect=1)
    check("truncated" in p.stderr, f"truncated .npy: {p.stderr}")
    return ", ".join(notes) + ", cut.npy"


# ---- command line ----------------------------------------------------------------------

@suite.test
def usage_errors_exit_1():
    patient, series = Work.patient(), Work.patient() / "FLAIR"
    out = Work.tmp / "usage.png"
    cases = [
        [],
        [patient],
        [patient, "--png"],
        [patient, "--png", out, "--gif", Work.tmp / "usage.gif"],
        [patient, "--gif", Work.tmp / "usage.gif"],          # a patient folder has no animation
        [patient, "--png", out, "--at", "1.5"],
        [patient, "--png", out, "--at", "half"],
        [patient, "--png", out, "--size", "8"],
        [patient, "--png", out, "--size", "99999"],
        [series, "--gif", Work.tmp / "usage.gif", "--fps", "0"],
        [series, "--gif", Work.tmp / "usage.gif", "--at", "0.5"],
        [patient, "--png", out, "--fps", "10"],
        [patient, "--png", out, "--layout", "xyz"],
        [patient, "--png", out, "--modalities", "../x"],
        [patient, "--png", out, "--modalities", "FLAIR,FLAIR"],
        [patient, "--png", out, "--bogus"],
        [patient, patient, "--png", out],
        [Work.tmp / "does-not-exist", "--png", out],
        [patient, "--png", out, "--labels", Work.tmp / "no-such-labels.csv"],
    ]
    for args in cases:
        p = show(*args)
        check(p.returncode == 1, f"mriprep show {' '.join(map(str, args))} exited {p.returncode}, expected 1")
        check("error" in p.stderr, f"{args}: no error message: {p.stderr}")
        check(not out.exists(), f"{args}: wrote {out}")
    p = show("--help", expect=0)
    check("--png" in p.stdout and "--gif" in p.stdout, "show --help does not list the options")
    p = run([MRIPREP, "--help"], expect=0)
    check("mriprep show PATH" in p.stdout, "mriprep --help does not mention show")
    # --opt=value works like --opt value.
    show(series, f"--png={out}", "--size=32", "--at=0.5", expect=0)
    check(load_png(out).shape == (44, 32), "--opt=value forms not honoured")
    return f"{len(cases)} usage errors exit 1"


@suite.test
def unwritable_output_exits_4_and_leaves_nothing():
    blocker = Work.tmp / "regular-file"
    blocker.write_text("not a folder\n")
    series = Work.patient() / "FLAIR"
    for flag, target in (("--png", blocker / "sub" / "x.png"), ("--gif", blocker / "x.gif")):
        p = show(series, flag, target, expect=4)
        check(str(blocker) in p.stderr, f"{flag}: the error does not name the path: {p.stderr}")
    check(blocker.read_text() == "not a folder\n", "the regular file was touched")
    # The final name is a folder: the rename fails after the whole file was written; the
    # temporary file must go too.
    folder = Work.tmp / "outdir"
    (folder / "taken.png").mkdir(parents=True)
    (folder / "taken.gif").mkdir()
    for flag, name in (("--png", "taken.png"), ("--gif", "taken.gif")):
        p = show(series, flag, folder / name, expect=4)
        check(name in p.stderr, f"{flag} onto a folder: {p.stderr}")
    left = sorted(p.name for p in folder.iterdir())
    check(left == ["taken.gif", "taken.png"], f"left behind in {folder}: {left}")
    if os.geteuid() != 0:
        ro = Work.tmp / "readonly"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            p = show(series, "--png", ro / "x.png", expect=4)
            check("Permission denied" in p.stderr, f"read-only folder: {p.stderr}")
            check(not list(ro.iterdir()), f"left behind in {ro}: {list(ro.iterdir())}")
        finally:
            ro.chmod(0o755)
    return "under a regular file, onto a folder" + ("" if os.geteuid() == 0 else ", read-only folder")


@suite.test
def a_write_that_fails_midway_exits_4_and_leaves_nothing():
    # A file-size limit makes write() fail part way (EFBIG), as a full disk would
    # (ENOSPC), for root too; SIGXFSZ ignored so the write returns the error instead.
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    folder = Work.tmp / "full"
    folder.mkdir()
    said = []
    for flag, name in (("--png", "big.png"), ("--gif", "big.gif")):
        target = Work.tmp / "full" / name
        args = [Work.patient() / ("FLAIR" if flag == "--gif" else ""), flag, target, "--size", "512"]
        p = subprocess.run([str(MRIPREP), "show", *map(str, args)], capture_output=True, text=True,
                           preexec_fn=limit, timeout=300)
        check(p.returncode == 4, f"{flag}: exited {p.returncode}, expected 4: {p.stderr}")
        check(name in p.stderr and "too large" in p.stderr, f"{flag}: the error does not name the file and "
              f"the OS error: {p.stderr}")
        said.append(p.stderr.strip().splitlines()[-1][:120])
    check(not list(folder.iterdir()), f"left behind: {list(folder.iterdir())}")
    return " | ".join(said)


@suite.test
def large_tiles_get_twice_the_font():
    out = Work.tmp / "large.png"
    show(Work.patient() / "T1w", "--png", out, "--size", "512", expect=0)
    img = load_png(out)
    check(img.shape == (24 + 512, 512), f"PNG {img.shape[::-1]}, expected (512, 536)")
    check_title_length(img, 0, 512, f"T1w  label {Work.labels()[0]}", "scale 2")
    files = series_files(Work.patient() / "T1w")
    k = nearest_nonblank(blank_mask(files), index_at(0.5, len(files)))
    compare_tile(img, 0, 512, dicom_tile(files[k], 512), "512-pixel tile")
    return "title strip 24 pixels, font scale 2"


@suite.test
def output_folders_are_created():
    out = Work.tmp / "new" / "deeper" / "p.png"
    show(Work.patient() / "T2w", "--png", out, "--size", "32", expect=0)
    check(load_png(out).shape == (44, 32), "PNG in new folders")
    leftovers = [p.name for p in out.parent.iterdir() if p.name != "p.png"]
    check(not leftovers, f"temporary files left: {leftovers}")
    return str(out.relative_to(Work.tmp))


def setup_problem():
    if not MRIPREP.is_file():
        return f"{MRIPREP} not built: run make first"
    missing = []
    for module in ("PIL", "cv2", "pydicom"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return f"{PY} lacks {', '.join(missing)} (make deps installs them)" if missing else None


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
