#!/usr/bin/env python3
"""The GPU kit's report: OUTDIR/report.json and OUTDIR/report.md from what run.sh left in
OUTDIR (steps.tsv, logs/). Standard library only.

    python3 report.py OUTDIR GPU(yes|no) GPU_WHY SECONDS
"""
import json
import pathlib
import statistics
import sys


def bench(logs):
    """{device: {"elapsed_s": [...], "files_per_s": [...], "stage_seconds": {...} of the
    fastest round}} from the 512x512 runs' run.json."""
    out = {}
    for f in sorted(logs.glob("bench512-*-*.run.json")):
        device = f.name.split("-")[1]
        rj = json.loads(f.read_text())
        d = out.setdefault(device, {"elapsed_s": [], "files_per_s": [], "stage_seconds": None,
                                    "device_detail": rj.get("device_detail"), "threads": rj.get("threads"),
                                    "files": rj.get("totals", {}).get("files"),
                                    "device_check": rj.get("device_check")})
        d["elapsed_s"].append(rj.get("elapsed_s"))
        d["files_per_s"].append(rj.get("throughput", {}).get("files_per_s"))
        if d["stage_seconds"] is None or rj.get("elapsed_s", 1e9) <= min(d["elapsed_s"]):
            d["stage_seconds"] = rj.get("stage_seconds")
    for d in out.values():
        d["median_elapsed_s"] = statistics.median(d["elapsed_s"]) if d["elapsed_s"] else None
    return out


def main():
    out, gpu, gpu_why, seconds = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    logs = out / "logs"
    steps = []
    for line in (out / "steps.tsv").read_text().splitlines():
        name, status, secs, detail = (line.split("\t") + [""] * 4)[:4]
        steps.append({"name": name, "status": status, "seconds": float(secs or 0), "detail": detail})
    counts = {s: sum(x["status"] == s for x in steps) for s in ("passed", "failed", "skipped")}
    version = (logs / "version.txt").read_text().strip() if (logs / "version.txt").exists() else ""
    devices = (logs / "devices.txt").read_text().strip() if (logs / "devices.txt").exists() else ""
    b = bench(logs)
    report = {"gpu": gpu == "yes", "gpu_why_not": gpu_why or None, "seconds": seconds, "counts": counts,
              "version": version, "devices": devices, "steps": steps, "bench512": b}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")

    md = [f"# mriprep GPU kit report", "",
          f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped in {seconds} s; "
          f"GPU: {'yes' if gpu == 'yes' else 'no (' + gpu_why + ')'}", "",
          "```", version, "", devices, "```", "",
          "| step | status | s | detail |", "|---|---|---|---|"]
    for s in steps:
        md.append(f"| {s['name']} | {s['status']} | {s['seconds']:.1f} | {s['detail'].replace('|', '/')[:300]} |")
    if b:
        md += ["", "## 512x512 dataset, warm, all cores (median of 2 rounds)", "",
               "| device | files | median s | files/s | decode | stats | resize | zscore | upload | download | write |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        for device, d in b.items():
            st = d["stage_seconds"] or {}
            fps = max((x for x in d["files_per_s"] if x), default=0)
            md.append(f"| {d['device_detail']} | {d['files']} | {d['median_elapsed_s']:.2f} | {fps:.0f} | "
                      + " | ".join(f"{st.get(k, 0) or 0:.2f}" for k in
                                   ("decode", "stats", "resize", "zscore", "upload", "download", "write")) + " |")
        if "cpu" in b and "cuda" in b and b["cuda"]["median_elapsed_s"]:
            md += ["", f"cuda / cpu wall time: {b['cuda']['median_elapsed_s'] / b['cpu']['median_elapsed_s']:.2f}"]
    (out / "report.md").write_text("\n".join(md) + "\n")
    print(f"report: {out / 'report.md'}, {out / 'report.json'}: "
          f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")


if __name__ == "__main__":
    main()
