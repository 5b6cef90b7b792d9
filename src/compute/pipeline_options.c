/* pipeline_options.c - the options that shape a volume (include/mriprep/pipeline.h):
 * defaults, ranges, the words the command line, run.json and the C API spell them with,
 * and the one device decision `mriprep run` and the C API share. */
#include "mriprep/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/zscore_math.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/device_check.h"

void pipeline_options_default(pipeline_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->out_w = 256;
    opt->out_h = 256;
    opt->slices = 128;
    opt->dark = 0.01;
    opt->margin = 0;
    opt->layout = LAYOUT_HWD;
    opt->dtype = DTYPE_FLOAT32;
    opt->threads = 0;
    opt->device = DEVICE_CPU;
    opt->cuda_index = 0;
}

mp_status pipeline_options_validate(const pipeline_options_t *opt, mp_error *err)
{
    if (opt->out_w < 1 || opt->out_h < 1 || opt->out_w > 8192 || opt->out_h > 8192)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d: width and height must be 1..8192", opt->out_w,
                       opt->out_h);
    if (opt->slices < 1 || opt->slices > 65535)
        return mp_fail(err, MP_ERR_USAGE, "--slices %d: must be 1..65535", opt->slices);
    if (!(opt->dark >= 0.0 && opt->dark <= 1.0))
        return mp_fail(err, MP_ERR_USAGE, "--dark %g: must be in [0, 1]", opt->dark);
    if (opt->margin < 0 || opt->margin > 65536)
        return mp_fail(err, MP_ERR_USAGE, "--margin %d: must be 0..65536", opt->margin);
    if (opt->threads < 0 || opt->threads > 4096)
        return mp_fail(err, MP_ERR_USAGE, "--threads %d: must be 0 (all cores) .. 4096", opt->threads);
    if ((uint64_t)opt->out_w * (uint64_t)opt->out_h * (uint64_t)opt->slices > ZSCORE_MAX_VOXELS)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d with --slices %d is more than %llu voxels per volume",
                       opt->out_w, opt->out_h, opt->slices, (unsigned long long)ZSCORE_MAX_VOXELS);
    if (opt->device != DEVICE_CPU && opt->device != DEVICE_CUDA)
        return mp_fail(err, MP_ERR_USAGE, "unknown device %d", (int)opt->device);
    if (opt->device == DEVICE_CUDA && (opt->cuda_index < 0 || opt->cuda_index >= CUDA_MAX_DEVICES))
        return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: no such device index", opt->cuda_index);
    if ((unsigned)opt->order > SLICE_ORDER_POSITION || (unsigned)opt->crop > CROP_VOLUME ||
        (unsigned)opt->intensity > INTENSITY_RAW || (unsigned)opt->norm > NORM_NONZERO ||
        (unsigned)opt->depth > DEPTH_PAD || (unsigned)opt->center > CENTER_LARGEST)
        return mp_fail(err, MP_ERR_USAGE, "a volumetric option is out of range");
    if (opt->rescale && opt->intensity != INTENSITY_RAW)
        return mp_fail(err, MP_ERR_USAGE,
                       "--rescale applies to --intensity raw (min-max scaling makes slope and intercept cancel)");
    return MP_OK;
}

mp_status device_request_parse(const char *text, device_request_t *request, int *cuda_index, mp_error *err)
{
    *cuda_index = 0;
    if (!strcmp(text, "auto")) {
        *request = DEVICE_REQUEST_AUTO;
    } else if (!strcmp(text, "cpu")) {
        *request = DEVICE_REQUEST_CPU;
    } else if (!strcmp(text, "cuda")) {
        *request = DEVICE_REQUEST_CUDA;
    } else if (!strncmp(text, "cuda:", 5) && text[5] >= '0' && text[5] <= '9' && strlen(text + 5) <= 3) {
        char *end = NULL;
        long n = strtol(text + 5, &end, 10);
        if (*end != '\0' || n < 0 || n >= CUDA_MAX_DEVICES)
            return mp_fail(err, MP_ERR_USAGE, "--device '%.200s': no such CUDA device index (0..%d)", text,
                           CUDA_MAX_DEVICES - 1);
        *request = DEVICE_REQUEST_CUDA;
        *cuda_index = (int)n;
    } else {
        return mp_fail(err, MP_ERR_USAGE, "--device '%.200s': expected auto, cpu, cuda or cuda:N", text);
    }
    return MP_OK;
}

/* Device memory the CUDA backend needs beyond what grows with the series: the resized,
 * crop and output volumes, plus headroom for two batches of raw slices. */
static uint64_t cuda_min_free(const pipeline_options_t *p)
{
    uint64_t plane = (uint64_t)p->out_w * (uint64_t)p->out_h;
    return plane * (uint64_t)p->slices * (8 + volume_dtype_size(p->dtype)) + (512ull << 20);
}

