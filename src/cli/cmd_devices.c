/* cmd_devices.c - `mriprep devices`: what nvidia-smi told the notebook user. Exit 0 with
 * or without a device. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"
#include "mriprep/cuda_backend.h"
#include "options.h"

static const char DEVICES_USAGE[] = "usage: mriprep devices   CUDA devices: name, memory, compute capability, driver\n";

int cmd_devices(int argc, char **argv)
{
    const char *positional[1];
    int rc;
    if (!command_options("devices", DEVICES_USAGE, argc, argv, NULL, 0, positional, 0, 0, "", &rc)) return rc;
    cuda_device_info_t devices[CUDA_MAX_DEVICES];
    int count = 0, driver = 0, runtime = 0;
    char why[300];
    cuda_query_devices(devices, CUDA_MAX_DEVICES, CUDA_PROBE_ALL, &count, &driver, &runtime, why, sizeof why);
    printf("CUDA backend: %s\n", cuda_backend_built() ? cuda_build_description() : "not built");
    printf("driver: %s", driver ? "" : "none\n");
    if (driver) printf("CUDA %d.%d\n", driver / 1000, (driver % 1000) / 10);
    if (runtime) printf("runtime: CUDA %d.%d\n", runtime / 1000, (runtime % 1000) / 10);
    if (count == 0) {
        printf("no CUDA device: %s\n", why);
        return EXIT_ALL_OK;
    }
    for (int i = 0; i < count; i++) {
        const cuda_device_info_t *d = &devices[i];
        printf("cuda:%d  %s  %.1f GiB (%.1f GiB free)  compute capability %d.%d  %d SMs%s\n", d->index, d->name,
               (double)d->total_bytes / (1 << 30), (double)d->free_bytes / (1 << 30), d->major, d->minor,
               d->multiprocessors, d->supported ? "" : "  (no code for it in this build)");
    }
    return EXIT_ALL_OK;
}
