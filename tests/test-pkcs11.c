/* PKCS#11 signing against a SoftHSM2 token this program initialises in a temporary folder:
 * ES256 and EdDSA round trips through the trust store, whole credentials, the kid from a
 * certificate object, and the errors an operator meets (PIN, labels, PIN file mode). */
#include <dlfcn.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cardspool.h"
#include "credential.h"
#include "error.h"
#include "signer.h"
#include "testutil.h"

#define TOKEN "cardspool-test"
#define PIN "1234"

static char *module; /* NULL: SoftHSM2 or pkcs11-tool missing, every test skips */
static char *dir, *pin_file;

static const guint8 HELLO[] = "hello";
#define HELLO_LEN 5

/* ---- setup ---- */

static void run_tool(const char *const *argv) {
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                             &err, &status, &error));
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("%s failed:\n%s%s", argv[0], out, err);
}

static void keypairgen(const char *key_type, const char *label) {
  const char *argv[] = {"pkcs11-tool", "--module", module, "--token-label", TOKEN, "--login",
                        "--pin", PIN, "--keypairgen", "--key-type", key_type, "--label", label,
                        NULL};
  run_tool(argv);
}

/* The token's public key labelled label, as a file in dir (SPKI, PEM or DER). */
static char *export_pubkey(const char *label) {
  g_autofree char *name = g_strdup_printf("%s.pub", label);
  char *path = g_build_filename(dir, name, NULL);
  const char *argv[] = {"pkcs11-tool", "--module", module, "--token-label", TOKEN,
                        "--read-object", "--type", "pubkey", "--label", label, "-o", path, NULL};
  run_tool(argv);
  return path;
}

static void write_file(const char *path, const char *text, int mode) {
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_set_contents(path, text, -1, &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

static gboolean setup(void) {
  const char *candidates[] = {g_getenv("CS_TEST_SOFTHSM2"), "/usr/lib/softhsm/libsofthsm2.so",
                              "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"};
  const char *found = NULL;
  for (guint i = 0; i < G_N_ELEMENTS(candidates) && !found; i++)
    if (candidates[i] && g_file_test(candidates[i], G_FILE_TEST_EXISTS))
      found = candidates[i];
  g_autofree char *util = g_find_program_in_path("softhsm2-util");
  g_autofree char *tool = g_find_program_in_path("pkcs11-tool");
  if (!found || !util || !tool)
    return FALSE;
  module = g_strdup(found);
  /* Keep the module mapped until exit, so that LeakSanitizer can name it in stacks:
   * tests/lsan.supp suppresses SoftHSM2's own EdDSA leak by its module name only. */
  if (dlopen(module, RTLD_NOW | RTLD_NODELETE) == NULL)
    return FALSE;

  g_autoptr(GError) error = NULL;
  dir = g_dir_make_tmp("cs-pkcs11-XXXXXX", &error);
  g_assert_no_error(error);
  g_autofree char *tokens = g_build_filename(dir, "tokens", NULL);
  g_assert_cmpint(g_mkdir(tokens, 0700), ==, 0);
  g_autofree char *conf = g_build_filename(dir, "softhsm2.conf", NULL);
  g_autofree char *conf_text = g_strdup_printf(
      "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
  write_file(conf, conf_text, 0600);
  g_setenv("SOFTHSM2_CONF", conf, TRUE);

  const char *init[] = {"softhsm2-util", "--init-token", "--free", "--label", TOKEN,
                        "--pin", PIN, "--so-pin", "5678", NULL};
  run_tool(init);
  keypairgen("EC:prime256v1", "es256");
  keypairgen("EC:edwards25519", "ed25519");
  keypairgen("EC:secp384r1", "p384");
  keypairgen("EC:prime256v1", "with-cert");
  pin_file = g_build_filename(dir, "pin", NULL);
  write_file(pin_file, PIN "\n", 0600);
  return TRUE;
}

#define REQUIRE_TOKEN() \
  do { \
    if (module == NULL) { \
      g_test_skip("SoftHSM2 or pkcs11-tool (opensc) is not installed"); \
      return; \
    } \
  } while (0)

/* ---- helpers ---- */

static cs_signer_t *load(const char *label) {
  g_autoptr(GError) error = NULL;
  cs_signer_t *s = cs_signer_load_pkcs11(module, TOKEN, label, pin_file, NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(s);
  return s;
}

static void assert_load_fails(const char *token, const char *label, const char *pin_path,
                              const char *pin_env, int code, const char *needle) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_signer_t) s = cs_signer_load_pkcs11(module, token, label, pin_path, pin_env,
                                                   &error);
  g_assert_null(s);
  g_assert_error(error, CS_ERROR, code);
  g_test_message("%s", error->message);
  g_assert_nonnull(strstr(error->message, needle));
}

/* Signs HELLO and checks the signature through a trust store holding only trust_file. */
static void assert_verifies(cs_signer_t *s, const char *trust_file) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) sig = cs_signer_sign(s, HELLO, HELLO_LEN, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_bytes_get_size(sig), ==, 64);
  g_autoptr(cs_trust_t) trust = cs_trust_new();
  g_assert_true(cs_trust_add_file(trust, trust_file, &error));
  g_assert_no_error(error);
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(sig, &len);
  const cs_trust_entry_t *who = NULL;
  gboolean known = FALSE;
  g_assert_true(cs_trust_verify(trust, cs_signer_kid(s), CS_KID_LENGTH, cs_signer_alg(s), HELLO,
                                HELLO_LEN, d, len, &who, &known));
  g_assert_nonnull(who);
  /* one changed byte of the data or of the signature fails, with the kid still known */
  g_autofree guint8 *bad = g_memdup2(d, len);
  bad[len - 1] ^= 1;
  g_assert_false(cs_trust_verify(trust, cs_signer_kid(s), CS_KID_LENGTH, cs_signer_alg(s), HELLO,
                                 HELLO_LEN, bad, len, NULL, &known));
  g_assert_true(known);
  g_assert_false(cs_trust_verify(trust, cs_signer_kid(s), CS_KID_LENGTH, cs_signer_alg(s),
                                 (const guint8 *)"hellO", HELLO_LEN, d, len, NULL, &known));
}

