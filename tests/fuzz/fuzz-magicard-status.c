/* Magicard status replies: cs_magicard_parse_status() (REQ,ERR) and cs_magicard_parse_sta()
 * (REQ,STA,<key>) on the same bytes, as either could arrive after either query. */
#include <string.h>

#include "fuzz-common.h"
#include "magicard.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  return 0;
}

static gboolean terminated(const char *buf, gsize size) { return memchr(buf, 0, size) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cs_magicard_status_t status;
  g_autoptr(GError) error = NULL;
  if (cs_magicard_parse_status(data, size, &status, &error)) {
    if (!terminated(status.message, sizeof status.message) ||
        !terminated(status.code, sizeof status.code) ||
        !terminated(status.detail, sizeof status.detail) || status.code[0] == 0 ||
        !g_utf8_validate(status.message, -1, NULL))
      abort();
  } else if (error == NULL) {
    abort();
  }
  /* the keys the driver asks for, and a one-letter one */
  static const char *const keys[] = {"TCQ", "MSR", "X"};
  for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
    g_autoptr(GError) sta_error = NULL;
    g_autofree char *value = NULL;
    if (cs_magicard_parse_sta(data, size, keys[i], &value, &sta_error)) {
      if (value == NULL || !g_utf8_validate(value, -1, NULL) || strlen(value) >= size)
        abort();
    } else if (sta_error == NULL || value != NULL) {
      abort();
    }
  }
  return 0;
}
