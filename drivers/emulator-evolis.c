/* Evolis "Esc" emulator (facts: ../shared/docs/printer-protocols.md, part 1), written from
 * the facts sheet and not from our encoder, so that its decoding checks the driver.
 *
 * A byte-level state machine: any split of the stream gives the same result. Frames are
 * ESC name[;param…] CR (ESC may be left out right after a CR; NULs between frames skipped).
 * `Db;p;d;` and `Dbc;p;d;n;` (or `Dbc;p;d;line;n;`) switch to counted binary mode: Db carries
 * exactly 1016 lines of 648 px at the depth's bits, Dbc n bytes of compressed lines; both
 * end with CR. Line = x, pixel p = 647 - y, MSB first.
 *
 * Answers: read commands answer text + CR; after `Pem;4` every other command answers 06, or
 * 15 + a code (1 command, 2 parameter, R ribbon, F feeder, C cover, T jam). A payload's
 * answer comes after its CR. While a fault is active every command answers 15 + its code and
 * does nothing (a feeder running empty lets the card already fed finish). */
#include <string.h>

#include "emulator-private.h"

#define W 1016           /* lines: card x */
#define H 648            /* pixels per line: card y = 647 - p */
#define MAX_TEXT 1024    /* longest command frame we keep (Wt text, Dm data) */
#define MAX_PENDING 256  /* commands kept between two cards */
#define MAX_COUNT (64u << 20)

#define ESC 0x1B
#define CR 0x0D
#define ACK 0x06
#define NACK 0x15

typedef enum { ST_IDLE, ST_TEXT, ST_SKIP_TO_CR, ST_PAYLOAD, ST_EXPECT_CR } state_t;
typedef enum { PL_SKIP, PL_DB, PL_DBC_KO, PL_DBC_COLOUR } kind_t;

typedef struct {
  kind_t kind;
  char label[24];      /* "Db;k", "Dbc;y": for messages */
  guint bits;          /* 1, 5, 6 or 7 */
  guint bpl;           /* raw bytes per line */
  guint64 total, pos;
  guint8 *map;         /* NULL: parsed, not stored */
  gboolean fresh;      /* map all zero: zero bytes need no store */
  guint line, col;     /* Db / colour: pixel in line; Dbc K/O: byte in line */
  guint32 acc;
  guint nacc;
  guint remaining;     /* Dbc K/O: data bytes left in this line */
  gboolean want_count; /* Dbc colour: a flagged byte came, its counter is next */
  guint8 run_value;
  guint run_extra;
  gboolean broken;     /* a fatal error: the rest of the payload is ignored */
  char answer;         /* 0 ACK, else the NACK code */
} payload_t;

typedef struct {
  state_t st;
  gboolean after_cr, garbage;
  GString *text;
  payload_t pl;
  char skip_answer;
  gboolean ack;
  int pem_cur, pem_saved;
  char *ribbon;
  GPtrArray *pending;   /* commands before the next Ss */
  cs_emu_card_t *card;  /* from Ss to Se, whatever its outcome */
  guint side;
} evolis_t;

/* Names from the guide's tables and the real streams (1.6–1.13); others answer NACK '1'. */
static const char *const known[] = {
    "Pr", "Pc", "Pl", "Ps", "Pmi", "Pmk", "Ppk", "Prm", "Pro", "Px", "Py", "Pnl", "Pnw", "Pms",
    "Ppn", "Pcom", "Pem", "Pdt", "Ppws", "Psp", "Pwb", "Pwm", "Pwr", "Pwj", "Pwcs", "Psc",
    "Pkn", "Pmc", "Pmd", "Pmt", "Pmtc", "Pmbs", "Pml", "Pmts", "Poc", "Pos", "Ss", "Se", "Sr",
    "Sv", "Si", "Sib", "Sie", "Seb", "Ser", "Sic", "Sis", "Sc", "Scp", "Srs", "Scs", "Sdm",
    "Sdu", "St", "Stt", "Sa", "Scom", "Sk", "Sds", "Ssd", "Sp", "Smw", "Smr", "Mc", "Mf", "Mh",
    "Mr", "Ase", "Dm", "Wcb", "Wt", "Wl", "Wb"};

