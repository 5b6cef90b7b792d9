#!/usr/bin/env python3
"""Counts every test result under a folder and prints the line the landing check reads.

Reads GoogleTest's JSON reports (*.gtest.json) and mriprep's own result files
({"tests": [{"name", "status": passed|failed|skipped, "message"}]}), lists what failed
or was skipped, and ends with exactly one line: "N passed, N failed, N skipped".
Exit status 1 when anything failed. Run with /usr/bin/python3.
"""
import json
import pathlib
import sys


def gtest_results(report):
    for suite in report.get("testsuites", []):
        for case in suite.get("testsuite", []):
            name = f"{suite['name']}.{case['name']}"
            if case.get("failures"):
                msg = case["failures"][0].get("failure", "").strip().splitlines()
                yield name, "failed", msg[0] if msg else ""
            elif case.get("result") == "SKIPPED":
                yield name, "skipped", case.get("skipped", [{}])[0].get("message", "") if case.get("skipped") else ""
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
        rows = gtest_results(data) if path.name.endswith(".gtest.json") else (
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
