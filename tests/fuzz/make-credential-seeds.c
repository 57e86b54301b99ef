/* Makes the trusted seeds of corpus/credential and their keys' certificates in keys/, and the
 * seeds of corpus/credential-claims. Run by hand when the credential format changes
 * (docs/fuzzing.md):
 *   build-fuzz/tests/fuzz/make-credential-seeds /path/to/source
 * New keys each time; their private halves are thrown away, so the checked-in seeds and
 * certificates always come as one set. */
#include <glib/gstdio.h>
#include <string.h>
#include <zlib.h>

#include "cardspool.h"
#include "fuzz-credential.h"

static const guint8 photo_hash[CS_PHOTO_HASH_LENGTH] = {0x5a, 0x17, 0x08, 0xc3,
                                                         0x91, 0x4e, 0x22, 0xd0};

static void die(const char *what, const GError *error) {
  g_printerr("make-credential-seeds: %s: %s\n", what, error ? error->message : "failed");
  exit(1);
}

static void write_file(const char *dir, const char *name, const void *data, gsize length) {
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents(path, data, (gssize)length, &error))
    die(path, error);
  g_print("%s\n", path);
}

static cs_record_t *example(const char *src, const char *name) {
  g_autofree char *path = g_build_filename(src, "examples", name, NULL);
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(GError) error = NULL;
  cs_job_t *job = cs_job_load_file(path, report, &error);
  if (job == NULL)
    die(path, error);
  cs_record_t *r = job->record;
  job->record = NULL;
  cs_job_free(job);
  g_free(r->issuing_authority_code); /* the keys' authority */
  r->issuing_authority_code = g_strdup("110000");
  r->card_serial = 4711;
  return r;
}

/* The same COSE_Sign1 re-wrapped: in a CWT tag (61), and zlib-compressed (what EU DCC
 * issuers send); the signature covers neither, so both stay valid. */
static char *rewrap(const char *text, gboolean cwt, gboolean deflate) {
  const char *b45 = text + strlen(CS_CREDENTIAL_PREFIX);
  g_autoptr(GBytes) raw = cs_base45_decode(b45, strlen(b45), NULL);
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(raw, &n);
  g_autoptr(GByteArray) out = g_byte_array_new();
  if (cwt)
    g_byte_array_append(out, (const guint8 *)"\xd8\x3d", 2);
  g_byte_array_append(out, d, (guint)n);
  if (deflate) {
    uLongf zn = compressBound(out->len);
    g_autofree guint8 *z = g_malloc(zn);
    if (compress2(z, &zn, out->data, out->len, 9) != Z_OK)
      die("zlib", NULL);
    g_byte_array_set_size(out, 0);
    g_byte_array_append(out, z, (guint)zn);
  }
  g_autofree char *enc = cs_base45_encode(out->data, out->len);
  return g_strconcat(CS_CREDENTIAL_PREFIX, enc, NULL);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    g_printerr("usage: make-credential-seeds SOURCE-DIR\n");
    return 2;
  }
  const char *src = argv[1];
  g_autofree char *keys = g_build_filename(src, "tests/fuzz/keys", NULL);
  g_autofree char *texts = g_build_filename(src, "tests/fuzz/corpus/credential", NULL);
  g_autofree char *claims_dir = g_build_filename(src, "tests/fuzz/corpus/credential-claims", NULL);
  g_mkdir_with_parents(keys, 0755);
  g_mkdir_with_parents(claims_dir, 0755);
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp("cs-seeds-XXXXXX", &error);
  if (tmp == NULL)
    die("temporary folder", error);
  g_autofree char *key = g_build_filename(tmp, "key.pem", NULL);

  const gint64 iat = FUZZ_CREDENTIAL_CLOCK - 86400;
  static const char *const examples[] = {"special-operation.json", "safety-competence.json",
                                         "renewal-old-style.json"};
  static const cs_alg_t algs[] = {CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_SM2_SM3};
  for (guint a = 0; a < G_N_ELEMENTS(algs); a++) {
    const char *alg = cs_alg_name(algs[a]);
    g_autofree char *cert_name = g_strconcat(alg, ".pem", NULL);
    g_autofree char *cert = g_build_filename(keys, cert_name, NULL);
    if (!cs_keygen(algs[a], "北京市应急管理局", "110000", 36500, key, cert, &error))
      die(alg, error);
    g_print("%s\n", cert);
    g_autoptr(cs_signer_t) signer = cs_signer_load_pem(key, cert, &error);
    if (signer == NULL)
      die(alg, error);
    /* ES256 signs every example and the re-wrapped forms; the others the first example */
    guint n_examples = algs[a] == CS_ALG_ES256 ? G_N_ELEMENTS(examples) : 1;
    for (guint e = 0; e < n_examples; e++) {
      g_autoptr(cs_record_t) r = example(src, examples[e]);
      g_autoptr(GBytes) claims = cs_credential_claims(r, photo_hash, iat, &error);
      if (claims == NULL)
        die(examples[e], error);
      g_autofree char *text = cs_credential_sign(claims, signer, NULL, &error);
      if (text == NULL)
        die(examples[e], error);
      g_autofree char *stem = g_strndup(examples[e], strcspn(examples[e], "."));
      g_autofree char *name = g_strdup_printf("valid-trusted-%s-%s.txt", alg, stem);
      write_file(texts, name, text, strlen(text));
      if (algs[a] != CS_ALG_ES256 || e > 0)
        continue;
      g_autofree char *cwt = rewrap(text, TRUE, FALSE);
      g_autofree char *zlib = rewrap(text, TRUE, TRUE);
      write_file(texts, "valid-trusted-ES256-cwt-tag.txt", cwt, strlen(cwt));
      write_file(texts, "valid-trusted-ES256-zlib.txt", zlib, strlen(zlib));
      /* signed after the clock, and by an expired record: the two time verdicts */
      g_autoptr(GBytes) later = cs_credential_claims(r, photo_hash, iat + 2 * 86400, &error);
      g_autofree char *later_text = cs_credential_sign(later, signer, NULL, &error);
      write_file(texts, "valid-trusted-ES256-not-yet-valid.txt", later_text, strlen(later_text));
      r->valid_until = (cs_date_t){2027, 5, 1};
      g_autoptr(GBytes) old = cs_credential_claims(r, photo_hash, iat, &error);
      g_autofree char *old_text = cs_credential_sign(old, signer, NULL, &error);
      write_file(texts, "valid-trusted-ES256-expired.txt", old_text, strlen(old_text));
    }
    g_unlink(key);
  }

  /* claims for fuzz-credential-claims, which signs them itself: no iat, so that its own
   * key (made when it starts) signs them "now" */
  for (guint e = 0; e < G_N_ELEMENTS(examples); e++) {
    g_autoptr(cs_record_t) r = example(src, examples[e]);
    g_autoptr(GBytes) claims = cs_credential_claims(r, photo_hash, 0, &error);
    if (claims == NULL)
      die(examples[e], error);
    gsize n = 0;
    const guint8 *d = g_bytes_get_data(claims, &n);
    g_autofree char *stem = g_strndup(examples[e], strcspn(examples[e], "."));
    g_autofree char *name = g_strconcat(stem, ".cbor", NULL);
    write_file(claims_dir, name, d, n);
  }
  g_rmdir(tmp);
  return 0;
}
