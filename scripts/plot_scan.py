#!/usr/bin/env python3
"""Turn the JSON report of `mriprep scan DATA --json F` into the notebook's charts.

    /usr/bin/python3 scripts/plot_scan.py SCAN.json OUTDIR [--title TEXT]

Writes into OUTDIR (created if needed):

    labels.png      label balance: patients per label value, with percentages
    slices.png      per modality, a histogram of slices per series (min/median/max in the title)
    shapes.png      series per image shape (rows x columns), and series per plane
    intensity.png   per modality, a histogram of stored pixel values (log y), with the
                    blank and dark slice fractions; only when the report has "intensity"
                    (`mriprep scan --pixels`)
    problems.png    problems per kind, or "no problems found"
    index.html      one page: a summary table, the charts, the first 200 problems

and prints one line saying what it wrote. Exit status 0 on success, 1 for a missing or
unreadable report, one that is not JSON, one missing a required key (named in the
message), or an OUTDIR that cannot be written.

Run it with Debian's Python (python3-matplotlib, python3-numpy); it draws with the Agg
backend and needs no display.
"""
import argparse
import html
import json
import math
import os
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")  # no display here; must come before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

# Figures are 8x5 inches at 100 dpi (800x500 pixels); grids of more than 4 panels grow
# taller so each panel keeps about the same size.
FIG_W, FIG_H, DPI = 8.0, 5.0, 100
BAR_COLOR = "#4878a8"
ACCENT = "#c44e52"
# Kaggle's /kaggle/working disk holds 20 GB; an output above that does not fit there.
# GB here and everywhere on the page is 10^9 bytes.
KAGGLE_DISK_BYTES = 20e9
MAX_PROBLEM_ROWS = 200
# A shapes chart with hundreds of bars is unreadable: the rest are summed into one bar.
MAX_SHAPE_BARS = 12


class ReportError(Exception):
    """The report cannot be used; the message says why (printed, exit 1)."""


# ---- reading and checking the report --------------------------------------------------

def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def require(obj, path, kind):
    """Returns obj[last part of path], checking it exists and has the expected kind.

    obj: the dict holding it; path: the dotted name used in messages ("totals.bytes");
    kind: "dict", "list", "number", "string", "number?" / "string?" (may be null)."""
    key = path.rsplit(".", 1)[-1]
    if not isinstance(obj, dict) or key not in obj:
        raise ReportError(f"missing key '{path}'")
    value = obj[key]
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    if optional and value is None:
        return value
    ok = {"dict": lambda v: isinstance(v, dict),
          "list": lambda v: isinstance(v, list),
          "number": _is_number,
          "string": lambda v: isinstance(v, str)}[base](value)
    if not ok:
        what = {"dict": "an object", "list": "a list", "number": "a number", "string": "a string"}[base]
        raise ReportError(f"key '{path}' should be {what}{' or null' if optional else ''}, "
                          f"not {json.dumps(value)[:60]}")
    return value


def require_counts(obj, path):
    """A dict of name -> number (shapes, planes, label counts...)."""
    d = require(obj, path, "dict")
    for k, v in d.items():
        if not _is_number(v):
            raise ReportError(f"key '{path}.{k}' should be a number, not {json.dumps(v)[:60]}")
    return d


def require_histogram(h, path):
    """Checks {"edges": [...], "counts": [...]} with len(edges) == len(counts) + 1
    (both empty is allowed: a modality with no series)."""
    edges = require(h, f"{path}.edges", "list")
    counts = require(h, f"{path}.counts", "list")
    if not all(_is_number(v) for v in edges + counts):
        raise ReportError(f"'{path}' has a value that is not a number")
    if (edges or counts) and len(edges) != len(counts) + 1:
        raise ReportError(f"'{path}' has {len(edges)} edges for {len(counts)} counts "
                          f"(expected {len(counts) + 1})")
    return edges, counts