static char fault_code(cs_fault_t fault) {
  switch (fault) {
  case CS_FAULT_RIBBON_OUT:
    return 'R';
  case CS_FAULT_FEEDER_EMPTY:
    return 'F';
  case CS_FAULT_COVER_OPEN:
    return 'C';
  case CS_FAULT_JAM:
  case CS_FAULT_UNPLUG:
    return 'T';
  case CS_FAULT_NONE:
    break;
  }
  return 0;
}

static gboolean card_open(const evolis_t *s) {
  return s->card && s->card->outcome == CS_EMU_OPEN;
}

/* The code every command answers now, 0 when commands work. */
static char blocked(cs_emulator_t *e, const evolis_t *s) {
  cs_fault_t fault = cs_emulator_fault(e);
  if (fault == CS_FAULT_FEEDER_EMPTY && card_open(s))
    return 0; /* the fed card finishes; the next feed fails */
  return fault_code(fault);
}

/* code 0: ACK. Non-read commands answer only in ACK mode; reads always answer. */
static void answer(cs_emulator_t *e, const evolis_t *s, char code, gboolean read) {
  if (code == 0) {
    if (s->ack && !read) {
      guint8 b = ACK;
      cs_emu_reply(e, &b, 1);
    }
  } else if (s->ack || read) {
    guint8 b[2] = {NACK, (guint8)code};
    cs_emu_reply(e, b, 2);
  }
}

static void reply_text(cs_emulator_t *e, const char *text) {
  cs_emu_reply(e, text, strlen(text));
  cs_emu_reply(e, "\r", 1);
}

static void record(evolis_t *s, const char *command) {
  if (s->card) {
    g_ptr_array_add(s->card->commands, g_strdup(command));
    return;
  }
  if (s->pending->len >= MAX_PENDING)
    g_ptr_array_remove_index(s->pending, 0);
  g_ptr_array_add(s->pending, g_strdup(command));
}

static void close_open_card(cs_emulator_t *e, evolis_t *s, cs_emu_outcome_t outcome) {
  if (card_open(s)) {
    s->card->outcome = outcome;
    cs_emu_set_printing(e, FALSE);
  }
  s->pl.map = NULL;
}

/* Ss: feed a card, or fail to. The commands sent since the last card belong to it. */
static void start_card(cs_emulator_t *e, evolis_t *s, char code) {
  if (s->card) {
    cs_emu_error(e, "Ss inside a sequence (no Se for the card before)");
    close_open_card(e, s, CS_EMU_ABORTED);
  }
  s->card = cs_emu_card_new(e);
  g_free(s->card->ribbon);
  s->card->ribbon = g_strdup(s->ribbon ? s->ribbon : "");
  for (guint i = 0; i < s->pending->len; i++)
    g_ptr_array_add(s->card->commands, g_strdup(g_ptr_array_index(s->pending, i)));
  g_ptr_array_set_size(s->pending, 0);
  s->side = 0;
  if (code)
    s->card->outcome = CS_EMU_NOT_FED;
  else
    cs_emu_set_printing(e, TRUE);
}

static guint ribbon_left(cs_emulator_t *e) {
  guint fed = cs_emu_fed_cards(e);
  return fed < 250 ? 250 - fed : 0;
}

