#!/usr/bin/env python3
"""Counts every test result under a folder and prints the line the landing check reads.

Reads GoogleTest's JSON reports (*.gtest.json) and mriprep's own result files
({"tests": [{"name", "status": passed|failed|skipped, "message"}]}), lists what failed
or was skipped, and ends with exactly one line: "N passed, N failed, N skipped".
Exit status 1 when anything failed. Run with /usr/bin/python3.
"""
import json
import pathlib
import re
import sys


def skip_messages(log_path):
    """GoogleTest's JSON has no skip message; its log has "file:line: Skipped" and the
    message on the next line. Returns [(file, line, message)]."""
    found = []
    if not log_path.exists():
        return found
    lines = log_path.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"(.+):(\d+): Skipped$", line)
        if m and i + 1 < len(lines):
            found.append((m.group(1), int(m.group(2)), lines[i + 1].strip()))
    return found


def skip_message_for(case, messages):
    """The message of the first GTEST_SKIP at or after the test's own line in its file."""
    after = [(line, msg) for file, line, msg in messages if file == case.get("file") and line >= case.get("line", 0)]
    return min(after)[1] if after else "skipped (no message)"


def gtest_results(report, messages, prefix=""):
    for suite in report.get("testsuites", []):
        for case in suite.get("testsuite", []):
            name = f"{prefix}{suite['name']}.{case['name']}"
            if case.get("failures"):
                msg = case["failures"][0].get("failure", "").strip().splitlines()
                yield name, "failed", msg[0] if msg else ""
            elif case.get("result") == "SKIPPED":
                yield name, "skipped", skip_message_for(case, messages)
            elif case.get("status", "RUN") != "RUN":
                yield name, "skipped", "not run (disabled)"
            else:
                yield name, "passed", ""


def main():
    folder = pathlib.Path(sys.argv[1])
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    notes = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        log = path.with_name(path.name.replace(".gtest.json", ".gtest.log"))
        # "asan-test_dicom.gtest.json": the same binary built otherwise; its names say so
        prefix = path.name.split("test_")[0].replace("-", ":") if "-" in path.name.split("test_")[0] else ""
        rows = gtest_results(data, skip_messages(log), prefix) if path.name.endswith(".gtest.json") else (
            (t["name"], t["status"], t.get("message", "")) for t in data["tests"])
        for name, status, message in rows:
            counts[status] += 1
            if status != "passed":
                notes.append(f"  {status.upper()}: {name}{': ' + message if message else ''}")
    if notes:
        print("\n".join(notes))
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
