/* cardspool error domain: every failure that is not a field-level validation problem. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CS_ERROR (cs_error_quark())

typedef enum {
  CS_ERROR_FAILED,      /* anything without a more specific code */
  CS_ERROR_IO,          /* a file could not be read or written */
  CS_ERROR_TOO_LARGE,   /* input over a documented size limit, refused before parsing */
  CS_ERROR_PARSE,       /* not well-formed JSON (or another syntax) */
  CS_ERROR_INVALID,     /* validation found problems; details are in the cs_report_t */
  CS_ERROR_DATA,        /* a catalogue or other data file is missing or malformed */
  CS_ERROR_PHOTO,       /* a photo is damaged: its header or data cannot be decoded */
  CS_ERROR_UNSUPPORTED, /* a well-formed input of a kind not accepted (e.g. a GIF or CMYK photo) */
  CS_ERROR_FONT,        /* a pinned font file is missing or not the file the manifest names */
  CS_ERROR_LAYOUT,      /* a layout file is malformed; the message names the file and member */
  CS_ERROR_GLYPH,       /* a character no pinned font can draw */
  CS_ERROR_FIT,         /* a field's text does not fit its box even at its minimum size */
  CS_ERROR_PRINTER,     /* the printer did not take the card; nothing was printed */
  CS_ERROR_PRINTER_ATTENTION, /* the card may be partly printed: an operator must look */
  CS_ERROR_NOT_FOUND,   /* no such job, card or object in the store */
  CS_ERROR_CONFLICT,    /* the object's state does not allow it, or an idempotency key clash */
  CS_ERROR_STORE,       /* the store failed (disk full, read-only, corrupt) */
  CS_ERROR_UNPRINTABLE, /* this card cannot print on this printer as set up (ribbon, sides,
                         * size, overlay shape): nothing was sent, and sending it again will not
                         * help until the printer or its settings change */
} cs_error_code_t;

GQuark cs_error_quark(void);

G_END_DECLS
