/* json_read.c - the JSON reader of include/mriprep/json.h: recursive descent over the
 * text into a tree, one allocation per string and per array of members. */
#include "mriprep/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *text, *end, *at;
    const char *name;
    mp_error *err;
    int failed;
} reader_t;

static mp_status reader_fail(reader_t *r, const char *what)
{
    if (r->failed) return MP_ERR_FORMAT;
    r->failed = 1;
    size_t line = 1;
    for (const char *c = r->text; c < r->at && c < r->end; c++) line += *c == '\n';
    return mp_fail(r->err, MP_ERR_FORMAT, "%s: not JSON: %s at line %zu", r->name, what, line);
}

static void skip_space(reader_t *r)
{
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r')) r->at++;
}

static int take(reader_t *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->at) < n || memcmp(r->at, word, n) != 0) return 0;
    r->at += n;
    return 1;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* Appends code point u as UTF-8 (at most 4 bytes). */
static size_t put_utf8(char *out, unsigned u)
{
    if (u < 0x80) return out[0] = (char)u, 1;
    if (u < 0x800) return out[0] = (char)(0xC0 | (u >> 6)), out[1] = (char)(0x80 | (u & 0x3F)), 2;
    if (u < 0x10000) {
        out[0] = (char)(0xE0 | (u >> 12)), out[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        out[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (u >> 18)), out[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((u >> 6) & 0x3F)), out[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

/* A string at r->at (its opening quote); malloc'd, escapes undone. The decoded text is
 * never longer than the quoted one. */
static char *read_string(reader_t *r)
{
    if (r->at >= r->end || *r->at != '"') return reader_fail(r, "expected a string"), NULL;
    const char *p = ++r->at;
    char *out = malloc((size_t)(r->end - p) + 1), *o = out;
    if (!out) return mp_fail(r->err, MP_ERR_NOMEM, "%s: out of memory", r->name), r->failed = 1, NULL;
    while (p < r->end && *p != '"') {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20) { /* a raw control character: reported where it stands */
            p--;
            goto bad;
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        if (p >= r->end) goto bad;
        char e = *p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            *o++ = decoded[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned u, low;
        if (e != 'u' || r->end - p < 4 || !hex4(p, &u)) goto bad;
        p += 4;
        if (u >= 0xD800 && u < 0xDC00) { /* a surrogate pair makes one code point */
            if (r->end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &low) || low < 0xDC00 || low > 0xDFFF)
                goto bad;
            p += 6;
            u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        } else if (u >= 0xDC80 && u <= 0xDCFF) {
            /* A lone \udc80..\udcff is a byte of a name that is not UTF-8, as the writer
             * escapes it (Python's surrogateescape): the byte itself again. */
            *o++ = (char)(u - 0xDC00);
            continue;
        } else if (u >= 0xDC00 && u < 0xE000) {
            goto bad;
        }
        o += put_utf8(o, u);
    }
    if (p >= r->end) goto bad;
    r->at = p + 1;
    *o = '\0';
    return out;
bad:
    free(out);
    r->at = p;
    return reader_fail(r, "a bad string"), NULL;
}

static mp_status read_value(reader_t *r, json_value_t *v, int depth);

/* The elements of an array or the members of an object, after its opening bracket. */
static mp_status read_items(reader_t *r, json_value_t *v, int depth)
{
    const int object = v->type == JSON_OBJECT;
    const char close = object ? '}' : ']';
    size_t cap = 0;
    skip_space(r);
    if (r->at < r->end && *r->at == close) {
        r->at++;
        return MP_OK;
    }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? cap * 2 : 8;
            json_value_t *grown = realloc(v->items, cap * sizeof *grown);
            if (!grown) return r->failed = 1, mp_fail(r->err, MP_ERR_NOMEM, "%s: out of memory", r->name);
            v->items = grown;
        }
        json_value_t *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        v->n++;
        skip_space(r);
        if (object) {
            if (!(item->key = read_string(r))) return MP_ERR_FORMAT;
            skip_space(r);
            if (!take(r, ":")) return reader_fail(r, "expected ':'");
        }
        mp_status st = read_value(r, item, depth + 1);
        if (st != MP_OK) return st;
        skip_space(r);
        if (take(r, ",")) continue;
        if (r->at < r->end && *r->at == close) {
            r->at++;
            return MP_OK;
        }
        return reader_fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static mp_status read_value(reader_t *r, json_value_t *v, int depth)
{
    if (depth > JSON_MAX_DEPTH) return reader_fail(r, "nested too deeply");
    skip_space(r);
    if (r->at >= r->end) return reader_fail(r, "unexpected end");
    switch (*r->at) {
    case '{':
    case '[':
        v->type = *r->at++ == '{' ? JSON_OBJECT : JSON_ARRAY;
        return read_items(r, v, depth);
    case '"':
        v->type = JSON_STRING;
        return (v->string = read_string(r)) ? MP_OK : MP_ERR_FORMAT;
    default: break;
    }
    if (take(r, "null")) return v->type = JSON_NULL, MP_OK;
    if (take(r, "true")) return v->type = JSON_TRUE, MP_OK;
    if (take(r, "false")) return v->type = JSON_FALSE, MP_OK;
    /* A number, as JSON spells it: strtod alone would also take "nan", "0x1p3", "+1". */
    const char *p = r->at;
    if (p < r->end && *p == '-') p++;
    if (p >= r->end || *p < '0' || *p > '9') return reader_fail(r, "expected a value");
    char buf[64];
    size_t n = 0;
    while (r->at + n < r->end && n + 1 < sizeof buf && strchr("+-.eE0123456789", r->at[n])) n++;
    memcpy(buf, r->at, n);
    buf[n] = '\0';
    char *end;
    v->type = JSON_NUMBER;
    v->number = strtod(buf, &end);
    if (end != buf + n) return reader_fail(r, "a bad number");
    r->at += n;
    return MP_OK;
}

static void value_free_members(json_value_t *v)
{
    for (size_t i = 0; i < v->n; i++) value_free_members(&v->items[i]);
    free(v->items);
    free(v->key);
    free(v->string);
}

void json_value_free(json_value_t *v)
{
    if (!v) return;
    value_free_members(v);
    free(v);
}

mp_status json_parse(const char *text, size_t len, const char *name, json_value_t **out, mp_error *err)
{
    *out = NULL;
    reader_t r = {text, text + len, text, name, err, 0};
    json_value_t *root = calloc(1, sizeof *root);
    if (!root) return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", name);
    mp_status st = read_value(&r, root, 1);
    skip_space(&r);
    if (st == MP_OK && r.at != r.end) st = reader_fail(&r, "text after the value");
    if (st != MP_OK) {
        json_value_free(root);
        return st;
    }
    *out = root;
    return MP_OK;
}

const json_value_t *json_find(const json_value_t *v, const char *path)
{
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        const json_value_t *found = NULL;
        if (v->type == JSON_OBJECT)
            for (size_t i = 0; i < v->n && !found; i++)
                if (strlen(v->items[i].key) == n && !memcmp(v->items[i].key, path, n)) found = &v->items[i];
        v = found;
        path += n + (dot ? 1 : 0);
    }
    return v;
}

const char *json_find_string(const json_value_t *v, const char *path, const char *fallback)
{
    const json_value_t *found = json_find(v, path);
    return found && found->type == JSON_STRING ? found->string : fallback;
}

double json_find_number(const json_value_t *v, const char *path, double fallback)
{
    const json_value_t *found = json_find(v, path);
    return found && found->type == JSON_NUMBER ? found->number : fallback;
}
