/* Signing keys and the trust store: every algorithm round trip, tampering, key and store
 * errors, and agreement with the openssl command line. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "signer.h"
#include "testutil.h"

#define CN "应急管理部 测试签发 Test Issuer"
#define AUTHORITY "110000-YJGL"
#define DAYS 30

static const guint8 HELLO[] = "hello";
#define HELLO_LEN 5

/* ---- fixtures ---- */

/* A temporary folder with keys/ (key.pem) and trust/ (cert.pem, the trust store). */
typedef struct {
  char *dir, *keys, *trust, *key, *cert;
} fixture_t;

static void fixture_init(fixture_t *f) {
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp("cs-signer-XXXXXX", &error);
  g_assert_no_error(error);
  f->keys = g_build_filename(f->dir, "keys", NULL);
  f->trust = g_build_filename(f->dir, "trust", NULL);
  g_assert_cmpint(g_mkdir(f->keys, 0700), ==, 0);
  g_assert_cmpint(g_mkdir(f->trust, 0700), ==, 0);
  f->key = g_build_filename(f->keys, "key.pem", NULL);
  f->cert = g_build_filename(f->trust, "cert.pem", NULL);
}

static void fixture_clear(fixture_t *f) {
  testutil_remove_dir(f->dir);
  g_free(f->dir);
  g_free(f->keys);
  g_free(f->trust);
  g_free(f->key);
  g_free(f->cert);
}

static void keygen(cs_alg_t alg, const char *cn, const char *key, const char *cert) {
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_keygen(alg, cn, AUTHORITY, DAYS, key, cert, &error));
  g_assert_no_error(error);
}

static cs_signer_t *load_signer(const char *key, const char *cert) {
  g_autoptr(GError) error = NULL;
  cs_signer_t *s = cs_signer_load_pem(key, cert, &error);
  g_assert_no_error(error);
  g_assert_nonnull(s);
  return s;
}

static cs_trust_t *load_trust(const char *dir) {
  g_autoptr(GError) error = NULL;
  cs_trust_t *t = cs_trust_load(dir, &error);
  g_assert_no_error(error);
  g_assert_nonnull(t);
  return t;
}

static GBytes *sign(cs_signer_t *s, const guint8 *data, gsize len) {
  g_autoptr(GError) error = NULL;
  GBytes *sig = cs_signer_sign(s, data, len, &error);
  g_assert_no_error(error);
  g_assert_nonnull(sig);
  return sig;
}

static gboolean verify(const cs_trust_t *t, const guint8 *kid, cs_alg_t alg, const guint8 *data,
                       gsize len, GBytes *sig, gboolean *kid_known) {
  const cs_trust_entry_t *who = (const cs_trust_entry_t *)&who; /* must be overwritten */
  gboolean known = 2;
  gboolean ok = cs_trust_verify(t, kid, CS_KID_LENGTH, alg, data, len,
                                g_bytes_get_data(sig, NULL), g_bytes_get_size(sig), &who, &known);
  g_assert_true(known == TRUE || known == FALSE);
  if (ok)
    g_assert_nonnull(who);
  else
    g_assert_null(who);
  if (kid_known)
    *kid_known = known;
  return ok;
}

/* The DER bytes of the first PEM block of a file, decoded without OpenSSL. */
static GBytes *pem_der(const char *path) {
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  const char *begin = strstr(text, "-----\n");
  g_assert_nonnull(begin);
  begin += 6;
  const char *end = strstr(begin, "-----END");
  g_assert_nonnull(end);
  g_autofree char *b64 = g_strndup(begin, (gsize)(end - begin));
  gsize len = 0;
  guchar *der = g_base64_decode(b64, &len);
  g_assert_cmpuint(len, >=, 44); /* an Ed25519 SPKI is the shortest */
  return g_bytes_new_take(der, len);
}

/* The first 8 bytes of SHA-256 over a DER blob, with GLib's SHA-256, not OpenSSL's. */
static void glib_kid(GBytes *der, guint8 kid[CS_KID_LENGTH]) {
  g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
  g_checksum_update(c, g_bytes_get_data(der, NULL), g_bytes_get_size(der));
  guint8 md[32];
  gsize md_len = sizeof md;
  g_checksum_get_digest(c, md, &md_len);
  memcpy(kid, md, CS_KID_LENGTH);
}