def load_report(path):
    """Reads and checks a scan report; returns the parsed dict or raises ReportError."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise ReportError(f"{path}: no such file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ReportError(f"{path}: cannot read: {e}")
    try:
        r = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: not valid JSON: {e}")
    try:
        validate(r)
    except ReportError as e:
        raise ReportError(f"{path}: {e}")
    return r


def validate(r):
    """Checks every key the charts and the page read, so that drawing never meets a
    KeyError half way through writing OUTDIR."""
    if not isinstance(r, dict):
        raise ReportError("the top level is not a JSON object")
    for key in ("tool", "version", "command", "data"):
        require(r, key, "string")
    if r["command"] != "scan":
        raise ReportError(f"not a scan report ('command' is {r['command']!r}, expected 'scan')")
    require_counts(r, "patients")
    require(r["patients"], "patients.total", "number")

    labels = require(r, "labels", "dict")
    require(labels, "labels.file", "string?")
    require_counts(labels, "labels.counts")
    require_counts(labels, "labels.percent")
    require(labels, "labels.images_without_label", "number")
    require(labels, "labels.labels_without_images", "number")

    mods = require(r, "modalities", "dict")
    for name, m in mods.items():
        base = f"modalities.{name}"
        if not isinstance(m, dict):
            raise ReportError(f"key '{base}' should be an object")
        require(m, f"{base}.series", "number")
        for stat in ("min", "median", "max"):
            require(m, f"{base}.{stat}", "number?")
        require_histogram(require(m, f"{base}.histogram", "dict"), f"{base}.histogram")

    require_counts(r, "shapes")
    require_counts(r, "planes")
    require_counts(r, "pixel_representation")
    syntaxes = require(r, "transfer_syntaxes", "dict")
    for uid, s in syntaxes.items():
        require(s, f"transfer_syntaxes.{uid}.name", "string")
        require(s, f"transfer_syntaxes.{uid}.series", "number")

    problems = require(r, "problems", "list")
    for i, pr in enumerate(problems):
        for key in ("kind", "series", "file", "detail"):
            require(pr, f"problems[{i}].{key}", "string")

    totals = require(r, "totals", "dict")
    for key in ("series", "files", "non_dcm_files", "bytes", "elapsed_s", "files_per_s"):
        require(totals, f"totals.{key}", "number")
    rob = require(totals, "totals.run_output_bytes", "dict")
    require(rob, "totals.run_output_bytes.float32", "number")
    require(rob, "totals.run_output_bytes.float16", "number")

    if "intensity" in r:  # only with `scan --pixels`
        for name, m in require(r, "intensity", "dict").items():
            base = f"intensity.{name}"
            if not isinstance(m, dict):
                raise ReportError(f"key '{base}' should be an object")
            require_histogram(m, base)
            for key in ("zeros", "negative", "above", "slices", "blank_slices", "dark_slices"):
                require(m, f"{base}.{key}", "number")


# ---- small formatting helpers ---------------------------------------------------------

def thousands(n):
    """12345 -> '12,345'; floats keep one decimal when they have a fraction."""
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}"
    return f"{int(n):,}"


def short_count(n):
    """A compact count for legends: 950 -> '950', 12345 -> '12.3 k', 9.1e10 -> '91.0 G'."""
    if abs(n) < 10_000:
        return f"{int(n):,}"
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f} {unit}"


def gb(nbytes):
    return f"{nbytes / 1e9:,.1f} GB"


def percent(part, whole):
    return 100.0 * part / whole if whole else 0.0


def label_sort_key(k):
    """Label values sort numerically when they are numbers ("2" before "10")."""
    try:
        return (0, float(k), k)
    except ValueError:
        return (1, 0.0, k)


int_formatter = FuncFormatter(lambda v, _: f"{v:,.0f}")


def new_figure(nrows=1, ncols=1, height=FIG_H, **kw):
    # constrained_layout keeps titles, tick labels and suptitles from overlapping.
    return plt.subplots(nrows, ncols, figsize=(FIG_W, height), dpi=DPI,
                        constrained_layout=True, squeeze=False, **kw)


def message_panel(ax, text):
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="0.35",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_color("0.8")


def horizontal_bars(ax, labels, values, color, xpad):
    """Bars from the top down in the given order, each labelled with its count.
    xpad: headroom on the x axis for the count labels, as a fraction of the largest bar."""
    y = np.arange(len(values))
    bars = ax.barh(y, values, color=color, height=0.6)
    ax.bar_label(bars, labels=[thousands(v) for v in values], padding=3, fontsize=9)
    ax.set_yticks(y, labels, fontsize=9)
    # Inverted y puts the first item on top; at least 5 slots so that one or two
    # bars are not drawn as huge blocks.
    ax.set_ylim(max(len(values), 5) - 0.5, -0.5)
    ax.set_xlim(0, (max(values) or 1) * (1 + xpad))
    ax.xaxis.set_major_formatter(int_formatter)
    ax.spines[["top", "right"]].set_visible(False)


def grid_shape(n):
    """Panels for n modalities: 1x1, 1x2, 2x2 up to four, then three columns."""
    if n <= 1:
        return 1, 1
    if n == 2:
        return 1, 2
    ncols = 2 if n <= 4 else 3
    return math.ceil(n / ncols), ncols


def panel_grid(n):
    """A figure with one panel per item; unused cells are hidden. Returns (fig, axes[:n])."""
    nrows, ncols = grid_shape(n)
    # Up to two rows fit 8x5; each further row adds 2.5 inches.
    fig, axes = new_figure(nrows, ncols, height=max(FIG_H, 2.5 * nrows))
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def save(fig, outdir, name, written):
    fig.savefig(outdir / name, dpi=DPI)
    plt.close(fig)
    written.append(name)


# ---- charts ---------------------------------------------------------------------------

def plot_labels(r, outdir, written):
    labels = r["labels"]
    counts = labels["counts"]
    keys = sorted(counts, key=label_sort_key)
    total = sum(counts.values())
    fig, axes = new_figure()
    ax = axes[0, 0]
    source = os.path.basename(labels["file"]) if labels["file"] else "no labels file"
    notes = (f"{source} · {thousands(labels['images_without_label'])} patients with images but no label"
             f" · {thousands(labels['labels_without_images'])} labels without images")
    if not keys:
        message_panel(ax, "no labelled patients" if labels["file"] else "no labels file")
        ax.set_title(f"Label balance\n{notes}", fontsize=10)
    else:
        values = [counts[k] for k in keys]
        bars = ax.bar(range(len(keys)), values, color=BAR_COLOR, width=0.6)
        # The report's own percentages, so the chart and the JSON never disagree on rounding.
        pct = [labels["percent"].get(k, percent(counts[k], total)) for k in keys]
        # Beyond 6 bars "1,234 (12.3%)" is wider than a bar: the percentage goes below.
        sep = "\n" if len(keys) > 6 else " "
        ax.bar_label(bars, labels=[f"{thousands(v)}{sep}({p:.1f}%)" for v, p in zip(values, pct)],
                     padding=3, fontsize=10 if len(keys) <= 12 else 8)
        ax.set_xticks(range(len(keys)), keys)
        ax.set_xlabel("label value")
        ax.set_ylabel("patients")
        ax.yaxis.set_major_formatter(int_formatter)
        ax.set_ylim(0, (max(values) or 1) * (1.15 if sep == " " else 1.22))  # headroom for the bar labels
        ax.set_title(f"Label balance: {thousands(total)} labelled patients with images\n{notes}",
                     fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    save(fig, outdir, "labels.png", written)


def plot_slices(r, outdir, written):
    mods = r["modalities"]
    names = list(mods)  # the requested order
    if not names:
        fig, axes = new_figure()
        message_panel(axes[0, 0], "no modalities in the report")
        save(fig, outdir, "slices.png", written)
        return
    fig, axes = panel_grid(len(names))
    for ax, name in zip(axes, names):
        m = mods[name]
        edges, counts = m["histogram"]["edges"], m["histogram"]["counts"]
        if m["series"] == 0 or not counts:
            message_panel(ax, "no series" if m["series"] == 0 else "no histogram")
            ax.set_title(f"{name}: {thousands(m['series'])} series", fontsize=10)
            continue
        # Bars over the report's own bin edges (they need not be equal widths); the white
        # edge lines keep neighbouring bins of the same height apart.
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=BAR_COLOR,
               edgecolor="white", linewidth=0.8)
        if m["median"] is not None:
            ax.axvline(m["median"], color=ACCENT, linestyle="--", linewidth=1)
        stats = " · ".join(f"{s} {thousands(m[s])}" for s in ("min", "median", "max") if m[s] is not None)
        ax.set_title(f"{name}: {thousands(m['series'])} series\n{stats}", fontsize=10)
        ax.set_xlim(edges[0], edges[-1])
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.yaxis.set_major_formatter(int_formatter)
        ax.tick_params(labelsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    fig.supxlabel("slices per series (dashed: median)", fontsize=10)
    fig.supylabel("series", fontsize=10)
    save(fig, outdir, "slices.png", written)


def plot_shapes(r, outdir, written):
    shapes = sorted(r["shapes"].items(), key=lambda kv: (-kv[1], kv[0]))  # most common first
    if len(shapes) > MAX_SHAPE_BARS:
        rest = shapes[MAX_SHAPE_BARS - 1:]
        shapes = shapes[:MAX_SHAPE_BARS - 1] + [(f"{len(rest)} other shapes", sum(v for _, v in rest))]
    planes = list(r["planes"].items())  # the report's order: axial, sagittal, coronal, ...
    # Shapes get the wider panel: their labels ("512x512") and counts need the room.
    fig, axes = new_figure(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    for ax, items, title, ylabel in (
            (axes[0, 0], shapes, "Image shape (rows x columns)", "shape"),
            (axes[0, 1], planes, "Plane", "plane")):
        total = sum(v for _, v in items)
        if not items or total == 0:
            message_panel(ax, "no series")
            ax.set_title(title, fontsize=10)
            continue
        # The narrower panels need more headroom for "1,500" beside the longest bar.
        horizontal_bars(ax, [k for k, _ in items], [v for _, v in items], BAR_COLOR, 0.25)
        ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("series", fontsize=9)
        ax.set_title(f"{title}: {thousands(total)} series", fontsize=10)
    save(fig, outdir, "shapes.png", written)


def plot_intensity(r, outdir, written):
    inten = r["intensity"]
    names = list(inten)
    if not names:
        fig, axes = new_figure()
        message_panel(axes[0, 0], "no pixel statistics")
        save(fig, outdir, "intensity.png", written)
        return
    fig, axes = panel_grid(len(names))
    for ax, name in zip(axes, names):
        m = inten[name]
        edges, counts = np.asarray(m["edges"], float), np.asarray(m["counts"], float)
        ax.set_title(name, fontsize=10)
        if m["slices"] == 0 or counts.size == 0:
            message_panel(ax, "no slices")
            continue
        # Legend rows: the histogram, then lines of numbers without a drawn artist.
        texts = [f"blank slices {percent(m['blank_slices'], m['slices']):.1f}%, "
                 f"dark {percent(m['dark_slices'], m['slices']):.1f}% "
                 f"(of {thousands(m['slices'])})",
                 f"zeros {short_count(m['zeros'])} · negative {short_count(m['negative'])}"
                 f" · above {edges[-1]:,.0f}: {short_count(m['above'])}"]
        handles = [Line2D([], [], linestyle="none")] * len(texts)
        nonzero = np.flatnonzero(counts)
        if nonzero.size == 0:
            message_panel(ax, "no values other than 0")
        else:
            ax.stairs(counts, edges, fill=True, color=BAR_COLOR, alpha=0.85, baseline=0.5)
            ax.set_yscale("log")
            # Bottom at 0.5 keeps bins holding one value visible. The top leaves the upper
            # ~35% of the panel, in decades, free for the legend, so it never hides the data.
            bottom, top = 0.5, counts.max() * 1.5
            ax.set_ylim(bottom, bottom * (top / bottom) ** (1 / 0.65))
            # Most of a 16-bit range is usually empty: stop at the last bin holding values.
            ax.set_xlim(edges[0], edges[nonzero[-1] + 1])
            ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
            ax.xaxis.set_major_formatter(int_formatter)
            ax.tick_params(labelsize=8)
            ax.spines[["top", "right"]].set_visible(False)
            handles.insert(0, Line2D([], [], color=BAR_COLOR, linewidth=6))
            texts.insert(0, f"{short_count(counts.sum())} values > 0")
        ax.legend(handles, texts, loc="upper right", fontsize=7, handlelength=1,
                  handletextpad=0.7, borderaxespad=0.3, framealpha=0.9)
    fig.supxlabel("stored pixel value (bins of the report; zeros not counted)", fontsize=10)
    fig.supylabel("pixels (log)", fontsize=10)
    save(fig, outdir, "intensity.png", written)


def plot_problems(r, outdir, written):
    by_kind = {}
    for p in r["problems"]:
        by_kind[p["kind"]] = by_kind.get(p["kind"], 0) + 1
    items = sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))  # most frequent on top
    fig, axes = new_figure()
    ax = axes[0, 0]
    if not items:
        message_panel(ax, "no problems found")
        ax.set_title("Problems", fontsize=10)
    else:
        horizontal_bars(ax, [k for k, _ in items], [v for _, v in items], ACCENT, 0.15)
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.set_xlabel("problems")
        kinds = f"{len(items)} kind{'s' if len(items) > 1 else ''}"
        ax.set_title(f"Problems: {thousands(len(r['problems']))} in {kinds}", fontsize=10)
    save(fig, outdir, "problems.png", written)


# ---- the page -------------------------------------------------------------------------

PAGE_CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.over { color: #b00; font-weight: bold; }
.note { color: #666; font-size: 0.9em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3em 0; }
table.problems td { font-family: monospace; font-size: 0.85em; }
"""

