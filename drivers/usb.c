/* Raw USB card printers through libusb-1.0: finding them, and the transport the Evolis and
 * Magicard drivers talk through (practice: ../shared/docs/printer-protocols.md part 3).
 *
 * Each call makes its own libusb context (a transport keeps its own until freed), so nothing
 * global outlives a call. Two timings can be shortened for tests through the environment,
 * read once: CS_USB_CLAIM_RETRY_MS (pause between claims of a busy interface, default 1000)
 * and CS_USB_WRITE_TIMEOUT_MS (per 16 KiB bulk chunk, default 15000). */
#include "usb.h"

#include <libusb.h>
#include <string.h>

#include "error.h"

#define MAGICARD_VID 0x0C1F
#define CHUNK 16384
#define CONTROL_TIMEOUT_MS 5000
#define DEVICE_ID_SIZE 1024
#define CLAIM_ATTEMPTS 10

/* USB printer class requests (bmRequestType A1: class, interface, IN) */
#define REQ_GET_DEVICE_ID 0
#define REQ_GET_PORT_STATUS 1

static guint claim_retry_ms = 1000;
static guint write_timeout_ms = 15000;

static guint env_ms(const char *name, guint fallback) {
  const char *v = g_getenv(name);
  guint64 ms;
  if (v == NULL || !g_ascii_string_to_unsigned(v, 10, 0, 600000, &ms, NULL))
    return fallback;
  return (guint)ms;
}

static void load_timings(void) {
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    claim_retry_ms = env_ms("CS_USB_CLAIM_RETRY_MS", claim_retry_ms);
    write_timeout_ms = MAX(env_ms("CS_USB_WRITE_TIMEOUT_MS", write_timeout_ms), 1);
    g_once_init_leave(&done, 1);
  }
}

void cs_usb_printer_free(cs_usb_printer_t *printer) {
  if (printer == NULL)
    return;
  g_free(printer->uri);
  g_free(printer->make);
  g_free(printer->model);
  g_free(printer->serial);
  g_free(printer->device_id);
  g_free(printer);
}

/* ---- finding printers ---- */

/* A printer found on the bus: where its printer interface is, and what it says it is. */
typedef struct {
  libusb_device *dev;
  guint8 config_index, iface, alt, ep_out, ep_in;
  guint16 in_packet;  /* wMaxPacketSize of the bulk IN endpoint */
  gboolean many_alts; /* the interface has more than one altsetting */
  cs_usb_printer_t *info;
} candidate_t;

static void candidate_free(candidate_t *c) {
  libusb_unref_device(c->dev);
  cs_usb_printer_free(c->info);
  g_free(c);
}

static char *device_name(guint8 bus, guint8 address, const char *serial) {
  if (serial != NULL && *serial)
    return g_strdup_printf("USB %03u/%03u (serial %s)", bus, address, serial);
  return g_strdup_printf("USB %03u/%03u", bus, address);
}

/* Device IDs and string descriptors end up in messages and URIs: printable ASCII only. */
static char *printable(const guint8 *bytes, gsize len) {
  char *s = g_malloc(len + 1);
  for (gsize i = 0; i < len; i++)
    s[i] = bytes[i] >= 0x20 && bytes[i] < 0x7f ? (char)bytes[i] : '?';
  s[len] = '\0';
  return s;
}

/* GET_DEVICE_ID: a 2-byte big-endian length that counts itself, then KEY:value; pairs. Some
 * printers send the length little-endian: re-read it that way when the big-endian value is
 * implausible (< 14 or over the buffer), as CUPS, PAPPL and Gutenprint do. "" when the ID is
 * still too short; NULL with *r set when the request failed. */
static char *read_device_id(libusb_device_handle *h, guint8 config_index, guint8 iface,
                            guint8 alt, int *r) {
  g_autofree guint8 *buf = g_malloc0(DEVICE_ID_SIZE);
  *r = libusb_control_transfer(h, 0xA1, REQ_GET_DEVICE_ID, config_index,
                               (guint16)(iface << 8 | alt), buf, DEVICE_ID_SIZE,
                               CONTROL_TIMEOUT_MS);
  if (*r < 0)
    return NULL;
  if (*r < 2)
    return g_strdup("");
  gsize len = (gsize)buf[0] << 8 | buf[1];
  if (len < 14 || len > DEVICE_ID_SIZE)
    len = (gsize)buf[1] << 8 | buf[0];
  if (len < 14)
    return g_strdup("");
  len = MIN(len, (gsize)*r);
  /* a NUL inside ends the ID */
  const guint8 *end = memchr(buf + 2, 0, len - 2);
  return printable(buf + 2, end ? (gsize)(end - (buf + 2)) : len - 2);
}