static void write_file(const char *path, const void *data, gsize len, int mode) {
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_set_contents(path, data, (gssize)len, &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

static void write_private_pem(EVP_PKEY *pkey, const char *path) {
  BIO *bio = BIO_new(BIO_s_mem());
  g_assert_cmpint(PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), ==, 1);
  char *p = NULL;
  long len = BIO_get_mem_data(bio, &p);
  write_file(path, p, (gsize)len, 0600);
  BIO_free(bio);
}

static void write_public(EVP_PKEY *pkey, const char *path, gboolean der) {
  BIO *bio = BIO_new(BIO_s_mem());
  g_assert_cmpint(der ? i2d_PUBKEY_bio(bio, pkey) : PEM_write_bio_PUBKEY(bio, pkey), ==, 1);
  char *p = NULL;
  long len = BIO_get_mem_data(bio, &p);
  write_file(path, p, (gsize)len, 0644);
  BIO_free(bio);
}

static X509 *read_cert(const char *path) {
  FILE *fp = fopen(path, "r");
  g_assert_nonnull(fp);
  X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
  fclose(fp);
  g_assert_nonnull(x);
  return x;
}

static EVP_PKEY *read_key(const char *path) {
  FILE *fp = fopen(path, "r");
  g_assert_nonnull(fp);
  EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
  fclose(fp);
  g_assert_nonnull(k);
  return k;
}

static GBytes *flip(GBytes *b, gsize bit) {
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(b, &len);
  g_assert_cmpuint(bit / 8, <, len);
  guint8 *copy = g_memdup2(data, len);
  copy[bit / 8] ^= (guint8)(1u << (bit % 8));
  return g_bytes_new_take(copy, len);
}

/* ---- tests ---- */

static void test_alg_names(void) {
  const cs_alg_t algs[] = {CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_PS256, CS_ALG_SM2_SM3};
  const char *names[] = {"ES256", "EdDSA", "PS256", "SM2-SM3"};
  for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
    g_assert_cmpstr(cs_alg_name(algs[i]), ==, names[i]);
    cs_alg_t a = 0;
    g_assert_true(cs_alg_from_name(names[i], &a));
    g_assert_cmpint(a, ==, algs[i]);
    g_autofree char *lower = g_ascii_strdown(names[i], -1);
    a = 0;
    g_assert_true(cs_alg_from_name(lower, &a));
    g_assert_cmpint(a, ==, algs[i]);
  }
  g_assert_cmpint(CS_ALG_ES256, ==, -7);
  g_assert_cmpint(CS_ALG_EDDSA, ==, -8);
  g_assert_cmpint(CS_ALG_PS256, ==, -37);
  g_assert_null(cs_alg_name((cs_alg_t)-35));
  cs_alg_t a = CS_ALG_EDDSA;
  g_assert_false(cs_alg_from_name("ES384", &a));
  g_assert_false(cs_alg_from_name("ES256 ", &a));
  g_assert_false(cs_alg_from_name("", &a));
  g_assert_cmpint(a, ==, CS_ALG_EDDSA); /* untouched */
}

/* keygen, sign, verify through a store, every bit of the signature and the data. */
static void test_round_trip(gconstpointer data) {
  cs_alg_t alg = GPOINTER_TO_INT(data);
  fixture_t f;
  fixture_init(&f);
  gint64 before = g_get_real_time() / G_USEC_PER_SEC;
  keygen(alg, CN, f.key, f.cert);
  gint64 after = g_get_real_time() / G_USEC_PER_SEC;

  GStatBuf st;
  g_assert_cmpint(g_stat(f.key, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);

  g_autoptr(cs_signer_t) s = load_signer(f.key, f.cert);
  g_assert_cmpint(cs_signer_alg(s), ==, alg);
  guint8 expect[CS_KID_LENGTH];
  g_autoptr(GBytes) der = pem_der(f.cert);
  glib_kid(der, expect);
  g_assert_cmpmem(cs_signer_kid(s), CS_KID_LENGTH, expect, CS_KID_LENGTH);

  g_autoptr(GBytes) sig = sign(s, HELLO, HELLO_LEN);
  g_assert_cmpuint(g_bytes_get_size(sig), ==, 64);

  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(t), ==, 1);
  const cs_trust_entry_t *who = NULL;
  gboolean known = FALSE;
  g_assert_true(cs_trust_verify(t, cs_signer_kid(s), CS_KID_LENGTH, alg, HELLO, HELLO_LEN,
                                g_bytes_get_data(sig, NULL), 64, &who, &known));
  g_assert_true(known);
  g_assert_nonnull(who);
  g_assert_nonnull(strstr(who->subject, "CN=" CN));
  g_assert_nonnull(strstr(who->subject, "O=" AUTHORITY));
  g_assert_cmpstr(who->authority, ==, AUTHORITY);
  /* valid from an hour before it was made (clock skew between stations) for DAYS days */
  g_assert_cmpint(who->not_before, >=, before - 3600 - 1);
  g_assert_cmpint(who->not_before, <=, after - 3600);
  g_assert_cmpint(who->not_after - who->not_before, >=, DAYS * 86400 + 3600 - 1);
  g_assert_cmpint(who->not_after - who->not_before, <=, DAYS * 86400 + 3600 + 1);

  /* every single-bit change of the signature, then of the data */
  for (gsize bit = 0; bit < 512; bit++) {
    g_autoptr(GBytes) bad = flip(sig, bit);
    gboolean k = FALSE;
    if (verify(t, cs_signer_kid(s), alg, HELLO, HELLO_LEN, bad, &k))
      g_error("%s: signature with bit %" G_GSIZE_FORMAT " flipped verified", cs_alg_name(alg),
              bit);
    g_assert_true(k);
  }
  g_autoptr(GBytes) hello = g_bytes_new_static(HELLO, HELLO_LEN);
  for (gsize bit = 0; bit < 8 * HELLO_LEN; bit++) {
    g_autoptr(GBytes) bad = flip(hello, bit);
    if (verify(t, cs_signer_kid(s), alg, g_bytes_get_data(bad, NULL), HELLO_LEN, sig, NULL))
      g_error("%s: data with bit %" G_GSIZE_FORMAT " flipped verified", cs_alg_name(alg), bit);
  }
  /* the verify helper itself can succeed */
  g_assert_true(verify(t, cs_signer_kid(s), alg, HELLO, HELLO_LEN, sig, NULL));
  /* shorter, longer, empty data */
  g_assert_false(verify(t, cs_signer_kid(s), alg, HELLO, HELLO_LEN - 1, sig, NULL));
  g_assert_false(verify(t, cs_signer_kid(s), alg, (const guint8 *)"hello!", 6, sig, NULL));
  g_assert_false(verify(t, cs_signer_kid(s), alg, NULL, 0, sig, NULL));
  /* truncated and extended signatures */
  g_autoptr(GBytes) shorter = g_bytes_new_from_bytes(sig, 0, 63);
  g_assert_false(verify(t, cs_signer_kid(s), alg, HELLO, HELLO_LEN, shorter, NULL));
  g_autoptr(GByteArray) longer = g_byte_array_new();
  g_byte_array_append(longer, g_bytes_get_data(sig, NULL), 64);
  g_byte_array_append(longer, (const guint8 *)"", 1);
  g_autoptr(GBytes) longer_b = g_byte_array_free_to_bytes(g_steal_pointer(&longer));
  g_assert_false(verify(t, cs_signer_kid(s), alg, HELLO, HELLO_LEN, longer_b, NULL));

  /* unknown kid: not known; a kid of another length is unknown too */
  guint8 other_kid[CS_KID_LENGTH];
  memcpy(other_kid, cs_signer_kid(s), CS_KID_LENGTH);
  other_kid[7] ^= 1;
  gboolean k = TRUE;
  g_assert_false(verify(t, other_kid, alg, HELLO, HELLO_LEN, sig, &k));
  g_assert_false(k);
  k = TRUE;
  g_assert_false(cs_trust_verify(t, cs_signer_kid(s), 7, alg, HELLO, HELLO_LEN,
                                 g_bytes_get_data(sig, NULL), 64, &who, &k));
  g_assert_false(k);
  /* the wrong algorithm for the key: known kid, not verified */
  const cs_alg_t algs[] = {CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_PS256, CS_ALG_SM2_SM3};
  for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
    if (algs[i] == alg)
      continue;
    k = FALSE;
    g_assert_false(verify(t, cs_signer_kid(s), algs[i], HELLO, HELLO_LEN, sig, &k));
    g_assert_true(k);
  }

  /* the empty message signs and verifies */
  g_autoptr(GBytes) empty_sig = sign(s, NULL, 0);
  g_assert_true(verify(t, cs_signer_kid(s), alg, NULL, 0, empty_sig, NULL));
  g_assert_false(verify(t, cs_signer_kid(s), alg, HELLO, HELLO_LEN, empty_sig, NULL));
  fixture_clear(&f);
}