CHART_TITLES = {
    "labels.png": "Labels",
    "slices.png": "Slices per series",
    "shapes.png": "Image shapes and planes",
    "intensity.png": "Stored pixel values",
    "problems.png": "Problems per kind",
}


def esc(x):
    return html.escape(str(x), quote=True)


def summary_rows(r):
    """[(name, value html, is_number)] for the summary table."""
    t, lab = r["totals"], r["labels"]
    rows = []
    for split, n in r["patients"].items():
        if split == "total":
            continue
        rows.append((f"patients ({split})" if split else "patients (flat layout)", thousands(n), True))
    if len(r["patients"]) > 2 or "" not in r["patients"]:
        rows.append(("patients (total)", thousands(r["patients"]["total"]), True))
    counts = lab["counts"]
    if counts:
        parts = ", ".join(f"{esc(k)}: {thousands(counts[k])} ({lab['percent'].get(k, 0):.1f}%)"
                          for k in sorted(counts, key=label_sort_key))
        rows.append(("labelled patients", f"{thousands(sum(counts.values()))} &mdash; {parts}", False))
    rows.append(("labels file", esc(lab["file"]) if lab["file"] else "none", False))
    rows.append(("patients with images but no label", thousands(lab["images_without_label"]), True))
    rows.append(("labels without images", thousands(lab["labels_without_images"]), True))
    rows.append(("series", thousands(t["series"]), True))
    rows.append(("files (.dcm)", thousands(t["files"]), True))
    rows.append(("other files (ignored)", thousands(t["non_dcm_files"]), True))
    rows.append(("bytes read", gb(t["bytes"]), True))
    rows.append(("scan time", f"{t['elapsed_s']:,.1f} s", True))
    rows.append(("files/s", thousands(round(t["files_per_s"])), True))
    for dtype in ("float32", "float16"):
        n = t["run_output_bytes"][dtype]
        if n > KAGGLE_DISK_BYTES:  # a sentence, left-aligned like the other text rows
            rows.append((f"mriprep run output, {dtype}",
                         f'<span class="over">{gb(n)} &mdash; above the 20 GB Kaggle working disk '
                         f'(/kaggle/working)</span>', False))
        else:
            rows.append((f"mriprep run output, {dtype}", gb(n), True))
    px = ", ".join(f"{esc(k)}: {thousands(v)}" for k, v in r["pixel_representation"].items())
    rows.append(("pixel representation (series)", px or "&mdash;", False))
    ts = "<br>".join(f"{esc(s['name'])} <span class='note'>({esc(uid)})</span>: {thousands(s['series'])}"
                     for uid, s in r["transfer_syntaxes"].items())
    rows.append(("transfer syntaxes (series)", ts or "&mdash;", False))
    return rows


