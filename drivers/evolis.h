/* Evolis "Esc" command language (facts: ../shared/docs/printer-protocols.md, part 1).
 *
 * Stream for one card (what cs_evolis_encode_card() returns):
 *   ESC Pr;<ribbon> CR              ymcko, ymckok, ko, or k (as the vendor driver sends)
 *   ESC Pmi;F;s CR                  feeder insertion
 *   ESC Pc;k;=;10 CR                K contrast at its documented default
 *   ESC Ss CR                       sequence start: the card is fed here
 *   ESC Sr CR                       front
 *   ESC Db;y;<d>;<payload> CR  …m, c   colour panels when the side prints colour; d = 32, 64
 *                                   or 128 for 5, 6, 7 bits (uncompressed: the colour Dbc
 *                                   format rests on the guide alone)
 *   ESC Dbc;k;2;<n>;<payload> CR    K (or Db;k;2 when compress is off), when the ribbon has K
 *   ESC Dbc;o;2;<n>;<payload> CR    overlay, when the ribbon has O and the side has overlay
 *   [ESC Sv CR, ESC Pc;k;=;10 CR, the back's panels]  duplex (the contrast again, as DPV
 *                                   sends it: example E2; only when the back has K)
 *   ESC Se CR                       print and eject
 * A K-only one-sided card with compress off is byte for byte example E1 without its padding,
 * a K-only two-sided one example E2 without its padding.
 *
 * Panels: 1016 lines of 648 pixels; line = x, pixel p = 647 - y of the card-orientation
 * panel (x 0…1015, y 0…647), MSB first (DPV and the vendor driver agree). Colour values
 * packed as a continuous MSB-first bit stream; Y = dye >> (8 - bits). K/O compression: per
 * line a control byte 00 (white), FF (black) or N (1…81) followed by the line's first N bytes,
 * trailing zero bytes dropped.
 *
 * Session: the driver switches on ACK/NACK answers (`Pem;4`) and reads one answer per
 * command: 06, or 15 + a code (1 command, 2 parameter, T time-out/jam, C cover, F feeder,
 * R ribbon). Read commands (Rtp, Rsn, Rcr, Rco;l, Sk;f, …) answer with ASCII text ended by CR,
 * LF, NUL or the end of the transfer (the guide gives no terminator), or with NACK + code. */
#pragma once

#include <glib.h>

#include "panels.h"
#include "settings.h"

G_BEGIN_DECLS

#define CS_EVOLIS_LINES 1016
#define CS_EVOLIS_PIXELS 648

/* front required, back NULL for one side. Panels must be 1016 x 648. */
GBytes *cs_evolis_encode_card(const cs_panels_t *front, const cs_panels_t *back,
                              const cs_printer_settings_t *settings, GError **error);
/* The same stream as one GBytes per command (downloads with their payload), in order, so a
 * driver can read the printer's answer after each. g_bytes_unref frees the elements. */
GPtrArray *cs_evolis_encode_frames(const cs_panels_t *front, const cs_panels_t *back,
                                   const cs_printer_settings_t *settings, GError **error);
/* One command frame: ESC name[;param…] CR (no payload). */
GBytes *cs_evolis_command(const char *command);

typedef enum {
  CS_EVOLIS_REPLY_ACK,
  CS_EVOLIS_REPLY_NACK,  /* code holds the character */
  CS_EVOLIS_REPLY_TEXT,  /* text holds the answer, terminator stripped */
} cs_evolis_reply_kind_t;

typedef struct {
  cs_evolis_reply_kind_t kind;
  char code;
  char text[256];
} cs_evolis_reply_t;

/* Parses one reply from buf; *used = bytes consumed. FALSE (CS_ERROR_PRINTER) for an empty,
 * over-long or non-ASCII reply. A fuzz target. */
gboolean cs_evolis_parse_reply(const guint8 *buf, gsize len, cs_evolis_reply_t *reply,
                               gsize *used, GError **error);

G_END_DECLS