/* The text a read command answers, NULL when we do not know it. */
static char *read_answer(cs_emulator_t *e, evolis_t *s, char **f) {
  const char *name = f[0], *p = f[1] ? f[1] : "";
  if (g_str_equal(name, "Rtp"))
    return g_strdup("Primacy Duplex");
  if (g_str_equal(name, "Rsn"))
    return g_strdup(cs_emulator_serial(e));
  if (g_str_equal(name, "Rfv"))
    return g_strdup("EMU-1.0");
  if (g_str_equal(name, "Rr"))
    return g_strdup(s->ribbon ? s->ribbon : "");
  if (g_str_equal(name, "Rcr"))
    return g_strdup("OK");
  if (g_str_equal(name, "Rem"))
    return g_strdup_printf("%d;%d", s->pem_cur, s->pem_saved);
  if (g_str_equal(name, "Rco")) {
    if (g_str_equal(p, "l"))
      return g_strdup_printf("%u", ribbon_left(e));
    if (g_str_equal(p, "c"))
      return g_strdup_printf("%u", cs_emu_fed_cards(e));
    return strchr("pamn", p[0]) && p[0] && !p[1] ? g_strdup("0") : NULL;
  }
  if (g_str_equal(name, "Rlr"))
    return g_str_equal(p, "p") ? g_strdup("NO CARD") : g_str_equal(p, "r") ? g_strdup("OK")
                                                                           : NULL;
  if (g_str_equal(name, "Sk"))
    return g_str_equal(p, "f") || g_str_equal(p, "w") ? g_strdup("0")
           : g_str_equal(p, "s")                      ? g_strdup("OK")
                                                      : NULL;
  if (g_str_equal(name, "Rc") || g_str_equal(name, "Rl") || g_str_equal(name, "Rs"))
    return g_strdup("10");
  if (g_str_equal(name, "Rpn") || g_str_equal(name, "Rrm") || g_str_equal(name, "Rck"))
    return g_strdup("0");
  if (g_str_equal(name, "Rmi"))
    return g_strdup("F");
  if (g_str_equal(name, "Rkn"))
    return g_strdup("000000000");
  return NULL;
}

static gboolean is_known(const char *name) {
  for (guint i = 0; i < G_N_ELEMENTS(known); i++)
    if (g_str_equal(name, known[i]))
      return TRUE;
  return FALSE;
}

/* A whole frame without a payload arrived. */
static void command(cs_emulator_t *e, evolis_t *s, const char *text) {
  if (text[0] == '\0' || text[0] == ';') {
    cs_emu_error(e, "empty command “%s”", text);
    answer(e, s, blocked(e, s) ? blocked(e, s) : '1', FALSE);
    return;
  }
  g_auto(GStrv) f = g_strsplit(text, ";", -1);
  const char *name = f[0];
  gboolean read = name[0] == 'R' || g_str_equal(name, "Sk");
  char code = blocked(e, s);
  if (g_str_equal(name, "Ss"))
    start_card(e, s, code);
  record(s, text);
  if (code) {
    if (g_str_equal(name, "Se"))
      s->card = NULL; /* the host ended its sequence; nothing ejects */
    answer(e, s, code, read);
    return;
  }
  if (g_str_equal(name, "Ss")) {
    answer(e, s, 0, FALSE);
  } else if (g_str_equal(name, "Se")) {
    if (s->card == NULL) {
      cs_emu_error(e, "Se without Ss");
      answer(e, s, '1', FALSE);
      return;
    }
    if (card_open(s)) {
      s->card->outcome = CS_EMU_PRINTED;
      cs_emu_set_printing(e, FALSE);
    }
    s->card = NULL;
    answer(e, s, 0, FALSE);
  } else if (g_str_equal(name, "Sr") || g_str_equal(name, "Sv")) {
    s->side = name[1] == 'v';
    answer(e, s, 0, FALSE);
  } else if (g_str_equal(name, "Pr")) {
    if (f[1] == NULL || f[1][0] == '\0') {
      cs_emu_error(e, "Pr without a ribbon");
      answer(e, s, '2', FALSE);
      return;
    }
    g_free(s->ribbon);
    s->ribbon = g_strdup(f[1]);
    if (card_open(s)) {
      g_free(s->card->ribbon);
      s->card->ribbon = g_strdup(f[1]);
    }
    answer(e, s, 0, FALSE);
  } else if (g_str_equal(name, "Pem")) {
    guint64 v = 0;
    gboolean ok = f[1] && g_ascii_string_to_unsigned(f[1], 10, 0, 18, &v, NULL) &&
                  (v <= 5 || v == 16 || v == 18) &&
                  (f[2] == NULL || (g_str_equal(f[2], "s") && f[3] == NULL));
    if (!ok) {
      cs_emu_error(e, "bad parameter in “%s”", text);
      answer(e, s, '2', FALSE);
      return;
    }
    gboolean was = s->ack;
    if (v == 4)
      s->ack = TRUE;
    else if (v != 5)
      s->ack = FALSE;
    s->pem_cur = (int)v;
    if (f[1] && f[2])
      s->pem_saved = (int)v;
    /* the answer follows the mode that was on before, or the one just switched on */
    gboolean now = s->ack;
    s->ack = was || now;
    answer(e, s, 0, FALSE);
    s->ack = now;
  } else if (g_str_equal(name, "Db") || g_str_equal(name, "Dbc")) {
    cs_emu_error(e, "%s without a payload", text);
    answer(e, s, '2', FALSE);
  } else if (read) {
    g_autofree char *t = read_answer(e, s, f);
    if (t)
      reply_text(e, t);
    else {
      cs_emu_error(e, "unknown read command “%s”", text);
      answer(e, s, '1', FALSE);
    }
  } else if (is_known(name)) {
    answer(e, s, 0, FALSE);
  } else {
    cs_emu_error(e, "unknown command “%s”", text);
    answer(e, s, '1', FALSE);
  }
}

