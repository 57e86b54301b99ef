#include "usb.h"
#include "error.h"
void cs_usb_printer_free(cs_usb_printer_t *p) { (void)p; }
GPtrArray *cs_usb_list(GError **error) {
  (void)error; return g_ptr_array_new_with_free_func((GDestroyNotify)cs_usb_printer_free);
}
cs_transport_t *cs_usb_open(const char *make, const char *serial, GError **error) {
  g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "no %s printer %s on USB yet", make, serial ? serial : "");
  return NULL;
}