/* The value of the first of keys present in a 1284 ID (keys case-insensitive, value trimmed),
 * or NULL. */
static char *id_value(const char *id, const char *const *keys) {
  g_auto(GStrv) pairs = g_strsplit(id, ";", -1);
  for (const char *const *k = keys; *k; k++)
    for (char **p = pairs; *p; p++) {
      const char *colon = strchr(*p, ':');
      if (colon == NULL)
        continue;
      g_autofree char *key = g_strstrip(g_strndup(*p, (gsize)(colon - *p)));
      if (g_ascii_strcasecmp(key, *k) == 0) {
        char *value = g_strstrip(g_strdup(colon + 1));
        if (*value)
          return value;
        g_free(value);
      }
    }
  return NULL;
}

static char *usb_string(libusb_device_handle *h, guint8 index) {
  guint8 buf[256];
  if (index == 0)
    return NULL;
  int n = libusb_get_string_descriptor_ascii(h, index, buf, sizeof buf);
  if (n <= 0)
    return NULL;
  char *s = g_strstrip(printable(buf, (gsize)n));
  if (*s)
    return s;
  g_free(s);
  return NULL;
}

static gboolean contains_ci(const char *haystack, const char *needle) {
  g_autofree char *h = g_ascii_strdown(haystack, -1);
  return strstr(h, needle) != NULL;
}

/* The printer interface of a device: printer class (7/1) bidirectional (protocol 2, bulk OUT
 * and IN) before unidirectional (protocol 1, bulk OUT); on a Magicard, whose interface may be
 * vendor-specific, any altsetting with a bulk OUT (and IN if it has one). Only the active
 * configuration is looked at: setting another one would disturb the device's other users. */
static gboolean find_interface(libusb_device *dev, const struct libusb_device_descriptor *dd,
                               candidate_t *c) {
  struct libusb_config_descriptor *cfg = NULL;
  if (libusb_get_active_config_descriptor(dev, &cfg) != 0)
    return FALSE;
  c->config_index = 0;
  for (guint8 i = 0; i < dd->bNumConfigurations; i++) {
    struct libusb_config_descriptor *other = NULL;
    if (libusb_get_config_descriptor(dev, i, &other) != 0)
      continue;
    gboolean same = other->bConfigurationValue == cfg->bConfigurationValue;
    libusb_free_config_descriptor(other);
    if (same) {
      c->config_index = i;
      break;
    }
  }
  int best = 0;
  for (int i = 0; i < cfg->bNumInterfaces; i++) {
    const struct libusb_interface *itf = &cfg->interface[i];
    for (int a = 0; a < itf->num_altsetting; a++) {
      const struct libusb_interface_descriptor *alt = &itf->altsetting[a];
      guint8 out = 0, in = 0;
      guint16 in_packet = 0;
      for (int e = 0; e < alt->bNumEndpoints; e++) {
        const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];
        if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
          continue;
        if (!(ep->bEndpointAddress & LIBUSB_ENDPOINT_IN))
          out = out ? out : ep->bEndpointAddress;
        else if (in == 0) {
          in = ep->bEndpointAddress;
          in_packet = ep->wMaxPacketSize & 0x7ff;
        }
      }
      gboolean printer = alt->bInterfaceClass == LIBUSB_CLASS_PRINTER &&
                         alt->bInterfaceSubClass == 1;
      int score = 0;
      if (printer && alt->bInterfaceProtocol == 2 && out && in)
        score = 4;
      else if (printer && alt->bInterfaceProtocol == 1 && out) {
        score = 3;
        in = 0; /* unidirectional: nothing to read */
      } else if (dd->idVendor == MAGICARD_VID && out)
        score = in ? 2 : 1;
      if (score > best) {
        best = score;
        c->iface = alt->bInterfaceNumber;
        c->alt = alt->bAlternateSetting;
        c->ep_out = out;
        c->ep_in = in;
        c->in_packet = in_packet ? in_packet : 512;
        c->many_alts = itf->num_altsetting > 1;
      }
    }
  }
  libusb_free_config_descriptor(cfg);
  return best > 0;
}

