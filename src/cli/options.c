/* options.c - see options.h. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit_codes.h"
#include "mriprep/pipeline.h"

/* A whole number, all of `text`, in [lo, hi]. */
static int parse_whole(const char *text, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* "N" or "WxH" (x or X), each a whole number in [lo, hi]. */
static int parse_size(const char *text, long lo, long hi, int *w, int *h)
{
    const char *x = strpbrk(text, "xX");
    if (!x) {
        if (parse_whole(text, lo, hi, w) != 0) return -1;
        *h = *w;
        return 0;
    }
    char left[16];
    size_t n = (size_t)(x - text);
    if (n == 0 || n >= sizeof left) return -1;
    memcpy(left, text, n);
    left[n] = '\0';
    return parse_whole(left, lo, hi, w) == 0 && parse_whole(x + 1, lo, hi, h) == 0 ? 0 : -1;
}

mp_status option_list_set(option_list_t *list, const char *name, const char *csv, int append, mp_error *err)
{
    if (!append) list->n = list->used = 0;
    const size_t len = strlen(csv) + 1;
    if (list->used + len > sizeof list->text) return mp_fail(err, MP_ERR_USAGE, "%s: list too long", name);
    char *copy = list->text + list->used;
    memcpy(copy, csv, len);
    list->used += len;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        if (list->n == OPTION_LIST_MAX) return mp_fail(err, MP_ERR_USAGE, "%s: more than %d items", name, OPTION_LIST_MAX);
        list->items[list->n++] = tok;
    }
    return MP_OK;
}

mp_status option_modalities(option_list_t *list, const char *csv, mp_error *err)
{
    mp_status st = option_list_set(list, "--modalities", csv, 0, err);
    if (st != MP_OK) return st;
    return dataset_check_modalities(list->items, list->n, err);
}

/* The value of one option into its target. */
static mp_status set_value(const option_spec_t *s, const char *value, mp_error *err)
{
    switch (s->kind) {
    case OPT_FLAG: *(int *)s->target = s->flag; return MP_OK;
    case OPT_STRING:
        if (s->nonempty && !*value) return mp_fail(err, MP_ERR_USAGE, "%s needs a file name", s->name);
        *(const char **)s->target = value;
        return MP_OK;
    case OPT_WHOLE:
        if (parse_whole(value, s->lo, s->hi, (int *)s->target) != 0)
            return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected a whole number %ld..%ld", s->name, value, s->lo,
                           s->hi);
        return MP_OK;
    case OPT_NUMBER: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v) || v < (double)s->lo || v > (double)s->hi)
            return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected a number in [%ld, %ld]", s->name, value, s->lo,
                           s->hi);
        *(double *)s->target = v;
        return MP_OK;
    }
    case OPT_SIZE: {
        int *wh = s->target;
        if (parse_size(value, s->lo, s->hi, &wh[0], &wh[1]) != 0)
            return mp_fail(err, MP_ERR_USAGE, "%s '%.200s': expected N or WxH, %ld..%ld", s->name, value, s->lo, s->hi);
        return MP_OK;
    }
    case OPT_WORD: return pipeline_option_parse(s->name + 2, value, s->target, err);
    case OPT_LIST:
        if (s->parse) return s->parse(s->target, s->name, value, err);
        return option_list_set(s->target, s->name, value, s->flag, err);
    case OPT_CUSTOM: return s->parse(s->target, s->name, value, err);
    }
    return mp_fail(err, MP_ERR_INTERNAL, "%s: unknown option kind", s->name);
}

static const option_spec_t *find_spec(const option_spec_t *specs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(specs[i].name, name) || (specs[i].alias && !strcmp(specs[i].alias, name))) return &specs[i];
    return NULL;
}

