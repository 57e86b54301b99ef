/* Magicard emulator (facts: ../shared/docs/printer-protocols.md, part 2), written from the
 * facts sheet and not from our encoder, so that its decoding checks the driver.
 *
 * Byte-level state machine. A block is 05… 01, a header up to 1C, then for a job the planes
 * its SZB/SZG/SZR/SZK tokens announce, each followed by 1C 'B'|'G'|'R'|'K' 3A, then 03.
 * A header that starts with ',' is a job side; "REQ,…" (with or without that comma) is a
 * query answered at its 03; anything else is a simple command, accepted and ignored.
 *
 * Rio (KEE): rows of 6 bit-planes x 84 bytes (bit-plane 0 first), dot d = byte d/8, mask
 * 0x80 >> d%8, pixel j at dot 16 + j; row r, pixel j -> card x = 1015 - r, y = j.
 * Enduro (KGE2): rows of 24 little-endian 32-bit words per bit-plane, each byte's bits
 * reversed; dot a < 288 -> word a/16 + 6 bit (a%16)*2, else word (a-288)/16 bit
 * ((a-288)%16)*2 + 1; pixel j at dot 15 + j; row r, pixel j -> x = r, y = 641 - j.
 *
 * The card is fed at the end of the front side's header; DPXON keeps it open for the PAG2
 * block. A fault then, or striking while it is open, stops it; the rest of the job is parsed
 * (its sizes say how long it is) but not printed. */
#include <string.h>

#include "emulator-private.h"

#define W 1016             /* card x: rows */
#define H 642              /* card y: image pixels */
#define MAX_HEADER 16384
#define MAX_PLANE (64u << 20)

typedef enum { M_IDLE, M_HEADER, M_ETX, M_PLANE, M_TERM, M_SKIP_ETX } state_t;
typedef enum { B_NONE, B_QUERY, B_SIMPLE, B_JOB } block_t;

typedef struct {
  char letter;          /* B G R K */
  guint64 size;
  gboolean decode;      /* size right and a card to print it on */
} plane_t;

typedef struct {
  gboolean enduro;
  const char *head;     /* "KEE" or "KGE2" */
  guint stripe;         /* bytes of one bit-plane row: 84 or 96 */
  guint first_dot;      /* dot of image pixel 0 */
  gint16 dot[96 * 8];   /* stripe byte * 8 + bit (mask 0x80 >> bit) -> head dot, -1 none */
  state_t st;
  guint n05;
  gboolean garbage;
  GString *header;
  block_t block;
  char *query;
  plane_t planes[4];
  guint n_planes, plane;
  guint64 pos;
  guint tpos;
  gboolean term_bad;
  gboolean ink_reported;
  cs_emu_card_t *card;   /* fed at a front header, until its last block's 03 */
  gboolean awaiting_back;
  cs_emu_side_t *side;   /* where this block's planes go; NULL: not printed */
} magicard_t;

static gboolean card_open(const magicard_t *s) {
  return s->card && s->card->outcome == CS_EMU_OPEN;
}

static void stop_card(cs_emulator_t *e, magicard_t *s, cs_emu_outcome_t outcome) {
  if (card_open(s)) {
    s->card->outcome = outcome;
    cs_emu_set_printing(e, FALSE);
  }
  s->side = NULL;
}

/* ---- queries ---- */

static void reply_status(cs_emulator_t *e) {
  const char *msg = "Printerstatus OK.", *code = "00:00", *detail = "c0300";
  switch (cs_emulator_fault(e)) {
  case CS_FAULT_FEEDER_EMPTY:
    msg = "Card not fed.", code = "11:01", detail = "c0201";
    break;
  case CS_FAULT_RIBBON_OUT:
    msg = "Ribbon out.", code = "03:01", detail = "c0203";
    break;
  case CS_FAULT_COVER_OPEN:
    msg = "Cover open.", code = "06:01", detail = "c0206";
    break;
  case CS_FAULT_JAM:
    msg = "Card jam.", code = "12:01", detail = "c0212";
    break;
  case CS_FAULT_UNPLUG:
  case CS_FAULT_NONE:
    break;
  }
  g_autofree char *r = g_strdup_printf("\001STA%s\n%s\n(%s)\003", msg, code, detail);
  cs_emu_reply(e, r, strlen(r));
}