/* Opens a candidate device just long enough to read what it is: the 1284 ID (printer class
 * GET_DEVICE_ID needs no claim, so a bound usblp is left alone) and string descriptors.
 * Fills c->info for Evolis and Magicard printers, FALSE for anything else. */
static gboolean identify(libusb_device *dev, const struct libusb_device_descriptor *dd,
                         candidate_t *c) {
  guint8 bus = libusb_get_bus_number(dev), address = libusb_get_device_address(dev);
  libusb_device_handle *h = NULL;
  int r = libusb_open(dev, &h);
  if (r != 0) {
    g_debug("USB %03u/%03u (%04x:%04x): not opened, skipped: %s", bus, address, dd->idVendor,
            dd->idProduct, libusb_strerror(r));
    return FALSE;
  }
  g_autofree char *id = read_device_id(h, c->config_index, c->iface, c->alt, &r);
  if (id == NULL) {
    g_debug("USB %03u/%03u: no IEEE 1284 device ID: %s", bus, address, libusb_strerror(r));
    id = g_strdup("");
  }
  static const char *const mfg_keys[] = {"MFG", "MANUFACTURER", NULL};
  static const char *const mdl_keys[] = {"MDL", "MODEL", NULL};
  static const char *const sn_keys[] = {"SN", "SERN", "SERIALNUMBER", NULL};
  g_autofree char *mfg = id_value(id, mfg_keys);
  if (mfg == NULL)
    mfg = usb_string(h, dd->iManufacturer);
  const char *make = NULL;
  if (mfg && contains_ci(mfg, "evolis"))
    make = "Evolis";
  else if ((mfg && contains_ci(mfg, "magicard")) || dd->idVendor == MAGICARD_VID)
    make = "Magicard";
  if (make == NULL) {
    g_debug("USB %03u/%03u: printer by “%s”, not a card printer", bus, address,
            mfg ? mfg : "?");
    libusb_close(h);
    return FALSE;
  }
  cs_usb_printer_t *p = g_new0(cs_usb_printer_t, 1);
  p->make = g_strdup(make);
  p->model = id_value(id, mdl_keys);
  if (p->model == NULL)
    p->model = usb_string(h, dd->iProduct);
  p->serial = id_value(id, sn_keys);
  if (p->serial == NULL)
    p->serial = usb_string(h, dd->iSerialNumber);
  if (p->serial == NULL)
    p->serial = g_strdup("");
  libusb_close(h);

  g_autofree char *scheme = g_ascii_strdown(make, -1);
  g_autofree char *escaped = g_uri_escape_string(p->serial, NULL, FALSE);
  p->uri = g_strdup_printf("%s://%s", scheme, escaped);
  p->device_id = g_steal_pointer(&id);
  p->vid = dd->idVendor;
  p->pid = dd->idProduct;
  p->bus = bus;
  p->address = address;
  c->info = p;
  return TRUE;
}

static gboolean context_new(libusb_context **ctx, GError **error) {
  int r = libusb_init(ctx);
  if (r != 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "USB: cannot start libusb: %s",
                libusb_strerror(r));
    *ctx = NULL;
    return FALSE;
  }
  return TRUE;
}

/* The Evolis and Magicard printers on the bus, as candidate_t. */
static GPtrArray *scan(libusb_context *ctx, GError **error) {
  libusb_device **list = NULL;
  ssize_t n = libusb_get_device_list(ctx, &list);
  if (n < 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "USB: cannot list devices: %s",
                libusb_strerror((int)n));
    return NULL;
  }
  GPtrArray *found = g_ptr_array_new_with_free_func((GDestroyNotify)candidate_free);
  for (ssize_t i = 0; i < n; i++) {
    struct libusb_device_descriptor dd;
    if (libusb_get_device_descriptor(list[i], &dd) != 0)
      continue;
    candidate_t c = {0};
    if (!find_interface(list[i], &dd, &c) || !identify(list[i], &dd, &c))
      continue;
    c.dev = libusb_ref_device(list[i]);
    g_ptr_array_add(found, g_memdup2(&c, sizeof c));
  }
  libusb_free_device_list(list, 1);
  return found;
}

