/* Raw USB (drivers/usb.c) through the real libusb, on usbdevfs devices mocked by umockdev:
 * sysfs entries with the attributes libusb's Linux backend reads, /dev/bus/usb nodes whose
 * ioctls (claim, kernel driver, URBs…) are answered here, and bulk endpoints backed by the
 * printer emulators (or a byte sink where a test needs exact control).
 *
 * The umockdev preload library must be loaded: main() re-runs the program with it in
 * LD_PRELOAD when it is not (ASan builds also get verify_asan_link_order=0, as the preload
 * library then comes before the ASan runtime). */
#include <errno.h>
#include <glib/gstdio.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <string.h>
#include <unistd.h>

#include <umockdev.h>

#include "cardspool.h"
#include "driver.h"
#include "emulator.h"
#include "testutil.h"
#include "transport.h"
#include "usb.h"

#define PRELOAD "libumockdev-preload.so.0"

static cs_catalogue_t *catalogue;
static cs_renderer_t *renderer;

/* ---- one mocked device ---- */

typedef enum {
  IFACE_PRINTER,  /* 7/1/2, bulk OUT 0x01 and IN 0x82 */
  IFACE_TWO_ALTS, /* alt 0: 7/1/1 with OUT only; alt 1: 7/1/2 with OUT and IN */
  IFACE_VENDOR,   /* FF/FF/FF with OUT and IN, as some Magicards */
  IFACE_HID,      /* a keyboard: interrupt IN only */
} iface_kind_t;

typedef struct {
  UMockdevIoctlClient *client; /* identity only: URBs are reaped by their submitter */
  UMockdevIoctlData *urb;
  UMockdevIoctlData *buf;
  int status, actual;
  gboolean done;
} urb_t;

typedef struct {
  guint8 bus, address;
  guint16 vid, pid;
  iface_kind_t kind;
  char *strings[4]; /* [1] manufacturer, [2] product, [3] serial; NULL: none */
  char *devnode;

  /* what answers: an emulator, or the fake (a sink, queued replies, a fixed ID) */
  cs_emulator_t *emu;
  char *fake_id; /* NULL: GET_DEVICE_ID stalls */
  guint8 fake_status;
  GByteArray *replies;

  /* behaviour a test switches */
  gboolean id_little_endian;
  gboolean usblp;      /* the kernel's usblp is bound to interface 0 */
  guint busy_claims;   /* CLAIMINTERFACE answers EBUSY this many more times */
  gint64 unplug_at;    /* bulk OUT byte count where the cable is pulled, -1 never */
  gint64 stall_at;     /* bulk OUT byte count after which URBs stay in flight, -1 never */
  guint pipe_errors;   /* bulk OUT URBs answering -EPIPE (endpoint halted) */

  /* what happened */
  GByteArray *received; /* every bulk OUT byte taken */
  guint claimed;        /* interface bits */
  guint alt;
  gboolean gone;
  guint64 out_bytes;
  guint n_opens, n_claims, n_detach, n_attach, n_setinterface, n_clear_halt, n_out_urbs;
  int max_out_urb, min_in_urb;
  guint8 id_setup[8], status_setup[8];
  GList *urbs; /* urb_t, in submission order */
} mockdev_t;

typedef struct {
  UMockdevTestbed *bed;
  UMockdevIoctlBase *handler;
  char *root;
  GMutex lock; /* the handler runs in the testbed's thread */
  GPtrArray *devs;
  GPtrArray *unknown; /* ioctl requests nobody answered (gulong as pointers) */
} fixture_t;

static void urb_free(urb_t *u) {
  g_clear_object(&u->urb);
  g_clear_object(&u->buf);
  g_free(u);
}

static void mockdev_free(mockdev_t *d) {
  for (guint i = 0; i < G_N_ELEMENTS(d->strings); i++)
    g_free(d->strings[i]);
  g_free(d->devnode);
  if (d->emu != NULL)
    cs_emulator_free(d->emu);
  g_free(d->fake_id);
  g_byte_array_unref(d->replies);
  g_byte_array_unref(d->received);
  g_list_free_full(d->urbs, (GDestroyNotify)urb_free);
  g_free(d);
}

static mockdev_t *mockdev_new(guint8 address, guint16 vid, guint16 pid, iface_kind_t kind,
                              const char *manufacturer, const char *product,
                              const char *serial) {
  mockdev_t *d = g_new0(mockdev_t, 1);
  d->bus = 1;
  d->address = address;
  d->vid = vid;
  d->pid = pid;
  d->kind = kind;
  d->strings[1] = g_strdup(manufacturer);
  d->strings[2] = g_strdup(product);
  d->strings[3] = g_strdup(serial);
  d->devnode = g_strdup_printf("/dev/bus/usb/%03u/%03u", d->bus, address);
  d->fake_status = 0x18;
  d->replies = g_byte_array_new();
  d->received = g_byte_array_new();
  d->unplug_at = d->stall_at = -1;
  return d;
}

/* A fake Evolis: the device ID says who it is. */
static mockdev_t *fake_evolis(guint8 address, const char *serial) {
  mockdev_t *d = mockdev_new(address, 0x0F49, 0x1011, IFACE_PRINTER, "Evolis", "Primacy",
                             serial);
  d->fake_id = g_strdup_printf("MFG:Evolis;CMD:ESC;MDL:Primacy;SN:%s;", serial);
  return d;
}

static char *id_field(const char *id, const char *key) {
  g_auto(GStrv) pairs = g_strsplit(id, ";", -1);
  for (char **p = pairs; *p; p++)
    if (g_str_has_prefix(*p, key) && (*p)[strlen(key)] == ':')
      return g_strdup(*p + strlen(key) + 1);
  return NULL;
}

/* A printer backed by an emulator ("evolis", "magicard-rio"). */
static mockdev_t *emulated(const char *model, guint8 address) {
  g_autoptr(GError) error = NULL;
  cs_emulator_t *emu = cs_emulator_new(model, &error);
  g_assert_no_error(error);
  const char *id = cs_emulator_device_id(emu);
  g_autofree char *mfg = id_field(id, "MFG");
  g_autofree char *mdl = id_field(id, "MDL");
  mockdev_t *d = mockdev_new(address, cs_emulator_vid(emu), cs_emulator_pid(emu),
                             IFACE_PRINTER, mfg, mdl, cs_emulator_serial(emu));
  d->emu = emu;
  return d;
}