static void query(cs_emulator_t *e, const char *text) {
  g_auto(GStrv) f = g_strsplit(text, ",", -1);
  const char *sub = f[1] ? f[1] : "";
  if (g_str_equal(sub, "ERR") || g_str_equal(sub, "INF")) {
    reply_status(e);
    return;
  }
  const char *key = g_str_equal(sub, "STA") && f[2] ? f[2] : "";
  g_autofree char *value = NULL;
  if (g_str_equal(key, "TCQ"))
    value = g_strdup_printf("%u", cs_emu_fed_cards(e));
  else if (g_str_equal(key, "MSR") || g_str_equal(key, "USN"))
    value = g_strdup(cs_emulator_serial(e));
  else if (g_str_equal(key, "VRS"))
    value = g_strdup("EMU-1.0");
  else if (g_str_equal(key, "MDL"))
    value = g_strdup("0");
  else if (g_str_equal(key, "VID"))
    value = g_strdup_printf("%u", cs_emulator_vid(e));
  else if (g_str_equal(key, "PID"))
    value = g_strdup_printf("%u", cs_emulator_pid(e));
  else
    value = g_strdup("?");
  g_autofree char *r = g_strdup_printf("\001STA%.3s,%s,\003", key, value);
  cs_emu_reply(e, r, strlen(r));
}

/* ---- job headers ---- */

/* Fields split on ',', but PCT, NCT and REA take their next three fields along. */
static GPtrArray *split_tokens(const char *body) {
  g_auto(GStrv) f = g_strsplit(body, ",", -1);
  guint n = g_strv_length(f);
  GPtrArray *tokens = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < n; i++) {
    if ((g_str_has_prefix(f[i], "PCT") || g_str_has_prefix(f[i], "NCT") ||
         g_str_has_prefix(f[i], "REA")) && i + 3 < n) {
      g_ptr_array_add(tokens, g_strdup_printf("%s,%s,%s,%s", f[i], f[i + 1], f[i + 2],
                                              f[i + 3]));
      i += 3;
    } else {
      g_ptr_array_add(tokens, g_strdup(f[i]));
    }
  }
  return tokens;
}

typedef struct {
  guint l, b, r, t;
} rect_t;

static gboolean parse_rect(const char *text, rect_t *rc) {
  g_auto(GStrv) f = g_strsplit(text, ",", -1);
  guint64 v[4];
  if (g_strv_length(f) != 4)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    if (!g_ascii_string_to_unsigned(g_strstrip(f[i]), 10, 0, 65535, &v[i], NULL))
      return FALSE;
  *rc = (rect_t){(guint)v[0], (guint)v[1], (guint)v[2], (guint)v[3]};
  return rc->l <= rc->r && rc->b <= rc->t;
}

/* l, b, r, t inclusive dots, x from the left, y from the bottom edge */
static void fill_rect(guint8 *o, const rect_t *rc, guint8 v) {
  for (guint yb = rc->b; yb <= MIN(rc->t, H - 1); yb++)
    for (guint x = rc->l; x <= MIN(rc->r, W - 1); x++)
      o[(gsize)(H - 1 - yb) * W + x] = v;
}

static guint64 plane_size(const magicard_t *s, char letter) {
  if (letter == 'K')
    return s->enduro ? 97536 : 85344;
  return s->enduro ? 585216 : 512064;
}

static char panel_of(char letter) {
  return letter == 'B' ? 'y' : letter == 'G' ? 'm' : letter == 'R' ? 'c' : 'k';
}

