/* Private to drivers/: what a device implementation provides. */
#pragma once

#include "driver.h"

#include "transport.h"

typedef struct {
  const char *scheme;
  /* open: fill caps, return the device's state (freed by close) or NULL with an error.
   * rest: the URI after "scheme://" without its query; settings: defaults + query applied. */
  gpointer (*open)(const char *uri, const char *rest, const cs_printer_settings_t *settings,
                   cs_printer_caps_t *caps, GError **error);
  void (*close)(gpointer device);
  cs_printer_state_t (*status)(gpointer device, GError **error);
  gboolean (*print)(gpointer device, const cs_card_job_t *job, GError **error);
} cs_device_class_t;

extern const cs_device_class_t cs_device_file, cs_device_cups, cs_device_evolis,
    cs_device_magicard, cs_device_emulator;

/* A printer language over a transport: the Evolis and Magicard drivers. open takes ownership
 * of the transport (freed by close, or on failure). print returns TRUE only once the printer
 * acknowledged the whole card; CS_ERROR_PRINTER when nothing that could print reached it
 * (safe to send again), CS_ERROR_PRINTER_ATTENTION once a card may have been fed. */
typedef struct {
  const char *name;
  gpointer (*open)(cs_transport_t *transport, const char *model,
                   const cs_printer_settings_t *settings, cs_printer_caps_t *caps,
                   GError **error);
  void (*close)(gpointer protocol);
  cs_printer_state_t (*status)(gpointer protocol, GError **error);
  gboolean (*print)(gpointer protocol, const cs_card_job_t *job, GError **error);
} cs_protocol_class_t;

extern const cs_protocol_class_t cs_protocol_evolis, cs_protocol_magicard;

/* device-emulator.c: the emulator behind an emulator:// device */
struct cs_emulator *cs_device_emulator_get(gpointer device);