/* ---- payloads ---- */

static void put(payload_t *p, guint line, guint px, guint8 v) {
  p->map[(gsize)(H - 1 - px) * W + line] = v;
}

static void fill_line(payload_t *p, guint line, guint from_px, guint8 v) {
  if (p->map == NULL || (p->fresh && v == 0))
    return;
  for (guint px = from_px; px < H; px++)
    put(p, line, px, v);
}

static void payload_error(cs_emulator_t *e, payload_t *p, gboolean fatal, const char *format,
                          ...) G_GNUC_PRINTF(4, 5);
static void payload_error(cs_emulator_t *e, payload_t *p, gboolean fatal, const char *format,
                          ...) {
  va_list args;
  va_start(args, format);
  g_autofree char *msg = g_strdup_vprintf(format, args);
  va_end(args);
  cs_emu_error(e, "%s: %s", p->label, msg);
  if (p->answer == 0)
    p->answer = '2';
  p->broken = p->broken || fatal;
}

static void db_bytes(payload_t *p, const guint8 *data, gsize len) {
  for (gsize i = 0; i < len; i++) {
    guint8 b = data[i];
    if (p->bits == 1) {
      if (p->map && (b || !p->fresh))
        for (guint k = 0; k < 8; k++)
          put(p, p->line, p->col * 8 + k, (b >> (7 - k)) & 1);
      p->col++;
    } else {
      p->acc = (p->acc << 8) | b;
      p->nacc += 8;
      while (p->nacc >= p->bits) {
        p->nacc -= p->bits;
        guint8 v = (p->acc >> p->nacc) & ((1u << p->bits) - 1);
        if (p->map && (v || !p->fresh))
          put(p, p->line, p->col, v);
        p->col++;
      }
      p->acc &= (1u << p->nacc) - 1;
    }
    /* col counts bytes (1 bit) or pixels (colour): a line is 81 bytes or 648 pixels */
    if ((p->bits == 1 && p->col == H / 8) || (p->bits > 1 && p->col == H)) {
      p->col = 0;
      p->line++;
      p->acc = 0;
      p->nacc = 0;
    }
  }
}

