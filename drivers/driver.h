/* Printer drivers behind one interface, found by the scheme of a device URI, as PAPPL does:
 *   file:///DIR        the simulated printer: writes what it would print (device-file.c)
 *   cups://QUEUE       a CUPS queue, sent the card as a PDF (device-cups.c)
 *   evolis://SERIAL    an Evolis card printer on USB (device-usb.c, evolis.c)
 *   magicard://SERIAL  a Magicard card printer on USB (device-usb.c, magicard.c)
 *   emulator://MODEL   a protocol emulator in the process, for tests (device-emulator.c)
 * The URI's query carries per-printer settings (settings.h): evolis://E01?ribbon=ko&offset-x=3.
 *
 * A print call either hands the whole card to the device and it is acknowledged (TRUE), or
 * reports why not (FALSE): CS_ERROR_PRINTER when nothing reached the device, so the card can
 * be sent again; CS_ERROR_PRINTER_ATTENTION when the device may have printed part or all of
 * it, so an operator must look before it is reprinted. Never "printed" on a guess. */
#pragma once

#include <glib.h>

#include "render.h"
#include "settings.h"

G_BEGIN_DECLS

typedef enum {
  CS_PRINTER_READY,
  CS_PRINTER_PRINTING,
  CS_PRINTER_RIBBON_LOW,
  CS_PRINTER_RIBBON_OUT,
  CS_PRINTER_FEEDER_EMPTY,
  CS_PRINTER_COVER_OPEN,
  CS_PRINTER_JAM,
  CS_PRINTER_OFFLINE,
  CS_PRINTER_ERROR, /* a fault the driver has no name for: the printer's message says */
} cs_printer_state_t;

typedef struct {
  const char *model;
  gboolean duplex;
  cs_plane_geometry_t geometry; /* the planes it takes */
  const char *ribbons;          /* e.g. "YMCKO,KO,K" */
  gboolean wants_pdf;           /* takes the card as a PDF (CUPS), not as planes */
} cs_printer_caps_t;

typedef struct {
  const char *job_id;      /* the spooler's job identifier, for the device's log */
  const char *description; /* what made the card: cs_card_describe() */
  const cs_planes_t *front;
  const cs_planes_t *back; /* NULL: one-sided */
  GBytes *pdf;             /* the card as a PDF, one page a side: for caps->wants_pdf */
  guint n_sides;           /* with pdf: 1 or 2 */
} cs_card_job_t;

typedef struct cs_driver cs_driver_t;

/* Errors: CS_ERROR_UNSUPPORTED (no driver for the scheme), CS_ERROR_IO/CS_ERROR_PRINTER. */
cs_driver_t *cs_driver_open(const char *uri, GError **error);
/* With settings (the URI's query, if any, is applied over them). */
cs_driver_t *cs_driver_open_with(const char *uri, const cs_printer_settings_t *settings,
                                 GError **error);
const cs_printer_settings_t *cs_driver_settings(const cs_driver_t *driver);
/* The geometry to render this printer's planes at: its dots with its calibration applied. */
void cs_driver_geometry(const cs_driver_t *driver, cs_plane_geometry_t *geometry);
/* Renders the card for this printer (planes with its calibration, or a PDF) and prints it. */
gboolean cs_driver_print_card(cs_driver_t *driver, const cs_card_t *card, const char *job_id,
                              GError **error);
void cs_driver_close(cs_driver_t *driver);
const char *cs_driver_uri(const cs_driver_t *driver);
const cs_printer_caps_t *cs_driver_caps(const cs_driver_t *driver);
cs_printer_state_t cs_driver_status(cs_driver_t *driver, GError **error);
gboolean cs_driver_print(cs_driver_t *driver, const cs_card_job_t *job, GError **error);
const char *cs_printer_state_name(cs_printer_state_t state);

/* For tests: the emulator behind an emulator:// printer, NULL for other printers. */
struct cs_emulator *cs_driver_emulator(cs_driver_t *driver);

/* Printers this machine can reach: USB card printers and CUPS queues, each with its URI. */
typedef struct {
  char *uri;
  char *kind;        /* "usb" or "cups" */
  char *description; /* make and model, or the queue's info */
  char *state;       /* as its driver or CUPS reports it */
} cs_printer_info_t;
void cs_printer_info_free(cs_printer_info_t *info);
/* Never fails as a whole: a source that cannot be read (no CUPS server) adds a warning. */
GPtrArray *cs_printers_list(GPtrArray *warnings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_driver_t, cs_driver_close)

G_END_DECLS
