/* Raw USB card printers through libusb-1.0 (PAPPL device-usb.c and CUPS usb-libusb.c were
 * read for their practice, facts in ../shared/docs/printer-protocols.md part 3). */
#pragma once

#include <glib.h>

#include "transport.h"

G_BEGIN_DECLS

typedef struct {
  char *uri;        /* evolis://SERIAL or magicard://SERIAL */
  char *make;       /* "Evolis", "Magicard" */
  char *model;
  char *serial;
  char *device_id;  /* IEEE 1284 ID */
  guint16 vid, pid;
  guint8 bus, address;
} cs_usb_printer_t;

void cs_usb_printer_free(cs_usb_printer_t *printer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_usb_printer_t, cs_usb_printer_free)

/* Card printers on USB: printer-class interfaces (class 7, subclass 1, protocol 1 or 2) whose
 * 1284 MFG is Evolis or Magicard, or with Magicard's VID 0C1F. Array of cs_usb_printer_t. */
GPtrArray *cs_usb_list(GError **error);

/* make: "evolis" or "magicard"; serial: the 1284 SN / iSerialNumber, or NULL for the only one.
 * Detaches usblp, claims the interface (retrying BUSY), finds the bulk endpoints. */
cs_transport_t *cs_usb_open(const char *make, const char *serial, GError **error);

G_END_DECLS