def write_html(r, outdir, charts, title, written):
    problems = r["problems"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(title)}</title>", f"<style>{PAGE_CSS}</style></head><body>",
           f"<h1>{esc(title)}</h1>",
           f'<p class="note">{esc(r["tool"])} {esc(r["version"])} scan of <code>{esc(r["data"])}</code>'
           f'{" with pixel statistics" if "intensity" in r else " (headers only)"}</p>',
           "<h2>Summary</h2>", "<table>"]
    for name, value, is_num in summary_rows(r):
        out.append(f'<tr><th>{esc(name)}</th><td{" class=num" if is_num else ""}>{value}</td></tr>')
    out.append("</table>")
    for png in charts:
        out.append(f"<h2>{esc(CHART_TITLES.get(png, png))}</h2>")
        out.append(f'<img src="{esc(png)}" alt="{esc(CHART_TITLES.get(png, png))}">')
    out.append(f"<h2>Problem list ({thousands(len(problems))})</h2>")
    if not problems:
        out.append("<p>No problems found.</p>")
    else:
        shown = problems[:MAX_PROBLEM_ROWS]
        out.append('<table class="problems"><tr><th>kind</th><th>series</th><th>file</th><th>detail</th></tr>')
        for p in shown:
            out.append("<tr>" + "".join(f"<td>{esc(p[k])}</td>" for k in ("kind", "series", "file", "detail"))
                       + "</tr>")
        out.append("</table>")
        more = len(problems) - len(shown)
        if more:
            out.append(f'<p class="note">{thousands(more)} more problems not shown '
                       f'(first {MAX_PROBLEM_ROWS} of {thousands(len(problems))}; all are in the JSON report).</p>')
    out.append("</body></html>")
    (outdir / "index.html").write_text("\n".join(out) + "\n", encoding="utf-8")
    written.append("index.html")