/* ---- descriptors ---- */

static void put(GByteArray *a, const guint8 *bytes, gsize n) {
  g_byte_array_append(a, bytes, (guint)n);
}

static void put_altsetting(GByteArray *a, guint8 alt, guint8 cls, guint8 sub, guint8 proto,
                           gboolean out, gboolean in, gboolean interrupt) {
  guint8 n = (guint8)(out + in);
  const guint8 itf[] = {9, 4, 0, alt, n, cls, sub, proto, 0};
  put(a, itf, sizeof itf);
  guint8 type = interrupt ? 3 : 2;
  const guint8 ep_out[] = {7, 5, 0x01, type, 0x00, 0x02, interrupt ? 10 : 0};
  const guint8 ep_in[] = {7, 5, interrupt ? 0x81 : 0x82, type, 0x00, 0x02, interrupt ? 10 : 0};
  if (out)
    put(a, ep_out, sizeof ep_out);
  if (in)
    put(a, ep_in, sizeof ep_in);
}

/* The sysfs "descriptors" file: the device descriptor then the configuration, little-endian
 * as on the wire. */
static GByteArray *descriptors(const mockdev_t *d) {
  GByteArray *a = g_byte_array_new();
  const guint8 dev[] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, d->vid & 0xff, d->vid >> 8,
                        d->pid & 0xff, d->pid >> 8, 0x00, 0x01, d->strings[1] ? 1 : 0,
                        d->strings[2] ? 2 : 0, d->strings[3] ? 3 : 0, 1};
  put(a, dev, sizeof dev);
  const guint8 cfg[] = {9, 2, 0, 0, 1, 1, 0, 0xC0, 50};
  put(a, cfg, sizeof cfg);
  switch (d->kind) {
  case IFACE_PRINTER:
    put_altsetting(a, 0, 7, 1, 2, TRUE, TRUE, FALSE);
    break;
  case IFACE_TWO_ALTS:
    put_altsetting(a, 0, 7, 1, 1, TRUE, FALSE, FALSE);
    put_altsetting(a, 1, 7, 1, 2, TRUE, TRUE, FALSE);
    break;
  case IFACE_VENDOR:
    put_altsetting(a, 0, 0xFF, 0xFF, 0xFF, TRUE, TRUE, FALSE);
    break;
  case IFACE_HID:
    put_altsetting(a, 0, 3, 1, 1, FALSE, TRUE, TRUE);
    break;
  }
  guint total = a->len - 18;
  a->data[18 + 2] = total & 0xff;
  a->data[18 + 3] = (guint8)(total >> 8);
  return a;
}

static void add_device(fixture_t *f, mockdev_t *d) {
  g_autoptr(GError) error = NULL;
  /* the handler first, so the node is never there without it */
  g_assert_true(umockdev_testbed_attach_ioctl(f->bed, d->devnode, f->handler, &error));
  g_assert_no_error(error);
  g_autoptr(GByteArray) desc = descriptors(d);
  g_autoptr(GString) hex = g_string_new(NULL);
  for (guint i = 0; i < desc->len; i++)
    g_string_append_printf(hex, "%02x", desc->data[i]);
  g_autofree char *text = g_strdup_printf(
      "P: /devices/pci0000:00/0000:00:14.0/usb%u/%u-%u\n"
      "N: bus/usb/%03u/%03u\n"
      "E: SUBSYSTEM=usb\n"
      "E: DEVTYPE=usb_device\n"
      "E: DEVNAME=%s\n"
      "E: BUSNUM=%03u\n"
      "E: DEVNUM=%03u\n"
      "A: busnum=%u\\n\n"
      "A: devnum=%u\\n\n"
      "A: speed=480\\n\n"
      "A: bConfigurationValue=1\\n\n"
      "H: descriptors=%s\n",
      d->bus, d->bus, d->address, d->bus, d->address, d->devnode, d->bus, d->address, d->bus,
      d->address, hex->str);
  g_assert_true(umockdev_testbed_add_from_string(f->bed, text, &error));
  g_assert_no_error(error);
  g_mutex_lock(&f->lock);
  g_ptr_array_add(f->devs, d);
  g_mutex_unlock(&f->lock);
}

/* ---- the device side: what answers the host ---- */

static gboolean backend_write(mockdev_t *d, const guint8 *data, gsize n) {
  g_byte_array_append(d->received, data, (guint)n);
  if (d->emu == NULL)
    return TRUE;
  g_autoptr(GError) error = NULL;
  return cs_emulator_write(d->emu, data, n, &error);
}

static gsize backend_read(mockdev_t *d, guint8 *buf, gsize n) {
  if (d->emu != NULL) {
    gssize r = cs_emulator_read(d->emu, buf, n);
    return r > 0 ? (gsize)r : 0;
  }
  n = MIN(n, d->replies->len);
  if (n == 0)
    return 0;
  memcpy(buf, d->replies->data, n);
  g_byte_array_remove_range(d->replies, 0, (guint)n);
  return n;
}

static const char *backend_id(mockdev_t *d) {
  return d->emu ? cs_emulator_device_id(d->emu) : d->fake_id;
}

static guint8 backend_status(mockdev_t *d) {
  return d->emu ? cs_emulator_port_status(d->emu) : d->fake_status;
}

static void put_string_descriptor(GByteArray *a, const char *s) {
  guint8 head[] = {(guint8)(2 + 2 * strlen(s)), 3};
  put(a, head, 2);
  for (const char *c = s; *c; c++) {
    guint8 u[] = {(guint8)*c, 0};
    put(a, u, 2);
  }
}