static void job_header(cs_emulator_t *e, magicard_t *s, const char *body) {
  g_autoptr(GPtrArray) tokens = split_tokens(body);
  const char *head = NULL, *film = "";
  gboolean duplex = FALSE, back = FALSE, back_only = FALSE, rt2 = FALSE, ovr = FALSE;
  g_autoptr(GArray) pct = g_array_new(FALSE, FALSE, sizeof(rect_t));
  g_autoptr(GArray) nct = g_array_new(FALSE, FALSE, sizeof(rect_t));
  s->n_planes = 0;
  for (guint i = 0; i < tokens->len; i++) {
    const char *t = g_ptr_array_index(tokens, i);
    rect_t rc;
    if (t[0] == '\0') {
      cs_emu_error(e, i + 1 == tokens->len ? "header ends with ',' (the firmware faults on it)"
                                           : "empty header token");
    } else if (g_str_equal(t, "KEE") || g_str_equal(t, "KGE") || g_str_equal(t, "KGE2") ||
               g_str_equal(t, "KEE1") || g_str_equal(t, "KEE4")) {
      if (!g_str_equal(t, s->head))
        cs_emu_error(e, "print head %s, but this printer's head is %s", t, s->head);
      head = t;
    } else if (g_str_equal(t, "RT2")) {
      rt2 = TRUE;
    } else if (g_str_equal(t, "DPXON")) {
      duplex = TRUE;
    } else if (g_str_equal(t, "PAG2")) {
      back = TRUE;
    } else if (g_str_equal(t, "BSO")) {
      back_only = TRUE;
    } else if (g_str_equal(t, "OVRON")) {
      ovr = TRUE;
    } else if (g_str_equal(t, "OVROFF")) {
      ovr = FALSE;
    } else if (g_str_equal(t, "LC1") || g_str_equal(t, "LC3") || g_str_equal(t, "LC6") ||
               g_str_equal(t, "LC8")) {
      film = t;
    } else if (g_str_has_prefix(t, "WID") || g_str_has_prefix(t, "HGT")) {
      if (!g_str_equal(t, "WID1016") && !g_str_equal(t, "HGT642"))
        cs_emu_error(e, "%s: the card is WID1016,HGT642", t);
    } else if (g_str_has_prefix(t, "PCT") || g_str_has_prefix(t, "NCT")) {
      if (!parse_rect(t + 3, &rc))
        cs_emu_error(e, "bad rectangle “%s”", t);
      else
        g_array_append_val(t[0] == 'P' ? pct : nct, rc);
    } else if (g_str_has_prefix(t, "SZ") && t[2] && strchr("BGRK", t[2])) {
      guint64 n;
      gboolean dup = FALSE;
      for (guint p = 0; p < s->n_planes; p++)
        dup = dup || s->planes[p].letter == t[2];
      if (!g_ascii_string_to_unsigned(t + 3, 10, 0, MAX_PLANE, &n, NULL)) {
        cs_emu_error(e, "bad plane size “%s”", t);
      } else if (dup || s->n_planes == 4) {
        cs_emu_error(e, "%s: plane %c given twice", t, t[2]);
      } else {
        gboolean right = n == plane_size(s, t[2]);
        if (!right)
          cs_emu_error(e, "%s: a %s %s plane is %" G_GUINT64_FORMAT " bytes", t, s->head,
                       t[2] == 'K' ? "K" : "colour", plane_size(s, t[2]));
        s->planes[s->n_planes++] = (plane_t){t[2], n, right};
      }
    }
  }
  if (head == NULL)
    cs_emu_error(e, "no print head token (%s)", s->head);
  if (!s->enduro && s->n_planes && !rt2)
    cs_emu_error(e, "a Rio job with image data carries RT2");

  if (back) {
    if (!(s->card && s->awaiting_back)) {
      cs_emu_error(e, "a back side (PAG2) without a duplex front side");
      s->card = NULL;
      s->side = NULL;
    }
    s->awaiting_back = FALSE;
  } else {
    if (s->card && s->awaiting_back) {
      cs_emu_error(e, "a new card while the duplex card before waits for its back side");
      stop_card(e, s, CS_EMU_ABORTED);
    }
    /* the card is fed here */
    s->card = cs_emu_card_new(e);
    g_free(s->card->ribbon);
    s->card->ribbon = g_strdup(film);
    if (cs_emulator_fault(e) != CS_FAULT_NONE)
      s->card->outcome = CS_EMU_NOT_FED;
    else
      cs_emu_set_printing(e, TRUE);
    s->awaiting_back = duplex && !back_only;
  }
  if (s->card)
    for (guint i = 0; i < tokens->len; i++)
      if (((char *)g_ptr_array_index(tokens, i))[0])
        g_ptr_array_add(s->card->commands, g_strdup(g_ptr_array_index(tokens, i)));

  s->side = card_open(s) ? &s->card->side[back || back_only] : NULL;
  s->ink_reported = FALSE;
  if (s->side == NULL)
    return;
  s->side->colour_bits = 6;
  for (guint p = 0; p < s->n_planes; p++) {
    gboolean fresh;
    guint8 *map = cs_emu_side_map(s->side, panel_of(s->planes[p].letter), W, H, &fresh);
    if (!fresh)
      memset(map, 0, (gsize)W * H);
  }
  if (ovr) {
    gboolean fresh;
    guint8 *o = cs_emu_side_map(s->side, 'o', W, H, &fresh);
    memset(o, 0, (gsize)W * H);
    if (pct->len == 0)
      memset(o, 1, (gsize)W * H);
    for (guint i = 0; i < pct->len; i++)
      fill_rect(o, &g_array_index(pct, rect_t, i), 1);
    for (guint i = 0; i < nct->len; i++)
      fill_rect(o, &g_array_index(nct, rect_t, i), 0);
  }
}

