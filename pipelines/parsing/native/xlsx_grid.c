/* A workbook sheet's cells as python-calamine's ``to_python(skip_empty_area=False)`` gives them, for
 * the sheets written the plain way (see pipelines/parsing/xlsx_native.py).
 *
 * Two functions, both returning None ("not the plain way: let calamine read it") rather than
 * guessing whenever they meet something they do not handle exactly as calamine does:
 *
 *   shared_strings(xml: bytes) -> list[str] | None
 *       Every <si> of sharedStrings.xml holding one <t> of text (entities decoded), when the table
 *       holds exactly the uniqueCount it declares.
 *   sheet_grid(xml: bytes, strings: list[str], plain_styles: bytes) -> list[list] | None
 *       The grid from A1 to the last cell holding a value: floats for numbers, str for text, bool
 *       for booleans, date/datetime for numbers in a date style, "" for empty cells.
 *       plain_styles[i] is 1 when cell style i shows numbers as numbers, 2 when calamine reads it
 *       as a date (1900 date system), 0 otherwise: a number in such a style sends the sheet back.
 *
 * Handled exactly: <c r="B7" s="3" t="s|n|b|str|inlineStr"> with <v>, <f> (skipped; as calamine,
 * an <f> element after a <v> empties the cell) and <is><t>; the five named XML entities and
 * numeric character references. Sent back: cells without r, prefixed elements, error and ISO date
 * cells, rich or phonetic text, text with CR, "_x" escapes, or white space at either end of a <t>
 * without xml:space="preserve" (calamine's trimming), numbers written other than [-]digits[.digits][e[+-]digits], a number in a date style.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_GRID_CELLS (64LL * 1024 * 1024)

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_put(Buf *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        char *d = PyMem_Realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static int put_utf8(Buf *b, uint32_t cp) {
    char s[4];
    size_t n;
    if (cp < 0x80) { s[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { s[0] = (char)(0xC0 | (cp >> 6)); s[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        s[0] = (char)(0xE0 | (cp >> 12)); s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        s[0] = (char)(0xF0 | (cp >> 18)); s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); s[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return buf_put(b, s, n);
}

/* XML text [s, e) decoded into b (cleared first). 1: done; 0: not plain (send back); -1: no memory. */
static int decode_text(const char *s, const char *e, Buf *b, int trimmed_by_reader) {
    b->len = 0;
    if (trimmed_by_reader && s < e) {
        char first = *s, last = e[-1];
        if (first == ' ' || first == '\t' || first == '\n' || last == ' ' || last == '\t' || last == '\n')
            return 0;
    }
    const char *p = s;
    while (p < e) {
        const char *amp = memchr(p, '&', (size_t)(e - p));
        const char *stop = amp ? amp : e;
        for (const char *q = p; q < stop; q++) {
            if (*q == '\r' || *q == '<') return 0;
            if (*q == '_' && q + 1 < e && (q[1] == 'x' || q[1] == 'X')) return 0;
        }
        if (buf_put(b, p, (size_t)(stop - p)) < 0) return -1;
        if (!amp) break;
        const char *semi = memchr(amp, ';', (size_t)(e - amp));
        if (!semi || semi - amp > 12) return 0;
        size_t n = (size_t)(semi - amp - 1);
        const char *name = amp + 1;
        uint32_t cp = 0;
        if (n == 3 && !memcmp(name, "amp", 3)) cp = '&';
        else if (n == 2 && !memcmp(name, "lt", 2)) cp = '<';
        else if (n == 2 && !memcmp(name, "gt", 2)) cp = '>';
        else if (n == 4 && !memcmp(name, "quot", 4)) cp = '"';
        else if (n == 4 && !memcmp(name, "apos", 4)) cp = '\'';
        else if (n >= 2 && name[0] == '#') {
            int hex = name[1] == 'x';
            const char *d = name + 1 + hex;
            if (d >= semi) return 0;
            for (; d < semi; d++) {
                int v;
                if (*d >= '0' && *d <= '9') v = *d - '0';
                else if (hex && *d >= 'a' && *d <= 'f') v = *d - 'a' + 10;
                else if (hex && *d >= 'A' && *d <= 'F') v = *d - 'A' + 10;
                else return 0;
                cp = cp * (hex ? 16 : 10) + (uint32_t)v;
                if (cp > 0x10FFFF) return 0;
            }
            if ((cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
                return 0;
        } else return 0;
        if (put_utf8(b, cp) < 0) return -1;
        p = semi + 1;
    }
    if (trimmed_by_reader && b->len) {
        char first = b->data[0], last = b->data[b->len - 1];
        if (first == ' ' || first == '\t' || first == '\n' || last == ' ' || last == '\t' || last == '\n')
            return 0;
    }
    return 1;
}

/* Whether [n, e) is an XML name as workbooks write them: a letter or '_' first, then letters,
 * digits, '_', '-', '.' or ':' (an empty name is allowed here: the callers decide). */
static int name_chars(const char *n, const char *e) {
    for (const char *q = n; q < e; q++) {
        char c = *q;
        int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!(letter || (q > n && ((c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':')))) {
            if (q == n && (c == '?' || c == '!')) continue;  /* <?xml, <!-- : the callers decide */
            return 0;
        }
    }
    return 1;
}

/* The tag starting at p ('<'): its name [*name, *name_end), the end of its attributes (*attrs_end:
 * the '>' or the '/' of "/>"), whether it closes itself; returns the byte after '>' or NULL. */
static const char *read_tag(const char *p, const char *end, const char **name, const char **name_end,
                            const char **attrs_end, int *closing, int *self_closing) {
    const char *q = p + 1;
    *closing = 0;
    if (q < end && *q == '/') { *closing = 1; q++; }
    *name = q;
    while (q < end && *q != ' ' && *q != '>' && *q != '/' && *q != '\t' && *q != '\n' && *q != '\r') q++;
    *name_end = q;
    if (!name_chars(*name, q)) return NULL;
    /* attribute values may hold '>' (XML allows it): walk the quotes */
    char quote = 0;
    while (q < end) {
        if (quote) { if (*q == quote) quote = 0; }
        else if (*q == '"' || *q == '\'') quote = *q;
        else if (*q == '>') break;
        q++;
    }
    if (q >= end) return NULL;
    *self_closing = q > *name_end && q[-1] == '/';
    *attrs_end = *self_closing ? q - 1 : q;
    return q + 1;
}

static int name_is(const char *n, const char *ne, const char *want) {
    size_t len = strlen(want);
    return (size_t)(ne - n) == len && !memcmp(n, want, len);
}

/* The next attribute of [*p, e): its name [*n, *ne) and value [*v, *ve), *p moved past it.
 * 1: an attribute; 0: none left; -1: malformed (not name="value" or name='value'). */
static int next_attr(const char **p_, const char *e, const char **n, const char **ne, const char **v,
                     const char **ve) {
    const char *p = *p_;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p >= e) { *p_ = p; return 0; }
    *n = p;
    while (p < e && *p != '=' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
    *ne = p;
    if (*ne == *n || !name_chars(*n, *ne)) return -1;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p >= e || *p != '=') return -1;
    p++;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p >= e || (*p != '"' && *p != '\'')) return -1;
    char quote = *p++;
    *v = p;
    p = memchr(p, quote, (size_t)(e - p));
    if (!p) return -1;
    *ve = p;
    *p_ = p + 1;
    return 1;
}

