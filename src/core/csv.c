/* csv.c - see include/mriprep/csv.h. */
#include "mriprep/csv.h"

#include <string.h>

/* Splits one CSV record starting at *pos (RFC 4180: quoted fields may hold commas,
 * doubled quotes and line breaks) into fields, NUL-terminating them in place. Returns
 * the number of fields, 0 at the end of the text; *pos moves past the record. */
size_t csv_next_record(char *text, size_t len, size_t *pos, char **fields, size_t max_fields)
{
    size_t i = *pos, n = 0;
    if (i >= len) return 0;
    for (;;) {
        char *out = text + i, *start = out;
        if (i < len && text[i] == '"') {
            i++;
            while (i < len) {
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') {
                        *out++ = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                *out++ = text[i++];
            }
            /* Anything between the closing quote and the separator is kept, as Excel does. */
            while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') *out++ = text[i++];
        } else {
            while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') out++, i++;
        }
        char sep = i < len ? text[i] : '\n';
        *out = '\0';
        if (n < max_fields) fields[n++] = start;
        if (sep == ',') {
            i++;
            continue;
        }
        /* The terminator was just overwritten by the NUL: step over it by what it was. */
        if (i < len) i++;
        if (sep == '\r' && i < len && text[i] == '\n') i++;
        break;
    }
    *pos = i;
    return n;
}


void csv_write_field(FILE *f, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
