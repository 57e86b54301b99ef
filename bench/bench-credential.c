/* Credential benchmark: sign + encode + QR per card, and verify per card, per algorithm. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "cardspool.h"

static double now_ms(void) { return g_get_monotonic_time() / 1000.0; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  const char *src = g_getenv("CS_TEST_SRCDIR");
  g_autofree char *job_path = g_build_filename(src ? src : ".", "examples",
                                               "special-operation.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(job_path, report, &error);
  if (job == NULL) {
    fprintf(stderr, "bench-credential: %s\n", error ? error->message : "bad job");
    return 1;
  }
  job->record->card_serial = 12345678;
  g_autofree char *dir = g_dir_make_tmp("cs-bench-XXXXXX", NULL);
  g_autofree char *key = g_build_filename(dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(dir, "cert.pem", NULL);
  const guint8 hash[CS_PHOTO_HASH_LENGTH] = {0};
  printf("%-9s %14s %14s %10s %10s\n", "alg", "sign+QR ms", "verify ms", "chars", "QR ver");
  const cs_alg_t algs[] = {CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_SM2_SM3};
  for (guint a = 0; a < G_N_ELEMENTS(algs); a++) {
    if (!cs_keygen(algs[a], "bench", "110000", 30, key, cert, &error)) {
      fprintf(stderr, "bench-credential: %s\n", error->message);
      return 1;
    }
    g_autoptr(cs_signer_t) signer = cs_signer_load_pem(key, cert, &error);
    g_autoptr(cs_trust_t) trust = cs_trust_new();
    cs_trust_add_file(trust, cert, &error);
    char *text = NULL;
    int version = 0;
    /* signed now: a fixed past time falls before a just-made certificate's notBefore */
    gint64 iat = g_get_real_time() / G_USEC_PER_SEC;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
      g_free(text);
      g_autoptr(GBytes) claims = cs_credential_claims(job->record, hash, iat, NULL);
      text = cs_credential_sign(claims, signer, NULL, NULL);
      g_autoptr(cs_qr_t) qr = cs_qr_encode(text, CS_QR_ECC_M, 0, NULL);
      version = qr->version;
    }
    double t1 = now_ms();
    for (int i = 0; i < n; i++) {
      g_autoptr(cs_verify_result_t) v = cs_credential_verify(text, NULL, trust, iat + 60);
      if (v->status != CS_VERIFY_VALID) {
        fprintf(stderr, "bench-credential: does not verify: %s\n", v->detail);
        return 1;
      }
    }
    double t2 = now_ms();
    printf("%-9s %14.3f %14.3f %10zu %10d\n", cs_alg_name(algs[a]), (t1 - t0) / n,
           (t2 - t1) / n, strlen(text), version);
    printf("RESULT credential.%s.sign_qr_ms %.4f ms/card\n", cs_alg_name(algs[a]), (t1 - t0) / n);
    printf("RESULT credential.%s.verify_ms %.4f ms/card\n", cs_alg_name(algs[a]), (t2 - t1) / n);
    printf("RESULT credential.%s.chars %zu chars\n", cs_alg_name(algs[a]), strlen(text));
    printf("RESULT credential.%s.qr_version %d version\n", cs_alg_name(algs[a]), version);
    g_free(text);
  }
  g_unlink(key);
  g_unlink(cert);
  g_rmdir(dir);
  return 0;
}
