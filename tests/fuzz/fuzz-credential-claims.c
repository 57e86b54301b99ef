/* The CWT claims and certificate claim as the verifier reads them. fuzz-credential cannot
 * forge signatures, so its mutations stop at the signature check; here each input is taken
 * as the claims (the COSE payload), signed with a key made at start-up, and verified, so
 * every claim and the record inside are read from hostile CBOR. */
#include <glib/gstdio.h>
#include <string.h>

#include "cardspool.h"
#include "fuzz-common.h"

static cs_signer_t *signer;
static cs_trust_t *trust;
static gint64 clock_now;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("cs-fuzz-claims-XXXXXX", &error);
  if (dir == NULL)
    FUZZ_DIE("fuzz-credential-claims: %s", error->message);
  g_autofree char *key = g_build_filename(dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(dir, "cert.pem", NULL);
  /* EdDSA: the fastest to sign; the algorithm does not change how the claims are read */
  if (!cs_keygen(CS_ALG_EDDSA, "北京市应急管理局", "110000", 36500, key, cert, &error) ||
      (signer = cs_signer_load_pem(key, cert, &error)) == NULL ||
      !cs_trust_add_file(trust = cs_trust_new(), cert, &error))
    FUZZ_DIE("fuzz-credential-claims: %s", error->message);
  g_unlink(key);
  g_unlink(cert);
  g_rmdir(dir);
  /* fixed for the run; seeds carry no iat, so they count as signed now, inside the key's
   * certificate */
  clock_now = g_get_real_time() / G_USEC_PER_SEC + 60;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  g_autoptr(GBytes) claims = g_bytes_new(data, size);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cs_credential_sign(claims, signer, NULL, &error);
  if (text == NULL)
    FUZZ_DIE("fuzz-credential-claims: cannot sign: %s", error->message);
  g_autoptr(cs_verify_result_t) v = cs_credential_verify(text, NULL, trust, clock_now);
  /* well signed by a trusted key: the COSE layer always reads back */
  if (v->alg != CS_ALG_EDDSA || v->kid_length != CS_KID_LENGTH)
    abort();
  if (v->has_certificate &&
      (v->record == NULL || v->record->name == NULL || v->record->id_number == NULL))
    abort();
  return 0;
}