/* The generated certificate: v3, self-signed with a signature that verifies, the extensions
 * asked for, a positive serial. */
static void test_certificate(gconstpointer data) {
  cs_alg_t alg = GPOINTER_TO_INT(data);
  fixture_t f;
  fixture_init(&f);
  keygen(alg, CN, f.key, f.cert);
  X509 *x = read_cert(f.cert);
  EVP_PKEY *key = read_key(f.key);
  g_assert_cmpint(X509_get_version(x), ==, X509_VERSION_3);
  g_assert_cmpint(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), ==, 0);
  g_assert_true(X509_check_private_key(x, key));
  if (alg == CS_ALG_SM2_SM3) {
    /* OpenSSL verifies SM2 certificate signatures with the ID set on the certificate. */
    ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
    g_assert_true(ASN1_OCTET_STRING_set(id, (const unsigned char *)"1234567812345678", 16));
    X509_set0_distinguishing_id(x, id);
  }
  g_assert_cmpint(X509_verify(x, X509_get0_pubkey(x)), ==, 1);
  g_assert_cmpint(X509_check_ca(x), ==, 0);
  g_assert_true(X509_get_extension_flags(x) & EXFLAG_KUSAGE);
  g_assert_cmpuint(X509_get_key_usage(x), ==, KU_DIGITAL_SIGNATURE);
  int crit = -1;
  BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
  g_assert_nonnull(bc);
  g_assert_cmpint(crit, ==, 1);
  g_assert_false(bc->ca);
  BASIC_CONSTRAINTS_free(bc);
  ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
  g_assert_nonnull(ku);
  g_assert_cmpint(crit, ==, 1);
  ASN1_BIT_STRING_free(ku);
  const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
  BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
  g_assert_false(BN_is_negative(bn));
  g_assert_false(BN_is_zero(bn));
  g_assert_cmpint(BN_num_bits(bn), <=, 64);
  BN_free(bn);
  int nid = X509_get_signature_nid(x);
  g_assert_cmpint(nid, ==, alg == CS_ALG_ES256   ? NID_ecdsa_with_SHA256
                           : alg == CS_ALG_EDDSA ? NID_ED25519
                                                 : NID_SM2_with_SM3);
  /* two keygens give two serials */
  g_autofree char *cert2 = g_build_filename(f.trust, "cert2.pem", NULL);
  g_autofree char *key2 = g_build_filename(f.keys, "key2.pem", NULL);
  keygen(alg, CN, key2, cert2);
  X509 *x2 = read_cert(cert2);
  g_assert_cmpint(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(x2)), !=, 0);
  X509_free(x2);
  EVP_PKEY_free(key);
  X509_free(x);
  fixture_clear(&f);
}

