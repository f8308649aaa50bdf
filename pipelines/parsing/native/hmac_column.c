/* HMAC-SHA256 over a whole Arrow string column, in one call (pipelines/parsing/native/__init__.py).
 *
 * The Python loop costs about 1 us a value, most of it the interpreter; this runs the same two
 * SHA-256 passes per value through OpenSSL's libcrypto (SHA-NI where the CPU has it) at about
 * 0.2 us. Token = hex(HMAC-SHA256(key, prefix || value))[:hex_chars], as Pseudonymiser.token_one.
 *
 * libcrypto is not linked here: the loader opens it with RTLD_GLOBAL first (the one Python's own
 * hashlib uses), so the build needs a C compiler only, no OpenSSL headers. The context struct is
 * OpenSSL's public SHA256_CTX, unchanged since 0.9.8.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    unsigned int h[8];
    unsigned int Nl, Nh;
    unsigned int data[16];
    unsigned int num, md_len;
} SHA256_CTX;

int SHA256_Init(SHA256_CTX *c);
int SHA256_Update(SHA256_CTX *c, const void *data, size_t len);
int SHA256_Final(unsigned char *md, SHA256_CTX *c);

static const char HEX[] = "0123456789abcdef";

/* inner/outer: SHA-256 states after the padded key blocks (and the prefix, inner), hashed once per column. */
static void hmac_start(const unsigned char *key_block, const unsigned char *prefix, size_t prefix_len,
                       SHA256_CTX *inner, SHA256_CTX *outer) {
    unsigned char pad[64];
    for (int i = 0; i < 64; i++) pad[i] = key_block[i] ^ 0x36;
    SHA256_Init(inner);
    SHA256_Update(inner, pad, 64);
    SHA256_Update(inner, prefix, prefix_len);
    for (int i = 0; i < 64; i++) pad[i] = key_block[i] ^ 0x5c;
    SHA256_Init(outer);
    SHA256_Update(outer, pad, 64);
}

