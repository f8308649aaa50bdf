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

/* key_block: the key as HMAC pads it (64 bytes: the key, or its SHA-256 if longer, then zeros).
 * offsets/data: an Arrow large_string array's buffers (offsets[0..n], already shifted by the
 * array's offset). out: n * hex_chars bytes. Returns 0, or -1 for a bad argument. */
int hmac_sha256_hex_column(const unsigned char *key_block, const unsigned char *prefix, size_t prefix_len,
                           const int64_t *offsets, const unsigned char *data, int64_t n,
                           char *out, int hex_chars) {
    unsigned char pad[64], inner_md[32], md[32];
    SHA256_CTX inner, outer, c;
    if (hex_chars < 1 || hex_chars > 64 || n < 0) return -1;
    for (int i = 0; i < 64; i++) pad[i] = key_block[i] ^ 0x36;
    SHA256_Init(&inner);
    SHA256_Update(&inner, pad, 64);
    SHA256_Update(&inner, prefix, prefix_len);
    for (int i = 0; i < 64; i++) pad[i] = key_block[i] ^ 0x5c;
    SHA256_Init(&outer);
    SHA256_Update(&outer, pad, 64);
    for (int64_t v = 0; v < n; v++) {
        int64_t start = offsets[v], end = offsets[v + 1];
        if (end < start) return -1;
        memcpy(&c, &inner, sizeof c);
        SHA256_Update(&c, data + start, (size_t)(end - start));
        SHA256_Final(inner_md, &c);
        memcpy(&c, &outer, sizeof c);
        SHA256_Update(&c, inner_md, 32);
        SHA256_Final(md, &c);
        char *o = out + v * hex_chars;
        for (int i = 0; i < hex_chars; i++) o[i] = HEX[(md[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
    }
    return 0;
}