/* ---- tests ---- */

static void test_es256(void) {
  REQUIRE_TOKEN();
  g_autoptr(cs_signer_t) s = load("es256");
  g_assert_cmpint(cs_signer_alg(s), ==, CS_ALG_ES256);
  g_autofree char *pub = export_pubkey("es256");
  assert_verifies(s, pub);
  /* ECDSA: two signatures of the same data differ, and both verify */
  g_autoptr(GBytes) a = cs_signer_sign(s, HELLO, HELLO_LEN, NULL);
  g_autoptr(GBytes) b = cs_signer_sign(s, HELLO, HELLO_LEN, NULL);
  g_assert_false(g_bytes_equal(a, b));
}

static void test_eddsa(void) {
  REQUIRE_TOKEN();
  g_autoptr(cs_signer_t) s = load("ed25519");
  g_assert_cmpint(cs_signer_alg(s), ==, CS_ALG_EDDSA);
  g_autofree char *pub = export_pubkey("ed25519");
  assert_verifies(s, pub);
  /* Ed25519 is deterministic */
  g_autoptr(GBytes) a = cs_signer_sign(s, HELLO, HELLO_LEN, NULL);
  g_autoptr(GBytes) b = cs_signer_sign(s, HELLO, HELLO_LEN, NULL);
  g_assert_true(g_bytes_equal(a, b));
}

static cs_record_t *example(const char *name) {
  g_autofree char *path = testutil_src(name);
  g_autoptr(cs_report_t) report = cs_report_new();
  cs_job_t *job = cs_job_load_file(path, report, NULL);
  g_assert_nonnull(job);
  cs_record_t *r = job->record;
  job->record = NULL;
  cs_job_free(job);
  return r;
}

static void test_credential(void) {
  REQUIRE_TOKEN();
  const gint64 now = 1764374400; /* 2025-11-29 */
  const guint8 photo_hash[CS_PHOTO_HASH_LENGTH] = {1, 2, 3, 4, 5, 6, 7, 8};
  g_autoptr(cs_record_t) r = example("examples/special-operation.json");
  const char *labels[] = {"es256", "ed25519"};
  for (guint i = 0; i < G_N_ELEMENTS(labels); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_signer_t) s = load(labels[i]);
    g_autoptr(GBytes) claims = cs_credential_claims(r, photo_hash, now, &error);
    g_assert_no_error(error);
    g_autofree char *text = cs_credential_sign(claims, s, NULL, &error);
    g_assert_no_error(error);
    g_autofree char *pub = export_pubkey(labels[i]);
    g_autoptr(cs_trust_t) trust = cs_trust_new();
    g_assert_true(cs_trust_add_file(trust, pub, &error));
    g_assert_no_error(error);
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(text, NULL, trust, now + 60);
    g_assert_cmpstr(cs_verify_status_name(v->status), ==,
                    cs_verify_status_name(CS_VERIFY_VALID));
    g_assert_cmpint(v->alg, ==, cs_signer_alg(s));
    g_assert_cmpmem(v->kid, v->kid_length, cs_signer_kid(s), CS_KID_LENGTH);
    g_assert_cmpstr(v->record->name, ==, r->name);
  }
}