#define MAX_ATTRS 32

/* Attribute `want` of [p, e): its value [*v, *ve). 1 found, 0 not, -1 malformed or an attribute
 * written twice (XML forbids it; calamine's reader refuses it). */
static int attr(const char *p, const char *e, const char *want, const char **v, const char **ve) {
    const char *n, *ne, *vs, *vse, *names[MAX_ATTRS], *ends[MAX_ATTRS];
    size_t wl = strlen(want);
    int rc, count = 0, found = 0;
    while ((rc = next_attr(&p, e, &n, &ne, &vs, &vse)) == 1) {
        if (count == MAX_ATTRS) return -1;
        for (int i = 0; i < count; i++)
            if (ends[i] - names[i] == ne - n && !memcmp(names[i], n, (size_t)(ne - n))) return -1;
        names[count] = n;
        ends[count++] = ne;
        if ((size_t)(ne - n) == wl && !memcmp(n, want, wl)) { *v = vs; *ve = vse; found = 1; }
    }
    return rc < 0 ? -1 : found;
}

/* Whether the attributes [p, e) are well formed (name="value" or name='value', each once). */
static int attrs_ok(const char *p, const char *e) {
    const char *v, *ve;
    return attr(p, e, "\x01", &v, &ve) >= 0;
}

static const char *skip_space(const char *p, const char *end);
static int all_digits(const char *v, const char *ve, long long *out);

