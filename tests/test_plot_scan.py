#!/usr/bin/env python3
"""Tests of scripts/plot_scan.py: charts and a page from `mriprep scan --json` reports.

Run with /usr/bin/python3 (Debian's matplotlib, numpy, PIL). Each test writes a
synthetic scan report (realistic RSNA-MICCAI-like numbers with pixel statistics and
problems; a minimal flat-layout one with an empty modality and no labels; broken ones),
runs the script and checks what it wrote: the PNGs decode with PIL at the expected size,
the page links every chart, escapes what the report says, flags outputs above 20 GB,
and a bad report exits 1 naming what is wrong.

    /usr/bin/python3 tests/test_plot_scan.py [--results FILE.json] [-k SUBSTRING] [--keep]

Prints one line per test and writes {"tests": [{"name", "status", "message"}]} for
tests/summarize_results.py.
"""
import copy
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from testlib import Failure, Suite, check  # noqa: E402
PY = "/usr/bin/python3"
SCRIPT = ROOT / "scripts" / "plot_scan.py"
CHARTS = ["labels.png", "slices.png", "shapes.png", "intensity.png", "problems.png"]
suite = Suite("plot_scan", __doc__)


class Work:
    tmp = None  # a temporary folder for the whole run
    count = 0


# ---- synthetic reports ----------------------------------------------------------------

def slice_histogram(rng, n, lo, hi, bins=10):
    """A modality's slices-per-series summary as scan writes it, from n random depths."""
    depths = np.clip(rng.lognormal(np.log(120), 0.45, n).round(), lo, hi).astype(int)
    depths[0], depths[-1] = lo, hi  # so min and max are what the report says
    counts, edges = np.histogram(depths, bins=bins, range=(lo, hi))
    edges = np.linspace(lo, hi, bins + 1).round().astype(int)
    return {"series": n, "min": int(depths.min()), "median": int(np.median(depths)),
            "max": int(depths.max()),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()}}