/* A control URB: the 8-byte setup packet, then the data stage. */
static void control(mockdev_t *d, urb_t *u) {
  guint8 *s = u->buf->data;
  guint8 type = s[0], request = s[1];
  guint16 value = (guint16)(s[2] | s[3] << 8), length = (guint16)(s[6] | s[7] << 8);
  g_autoptr(GByteArray) reply = g_byte_array_new();
  u->status = 0;
  if (type == 0x80 && request == 6) { /* GET_DESCRIPTOR */
    g_autoptr(GByteArray) desc = descriptors(d);
    guint8 index = value & 0xff;
    if (value >> 8 == 1)
      put(reply, desc->data, 18);
    else if (value >> 8 == 2)
      put(reply, desc->data + 18, desc->len - 18);
    else if (value >> 8 == 3 && index == 0)
      put(reply, (const guint8[]){4, 3, 0x09, 0x04}, 4);
    else if (value >> 8 == 3 && index < G_N_ELEMENTS(d->strings) && d->strings[index])
      put_string_descriptor(reply, d->strings[index]);
    else
      u->status = -EPIPE;
  } else if (type == 0x80 && request == 8) { /* GET_CONFIGURATION */
    put(reply, (const guint8[]){1}, 1);
  } else if (type == 0xA1 && request == 0 && backend_id(d) != NULL) { /* GET_DEVICE_ID */
    memcpy(d->id_setup, s, 8);
    const char *id = backend_id(d);
    gsize n = strlen(id) + 2;
    guint8 len[2] = {(guint8)(n >> 8), n & 0xff};
    if (d->id_little_endian)
      len[0] = n & 0xff, len[1] = (guint8)(n >> 8);
    put(reply, len, 2);
    put(reply, (const guint8 *)id, strlen(id));
  } else if (type == 0xA1 && request == 1) { /* GET_PORT_STATUS */
    memcpy(d->status_setup, s, 8);
    guint8 status = backend_status(d);
    put(reply, &status, 1);
  } else {
    u->status = -EPIPE;
  }
  gsize n = MIN(MIN(reply->len, length), (gsize)u->buf->data_len - 8);
  if (n > 0)
    memcpy(u->buf->data + 8, reply->data, n);
  u->actual = (int)n;
  u->done = TRUE;
}

static void bulk_out(mockdev_t *d, urb_t *u) {
  gint64 n = u->buf ? u->buf->data_len : 0, take = n;
  d->n_out_urbs++;
  d->max_out_urb = MAX(d->max_out_urb, (int)n);
  u->done = TRUE;
  if (d->pipe_errors > 0) {
    d->pipe_errors--;
    u->status = -EPIPE;
    return;
  }
  if (d->unplug_at >= 0 && (gint64)d->out_bytes + n > d->unplug_at) {
    take = d->unplug_at - (gint64)d->out_bytes;
    u->status = -ENODEV;
    d->gone = TRUE;
  } else if (d->stall_at >= 0 && (gint64)d->out_bytes + n > d->stall_at) {
    /* the printer stops taking data: the URB stays in flight until the host gives up */
    take = d->stall_at - (gint64)d->out_bytes;
    u->done = FALSE;
  }
  if (take > 0 && !backend_write(d, u->buf->data, (gsize)take)) {
    u->status = -ENODEV; /* the emulator was unplugged */
    u->done = TRUE;
    d->gone = TRUE;
  }
  d->out_bytes += (guint64)take;
  u->actual = (int)take;
}

/* A bulk IN URB completes once the device has something to send. */
static gboolean bulk_in(mockdev_t *d, urb_t *u) {
  int len = u->buf ? u->buf->data_len : 0;
  d->min_in_urb = d->min_in_urb ? MIN(d->min_in_urb, len) : len;
  if (d->gone) {
    u->status = -ENODEV;
    return u->done = TRUE;
  }
  gsize n = backend_read(d, u->buf->data, (gsize)u->buf->data_len);
  if (n == 0)
    return FALSE;
  u->actual = (int)n;
  return u->done = TRUE;
}

static int submit(mockdev_t *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
  UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb),
                                                        NULL);
  g_assert_nonnull(data);
  struct usbdevfs_urb *urb = (struct usbdevfs_urb *)data->data;
  urb_t *u = g_new0(urb_t, 1);
  u->client = client;
  u->urb = data;
  if (urb->buffer_length > 0)
    u->buf = umockdev_ioctl_data_resolve(data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                         (gsize)urb->buffer_length, NULL);
  if (d->gone || (urb->type == USBDEVFS_URB_TYPE_CONTROL && urb->buffer_length < 8)) {
    int err = d->gone ? ENODEV : EINVAL;
    urb_free(u);
    return err;
  }
  if (urb->type == USBDEVFS_URB_TYPE_CONTROL)
    control(d, u);
  else if (urb->type == USBDEVFS_URB_TYPE_BULK && (urb->endpoint & 0x80))
    bulk_in(d, u);
  else if (urb->type == USBDEVFS_URB_TYPE_BULK)
    bulk_out(d, u);
  else {
    urb_free(u);
    return EINVAL;
  }
  d->urbs = g_list_append(d->urbs, u);
  return 0;
}

static int reap(mockdev_t *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
  urb_t *found = NULL;
  for (GList *l = d->urbs; l && !found; l = l->next) {
    urb_t *u = l->data;
    if (u->client == client && u->done)
      found = u;
  }
  for (GList *l = d->urbs; l && !found; l = l->next) {
    urb_t *u = l->data;
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->urb->data;
    if (u->client == client && urb->type == USBDEVFS_URB_TYPE_BULK && (urb->endpoint & 0x80) &&
        bulk_in(d, u))
      found = u;
  }
  if (found == NULL)
    return d->gone ? ENODEV : EAGAIN;
  struct usbdevfs_urb *urb = (struct usbdevfs_urb *)found->urb->data;
  urb->status = found->status;
  urb->actual_length = found->actual;
  /* hand the URB's address back: libusb finds its transfer through usercontext */
  g_autoptr(UMockdevIoctlData) ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL);
  g_assert_nonnull(ptr);
  umockdev_ioctl_data_set_ptr(ptr, 0, found->urb);
  d->urbs = g_list_remove(d->urbs, found);
  urb_free(found);
  return 0;
}