/* A certificate object with the key's label gives the kid: SHA-256 of the certificate. */
static void test_certificate_kid(void) {
  REQUIRE_TOKEN();
  g_autofree char *pub_path = export_pubkey("with-cert");
  g_autoptr(cs_signer_t) before = load("with-cert"); /* no certificate yet: kid of the SPKI */

  /* a certificate of the token's public key, issued by a throwaway CA key */
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(pub_path, &bytes, &len, NULL));
  BIO *bio = BIO_new_mem_buf(bytes, (int)len);
  EVP_PKEY *pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL); /* pkcs11-tool writes PEM */
  BIO_free(bio);
  if (pub == NULL) { /* or DER */
    const unsigned char *p = (const unsigned char *)bytes;
    pub = d2i_PUBKEY(NULL, &p, (long)len);
  }
  ERR_clear_error();
  g_assert_nonnull(pub);
  EVP_PKEY *ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *cert = X509_new();
  X509_NAME *name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"token key", -1,
                             -1, 0);
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_set_subject_name(cert, name);
  X509_set_issuer_name(cert, name);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, pub);
  g_assert_cmpint(X509_sign(cert, ca, EVP_sha256()), >, 0);
  unsigned char *der = NULL;
  int der_len = i2d_X509(cert, &der);
  g_assert_cmpint(der_len, >, 0);
  g_autofree char *cert_path = g_build_filename(dir, "with-cert.der", NULL);
  g_assert_true(g_file_set_contents(cert_path, (const char *)der, der_len, NULL));
  unsigned char md[32];
  g_assert_cmpint(EVP_Digest(der, (size_t)der_len, md, NULL, EVP_sha256(), NULL), ==, 1);
  OPENSSL_free(der);
  X509_NAME_free(name);
  X509_free(cert);
  EVP_PKEY_free(ca);
  EVP_PKEY_free(pub);

  const char *argv[] = {"pkcs11-tool", "--module", module, "--token-label", TOKEN, "--login",
                        "--pin", PIN, "--write-object", cert_path, "--type", "cert", "--label",
                        "with-cert", NULL};
  run_tool(argv);
  g_autoptr(cs_signer_t) s = load("with-cert");
  g_assert_cmpint(cs_signer_alg(s), ==, CS_ALG_ES256);
  g_assert_cmpmem(cs_signer_kid(s), CS_KID_LENGTH, md, CS_KID_LENGTH);
  g_assert_false(memcmp(cs_signer_kid(s), cs_signer_kid(before), CS_KID_LENGTH) == 0);
  assert_verifies(s, cert_path);
  assert_verifies(before, pub_path); /* two signers of one token at once */
  /* and either going away leaves the other logged in */
  g_clear_pointer(&before, cs_signer_free);
  assert_verifies(s, cert_path);
  g_clear_pointer(&s, cs_signer_free);
  s = load("with-cert");
  before = load("es256");
  g_clear_pointer(&s, cs_signer_free);
  g_autofree char *es256_pub = export_pubkey("es256");
  assert_verifies(before, es256_pub);
}

static void test_pin_env(void) {
  REQUIRE_TOKEN();
  g_setenv("CS_TEST_TOKEN_PIN", PIN, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_signer_t) s = cs_signer_load_pkcs11(module, TOKEN, "es256", NULL,
                                                   "CS_TEST_TOKEN_PIN", &error);
  g_assert_no_error(error);
  g_autofree char *pub = export_pubkey("es256");
  assert_verifies(s, pub);
  g_unsetenv("CS_TEST_TOKEN_PIN");
  assert_load_fails(TOKEN, "es256", NULL, "CS_TEST_TOKEN_PIN", CS_ERROR_FAILED,
                    "CS_TEST_TOKEN_PIN");
  assert_load_fails(TOKEN, "es256", NULL, NULL, CS_ERROR_FAILED, "no PIN");
}