# ---- main -----------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Charts and an HTML page from `mriprep scan --json` output.",
        epilog="Writes labels.png, slices.png, shapes.png, intensity.png (with --pixels "
               "data), problems.png and index.html into OUTDIR.")
    ap.add_argument("scan_json", metavar="SCAN.json", help="report written by mriprep scan --json")
    ap.add_argument("outdir", metavar="OUTDIR", help="folder for the charts and index.html (created)")
    ap.add_argument("--title", help="page heading (default: 'mriprep scan: DATA')")
    args = ap.parse_args(argv)
    prog = "plot_scan"
    try:
        r = load_report(args.scan_json)
    except ReportError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    outdir = pathlib.Path(args.outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        # A stale intensity.png from an earlier --pixels report would be misleading.
        if "intensity" not in r and (outdir / "intensity.png").exists():
            (outdir / "intensity.png").unlink()
        written = []
        plot_labels(r, outdir, written)
        plot_slices(r, outdir, written)
        plot_shapes(r, outdir, written)
        if "intensity" in r:
            plot_intensity(r, outdir, written)
        plot_problems(r, outdir, written)
        write_html(r, outdir, list(written), args.title or f"mriprep scan: {r['data']}", written)
    except OSError as e:
        print(f"{prog}: error: cannot write {outdir}: {e}", file=sys.stderr)
        return 1
    print(f"{prog}: wrote {', '.join(written)} in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