/* ---- planes ---- */

static void plane_bytes(cs_emulator_t *e, magicard_t *s, const guint8 *data, gsize len) {
  plane_t *pl = &s->planes[s->plane];
  if (!pl->decode || s->side == NULL)
    return;
  guint8 *map = pl->letter == 'B'   ? s->side->y
                : pl->letter == 'G' ? s->side->m
                : pl->letter == 'R' ? s->side->c
                                    : s->side->k;
  guint row_bytes = pl->letter == 'K' ? s->stripe : s->stripe * 6;
  for (gsize i = 0; i < len; i++) {
    if (data[i] == 0)
      continue;
    guint64 at = s->pos + i;
    guint row = (guint)(at / row_bytes), in_row = (guint)(at % row_bytes);
    guint bitplane = in_row / s->stripe, byte = in_row % s->stripe;
    for (guint k = 0; k < 8; k++) {
      if (!(data[i] & (0x80 >> k)))
        continue;
      int dot = s->dot[byte * 8 + k];
      int j = dot - (int)s->first_dot;
      if (dot < 0 || j < 0 || j >= H) {
        if (!s->ink_reported)
          cs_emu_error(e, "plane %c row %u: ink at head dot %d, outside the image", pl->letter,
                       row, dot);
        s->ink_reported = TRUE;
        continue;
      }
      guint x = s->enduro ? row : W - 1 - row, y = s->enduro ? H - 1 - (guint)j : (guint)j;
      guint8 *px = &map[(gsize)y * W + x];
      *px = pl->letter == 'K' ? 1 : *px | (1u << bitplane);
    }
  }
}

static void block_end(cs_emulator_t *e, magicard_t *s) {
  if (s->block == B_QUERY && s->query)
    query(e, s->query);
  if (s->block == B_JOB && s->card && !s->awaiting_back) {
    if (card_open(s)) {
      s->card->outcome = CS_EMU_PRINTED;
      cs_emu_set_printing(e, FALSE);
    }
    s->card = NULL;
  }
  g_clear_pointer(&s->query, g_free);
  s->block = B_NONE;
  s->side = NULL;
  s->st = M_IDLE;
  s->n05 = 0;
}

static void header_end(cs_emulator_t *e, magicard_t *s) {
  const char *text = s->header->str;
  gboolean comma = text[0] == ',';
  const char *body = comma ? text + 1 : text;
  if (g_str_has_prefix(body, "REQ,")) {
    s->block = B_QUERY;
    s->query = g_strdup(body);
  } else if (comma) {
    if (s->n05 == 0)
      cs_emu_error(e, "a job block without its 05 lead-in");
    s->block = B_JOB;
    job_header(e, s, body);
    if (s->n_planes) {
      s->plane = 0;
      s->pos = 0;
      s->st = s->planes[0].size ? M_PLANE : M_TERM;
      s->tpos = 0;
      s->term_bad = FALSE;
      return;
    }
  } else {
    s->block = B_SIMPLE;
  }
  s->st = M_ETX;
}

