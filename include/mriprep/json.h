/* json.h - a small JSON writer into a growing string (run.json, later scan --json).
 *
 * Calls nest like the document: json_object_begin(j, "key") ... json_object_end(j).
 * Keys are ignored inside arrays and for the top level. Memory errors are sticky: the
 * first one sets j->failed and later calls do nothing.
 */
#ifndef MRIPREP_JSON_H
#define MRIPREP_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JSON_MAX_DEPTH 32

typedef struct json_writer {
    char *text;     /* NUL-terminated document so far (owned) */
    size_t len, cap;
    int depth;
    int count[JSON_MAX_DEPTH]; /* values written at each open level */
    int in_array[JSON_MAX_DEPTH];
    int failed;
} json_writer_t;

void json_init(json_writer_t *j);
void json_free(json_writer_t *j);

void json_object_begin(json_writer_t *j, const char *key);
void json_object_end(json_writer_t *j);
void json_array_begin(json_writer_t *j, const char *key);
void json_array_end(json_writer_t *j);
void json_string(json_writer_t *j, const char *key, const char *value); /* NULL -> null */
void json_int(json_writer_t *j, const char *key, int64_t value);
void json_uint(json_writer_t *j, const char *key, uint64_t value);
void json_double(json_writer_t *j, const char *key, double value);   /* non-finite -> null */
void json_bool(json_writer_t *j, const char *key, int value);
void json_null(json_writer_t *j, const char *key);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_JSON_H */
