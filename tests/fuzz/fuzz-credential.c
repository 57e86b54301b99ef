/* The QR credential decoder and verifier: cs_credential_verify() on any text, with a trust
 * store holding the keys of the seeds in corpus/credential (keys/, made with the seeds by
 * make-credential-seeds), so mutations of well-signed credentials get past base45, zlib and
 * COSE down to the signature check. */
#include <string.h>

#include "cardspool.h"
#include "fuzz-common.h"
#include "fuzz-credential.h"

static cs_trust_t *trust;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  g_autofree char *keys = fuzz_src("tests/fuzz/keys");
  g_autoptr(GError) error = NULL;
  trust = cs_trust_load(keys, &error);
  if (trust == NULL)
    FUZZ_DIE("fuzz-credential: %s", error->message);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* QR text is a C string: what follows a NUL is not part of it */
  g_autofree char *text = g_strndup((const char *)data, size);
  g_autoptr(cs_verify_result_t) v =
      cs_credential_verify(text, NULL, trust, FUZZ_CREDENTIAL_CLOCK);
  if (v == NULL || v->detail == NULL || cs_verify_status_name(v->status) == NULL)
    abort();
  /* a valid credential carries its record */
  if (v->status == CS_VERIFY_VALID && (v->record == NULL || v->record->name == NULL))
    abort();
  /* another issuer's prefix, as the verifier accepts for EU DCC-style texts */
  g_autoptr(cs_verify_result_t) w =
      cs_credential_verify(text, "HC1:", trust, FUZZ_CREDENTIAL_CLOCK);
  if (w == NULL || w->detail == NULL)
    abort();
  return 0;
}
