/* Private to drivers/: the byte pipe a protocol driver talks through, so one Evolis or
 * Magicard driver runs over raw USB (usb.c) or straight into an emulator (emulator.c).
 * Errors are CS_ERROR_PRINTER with a message naming the device; a device that went away
 * (cable pulled, LIBUSB_ERROR_NO_DEVICE) says "disconnected". */
#pragma once

#include <glib.h>

/* IEEE 1284 port status bits (USB printer class GET_PORT_STATUS). 0x40 and 0x80 are vendor
 * extensions PAPPL reads as jam and cover open. */
#define CS_PORT_NOT_ERROR 0x08
#define CS_PORT_SELECTED 0x10
#define CS_PORT_PAPER_EMPTY 0x20
#define CS_PORT_JAM 0x40
#define CS_PORT_COVER_OPEN 0x80

typedef struct cs_transport cs_transport_t;

typedef struct {
  /* all of data, or FALSE; *sent says how many bytes left the host before the failure */
  gboolean (*write)(cs_transport_t *t, const guint8 *data, gsize len, gsize *sent,
                    GError **error);
  /* up to len bytes the device has sent, waiting at most timeout_ms: bytes read (0: nothing
   * came in time), or -1 with error */
  gssize (*read)(cs_transport_t *t, guint8 *buf, gsize len, guint timeout_ms, GError **error);
  gboolean (*port_status)(cs_transport_t *t, guint8 *status, GError **error);
  /* the IEEE 1284 device ID, "MFG:…;MDL:…;" without its length bytes */
  char *(*device_id)(cs_transport_t *t, GError **error);
  void (*free)(cs_transport_t *t);
} cs_transport_class_t;

struct cs_transport {
  const cs_transport_class_t *cls;
  char *name; /* for messages: "USB 1-2 (serial E0001)", "emulator evolis" */
};

gboolean cs_transport_write(cs_transport_t *t, const guint8 *data, gsize len, gsize *sent,
                            GError **error);
gssize cs_transport_read(cs_transport_t *t, guint8 *buf, gsize len, guint timeout_ms,
                         GError **error);
gboolean cs_transport_port_status(cs_transport_t *t, guint8 *status, GError **error);
char *cs_transport_device_id(cs_transport_t *t, GError **error);
void cs_transport_free(cs_transport_t *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_transport_t, cs_transport_free)

typedef struct cs_emulator cs_emulator_t;
/* A transport into an emulator (borrowed: it must outlive the transport). */
cs_transport_t *cs_transport_emulator_new(cs_emulator_t *emulator);