GPtrArray *cs_usb_list(GError **error) {
  libusb_context *ctx;
  if (!context_new(&ctx, error))
    return NULL;
  GPtrArray *found = scan(ctx, error);
  GPtrArray *out = NULL;
  if (found != NULL) {
    out = g_ptr_array_new_with_free_func((GDestroyNotify)cs_usb_printer_free);
    for (guint i = 0; i < found->len; i++) {
      candidate_t *c = found->pdata[i];
      g_ptr_array_add(out, g_steal_pointer(&c->info));
    }
    g_ptr_array_unref(found);
  }
  libusb_exit(ctx);
  return out;
}

/* ---- the transport ---- */

typedef struct {
  cs_transport_t base;
  libusb_context *ctx;
  libusb_device_handle *h;
  guint8 config_index, iface, alt, ep_out, ep_in;
  guint16 in_packet;
  GByteArray *unread; /* bytes of the last bulk IN transfer the caller had no room for */
  gboolean claimed, detached;
} usb_transport_t;

/* A failed bulk transfer: a device gone (cable pulled) says "disconnected". */
static void transfer_error(GError **error, cs_transport_t *t, int r, gboolean write,
                           gsize bytes) {
  if (r == LIBUSB_ERROR_NO_DEVICE && write)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s: disconnected after %" G_GSIZE_FORMAT " bytes", t->name, bytes);
  else if (r == LIBUSB_ERROR_NO_DEVICE)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
  else if (r == LIBUSB_ERROR_TIMEOUT)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s: timed out after %" G_GSIZE_FORMAT " bytes", t->name, bytes);
  else if (write)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s: write failed after %" G_GSIZE_FORMAT " bytes: %s", t->name, bytes,
                libusb_strerror(r));
  else
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: read failed: %s", t->name,
                libusb_strerror(r));
}

static gboolean usb_write(cs_transport_t *t, const guint8 *data, gsize len, gsize *sent,
                          GError **error) {
  usb_transport_t *u = (usb_transport_t *)t;
  gboolean cleared = FALSE;
  *sent = 0;
  while (*sent < len) {
    int n = (int)MIN(len - *sent, CHUNK), done = 0;
    int r = libusb_bulk_transfer(u->h, u->ep_out, (unsigned char *)data + *sent, n, &done,
                                 write_timeout_ms);
    *sent += (gsize)MAX(done, 0);
    if (r == 0 && done > 0) {
      cleared = FALSE;
      continue;
    }
    if (r == LIBUSB_ERROR_PIPE && !cleared) {
      /* a stalled endpoint: clear it and send the rest of the chunk again, once */
      g_debug("%s: bulk OUT stalled after %" G_GSIZE_FORMAT " bytes, clearing", t->name, *sent);
      cleared = TRUE;
      r = libusb_clear_halt(u->h, u->ep_out);
      if (r == 0)
        continue;
    }
    transfer_error(error, t, r == 0 ? LIBUSB_ERROR_IO : r, TRUE, *sent);
    return FALSE;
  }
  return TRUE;
}

/* One bulk IN transfer: 0 (also when nothing came in time) or a libusb error. */
static int read_in(usb_transport_t *u, guint8 *buf, int len, guint timeout_ms, int *done) {
  for (gboolean cleared = FALSE;;) {
    /* libusb waits forever on 0 */
    int r = libusb_bulk_transfer(u->h, u->ep_in, buf, len, done, MAX(timeout_ms, 1));
    if (r == 0 || r == LIBUSB_ERROR_TIMEOUT)
      return 0;
    if (r == LIBUSB_ERROR_PIPE && !cleared && *done == 0) {
      cleared = TRUE;
      if (libusb_clear_halt(u->h, u->ep_in) == 0)
        continue;
    }
    return r;
  }
}