static void dbc_ko_bytes(cs_emulator_t *e, payload_t *p, const guint8 *data, gsize len) {
  for (gsize i = 0; i < len && !p->broken; i++) {
    guint8 b = data[i];
    if (p->remaining) {
      if (p->map && (b || !p->fresh))
        for (guint k = 0; k < 8; k++)
          put(p, p->line, p->col * 8 + k, (b >> (7 - k)) & 1);
      p->col++;
      if (--p->remaining == 0)
        p->line++;
    } else if (p->line >= W) {
      payload_error(e, p, TRUE, "its 1016 lines end at byte %" G_GUINT64_FORMAT " of the %"
                    G_GUINT64_FORMAT " declared", p->pos + i, p->total);
    } else if (b == 0x00 || b == 0xFF) {
      fill_line(p, p->line, 0, b & 1);
      p->line++;
    } else if (b <= H / 8) {
      fill_line(p, p->line, b * 8, 0); /* bytes N…80 are zero */
      p->remaining = b;
      p->col = 0;
    } else {
      payload_error(e, p, TRUE, "line %u has N = 0x%02X", p->line, b);
    }
  }
}

static void colour_pixel(cs_emulator_t *e, payload_t *p, guint8 v, guint count) {
  for (guint n = 0; n < count && !p->broken; n++) {
    if (p->line >= W) {
      payload_error(e, p, TRUE, "more than 1016 lines of pixels");
      return;
    }
    if (p->map && (v || !p->fresh))
      put(p, p->line, p->col, v);
    if (++p->col == H) {
      p->col = 0;
      p->line++;
    }
  }
}

/* The guide's per-pixel coding (⚠ partly unclear there): bit 7 clear = one pixel; set = a
 * value and a counter in the next byte (the spare high bits add 256 each); counter 0 blanks
 * the rest of the line. A run may go on into the next line. */
static void dbc_colour_bytes(cs_emulator_t *e, payload_t *p, const guint8 *data, gsize len) {
  guint8 max = (1u << p->bits) - 1;
  for (gsize i = 0; i < len && !p->broken; i++) {
    guint8 b = data[i];
    if (p->want_count) {
      p->want_count = FALSE;
      guint count = b + p->run_extra;
      if (count == 0) {
        if (p->line >= W) {
          payload_error(e, p, TRUE, "more than 1016 lines of pixels");
          return;
        }
        fill_line(p, p->line, p->col, 0);
        p->col = 0;
        p->line++;
      } else {
        colour_pixel(e, p, p->run_value, count);
      }
    } else if (b & 0x80) {
      p->run_value = b & max;
      p->run_extra = 0;
      for (guint bit = p->bits; bit < 7; bit++)
        p->run_extra += (b >> bit) & 1 ? 256 : 0;
      p->want_count = TRUE;
    } else if (b > max) {
      payload_error(e, p, TRUE, "value %u is over %u bits", b, p->bits);
    } else {
      colour_pixel(e, p, b, 1);
    }
  }
}

static void payload_end(cs_emulator_t *e, payload_t *p) {
  if (p->broken)
    return;
  if (p->kind == PL_DBC_KO) {
    if (p->remaining)
      payload_error(e, p, FALSE, "the payload ends in the middle of line %u", p->line);
    else if (p->line != W)
      payload_error(e, p, FALSE, "%u lines, not 1016", p->line);
  } else if (p->kind == PL_DBC_COLOUR) {
    if (p->want_count)
      payload_error(e, p, FALSE, "the payload ends inside a run");
    else if (p->line != W)
      payload_error(e, p, FALSE, "%u lines and %u pixels, not 1016 lines", p->line, p->col);
  }
}

