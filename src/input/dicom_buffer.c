/* dicom_buffer.c - the grow-on-demand pixel buffer of include/mriprep/dicom.h. */
#include <stdlib.h>

#include "mriprep/dicom.h"

mp_status dicom_place_in_buffer(void *buffer, size_t n_values, uint16_t **out, mp_error *err)
{
    dicom_buffer_t *b = buffer;
    if (b->capacity < n_values) {
        dicom_buffer_free(b);
        const size_t bytes = n_values * sizeof(uint16_t);
        b->pixels = b->alloc ? b->alloc(b->owner, bytes) : malloc(bytes);
        b->capacity = b->pixels ? n_values : 0;
        if (!b->pixels) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu bytes for pixels", bytes);
    }
    *out = b->pixels;
    return MP_OK;
}

void dicom_buffer_free(dicom_buffer_t *b)
{
    if (b->pixels) {
        if (b->release) b->release(b->owner, b->pixels);
        else free(b->pixels);
    }
    b->pixels = NULL;
    b->capacity = 0;
}