/* Without a certificate the kid is over the SPKI, and a bare public key in the store verifies. */
static void test_no_certificate(gconstpointer data) {
  cs_alg_t alg = GPOINTER_TO_INT(data);
  fixture_t f;
  fixture_init(&f);
  g_autofree char *cert = g_build_filename(f.keys, "cert.pem", NULL);
  keygen(alg, CN, f.key, cert);
  g_autoptr(cs_signer_t) s = load_signer(f.key, NULL);
  g_autoptr(cs_signer_t) with_cert = load_signer(f.key, cert);
  g_assert_true(memcmp(cs_signer_kid(s), cs_signer_kid(with_cert), CS_KID_LENGTH) != 0);
  EVP_PKEY *key = read_key(f.key);
  g_autofree char *pub = g_build_filename(f.trust, "key.pub.pem", NULL);
  write_public(key, pub, FALSE);
  g_autofree char *pub_der = g_build_filename(f.trust, "key.pub.der", NULL);
  write_public(key, pub_der, TRUE);
  g_autoptr(GBytes) spki = pem_der(pub);
  guint8 expect[CS_KID_LENGTH];
  glib_kid(spki, expect);
  g_assert_cmpmem(cs_signer_kid(s), CS_KID_LENGTH, expect, CS_KID_LENGTH);

  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(t), ==, 2); /* PEM and DER, the same key twice */
  g_autoptr(GBytes) sig = sign(s, HELLO, HELLO_LEN);
  const cs_trust_entry_t *who = NULL;
  g_assert_true(cs_trust_verify(t, cs_signer_kid(s), 8, alg, HELLO, HELLO_LEN,
                                g_bytes_get_data(sig, NULL), 64, &who, NULL));
  g_assert_cmpstr(who->subject, ==, "public key");
  g_assert_null(who->authority);
  g_assert_cmpint(who->not_before, ==, 0);
  g_assert_cmpint(who->not_after, ==, 0);
  /* the certificate-kid signer's signature is the same key's but another kid */
  gboolean known = TRUE;
  g_assert_false(verify(t, cs_signer_kid(with_cert), alg, HELLO, HELLO_LEN, sig, &known));
  g_assert_false(known);
  EVP_PKEY_free(key);
  fixture_clear(&f);
}

/* A store of several keys: each signature verifies with its own key and names its signer. */
static void test_several_keys(void) {
  fixture_t f;
  fixture_init(&f);
  const cs_alg_t algs[] = {CS_ALG_ES256, CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_SM2_SM3};
  cs_signer_t *signers[G_N_ELEMENTS(algs)];
  for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
    g_autofree char *cn = g_strdup_printf("Issuer %u", i);
    g_autofree char *kn = g_strdup_printf("key%u.pem", i);
    g_autofree char *cn_file = g_strdup_printf("%c-cert%u.%s", 'd' - i, i, i % 2 ? "crt" : "pem");
    g_autofree char *key = g_build_filename(f.keys, kn, NULL);
    g_autofree char *cert = g_build_filename(f.trust, cn_file, NULL);
    keygen(algs[i], cn, key, cert);
    signers[i] = load_signer(key, cert);
  }
  /* files that are not in the store's format are ignored */
  g_autofree char *readme = g_build_filename(f.trust, "README.txt", NULL);
  write_file(readme, "not a key", 9, 0644);
  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(t), ==, G_N_ELEMENTS(algs));
  for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
    g_autoptr(GBytes) sig = sign(signers[i], HELLO, HELLO_LEN);
    const cs_trust_entry_t *who = NULL;
    g_assert_true(cs_trust_verify(t, cs_signer_kid(signers[i]), 8, algs[i], HELLO, HELLO_LEN,
                                  g_bytes_get_data(sig, NULL), 64, &who, NULL));
    g_autofree char *cn = g_strdup_printf("CN=Issuer %u", i);
    g_assert_nonnull(strstr(who->subject, cn));
    /* with another signer's kid: known, not verified */
    gboolean known = FALSE;
    g_assert_false(verify(t, cs_signer_kid(signers[(i + 1) % G_N_ELEMENTS(algs)]), algs[i],
                          HELLO, HELLO_LEN, sig, &known));
    g_assert_true(known);
  }
  for (guint i = 0; i < G_N_ELEMENTS(algs); i++)
    cs_signer_free(signers[i]);
  fixture_clear(&f);
}

/* The same certificate twice (e.g. renamed copies): still verifies, the kid is known once. */
static void test_duplicate_entries(void) {
  fixture_t f;
  fixture_init(&f);
  keygen(CS_ALG_EDDSA, CN, f.key, f.cert);
  g_autofree char *copy = g_build_filename(f.trust, "copy.crt", NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(f.cert, &text, &len, NULL));
  write_file(copy, text, len, 0644);
  g_autoptr(cs_signer_t) s = load_signer(f.key, f.cert);
  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(t), ==, 2);
  g_autoptr(GBytes) sig = sign(s, HELLO, HELLO_LEN);
  g_assert_true(verify(t, cs_signer_kid(s), CS_ALG_EDDSA, HELLO, HELLO_LEN, sig, NULL));
  fixture_clear(&f);
}

/* ECDSA and SM2 signatures are randomised, Ed25519 ones deterministic; all verify. */
static void test_determinism(void) {
  const cs_alg_t algs[] = {CS_ALG_ES256, CS_ALG_SM2_SM3, CS_ALG_EDDSA};
  for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
    fixture_t f;
    fixture_init(&f);
    keygen(algs[i], CN, f.key, f.cert);
    g_autoptr(cs_signer_t) s = load_signer(f.key, f.cert);
    g_autoptr(cs_trust_t) t = load_trust(f.trust);
    g_autoptr(GBytes) a = sign(s, HELLO, HELLO_LEN);
    g_autoptr(GBytes) b = sign(s, HELLO, HELLO_LEN);
    g_assert_true(verify(t, cs_signer_kid(s), algs[i], HELLO, HELLO_LEN, a, NULL));
    g_assert_true(verify(t, cs_signer_kid(s), algs[i], HELLO, HELLO_LEN, b, NULL));
    if (algs[i] == CS_ALG_EDDSA)
      g_assert_true(g_bytes_equal(a, b));
    else
      g_assert_false(g_bytes_equal(a, b));
    fixture_clear(&f);
  }
}