def intensity_histogram(rng, scale, slices):
    """Stored values in bins of 32 up to 8192, zeros excluded: a brain-like bump with a tail."""
    values = np.concatenate([rng.gamma(4.0, scale / 4, 400_000), rng.exponential(scale * 2, 20_000)])
    edges = np.arange(0, 8192 + 32, 32)
    counts, _ = np.histogram(values[values >= 1], bins=edges)
    counts = counts * 1000  # a real dataset has ~1e10 pixels
    return {"edges": edges.tolist(), "counts": counts.tolist(),
            "zeros": int(counts.sum() * 1.7), "negative": 0, "above": int((values > 8192).sum()),
            "slices": slices, "blank_slices": slices // 15, "dark_slices": slices // 20}


def realistic_report(problems=230):
    """RSNA-MICCAI-sized numbers, every key, pixel statistics, `problems` problems."""
    rng = np.random.default_rng(7)
    mods = {"FLAIR": slice_histogram(rng, 585, 33, 400), "T1w": slice_histogram(rng, 584, 22, 300),
            "T1wCE": slice_histogram(rng, 585, 40, 396), "T2w": slice_histogram(rng, 585, 30, 408)}
    kinds = (["missing_modality"] * 3 + ["duplicate_instance"] * 5 + ["missing_instance"] * 12
             + ["mixed_shapes"] * 40 + ["images_without_label"] * 2 + ["non_dcm_file"] * 2)
    probs = [{"kind": "unreadable_file", "series": "train/00123/FLAIR", "file": "Image-7.dcm",
              "detail": "truncated pixel data <script>alert(1)</script> & more"}]
    i = 0
    while len(probs) < problems:
        kind = kinds[i % len(kinds)]
        probs.append({"kind": kind, "series": f"train/{100 + i:05d}/T1w", "file": f"Image-{i}.dcm",
                      "detail": f"{kind.replace('_', ' ')} #{i}"})
        i += 1
    return {
        "tool": "mriprep", "version": "0.1.0", "command": "scan",
        "data": "/kaggle/input/rsna-miccai-brain-tumor-radiogenomic-classification",
        "patients": {"train": 585, "test": 87, "total": 672},
        "labels": {"file": "/kaggle/input/rsna-miccai-brain-tumor-radiogenomic-classification/train_labels.csv",
                   "counts": {"0": 278, "1": 307}, "percent": {"0": 47.5, "1": 52.5},
                   "images_without_label": 0, "labels_without_images": 3},
        "modalities": mods,
        "shapes": {"512x512": 1500, "256x256": 420, "240x240": 200, "448x448": 90, "320x260": 40,
                   "384x384": 30, "288x288": 20, "512x448": 12, "232x256": 8, "624x512": 5,
                   "400x320": 4, "192x256": 3, "528x528": 2, "160x160": 1},
        "planes": {"axial": 900, "sagittal": 700, "coronal": 600, "oblique": 90, "unknown": 49},
        "pixel_representation": {"unsigned": 1500, "signed": 839},
        "transfer_syntaxes": {"1.2.840.10008.1.2.1": {"name": "Explicit VR Little Endian", "series": 2339}},
        "problems": probs,
        "totals": {"series": 2339, "files": 348000, "non_dcm_files": 2, "bytes": 182_000_000_000,
                   "elapsed_s": 12.3, "files_per_s": 28292.7,
                   "run_output_bytes": {"float32": 78_000_000_000, "float16": 39_000_000_000}},
        "intensity": {"FLAIR": intensity_histogram(rng, 700, 87000), "T1w": intensity_histogram(rng, 500, 60000),
                      "T1wCE": intensity_histogram(rng, 900, 90000), "T2w": intensity_histogram(rng, 1200, 88000)},
    }


def minimal_report():
    """Flat layout, no labels file, one modality with no series, no pixels, no problems."""
    return {
        "tool": "mriprep", "version": "0.1.0", "command": "scan", "data": "/data/flat",
        "patients": {"": 2, "total": 2},
        "labels": {"file": None, "counts": {}, "percent": {}, "images_without_label": 0,
                   "labels_without_images": 0},
        "modalities": {
            "FLAIR": {"series": 2, "min": 20, "median": 22, "max": 24,
                      "histogram": {"edges": [20, 22, 24], "counts": [1, 1]}},
            "T1w": {"series": 0, "min": None, "median": None, "max": None,
                    "histogram": {"edges": [], "counts": []}}},
        "shapes": {"64x64": 2},
        "planes": {"axial": 2, "sagittal": 0, "coronal": 0, "oblique": 0, "unknown": 0},
        "pixel_representation": {"unsigned": 2},
        "transfer_syntaxes": {"1.2.840.10008.1.2": {"name": "Little Endian Implicit", "series": 2}},
        "problems": [],
        "totals": {"series": 2, "files": 44, "non_dcm_files": 0, "bytes": 360_000, "elapsed_s": 0.01,
                   "files_per_s": 4400.0, "run_output_bytes": {"float32": 1_000_000, "float16": 500_000}},
    }


def write_report(report, text=None):
    Work.count += 1
    path = Work.tmp / f"scan{Work.count}.json"
    path.write_text(text if text is not None else json.dumps(report, indent=1))
    return path


def plot(report, *opts, text=None, expect=0):
    """Writes the report, runs plot_scan.py into a fresh folder; returns (outdir, process)."""
    src = write_report(report, text)
    out = Work.tmp / f"out{Work.count}"
    p = subprocess.run([PY, str(SCRIPT), str(src), str(out), *opts], capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        raise Failure(f"plot_scan.py exited {p.returncode}, expected {expect}\n"
                      f"stdout: {p.stdout[-1000:]}\nstderr: {p.stderr[-2000:]}")
    return out, p


def png_size(path):
    """(width, height) of a PNG that PIL fully decodes."""
    with Image.open(path) as im:
        check(im.format == "PNG", f"{path.name} is {im.format}, not PNG")
        im.load()
        return im.size


def drop(report, dotted):
    """A copy of the report without one key ("totals.run_output_bytes.float32")."""
    r = copy.deepcopy(report)
    *parents, last = dotted.split(".")
    d = r
    for k in parents:
        d = d[k]
    del d[last]
    return r


def summary_value(page, name):
    """The <td> of the summary row whose <th> is `name`."""
    m = re.search(rf"<tr><th>{re.escape(name)}</th><td[^>]*>(.*?)</td></tr>", page)
    check(m, f"no summary row {name!r}")
    return m.group(1)


# ---- tests ----------------------------------------------------------------------------

@suite.test
def realistic_report_writes_every_chart_and_the_page():
    out, p = plot(realistic_report(), "--title", "RSNA-MICCAI train+test")
    lines = p.stdout.strip().splitlines()
    check(len(lines) == 1, f"expected one line on stdout, got {lines}")
    for name in CHARTS + ["index.html"]:
        check((out / name).is_file(), f"{name} not written")
        check(name in lines[0], f"the printed line does not name {name}: {lines[0]}")
    sizes = {}
    for name in CHARTS:
        w, h = sizes[name] = png_size(out / name)
        # 8x5 inches at 100 dpi; four-panel grids stay 8x5.
        check((w, h) == (800, 500), f"{name} is {w}x{h}, expected 800x500")
    check(not p.stderr.strip(), f"warnings on stderr: {p.stderr[-1500:]}")
    return lines[0]


@suite.test
def page_links_every_chart_and_nothing_else():
    out, _ = plot(realistic_report())
    page = (out / "index.html").read_text()
    linked = re.findall(r'<img src="([^"]+)"', page)
    pngs = sorted(p.name for p in out.glob("*.png"))
    check(sorted(linked) == pngs == sorted(CHARTS), f"linked {linked}, written {pngs}")
    check(not re.search(r'src="(/|https?:|file:)', page), "the page links something outside OUTDIR")
    check(page.lstrip().startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>"), "not a whole page")
    return f"{len(linked)} charts linked"


@suite.test
def page_escapes_problem_details_and_the_title():
    out, _ = plot(realistic_report(), "--title", "<b>scan</b> & co")
    page = (out / "index.html").read_text()
    check("<script>" not in page, "a problem's <script> reached the page unescaped")
    check("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page, "the escaped detail is not on the page")
    check("<b>scan</b>" not in page and "&lt;b&gt;scan&lt;/b&gt; &amp; co" in page, "the title is not escaped")
    return "detail and title escaped"


@suite.test
def page_shows_the_first_200_problems_and_counts_the_rest():
    out, _ = plot(realistic_report(problems=230))
    page = (out / "index.html").read_text()
    table = page[page.index('<table class="problems">'):]
    table = table[:table.index("</table>")]
    rows = table.count("<tr>") - 1  # less the header row
    check(rows == 200, f"{rows} problem rows, expected 200")
    check("30 more problems not shown" in page, "the page does not say 30 more problems exist")
    out, _ = plot(realistic_report(problems=5))
    page = (out / "index.html").read_text()
    check("more problems not shown" not in page, "says more problems exist when all 5 are shown")
    return "200 rows + '30 more'"


@suite.test
def output_above_20_gb_is_flagged_in_red():
    out, _ = plot(realistic_report())
    page = (out / "index.html").read_text()
    f32 = summary_value(page, "mriprep run output, float32")
    f16 = summary_value(page, "mriprep run output, float16")
    check('class="over"' in f32 and "78.0 GB" in f32 and "20 GB" in f32, f"float32 row not flagged: {f32}")
    check('class="over"' in f16 and "39.0 GB" in f16, f"float16 row not flagged: {f16}")
    check(".over" in page and "color: #b00" in page, "no red style for .over")
    # 15 GB in float16 fits: only float32 is flagged.
    r = realistic_report()
    r["totals"]["run_output_bytes"] = {"float32": 30_000_000_000, "float16": 15_000_000_000}
    out, _ = plot(r)
    page = (out / "index.html").read_text()
    check('class="over"' in summary_value(page, "mriprep run output, float32"), "30 GB float32 not flagged")
    check('class="over"' not in summary_value(page, "mriprep run output, float16"), "15 GB float16 flagged")
    return f32


@suite.test
def summary_table_has_splits_series_files_bytes_and_speed():
    out, _ = plot(realistic_report())
    page = (out / "index.html").read_text()
    expected = {"patients (train)": "585", "patients (test)": "87", "patients (total)": "672",
                "series": "2,339", "files (.dcm)": "348,000", "bytes read": "182.0 GB", "files/s": "28,293"}
    for name, value in expected.items():
        got = summary_value(page, name)
        check(got == value, f"{name}: {got!r}, expected {value!r}")
    return ", ".join(f"{k} {v}" for k, v in expected.items())


@suite.test
def minimal_report_with_an_empty_modality_and_no_labels():
    r = minimal_report()
    out, p = plot(r)
    written = sorted(x.name for x in out.iterdir())
    expected = sorted(c for c in CHARTS if c != "intensity.png") + ["index.html"]
    check(written == sorted(expected), f"wrote {written}, expected {sorted(expected)}")
    for name in expected:
        if name.endswith(".png"):
            w, h = png_size(out / name)
            check((w, h) == (800, 500), f"{name} is {w}x{h}")
    page = (out / "index.html").read_text()
    check("intensity.png" not in page, "the page links intensity.png without pixel statistics")
    check("patients (flat layout)" in page, "flat layout not named")
    check('class="over"' not in page, "1 MB output flagged as above 20 GB")
    check("No problems found." in page, "the page does not say no problems were found")
    check(not p.stderr.strip(), f"warnings on stderr: {p.stderr[-1500:]}")
    return p.stdout.strip()


@suite.test
def rerun_without_pixels_removes_a_stale_intensity_chart():
    src = write_report(realistic_report())
    out = Work.tmp / "out_rerun"
    subprocess.run([PY, str(SCRIPT), str(src), str(out)], check=True, capture_output=True)
    check((out / "intensity.png").is_file(), "first run wrote no intensity.png")
    src = write_report(minimal_report())
    subprocess.run([PY, str(SCRIPT), str(src), str(out)], check=True, capture_output=True)
    check(not (out / "intensity.png").exists(), "intensity.png from the earlier report left in OUTDIR")


@suite.test
def more_than_four_modalities_grow_the_grid():
    r = realistic_report()
    for extra in ("DWI", "ADC"):
        r["modalities"][extra] = copy.deepcopy(r["modalities"]["FLAIR"])
        r["intensity"][extra] = copy.deepcopy(r["intensity"]["FLAIR"])
    out, p = plot(r)
    for name in ("slices.png", "intensity.png"):
        w, h = png_size(out / name)
        check(w == 800 and h == 500, f"{name}: 6 panels in {w}x{h}, expected 2 rows of 3 in 800x500")
    for extra in ("DWI", "ADC", "FLAIR", "T1w"):
        r["modalities"][extra + "2"] = copy.deepcopy(r["modalities"]["FLAIR"])
    out, p = plot(r)
    w, h = png_size(out / "slices.png")
    check(w == 800 and h == 1000, f"slices.png: 10 panels in {w}x{h}, expected 4 rows of 3 in 800x1000 (not squeezed)")
    check(not p.stderr.strip(), f"warnings on stderr: {p.stderr[-1500:]}")
    return f"10 modalities -> {w}x{h}"


@suite.test
def pixel_statistics_of_an_all_blank_modality_do_not_break_the_chart():
    r = minimal_report()
    edges = list(range(0, 8192 + 32, 32))
    r["intensity"] = {
        "FLAIR": {"edges": edges, "counts": [0] * 256, "zeros": 90112, "negative": 0, "above": 0,
                  "slices": 22, "blank_slices": 22, "dark_slices": 0},
        "T1w": {"edges": [], "counts": [], "zeros": 0, "negative": 0, "above": 0,
                "slices": 0, "blank_slices": 0, "dark_slices": 0}}
    out, p = plot(r)
    check(png_size(out / "intensity.png") == (800, 500), "intensity.png not 800x500")
    check(not p.stderr.strip(), f"warnings on stderr: {p.stderr[-1500:]}")


@suite.test
def missing_required_key_exits_1_naming_it():
    base = realistic_report(problems=3)
    for key in ("totals.run_output_bytes.float32", "totals", "modalities.T1w.histogram.edges",
                "labels.counts", "intensity.FLAIR.dark_slices", "shapes", "problems"):
        _, p = plot(drop(base, key), expect=1)
        check(f"'{key}'" in p.stderr, f"without {key}: the message does not name it: {p.stderr.strip()}")
        check("Traceback" not in p.stderr, f"without {key}: a traceback instead of a message")
    bad = copy.deepcopy(base)
    del bad["problems"][1]["detail"]
    _, p = plot(bad, expect=1)
    check("'problems[1].detail'" in p.stderr, p.stderr.strip())
    return p.stderr.strip()


@suite.test
def wrong_types_and_histogram_lengths_exit_1():
    r = realistic_report(problems=3)
    r["modalities"]["FLAIR"]["histogram"]["counts"].append(5)
    _, p = plot(r, expect=1)
    check("modalities.FLAIR.histogram" in p.stderr and "edges" in p.stderr, p.stderr.strip())
    r = realistic_report(problems=3)
    r["totals"]["files"] = "many"
    _, p = plot(r, expect=1)
    check("'totals.files' should be a number" in p.stderr, p.stderr.strip())
    r = realistic_report(problems=3)
    r["command"] = "run"
    _, p = plot(r, expect=1)
    check("not a scan report" in p.stderr, p.stderr.strip())
    return p.stderr.strip()


@suite.test
def missing_or_invalid_json_exits_1():
    out = Work.tmp / "out_missing"
    p = subprocess.run([PY, str(SCRIPT), str(Work.tmp / "nope.json"), str(out)], capture_output=True, text=True)
    check(p.returncode == 1 and "no such file" in p.stderr, f"missing file: exit {p.returncode}: {p.stderr}")
    check(not out.exists(), "OUTDIR created for a missing report")
    for text in ('{"tool": "mriprep", ', "", "[1, 2]"):
        _, p = plot(None, text=text, expect=1)
        check(p.stderr.startswith("plot_scan: error:") and "Traceback" not in p.stderr,
              f"{text!r}: {p.stderr.strip()}")
    p = subprocess.run([PY, str(SCRIPT)], capture_output=True, text=True)
    check(p.returncode != 0 and "usage" in p.stderr, f"no arguments: exit {p.returncode}")
    return "missing, truncated, empty, not an object"


if __name__ == "__main__":
    sys.exit(suite.main(Work))
