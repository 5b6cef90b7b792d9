/* cmd_merge.c - `mriprep merge OUT`: joins the records of the shards of a run. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "mriprep/shard.h"

static const char MERGE_USAGE[] =
    "usage: mriprep merge OUT\n"
    "  joins OUT/manifest.K-of-N.csv of every shard into OUT/manifest.csv (rows in dataset\n"
    "  order, as one run writes them) and OUT/run.json, after checking that every series\n"
    "  of DATA has a row; lists the series without one and writes nothing if any\n"
    "exit: 0 merged, 3 merged but some series failed, 6 series without a row,\n"
    "      2 no shard records in OUT or DATA unreadable, 1 usage or shards that disagree,\n"
    "      4 cannot write\n";

int cmd_merge(int argc, char **argv)
{
    const char *out_dir = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(MERGE_USAGE, stdout);
            return 0;
        }
        if (argv[i][0] == '-' || out_dir) {
            fprintf(stderr, "mriprep: error: merge: unexpected argument '%s'\n%s", argv[i], MERGE_USAGE);
            return 1;
        }
        out_dir = argv[i];
    }
    if (!out_dir) {
        fprintf(stderr, "mriprep: error: merge needs OUT\n%s", MERGE_USAGE);
        return 1;
    }
    merge_report_t report;
    mp_error err;
    mp_error_clear(&err);
    mp_status st = merge_shards(out_dir, &report, &err);
    if (st != MP_OK) {
        fprintf(stderr, "mriprep: error: merge: %s\n", err.msg);
        switch (st) {
        case MP_ERR_IO: return 2;
        case MP_ERR_WRITE: return 4;
        default: return 1;
        }
    }
    if (report.missing) {
        fprintf(stderr,
                "mriprep: error: merge: %zu of %zu series have no row in any of the %d shards' manifests: %s%s\n"
                "  nothing written; rerun the shards that did not finish (the same command resumes them), then "
                "merge again\n",
                report.missing, report.series, report.shards, report.missing_text ? report.missing_text : "",
                report.missing > 20 ? ", ..." : "");
        if (report.unfinished)
            fprintf(stderr, "  %zu shard record(s) say their shard did not finish\n", report.unfinished);
        merge_report_free(&report);
        return 6;
    }
    fprintf(stderr,
            "mriprep: merged %d shards into %s/manifest.csv: %zu series: %zu ok, %zu empty, %zu missing, %zu failed, "
            "%zu excluded\n",
            report.shards, out_dir, report.series, report.ok, report.empty, report.status_missing, report.failed,
            report.excluded);
    int failed = report.failed != 0;
    if (failed)
        fprintf(stderr, "mriprep: %zu series failed: see the reason column of %s/manifest.csv\n", report.failed,
                out_dir);
    merge_report_free(&report);
    return failed ? 3 : 0;
}
