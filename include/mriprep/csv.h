/* csv.h - reading CSV as real files come (RFC 4180 quoting, CRLF, LF or CR line ends):
 * the labels file and, on resume, a previous manifest. */
#ifndef MRIPREP_CSV_H
#define MRIPREP_CSV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Splits the record starting at text[*pos] into fields[max_fields], in place: fields are
 * NUL-terminated inside `text` (quotes removed, doubled quotes undone; a quoted field may
 * hold commas and line breaks). *pos moves past the record and its line end. Returns
 * the number of fields (extra fields beyond max_fields are dropped), 0 at the end. */
size_t csv_next_record(char *text, size_t len, size_t *pos, char **fields, size_t max_fields);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_CSV_H */