#define MAX_DEPTH 64

typedef struct {
    const char *name[MAX_DEPTH];
    size_t len[MAX_DEPTH];
    int depth;
} Stack;

/* Text between tags [p, e): no '<', and every '&' a well-formed reference (the five named
 * entities or a character number). */
static int text_ok(const char *p, const char *e) {
    while ((p = memchr(p, '&', (size_t)(e - p))) != NULL) {
        const char *semi = memchr(p, ';', (size_t)(e - p));
        if (!semi || semi - p > 12 || semi - p < 3) return 0;
        const char *n = p + 1;
        size_t len = (size_t)(semi - n);
        if (!((len == 3 && !memcmp(n, "amp", 3)) || (len == 2 && (!memcmp(n, "lt", 2) || !memcmp(n, "gt", 2))) ||
              (len == 4 && (!memcmp(n, "quot", 4) || !memcmp(n, "apos", 4))))) {
            if (n[0] != '#') return 0;
            int hex = n[1] == 'x';
            const char *d = n + 1 + hex;
            if (d >= semi) return 0;
            for (; d < semi; d++)
                if (!((*d >= '0' && *d <= '9') || (hex && ((*d >= 'a' && *d <= 'f') || (*d >= 'A' && *d <= 'F')))))
                    return 0;
        }
        p = semi + 1;
    }
    return 1;
}

/* The XML [p, e) outside the cells (a sheet's head before <sheetData>, its tail after
 * </sheetData>, the part before <sst>) as calamine's XML reader demands it: tags with well-formed
 * attributes that nest (``st`` carries the open elements across), text with well-formed references,
 * declarations and comments closed; a <dimension ref> written as Excel writes it. */
static int xml_ok(const char *p, const char *e, Stack *st) {
    for (;;) {
        const char *lt = memchr(p, '<', (size_t)(e - p));
        if (!text_ok(p, lt ? lt : e)) return 0;
        if (!lt) return 1;
        p = lt;
        if (e - p > 1 && p[1] == '?') {
            const char *close = memchr(p, '>', (size_t)(e - p));
            if (!close || close[-1] != '?') return 0;
            p = close + 1;
            continue;
        }
        if (e - p > 3 && !memcmp(p, "<!--", 4)) {
            const char *q = p + 4;
            for (;;) {
                q = memchr(q, '-', (size_t)(e - q));
                if (!q || e - q < 3) return 0;
                if (!memcmp(q, "-->", 3)) break;
                q++;
            }
            p = q + 3;
            continue;
        }
        const char *n, *ne, *ae;
        int closing, self_closing;
        const char *after = read_tag(p, e, &n, &ne, &ae, &closing, &self_closing);
        if (!after || ne == n || n[0] == '!' || !attrs_ok(ne, ae)) return 0;
        if (closing) {
            if (self_closing || skip_space(ne, ae) != ae || st->depth == 0) return 0;
            int top = st->depth - 1;
            if (st->len[top] != (size_t)(ne - n) || memcmp(st->name[top], n, st->len[top])) return 0;
            st->depth--;
        } else {
            if ((size_t)(ne - n) == 9 && !memcmp(n, "dimension", 9)) {
                const char *v, *ve;
                if (attr(ne, ae, "ref", &v, &ve) != 1) return 0;
                for (int part = 0; part < 2 && v < ve; part++) {
                    int letters = 0, digits = 0;
                    while (v < ve && *v >= 'A' && *v <= 'Z') { v++; letters++; }
                    while (v < ve && *v >= '0' && *v <= '9') { v++; digits++; }
                    if (!letters || !digits || letters > 3 || digits > 7) return 0;
                    if (part == 0 && v < ve) { if (*v != ':') return 0; v++; if (v >= ve) return 0; }
                }
                if (v != ve) return 0;
            }
            if (!self_closing) {
                if (st->depth == MAX_DEPTH) return 0;
                st->name[st->depth] = n;
                st->len[st->depth] = (size_t)(ne - n);
                st->depth++;
            }
        }
        p = after;
    }
}

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* "<t ...>text</t>" at p (after white space); the text's range, and the byte after </t>. */
static const char *read_t(const char *p, const char *end, const char **ts, const char **te, int *preserve) {
    const char *n, *ne, *ae, *v, *ve;
    int closing, self;
    p = skip_space(p, end);
    if (p >= end || *p != '<') return NULL;
    const char *after = read_tag(p, end, &n, &ne, &ae, &closing, &self);
    if (!after || closing || !name_is(n, ne, "t")) return NULL;
    int found = attr(ne, ae, "xml:space", &v, &ve);
    if (found < 0) return NULL;
    *preserve = found && name_is(v, ve, "preserve");
    if (self) { *ts = *te = after; return after; }
    const char *lt = memchr(after, '<', (size_t)(end - after));
    if (!lt || end - lt < 4 || memcmp(lt, "</t>", 4)) return NULL;
    *ts = after; *te = lt;
    return lt + 4;
}


