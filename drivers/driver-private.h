/* Private to drivers/: what a device implementation provides. */
#pragma once

#include "driver.h"

typedef struct {
  const char *scheme;
  /* open: fill caps, return the device's state (freed by close) or NULL with an error */
  gpointer (*open)(const char *uri, const char *rest, cs_printer_caps_t *caps, GError **error);
  void (*close)(gpointer device);
  cs_printer_state_t (*status)(gpointer device, GError **error);
  gboolean (*print)(gpointer device, const cs_card_job_t *job, GError **error);
} cs_device_class_t;

extern const cs_device_class_t cs_device_file;
