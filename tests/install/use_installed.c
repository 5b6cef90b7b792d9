/* use_installed.c - a program built only against the INSTALLED libmriprep (pkg-config
 * mriprep), as a user's program would be: tests/e2e/test_binding.py compiles it after
 * `make install DESTDIR=...` and compares what it writes with `mriprep run`'s .npy.
 *
 *   use_installed DATA SERIES_DIR OUT.raw WIDTH HEIGHT SLICES float32|float16 hwd|dhw
 *
 * Processes SERIES_DIR into a caller-owned buffer and writes the raw volume to OUT.raw;
 * prints "shape A B C" on success. Along the way it checks the API's contract (each
 * failure is a line "FAIL what" and exit status 1): the version, a too-small buffer
 * (MRIPREP_ERR_BUFFER, then mriprep_copy_volume), a folder that does not exist (an IO
 * error naming it), bad options, two contexts at once, and the dataset listing of DATA.
 */
#include <mriprep/mriprep.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what, const char *detail)
{
    if (!ok) {
        printf("FAIL %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
        failures++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: %s DATA SERIES_DIR OUT.raw WIDTH HEIGHT SLICES DTYPE LAYOUT\n", argv[0]);
        return 2;
    }
    const char *data = argv[1], *series_dir = argv[2], *out_path = argv[3];
    check(mriprep_api_version() == MRIPREP_API_VERSION, "api version", NULL);

    mriprep_options_t opt;
    mriprep_options_init(&opt);
    opt.width = atoi(argv[4]);
    opt.height = atoi(argv[5]);
    opt.slices = atoi(argv[6]);
    opt.dtype = strcmp(argv[7], "float16") == 0 ? MRIPREP_FLOAT16 : MRIPREP_FLOAT32;
    opt.layout = strcmp(argv[8], "dhw") == 0 ? MRIPREP_DHW : MRIPREP_HWD;
    opt.device = "cpu";

    char message[MRIPREP_MESSAGE_MAX];
    mriprep_context_t *ctx = NULL;
    mriprep_status_t st = mriprep_create(&opt, &ctx, message, sizeof message);
    if (st != MRIPREP_OK) {
        printf("FAIL create: %s\n", message);
        return 1;
    }

    /* A second context with other options, alive at the same time. */
    mriprep_options_t small;
    mriprep_options_init(&small);
    small.width = small.height = 16;
    small.slices = 4;
    mriprep_context_t *other = NULL;
    st = mriprep_create(&small, &other, message, sizeof message);
    check(st == MRIPREP_OK, "second context", message);

    /* The volume into a buffer of the largest size these options give. */
    size_t capacity = mriprep_volume_capacity(ctx);
    unsigned char *volume = malloc(capacity);
    mriprep_result_t r;
    st = volume ? mriprep_process_series(ctx, series_dir, volume, capacity, &r) : MRIPREP_ERR_NOMEM;
    if (st != MRIPREP_OK || r.outcome != MRIPREP_SERIES_OK || !r.copied) {
        printf("FAIL process %s: status %s, outcome %d, %s %s\n", series_dir, mriprep_status_name(st),
               st == MRIPREP_OK ? r.outcome : -1, mriprep_last_error(ctx), st == MRIPREP_OK ? r.reason : "");
        return 1;
    }
    size_t element = opt.dtype == MRIPREP_FLOAT16 ? 2 : 4;
    check(r.volume_bytes == r.shape[0] * r.shape[1] * r.shape[2] * element, "volume_bytes", NULL);

    /* The other context in between must not disturb this one's options or results. */
    if (other) {
        mriprep_result_t r2;
        unsigned char *v2 = malloc(mriprep_volume_capacity(other));
        st = mriprep_process_series(other, series_dir, v2, mriprep_volume_capacity(other), &r2);
        check(st == MRIPREP_OK && r2.outcome == MRIPREP_SERIES_OK && r2.shape[0] == 16 && r2.shape[1] == 16,
              "second context's volume", mriprep_last_error(other));
        free(v2);
    }

    /* Too small a buffer: MRIPREP_ERR_BUFFER with the result filled; the volume stays
     * in the context for mriprep_copy_volume(). */
    unsigned char *again = malloc(r.volume_bytes);
    mriprep_result_t r3;
    st = mriprep_process_series(ctx, series_dir, again, r.volume_bytes - 1, &r3);
    check(st == MRIPREP_ERR_BUFFER && r3.volume_bytes == r.volume_bytes && !r3.copied, "small buffer",
          mriprep_status_name(st));
    st = mriprep_copy_volume(ctx, again, r.volume_bytes);
    check(st == MRIPREP_OK && memcmp(again, volume, r.volume_bytes) == 0, "copy after a small buffer",
          mriprep_last_error(ctx));
    free(again);

    /* A folder that does not exist: an IO error naming it. */
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/no-such-series", data);
    st = mriprep_process_series(ctx, missing, volume, capacity, &r3);
    check(st == MRIPREP_ERR_IO && strstr(mriprep_last_error(ctx), missing) != NULL, "missing folder",
          mriprep_last_error(ctx));

    /* Bad options: a message naming the option, no context. */
    mriprep_options_t bad;
    mriprep_options_init(&bad);
    bad.slices = 0;
    mriprep_context_t *none = NULL;
    st = mriprep_create(&bad, &none, message, sizeof message);
    check(st == MRIPREP_ERR_USAGE && none == NULL && strstr(message, "slices") != NULL, "bad slices", message);
    mriprep_options_init(&bad);
    bad.device = "gpu";
    st = mriprep_create(&bad, &none, message, sizeof message);
    check(st == MRIPREP_ERR_USAGE && strstr(message, "gpu") != NULL, "bad device", message);
    mriprep_options_init(&bad); /* API 2: the volumetric words are checked too */
    bad.order = "sideways";
    st = mriprep_create(&bad, &none, message, sizeof message);
    check(st == MRIPREP_ERR_USAGE && strstr(message, "sideways") != NULL, "bad order", message);

    /* The dataset listing: every series has a folder, a patient and a modality. */
    mriprep_dataset_t *ds = NULL;
    st = mriprep_dataset_open(data, NULL, 0, NULL, &ds, message, sizeof message);
    check(st == MRIPREP_OK && mriprep_dataset_series_count(ds) == 4 * mriprep_dataset_patient_count(ds) &&
              mriprep_dataset_patient_count(ds) > 0,
          "dataset listing", message);
    for (size_t i = 0; ds && i < mriprep_dataset_series_count(ds); i++) {
        mriprep_series_info_t info;
        check(mriprep_dataset_series(ds, i, &info) == MRIPREP_OK && info.dir[0] && info.patient[0] &&
                  info.modality[0],
              "series info", NULL);
    }
    mriprep_dataset_free(ds);

    FILE *f = fopen(out_path, "wb");
    if (!f || fwrite(volume, 1, r.volume_bytes, f) != r.volume_bytes || fclose(f) != 0) {
        printf("FAIL cannot write %s\n", out_path);
        return 1;
    }
    printf("shape %llu %llu %llu\n", (unsigned long long)r.shape[0], (unsigned long long)r.shape[1],
           (unsigned long long)r.shape[2]);
    free(volume);
    mriprep_destroy(other);
    mriprep_destroy(ctx);
    return failures ? 1 : 0;
}