static void feed(cs_emulator_t *e, gpointer state, const guint8 *data, gsize len) {
  magicard_t *s = state;
  for (gsize i = 0; i < len;) {
    guint8 b = data[i];
    switch (s->st) {
    case M_PLANE: {
      gsize n = (gsize)MIN((guint64)(len - i), s->planes[s->plane].size - s->pos);
      plane_bytes(e, s, data + i, n);
      s->pos += n;
      i += n;
      if (s->pos == s->planes[s->plane].size) {
        s->st = M_TERM;
        s->tpos = 0;
        s->term_bad = FALSE;
      }
      continue;
    }
    case M_TERM: {
      const guint8 want[3] = {0x1C, (guint8)s->planes[s->plane].letter, 0x3A};
      s->term_bad = s->term_bad || b != want[s->tpos];
      i++;
      if (++s->tpos < 3)
        continue;
      if (s->term_bad)
        cs_emu_error(e, "plane %c not ended by 1C %02X 3A", want[1], want[1]);
      if (++s->plane < s->n_planes) {
        s->pos = 0;
        s->st = s->planes[s->plane].size ? M_PLANE : M_TERM;
        s->tpos = 0;
        s->term_bad = FALSE;
      } else {
        s->st = M_ETX;
      }
      continue;
    }
    case M_ETX:
      if (b == 0x03) {
        i++;
      } else {
        cs_emu_error(e, "block not ended by 03 (0x%02X)", b);
      }
      block_end(e, s);
      continue;
    case M_SKIP_ETX:
      if (b == 0x03) {
        s->st = M_IDLE;
        s->n05 = 0;
      }
      i++;
      continue;
    case M_HEADER:
      if (b == 0x1C) {
        header_end(e, s);
      } else if (b < 0x20 || s->header->len >= MAX_HEADER) {
        cs_emu_error(e, "header “%.40s”: %s", s->header->str,
                     b < 0x20 ? "control byte inside" : "too long");
        s->st = M_SKIP_ETX;
      } else {
        g_string_append_c(s->header, (char)b);
      }
      i++;
      continue;
    case M_IDLE:
      if (b == 0x05) {
        s->n05 = MIN(s->n05 + 1, 1000u);
      } else if (b == 0x01) {
        g_string_truncate(s->header, 0);
        s->st = M_HEADER;
        s->garbage = FALSE;
      } else if (b != 0x00) {
        if (!s->garbage)
          cs_emu_error(e, "byte 0x%02X outside a block", b);
        s->garbage = TRUE;
        s->n05 = 0;
      }
      i++;
      continue;
    }
  }
}

static void fault(cs_emulator_t *e, gpointer state, cs_fault_t f) {
  magicard_t *s = state;
  if (f != CS_FAULT_FEEDER_EMPTY)
    stop_card(e, s, CS_EMU_ABORTED);
}

static void reset(cs_emulator_t *e, gpointer state) {
  magicard_t *s = state;
  stop_card(e, s, CS_EMU_ABORTED);
  s->card = NULL;
  s->awaiting_back = FALSE;
  s->st = M_IDLE;
  s->n05 = 0;
  s->garbage = FALSE;
  s->block = B_NONE;
  g_clear_pointer(&s->query, g_free);
  g_string_truncate(s->header, 0);
}

static gpointer magicard_new(cs_emulator_t *e, gboolean enduro) {
  magicard_t *s = g_new0(magicard_t, 1);
  s->enduro = enduro;
  s->head = enduro ? "KGE2" : "KEE";
  s->stripe = enduro ? 96 : 84;
  s->first_dot = enduro ? 15 : 16;
  s->header = g_string_new(NULL);
  for (guint byte = 0; byte < s->stripe; byte++)
    for (guint k = 0; k < 8; k++) {
      int dot = byte * 8 + k;
      if (enduro) {
        /* byte q of a little-endian word, its bits reversed: mask 0x80 >> k is word bit
         * 8q + k; even bits of words 6…23 hold dots 0…287, odd bits dots 288…671 */
        guint w = byte / 4, wb = (byte % 4) * 8 + k;
        dot = wb % 2 ? 288 + (int)(w * 16 + wb / 2) : w >= 6 ? (int)((w - 6) * 16 + wb / 2) : -1;
      }
      s->dot[byte * 8 + k] = (gint16)dot;
    }
  return s;
}

static gpointer rio_new(cs_emulator_t *e) { return magicard_new(e, FALSE); }
static gpointer enduro_new(cs_emulator_t *e) { return magicard_new(e, TRUE); }

static void magicard_free(gpointer state) {
  magicard_t *s = state;
  g_string_free(s->header, TRUE);
  g_free(s->query);
  g_free(s);
}

const cs_emulator_class_t cs_emulator_magicard_rio = {
    "magicard-rio", 0x0C1F, 0x1800, "MFG:Magicard ;MDL:Rio 2e;CMD:MAGICARD;",
    rio_new, magicard_free, feed, fault, reset};

const cs_emulator_class_t cs_emulator_magicard_enduro = {
    "magicard-enduro", 0x0C1F, 0x4800, "MFG:Magicard ;MDL:Enduro;CMD:MAGICARD;",
    enduro_new, magicard_free, feed, fault, reset};
