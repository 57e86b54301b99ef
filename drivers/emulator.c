#include "emulator-private.h"
#include "error.h"
cs_emulator_t *cs_emulator_new(const char *model, GError **error) {
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "no emulator “%s” yet", model);
  return NULL;
}
void cs_emulator_free(cs_emulator_t *e) { (void)e; }
const char *cs_emulator_model(const cs_emulator_t *e) { (void)e; return ""; }
const char *cs_emulator_serial(const cs_emulator_t *e) { (void)e; return ""; }
guint16 cs_emulator_vid(const cs_emulator_t *e) { (void)e; return 0; }
guint16 cs_emulator_pid(const cs_emulator_t *e) { (void)e; return 0; }
const char *cs_emulator_device_id(const cs_emulator_t *e) { (void)e; return ""; }
gboolean cs_emulator_write(cs_emulator_t *e, const guint8 *d, gsize l, GError **error) {
  (void)e; (void)d; (void)l; (void)error; return FALSE;
}
gssize cs_emulator_read(cs_emulator_t *e, guint8 *b, gsize l) { (void)e; (void)b; (void)l; return -1; }
guint8 cs_emulator_port_status(const cs_emulator_t *e) { (void)e; return 0; }
void cs_emulator_inject(cs_emulator_t *e, cs_fault_t f, guint64 a) { (void)e; (void)f; (void)a; }
void cs_emulator_clear(cs_emulator_t *e) { (void)e; }
cs_fault_t cs_emulator_fault(const cs_emulator_t *e) { (void)e; return CS_FAULT_NONE; }
guint cs_emulator_n_cards(const cs_emulator_t *e) { (void)e; return 0; }
const cs_emu_card_t *cs_emulator_card(const cs_emulator_t *e, guint i) { (void)e; (void)i; return NULL; }
guint64 cs_emulator_bytes(const cs_emulator_t *e) { (void)e; return 0; }
const GPtrArray *cs_emulator_errors(const cs_emulator_t *e) { (void)e; return NULL; }
const char *cs_fault_name(cs_fault_t f) { (void)f; return "?"; }
gboolean cs_fault_from_name(const char *n, cs_fault_t *f) { (void)n; (void)f; return FALSE; }