static void test_key_mode_refused(void) {
  fixture_t f;
  fixture_init(&f);
  keygen(CS_ALG_ES256, CN, f.key, f.cert);
  const int modes[] = {0644, 0640, 0604, 0620, 0601};
  for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
    g_assert_cmpint(g_chmod(f.key, modes[i]), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_signer_t) s = cs_signer_load_pem(f.key, f.cert, &error);
    g_assert_null(s);
    g_assert_error(error, CS_ERROR, CS_ERROR_IO);
    g_autofree char *mode = g_strdup_printf("mode %04o", modes[i]);
    g_assert_nonnull(strstr(error->message, mode));
    g_assert_nonnull(strstr(error->message, f.key));
    g_assert_nonnull(strstr(error->message, "chmod 600"));
  }
  g_assert_cmpint(g_chmod(f.key, 0400), ==, 0);
  g_autoptr(cs_signer_t) s = load_signer(f.key, f.cert);
  /* a missing key */
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename(f.keys, "missing.pem", NULL);
  g_assert_null(cs_signer_load_pem(missing, NULL, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
  g_assert_nonnull(strstr(error->message, missing));
  fixture_clear(&f);
}

/* keygen replaces a key file that had a wider mode with a 0600 one. */
static void test_keygen_mode(void) {
  fixture_t f;
  fixture_init(&f);
  write_file(f.key, "old", 3, 0644);
  keygen(CS_ALG_EDDSA, CN, f.key, f.cert);
  GStatBuf st;
  g_assert_cmpint(g_stat(f.key, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  g_autoptr(cs_signer_t) s = load_signer(f.key, f.cert);
  g_autoptr(GError) error = NULL;
  g_assert_false(cs_keygen(CS_ALG_PS256, CN, AUTHORITY, DAYS, f.key, f.cert, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED);
  g_clear_error(&error);
  g_autofree char *nowhere = g_build_filename(f.dir, "no", "such", "key.pem", NULL);
  g_assert_false(cs_keygen(CS_ALG_ES256, CN, AUTHORITY, DAYS, nowhere, f.cert, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
  g_assert_nonnull(strstr(error->message, nowhere));
  fixture_clear(&f);
}

static void expect_unsupported(EVP_PKEY *pkey, const char *path, const char *name) {
  write_private_pem(pkey, path);
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_signer_load_pem(path, NULL, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, name));
  g_assert_nonnull(strstr(error->message, path));
}

static void test_unsupported_keys(void) {
  fixture_t f;
  fixture_init(&f);
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
  EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
  g_assert_nonnull(rsa);
  g_assert_nonnull(p384);
  g_assert_nonnull(x25519);
  expect_unsupported(rsa, f.key, "RSA");
  expect_unsupported(p384, f.key, "secp384r1");
  expect_unsupported(x25519, f.key, "X25519");
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(p384);
  EVP_PKEY_free(x25519);
  /* not a key at all */
  write_file(f.key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58, 0600);
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_signer_load_pem(f.key, NULL, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
  g_assert_nonnull(strstr(error->message, f.key));
  g_assert_cmpuint(ERR_peek_error(), ==, 0); /* no stale OpenSSL error left behind */
  fixture_clear(&f);
}

static void test_encrypted_key_refused(void) {
  fixture_t f;
  fixture_init(&f);
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  BIO *bio = BIO_new(BIO_s_mem());
  g_assert_cmpint(PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), "secret", 6, NULL,
                                                NULL), ==, 1);
  char *p = NULL;
  long len = BIO_get_mem_data(bio, &p);
  write_file(f.key, p, (gsize)len, 0600);
  BIO_free(bio);
  EVP_PKEY_free(k);
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_signer_load_pem(f.key, NULL, &error)); /* and no passphrase prompt */
  g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
  fixture_clear(&f);
}

static void test_cert_mismatch(void) {
  fixture_t f;
  fixture_init(&f);
  keygen(CS_ALG_ES256, CN, f.key, f.cert);
  g_autofree char *key2 = g_build_filename(f.keys, "key2.pem", NULL);
  g_autofree char *cert2 = g_build_filename(f.keys, "cert2.pem", NULL);
  keygen(CS_ALG_ES256, CN, key2, cert2);
  g_autofree char *key3 = g_build_filename(f.keys, "key3.pem", NULL);
  g_autofree char *cert3 = g_build_filename(f.keys, "cert3.pem", NULL);
  keygen(CS_ALG_EDDSA, CN, key3, cert3);
  const char *certs[] = {cert2, cert3};
  for (guint i = 0; i < G_N_ELEMENTS(certs); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_null(cs_signer_load_pem(f.key, certs[i], &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "does not belong to the key"));
  }
  /* a certificate file that is not one */
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_signer_load_pem(f.key, key2, &error)); /* a key, not a certificate */
  g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
  g_assert_nonnull(strstr(error->message, key2));
  fixture_clear(&f);
}

static void test_trust_errors(void) {
  fixture_t f;
  fixture_init(&f);
  /* an empty store is allowed */
  g_autoptr(cs_trust_t) empty = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(empty), ==, 0);
  guint8 kid[CS_KID_LENGTH] = {0};
  gboolean known = TRUE;
  const cs_trust_entry_t *who = (const cs_trust_entry_t *)&who;
  g_assert_false(cs_trust_verify(empty, kid, 8, CS_ALG_ES256, HELLO, HELLO_LEN, kid, 8, &who,
                                 &known));
  g_assert_false(known);
  g_assert_null(who);

  keygen(CS_ALG_ES256, CN, f.key, f.cert);
  g_autofree char *garbage = g_build_filename(f.trust, "zz-garbage.pem", NULL);
  const char *garbage_text =
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
  write_file(garbage, garbage_text, strlen(garbage_text), 0644);
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_trust_load(f.trust, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
  g_assert_nonnull(strstr(error->message, garbage));
  g_clear_error(&error);
  /* plain text, binary noise, a truncated DER certificate, an empty file */
  g_autoptr(GBytes) der = pem_der(f.cert);
  const struct {
    const char *name;
    const void *data;
    gssize len;
  } bad[] = {
      {"text.crt", "hello", 5},
      {"noise.der", "\x30\x82\xff\xff\x01\x02", 6},
      {"cut.der", g_bytes_get_data(der, NULL), (gssize)g_bytes_get_size(der) - 1},
      {"empty.pem", "", 0},
  };
  g_assert_cmpint(g_unlink(garbage), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *path = g_build_filename(f.trust, bad[i].name, NULL);
    write_file(path, bad[i].data, (gsize)bad[i].len, 0644);
    g_assert_null(cs_trust_load(f.trust, &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
    g_assert_nonnull(strstr(error->message, path));
    g_clear_error(&error);
    g_autoptr(cs_trust_t) t = cs_trust_new();
    g_assert_false(cs_trust_add_file(t, path, &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
    g_clear_error(&error);
    g_assert_cmpuint(cs_trust_count(t), ==, 0);
    g_assert_cmpint(g_unlink(path), ==, 0);
  }
  /* a DER certificate and the store loads again */
  g_autofree char *der_path = g_build_filename(f.trust, "cert.der", NULL);
  write_file(der_path, g_bytes_get_data(der, NULL), g_bytes_get_size(der), 0644);
  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(t), ==, 2);
  g_autoptr(cs_signer_t) s = load_signer(f.key, f.cert);
  g_autoptr(GBytes) sig = sign(s, HELLO, HELLO_LEN);
  g_assert_true(verify(t, cs_signer_kid(s), CS_ALG_ES256, HELLO, HELLO_LEN, sig, NULL));

  /* an unreadable file is an error naming it (root reads every file: skipped) */
  if (getuid() != 0) {
    g_assert_cmpint(g_chmod(f.cert, 0), ==, 0);
    g_assert_null(cs_trust_load(f.trust, &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_IO);
    g_assert_nonnull(strstr(error->message, f.cert));
    g_clear_error(&error);
  }
  /* a folder that does not exist */
  g_autofree char *missing = g_build_filename(f.dir, "missing", NULL);
  g_assert_null(cs_trust_load(missing, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
  g_assert_nonnull(strstr(error->message, missing));
  fixture_clear(&f);
}

/* A PEM bundle adds every certificate in it. */
static void test_trust_bundle(void) {
  fixture_t f;
  fixture_init(&f);
  g_autofree char *c1 = g_build_filename(f.keys, "c1.pem", NULL);
  g_autofree char *c2 = g_build_filename(f.keys, "c2.pem", NULL);
  g_autofree char *k2 = g_build_filename(f.keys, "k2.pem", NULL);
  keygen(CS_ALG_ES256, "One", f.key, c1);
  keygen(CS_ALG_SM2_SM3, "Two", k2, c2);
  g_autofree char *t1 = NULL, *t2 = NULL;
  g_assert_true(g_file_get_contents(c1, &t1, NULL, NULL));
  g_assert_true(g_file_get_contents(c2, &t2, NULL, NULL));
  g_autofree char *both = g_strconcat(t1, t2, NULL);
  write_file(f.cert, both, strlen(both), 0644);
  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(t), ==, 2);
  g_autoptr(cs_signer_t) s = load_signer(k2, c2);
  g_autoptr(GBytes) sig = sign(s, HELLO, HELLO_LEN);
  const cs_trust_entry_t *who = NULL;
  g_assert_true(cs_trust_verify(t, cs_signer_kid(s), 8, CS_ALG_SM2_SM3, HELLO, HELLO_LEN,
                                g_bytes_get_data(sig, NULL), 64, &who, NULL));
  g_assert_nonnull(strstr(who->subject, "CN=Two"));
  fixture_clear(&f);
}

static GBytes *rsa_pss_sign(EVP_PKEY *key, const guint8 *data, gsize len, int saltlen,
                            const EVP_MD *mgf1) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  g_assert_cmpint(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key), ==, 1);
  g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), ==, 1);
  g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen), ==, 1);
  g_assert_cmpint(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1), ==, 1);
  size_t sig_len = 0;
  g_assert_cmpint(EVP_DigestSign(ctx, NULL, &sig_len, data, len), ==, 1);
  guint8 *sig = g_malloc(sig_len);
  g_assert_cmpint(EVP_DigestSign(ctx, sig, &sig_len, data, len), ==, 1);
  EVP_MD_CTX_free(ctx);
  return g_bytes_new_take(sig, sig_len);
}