mp_status options_parse(int argc, char **argv, const option_spec_t *specs, size_t n_specs, const char **positional,
                        int max_positional, int *n_positional, int *help, mp_error *err)
{
    *n_positional = 0;
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !strcmp(arg, "-")) {
            if (*n_positional == max_positional) return mp_fail(err, MP_ERR_USAGE, "unexpected argument '%.200s'", arg);
            positional[(*n_positional)++] = arg;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            *help = 1;
            return MP_OK;
        }
        char name[64];
        const char *eq = strchr(arg, '='), *value = eq ? eq + 1 : NULL;
        const size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) return mp_fail(err, MP_ERR_USAGE, "unknown option '%.200s'", arg);
        memcpy(name, arg, len);
        name[len] = '\0';
        const option_spec_t *s = find_spec(specs, n_specs, name);
        if (!s) return mp_fail(err, MP_ERR_USAGE, "unknown option '%s'", name);
        if (s->kind == OPT_FLAG && value) return mp_fail(err, MP_ERR_USAGE, "%s takes no value", name);
        if (s->kind != OPT_FLAG && !value) {
            if (i + 1 >= argc) return mp_fail(err, MP_ERR_USAGE, "option %s needs a value", name);
            value = argv[++i];
        }
        mp_status st = set_value(s, value, err);
        if (st != MP_OK) return st;
        if (s->seen) *s->seen = 1;
    }
    return MP_OK;
}

int command_options(const char *command, const char *usage, int argc, char **argv, const option_spec_t *specs,
                    size_t n_specs, const char **positional, int min_positional, int max_positional,
                    const char *missing, int *rc)
{
    int n_positional = 0, help = 0;
    mp_error err;
    mp_error_clear(&err);
    mp_status st = options_parse(argc, argv, specs, n_specs, positional, max_positional, &n_positional, &help, &err);
    if (st == MP_OK && help) {
        fputs(usage, stdout);
        *rc = EXIT_ALL_OK;
        return 0;
    }
    if (st == MP_OK && n_positional < min_positional) st = mp_fail(&err, MP_ERR_USAGE, "%s", missing);
    if (st != MP_OK) {
        *rc = usage_error(command, &err);
        return 0;
    }
    return 1;
}

int usage_error(const char *command, const mp_error *err)
{
    fprintf(stderr, "mriprep: error: %s\n(see mriprep %s%s--help)\n", err->msg, command ? command : "",
            command ? " " : "");
    return EXIT_USAGE;
}

void dataset_cli_init(dataset_cli_t *c)
{
    memset(c, 0, sizeof *c);
    pipeline_options_default(&c->pipeline);
    static const char *const defaults[] = DATASET_DEFAULT_MODALITIES;
    for (size_t i = 0; i < DATASET_DEFAULT_MODALITY_COUNT; i++) c->modalities.items[i] = defaults[i];
    c->modalities.n = DATASET_DEFAULT_MODALITY_COUNT;
    c->readahead_mb = READAHEAD_AUTO;
}

static mp_status parse_readahead(void *target, const char *name, const char *value, mp_error *err)
{
    (void)name;
    return readahead_parse(value, target, err);
}

mp_status option_parse_modalities(void *target, const char *name, const char *value, mp_error *err)
{
    (void)name;
    return option_modalities(target, value, err);
}

size_t dataset_cli_specs(dataset_cli_t *c, option_spec_t *specs)
{
    const option_spec_t shared[] = {
        {.name = "--labels", .kind = OPT_STRING, .target = &c->labels},
        {.name = "--modalities", .kind = OPT_LIST, .target = &c->modalities, .parse = option_parse_modalities},
        {.name = "--threads", .kind = OPT_WHOLE, .target = &c->pipeline.threads, .lo = 0, .hi = 4096},
        {.name = "--size", .kind = OPT_SIZE, .target = c->size, .lo = 1, .hi = 8192, .seen = &c->size_given},
        {.name = "--slices", .kind = OPT_WHOLE, .target = &c->pipeline.slices, .lo = 1, .hi = 65535},
        {.name = "--dtype", .kind = OPT_WORD, .target = &c->pipeline},
        {.name = "--dark", .kind = OPT_NUMBER, .target = &c->pipeline.dark, .lo = 0, .hi = 1},
        {.name = "--margin", .kind = OPT_WHOLE, .target = &c->pipeline.margin, .lo = 0, .hi = 65536},
        {.name = "--readahead", .kind = OPT_CUSTOM, .target = &c->readahead_mb, .parse = parse_readahead},
    };
    memcpy(specs, shared, sizeof shared);
    return sizeof shared / sizeof *shared;
}

void dataset_cli_finish(dataset_cli_t *c)
{
    if (!c->size_given) return;
    c->pipeline.out_w = c->size[0];
    c->pipeline.out_h = c->size[1];
}
