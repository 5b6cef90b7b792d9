/* cmd_devices.c - `mriprep devices [--check]`: what nvidia-smi told the notebook user, and
 * with --check the device self-check (include/mriprep/device_check.h) on every device.
 * Exit 0 with or without a device; 1 when a device fails its check. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/device_check.h"
#include "mriprep/error.h"
#include "options.h"

static const char DEVICES_USAGE[] =
    "usage: mriprep devices [--check]\n"
    "  CUDA devices: name, memory, compute capability, driver.\n"
    "  --check  run the device self-check on each device: synthetic series through the\n"
    "           device and through the CPU, compared byte for byte (what run does before\n"
    "           it first computes on a device); without a device, the CPU against itself\n";

/* Prints what a check compared and found; 1 when it passed. */
static int print_check(const device_check_report_t *rep)
{
    if (rep->passed)
        printf("self-check %s: passed, %d cases identical to the CPU backend byte for byte (%.3f s)\n", rep->device,
               rep->cases, rep->seconds);
    else
        printf("self-check %s: FAILED after %d cases (%.3f s): %s\n", rep->device, rep->cases, rep->seconds,
               rep->failure);
    return rep->passed;
}

static int run_checks(int count, const cuda_device_info_t *devices)
{
    printf("self-check cases (synthetic series; slice stats, selection, moments, volume bytes and geometry compared):\n");
    for (int i = 0; i < device_check_case_count(); i++) printf("  %2d  %s\n", i + 1, device_check_case_name(i));
    int failed = 0;
    for (int i = 0; i < count; i++) {
        if (!devices[i].supported) {
            printf("self-check cuda:%d: not run (no code for sm_%d%d in this build)\n", devices[i].index,
                   devices[i].major, devices[i].minor);
            continue;
        }
        device_check_report_t rep;
        mp_error err;
        mp_error_clear(&err);
        if (device_check_run(DEVICE_CUDA, devices[i].index, NULL, NULL, &rep, &err) != MP_OK) {
            printf("self-check cuda:%d: could not run: %s\n", devices[i].index, err.msg);
            failed++;
        } else {
            failed += !print_check(&rep);
        }
    }
    if (count == 0) {
        /* No device: the harness against the CPU itself, so its cost and cases are seen. */
        device_check_report_t rep;
        mp_error err;
        mp_error_clear(&err);
        if (device_check_run(DEVICE_CPU, 0, NULL, NULL, &rep, &err) != MP_OK) {
            printf("self-check cpu: could not run: %s\n", err.msg);
            return 1;
        }
        printf("no CUDA device to check; the harness against the CPU backend itself:\n");
        failed += !print_check(&rep);
    }
    return failed;
}

int cmd_devices(int argc, char **argv)
{
    const char *positional[1];
    int rc, check = 0;
    const option_spec_t specs[] = {{.name = "--check", .kind = OPT_FLAG, .target = &check, .flag = 1}};
    if (!command_options("devices", DEVICES_USAGE, argc, argv, specs, sizeof specs / sizeof specs[0], positional, 0, 0,
                         "", &rc))
        return rc;
    cuda_device_info_t devices[CUDA_MAX_DEVICES];
    int count = 0, driver = 0, runtime = 0;
    char why[300];
    cuda_query_devices(devices, CUDA_MAX_DEVICES, CUDA_PROBE_ALL, &count, &driver, &runtime, why, sizeof why);
    printf("CUDA backend: %s\n", cuda_backend_built() ? cuda_build_description() : "not built");
    printf("driver: %s", driver ? "" : "none\n");
    if (driver) printf("CUDA %d.%d\n", driver / 1000, (driver % 1000) / 10);
    if (runtime) printf("runtime: CUDA %d.%d\n", runtime / 1000, (runtime % 1000) / 10);
    if (count == 0) printf("no CUDA device: %s\n", why);
    for (int i = 0; i < count; i++) {
        const cuda_device_info_t *d = &devices[i];
        printf("cuda:%d  %s  %.1f GiB (%.1f GiB free)  compute capability %d.%d  %d SMs%s\n", d->index, d->name,
               (double)d->total_bytes / (1 << 30), (double)d->free_bytes / (1 << 30), d->major, d->minor,
               d->multiprocessors, d->supported ? "" : "  (no code for it in this build)");
    }
    if (check && run_checks(count, devices) > 0) return EXIT_USAGE;
    return EXIT_ALL_OK;
}
