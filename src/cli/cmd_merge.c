/* cmd_merge.c - `mriprep merge OUT`: joins the records of the shards of a run. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "exit_codes.h"
#include "mriprep/shard.h"
#include "options.h"

static const char MERGE_USAGE[] =
    "usage: mriprep merge OUT\n"
    "  joins OUT/manifest.K-of-N.csv of every shard into OUT/manifest.csv (rows in dataset\n"
    "  order, as one run writes them) and OUT/run.json, after checking that every series\n"
    "  of DATA has a row; lists the series without one and writes nothing if any\n"
    "exit: 0 merged, 3 merged but some series failed, 6 series without a row,\n"
    "      2 no shard records in OUT or DATA unreadable, 1 usage or shards that disagree,\n"
    "      4 cannot write\n";

static void print_missing(const merge_report_t *report)
{
    fprintf(stderr,
            "mriprep: error: merge: %zu of %zu series have no row in any of the %d shards' manifests: %s%s\n"
            "  nothing written; rerun the shards that did not finish (the same command resumes them), then merge "
            "again\n",
            report->missing, report->series, report->shards, report->missing_text ? report->missing_text : "",
            report->missing > 20 ? ", ..." : "");
    if (report->unfinished)
        fprintf(stderr, "  %zu shard record(s) say their shard did not finish\n", report->unfinished);
}

int cmd_merge(int argc, char **argv)
{
    const char *positional[1];
    int rc;
    if (!command_options("merge", MERGE_USAGE, argc, argv, NULL, 0, positional, 1, 1, "merge needs OUT", &rc)) return rc;
    mp_error err;
    const char *out_dir = positional[0];
    merge_report_t report;
    if (merge_shards(out_dir, &report, &err) != MP_OK) return exit_with_error("merge", &err);
    if (report.missing) {
        print_missing(&report);
        merge_report_free(&report);
        return EXIT_MERGE_INCOMPLETE;
    }
    const size_t *n = report.status.n;
    fprintf(stderr,
            "mriprep: merged %d shards into %s/manifest.csv: %zu series: %zu ok, %zu empty, %zu missing, %zu failed, "
            "%zu excluded\n",
            report.shards, out_dir, report.series, n[STATUS_OK], n[STATUS_EMPTY], n[STATUS_MISSING], n[STATUS_FAILED],
            n[STATUS_EXCLUDED]);
    if (n[STATUS_FAILED])
        fprintf(stderr, "mriprep: %zu series failed: see the reason column of %s/manifest.csv\n", n[STATUS_FAILED],
                out_dir);
    merge_report_free(&report);
    return n[STATUS_FAILED] ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
