/* tests/unit/test_auth.c — spec §10 (pure parts): the key file, the
 * Authorization header, the request and response signatures (fixed vectors
 * computed independently with Python's hmac/hashlib), and the role x route
 * table with merchant scope. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "auth/auth.h"
#include "auth/evsig.h"
#include "rpc/route.h"

#define SECRET_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* bytes 0..31 */
#define NOW 1764547200LL

static const char *const GOOD =
    "keys:\n"
    "  - id: cashier-m1\n"
    "    secret: \"" SECRET_B64 "\"\n"
    "    role: cashier\n"
    "    merchants: [m1]\n"
    "  - id: cashier-m1-new\n"
    "    caller: cashier-m1\n"
    "    secret: \"" SECRET_B64 "\"\n"
    "    role: cashier\n"
    "    merchants: [m1]\n"
    "    not_after: \"2027-01-01T00:00:00Z\"\n"
    "  - id: admin\n"
    "    secret: \"" SECRET_B64 "\"\n"
    "    role: admin\n"
    "    merchants: [\"*\"]\n"
    "  - id: old\n"
    "    secret: \"" SECRET_B64 "\"\n"
    "    role: observer\n"
    "    merchants: [\"*\"]\n"
    "    not_after: \"2025-01-01T00:00:00Z\"\n";

START_TEST(key_file_parses)
{
    char err[256];
    auth_keys *k = auth_keys_parse("keys.yaml", GOOD, strlen(GOOD), NOW, err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    ck_assert_int_eq(k->n, 4);
    const auth_key *c = auth_key_find(k, "cashier-m1", NOW);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->role, ROLE_CASHIER);
    ck_assert_int_eq((int)c->secret_len, 32);
    ck_assert_int_eq(c->secret[31], 31);
    ck_assert_str_eq(c->caller, "cashier-m1");
    ck_assert(auth_merchant_allowed(c, "m1"));
    ck_assert(!auth_merchant_allowed(c, "m2"));
    const auth_key *a = auth_key_find(k, "admin", NOW);
    ck_assert(a->all_merchants && auth_merchant_allowed(a, "anything"));
    /* expired and unknown keys are not found */
    ck_assert_ptr_null(auth_key_find(k, "old", NOW));
    ck_assert_ptr_null(auth_key_find(k, "nobody", NOW));
    ck_assert_ptr_nonnull(auth_key_find(k, "cashier-m1-new", NOW));
    ck_assert_ptr_null(auth_key_find(k, "cashier-m1-new", 1798761600LL)); /* past its not_after */
    auth_keys_free(k);
}
END_TEST