static int discard(mockdev_t *d, UMockdevIoctlData *arg) {
  gulong addr = *(gulong *)arg->data;
  for (GList *l = d->urbs; l; l = l->next) {
    urb_t *u = l->data;
    if (u->urb->client_addr == addr && !u->done) {
      u->status = -ENOENT;
      u->done = TRUE;
      return 0;
    }
  }
  return EINVAL;
}

static guint *resolve_uint(UMockdevIoctlData *arg, UMockdevIoctlData **holder) {
  *holder = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint), NULL);
  g_assert_nonnull(*holder);
  return (guint *)(*holder)->data;
}

/* errno for the request (0: done); *result is what the ioctl returns on success */
static int device_ioctl(fixture_t *f, mockdev_t *d, UMockdevIoctlClient *client, gulong request,
                        UMockdevIoctlData *arg, long *result) {
  g_autoptr(UMockdevIoctlData) data = NULL;
  if (request == USBDEVFS_SUBMITURB)
    return submit(d, client, arg);
  if (request == USBDEVFS_REAPURB || request == USBDEVFS_REAPURBNDELAY)
    return reap(d, client, arg);
  if (request == USBDEVFS_DISCARDURB)
    return discard(d, arg);
  if (request == USBDEVFS_GET_CAPABILITIES) {
    *resolve_uint(arg, &data) = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                                USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                                USBDEVFS_CAP_BULK_SCATTER_GATHER |
                                USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
    return 0;
  }
  if (d->gone)
    return ENODEV;
  if (request == USBDEVFS_CLAIMINTERFACE) {
    guint iface = *resolve_uint(arg, &data);
    if (iface != 0)
      return ENOENT;
    d->n_claims++;
    if (d->busy_claims > 0) {
      d->busy_claims--;
      return EBUSY;
    }
    if (d->usblp)
      return EBUSY;
    d->claimed |= 1;
    return 0;
  }
  if (request == USBDEVFS_RELEASEINTERFACE) {
    guint iface = *resolve_uint(arg, &data);
    if (iface != 0 || !(d->claimed & 1))
      return EINVAL;
    d->claimed &= ~1u;
    return 0;
  }
  if (request == USBDEVFS_GETDRIVER) {
    data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), NULL);
    struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)data->data;
    if (gd->interface != 0 || (!(d->claimed & 1) && !d->usblp))
      return ENODATA;
    g_strlcpy(gd->driver, d->claimed & 1 ? "usbfs" : "usblp", sizeof gd->driver);
    return 0;
  }
  if (request == USBDEVFS_IOCTL) {
    data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), NULL);
    struct usbdevfs_ioctl *io = (struct usbdevfs_ioctl *)data->data;
    if (io->ifno != 0)
      return EINVAL;
    if (io->ioctl_code == (int)USBDEVFS_DISCONNECT) {
      if (!d->usblp)
        return ENODATA;
      d->usblp = FALSE;
      d->n_detach++;
      return 0;
    }
    if (io->ioctl_code == (int)USBDEVFS_CONNECT) {
      if (d->claimed & 1)
        return EBUSY;
      /* the kernel probes its drivers: usblp takes printer-class interfaces (1 = bound) */
      d->n_attach++;
      d->usblp = d->kind == IFACE_PRINTER || d->kind == IFACE_TWO_ALTS;
      *result = d->usblp;
      return 0;
    }
    return ENOTTY;
  }
  if (request == USBDEVFS_SETINTERFACE) {
    data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_setinterface), NULL);
    struct usbdevfs_setinterface *si = (struct usbdevfs_setinterface *)data->data;
    guint alts = d->kind == IFACE_TWO_ALTS ? 2 : 1;
    if (si->interface != 0 || si->altsetting >= alts)
      return EINVAL;
    d->n_setinterface++;
    d->alt = si->altsetting;
    return 0;
  }
  if (request == USBDEVFS_CLEAR_HALT) {
    guint ep = *resolve_uint(arg, &data);
    if (ep != 0x01 && ep != 0x82)
      return ENOENT;
    d->n_clear_halt++;
    return 0;
  }
  g_ptr_array_add(f->unknown, GSIZE_TO_POINTER(request));
  return ENOTTY;
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                         gpointer user_data) {
  fixture_t *f = user_data;
  const char *node = umockdev_ioctl_client_get_devnode(client);
  gulong request = umockdev_ioctl_client_get_request(client);
  UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
  int err = ENODEV;
  long result = 0;
  g_mutex_lock(&f->lock);
  for (guint i = 0; i < f->devs->len; i++) {
    mockdev_t *d = f->devs->pdata[i];
    if (strcmp(d->devnode, node) == 0) {
      err = device_ioctl(f, d, client, request, arg, &result);
      break;
    }
  }
  g_mutex_unlock(&f->lock);
  umockdev_ioctl_client_complete(client, err ? -1 : result, err);
  return TRUE;
}

static void on_connected(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                         gpointer user_data) {
  fixture_t *f = user_data;
  const char *node = umockdev_ioctl_client_get_devnode(client);
  g_mutex_lock(&f->lock);
  for (guint i = 0; i < f->devs->len; i++) {
    mockdev_t *d = f->devs->pdata[i];
    if (strcmp(d->devnode, node) == 0)
      d->n_opens++;
  }
  g_mutex_unlock(&f->lock);
}

static void setup(fixture_t *f, gconstpointer data) {
  g_mutex_init(&f->lock);
  f->devs = g_ptr_array_new_with_free_func((GDestroyNotify)mockdev_free);
  f->unknown = g_ptr_array_new();
  f->bed = umockdev_testbed_new();
  g_assert_nonnull(f->bed);
  f->root = umockdev_testbed_get_root_dir(f->bed);
  f->handler = umockdev_ioctl_base_new();
  g_signal_connect(f->handler, "handle-ioctl", G_CALLBACK(on_ioctl), f);
  g_signal_connect(f->handler, "client-connected", G_CALLBACK(on_connected), f);
}

