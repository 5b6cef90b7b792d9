/* csv.h - CSV as real files come (RFC 4180 quoting, CRLF, LF or CR line ends): reading
 * the labels file and previous manifests, writing the manifest and scan --csv. */
#ifndef MRIPREP_CSV_H
#define MRIPREP_CSV_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Splits the record starting at text[*pos] into fields[max_fields], in place: fields are
 * NUL-terminated inside `text` (quotes removed, doubled quotes undone; a quoted field may
 * hold commas and line breaks). *pos moves past the record and its line end. Returns
 * the number of fields (extra fields beyond max_fields are dropped), 0 at the end. */
size_t csv_next_record(char *text, size_t len, size_t *pos, char **fields, size_t max_fields);

/* Writes one field, quoted when it holds a comma, a quote or a line break; NULL writes
 * nothing (an empty field). */
void csv_write_field(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_CSV_H */