static void test_wrong_pin(void) {
  REQUIRE_TOKEN();
  g_autofree char *bad = g_build_filename(dir, "bad-pin", NULL);
  write_file(bad, "4321\n", 0600);
  assert_load_fails(TOKEN, "es256", bad, NULL, CS_ERROR_FAILED, "CKR_PIN_INCORRECT");
  assert_load_fails(TOKEN, "es256", bad, NULL, CS_ERROR_FAILED, "0x000000A0");
  assert_load_fails(TOKEN, "es256", bad, NULL, CS_ERROR_FAILED, "token \"" TOKEN "\"");
  assert_load_fails(TOKEN, "es256", bad, NULL, CS_ERROR_FAILED, module);
  g_setenv("CS_TEST_TOKEN_PIN", "0000", TRUE);
  assert_load_fails(TOKEN, "es256", NULL, "CS_TEST_TOKEN_PIN", CS_ERROR_FAILED,
                    "CKR_PIN_INCORRECT");
  g_unsetenv("CS_TEST_TOKEN_PIN");
  /* and the right PIN still works afterwards */
  g_autoptr(cs_signer_t) s = load("es256");
}

static void test_pin_file_mode(void) {
  REQUIRE_TOKEN();
  g_autofree char *open_pin = g_build_filename(dir, "open-pin", NULL);
  write_file(open_pin, PIN "\n", 0644);
  assert_load_fails(TOKEN, "es256", open_pin, NULL, CS_ERROR_IO, "chmod 600");
  g_assert_cmpint(g_chmod(open_pin, 0620), ==, 0);
  assert_load_fails(TOKEN, "es256", open_pin, NULL, CS_ERROR_IO, "writable");
  g_autofree char *missing = g_build_filename(dir, "no-such-pin", NULL);
  assert_load_fails(TOKEN, "es256", missing, NULL, CS_ERROR_IO, "no-such-pin");
  /* a PIN file without a final newline, or with CRLF, is the same PIN */
  write_file(open_pin, PIN, 0600);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_signer_t) a = cs_signer_load_pkcs11(module, TOKEN, "es256", open_pin, NULL,
                                                   &error);
  g_assert_no_error(error);
  write_file(open_pin, PIN "\r\nsecond line\n", 0600);
  g_autoptr(cs_signer_t) b = cs_signer_load_pkcs11(module, TOKEN, "es256", open_pin, NULL,
                                                   &error);
  g_assert_no_error(error);
}

static void test_unknown_labels(void) {
  REQUIRE_TOKEN();
  assert_load_fails("no-such-token", "es256", pin_file, NULL, CS_ERROR_FAILED,
                    "token \"no-such-token\"");
  assert_load_fails("no-such-token", "es256", pin_file, NULL, CS_ERROR_FAILED,
                    "no token with that label");
  /* a label is the whole label, not a prefix */
  assert_load_fails("cardspool", "es256", pin_file, NULL, CS_ERROR_FAILED,
                    "no token with that label");
  assert_load_fails(TOKEN, "no-such-key", pin_file, NULL, CS_ERROR_FAILED,
                    "key \"no-such-key\"");
  assert_load_fails(TOKEN, "no-such-key", pin_file, NULL, CS_ERROR_FAILED, "no private key");
  assert_load_fails(TOKEN, "es25", pin_file, NULL, CS_ERROR_FAILED, "no private key");
}

static void test_unsupported(void) {
  REQUIRE_TOKEN();
  assert_load_fails(TOKEN, "p384", pin_file, NULL, CS_ERROR_UNSUPPORTED, "another curve");
  g_autofree char *missing = g_build_filename(dir, "no-such-module.so", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_signer_t) s = cs_signer_load_pkcs11(missing, TOKEN, "es256", pin_file, NULL,
                                                   &error);
  g_assert_null(s);
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "no-such-module.so"));
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  gboolean ready = setup();
  g_test_add_func("/pkcs11/es256", test_es256);
  g_test_add_func("/pkcs11/eddsa", test_eddsa);
  g_test_add_func("/pkcs11/credential", test_credential);
  g_test_add_func("/pkcs11/certificate-kid", test_certificate_kid);
  g_test_add_func("/pkcs11/pin-env", test_pin_env);
  g_test_add_func("/pkcs11/wrong-pin", test_wrong_pin);
  g_test_add_func("/pkcs11/pin-file-mode", test_pin_file_mode);
  g_test_add_func("/pkcs11/unknown-labels", test_unknown_labels);
  g_test_add_func("/pkcs11/unsupported", test_unsupported);
  int status = g_test_run();
  if (ready)
    testutil_remove_dir(dir);
  g_free(dir);
  g_free(pin_file);
  g_free(module);
  return status;
}