/* "Db;k;2;" or "Dbc;k;2;42832;" (params as split from the text): start counted binary mode. */
static void start_payload(cs_emulator_t *e, evolis_t *s, gboolean compressed, char **f,
                          const char *count) {
  g_autofree char *header = g_strndup(s->text->str, s->text->len - 1); /* without its ';' */
  record(s, header);
  payload_t *p = &s->pl;
  memset(p, 0, sizeof *p);
  const char *panel = f[1], *depth = f[2];
  g_snprintf(p->label, sizeof p->label, "%s;%.8s", compressed ? "Dbc" : "Db", panel);
  p->bits = g_str_equal(depth, "2")    ? 1
            : g_str_equal(depth, "32")  ? 5
            : g_str_equal(depth, "64")  ? 6
            : g_str_equal(depth, "128") ? 7
                                        : 0;
  guint64 n = 0;
  if (compressed && !g_ascii_string_to_unsigned(count, 10, 0, MAX_COUNT, &n, NULL)) {
    cs_emu_error(e, "%s: bad byte count “%s”", p->label, count);
    s->skip_answer = '2';
    s->st = ST_SKIP_TO_CR;
    return;
  }
  if (!compressed && p->bits == 0) {
    cs_emu_error(e, "%s: bad depth “%s”", p->label, depth);
    s->skip_answer = '2';
    s->st = ST_SKIP_TO_CR;
    return;
  }
  p->bpl = H / 8 * p->bits;
  p->total = compressed ? n : (guint64)W * p->bpl;
  gboolean mono = panel[0] && !panel[1] && strchr("ko", panel[0]);
  gboolean colour = panel[0] && !panel[1] && strchr("ymc", panel[0]);
  if (p->bits == 0 || (!mono && !colour) || mono != (p->bits == 1)) {
    cs_emu_error(e, "%s: depth “%s” does not suit panel “%s”", p->label, depth, panel);
    p->kind = PL_SKIP;
    p->answer = '2';
  } else {
    p->kind = !compressed ? PL_DB : mono ? PL_DBC_KO : PL_DBC_COLOUR;
    char code = blocked(e, s);
    if (code) {
      p->answer = code;
    } else if (s->card == NULL) {
      cs_emu_error(e, "%s outside a sequence (no Ss)", p->label);
      p->answer = '1';
    } else if (card_open(s)) {
      cs_emu_side_t *side = &s->card->side[s->side];
      p->map = cs_emu_side_map(side, panel[0], W, H, &p->fresh);
      if (colour) {
        if (side->colour_bits && side->colour_bits != p->bits)
          cs_emu_error(e, "%s: %u bits after %u on the same side", p->label, p->bits,
                       side->colour_bits);
        side->colour_bits = p->bits;
      }
    }
  }
  s->st = ST_PAYLOAD;
  if (p->total == 0) {
    payload_end(e, p);
    s->st = ST_EXPECT_CR;
  }
}

/* After a ';' in a frame: is this the start of a binary payload? */
static void check_payload(cs_emulator_t *e, evolis_t *s) {
  const char *t = s->text->str;
  gboolean db = g_str_has_prefix(t, "Db;"), dbc = g_str_has_prefix(t, "Dbc;");
  if (!db && !dbc)
    return;
  guint semis = 0;
  for (const char *c = t; *c; c++)
    semis += *c == ';';
  if ((db && semis < 3) || (dbc && semis < 4))
    return;
  g_auto(GStrv) f = g_strsplit(t, ";", -1);
  if (db) {
    start_payload(e, s, FALSE, f, NULL);
  } else if (semis == 4) {
    /* a third number under 1016 cannot count 1016 lines: it is the 4-parameter form's line */
    guint64 v;
    if (!g_ascii_string_to_unsigned(f[3], 10, 0, W - 1, &v, NULL))
      start_payload(e, s, TRUE, f, f[3]);
  } else {
    start_payload(e, s, TRUE, f, f[4]);
  }
}

static gsize feed_payload(cs_emulator_t *e, evolis_t *s, const guint8 *data, gsize len) {
  payload_t *p = &s->pl;
  gsize n = (gsize)MIN((guint64)len, p->total - p->pos);
  switch (p->kind) {
  case PL_DB:
    db_bytes(p, data, n);
    break;
  case PL_DBC_KO:
    dbc_ko_bytes(e, p, data, n);
    break;
  case PL_DBC_COLOUR:
    dbc_colour_bytes(e, p, data, n);
    break;
  case PL_SKIP:
    break;
  }
  p->pos += n;
  if (p->pos == p->total) {
    payload_end(e, p);
    s->st = ST_EXPECT_CR;
  }
  return n;
}

