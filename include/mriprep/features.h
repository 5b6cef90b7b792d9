/* features.h - the version and what this build has in it (`mriprep --version`). */
#ifndef MRIPREP_FEATURES_H
#define MRIPREP_FEATURES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
const char *mriprep_version(void);

/* One feature of the build: name ("openmp", "dcmtk", "cuda", "simd"), whether it is in, and a
 * detail (version, codecs, cores) or the reason it is not. */
typedef struct mp_feature {
    const char *name;
    int present;
    char detail[200];
} mp_feature_t;

/* Fills up to `cap` features; returns how many there are (4 today). */
size_t mriprep_features(mp_feature_t *features, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_FEATURES_H */