static void teardown(fixture_t *f, gconstpointer data) {
  g_clear_object(&f->handler);
  g_clear_object(&f->bed);
  g_assert_false(g_file_test(f->root, G_FILE_TEST_EXISTS));
  g_free(f->root);
  for (guint i = 0; i < f->unknown->len; i++)
    g_test_message("unanswered ioctl 0x%lx", (gulong)GPOINTER_TO_SIZE(f->unknown->pdata[i]));
  g_assert_cmpuint(f->unknown->len, ==, 0);
  g_ptr_array_unref(f->unknown);
  g_ptr_array_unref(f->devs);
  g_mutex_clear(&f->lock);
}

/* Reads a counter of the device under the lock. */
#define DEV(f, d, field)                                                                     \
  ({                                                                                         \
    g_mutex_lock(&(f)->lock);                                                                \
    __typeof__((d)->field) v_ = (d)->field;                                                  \
    g_mutex_unlock(&(f)->lock);                                                              \
    v_;                                                                                      \
  })

/* The last setup packet of a kind the device saw. */
static void assert_setup(fixture_t *f, const guint8 *seen, const guint8 *expected) {
  g_mutex_lock(&f->lock);
  g_assert_cmpmem(seen, 8, expected, 8);
  g_mutex_unlock(&f->lock);
}

static const cs_usb_printer_t *find_uri(GPtrArray *list, const char *uri) {
  for (guint i = 0; i < list->len; i++) {
    const cs_usb_printer_t *p = list->pdata[i];
    if (strcmp(p->uri, uri) == 0)
      return p;
  }
  return NULL;
}

static guint8 *random_bytes(gsize n) {
  guint8 *b = g_malloc(n);
  for (gsize i = 0; i < n; i++)
    b[i] = (guint8)g_test_rand_int();
  return b;
}

/* ---- the cases ---- */

static void test_list(fixture_t *f, gconstpointer data) {
  mockdev_t *evo = emulated("evolis", 4);
  evo->usblp = TRUE; /* listing must leave the kernel driver alone */
  add_device(f, evo);
  /* a Magicard with a vendor-specific interface and no device ID: the VID says it */
  mockdev_t *mc = mockdev_new(5, 0x0C1F, 0x2800, IFACE_VENDOR, "Magicard Ltd", "Enduro",
                              "MC4242");
  add_device(f, mc);
  mockdev_t *hp = mockdev_new(6, 0x03F0, 0x0517, IFACE_PRINTER, "HP", "LaserJet", "HP1");
  hp->fake_id = g_strdup("MFG:Hewlett-Packard;CMD:PCL;MDL:LaserJet;SN:HP1;");
  add_device(f, hp);
  mockdev_t *kbd = mockdev_new(7, 0x046D, 0xC31C, IFACE_HID, "Logitech", "Keyboard", NULL);
  add_device(f, kbd);

  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = cs_usb_list(&error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);

  const char *serial = cs_emulator_serial(evo->emu);
  g_autofree char *uri = g_strdup_printf("evolis://%s", serial);
  const cs_usb_printer_t *p = find_uri(list, uri);
  g_assert_nonnull(p);
  g_assert_cmpstr(p->make, ==, "Evolis");
  g_assert_cmpstr(p->serial, ==, serial);
  g_assert_cmpstr(p->device_id, ==, cs_emulator_device_id(evo->emu));
  g_autofree char *mdl = id_field(p->device_id, "MDL");
  g_assert_cmpstr(p->model, ==, mdl);
  g_assert_cmphex(p->vid, ==, cs_emulator_vid(evo->emu));
  g_assert_cmphex(p->pid, ==, cs_emulator_pid(evo->emu));
  g_assert_cmpuint(p->bus, ==, 1);
  g_assert_cmpuint(p->address, ==, 4);
  /* GET_DEVICE_ID as CUPS sends it (E13): config index 0, interface 0, 1024 bytes */
  const guint8 get_id[8] = {0xA1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04};
  assert_setup(f, evo->id_setup, get_id);
  g_assert_true(DEV(f, evo, usblp));
  g_assert_cmpuint(DEV(f, evo, n_detach), ==, 0);
  g_assert_cmpuint(DEV(f, evo, claimed), ==, 0);

  p = find_uri(list, "magicard://MC4242");
  g_assert_nonnull(p);
  g_assert_cmpstr(p->make, ==, "Magicard");
  g_assert_cmpstr(p->model, ==, "Enduro");
  g_assert_cmpstr(p->serial, ==, "MC4242");
  g_assert_cmpstr(p->device_id, ==, "");
  g_assert_cmphex(p->vid, ==, 0x0C1F);
  g_assert_cmpuint(p->address, ==, 5);

  /* a printer whose node cannot be opened is skipped, not an error */
  mockdev_t *locked = fake_evolis(8, "EMU0008");
  add_device(f, locked);
  g_autofree char *node = g_build_filename(f->root, locked->devnode, NULL);
  g_assert_cmpint(g_unlink(node), ==, 0);
  g_autoptr(GPtrArray) again = cs_usb_list(&error);
  g_assert_no_error(error);
  g_assert_cmpuint(again->len, ==, 2);
  g_assert_null(find_uri(again, "evolis://EMU0008"));

  /* the HP printer was asked who it is; the keyboard was never opened */
  g_assert_cmpuint(DEV(f, hp, n_opens), >=, 1);
  g_assert_cmpuint(DEV(f, kbd, n_opens), ==, 0);
}