static PyObject *shared_strings(PyObject *self, PyObject *args) {
    Py_buffer in;
    if (!PyArg_ParseTuple(args, "y*", &in)) return NULL;
    const char *p = in.buf, *end = p + in.len;
    PyObject *out = PyList_New(0);
    Buf b = {0};
    if (!out) goto fail;
    const char *sst = NULL;
    for (const char *q = p; (q = memchr(q, '<', (size_t)(end - q))) != NULL; q++) {
        if (end - q > 4 && !memcmp(q, "<sst", 4) && (q[4] == ' ' || q[4] == '>')) { sst = q; break; }
        if (end - q > 1 && q[1] != '?' && q[1] != '!') goto back;  /* another element first */
    }
    Stack st = {.depth = 0};
    long long declared = -1;
    if (!sst || !xml_ok(in.buf, sst, &st) || st.depth) goto back;
    {
        const char *n, *ne, *ae;
        int closing, self_closing;
        p = read_tag(sst, end, &n, &ne, &ae, &closing, &self_closing);
        if (!p || self_closing || !attrs_ok(ne, ae)) goto back;
        /* calamine reserves room for the declared uniqueCount before it reads a string (a crafted
         * count aborts it, in its child process): a table that does not hold exactly what it
         * declares is left to calamine */
        const char *v, *ve;
        if (attr(ne, ae, "uniqueCount", &v, &ve) == 1 && !all_digits(v, ve, &declared)) goto back;
    }
    for (;;) {
        const char *n, *ne, *ae;
        int closing, self_closing;
        p = skip_space(p, end);
        if (p >= end || *p != '<') goto back;
        const char *after = read_tag(p, end, &n, &ne, &ae, &closing, &self_closing);
        if (!after) goto back;
        if (closing && name_is(n, ne, "sst")) {
            if (skip_space(after, end) != end) goto back;  /* nothing after the table but white space */
            if (declared >= 0 && declared != PyList_GET_SIZE(out)) goto back;
            break;
        }
        if (closing || self_closing || !name_is(n, ne, "si") || !attrs_ok(ne, ae)) goto back;
        const char *ts, *te;
        int preserve;
        p = read_t(after, end, &ts, &te, &preserve);
        if (!p) goto back;
        p = skip_space(p, end);
        if (end - p < 5 || memcmp(p, "</si>", 5)) goto back;
        p += 5;
        int rc = decode_text(ts, te, &b, !preserve);
        if (rc < 0) { PyErr_NoMemory(); goto fail; }
        if (rc == 0) goto back;
        PyObject *s = PyUnicode_DecodeUTF8(b.data ? b.data : "", (Py_ssize_t)b.len, NULL);
        if (!s) { PyErr_Clear(); goto back; }
        int appended = PyList_Append(out, s);
        Py_DECREF(s);
        if (appended < 0) goto fail;
    }
    PyMem_Free(b.data);
    PyBuffer_Release(&in);
    return out;
back:
    Py_XDECREF(out);
    PyMem_Free(b.data);
    PyBuffer_Release(&in);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(out);
    PyMem_Free(b.data);
    PyBuffer_Release(&in);
    return NULL;
}

typedef struct {
    uint32_t row, col;
    PyObject *value;  /* a new reference; NULL for an empty cell */
} Cell;

typedef struct {
    Cell *cells;
    size_t n, cap;
} Cells;