static gssize usb_read(cs_transport_t *t, guint8 *buf, gsize len, guint timeout_ms,
                       GError **error) {
  usb_transport_t *u = (usb_transport_t *)t;
  if (u->ep_in == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s: the printer interface is one-way (no bulk IN endpoint)", t->name);
    return -1;
  }
  if (len == 0)
    return 0;
  if (u->unread->len == 0) {
    /* whole packets: a device sending more than asked for would otherwise overflow */
    gsize want = MIN((len + u->in_packet - 1) / u->in_packet * u->in_packet, CHUNK * 4);
    g_byte_array_set_size(u->unread, (guint)want);
    int done = 0, r = read_in(u, u->unread->data, (int)want, timeout_ms, &done);
    g_byte_array_set_size(u->unread, (guint)MAX(done, 0));
    if (r != 0) {
      transfer_error(error, t, r, FALSE, 0);
      return -1;
    }
  }
  gsize n = MIN(len, u->unread->len);
  if (n == 0)
    return 0;
  memcpy(buf, u->unread->data, n);
  g_byte_array_remove_range(u->unread, 0, (guint)n);
  return (gssize)n;
}

static gboolean usb_port_status(cs_transport_t *t, guint8 *status, GError **error) {
  usb_transport_t *u = (usb_transport_t *)t;
  guint8 b = 0;
  int r = libusb_control_transfer(u->h, 0xA1, REQ_GET_PORT_STATUS, 0, (guint16)(u->iface << 8),
                                  &b, 1, CONTROL_TIMEOUT_MS);
  if (r == 1) {
    *status = b;
    return TRUE;
  }
  if (r == LIBUSB_ERROR_NO_DEVICE)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
  else
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: no port status: %s", t->name,
                r < 0 ? libusb_strerror(r) : "empty reply");
  return FALSE;
}

static char *usb_device_id(cs_transport_t *t, GError **error) {
  usb_transport_t *u = (usb_transport_t *)t;
  int r;
  char *id = read_device_id(u->h, u->config_index, u->iface, u->alt, &r);
  if (id == NULL) {
    if (r == LIBUSB_ERROR_NO_DEVICE)
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    else
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: no IEEE 1284 device ID: %s", t->name,
                  libusb_strerror(r));
  }
  return id;
}

static void usb_free(cs_transport_t *t) {
  usb_transport_t *u = (usb_transport_t *)t;
  if (u->h != NULL) {
    if (u->claimed)
      libusb_release_interface(u->h, u->iface);
    /* give the interface back to usblp, as CUPS does, so the system is as we found it */
    if (u->detached) {
      int r = libusb_attach_kernel_driver(u->h, u->iface);
      if (r != 0)
        g_debug("%s: kernel driver not re-attached: %s", t->name, libusb_strerror(r));
    }
    libusb_close(u->h);
  }
  if (u->ctx != NULL)
    libusb_exit(u->ctx);
  g_byte_array_unref(u->unread);
  g_free(t->name);
  g_free(u);
}

static const cs_transport_class_t usb_class = {usb_write, usb_read, usb_port_status,
                                               usb_device_id, usb_free};

/* The kernel's printer driver (usblp) holds the interface: take it over. */
static gboolean detach_driver(usb_transport_t *u, GError **error) {
  int r = libusb_kernel_driver_active(u->h, u->iface);
  if (r == 0 || r == LIBUSB_ERROR_NOT_SUPPORTED)
    return TRUE;
  if (r == 1) {
    r = libusb_detach_kernel_driver(u->h, u->iface);
    if (r == 0) {
      u->detached = TRUE;
      return TRUE;
    }
    if (r == LIBUSB_ERROR_NOT_FOUND || r == LIBUSB_ERROR_NOT_SUPPORTED)
      return TRUE;
  }
  g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
              "%s: cannot detach the kernel driver from interface %u: %s", u->base.name,
              u->iface, libusb_strerror(r));
  return FALSE;
}