static void feed(cs_emulator_t *e, gpointer state, const guint8 *data, gsize len) {
  evolis_t *s = state;
  for (gsize i = 0; i < len;) {
    guint8 b = data[i];
    switch (s->st) {
    case ST_PAYLOAD:
      i += feed_payload(e, s, data + i, len - i);
      continue;
    case ST_EXPECT_CR: {
      char code = blocked(e, s);
      s->st = ST_IDLE;
      if (b == CR) {
        answer(e, s, code ? code : s->pl.answer, FALSE);
        s->after_cr = TRUE;
        i++;
      } else {
        cs_emu_error(e, "%s: payload not followed by CR (0x%02X)", s->pl.label, b);
        answer(e, s, code ? code : '2', FALSE);
        s->after_cr = FALSE; /* this byte starts what comes next */
      }
      s->pl.map = NULL;
      continue;
    }
    case ST_SKIP_TO_CR:
      if (b == CR) {
        char code = blocked(e, s);
        answer(e, s, code ? code : s->skip_answer, FALSE);
        s->st = ST_IDLE;
        s->after_cr = TRUE;
      }
      i++;
      continue;
    case ST_TEXT:
      if (b == CR) {
        s->st = ST_IDLE;
        s->after_cr = TRUE;
        command(e, s, s->text->str);
      } else if (b == ESC) {
        cs_emu_error(e, "command “%.40s” not ended by CR", s->text->str);
        answer(e, s, '1', FALSE);
        g_string_truncate(s->text, 0);
      } else if (b < 0x20 || s->text->len >= MAX_TEXT) {
        cs_emu_error(e, "command “%.40s”: %s", s->text->str,
                     b < 0x20 ? "control byte inside" : "too long");
        s->skip_answer = '1';
        s->st = ST_SKIP_TO_CR;
      } else {
        g_string_append_c(s->text, (char)b);
        if (b == ';')
          check_payload(e, s);
      }
      i++;
      continue;
    case ST_IDLE:
      if (b == ESC || (s->after_cr && g_ascii_isalpha(b))) {
        g_string_truncate(s->text, 0);
        if (b != ESC)
          g_string_append_c(s->text, (char)b);
        s->st = ST_TEXT;
        s->garbage = FALSE;
      } else if (b == CR) {
        s->after_cr = TRUE;
      } else if (b != 0x00) {
        if (!s->garbage)
          cs_emu_error(e, "byte 0x%02X outside a command", b);
        s->garbage = TRUE;
        s->after_cr = FALSE;
      }
      i++;
      continue;
    }
  }
}

static void fault(cs_emulator_t *e, gpointer state, cs_fault_t f) {
  evolis_t *s = state;
  if (f != CS_FAULT_FEEDER_EMPTY)
    close_open_card(e, s, CS_EMU_ABORTED);
}

static void reset(cs_emulator_t *e, gpointer state) {
  evolis_t *s = state;
  close_open_card(e, s, CS_EMU_ABORTED);
  s->card = NULL;
  s->st = ST_IDLE;
  s->after_cr = FALSE;
  s->garbage = FALSE;
  s->side = 0;
  g_string_truncate(s->text, 0);
  memset(&s->pl, 0, sizeof s->pl);
  g_ptr_array_set_size(s->pending, 0);
}

static gpointer evolis_new(cs_emulator_t *e) {
  evolis_t *s = g_new0(evolis_t, 1);
  s->text = g_string_new(NULL);
  s->pending = g_ptr_array_new_with_free_func(g_free);
  return s;
}

static void evolis_free(gpointer state) {
  evolis_t *s = state;
  g_string_free(s->text, TRUE);
  g_ptr_array_unref(s->pending);
  g_free(s->ribbon);
  g_free(s);
}

/* ⚠ no Evolis USB IDs in the sources: 0F49/0001 is a stand-in */
const cs_emulator_class_t cs_emulator_evolis = {
    "evolis", 0x0F49, 0x0001, "MFG:Evolis;MDL:Primacy Duplex;CMD:ESC;CLS:PRINTER;",
    evolis_new, evolis_free, feed, fault, reset};