/* hex(HMAC(prefix || message))[:hex_chars] into o, from the states of hmac_start. */
static void hmac_hex(const SHA256_CTX *inner, const SHA256_CTX *outer, const unsigned char *message, size_t len,
                     char *o, int hex_chars) {
    unsigned char inner_md[32], md[32];
    SHA256_CTX c;
    memcpy(&c, inner, sizeof c);
    SHA256_Update(&c, message, len);
    SHA256_Final(inner_md, &c);
    memcpy(&c, outer, sizeof c);
    SHA256_Update(&c, inner_md, 32);
    SHA256_Final(md, &c);
    for (int i = 0; i < hex_chars; i++) o[i] = HEX[(md[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
}

/* key_block: the key as HMAC pads it (64 bytes: the key, or its SHA-256 if longer, then zeros).
 * offsets/data: an Arrow large_string array's buffers (offsets[0..n], already shifted by the
 * array's offset). out: n * hex_chars bytes. Returns 0, or -1 for a bad argument. */
int hmac_sha256_hex_column(const unsigned char *key_block, const unsigned char *prefix, size_t prefix_len,
                           const int64_t *offsets, const unsigned char *data, int64_t n,
                           char *out, int hex_chars) {
    SHA256_CTX inner, outer;
    if (hex_chars < 1 || hex_chars > 64 || n < 0) return -1;
    hmac_start(key_block, prefix, prefix_len, &inner, &outer);
    for (int64_t v = 0; v < n; v++) {
        int64_t start = offsets[v], end = offsets[v + 1];
        if (end < start) return -1;
        hmac_hex(&inner, &outer, data + start, (size_t)(end - start), out + v * hex_chars, hex_chars);
    }
    return 0;
}

/* Whether byte c is white space the fast path squeezes: space, tab, CR, LF. */
static int squeezed_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Whether byte c makes a value one for Python to normalise (Unicode trimming and upper case). */
static int not_plain(unsigned char c) { return c >= 0x80 || c == 0x7f || (c < 0x20 && !squeezed_space(c)); }

static int is_valid(const unsigned char *validity, int64_t offset, int64_t v) {
    if (!validity) return 1;
    int64_t bit = offset + v;
    return (validity[bit >> 3] >> (bit & 7)) & 1;
}

/* Appends bytes [from, to) to scratch at *len: runs of space/tab/CR/LF become one space (not at the
 * start of the text, *len 0; a run at the end stays *pending for the next call, or is dropped), a-z
 * become A-Z. Returns 0, or 1 at a byte that is not plain. */
static int squeeze_upper(const unsigned char *from, const unsigned char *to, unsigned char *scratch, size_t *len,
                         int *pending) {
    for (; from < to; from++) {
        unsigned char ch = *from;
        if (not_plain(ch)) return 1;
        if (squeezed_space(ch)) { *pending = 1; continue; }
        if (*pending && *len) scratch[(*len)++] = ' ';
        *pending = 0;
        scratch[(*len)++] = (ch >= 'a' && ch <= 'z') ? (unsigned char)(ch - 32) : ch;
    }
    return 0;
}

/* Pseudonyms of raw text values in one pass (Pseudonymiser.token and .scoped_token): each value
 * normalised as normalise_identity does (runs of space/tab/CR/LF become one space, trimmed, upper
 * case), then, when a suffix column is given, sep and the row's suffix appended (null: empty) and
 * the whole normalised once more (as normalise_identity(norm + sep + suffix)); then
 * hex(HMAC-SHA256(key, prefix || text))[:hex_chars].
 *
 * A null value counts as empty. A row gets no token (out_valid[v] = 0) when selected is given and
 * selected[v] is 0, or when its value normalises to empty and empty_gives_null is set. Only plain
 * printable ASCII (plus tab, CR, LF) is handled here: a value or suffix with any other byte gets
 * fallback[v] = 1, and is left to the caller. validity: Arrow's bitmap (from validity_offset), or
 * NULL when every value is present. scratch: at least the longest value + sep + longest suffix.
 * Returns the number of fallback rows, or -1 for a bad argument. */
int64_t normalise_hmac_hex_column(const unsigned char *key_block, const unsigned char *prefix, size_t prefix_len,
                                  const int64_t *offsets, const unsigned char *data,
                                  const unsigned char *validity, int64_t validity_offset, int64_t n,
                                  const int64_t *suffix_offsets, const unsigned char *suffix_data,
                                  const unsigned char *suffix_validity, int64_t suffix_validity_offset,
                                  const unsigned char *sep, size_t sep_len, int empty_gives_null,
                                  const unsigned char *selected,
                                  char *out, unsigned char *out_valid, unsigned char *fallback,
                                  unsigned char *scratch, int hex_chars) {
    SHA256_CTX inner, outer;
    int64_t n_fallback = 0;
    if (hex_chars < 1 || hex_chars > 64 || n < 0) return -1;
    hmac_start(key_block, prefix, prefix_len, &inner, &outer);
    for (int64_t v = 0; v < n; v++) {
        out_valid[v] = 0;
        fallback[v] = 0;
        if (selected && !selected[v]) continue;
        size_t len = 0;
        int pending = 0;
        if (is_valid(validity, validity_offset, v)) {
            if (offsets[v + 1] < offsets[v]) return -1;
            if (squeeze_upper(data + offsets[v], data + offsets[v + 1], scratch, &len, &pending)) {
                fallback[v] = 1; n_fallback++; continue;
            }
        }
        if (!len && empty_gives_null) continue;
        if (suffix_offsets) {
            /* normalise(norm + sep + suffix): norm stays as it is (its trailing space was trimmed),
             * sep and suffix are squeezed as one text and upper-cased, and the end is trimmed */
            pending = 0;
            int bad = squeeze_upper(sep, sep + sep_len, scratch, &len, &pending);
            if (!bad && is_valid(suffix_validity, suffix_validity_offset, v)) {
                if (suffix_offsets[v + 1] < suffix_offsets[v]) return -1;
                bad = squeeze_upper(suffix_data + suffix_offsets[v], suffix_data + suffix_offsets[v + 1], scratch,
                                    &len, &pending);
            }
            if (bad) { fallback[v] = 1; n_fallback++; continue; }
        }
        hmac_hex(&inner, &outer, scratch, len, out + v * hex_chars, hex_chars);
        out_valid[v] = 1;
    }
    return n_fallback;
}

/* xlsx_limits._extent_canonical in one pass over a chunk of sheet XML: the last row and column of
 * the cells when every cell is written <c r="AB12" ...> (no namespace prefix, 1-3 letters, 1-7
 * digits). Returns 1 with *rows and *cols set, or 0 when some cell is written otherwise (a cell
 * without r, or with a prefix: the caller's exact reading decides). Empty cells count too. */
static unsigned char at_or_0(const unsigned char *xml, int64_t n, int64_t i) { return i < n ? xml[i] : 0; }
static int cell_end(unsigned char c) { return c == ' ' || c == '>' || c == '/' || (c >= 9 && c <= 13); }

int sheet_extent_canonical(const unsigned char *xml, int64_t n, int64_t *rows, int64_t *cols) {
    int64_t last_row = 0, last_col = 0;
    for (int64_t i = 0; i < n; i++) {
        unsigned char ch = xml[i];
        if (ch == ':' && at_or_0(xml, n, i + 1) == 'c' && cell_end(at_or_0(xml, n, i + 2))) return 0;
        if (ch != '<' || at_or_0(xml, n, i + 1) != 'c' || !cell_end(at_or_0(xml, n, i + 2))) continue;
        if (at_or_0(xml, n, i + 2) != ' ' || at_or_0(xml, n, i + 3) != 'r' || at_or_0(xml, n, i + 4) != '='
            || at_or_0(xml, n, i + 5) != '"') return 0;
        int64_t p = i + 6, col = 0, row = 0;
        int letters = 0, digits = 0;
        while (letters < 4) {
            unsigned char c = at_or_0(xml, n, p);
            if (c < 'A' || c > 'Z') break;
            col = col * 26 + (c - 'A' + 1);
            letters++; p++;
        }
        if (letters < 1 || letters > 3) return 0;
        while (digits < 8) {
            unsigned char c = at_or_0(xml, n, p);
            if (c < '0' || c > '9') break;
            row = row * 10 + (c - '0');
            digits++; p++;
        }
        if (digits < 1 || digits > 7 || at_or_0(xml, n, p) != '"') return 0;
        if (row > last_row) last_row = row;
        if (col > last_col) last_col = col;
    }
    *rows = last_row;
    *cols = last_col;
    return 1;
}