static gboolean claim(usb_transport_t *u, GError **error) {
  int r;
  for (guint attempt = 1;; attempt++) {
    r = libusb_claim_interface(u->h, u->iface);
    if (r != LIBUSB_ERROR_BUSY || attempt >= CLAIM_ATTEMPTS)
      break;
    g_debug("%s: interface %u busy, retrying in %u ms", u->base.name, u->iface,
            claim_retry_ms);
    g_usleep((gulong)claim_retry_ms * 1000);
    /* usblp may have bound itself again meanwhile */
    if (!detach_driver(u, error))
      return FALSE;
  }
  if (r != 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: cannot claim interface %u: %s%s",
                u->base.name, u->iface, libusb_strerror(r),
                r == LIBUSB_ERROR_BUSY ? " (another program is using the printer)" : "");
    return FALSE;
  }
  u->claimed = TRUE;
  return TRUE;
}

static char *serial_list(GPtrArray *found) {
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < found->len; i++) {
    const cs_usb_printer_t *p = ((candidate_t *)found->pdata[i])->info;
    g_string_append_printf(s, "%s%s", i ? ", " : "", *p->serial ? p->serial : "(no serial)");
  }
  return g_string_free(s, FALSE);
}

cs_transport_t *cs_usb_open(const char *make, const char *serial, GError **error) {
  load_timings();
  const char *want = g_ascii_strcasecmp(make, "evolis") == 0     ? "Evolis"
                     : g_ascii_strcasecmp(make, "magicard") == 0 ? "Magicard"
                                                                 : NULL;
  if (want == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "USB: no driver for “%s” printers", make);
    return NULL;
  }
  /* the serial may come from a URI: evolis://A%2FB */
  g_autofree char *unescaped = serial ? g_uri_unescape_string(serial, NULL) : NULL;
  libusb_context *ctx;
  if (!context_new(&ctx, error))
    return NULL;
  g_autoptr(GPtrArray) found = scan(ctx, error);
  if (found == NULL) {
    libusb_exit(ctx);
    return NULL;
  }
  for (guint i = found->len; i-- > 0;)
    if (strcmp(((candidate_t *)found->pdata[i])->info->make, want) != 0)
      g_ptr_array_remove_index(found, i);

  candidate_t *c = NULL;
  for (guint i = 0; serial != NULL && i < found->len; i++) {
    const char *s = ((candidate_t *)found->pdata[i])->info->serial;
    if (strcmp(s, serial) == 0 || (unescaped && strcmp(s, unescaped) == 0))
      c = found->pdata[i];
  }
  if (serial == NULL && found->len == 1)
    c = found->pdata[0];
  if (c == NULL) {
    g_autofree char *serials = serial_list(found);
    if (found->len == 0)
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "no %s printer%s%s on USB", want,
                  serial ? " with serial " : "", serial ? serial : "");
    else if (serial != NULL)
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                  "no %s printer with serial %s on USB (found: %s)", want, serial, serials);
    else
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                  "%u %s printers on USB (serials %s): name one", found->len, want, serials);
    g_clear_pointer(&found, g_ptr_array_unref);
    libusb_exit(ctx);
    return NULL;
  }

  usb_transport_t *u = g_new0(usb_transport_t, 1);
  u->base.cls = &usb_class;
  u->base.name = device_name(c->info->bus, c->info->address, c->info->serial);
  u->ctx = ctx;
  u->config_index = c->config_index;
  u->iface = c->iface;
  u->alt = c->alt;
  u->ep_out = c->ep_out;
  u->ep_in = c->ep_in;
  u->in_packet = c->in_packet;
  u->unread = g_byte_array_new();
  gboolean many_alts = c->many_alts;
  int r = libusb_open(c->dev, &u->h);
  g_clear_pointer(&found, g_ptr_array_unref);
  if (r != 0) {
    u->h = NULL;
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: cannot open: %s", u->base.name,
                libusb_strerror(r));
    usb_free(&u->base);
    return NULL;
  }
  if (!detach_driver(u, error) || !claim(u, error)) {
    usb_free(&u->base);
    return NULL;
  }
  if (many_alts) {
    r = libusb_set_interface_alt_setting(u->h, u->iface, u->alt);
    if (r != 0) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                  "%s: cannot select altsetting %u of interface %u: %s", u->base.name, u->alt,
                  u->iface, libusb_strerror(r));
      usb_free(&u->base);
      return NULL;
    }
  }
  return &u->base;
}