mp_status pipeline_resolve_device(device_request_t request, int cuda_index, pipeline_options_t *p, char *reason,
                                  size_t reason_cap, device_check_report_t *check, mp_error *err)
{
    p->device = DEVICE_CPU;
    p->cuda_index = 0;
    if (check) memset(check, 0, sizeof *check);
    if (request == DEVICE_REQUEST_CPU) {
        snprintf(reason, reason_cap, "--device cpu");
        return MP_OK;
    }
    const int index = request == DEVICE_REQUEST_CUDA ? cuda_index : 0;
    cuda_device_info_t info;
    mp_error why;
    mp_error_clear(&why);
    if (cuda_check_device(index, cuda_min_free(p), &info, &why) == MP_OK) {
        /* The self-check before the device computes anything that is kept. */
        const device_check_report_t *checked = device_check_cuda(index);
        if (check) *check = *checked;
        if (!checked->passed) {
            if (request == DEVICE_REQUEST_CUDA)
                return mp_fail(err, MP_ERR_USAGE,
                               "--device cuda:%d: the device self-check failed, so its volumes would not be the "
                               "CPU's: %.380s",
                               index, checked->failure);
            snprintf(reason, reason_cap, "--device auto: the self-check of cuda:%d failed (%.420s); the CPU computes",
                     index, checked->failure);
            return MP_OK;
        }
        p->device = DEVICE_CUDA;
        p->cuda_index = index;
        snprintf(reason, reason_cap, "%s",
                 request == DEVICE_REQUEST_CUDA ? "--device cuda" : "--device auto: a usable CUDA device");
        return MP_OK;
    }
    if (request == DEVICE_REQUEST_CUDA) {
        if (err) *err = why;
        return MP_ERR_USAGE;
    }
    /* auto: the CPU, and why not CUDA ("--device cuda:0: no CUDA device (...)") */
    const char *text = strncmp(why.msg, "--device ", 9) == 0 ? strchr(why.msg, ' ') + 1 : why.msg;
    snprintf(reason, reason_cap, "--device auto: %.480s", text);
    return MP_OK;
}

/* The words of each enumerated option, in the order of its enum's values: what the
 * command line, run.json, the fingerprint and the C API spell them with. */
enum { W_ORDER, W_CROP, W_INTENSITY, W_NORM, W_DEPTH, W_CENTER, W_DTYPE, W_LAYOUT, W_OPTIONS };
static const struct {
    const char *option;
    const char *words[2];
} OPTION_WORDS[W_OPTIONS] = {
    [W_ORDER] = {"order", {"name", "position"}},     [W_CROP] = {"crop", {"slice", "volume"}},
    [W_INTENSITY] = {"intensity", {"minmax", "raw"}}, [W_NORM] = {"norm", {"volume", "nonzero"}},
    [W_DEPTH] = {"depth", {"keep", "pad"}},           [W_CENTER] = {"center", {"middle", "largest"}},
    [W_DTYPE] = {"dtype", {"float32", "float16"}},    [W_LAYOUT] = {"layout", {"hwd", "dhw"}},
};

static const char *word_of(int option, unsigned value)
{
    return OPTION_WORDS[option].words[value ? 1 : 0];
}

const char *slice_order_option_name(slice_order_option_t order) { return word_of(W_ORDER, order); }
const char *crop_mode_name(crop_mode_t crop) { return word_of(W_CROP, crop); }
const char *intensity_mode_name(intensity_mode_t intensity) { return word_of(W_INTENSITY, intensity); }
const char *norm_mode_name(norm_mode_t norm) { return word_of(W_NORM, norm); }
const char *depth_mode_name(depth_mode_t depth) { return word_of(W_DEPTH, depth); }
const char *center_mode_name(center_mode_t center) { return word_of(W_CENTER, center); }
const char *volume_dtype_name(volume_dtype_t dtype) { return word_of(W_DTYPE, dtype); }
const char *volume_layout_name(volume_layout_t layout) { return word_of(W_LAYOUT, layout); }

mp_status pipeline_option_parse(const char *option, const char *word, pipeline_options_t *p, mp_error *err)
{
    int o = 0;
    while (o < W_OPTIONS && strcmp(option, OPTION_WORDS[o].option)) o++;
    if (o == W_OPTIONS) return mp_fail(err, MP_ERR_INTERNAL, "pipeline_option_parse: no option '%s'", option);
    const char *const *words = OPTION_WORDS[o].words;
    const int v = !strcmp(word, words[0]) ? 0 : !strcmp(word, words[1]) ? 1 : -1;
    if (v < 0) return mp_fail(err, MP_ERR_USAGE, "--%s '%.200s': expected %s or %s", option, word, words[0], words[1]);
    switch (o) {
    case W_ORDER: p->order = (slice_order_option_t)v; break;
    case W_CROP: p->crop = (crop_mode_t)v; break;
    case W_INTENSITY: p->intensity = (intensity_mode_t)v; break;
    case W_NORM: p->norm = (norm_mode_t)v; break;
    case W_DEPTH: p->depth = (depth_mode_t)v; break;
    case W_CENTER: p->center = (center_mode_t)v; break;
    case W_DTYPE: p->dtype = (volume_dtype_t)v; break;
    default: p->layout = (volume_layout_t)v; break;
    }
    return MP_OK;
}

size_t volume_dtype_size(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? 2 : 4; }
const char *volume_dtype_npy_descr(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? "<f2" : "<f4"; }

uint64_t volume_max_bytes(const pipeline_options_t *p)
{
    return (uint64_t)p->out_w * (uint64_t)p->out_h * (uint64_t)p->slices * (uint64_t)volume_dtype_size(p->dtype);
}
