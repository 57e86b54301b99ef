/* Magicard protocol (facts: ../shared/docs/printer-protocols.md, part 2).
 *
 * One side = one block: 64 x 05, 01 2C, comma-separated header tokens in the order RTU emits
 * them, 1C, then the planes that carry ink, each followed by its terminator (Y 1C 42 3A,
 * M 1C 47 3A, C 1C 52 3A, K 1C 4B 3A), then 03. A duplex card is two blocks (DPXON, BAC<fmt>,
 * PAG1; then PAG2). A side with no ink at all still sends a blank K plane.
 *
 * Heads: KEE (Rio/Tango 2e): colour rows 6 bit-planes x 84 bytes, bit-plane 0 (LSB) first,
 * K rows 84 bytes, dot d = byte d/8, mask 0x80 >> d%8, image pixel j at dot 16 + j.
 * KGE2 (Enduro): rows of 24 little-endian 32-bit words (96 bytes a bit-plane), dot a < 288 ->
 * word a/16 + 6, bit (a%16)*2; else word (a-288)/16, bit ((a-288)%16)*2 + 1; then the bits of
 * every byte reversed; image pixel j at dot 15 + j.
 * Orientation (card x 0…1015, y 0…641 -> row, pixel j): KEE row = 1015 - x, j = y
 * (counter-clockwise, RTU's Rio default); KGE2 row = x, j = 641 - y (clockwise).
 * Values: 6-bit dye, Y = dye >> 2. K from the K panel only.
 *
 * Overlay: no bitmap; OVRON with the head's default PCT area and one NCT rectangle per hole,
 * or OVROFF. PCT/NCT l,b,r,t are inclusive dots on the card orientation with x from the left
 * and y from the bottom edge (y_bottom = 641 - y) (⚠ inference: RTU's holes sit at the
 * stripe's and chip's places only under this reading). A layout whose overlay is a shape
 * other than "all but the holes" cannot be printed: CS_ERROR_PRINTER says so.
 *
 * Status: the host reads the USB port status (0x18 ready, 0x08 printing, 0x10 error) and on an
 * error sends `01 2C REQ,ERR, 1C 03`; the reply is 01 "STA" message 0A code 0A "(cNNNN)" 03.
 * Codes: 00:00 OK and 11:01 card not fed were captured; 03:01 ribbon out, 06:01 cover open and
 * 12:01 card jam are this project's assumption (used by our emulator); any other code is
 * reported with the printer's own message. */
#pragma once

#include <glib.h>

#include "panels.h"
#include "settings.h"

G_BEGIN_DECLS

#define CS_MAGICARD_ROWS 1016
#define CS_MAGICARD_DOTS 642

typedef enum { CS_MAGICARD_KEE, CS_MAGICARD_KGE2 } cs_magicard_head_t;

/* tdt: the TDT token's Unix time (tests pass a fixed one). Panels must be 1016 x 642. */
GBytes *cs_magicard_encode_card(cs_magicard_head_t head, const cs_panels_t *front,
                                const cs_panels_t *back, const cs_printer_settings_t *settings,
                                gint64 tdt, GError **error);

/* 01 2C "REQ,ERR," 1C 03 */
GBytes *cs_magicard_error_query(void);

typedef struct {
  char message[256];
  char code[16];    /* "11:01" */
  char detail[16];  /* "c0201" */
} cs_magicard_status_t;

/* Parses a REQ,ERR reply. FALSE (CS_ERROR_PRINTER) when malformed. A fuzz target. */
gboolean cs_magicard_parse_status(const guint8 *buf, gsize len, cs_magicard_status_t *status,
                                  GError **error);

/* 05 x 9, 01 "REQ,STA,<key>," 1C 03 (24 bytes for a 3-letter key, as E8). key: printable
 * ASCII without ',' (e.g. "TCQ" total cards, "MSR" printer serial). */
GBytes *cs_magicard_sta_query(const char *key);

/* Parses a REQ,STA reply: 01 "STA" <key> "," <value> ["," ] 03 (bytes after the 03 are
 * ignored). *value: the value as UTF-8, g_free it. FALSE (CS_ERROR_PRINTER) when malformed,
 * for another key, or not text. A fuzz target. */
gboolean cs_magicard_parse_sta(const guint8 *buf, gsize len, const char *key, char **value,
                               GError **error);

G_END_DECLS