static void test_ps256(void) {
  fixture_t f;
  fixture_init(&f);
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  g_assert_nonnull(key);
  g_autofree char *pub = g_build_filename(f.trust, "rsa.pem", NULL);
  write_public(key, pub, FALSE);
  guint8 kid[CS_KID_LENGTH];
  g_autoptr(GBytes) spki = pem_der(pub);
  glib_kid(spki, kid);
  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_assert_cmpuint(cs_trust_count(t), ==, 1);

  g_autoptr(GBytes) sig = rsa_pss_sign(key, HELLO, HELLO_LEN, 32, EVP_sha256());
  g_assert_cmpuint(g_bytes_get_size(sig), ==, 256);
  gboolean known = FALSE;
  g_assert_true(verify(t, kid, CS_ALG_PS256, HELLO, HELLO_LEN, sig, &known));
  g_assert_true(known);
  for (gsize bit = 0; bit < 8 * g_bytes_get_size(sig); bit++) {
    g_autoptr(GBytes) bad = flip(sig, bit);
    if (verify(t, kid, CS_ALG_PS256, HELLO, HELLO_LEN, bad, NULL))
      g_error("PS256: signature with bit %" G_GSIZE_FORMAT " flipped verified", bit);
  }
  g_assert_false(verify(t, kid, CS_ALG_PS256, (const guint8 *)"hellp", 5, sig, NULL));
  /* the RSA key for another algorithm; PSS with another salt length or MGF1 hash */
  known = FALSE;
  g_assert_false(verify(t, kid, CS_ALG_ES256, HELLO, HELLO_LEN, sig, &known));
  g_assert_true(known);
  g_autoptr(GBytes) salt20 = rsa_pss_sign(key, HELLO, HELLO_LEN, 20, EVP_sha256());
  g_assert_false(verify(t, kid, CS_ALG_PS256, HELLO, HELLO_LEN, salt20, NULL));
  g_autoptr(GBytes) mgf_sha1 = rsa_pss_sign(key, HELLO, HELLO_LEN, 32, EVP_sha1());
  g_assert_false(verify(t, kid, CS_ALG_PS256, HELLO, HELLO_LEN, mgf_sha1, NULL));
  EVP_PKEY_free(key);

  /* under 2048 bits (RFC 8230) is not used */
  EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  g_autofree char *small_pub = g_build_filename(f.trust, "small.pem", NULL);
  write_public(small, small_pub, FALSE);
  g_autoptr(cs_trust_t) t2 = load_trust(f.trust);
  g_autoptr(GBytes) small_spki = pem_der(small_pub);
  glib_kid(small_spki, kid);
  g_autoptr(GBytes) small_sig = rsa_pss_sign(small, HELLO, HELLO_LEN, 32, EVP_sha256());
  known = FALSE;
  g_assert_false(verify(t2, kid, CS_ALG_PS256, HELLO, HELLO_LEN, small_sig, &known));
  g_assert_true(known);
  EVP_PKEY_free(small);
  fixture_clear(&f);
}

