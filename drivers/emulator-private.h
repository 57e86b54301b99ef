/* Private to the emulators: what one protocol's emulator provides to emulator.c, and the
 * helpers emulator.c gives it. */
#pragma once

#include "emulator.h"

typedef struct {
  const char *model;        /* "evolis", "magicard-rio", "magicard-enduro" */
  guint16 vid, pid;
  const char *device_id;    /* IEEE 1284 ID without length bytes; SN is appended */
  gpointer (*new)(cs_emulator_t *emulator);
  void (*free)(gpointer state);
  /* bytes from the host, in order; may be called with any split of the stream */
  void (*feed)(cs_emulator_t *emulator, gpointer state, const guint8 *data, gsize len);
  /* a fault just struck (cs_emulator_fault() already returns it): abort a fed card */
  void (*fault)(cs_emulator_t *emulator, gpointer state, cs_fault_t fault);
  /* cs_emulator_clear(): drop the parser state and any half-received card */
  void (*reset)(cs_emulator_t *emulator, gpointer state);
} cs_emulator_class_t;

extern const cs_emulator_class_t cs_emulator_evolis, cs_emulator_magicard_rio,
    cs_emulator_magicard_enduro;

/* Queue reply bytes for the host to read. */
void cs_emu_reply(cs_emulator_t *emulator, const void *data, gsize len);
/* Record a protocol error (printf format). */
void cs_emu_error(cs_emulator_t *emulator, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* A new card, CS_EMU_OPEN, appended to the card list; the emulator owns it. */
cs_emu_card_t *cs_emu_card_new(cs_emulator_t *emulator);
/* Allocates a side's maps (y/m/c only if colour, k/o as asked), zeroed. */
void cs_emu_side_init(cs_emu_side_t *side, guint width, guint height, guint colour_bits,
                      gboolean colour, gboolean k, gboolean o);
/* The printer is busy printing while a card is open: port status 0x08. */
void cs_emu_set_printing(cs_emulator_t *emulator, gboolean printing);

/* A side's map for one panel ('y', 'm', 'c', 'k', 'o'), allocated zeroed on first use; sets
 * the side present with the given size. *fresh (may be NULL) tells whether it was just
 * allocated (all zero, so a decoder may skip zero bytes). */
guint8 *cs_emu_side_map(cs_emu_side_t *side, char panel, guint width, guint height,
                        gboolean *fresh);
/* The printer fed a card: the fed-card counter (Evolis Rco, Magicard TCQ). */
guint cs_emu_fed_cards(const cs_emulator_t *emulator);
/* Only the newest cards keep their maps, so a long-running emulator:// printer stays small:
 * older cards keep outcome, ribbon and commands, their maps are freed (NULL). */
#define CS_EMU_KEEP_MAPS 32
/* At most this many errors are kept (a last one says more were dropped). */
#define CS_EMU_MAX_ERRORS 1000
