/* Printer drivers behind one interface, found by the scheme of a device URI, as PAPPL does:
 *   file:///DIR      the simulated printer: writes what it would print (device-file.c)
 * and, as they land, cups://QUEUE, evolis://SERIAL, magicard://SERIAL, emulator://MODEL.
 *
 * A print call either hands the whole card to the device and it is acknowledged (TRUE), or
 * reports why not (FALSE): CS_ERROR_PRINTER when nothing reached the device, so the card can
 * be sent again; CS_ERROR_PRINTER_ATTENTION when the device may have printed part or all of
 * it, so an operator must look before it is reprinted. Never "printed" on a guess. */
#pragma once

#include <glib.h>

#include "render.h"

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
} cs_printer_state_t;

typedef struct {
  const char *model;
  gboolean duplex;
  cs_plane_geometry_t geometry; /* the planes it takes */
  const char *ribbons;          /* e.g. "YMCKO,KO,K" */
} cs_printer_caps_t;

typedef struct {
  const char *job_id;      /* the spooler's job identifier, for the device's log */
  const char *description; /* what made the card: cs_card_describe() */
  const cs_planes_t *front;
  const cs_planes_t *back; /* NULL: one-sided */
} cs_card_job_t;

typedef struct cs_driver cs_driver_t;

/* Errors: CS_ERROR_UNSUPPORTED (no driver for the scheme), CS_ERROR_IO/CS_ERROR_PRINTER. */
cs_driver_t *cs_driver_open(const char *uri, GError **error);
void cs_driver_close(cs_driver_t *driver);
const char *cs_driver_uri(const cs_driver_t *driver);
const cs_printer_caps_t *cs_driver_caps(const cs_driver_t *driver);
cs_printer_state_t cs_driver_status(cs_driver_t *driver, GError **error);
gboolean cs_driver_print(cs_driver_t *driver, const cs_card_job_t *job, GError **error);
const char *cs_printer_state_name(cs_printer_state_t state);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_driver_t, cs_driver_close)

G_END_DECLS