/* Every way a key file is wrong: refused whole, with file:line. */
START_TEST(key_file_errors)
{
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"", "expected a mapping"},
        {"keys: []\n", "non-empty list"},
        {"other: 1\n", "unknown key 'other'"},
        {"keys:\n  - id: a\n    role: admin\n    merchants: [\"*\"]\n", "missing required key 'secret'"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    merchants: [\"*\"]\n", "'role'"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    role: admin\n", "'merchants'"},
        {"keys:\n  - secret: \"" SECRET_B64 "\"\n    role: admin\n    merchants: [\"*\"]\n", "'id'"},
        {"keys:\n  - id: a\n    secret: \"c2hvcnQ=\"\n    role: admin\n    merchants: [\"*\"]\n", "at least 32"},
        {"keys:\n  - id: a\n    secret: \"not base64!\"\n    role: admin\n    merchants: [\"*\"]\n", "not base64"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    role: root\n    merchants: [\"*\"]\n", "role"},
        {"keys:\n  - id: a b\n    secret: \"" SECRET_B64 "\"\n    role: admin\n    merchants: [\"*\"]\n", "id"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    role: admin\n    merchants: []\n", "non-empty"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    role: admin\n    merchants: [\"*\", m1]\n", "alone"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    role: admin\n    merchants: [\"m 1\"]\n", "merchant"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    role: admin\n    merchants: [m1]\n    not_after: soon\n",
         "not_after"},
        {"keys:\n  - id: a\n    secret: \"" SECRET_B64 "\"\n    role: admin\n    merchants: [m1]\n    color: red\n",
         "unknown key 'color'"},
        {"keys:\n  - {id: a, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1]}\n"
         "  - {id: a, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1]}\n",
         "duplicate id"},
        /* three live keys for one caller: rotation allows two */
        {"keys:\n  - {id: a, caller: c, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1]}\n"
         "  - {id: b, caller: c, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1]}\n"
         "  - {id: d, caller: c, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1]}\n",
         "at most two"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        auth_keys *k = auth_keys_parse("keys.yaml", bad[i].yaml, strlen(bad[i].yaml), NOW, err, sizeof err);
        ck_assert_msg(k == NULL, "case %zu loaded", i);
        ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: want '%s' in '%s'", i, bad[i].want, err);
        ck_assert_msg(strncmp(err, "keys.yaml:", 10) == 0, "case %zu: no file prefix: %s", i, err);
    }
    /* an expired third key does not count against rotation */
    const char *ok = "keys:\n  - {id: a, caller: c, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1]}\n"
                     "  - {id: b, caller: c, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1]}\n"
                     "  - {id: d, caller: c, secret: \"" SECRET_B64 "\", role: admin, merchants: [m1], "
                     "not_after: \"2020-01-01T00:00:00Z\"}\n";
    char err[256];
    auth_keys *k = auth_keys_parse("keys.yaml", ok, strlen(ok), NOW, err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    auth_keys_free(k);
}
END_TEST

START_TEST(key_file_mode_is_checked)
{
    char path[] = "/tmp/skip-keys-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, GOOD, strlen(GOOD)), (int)strlen(GOOD));
    close(fd);
    char err[256] = "";
    ck_assert_int_eq(chmod(path, 0644), 0);
    auth_keys *k = auth_keys_load(path, NOW, err, sizeof err);
    ck_assert_ptr_null(k);
    ck_assert_msg(strstr(err, "0644") && strstr(err, "chmod 600"), "%s", err);
    ck_assert_int_eq(chmod(path, 0600), 0);
    k = auth_keys_load(path, NOW, err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    auth_keys_free(k);
    unlink(path);
    ck_assert_ptr_null(auth_keys_load(path, NOW, err, sizeof err));
}
END_TEST

START_TEST(header_parses_strictly)
{
    auth_header h;
    ck_assert_int_eq(auth_parse_header("SKIP-HMAC-SHA256 key=\"cashier-m1\", ts=\"1764547200\", "
                                       "nonce=\"abcdefghijklmnop\", sig=\"dMxTTEt3R2/ba4Bzs496D9LXpRoOynXgdvw8ZCmJXOY=\"",
                                       &h),
                     SK_OK);
    ck_assert_str_eq(h.key, "cashier-m1");
    ck_assert_int_eq(h.ts, 1764547200LL);
    ck_assert_str_eq(h.nonce, "abcdefghijklmnop");
    /* any order, no spaces after commas */
    ck_assert_int_eq(auth_parse_header("SKIP-HMAC-SHA256 sig=\"x\",nonce=\"abcdefghijklmnop\",ts=\"1\",key=\"k\"", &h),
                     SK_OK);
    static const char *const bad[] = {
        NULL, "", "Bearer abc", "SKIP-HMAC-SHA256", "SKIP-HMAC-SHA256 ",
        "skip-hmac-sha256 key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop\"",                       /* no sig */
        "SKIP-HMAC-SHA256 key=\"k\", key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\"", /* twice */
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1\", nonce=\"short\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop!\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"-1\", nonce=\"abcdefghijklmnop\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1x\", nonce=\"abcdefghijklmnop\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1234567890123\", nonce=\"abcdefghijklmnop\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\" ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\"",           /* no comma */
        "SKIP-HMAC-SHA256 key=k, ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\"",              /* unquoted */
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\", extra=\"1\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\" trailing",
        "SKIP-HMAC-SHA256 key=\"k k\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"a b\"",
        "SKIP-HMAC-SHA256 key=\"\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x\"",
        "SKIP-HMAC-SHA256 key=\"k\", ts=\"1\", nonce=\"abcdefghijklmnop\", sig=\"x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(auth_parse_header(bad[i], &h) == SK_EUNAUTHENTICATED, "accepted case %zu", i);
    char longv[700];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    ck_assert_int_eq(auth_parse_header(longv, &h), SK_EUNAUTHENTICATED);
}
END_TEST

/* The vector: POST /v1/orders?x=1, ts 1764547200, nonce abcdefghijklmnop,
 * body {"a":1}, secret bytes 0..31 (computed with Python hmac). */
START_TEST(request_signature_vector)
{
    char err[256];
    auth_keys *ks = auth_keys_parse("keys.yaml", GOOD, strlen(GOOD), NOW, err, sizeof err);
    const auth_key *k = auth_key_find(ks, "cashier-m1", NOW);
    auth_header h;
    ck_assert_int_eq(auth_parse_header("SKIP-HMAC-SHA256 key=\"cashier-m1\", ts=\"1764547200\", "
                                       "nonce=\"abcdefghijklmnop\", sig=\"dMxTTEt3R2/ba4Bzs496D9LXpRoOynXgdvw8ZCmJXOY=\"",
                                       &h),
                     SK_OK);
    const char *body = "{\"a\":1}";
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orders?x=1", body, strlen(body), NOW), SK_OK);
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orders?x=1", body, strlen(body), NOW + 300), SK_OK);
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orders?x=1", body, strlen(body), NOW - 300), SK_OK);
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orders?x=1", body, strlen(body), NOW + 301), SK_EREQUEST_EXPIRED);
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orders?x=1", body, strlen(body), NOW - 301), SK_EREQUEST_EXPIRED);
    /* one byte of method, path, query, body changed */
    ck_assert_int_eq(auth_verify(k, &h, "PUT", "/v1/orders?x=1", body, strlen(body), NOW), SK_ESIGNATURE_INVALID);
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orderz?x=1", body, strlen(body), NOW), SK_ESIGNATURE_INVALID);
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orders?x=2", body, strlen(body), NOW), SK_ESIGNATURE_INVALID);
    ck_assert_int_eq(auth_verify(k, &h, "POST", "/v1/orders?x=1", "{\"a\":2}", 7, NOW), SK_ESIGNATURE_INVALID);
    /* ts and nonce are signed too */
    auth_header h2 = h;
    h2.ts++;
    ck_assert_int_eq(auth_verify(k, &h2, "POST", "/v1/orders?x=1", body, strlen(body), NOW), SK_ESIGNATURE_INVALID);
    h2 = h;
    h2.nonce[0] = 'b';
    ck_assert_int_eq(auth_verify(k, &h2, "POST", "/v1/orders?x=1", body, strlen(body), NOW), SK_ESIGNATURE_INVALID);
    /* the response signature vector: 201, ts 1764547201, body {"ok":true} */
    char hv[256];
    auth_response_header(k, 201, "abcdefghijklmnop", 1764547201LL, "{\"ok\":true}", 11, hv, sizeof hv);
    ck_assert_str_eq(hv, "ts=\"1764547201\", sig=\"jBV/pvQ/zYGXlxTJD9mYvIvvr64iR4K6nHnhXN7gvt4=\"");
    char hx[65];
    auth_sha256_hex("", 0, hx);
    ck_assert_str_eq(hx, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    auth_keys_free(ks);
}
END_TEST

/* RFC 4231 test cases 1, 2, 6 (a key longer than the block) and 7, plus an
 * empty key and message against OpenSSL's own HMAC(). */
START_TEST(hmac_sha256_vectors)
{
    static const struct {
        const char *key_hex, *msg, *mac_hex;
    } v[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"4a656665", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "This is a test using a larger than block-size key and a larger than block-size data. The key needs to "
         "be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned char key[200], mac[32];
        size_t kl = strlen(v[i].key_hex) / 2;
        for (size_t j = 0; j < kl; j++)
            sscanf(v[i].key_hex + 2 * j, "%2hhx", &key[j]);
        auth_hmac_sha256(key, kl, v[i].msg, strlen(v[i].msg), mac);
        char hx[65];
        for (int j = 0; j < 32; j++)
            snprintf(hx + 2 * j, 3, "%02x", mac[j]);
        ck_assert_str_eq(hx, v[i].mac_hex);
    }
    /* empty key, empty message, a 64-byte key (exactly one block): as OpenSSL's HMAC() */
    unsigned char k64[64], mine[32], theirs[EVP_MAX_MD_SIZE];
    memset(k64, 0x5a, sizeof k64);
    unsigned int tl = 0;
    auth_hmac_sha256(k64, 0, NULL, 0, mine);
    HMAC(EVP_sha256(), k64, 0, (const unsigned char *)"", 0, theirs, &tl);
    ck_assert_int_eq(tl, 32);
    ck_assert_mem_eq(mine, theirs, 32);
    auth_hmac_sha256(k64, sizeof k64, "abc", 3, mine);
    HMAC(EVP_sha256(), k64, sizeof k64, (const unsigned char *)"abc", 3, theirs, &tl);
    ck_assert_mem_eq(mine, theirs, 32);
}
END_TEST

START_TEST(b64_and_ct_eq)
{
    unsigned char buf[64];
    ck_assert_int_eq(auth_b64_decode("YWJj", 4, buf, sizeof buf), 3);
    ck_assert_int_eq(auth_b64_decode("YWI=", 4, buf, sizeof buf), 2);
    ck_assert_int_eq(auth_b64_decode("YQ==", 4, buf, sizeof buf), 1);
    ck_assert_int_eq(auth_b64_decode("YQ=", 3, buf, sizeof buf), -1);
    ck_assert_int_eq(auth_b64_decode("Y=Q=", 4, buf, sizeof buf), -1);
    ck_assert_int_eq(auth_b64_decode("YW*j", 4, buf, sizeof buf), -1);
    char out[16];
    ck_assert_int_eq((int)auth_b64_encode((const unsigned char *)"abc", 3, out, sizeof out), 4);
    ck_assert_str_eq(out, "YWJj");
    ck_assert(auth_ct_eq("abc", "abc"));
    ck_assert(!auth_ct_eq("abc", "abd"));
    ck_assert(!auth_ct_eq("abc", "ab"));
}
END_TEST

/* Spec §10's table, every role x route. */
START_TEST(roles_by_route)
{
    static const struct {
        met_route r;
        bool cashier, backoffice, admin, observer;
    } t[] = {
        {RT_CREATE, true, false, true, false},
        {RT_GET, true, true, true, false},
        {RT_PAY, true, false, true, false},
        {RT_CLOSE, true, true, true, false},
        {RT_REFUND, true, true, true, false},
        {RT_REFUND_LIST, true, true, true, false},
        {RT_MERCHANT_ORDERS, false, true, true, false},
        {RT_GROUPS, false, false, true, true},
        {RT_FENCE, false, false, true, false},
        {RT_UNFENCE, false, false, true, false},
        {RT_RELOAD, false, false, true, false},
        {RT_TERMINAL_REGISTER, false, true, true, false},
        {RT_TERMINAL_GET, true, true, true, false},
        {RT_TERMINAL_ACTIVATE, true, false, true, false},
        {RT_TERMINAL_BLOCK, false, true, true, false},
        {RT_TERMINAL_UNBLOCK, false, true, true, false},
        {RT_TERMINAL_CODE, false, true, true, false},
        {RT_TERMINAL_RETIRE, false, true, true, false},
        {RT_MERCHANT_TERMINALS, false, true, true, false},
        {RT_AUDIT_EVENTS, false, false, true, false},
        {RT_OTHER, false, false, false, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ck_assert_msg(auth_role_allows(ROLE_CASHIER, t[i].r) == t[i].cashier, "cashier %s", met_route_name(t[i].r));
        ck_assert_msg(auth_role_allows(ROLE_BACKOFFICE, t[i].r) == t[i].backoffice, "backoffice %s",
                      met_route_name(t[i].r));
        ck_assert_msg(auth_role_allows(ROLE_ADMIN, t[i].r) == t[i].admin, "admin %s", met_route_name(t[i].r));
        ck_assert_msg(auth_role_allows(ROLE_OBSERVER, t[i].r) == t[i].observer, "observer %s",
                      met_route_name(t[i].r));
    }
    ck_assert_str_eq(auth_role_name(ROLE_BACKOFFICE), "backoffice");
    /* every signed route has its row above: a new route cannot slip in unlisted */
    for (int r = 0; r < RT_MAX; r++) {
        bool listed = false;
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            listed = listed || t[i].r == (met_route)r;
        ck_assert_msg(listed || route_is_open((met_route)r), "route %s has no row", met_route_name((met_route)r));
    }
}
END_TEST

/* ---------- order-event HMAC (auth/evsig.h) ---------- */

#define EVKEY "dev-event-key-0123456789abcdefghijklmnopqrstuv"
#define EVKEY2 "next-event-key-0123456789abcdefghijklmnopqrstu"
#define EVPAY "{\"order_no\":\"x\",\"merchant_id\":\"m1\"}"
/* computed independently: base64(hmac.new(EVKEY, EVPAY, sha256).digest()) */
#define EVMAC "vnXLE3aN3m1eTp2MEFW5r9kgyuTxYj0lD2Y6iDjcmqw="

START_TEST(event_hmac_vector)
{
    char out[EVSIG_B64_LEN + 1];
    evsig_sign((const unsigned char *)EVKEY, strlen(EVKEY), EVPAY, strlen(EVPAY), out);
    ck_assert_str_eq(out, EVMAC);
    evsig_sign((const unsigned char *)EVKEY, strlen(EVKEY), NULL, 0, out);
    ck_assert_str_eq(out, "2ytJsdm79AwbbP7Zx7fZ0eLHO3yMcQMAmBFAcIzd5Bo=");
}
END_TEST

START_TEST(event_hmac_verify)
{
    evsig_keys one = {.cur = (const unsigned char *)EVKEY, .cur_len = strlen(EVKEY)};
    evsig_keys rot = {.cur = (const unsigned char *)EVKEY2, .cur_len = strlen(EVKEY2),
                      .prev = (const unsigned char *)EVKEY, .prev_len = strlen(EVKEY)};
    evsig_keys other = {.cur = (const unsigned char *)EVKEY2, .cur_len = strlen(EVKEY2)};
    const char *p = EVPAY;
    size_t n = strlen(p);
    ck_assert_int_eq(evsig_verify(&one, p, n, EVMAC, 44), EVSIG_OK);
    /* rotation: the old key still verifies as the previous one; a verifier
     * that dropped it refuses */
    ck_assert_int_eq(evsig_verify(&rot, p, n, EVMAC, 44), EVSIG_OK_PREV);
    ck_assert_int_eq(evsig_verify(&other, p, n, EVMAC, 44), EVSIG_MISMATCH);
    char mac2[EVSIG_B64_LEN + 1];
    evsig_sign((const unsigned char *)EVKEY2, strlen(EVKEY2), p, n, mac2);
    ck_assert_int_eq(evsig_verify(&rot, p, n, mac2, 44), EVSIG_OK);
    /* one byte of the payload changed */
    char q[] = EVPAY;
    q[strlen(q) - 3] = '2';
    ck_assert_int_eq(evsig_verify(&one, q, n, EVMAC, 44), EVSIG_MISMATCH);
    /* one bit of the MAC changed (still well-formed base64) */
    char bad[] = EVMAC;
    bad[0] = bad[0] == 'v' ? 'w' : 'v';
    ck_assert_int_eq(evsig_verify(&one, p, n, bad, 44), EVSIG_MISMATCH);
    ck_assert_int_eq(evsig_verify(&one, p, n, NULL, 0), EVSIG_MISSING);
    ck_assert_int_eq(evsig_verify(&one, p, n, "", 0), EVSIG_MALFORMED);
    ck_assert_int_eq(evsig_verify(&one, p, n, EVMAC, 43), EVSIG_MALFORMED);      /* cut */
    ck_assert_int_eq(evsig_verify(&one, p, n, EVMAC "=", 45), EVSIG_MALFORMED);  /* longer */
    char junk[] = EVMAC;
    junk[5] = '*';
    ck_assert_int_eq(evsig_verify(&one, p, n, junk, 44), EVSIG_MALFORMED);
    ck_assert_str_eq(evsig_res_name(EVSIG_MISMATCH), "mismatch");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hmac_sha256_vectors);
    tcase_add_test(tc, key_file_parses);
    tcase_add_test(tc, key_file_errors);
    tcase_add_test(tc, key_file_mode_is_checked);
    tcase_add_test(tc, header_parses_strictly);
    tcase_add_test(tc, request_signature_vector);
    tcase_add_test(tc, b64_and_ct_eq);
    tcase_add_test(tc, roles_by_route);
    tcase_add_test(tc, event_hmac_vector);
    tcase_add_test(tc, event_hmac_verify);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
