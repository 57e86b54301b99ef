/* Card printer emulators: they take the byte stream a driver sends, parse it back into panel
 * bitmaps with rules written from ../shared/docs/printer-protocols.md (not from our encoders),
 * answer status queries, and inject faults. Used by the tests, the benchmarks and the
 * emulator://MODEL printers (so the daemon's crash tests print on them too).
 *
 * Models: "evolis" (Evolis "Esc" language, duplex, 1016 x 648 dots), "magicard-rio" (Magicard
 * Rio/Tango 2e, KEE head, 1016 x 642), "magicard-enduro" (Magicard Enduro, KGE2 head).
 *
 * Faults. A card is fed at Evolis `Ss` / at the end of a Magicard side header. A fault active
 * when a card would be fed stops the feed: the card is CS_EMU_NOT_FED (nothing printed). A
 * fault striking after the feed aborts that card: CS_EMU_ABORTED (partly printed), except a
 * feeder running empty, which only stops the next feed. An unplug loses every byte from that
 * point: writes fail until cs_emulator_clear() (plugged back in, memory lost). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct cs_emulator cs_emulator_t;

typedef enum {
  CS_FAULT_NONE,
  CS_FAULT_RIBBON_OUT,
  CS_FAULT_FEEDER_EMPTY,
  CS_FAULT_COVER_OPEN,
  CS_FAULT_JAM,
  CS_FAULT_UNPLUG,
} cs_fault_t;

typedef enum {
  CS_EMU_PRINTED, /* every side received whole and the card ejected */
  CS_EMU_ABORTED, /* fed, then a fault: partly printed, in the reject box */
  CS_EMU_NOT_FED, /* a fault stopped the feed: nothing printed */
  CS_EMU_OPEN,    /* still being received */
} cs_emu_outcome_t;

typedef struct {
  gboolean present;       /* this side was printed */
  guint width, height;    /* dots, card orientation (x right, y down, as seen on that side
                           * mapped by the protocol's documented rule) */
  guint colour_bits;      /* bits per Y/M/C value as sent: Evolis 5, 6 or 7; Magicard 6 */
  guint8 *y, *m, *c;      /* one byte per dot, 0..2^bits-1; NULL: panel not sent */
  guint8 *k, *o;          /* one byte per dot, 0 or 1; NULL: panel not sent (Magicard: o is
                           * drawn from OVRON/PCT/NCT, NULL for OVROFF) */
} cs_emu_side_t;

typedef struct {
  cs_emu_outcome_t outcome;
  cs_emu_side_t side[2];  /* front, back */
  char *ribbon;           /* Evolis `Pr` value ("ymcko"); Magicard film token or "" */
  GPtrArray *commands;    /* char *: Evolis commands without payloads in order ("Pr;ymcko",
                           * "Ss", "Sr", "Db;y;128", "Dbc;k;2;42832", "Se"); Magicard header
                           * tokens of each side in order ("NOC1", …, "SZK85344") */
} cs_emu_card_t;

cs_emulator_t *cs_emulator_new(const char *model, GError **error);
void cs_emulator_free(cs_emulator_t *emulator);
const char *cs_emulator_model(const cs_emulator_t *emulator);
const char *cs_emulator_serial(const cs_emulator_t *emulator);
guint16 cs_emulator_vid(const cs_emulator_t *emulator);
guint16 cs_emulator_pid(const cs_emulator_t *emulator);
/* IEEE 1284 device ID without the two length bytes, e.g. "MFG:Evolis;MDL:…;SN:…;" */
const char *cs_emulator_device_id(const cs_emulator_t *emulator);

/* Host -> printer bytes. FALSE (CS_ERROR_PRINTER, "disconnected") once unplugged. A
 * malformed stream is not an error here: it is recorded (cs_emulator_errors) and answered as
 * the printer would (Evolis NAK in ACK mode). */
gboolean cs_emulator_write(cs_emulator_t *emulator, const guint8 *data, gsize len,
                           GError **error);
/* Printer -> host: pending reply bytes, at most len; 0 when none. -1 once unplugged. */
gssize cs_emulator_read(cs_emulator_t *emulator, guint8 *buf, gsize len);
/* IEEE 1284 port status: 0x18 ready, 0x08 printing, errors clear 0x08 and add 0x20 (feeder
 * empty), 0x40 (jam), 0x80 (cover open); ribbon out is 0x10 alone. */
guint8 cs_emulator_port_status(const cs_emulator_t *emulator);

/* The fault strikes once `after_bytes` more bytes have been received (0: now). */
void cs_emulator_inject(cs_emulator_t *emulator, cs_fault_t fault, guint64 after_bytes);
/* The operator fixed it (or plugged the cable back): ready again, a half-received card and
 * the parser state are dropped. */
void cs_emulator_clear(cs_emulator_t *emulator);
cs_fault_t cs_emulator_fault(const cs_emulator_t *emulator);

guint cs_emulator_n_cards(const cs_emulator_t *emulator);
const cs_emu_card_t *cs_emulator_card(const cs_emulator_t *emulator, guint index);
guint64 cs_emulator_bytes(const cs_emulator_t *emulator); /* received so far */
/* Protocol errors seen (char *), e.g. "Dbc;k: line 12 has N = 0x52". Empty for a good stream. */
const GPtrArray *cs_emulator_errors(const cs_emulator_t *emulator);

const char *cs_fault_name(cs_fault_t fault); /* "ribbon-out", … */
gboolean cs_fault_from_name(const char *name, cs_fault_t *fault);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_emulator_t, cs_emulator_free)

G_END_DECLS