static int cells_add(Cells *c, uint32_t row, uint32_t col, PyObject *value) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        Cell *d = PyMem_Realloc(c->cells, cap * sizeof(Cell));
        if (!d) return -1;
        c->cells = d;
        c->cap = cap;
    }
    c->cells[c->n].row = row;
    c->cells[c->n].col = col;
    c->cells[c->n].value = value;
    c->n++;
    return 0;
}

static void cells_free(Cells *c) {
    for (size_t i = 0; i < c->n; i++) Py_XDECREF(c->cells[i].value);
    PyMem_Free(c->cells);
}

/* The attributes r, s, t and vm of a <c> in one pass: each value's range, or NULL when absent.
 * 0 when malformed or an attribute is written twice. */
static int cell_attrs(const char *p, const char *e, const char *v[4], const char *ve[4]) {
    const char *n, *ne, *vs, *vse, *names[MAX_ATTRS], *ends[MAX_ATTRS];
    int rc, count = 0;
    for (int i = 0; i < 4; i++) v[i] = ve[i] = NULL;
    while ((rc = next_attr(&p, e, &n, &ne, &vs, &vse)) == 1) {
        if (count == MAX_ATTRS) return 0;
        for (int i = 0; i < count; i++)
            if (ends[i] - names[i] == ne - n && !memcmp(names[i], n, (size_t)(ne - n))) return 0;
        names[count] = n;
        ends[count++] = ne;
        int which = -1;
        if (ne - n == 1) which = *n == 'r' ? 0 : *n == 's' ? 1 : *n == 't' ? 2 : -1;
        else if (ne - n == 2 && n[0] == 'v' && n[1] == 'm') which = 3;
        if (which >= 0) {
            if (v[which]) return 0;
            v[which] = vs;
            ve[which] = vse;
        }
    }
    return rc == 0;
}

/* "B7" -> row 6, col 1 (0-based). 0 when not written as [A-Z]{1,3}[1-9][0-9]{0,6}. */
static int cell_ref(const char *v, const char *ve, uint32_t *row, uint32_t *col) {
    uint32_t c = 0, r = 0;
    int letters = 0, digits = 0;
    while (v < ve && *v >= 'A' && *v <= 'Z') { c = c * 26 + (uint32_t)(*v - 'A' + 1); v++; letters++; }
    if (letters < 1 || letters > 3 || v >= ve || *v == '0') return 0;
    while (v < ve && *v >= '0' && *v <= '9') { r = r * 10 + (uint32_t)(*v - '0'); v++; digits++; }
    if (v != ve || digits < 1 || digits > 7 || c > 16384) return 0;
    *row = r - 1;
    *col = c - 1;
    return 1;
}

static int all_digits(const char *v, const char *ve, long long *out) {
    long long n = 0;
    if (v >= ve || ve - v > 12) return 0;
    for (; v < ve; v++) {
        if (*v < '0' || *v > '9') return 0;
        n = n * 10 + (*v - '0');
    }
    *out = n;
    return 1;
}

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* [-]digits[.digits] (no exponent) with at most 15 significant digits and 22 decimals: the digits
 * as an integer and one division by an exact power of ten, which IEEE rounds correctly, so the
 * result is the correctly rounded double strtod and calamine give. 0: not this simple case. */
static int fast_decimal(const char *v, const char *ve, double *out) {
    const char *p = v;
    int negative = 0, digits = 0, decimals = 0, dot = 0;
    uint64_t m = 0;
    if (*p == '-') { negative = 1; p++; }
    for (; p < ve; p++) {
        if (*p == '.') { if (dot) return 0; dot = 1; continue; }
        if (*p < '0' || *p > '9') return 0;
        if (m || *p != '0') digits++;
        if (digits > 15) return 0;
        m = m * 10 + (uint64_t)(*p - '0');
        if (dot) decimals++;
    }
    if (decimals > 22) return 0;
    double d = (double)m;  /* exact: m < 10^15 < 2^53 */
    if (decimals) d /= POW10[decimals];
    *out = negative ? -d : d;
    return 1;
}