/* A key made as an "EC" key on the SM2 curve (OpenSSL's other form of an SM2 key) signs and
 * verifies SM2-SM3, never ES256. */
static void test_sm2_as_ec_key(void) {
  fixture_t f;
  fixture_init(&f);
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2");
  g_assert_nonnull(key);
  g_assert_true(EVP_PKEY_is_a(key, "EC"));
  write_private_pem(key, f.key);
  g_autoptr(cs_signer_t) s = load_signer(f.key, NULL);
  g_assert_cmpint(cs_signer_alg(s), ==, CS_ALG_SM2_SM3);
  g_autofree char *pub = g_build_filename(f.trust, "sm2.pem", NULL);
  write_public(key, pub, FALSE);
  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_autoptr(GBytes) sig = sign(s, HELLO, HELLO_LEN);
  g_assert_true(verify(t, cs_signer_kid(s), CS_ALG_SM2_SM3, HELLO, HELLO_LEN, sig, NULL));
  g_assert_false(verify(t, cs_signer_kid(s), CS_ALG_ES256, HELLO, HELLO_LEN, sig, NULL));
  EVP_PKEY_free(key);
  fixture_clear(&f);
}

/* ---- the openssl command line ---- */

static gboolean run(const char *const *argv, char **out) {
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
                             &err, &status, &error));
  g_assert_no_error(error);
  return g_spawn_check_wait_status(status, NULL);
}

static GBytes *raw_to_der(GBytes *raw) {
  const guint8 *p = g_bytes_get_data(raw, NULL);
  g_assert_cmpuint(g_bytes_get_size(raw), ==, 64);
  ECDSA_SIG *sig = ECDSA_SIG_new();
  g_assert_cmpint(ECDSA_SIG_set0(sig, BN_bin2bn(p, 32, NULL), BN_bin2bn(p + 32, 32, NULL)), ==,
                  1);
  unsigned char *der = NULL;
  int len = i2d_ECDSA_SIG(sig, &der);
  g_assert_cmpint(len, >, 0);
  GBytes *out = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

static GBytes *der_to_raw(const char *path) {
  g_autofree char *der = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &der, &len, NULL));
  const unsigned char *p = (const unsigned char *)der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
  g_assert_nonnull(sig);
  const BIGNUM *r = NULL, *s = NULL;
  ECDSA_SIG_get0(sig, &r, &s);
  guint8 *raw = g_malloc(64);
  g_assert_cmpint(BN_bn2binpad(r, raw, 32), ==, 32);
  g_assert_cmpint(BN_bn2binpad(s, raw + 32, 32), ==, 32);
  ECDSA_SIG_free(sig);
  return g_bytes_new_take(raw, 64);
}

