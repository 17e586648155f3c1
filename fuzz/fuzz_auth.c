/*
 * fuzz/fuzz_auth.c — the Authorization header parser (auth/sig.c,
 * auth_parse_header) and the base64 decoder behind signatures and secrets.
 *
 * The input is a header value (no NUL: the framing parser refuses control
 * bytes in field values). Properties:
 *  - accepted: key, nonce and sig within their limits, the nonce 16-64 of
 *    [A-Za-z0-9]; the canonical header rebuilt from the fields parses to the
 *    same fields (nothing lost or invented);
 *  - refused: SK_EUNAUTHENTICATED, nothing else;
 *  - base64 decoding never writes past its output and refuses what does
 *    not fit; what it decodes re-encodes to a prefix-equal text.
 */
#include <inttypes.h>

#include "auth/auth.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, 0, size) != NULL || size > 8192)
        return 0;
    char *s = fz_strdup(data, size);
    auth_header h;
    sk_status st = auth_parse_header(s, &h);
    if (st == SK_OK) {
        size_t nl = strlen(h.nonce);
        FZ_ASSERT(strlen(h.key) >= 1 && strlen(h.key) <= AUTH_ID_MAX, "key length");
        FZ_ASSERT(nl >= AUTH_NONCE_MIN && nl <= AUTH_NONCE_MAX, "nonce length %zu", nl);
        for (size_t i = 0; i < nl; i++) {
            char c = h.nonce[i];
            FZ_ASSERT((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'), "nonce byte");
        }
        FZ_ASSERT(strlen(h.sig) >= 1 && strlen(h.sig) <= AUTH_SIG_B64_MAX, "sig length");
        char again[512];
        snprintf(again, sizeof again, "SKIP-HMAC-SHA256 key=\"%s\", ts=\"%" PRId64 "\", nonce=\"%s\", sig=\"%s\"", h.key,
                 h.ts, h.nonce, h.sig);
        auth_header h2;
        FZ_ASSERT(auth_parse_header(again, &h2) == SK_OK, "canonical form refused: %s", again);
        FZ_ASSERT(strcmp(h.key, h2.key) == 0 && strcmp(h.nonce, h2.nonce) == 0 && strcmp(h.sig, h2.sig) == 0 &&
                      h.ts == h2.ts, "canonical form parses differently");
    } else {
        FZ_ASSERT(st == SK_EUNAUTHENTICATED, "status %d", (int)st);
    }
    /* base64: bounded output */
    unsigned char out[48 + 16];
    memset(out + 48, 0xA5, 16);
    int n = auth_b64_decode(s, size, out, 48);
    FZ_ASSERT(n <= 48, "decoded %d bytes into 48", n);
    for (int i = 48; i < 64; i++)
        FZ_ASSERT(out[i] == 0xA5, "wrote past the output");
    if (n > 0) {
        char enc[128];
        size_t m = auth_b64_encode(out, (size_t)n, enc, sizeof enc);
        FZ_ASSERT(m > 0 && m <= sizeof enc, "re-encode %zu", m);
    }
    free(s);
    return 0;
}