static void test_round_trip(fixture_t *f, gconstpointer data) {
  mockdev_t *evo = emulated("evolis", 4);
  add_device(f, evo);
  const char *serial = cs_emulator_serial(evo->emu);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_transport_t) t = cs_usb_open("evolis", NULL, &error);
  g_assert_no_error(error);
  g_autofree char *name = g_strdup_printf("USB 001/004 (serial %s)", serial);
  g_assert_cmpstr(t->name, ==, name);
  g_assert_cmpuint(DEV(f, evo, claimed), ==, 1);
  g_assert_cmpuint(DEV(f, evo, n_setinterface), ==, 0); /* one altsetting: left alone */

  g_autofree char *id = cs_transport_device_id(t, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(id, ==, cs_emulator_device_id(evo->emu));

  guint8 status = 0;
  g_assert_true(cs_transport_port_status(t, &status, &error));
  g_assert_no_error(error);
  g_assert_cmphex(status, ==, cs_emulator_port_status(evo->emu));
  const guint8 get_status[8] = {0xA1, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00};
  assert_setup(f, evo->status_setup, get_status);

  /* nothing to read yet: 0 once the timeout has passed */
  guint8 buf[512];
  gint64 start = g_get_monotonic_time();
  g_assert_cmpint(cs_transport_read(t, buf, sizeof buf, 100, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 90000);

  /* a read command and its answer: the serial number (Rsn) */
  static const guint8 rsn[] = {0x1B, 'R', 's', 'n', 0x0D};
  gsize sent = 0;
  g_assert_true(cs_transport_write(t, rsn, sizeof rsn, &sent, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(sent, ==, sizeof rsn);
  g_assert_cmpmem(DEV(f, evo, received)->data, sizeof rsn, rsn, sizeof rsn);
  gssize n = cs_transport_read(t, buf, sizeof buf - 1, 2000, &error);
  g_assert_no_error(error);
  g_assert_cmpint(n, >, 0);
  buf[n] = 0;
  g_assert_nonnull(strstr((const char *)buf, serial));

  g_clear_pointer(&t, cs_transport_free);
  g_assert_cmpuint(DEV(f, evo, claimed), ==, 0);
}

/* Big writes go out in chunks of at most 16 KiB, every byte in order. */
static void test_chunks(fixture_t *f, gconstpointer data) {
  mockdev_t *d = fake_evolis(4, "EMU0001");
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_transport_t) t = cs_usb_open("evolis", "EMU0001", &error);
  g_assert_no_error(error);
  gsize len = 100000, sent = 0;
  g_autofree guint8 *bytes = random_bytes(len);
  g_assert_true(cs_transport_write(t, bytes, len, &sent, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(sent, ==, len);
  g_assert_cmpmem(DEV(f, d, received)->data, DEV(f, d, received)->len, bytes, len);
  g_assert_cmpint(DEV(f, d, max_out_urb), ==, 16384);
  g_assert_cmpuint(DEV(f, d, n_out_urbs), ==, 7);

  /* replies come back through bulk IN */
  g_mutex_lock(&f->lock);
  g_byte_array_append(d->replies, (const guint8 *)"OK\r", 3);
  g_mutex_unlock(&f->lock);
  guint8 buf[64];
  g_assert_cmpint(cs_transport_read(t, buf, sizeof buf, 1000, &error), ==, 3);
  g_assert_cmpmem(buf, 3, "OK\r", 3);
  /* read a byte at a time: whole packets are asked for, the rest kept for the next read */
  g_mutex_lock(&f->lock);
  g_byte_array_append(d->replies, (const guint8 *)"NO", 2);
  g_mutex_unlock(&f->lock);
  g_assert_cmpint(cs_transport_read(t, buf, 1, 1000, &error), ==, 1);
  g_assert_cmpint(cs_transport_read(t, buf + 1, 1, 1000, &error), ==, 1);
  g_assert_no_error(error);
  g_assert_cmpmem(buf, 2, "NO", 2);
  g_assert_cmpint(DEV(f, d, min_in_urb), ==, 512);
  g_assert_cmpint(cs_transport_read(t, buf, 1, 20, &error), ==, 0);
}

/* E13: a device ID whose length comes little-endian (1B 00) is still read. */
static void test_device_id_little_endian(fixture_t *f, gconstpointer data) {
  mockdev_t *d = mockdev_new(4, 0x0C1F, 0x1800, IFACE_PRINTER, "Magicard", "Rio Pro", "MC13");
  d->fake_id = g_strdup("MFG:Magicard ;MDL:Enduro;");
  d->id_little_endian = TRUE;
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = cs_usb_list(&error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  const cs_usb_printer_t *p = list->pdata[0];
  g_assert_cmpstr(p->device_id, ==, "MFG:Magicard ;MDL:Enduro;");
  g_assert_cmpstr(p->make, ==, "Magicard");
  g_assert_cmpstr(p->model, ==, "Enduro"); /* from the ID, not the product string */
  g_assert_cmpstr(p->uri, ==, "magicard://MC13");

  g_autoptr(cs_transport_t) t = cs_usb_open("magicard", "MC13", &error);
  g_assert_no_error(error);
  g_autofree char *id = cs_transport_device_id(t, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(id, ==, "MFG:Magicard ;MDL:Enduro;");
}

static void test_claim_busy(fixture_t *f, gconstpointer data) {
  mockdev_t *d = fake_evolis(4, "EMU0001");
  d->busy_claims = 3;
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  cs_transport_t *t = cs_usb_open("evolis", "EMU0001", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(DEV(f, d, n_claims), ==, 4);
  g_assert_cmpuint(DEV(f, d, claimed), ==, 1);
  cs_transport_free(t);

  /* busy for good: ten tries, then an error naming the device */
  g_mutex_lock(&f->lock);
  d->busy_claims = 1000;
  d->n_claims = 0;
  g_mutex_unlock(&f->lock);
  g_assert_null(cs_usb_open("evolis", "EMU0001", &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "USB 001/004 (serial EMU0001)"));
  g_assert_nonnull(strstr(error->message, "busy"));
  g_assert_cmpuint(DEV(f, d, n_claims), ==, 10);
  g_assert_cmpuint(DEV(f, d, claimed), ==, 0);
}

static void test_kernel_driver(fixture_t *f, gconstpointer data) {
  mockdev_t *d = fake_evolis(4, "EMU0001");
  d->usblp = TRUE;
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  cs_transport_t *t = cs_usb_open("evolis", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(DEV(f, d, n_detach), ==, 1);
  g_assert_false(DEV(f, d, usblp));
  g_assert_cmpuint(DEV(f, d, claimed), ==, 1);
  gsize sent;
  g_assert_true(cs_transport_write(t, (const guint8 *)"x", 1, &sent, &error));
  cs_transport_free(t);
  /* released, and usblp has its interface back */
  g_assert_cmpuint(DEV(f, d, claimed), ==, 0);
  g_assert_cmpuint(DEV(f, d, n_attach), ==, 1);
  g_assert_true(DEV(f, d, usblp));

  /* without a kernel driver nothing is detached, nor attached afterwards */
  g_mutex_lock(&f->lock);
  d->usblp = FALSE;
  g_mutex_unlock(&f->lock);
  t = cs_usb_open("evolis", NULL, &error);
  g_assert_no_error(error);
  cs_transport_free(t);
  g_assert_cmpuint(DEV(f, d, n_detach), ==, 1);
  g_assert_cmpuint(DEV(f, d, n_attach), ==, 1);
}

/* The cable is pulled in the middle of the second chunk. */
static void test_unplug(fixture_t *f, gconstpointer data) {
  mockdev_t *d = fake_evolis(4, "EMU0001");
  d->unplug_at = 20000;
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_transport_t) t = cs_usb_open("evolis", "EMU0001", &error);
  g_assert_no_error(error);
  gsize len = 40000, sent = 0;
  g_autofree guint8 *bytes = random_bytes(len);
  g_assert_false(cs_transport_write(t, bytes, len, &sent, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "disconnected"));
  g_assert_nonnull(strstr(error->message, "USB 001/004 (serial EMU0001)"));
  g_assert_cmpuint(sent, ==, 20000);
  g_assert_cmpmem(DEV(f, d, received)->data, DEV(f, d, received)->len, bytes, 20000);
  g_clear_error(&error);

  /* everything else now fails the same way */
  g_assert_false(cs_transport_write(t, bytes, 10, &sent, &error));
  g_assert_cmpuint(sent, ==, 0);
  g_assert_nonnull(strstr(error->message, "disconnected"));
  g_clear_error(&error);
  guint8 status;
  g_assert_false(cs_transport_port_status(t, &status, &error));
  g_assert_nonnull(strstr(error->message, "disconnected"));
  g_clear_error(&error);
  guint8 buf[16];
  g_assert_cmpint(cs_transport_read(t, buf, sizeof buf, 100, &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "disconnected"));
}

/* The printer stops taking data: the chunk times out (CS_USB_WRITE_TIMEOUT_MS, set in main). */
static void test_timeout(fixture_t *f, gconstpointer data) {
  mockdev_t *d = fake_evolis(4, "EMU0001");
  d->stall_at = 20000;
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_transport_t) t = cs_usb_open("evolis", "EMU0001", &error);
  g_assert_no_error(error);
  gsize len = 40000, sent = 0;
  g_autofree guint8 *bytes = random_bytes(len);
  gint64 start = g_get_monotonic_time();
  g_assert_false(cs_transport_write(t, bytes, len, &sent, &error));
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 300000);
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "timed out after 20000 bytes"));
  g_assert_cmpuint(sent, ==, 20000);
  g_assert_cmpuint(DEV(f, d, received)->len, ==, 20000);
  g_clear_error(&error);

  /* the printer takes data again; the abandoned URB was discarded */
  g_mutex_lock(&f->lock);
  d->stall_at = -1;
  g_mutex_unlock(&f->lock);
  g_assert_true(cs_transport_write(t, bytes + sent, len - sent, &sent, &error));
  g_assert_no_error(error);
  g_assert_cmpmem(DEV(f, d, received)->data, DEV(f, d, received)->len, bytes, len);
  g_assert_null(DEV(f, d, urbs));
}

/* A halted bulk OUT endpoint is cleared and the chunk sent again, once. */
static void test_stall(fixture_t *f, gconstpointer data) {
  mockdev_t *d = fake_evolis(4, "EMU0001");
  d->pipe_errors = 1;
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_transport_t) t = cs_usb_open("evolis", "EMU0001", &error);
  g_assert_no_error(error);
  gsize len = 30000, sent = 0;
  g_autofree guint8 *bytes = random_bytes(len);
  g_assert_true(cs_transport_write(t, bytes, len, &sent, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(DEV(f, d, n_clear_halt), ==, 1);
  g_assert_cmpmem(DEV(f, d, received)->data, DEV(f, d, received)->len, bytes, len);

  g_mutex_lock(&f->lock);
  d->pipe_errors = 2;
  g_mutex_unlock(&f->lock);
  g_assert_false(cs_transport_write(t, bytes, len, &sent, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_null(strstr(error->message, "disconnected"));
  g_assert_cmpuint(sent, ==, 0);
  g_assert_cmpuint(DEV(f, d, n_clear_halt), ==, 2);
}

/* The bidirectional altsetting is chosen and selected. */
static void test_alt_setting(fixture_t *f, gconstpointer data) {
  mockdev_t *d = fake_evolis(4, "EMU0001");
  d->kind = IFACE_TWO_ALTS;
  add_device(f, d);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_transport_t) t = cs_usb_open("evolis", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(DEV(f, d, n_setinterface), ==, 1);
  g_assert_cmpuint(DEV(f, d, alt), ==, 1);
  g_autofree char *id = cs_transport_device_id(t, &error);
  g_assert_no_error(error);
  const guint8 get_id[8] = {0xA1, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x04};
  assert_setup(f, d->id_setup, get_id);
  g_mutex_lock(&f->lock);
  g_byte_array_append(d->replies, (const guint8 *)"A", 1);
  g_mutex_unlock(&f->lock);
  guint8 c;
  g_assert_cmpint(cs_transport_read(t, &c, 1, 1000, &error), ==, 1);
}

static void test_open_errors(fixture_t *f, gconstpointer data) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) none = cs_usb_list(&error);
  g_assert_no_error(error);
  g_assert_cmpuint(none->len, ==, 0);
  g_assert_null(cs_usb_open("evolis", NULL, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "no Evolis printer"));
  g_clear_error(&error);

  add_device(f, fake_evolis(4, "EMU0001"));
  mockdev_t *second = fake_evolis(5, "EMU0002");
  add_device(f, second);
  g_assert_null(cs_usb_open("evolis", NULL, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "EMU0001"));
  g_assert_nonnull(strstr(error->message, "EMU0002"));
  g_clear_error(&error);
  g_assert_null(cs_usb_open("evolis", "NOPE", &error));
  g_assert_nonnull(strstr(error->message, "NOPE"));
  g_assert_nonnull(strstr(error->message, "EMU0002"));
  g_clear_error(&error);
  g_assert_null(cs_usb_open("magicard", NULL, &error));
  g_assert_nonnull(strstr(error->message, "no Magicard printer"));
  g_clear_error(&error);

  g_autoptr(cs_transport_t) t = cs_usb_open("evolis", "EMU0002", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(t->name, ==, "USB 001/005 (serial EMU0002)");
  g_assert_cmpuint(DEV(f, second, claimed), ==, 1);
}

static cs_card_t *sample_card(void) {
  g_autofree char *path = testutil_src("examples/special-operation.json");
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(path, report, NULL);
  g_assert_nonnull(job);
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, job->record->type, NULL);
  static const char *const sides[] = {"front", "back", NULL};
  g_autoptr(GError) error = NULL;
  cs_card_t *card = cs_card_new(renderer, layout, job->record, NULL, sides, &error);
  g_assert_no_error(error);
  return card;
}

/* The whole path: evolis://SERIAL (or magicard://) opens the protocol driver over usb.c, and
 * the emulator behind the mocked device receives one card, printed. */
static void test_print(fixture_t *f, gconstpointer data) {
  const char *model = data;
  mockdev_t *d = emulated(model, 4);
  add_device(f, d);
  const char *scheme = g_str_has_prefix(model, "evolis") ? "evolis" : "magicard";
  g_autofree char *uri = g_strdup_printf("%s://%s", scheme, cs_emulator_serial(d->emu));
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_driver_t) driver = cs_driver_open(uri, &error);
  g_assert_no_error(error);
  g_assert_cmpint(cs_driver_status(driver, &error), ==, CS_PRINTER_READY);
  g_assert_no_error(error);

  cs_plane_geometry_t g;
  cs_driver_geometry(driver, &g);
  g_autoptr(cs_card_t) card = sample_card();
  g_autoptr(cs_planes_t) front = cs_card_render_planes(card, "front", &g, &error);
  g_assert_no_error(error);
  g_autoptr(cs_planes_t) back = NULL;
  if (cs_driver_caps(driver)->duplex) {
    back = cs_card_render_planes(card, "back", &g, &error);
    g_assert_no_error(error);
  }
  g_autofree char *desc = cs_card_describe(card);
  cs_card_job_t job = {.job_id = "usb-1", .description = desc, .front = front, .back = back};
  g_assert_true(cs_driver_print(driver, &job, &error));
  g_assert_no_error(error);
  g_clear_pointer(&driver, cs_driver_close);

  g_mutex_lock(&f->lock); /* the testbed thread is idle now, but the emulator is its */
  g_assert_cmpuint(cs_emulator_n_cards(d->emu), ==, 1);
  const cs_emu_card_t *c = cs_emulator_card(d->emu, 0);
  g_assert_cmpint(c->outcome, ==, CS_EMU_PRINTED);
  g_assert_true(c->side[0].present);
  g_assert_cmpint(c->side[1].present, ==, back != NULL);
  const GPtrArray *errors = cs_emulator_errors(d->emu);
  for (guint i = 0; errors && i < errors->len; i++)
    g_test_message("emulator: %s", (const char *)errors->pdata[i]);
  g_assert_true(errors == NULL || errors->len == 0);
  g_assert_cmpuint(d->claimed, ==, 0);
  g_mutex_unlock(&f->lock);
}

/* The preload library makes umockdev's /sys and /dev visible: run again with it. */
static void ensure_preload(char **argv) {
  const char *preload = g_getenv("LD_PRELOAD");
  if (preload != NULL && strstr(preload, "libumockdev-preload") != NULL)
    return;
  g_autofree char *lp = preload && *preload ? g_strconcat(PRELOAD ":", preload, NULL)
                                            : g_strdup(PRELOAD);
  const char *asan = g_getenv("ASAN_OPTIONS");
  g_autofree char *ao = asan && *asan ? g_strconcat(asan, ":verify_asan_link_order=0", NULL)
                                      : g_strdup("verify_asan_link_order=0");
  g_setenv("LD_PRELOAD", lp, TRUE);
  g_setenv("ASAN_OPTIONS", ao, TRUE);
  execv("/proc/self/exe", argv);
  g_error("cannot run again with %s: %s", PRELOAD, g_strerror(errno));
}

int main(int argc, char **argv) {
  ensure_preload(argv);
  /* short waits: a busy claim retried every 20 ms, a stuck chunk given up after 400 ms */
  g_setenv("CS_USB_CLAIM_RETRY_MS", "20", TRUE);
  g_setenv("CS_USB_WRITE_TIMEOUT_MS", "400", TRUE);
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  catalogue = cs_catalogue_load_default(&error);
  renderer = cs_renderer_new(catalogue, NULL, &error);
  g_assert_no_error(error);

#define ADD(path, fn, data) g_test_add(path, fixture_t, data, setup, fn, teardown)
  ADD("/usb/list", test_list, NULL);
  ADD("/usb/round-trip", test_round_trip, NULL);
  ADD("/usb/chunks", test_chunks, NULL);
  ADD("/usb/device-id-little-endian", test_device_id_little_endian, NULL);
  ADD("/usb/claim-busy", test_claim_busy, NULL);
  ADD("/usb/kernel-driver", test_kernel_driver, NULL);
  ADD("/usb/unplug", test_unplug, NULL);
  ADD("/usb/timeout", test_timeout, NULL);
  ADD("/usb/stall", test_stall, NULL);
  ADD("/usb/alt-setting", test_alt_setting, NULL);
  ADD("/usb/open-errors", test_open_errors, NULL);
  ADD("/usb/print/evolis", test_print, "evolis");
  ADD("/usb/print/magicard-rio", test_print, "magicard-rio");
  int rc = g_test_run();
  cs_renderer_free(renderer);
  cs_catalogue_free(catalogue);
  cs_fonts_shutdown();
  return rc;
}