/* [-]digits[.digits][(e|E)[+-]digits], or [-].digits...: the number, else 0. */
static int plain_number(const char *v, const char *ve, double *out) {
    const char *p = v;
    char tmp[64];
    int mant = 0;
    if (ve - v <= 0 || ve - v >= (long)sizeof(tmp)) return 0;
    if (p < ve && *p == '-') p++;
    while (p < ve && *p >= '0' && *p <= '9') { p++; mant++; }
    if (p < ve && *p == '.') { p++; while (p < ve && *p >= '0' && *p <= '9') { p++; mant++; } }
    if (!mant) return 0;
    if (p < ve && (*p == 'e' || *p == 'E')) {
        int exp = 0;
        p++;
        if (p < ve && (*p == '+' || *p == '-')) p++;
        while (p < ve && *p >= '0' && *p <= '9') { p++; exp++; }
        if (!exp) return 0;
    }
    if (p != ve) return 0;
    if (fast_decimal(v, ve, out)) return 1;
    memcpy(tmp, v, (size_t)(ve - v));
    tmp[ve - v] = 0;
    char *stop;
    *out = PyOS_string_to_double(tmp, &stop, NULL);
    if (*stop || (*out == -1.0 && PyErr_Occurred())) { PyErr_Clear(); return 0; }
    return 1;
}

enum { T_N, T_S, T_B, T_STR, T_INLINE };
enum { STYLE_OTHER = 0, STYLE_NUMBER = 1, STYLE_DATE = 2 };

/* Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant's civil_from_days). */
static void civil_from_days(long long z, int *y, int *m, int *d) {
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

#define EXCEL_EPOCH_DAYS (-25569LL)  /* 1899-12-30 in days since 1970-01-01 */

/* A serial number in a date style as python-calamine gives it (1900 date system): a date when
 * whole, else a datetime at calamine's millisecond (rounded half away from zero). NULL with no
 * error set for what this path leaves to calamine: serials below 60 (times, and Excel's fictitious
 * 1900-02-29), and years past 9999. */
static PyObject *excel_date(double v) {
    if (!(v >= 60.0) || v > 2958465.0) return NULL;
    int y, m, d;
    if (v == floor(v)) {
        civil_from_days(EXCEL_EPOCH_DAYS + (long long)v, &y, &m, &d);
        return PyDate_FromDate(y, m, d);
    }
    long long ms = (long long)round(v * 86400000.0);
    long long days = ms / 86400000LL, rest = ms % 86400000LL;
    civil_from_days(EXCEL_EPOCH_DAYS + days, &y, &m, &d);
    if (y > 9999) return NULL;
    return PyDateTime_FromDateAndTime(y, m, d, (int)(rest / 3600000), (int)(rest / 60000 % 60),
                                      (int)(rest / 1000 % 60), (int)(rest % 1000) * 1000);
}

static PyObject *sheet_grid(PyObject *self, PyObject *args) {
    Py_buffer in, styles;
    PyObject *strings;
    if (!PyArg_ParseTuple(args, "y*O!y*", &in, &PyList_Type, &strings, &styles)) return NULL;
    const char *p = in.buf, *end = p + in.len;
    const unsigned char *plain = styles.buf;
    Py_ssize_t n_styles = styles.len, n_strings = PyList_GET_SIZE(strings);
    Cells cells = {0};
    Buf b = {0};
    PyObject *grid = NULL, *empty = NULL;
    long long last_row = -1, last_col = -1;
    int sent_back = 0, failed = 0;

    /* thousands of new lists would otherwise start the cyclic collector again and again */
    int gc_was_enabled = PyGC_Disable();
    const char *sd = NULL;
    for (const char *q = p; (q = memchr(q, '<', (size_t)(end - q))) != NULL; q++)
        if (end - q > 10 && !memcmp(q, "<sheetData", 10) && (q[10] == ' ' || q[10] == '>' || q[10] == '/')) { sd = q; break; }
    Stack st = {.depth = 0};
    if (!sd || !xml_ok(p, sd, &st) || st.depth != 1 || !name_is(st.name[0], st.name[0] + st.len[0], "worksheet")) {
        sent_back = 1;
        goto done;
    }
    {
        const char *n, *ne, *ae;
        int closing, self_closing;
        p = read_tag(sd, end, &n, &ne, &ae, &closing, &self_closing);
        if (!p || !attrs_ok(ne, ae)) { sent_back = 1; goto done; }
        if (self_closing) {
            if (!xml_ok(p, end, &st) || st.depth) { sent_back = 1; goto done; }
            goto build;
        }
    }
    int in_row = 0;
    for (;;) {
        const char *n, *ne, *ae;
        int closing, self_closing;
        p = skip_space(p, end);  /* between rows and cells: white space only */
        if (p >= end || *p != '<') { sent_back = 1; goto done; }
        const char *after = read_tag(p, end, &n, &ne, &ae, &closing, &self_closing);
        if (!after) { sent_back = 1; goto done; }
        if (name_is(n, ne, "row")) {  /* a row's r, when written, must be its number */
            const char *v, *ve;
            long long r;
            int found = closing ? 0 : attr(ne, ae, "r", &v, &ve);
            if (found < 0 || !attrs_ok(ne, ae) || (found && (!all_digits(v, ve, &r) || r < 1 || *v == '0')) ||
                (closing ? !in_row || self_closing || skip_space(ne, ae) != ae : in_row)) {
                sent_back = 1;
                goto done;
            }
            if (!self_closing) in_row = !closing;
            p = after;
            continue;
        }
        if (closing && name_is(n, ne, "sheetData")) {
            if (in_row || skip_space(ne, ae) != ae || !xml_ok(after, end, &st) || st.depth ||
                skip_space(after, end) == end) {
                sent_back = 1;
                goto done;
            }
            break;
        }
        if (closing || !name_is(n, ne, "c")) { sent_back = 1; goto done; }
        /* a cell */
        const char *av[4], *ave[4];
        uint32_t row, col;
        if (!cell_attrs(ne, ae, av, ave) || !av[0] || !cell_ref(av[0], ave[0], &row, &col) || av[3]) {
            sent_back = 1;
            goto done;
        }
        int type = T_N;
        if (av[2]) {
            const char *v = av[2], *ve = ave[2];
            if (name_is(v, ve, "s")) type = T_S;
            else if (name_is(v, ve, "n")) type = T_N;
            else if (name_is(v, ve, "b")) type = T_B;
            else if (name_is(v, ve, "str")) type = T_STR;
            else if (name_is(v, ve, "inlineStr")) type = T_INLINE;
            else { sent_back = 1; goto done; }
        }
        long long style = -1;
        if (av[1] && !all_digits(av[1], ave[1], &style)) { sent_back = 1; goto done; }
        p = after;
        PyObject *value = NULL;  /* Empty */
        if (!self_closing) {
            for (;;) {
                const char *cn, *cne, *cae;
                int cclosing, cself;
                p = skip_space(p, end);
                if (p >= end || *p != '<') { sent_back = 1; goto cell_out; }
                const char *cafter = read_tag(p, end, &cn, &cne, &cae, &cclosing, &cself);
                if (!cafter || !attrs_ok(cne, cae)) { sent_back = 1; goto cell_out; }
                if (cclosing) {
                    if (!name_is(cn, cne, "c")) { sent_back = 1; goto cell_out; }
                    p = cafter;
                    break;
                }
                if (cself) { p = cafter; continue; }  /* <v/>, <f .../>: no Start event, value kept */
                if (name_is(cn, cne, "f")) {
                    /* formula text holds no '<' (it would be escaped): the next one closes it */
                    const char *close = memchr(cafter, '<', (size_t)(end - cafter));
                    if (!close || end - close < 4 || memcmp(close, "</f>", 4)) { sent_back = 1; goto cell_out; }
                    Py_CLEAR(value);
                    p = close + 4;
                    continue;
                }
                if (name_is(cn, cne, "is")) {
                    const char *ts, *te;
                    int preserve;
                    const char *q = read_t(cafter, end, &ts, &te, &preserve);
                    if (!q) { sent_back = 1; goto cell_out; }
                    q = skip_space(q, end);
                    if (end - q < 5 || memcmp(q, "</is>", 5)) { sent_back = 1; goto cell_out; }
                    p = q + 5;
                    int rc = decode_text(ts, te, &b, !preserve);
                    if (rc < 0) { failed = 1; goto cell_out; }
                    if (rc == 0) { sent_back = 1; goto cell_out; }
                    Py_CLEAR(value);
                    if (type == T_INLINE || type == T_N) {
                        /* calamine reads <is> whatever the type */
                        value = PyUnicode_DecodeUTF8(b.data ? b.data : "", (Py_ssize_t)b.len, NULL);
                        if (!value) { PyErr_Clear(); sent_back = 1; goto cell_out; }
                    } else { sent_back = 1; goto cell_out; }
                    continue;
                }
                if (!name_is(cn, cne, "v")) { sent_back = 1; goto cell_out; }
                const char *vs = cafter;
                const char *lt = memchr(vs, '<', (size_t)(end - vs));
                if (!lt || end - lt < 4 || memcmp(lt, "</v>", 4)) { sent_back = 1; goto cell_out; }
                p = lt + 4;
                if (type == T_INLINE) continue;  /* its <v> is ignored, the value kept */
                Py_CLEAR(value);
                if (lt == vs) {  /* <v></v> */
                    if (type == T_STR) { sent_back = 1; goto cell_out; }
                    continue;
                }
                if (type == T_N) {
                    double d;
                    if (!plain_number(vs, lt, &d)) { sent_back = 1; goto cell_out; }
                    int kind = style < 0 ? STYLE_NUMBER : style < n_styles ? plain[style] : STYLE_OTHER;
                    if (kind == STYLE_NUMBER) value = PyFloat_FromDouble(d);
                    else if (kind == STYLE_DATE) {
                        value = excel_date(d);
                        if (!value && !PyErr_Occurred()) { sent_back = 1; goto cell_out; }
                    } else { sent_back = 1; goto cell_out; }
                } else if (type == T_S) {
                    long long idx;
                    if (!all_digits(vs, lt, &idx) || idx >= n_strings) { sent_back = 1; goto cell_out; }
                    value = PyList_GET_ITEM(strings, idx);
                    Py_INCREF(value);
                } else if (type == T_B) {
                    if (lt - vs != 1 || (*vs != '0' && *vs != '1')) { sent_back = 1; goto cell_out; }
                    value = PyBool_FromLong(*vs == '1');
                } else {  /* T_STR: no trimming */
                    int rc = decode_text(vs, lt, &b, 0);
                    if (rc < 0) { failed = 1; goto cell_out; }
                    if (rc == 0 || b.len == 0) { sent_back = 1; goto cell_out; }
                    value = PyUnicode_DecodeUTF8(b.data, (Py_ssize_t)b.len, NULL);
                    if (!value) { PyErr_Clear(); sent_back = 1; goto cell_out; }
                }
                if (!value) { failed = 1; goto cell_out; }
            }
        }
        if (value) {
            if (cells_add(&cells, row, col, value) < 0) { failed = 1; goto cell_out; }
            if ((long long)row > last_row) last_row = row;
            if ((long long)col > last_col) last_col = col;
        }
        continue;
cell_out:
        Py_XDECREF(value);
        goto done;
    }
build:
    if (last_row < 0) { grid = PyList_New(0); goto done; }
    if ((last_row + 1) * (last_col + 1) > MAX_GRID_CELLS) { sent_back = 1; goto done; }
    empty = PyUnicode_FromStringAndSize("", 0);
    grid = PyList_New((Py_ssize_t)last_row + 1);
    if (!empty || !grid) { failed = 1; goto done; }
    for (long long r = 0; r <= last_row; r++) {
        PyObject *row = PyList_New((Py_ssize_t)last_col + 1);
        if (!row) { failed = 1; goto done; }
        for (long long c = 0; c <= last_col; c++) {
            Py_INCREF(empty);
            PyList_SET_ITEM(row, c, empty);
        }
        PyList_SET_ITEM(grid, r, row);
    }
    for (size_t i = 0; i < cells.n; i++) {  /* in document order: a later cell at the same place wins */
        PyObject *row = PyList_GET_ITEM(grid, cells.cells[i].row);
        PyList_SetItem(row, cells.cells[i].col, cells.cells[i].value);  /* steals the reference */
        cells.cells[i].value = NULL;
    }
done:
    if (gc_was_enabled) PyGC_Enable();
    cells_free(&cells);
    PyMem_Free(b.data);
    Py_XDECREF(empty);
    PyBuffer_Release(&in);
    PyBuffer_Release(&styles);
    if (failed) {
        Py_XDECREF(grid);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    if (sent_back) {
        Py_XDECREF(grid);
        Py_RETURN_NONE;
    }
    return grid;
}

static PyMethodDef methods[] = {
    {"shared_strings", shared_strings, METH_VARARGS, "sharedStrings.xml -> list of str, or None"},
    {"sheet_grid", sheet_grid, METH_VARARGS, "sheet XML, shared strings, plain styles -> grid, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_xlsx_grid", NULL, -1, methods};

PyMODINIT_FUNC PyInit__xlsx_grid(void) {
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) return NULL;
    return PyModule_Create(&module);
}