/* Our signatures verify with `openssl dgst`, and its signatures with ours. SM2 with the GB/T
 * 35275 default ID, which `openssl dgst` needs to be told. */
static void test_openssl_cli(gconstpointer data) {
  cs_alg_t alg = GPOINTER_TO_INT(data);
  g_autofree char *openssl = g_find_program_in_path("openssl");
  if (openssl == NULL) {
    g_test_skip("no openssl command");
    return;
  }
  fixture_t f;
  fixture_init(&f);
  keygen(alg, CN, f.key, f.cert);
  g_autoptr(cs_signer_t) s = load_signer(f.key, f.cert);
  g_autoptr(cs_trust_t) t = load_trust(f.trust);
  g_autofree char *msg = g_build_filename(f.dir, "msg", NULL);
  g_autofree char *pub = g_build_filename(f.dir, "pub.pem", NULL);
  g_autofree char *sig_path = g_build_filename(f.dir, "sig.der", NULL);
  write_file(msg, HELLO, HELLO_LEN, 0644);
  const char *pubout[] = {"openssl", "x509", "-in", f.cert, "-noout", "-pubkey", NULL};
  g_autofree char *pub_pem = NULL;
  g_assert_true(run(pubout, &pub_pem));
  write_file(pub, pub_pem, strlen(pub_pem), 0644);

  /* ours -> openssl */
  g_autoptr(GBytes) sig = sign(s, HELLO, HELLO_LEN);
  g_autoptr(GBytes) der = raw_to_der(sig);
  write_file(sig_path, g_bytes_get_data(der, NULL), g_bytes_get_size(der), 0644);
  const char *check[] = {"openssl", "dgst", "-verify", pub, "-signature", sig_path, "-sha256",
                         msg, NULL, NULL, NULL};
  if (alg == CS_ALG_SM2_SM3) {
    check[6] = "-sm3";
    check[7] = "-sigopt";
    check[8] = "distid:1234567812345678";
    check[9] = msg;
  }
  g_autofree char *out = NULL;
  g_assert_true(run(check, &out));
  g_assert_nonnull(strstr(out, "Verified OK"));
  /* the check can fail: the same signature over other data */
  write_file(msg, "hellp", 5, 0644);
  g_autofree char *out2 = NULL;
  g_assert_false(run(check, &out2));

  /* openssl -> ours */
  write_file(msg, HELLO, HELLO_LEN, 0644);
  const char *make[] = {"openssl", "dgst", "-sign", f.key, "-out", sig_path, "-sha256", msg,
                        NULL, NULL, NULL};
  if (alg == CS_ALG_SM2_SM3) {
    make[6] = "-sm3";
    make[7] = "-sigopt";
    make[8] = "distid:1234567812345678";
    make[9] = msg;
  }
  g_autofree char *out3 = NULL;
  g_assert_true(run(make, &out3));
  g_autoptr(GBytes) theirs = der_to_raw(sig_path);
  g_assert_true(verify(t, cs_signer_kid(s), alg, HELLO, HELLO_LEN, theirs, NULL));
  fixture_clear(&f);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/signer/alg-names", test_alg_names);
  const cs_alg_t algs[] = {CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_SM2_SM3};
  for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
    const char *name = cs_alg_name(algs[i]);
    g_autofree char *p1 = g_strdup_printf("/signer/round-trip/%s", name);
    g_autofree char *p2 = g_strdup_printf("/signer/certificate/%s", name);
    g_autofree char *p3 = g_strdup_printf("/signer/no-certificate/%s", name);
    g_test_add_data_func(p1, GINT_TO_POINTER(algs[i]), test_round_trip);
    g_test_add_data_func(p2, GINT_TO_POINTER(algs[i]), test_certificate);
    g_test_add_data_func(p3, GINT_TO_POINTER(algs[i]), test_no_certificate);
  }
  g_test_add_func("/signer/several-keys", test_several_keys);
  g_test_add_func("/signer/duplicate-entries", test_duplicate_entries);
  g_test_add_func("/signer/determinism", test_determinism);
  g_test_add_func("/signer/key-mode-refused", test_key_mode_refused);
  g_test_add_func("/signer/keygen-mode", test_keygen_mode);
  g_test_add_func("/signer/unsupported-keys", test_unsupported_keys);
  g_test_add_func("/signer/encrypted-key-refused", test_encrypted_key_refused);
  g_test_add_func("/signer/cert-mismatch", test_cert_mismatch);
  g_test_add_func("/signer/trust-errors", test_trust_errors);
  g_test_add_func("/signer/trust-bundle", test_trust_bundle);
  g_test_add_func("/signer/ps256", test_ps256);
  g_test_add_func("/signer/sm2-as-ec-key", test_sm2_as_ec_key);
  g_test_add_data_func("/signer/openssl-cli/ES256", GINT_TO_POINTER(CS_ALG_ES256),
                       test_openssl_cli);
  g_test_add_data_func("/signer/openssl-cli/SM2-SM3", GINT_TO_POINTER(CS_ALG_SM2_SM3),
                       test_openssl_cli);
  return g_test_run();
}
