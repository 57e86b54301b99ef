/* The printer emulators (drivers/emulator*.c) on streams built here by hand from the facts
 * sheet (../shared/docs/printer-protocols.md, part 4), never with our encoders: so when the
 * driver tests pass through the emulators, both sides agree with the facts, not only with
 * each other. */
#include <string.h>

#include "emulator.h"
#include "error.h"

/* ---- stream building ---- */

#define EW 1016
#define EH 648
#define E_LINE 81
#define E_PANEL (EW * E_LINE)
#define MW 1016
#define MH 642

static void put(GByteArray *a, const void *data, gsize len) { g_byte_array_append(a, data, len); }
static void put_byte(GByteArray *a, guint8 b, gsize n) {
  for (gsize i = 0; i < n; i++)
    g_byte_array_append(a, &b, 1);
}
static void put_str(GByteArray *a, const char *s) { put(a, s, strlen(s)); }

/* ESC text CR */
static void frame(GByteArray *a, const char *text) {
  put_byte(a, 0x1B, 1);
  put_str(a, text);
  put_byte(a, 0x0D, 1);
}

/* ESC head payload CR; head ends with its ';' */
static void frame_payload(GByteArray *a, const char *head, const guint8 *payload, gsize len) {
  put_byte(a, 0x1B, 1);
  put_str(a, head);
  put(a, payload, len);
  put_byte(a, 0x0D, 1);
}

/* E1: K only, one side, uncompressed, with DPV's 64 NULs */
static GByteArray *e1_stream(const guint8 *k_payload) {
  GByteArray *a = g_byte_array_new();
  frame(a, "Pr;k");
  frame(a, "Pmi;F;s");
  frame(a, "Pc;k;=;10");
  frame(a, "Ss");
  frame(a, "Sr");
  frame_payload(a, "Db;k;2;", k_payload, E_PANEL);
  frame(a, "Se");
  put_byte(a, 0x00, 64);
  return a;
}

/* A landscape design dot (x, y) in an uncompressed 1-bit Evolis panel: line x, p = 647 - y */
static void evo_dot(guint8 *payload, guint x, guint y) {
  guint p = EH - 1 - y;
  payload[x * E_LINE + p / 8] |= 0x80 >> (p % 8);
}

static cs_emulator_t *emu_new(const char *model) {
  g_autoptr(GError) error = NULL;
  cs_emulator_t *e = cs_emulator_new(model, &error);
  g_assert_no_error(error);
  g_assert_nonnull(e);
  return e;
}

static void write_ok(cs_emulator_t *e, const GByteArray *a) {
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_emulator_write(e, a->data, a->len, &error));
  g_assert_no_error(error);
}

static void write_str(cs_emulator_t *e, const char *s) {
  g_assert_true(cs_emulator_write(e, (const guint8 *)s, strlen(s), NULL));
}

/* Everything the emulator has to say, as a string (replies may hold NUL-free binary). */
static char *drain(cs_emulator_t *e) {
  GString *s = g_string_new(NULL);
  guint8 buf[7];
  gssize n;
  while ((n = cs_emulator_read(e, buf, sizeof buf)) > 0)
    g_string_append_len(s, (char *)buf, n);
  g_assert_cmpint(n, ==, 0);
  return g_string_free(s, FALSE);
}

static void assert_no_errors(cs_emulator_t *e) {
  const GPtrArray *errors = cs_emulator_errors(e);
  for (guint i = 0; i < errors->len; i++)
    g_test_message("error: %s", (char *)g_ptr_array_index(errors, i));
  g_assert_cmpuint(errors->len, ==, 0);
}

static gboolean has_error(cs_emulator_t *e, const char *part) {
  const GPtrArray *errors = cs_emulator_errors(e);
  for (guint i = 0; i < errors->len; i++)
    if (strstr(g_ptr_array_index(errors, i), part))
      return TRUE;
  return FALSE;
}

static guint count_ones(const guint8 *map, gsize n) {
  guint c = 0;
  for (gsize i = 0; i < n; i++)
    c += map[i] != 0;
  return c;
}

static guint8 at(const cs_emu_side_t *side, const guint8 *map, guint x, guint y) {
  g_assert_nonnull(map);
  g_assert_cmpuint(x, <, side->width);
  g_assert_cmpuint(y, <, side->height);
  return map[(gsize)y * side->width + x];
}

/* ---- common ---- */

static void test_models(void) {
  struct {
    const char *model, *id;
    guint16 vid, pid;
  } cases[] = {
      {"evolis", "MFG:Evolis;MDL:Primacy Duplex;CMD:ESC;CLS:PRINTER;SN:EMU0001;", 0x0F49, 1},
      {"magicard-rio", "MFG:Magicard ;MDL:Rio 2e;CMD:MAGICARD;SN:EMU0001;", 0x0C1F, 0x1800},
      {"magicard-enduro", "MFG:Magicard ;MDL:Enduro;CMD:MAGICARD;SN:EMU0001;", 0x0C1F, 0x4800},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(cs_emulator_t) e = emu_new(cases[i].model);
    g_assert_cmpstr(cs_emulator_model(e), ==, cases[i].model);
    g_assert_cmpstr(cs_emulator_serial(e), ==, "EMU0001");
    g_assert_cmpstr(cs_emulator_device_id(e), ==, cases[i].id);
    g_assert_cmpuint(cs_emulator_vid(e), ==, cases[i].vid);
    g_assert_cmpuint(cs_emulator_pid(e), ==, cases[i].pid);
    g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x18);
    g_assert_cmpint(cs_emulator_fault(e), ==, CS_FAULT_NONE);
    g_assert_cmpuint(cs_emulator_n_cards(e), ==, 0);
    g_assert_null(cs_emulator_card(e, 0));
    g_assert_cmpuint(cs_emulator_errors(e)->len, ==, 0);
  }
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_emulator_new("zebra", &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "magicard-enduro"));
  g_clear_error(&error);
  g_assert_null(cs_emulator_new("evolis?fault=fire", &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED);
  g_clear_error(&error);
  g_assert_null(cs_emulator_new("evolis?fault=jam&fault-after=x", &error));
  g_assert_nonnull(error);
  g_clear_error(&error);

  const char *names[] = {"ribbon-out", "feeder-empty", "cover-open", "jam", "unplug"};
  cs_fault_t faults[] = {CS_FAULT_RIBBON_OUT, CS_FAULT_FEEDER_EMPTY, CS_FAULT_COVER_OPEN,
                         CS_FAULT_JAM, CS_FAULT_UNPLUG};
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    cs_fault_t f;
    g_assert_true(cs_fault_from_name(names[i], &f));
    g_assert_cmpint(f, ==, faults[i]);
    g_assert_cmpstr(cs_fault_name(faults[i]), ==, names[i]);
  }
  cs_fault_t f;
  g_assert_false(cs_fault_from_name("smoke", &f));

  /* the emulator:// URI's query: a jam after exactly 1000 bytes */
  g_autoptr(cs_emulator_t) e = emu_new("evolis?fault=jam&fault-after=1000");
  g_autofree guint8 *zeros = g_malloc0(999);
  g_assert_true(cs_emulator_write(e, zeros, 999, NULL));
  g_assert_cmpint(cs_emulator_fault(e), ==, CS_FAULT_NONE);
  g_assert_true(cs_emulator_write(e, zeros, 1, NULL));
  g_assert_cmpint(cs_emulator_fault(e), ==, CS_FAULT_JAM);
  g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x50);
  cs_emulator_clear(e);
  g_assert_cmpint(cs_emulator_fault(e), ==, CS_FAULT_NONE);
  g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x18);
  g_autoptr(cs_emulator_t) now = emu_new("magicard-rio?fault=cover-open");
  g_assert_cmpint(cs_emulator_fault(now), ==, CS_FAULT_COVER_OPEN);
  g_assert_cmpuint(cs_emulator_port_status(now), ==, 0x90);
}

/* ---- Evolis ---- */

static void test_evolis_e1_blank(void) {
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  g_autoptr(GByteArray) s = e1_stream(payload);
  g_assert_cmpuint(s->len, ==, 82407);
  g_assert_cmpuint(s->data[34], ==, 0x1B);
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  write_ok(e, s);
  assert_no_errors(e);
  g_assert_cmpuint(cs_emulator_bytes(e), ==, 82407);
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 1);
  const cs_emu_card_t *c = cs_emulator_card(e, 0);
  g_assert_cmpint(c->outcome, ==, CS_EMU_PRINTED);
  g_assert_cmpstr(c->ribbon, ==, "k");
  const char *want[] = {"Pr;k", "Pmi;F;s", "Pc;k;=;10", "Ss", "Sr", "Db;k;2", "Se"};
  g_assert_cmpuint(c->commands->len, ==, G_N_ELEMENTS(want));
  for (guint i = 0; i < G_N_ELEMENTS(want); i++)
    g_assert_cmpstr(g_ptr_array_index(c->commands, i), ==, want[i]);
  const cs_emu_side_t *f = &c->side[0];
  g_assert_true(f->present);
  g_assert_cmpuint(f->width, ==, EW);
  g_assert_cmpuint(f->height, ==, EH);
  g_assert_nonnull(f->k);
  g_assert_null(f->y);
  g_assert_null(f->m);
  g_assert_null(f->c);
  g_assert_null(f->o);
  g_assert_cmpuint(count_ones(f->k, EW * EH), ==, 0);
  g_assert_false(c->side[1].present);
  g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x18);
  g_autofree char *r = drain(e);
  g_assert_cmpstr(r, ==, ""); /* not in ACK mode: nothing to say */
}

static void test_evolis_e1_dots(void) {
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  payload[80] = 0x01;    /* top-left (0, 0) */
  payload[0] = 0x80;     /* bottom-left (0, 647) */
  payload[82295] = 0x01; /* top-right (1015, 0) */
  g_autoptr(GByteArray) s = e1_stream(payload);
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  write_ok(e, s);
  assert_no_errors(e);
  const cs_emu_side_t *f = &cs_emulator_card(e, 0)->side[0];
  g_assert_cmpuint(at(f, f->k, 0, 0), ==, 1);
  g_assert_cmpuint(at(f, f->k, 0, 647), ==, 1);
  g_assert_cmpuint(at(f, f->k, 1015, 0), ==, 1);
  g_assert_cmpuint(count_ones(f->k, EW * EH), ==, 3);
}

/* E2: K on both sides */
static void test_evolis_duplex(void) {
  g_autofree guint8 *front = g_malloc0(E_PANEL), *back = g_malloc0(E_PANEL);
  evo_dot(front, 3, 4);
  evo_dot(back, 1000, 600);
  evo_dot(back, 0, 0);
  GByteArray *a = g_byte_array_new();
  frame(a, "Pr;k");
  frame(a, "Pmi;F;s");
  frame(a, "Pc;k;=;10");
  frame(a, "Ss");
  frame(a, "Sr");
  frame_payload(a, "Db;k;2;", front, E_PANEL);
  frame(a, "Sv");
  frame(a, "Pc;k;=;10");
  frame_payload(a, "Db;k;2;", back, E_PANEL);
  frame(a, "Se");
  put_byte(a, 0, 64);
  g_assert_cmpuint(a->len, ==, 164727);
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  write_ok(e, a);
  g_byte_array_unref(a);
  assert_no_errors(e);
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 1);
  const cs_emu_card_t *c = cs_emulator_card(e, 0);
  g_assert_cmpint(c->outcome, ==, CS_EMU_PRINTED);
  g_assert_true(c->side[0].present);
  g_assert_true(c->side[1].present);
  g_assert_cmpuint(at(&c->side[0], c->side[0].k, 3, 4), ==, 1);
  g_assert_cmpuint(count_ones(c->side[0].k, EW * EH), ==, 1);
  g_assert_cmpuint(at(&c->side[1], c->side[1].k, 1000, 600), ==, 1);
  g_assert_cmpuint(at(&c->side[1], c->side[1].k, 0, 0), ==, 1);
  g_assert_cmpuint(count_ones(c->side[1].k, EW * EH), ==, 2);
}

/* E3 / E4: the vendor driver's compressed K stream, with every E4 line code */
static GByteArray *dbc_payload(void) {
  GByteArray *p = g_byte_array_new();
  put_byte(p, 0x00, 1);                               /* line 0: white */
  put_byte(p, 0xFF, 1);                               /* line 1: black */
  put(p, "\x01\xA0", 2);                              /* line 2: A0, 80 x 00 */
  put(p, "\x03\x00\x00\x07", 4);                      /* line 3: 00 00 07, 78 x 00 */
  put_byte(p, 0x51, 1);                               /* line 4: 81 bytes */
  for (guint i = 0; i < E_LINE; i++)
    put_byte(p, (guint8)(i * 37 + 11), 1);
  for (guint line = 5; line < EW; line++)             /* E3's two kinds of line */
    if (line % 2) {
      put(p, "\x01\xA0", 2);
    } else {
      put_byte(p, 0x51, 1);
      for (guint i = 0; i < E_LINE; i++)
        put_byte(p, i == 80 ? 0x01 : 0x00, 1);
    }
  return p;
}

static void check_dbc_card(cs_emulator_t *e, guint index) {
  const cs_emu_card_t *c = cs_emulator_card(e, index);
  g_assert_cmpint(c->outcome, ==, CS_EMU_PRINTED);
  const cs_emu_side_t *f = &c->side[0];
  for (guint y = 0; y < EH; y++) {
    guint p = EH - 1 - y;
    g_assert_cmpuint(at(f, f->k, 0, y), ==, 0);
    g_assert_cmpuint(at(f, f->k, 1, y), ==, 1);
    g_assert_cmpuint(at(f, f->k, 2, y), ==, p == 0 || p == 2);
    g_assert_cmpuint(at(f, f->k, 3, y), ==, p >= 21 && p <= 23);
    guint8 byte = (guint8)((p / 8) * 37 + 11);
    g_assert_cmpuint(at(f, f->k, 4, y), ==, (byte >> (7 - p % 8)) & 1);
    for (guint x = 5; x < EW; x++)
      g_assert_cmpuint(at(f, f->k, x, y), ==, x % 2 ? (p == 0 || p == 2) : y == 0);
  }
}

static void test_evolis_dbc(void) {
  g_autoptr(GByteArray) p = dbc_payload();
  /* lines 5…1015: 506 coded 01 A0 and 505 coded 51 + 81 bytes, as in E3's mix */
  g_assert_cmpuint(p->len, ==, 1 + 1 + 2 + 4 + 82 + 506 * 2 + 505 * 82);
  g_autofree char *head = g_strdup_printf("Dbc;k;2;%u;", p->len);
  g_autofree char *head4 = g_strdup_printf("Dbc;k;2;0;%u;", p->len);
  GByteArray *a = g_byte_array_new();
  const char *pre[] = {"Pr;k", "Pmi;F;s", "Pc;k;=;10", "Pdt;DU", "Mr;s", "Ppws;1281761799",
                       "Ss", "Sr"};
  for (guint i = 0; i < G_N_ELEMENTS(pre); i++)
    frame(a, pre[i]);
  g_assert_cmpuint(a->len, ==, 65);
  frame_payload(a, head, p->data, p->len);
  put_byte(a, 0, 32);
  frame(a, "Se;1");
  put_byte(a, 0, 32);
  /* the same card with the 4-parameter header */
  frame(a, "Ss");
  frame_payload(a, head4, p->data, p->len);
  frame(a, "Se");
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  write_ok(e, a);
  g_byte_array_unref(a);
  assert_no_errors(e);
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 2);
  check_dbc_card(e, 0);
  check_dbc_card(e, 1);
  const cs_emu_card_t *c = cs_emulator_card(e, 0);
  g_autofree char *want = g_strndup(head, strlen(head) - 1);
  g_assert_cmpuint(c->commands->len, ==, 10);
  g_assert_cmpstr(g_ptr_array_index(c->commands, 8), ==, want);
  g_assert_cmpstr(g_ptr_array_index(c->commands, 9), ==, "Se;1");
}

/* Colour Dbc, the guide's per-pixel coding as we read it (⚠ unclear there): bit 7 clear = one
 * pixel; set = a value and a counter in the next byte, the spare high bits adding 256 each;
 * counter 0 blanks the (rest of the) line. */
static void test_evolis_dbc_colour(void) {
  GByteArray *y = g_byte_array_new(), *m = g_byte_array_new();
  put(y, "\x80\x00", 2);                         /* line 0: blank */
  for (guint x = 1; x < EW; x++) {
    put(y, "\x85\xC8", 2);                       /* 200 x 5 */
    for (guint i = 0; i < 48; i++)
      put_byte(y, (guint8)((x + i) % 128), 1);   /* 48 single pixels */
    put(y, "\x89\xFF\x89\x91", 4);               /* 255 + 145 x 9 */
  }
  for (guint x = 0; x < EW; x++) {
    put(m, "\xE0\x88", 2);                       /* 5 bits: 256 + 256 + 136 = 648 x 0 */
    if (x == 3) {                                /* …and a line that stops early */
      m->len -= 2;
      put(m, "\x1F\x80\x00", 3);
    }
  }
  GByteArray *a = g_byte_array_new();
  frame(a, "Ss");
  g_autofree char *hy = g_strdup_printf("Dbc;y;128;%u;", y->len);
  g_autofree char *hm = g_strdup_printf("Dbc;m;32;%u;", m->len);
  frame_payload(a, hy, y->data, y->len);
  frame_payload(a, hm, m->data, m->len);
  frame(a, "Se");
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  write_ok(e, a);
  g_byte_array_unref(a);
  g_byte_array_unref(y);
  g_byte_array_unref(m);
  const GPtrArray *errors = cs_emulator_errors(e);
  g_assert_cmpuint(errors->len, ==, 1); /* 5 and 7 bits on one side */
  const cs_emu_side_t *f = &cs_emulator_card(e, 0)->side[0];
  for (guint p = 0; p < EH; p++) {
    guint yy = EH - 1 - p;
    g_assert_cmpuint(at(f, f->y, 0, yy), ==, 0);
    for (guint x = 1; x < EW; x += 101)
      g_assert_cmpuint(at(f, f->y, x, yy), ==, p < 200 ? 5 : p < 248 ? (x + p - 200) % 128 : 9);
    g_assert_cmpuint(at(f, f->m, 3, yy), ==, p == 0 ? 31 : 0);
  }
  g_assert_cmpuint(count_ones(f->m, EW * EH), ==, 1);
}

/* Continuous MSB-first bit stream writer */
typedef struct {
  GByteArray *a;
  guint32 acc;
  guint n;
} bits_t;

static void bits_put(bits_t *b, guint value, guint width) {
  for (guint i = width; i-- > 0;) {
    b->acc = (b->acc << 1) | ((value >> i) & 1);
    if (++b->n == 8) {
      guint8 byte = (guint8)b->acc;
      g_byte_array_append(b->a, &byte, 1);
      b->acc = 0;
      b->n = 0;
    }
  }
}

static guint colour_value(char panel, guint x, guint y, guint bits) {
  return (x * 7 + y * 13 + (guint)panel * 5 + x * y) % (1u << bits);
}

static void test_evolis_colour(void) {
  const guint depth[] = {32, 64, 128}, bits[] = {5, 6, 7};
  for (guint d = 0; d < 3; d++) {
    GByteArray *a = g_byte_array_new();
    frame(a, "Pr;ymcko");
    frame(a, "Ss");
    frame(a, "Sr");
    const char panels[] = "ymc";
    for (guint pi = 0; pi < 3; pi++) {
      bits_t b = {g_byte_array_new(), 0, 0};
      for (guint x = 0; x < EW; x++)
        for (guint p = 0; p < EH; p++)
          bits_put(&b, colour_value(panels[pi], x, EH - 1 - p, bits[d]), bits[d]);
      g_assert_cmpuint(b.n, ==, 0);
      g_assert_cmpuint(b.a->len, ==, (gsize)EW * EH * bits[d] / 8);
      g_autofree char *head = g_strdup_printf("Db;%c;%u;", panels[pi], depth[d]);
      frame_payload(a, head, b.a->data, b.a->len);
      g_byte_array_unref(b.a);
    }
    g_autofree guint8 *k = g_malloc0(E_PANEL), *o = g_malloc(E_PANEL);
    evo_dot(k, 7, 9);
    memset(o, 0xFF, E_PANEL);
    frame_payload(a, "Db;k;2;", k, E_PANEL);
    frame_payload(a, "Db;o;2;", o, E_PANEL);
    frame(a, "Se");
    g_autoptr(cs_emulator_t) e = emu_new("evolis");
    write_ok(e, a);
    g_byte_array_unref(a);
    assert_no_errors(e);
    const cs_emu_card_t *c = cs_emulator_card(e, 0);
    g_assert_cmpint(c->outcome, ==, CS_EMU_PRINTED);
    g_assert_cmpstr(c->ribbon, ==, "ymcko");
    g_autofree char *cmd = g_strdup_printf("Db;y;%u", depth[d]);
    g_assert_cmpstr(g_ptr_array_index(c->commands, 3), ==, cmd);
    const cs_emu_side_t *f = &c->side[0];
    g_assert_cmpuint(f->colour_bits, ==, bits[d]);
    for (guint y = 0; y < EH; y++)
      for (guint x = 0; x < EW; x++) {
        gsize i = (gsize)y * EW + x;
        if (f->y[i] != colour_value('y', x, y, bits[d]) ||
            f->m[i] != colour_value('m', x, y, bits[d]) ||
            f->c[i] != colour_value('c', x, y, bits[d]))
          g_error("%u bits: wrong colour at (%u, %u)", bits[d], x, y);
      }
    g_assert_cmpuint(count_ones(f->o, EW * EH), ==, EW * EH);
    g_assert_cmpuint(at(f, f->k, 7, 9), ==, 1);
    g_assert_cmpuint(count_ones(f->k, EW * EH), ==, 1);
  }
}

static void test_evolis_ack(void) {
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  /* not in ACK mode: set commands answer nothing, reads answer text + CR */
  write_str(e, "\x1bPr;k\r\x1bRtp\r");
  g_autofree char *r0 = drain(e);
  g_assert_cmpstr(r0, ==, "Primacy Duplex\r");
  write_str(e, "\x1bPem;4\r");
  g_autofree char *r1 = drain(e);
  g_assert_cmpstr(r1, ==, "\x06");
  struct {
    const char *cmd, *reply;
  } cases[] = {
      {"Rtp", "Primacy Duplex\r"}, {"Rsn", "EMU0001\r"}, {"Rfv", "EMU-1.0\r"},
      {"Rr", "k\r"},               {"Rcr", "OK\r"},      {"Rco;l", "250\r"},
      {"Rlr;p", "NO CARD\r"},      {"Sk;f", "0\r"},      {"Rem", "4;0\r"},
      {"Pc;k;=;10", "\x06"},       {"Xyz", "\x15" "1"},  {"Rzz", "\x15" "1"},
      {"Pem;4;s", "\x06"},         {"Rem", "4;4\r"},     {"Pem;99", "\x15" "2"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GByteArray) a = g_byte_array_new();
    frame(a, cases[i].cmd);
    write_ok(e, a);
    g_autofree char *r = drain(e);
    g_assert_cmpstr(r, ==, cases[i].reply);
  }
  g_assert_true(has_error(e, "Xyz"));
  /* a whole E1 card: one answer per frame, the payload's after its CR */
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  g_autoptr(GByteArray) s = e1_stream(payload);
  write_ok(e, s);
  g_autofree char *r2 = drain(e);
  g_assert_cmpstr(r2, ==, "\x06\x06\x06\x06\x06\x06\x06");
  g_assert_cmpint(cs_emulator_card(e, 0)->outcome, ==, CS_EMU_PRINTED);
  write_str(e, "\x1bRco;l\r");
  g_autofree char *r3 = drain(e);
  g_assert_cmpstr(r3, ==, "249\r");
  /* the payload's answer only comes with its CR */
  g_autoptr(GByteArray) t = e1_stream(payload);
  gsize cr = 42 + E_PANEL;
  g_assert_true(cs_emulator_write(e, t->data, cr, NULL));
  g_autofree char *r4 = drain(e);
  g_assert_cmpstr(r4, ==, "\x06\x06\x06\x06\x06");
  g_assert_true(cs_emulator_write(e, t->data + cr, t->len - cr, NULL));
  g_autofree char *r5 = drain(e);
  g_assert_cmpstr(r5, ==, "\x06\x06");
  /* a command right after a CR needs no ESC */
  write_str(e, "\x1bPr;ko\rRr\r");
  g_autofree char *r6 = drain(e);
  g_assert_cmpstr(r6, ==, "\x06ko\r");
  /* reads answer even in a short read buffer, byte by byte */
  write_str(e, "\x1bRtp\r");
  guint8 one;
  g_assert_cmpint(cs_emulator_read(e, &one, 1), ==, 1);
  g_assert_cmpuint(one, ==, 'P');
  g_autofree char *rest = drain(e);
  g_assert_cmpstr(rest, ==, "rimacy Duplex\r");
}

static const cs_fault_t evolis_faults[] = {CS_FAULT_RIBBON_OUT, CS_FAULT_FEEDER_EMPTY,
                                           CS_FAULT_COVER_OPEN, CS_FAULT_JAM};
static const char evolis_codes[] = "RFCT";
static const guint8 port[] = {0x10, 0x30, 0x90, 0x50};

static void test_evolis_faults(void) {
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  evo_dot(payload, 5, 5);
  g_autoptr(GByteArray) s = e1_stream(payload);
  for (guint i = 0; i < G_N_ELEMENTS(evolis_faults); i++) {
    cs_fault_t f = evolis_faults[i];
    char code[3] = {0x15, evolis_codes[i], 0};
    g_autoptr(cs_emulator_t) e = emu_new("evolis");
    write_str(e, "\x1bPem;4\r");
    g_free(drain(e));

    /* active when the card would be fed: not fed, every frame answers NACK + code */
    cs_emulator_inject(e, f, 0);
    g_assert_cmpint(cs_emulator_fault(e), ==, f);
    g_assert_cmpuint(cs_emulator_port_status(e), ==, port[i]);
    write_ok(e, s);
    g_autofree char *r = drain(e);
    g_autofree char *want = g_strjoin(NULL, code, code, code, code, code, code, code, NULL);
    g_assert_cmpstr(r, ==, want);
    write_str(e, "\x1bRtp\r");
    g_autofree char *rr = drain(e);
    g_assert_cmpstr(rr, ==, code); /* reads too */
    g_assert_cmpuint(cs_emulator_n_cards(e), ==, 1);
    g_assert_cmpint(cs_emulator_card(e, 0)->outcome, ==, CS_EMU_NOT_FED);
    g_assert_false(cs_emulator_card(e, 0)->side[0].present);
    cs_emulator_clear(e);
    g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x18);
    write_ok(e, s);
    g_free(drain(e));
    g_assert_cmpint(cs_emulator_card(e, 1)->outcome, ==, CS_EMU_PRINTED);

    /* striking at the exact byte before Ss (offset 26): still not fed */
    cs_emulator_inject(e, f, 26);
    write_ok(e, s);
    g_autofree char *r2 = drain(e);
    g_autofree char *want2 = g_strjoin(NULL, "\x06\x06\x06", code, code, code, code, NULL);
    g_assert_cmpstr(r2, ==, want2);
    g_assert_cmpint(cs_emulator_card(e, 2)->outcome, ==, CS_EMU_NOT_FED);
    cs_emulator_clear(e);

    /* striking right after Ss (offset 30): fed, then aborted; a feeder running empty lets
     * the card finish and stops the next one */
    cs_emulator_inject(e, f, 30);
    write_ok(e, s);
    g_autofree char *r3 = drain(e);
    const cs_emu_card_t *c = cs_emulator_card(e, 3);
    if (f == CS_FAULT_FEEDER_EMPTY) {
      g_assert_cmpstr(r3, ==, "\x06\x06\x06\x06\x06\x06\x06");
      g_assert_cmpint(c->outcome, ==, CS_EMU_PRINTED);
      g_assert_cmpuint(at(&c->side[0], c->side[0].k, 5, 5), ==, 1);
      write_ok(e, s);
      g_free(drain(e));
      g_assert_cmpint(cs_emulator_card(e, 4)->outcome, ==, CS_EMU_NOT_FED);
    } else {
      g_autofree char *want3 = g_strjoin(NULL, "\x06\x06\x06\x06", code, code, code, NULL);
      g_assert_cmpstr(r3, ==, want3);
      g_assert_cmpint(c->outcome, ==, CS_EMU_ABORTED);
    }
    g_assert_cmpuint(cs_emulator_port_status(e), ==, port[i]);
    cs_emulator_clear(e);

    /* mid-payload, without ACK mode: aborted, the rest parsed and ignored */
    g_autoptr(cs_emulator_t) q = emu_new("evolis");
    cs_emulator_inject(q, f, 42 + 40000);
    write_ok(q, s);
    g_assert_cmpuint(cs_emulator_n_cards(q), ==, 1);
    g_assert_cmpint(cs_emulator_card(q, 0)->outcome, ==,
                    f == CS_FAULT_FEEDER_EMPTY ? CS_EMU_PRINTED : CS_EMU_ABORTED);
    g_autofree char *r4 = drain(q);
    g_assert_cmpstr(r4, ==, "");
    assert_no_errors(q);
    cs_emulator_clear(q);
    write_ok(q, s);
    g_assert_cmpint(cs_emulator_card(q, 1)->outcome, ==, CS_EMU_PRINTED);
  }
}

static void test_evolis_unplug(void) {
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  g_autoptr(GByteArray) s = e1_stream(payload);
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  cs_emulator_inject(e, CS_FAULT_UNPLUG, 1000);
  g_autoptr(GError) error = NULL;
  g_assert_false(cs_emulator_write(e, s->data, s->len, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "disconnected"));
  g_clear_error(&error);
  g_assert_cmpuint(cs_emulator_bytes(e), ==, 1000);
  g_assert_cmpint(cs_emulator_fault(e), ==, CS_FAULT_UNPLUG);
  g_assert_cmpint(cs_emulator_card(e, 0)->outcome, ==, CS_EMU_ABORTED);
  guint8 buf[4];
  g_assert_cmpint(cs_emulator_read(e, buf, sizeof buf), ==, -1);
  g_assert_false(cs_emulator_write(e, s->data, 1, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_clear_error(&error);
  g_assert_cmpuint(cs_emulator_bytes(e), ==, 1000);
  cs_emulator_clear(e);
  write_ok(e, s);
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 2);
  g_assert_cmpint(cs_emulator_card(e, 1)->outcome, ==, CS_EMU_PRINTED);
  assert_no_errors(e);

  /* unplugged before the feed: nothing arrives, no card */
  g_autoptr(cs_emulator_t) u = emu_new("evolis?fault=unplug");
  g_assert_false(cs_emulator_write(u, s->data, s->len, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_cmpuint(cs_emulator_n_cards(u), ==, 0);
  g_assert_cmpuint(cs_emulator_bytes(u), ==, 0);

  /* pulled right after the last byte of a write: that write arrived whole */
  g_autoptr(cs_emulator_t) w = emu_new("evolis");
  cs_emulator_inject(w, CS_FAULT_UNPLUG, s->len);
  write_ok(w, s);
  g_assert_cmpint(cs_emulator_fault(w), ==, CS_FAULT_UNPLUG);
  g_assert_cmpint(cs_emulator_card(w, 0)->outcome, ==, CS_EMU_PRINTED);
}

/* Any split of the stream, down to one byte a call, decodes the same. */
static void test_evolis_splits(void) {
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  for (guint i = 0; i < 500; i++)
    evo_dot(payload, g_test_rand_int_range(0, EW), g_test_rand_int_range(0, EH));
  g_autoptr(GByteArray) s = e1_stream(payload);
  g_autoptr(GByteArray) p = dbc_payload();
  g_autofree char *head = g_strdup_printf("Dbc;k;2;%u;", p->len);
  frame(s, "Pem;4");
  frame(s, "Ss");
  frame(s, "Sv");
  frame_payload(s, head, p->data, p->len);
  frame(s, "Rtp");
  frame(s, "Se");
  g_autoptr(cs_emulator_t) whole = emu_new("evolis");
  write_ok(whole, s);
  g_autofree char *want = drain(whole);
  assert_no_errors(whole);
  for (guint round = 0; round < 6; round++) {
    g_autoptr(cs_emulator_t) e = emu_new("evolis");
    GString *got = g_string_new(NULL);
    for (gsize off = 0; off < s->len;) {
      gsize n = round == 0 ? 1 : (gsize)g_test_rand_int_range(1, round < 3 ? 16 : 5000);
      n = MIN(n, s->len - off);
      g_assert_true(cs_emulator_write(e, s->data + off, n, NULL));
      off += n;
      g_autofree char *r = drain(e);
      g_string_append(got, r);
    }
    g_assert_cmpstr(got->str, ==, want);
    g_string_free(got, TRUE);
    assert_no_errors(e);
    g_assert_cmpuint(cs_emulator_n_cards(e), ==, 2);
    for (guint c = 0; c < 2; c++) {
      const cs_emu_card_t *a = cs_emulator_card(e, c), *b = cs_emulator_card(whole, c);
      g_assert_cmpint(a->outcome, ==, CS_EMU_PRINTED);
      g_assert_cmpuint(a->commands->len, ==, b->commands->len);
      const cs_emu_side_t *sa = &a->side[c], *sb = &b->side[c];
      g_assert_true(memcmp(sa->k, sb->k, EW * EH) == 0);
    }
    const cs_emu_side_t *f = &cs_emulator_card(e, 0)->side[0];
    for (guint x = 0; x < EW; x++)
      for (guint y = 0; y < EH; y++) {
        guint p8 = EH - 1 - y;
        guint8 bit = (payload[x * E_LINE + p8 / 8] >> (7 - p8 % 8)) & 1;
        if (f->k[(gsize)y * EW + x] != bit)
          g_error("split %u: dot (%u, %u)", round, x, y);
      }
  }
}

/* Malformed streams: recorded, answered NACK '2' in ACK mode, never a crash, and the next
 * good card still prints. */
static void malformed_case(GByteArray *body, const char *error_part, const char *nack) {
  g_autoptr(cs_emulator_t) e = emu_new("evolis");
  write_str(e, "\x1bPem;4\r");
  g_free(drain(e));
  write_ok(e, body);
  g_autofree char *r = drain(e);
  g_autofree char *escaped = g_strescape(r, NULL);
  g_test_message("replies %s", escaped);
  if (!has_error(e, error_part))
    assert_no_errors(e); /* lists them */
  g_assert_true(has_error(e, error_part));
  if (nack)
    g_assert_nonnull(strstr(r, nack));
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  g_autoptr(GByteArray) good = e1_stream(payload);
  write_ok(e, good);
  guint n = cs_emulator_n_cards(e);
  g_assert_cmpint(cs_emulator_card(e, n - 1)->outcome, ==, CS_EMU_PRINTED);
}

static GByteArray *dbc_card(const GByteArray *p, gsize declared) {
  GByteArray *a = g_byte_array_new();
  frame(a, "Ss");
  g_autofree char *head = g_strdup_printf("Dbc;k;2;%" G_GSIZE_FORMAT ";", declared);
  frame_payload(a, head, p->data, p->len);
  frame(a, "Se");
  return a;
}

static void test_evolis_malformed(void) {
  g_autoptr(GByteArray) good = dbc_payload();
  /* line 12 with N = 0x52 */
  g_autoptr(GByteArray) bad_n = g_byte_array_new();
  put_byte(bad_n, 0x00, 12);
  put_byte(bad_n, 0x52, 1);
  put_byte(bad_n, 0x00, 82);
  put_byte(bad_n, 0x00, EW - 13);
  g_autoptr(GByteArray) c1 = dbc_card(bad_n, bad_n->len);
  malformed_case(c1, "line 12 has N = 0x52", "\x15" "2");
  /* every N from 0x52 to 0xFE */
  for (guint n = 0x52; n <= 0xFE; n += 0x15) {
    bad_n->data[12] = (guint8)n;
    g_autoptr(GByteArray) c = dbc_card(bad_n, bad_n->len);
    g_autofree char *part = g_strdup_printf("N = 0x%02X", n);
    malformed_case(c, part, "\x15" "2");
  }
  /* the payload ends in the middle of a line */
  g_autoptr(GByteArray) mid = g_byte_array_new();
  put_byte(mid, 0x00, EW - 1);
  put_byte(mid, 0x51, 1);
  put_byte(mid, 0xAA, 40);
  g_autoptr(GByteArray) c2 = dbc_card(mid, mid->len);
  malformed_case(c2, "middle of line 1015", "\x15" "2");
  /* 1015 lines */
  g_autoptr(GByteArray) short_lines = g_byte_array_new();
  for (guint i = 0; i < EW - 1; i++) /* 2030 bytes: a count under 1016 would be a line */
    put(short_lines, "\x01\xA0", 2);
  g_autoptr(GByteArray) c3 = dbc_card(short_lines, short_lines->len);
  malformed_case(c3, "1015 lines", "\x15" "2");
  /* more bytes than 1016 lines need (declared count too big for them) */
  g_autoptr(GByteArray) long_lines = g_byte_array_new();
  put_byte(long_lines, 0x00, EW + 5);
  g_autoptr(GByteArray) c4 = dbc_card(long_lines, long_lines->len);
  malformed_case(c4, "1016 lines end at byte 1016", "\x15" "2");
  /* declared count bigger than the payload sent: it swallows what follows */
  g_autoptr(GByteArray) c5 = dbc_card(good, good->len + 3);
  malformed_case(c5, "not followed by CR", NULL);
  /* declared count smaller than the payload sent */
  g_autoptr(GByteArray) c6 = dbc_card(good, good->len - 2);
  malformed_case(c6, "1015 lines", "\x15" "2");
  /* an uncompressed payload one byte short: it takes the CR, and no CR follows */
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  g_autoptr(GByteArray) c7 = g_byte_array_new();
  frame(c7, "Ss");
  frame_payload(c7, "Db;k;2;", payload, E_PANEL - 1);
  frame(c7, "Se");
  malformed_case(c7, "Db;k: payload not followed by CR", "\x15" "2");
  /* headers: wrong depth for a panel, unknown panel, bad counts, no payload */
  const char *heads[][2] = {
      {"\x1bSs\r\x1b" "Db;k;32;", "does not suit"}, {"\x1bSs\r\x1b" "Db;q;2;", "does not suit"},
      {"\x1bSs\r\x1b" "Db;y;2;", "does not suit"},  {"\x1bSs\r\x1b" "Db;k;9;x\r", "bad depth"},
      {"\x1bSs\r\x1b" "Dbc;k;2;x;\r", "bad byte count"}, {"\x1bSs\r\x1b" "Db;k\r", "without"},
      {"\x1bSs\r\x1b" "Dbc;k;2;99999999999;\r", "bad byte count"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(heads); i++) {
    g_autoptr(GByteArray) a = g_byte_array_new();
    put_str(a, heads[i][0]);
    if (g_str_has_suffix(heads[i][0], ";") && strstr(heads[i][0], ";2;")) {
      put(a, payload, E_PANEL); /* a 1-bit payload's worth, skipped */
      put_byte(a, 0x0D, 1);
    } else if (g_str_has_suffix(heads[i][0], ";32;")) {
      g_autofree guint8 *big = g_malloc0(E_PANEL * 5);
      put(a, big, E_PANEL * 5);
      put_byte(a, 0x0D, 1);
    }
    frame(a, "Se");
    malformed_case(a, heads[i][1], "\x15" "2");
  }
  /* garbage, an unterminated frame, Se without Ss, Db outside a card */
  g_autoptr(GByteArray) g = g_byte_array_new();
  put_str(g, "\x7f\x01hello\x1bSe\r\x1bPr;k\x1bPr;k\r");
  malformed_case(g, "outside a command", NULL);
  g_autoptr(GByteArray) g2 = g_byte_array_new();
  put_str(g2, "\x1bSe\r");
  malformed_case(g2, "Se without Ss", "\x15" "1");
  g_autoptr(GByteArray) g3 = g_byte_array_new();
  frame_payload(g3, "Db;k;2;", payload, E_PANEL);
  malformed_case(g3, "outside a sequence", "\x15" "1");
}

/* ---- Magicard ---- */

#define E10_HEADER                                                                              \
  "NOC1,VER2.0.27.0,LANENG,TDT59D46F81,REJOFF,ESS1,KEE,RT2,SLWOFF,DPXOFF,PAG1,IMFBGRK,XCO0,"   \
  "YCO0,WID1016,HGT642,OVRON,NNNOFF,USFON,HKT1,CKION,HKMFFFFFF,TRO0,PCT0,0,1025,641,ICC1,"     \
  "DDD50,SZB512064,SZG512064,SZR512064,SZK85344"

static void mc_begin(GByteArray *a, const char *header) {
  put_byte(a, 0x05, 64);
  put(a, "\x01,", 2);
  put_str(a, header);
  put_byte(a, 0x1C, 1);
}

static void mc_plane(GByteArray *a, char letter, const guint8 *data, gsize len) {
  put(a, data, len);
  guint8 term[3] = {0x1C, (guint8)letter, 0x3A};
  put(a, term, 3);
}

static void mc_end(GByteArray *a) { put_byte(a, 0x03, 1); }

/* KEE: card (x, y) -> row 1015 - x, pixel j = y at dot 16 + j; dot d = byte d/8, mask
 * 0x80 >> d%8 of the 84-byte stripe of bit-plane b (b = 0 first) */
static void kee_set(guint8 *plane, gboolean colour, guint value, guint x, guint y) {
  guint row = MW - 1 - x, d = 16 + y;
  for (guint b = 0; b < (colour ? 6u : 1u); b++)
    if (value & (1u << b))
      plane[(gsize)row * (colour ? 504 : 84) + b * 84 + d / 8] |= 0x80 >> (d % 8);
}

static void test_magicard_kee(void) {
  g_autofree guint8 *y = g_malloc0(512064), *m = g_malloc0(512064), *c = g_malloc0(512064),
                    *k = g_malloc0(85344);
  kee_set(y, TRUE, 63, 0, 0);
  kee_set(y, TRUE, 1, 1015, 641);
  kee_set(m, TRUE, 21, 1015, 641);
  kee_set(c, TRUE, 42, 500, 300);
  kee_set(c, TRUE, 32, 0, 641);
  kee_set(k, FALSE, 1, 0, 0);
  kee_set(k, FALSE, 1, 1015, 641);
  kee_set(k, FALSE, 1, 10, 20);
  GByteArray *a = g_byte_array_new();
  mc_begin(a, E10_HEADER);
  g_assert_cmpuint(a->len, ==, 285);
  mc_plane(a, 'B', y, 512064);
  mc_plane(a, 'G', m, 512064);
  mc_plane(a, 'R', c, 512064);
  mc_plane(a, 'K', k, 85344);
  mc_end(a);
  g_assert_cmpuint(a->len, ==, 1621834);
  g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
  write_ok(e, a);
  g_byte_array_unref(a);
  assert_no_errors(e);
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 1);
  const cs_emu_card_t *card = cs_emulator_card(e, 0);
  g_assert_cmpint(card->outcome, ==, CS_EMU_PRINTED);
  g_assert_cmpstr(card->ribbon, ==, "");
  g_assert_cmpstr(g_ptr_array_index(card->commands, 0), ==, "NOC1");
  g_assert_cmpstr(g_ptr_array_index(card->commands, 23), ==, "PCT0,0,1025,641");
  g_assert_cmpstr(g_ptr_array_index(card->commands, card->commands->len - 1), ==, "SZK85344");
  g_assert_cmpuint(card->commands->len, ==, 30);
  const cs_emu_side_t *f = &card->side[0];
  g_assert_true(f->present);
  g_assert_false(card->side[1].present);
  g_assert_cmpuint(f->width, ==, MW);
  g_assert_cmpuint(f->height, ==, MH);
  g_assert_cmpuint(f->colour_bits, ==, 6);
  g_assert_cmpuint(at(f, f->y, 0, 0), ==, 63);
  g_assert_cmpuint(at(f, f->y, 1015, 641), ==, 1);
  g_assert_cmpuint(count_ones(f->y, MW * MH), ==, 2);
  g_assert_cmpuint(at(f, f->m, 1015, 641), ==, 21);
  g_assert_cmpuint(count_ones(f->m, MW * MH), ==, 1);
  g_assert_cmpuint(at(f, f->c, 500, 300), ==, 42);
  g_assert_cmpuint(at(f, f->c, 0, 641), ==, 32);
  g_assert_cmpuint(count_ones(f->c, MW * MH), ==, 2);
  g_assert_cmpuint(at(f, f->k, 0, 0), ==, 1);
  g_assert_cmpuint(at(f, f->k, 1015, 641), ==, 1);
  g_assert_cmpuint(at(f, f->k, 10, 20), ==, 1);
  g_assert_cmpuint(count_ones(f->k, MW * MH), ==, 3);
  g_assert_cmpuint(count_ones(f->o, MW * MH), ==, MW * MH); /* OVRON, PCT the whole card */
  g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x18);
}

#define E11_HEADER(head, sz)                                                                   \
  "NOC1,VER2.0.27.0,LANENG,TDT59D46F81," head ",DPXOFF,PAG1,IMFK,XCO0,YCO0,WID1016,HGT642,"  \
  "OVROFF,ICC1,SZK" sz

static GByteArray *e11_block(const guint8 *k) {
  GByteArray *a = g_byte_array_new();
  mc_begin(a, E11_HEADER("KEE,RT2,SLWOFF", "85344"));
  mc_plane(a, 'K', k, 85344);
  mc_end(a);
  return a;
}

static void test_magicard_k_only(void) {
  g_autofree guint8 *k = g_malloc0(85344);
  kee_set(k, FALSE, 1, 0, 641);
  kee_set(k, FALSE, 1, 1015, 0);
  g_autoptr(GByteArray) a = e11_block(k);
  g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
  write_ok(e, a);
  assert_no_errors(e);
  const cs_emu_card_t *card = cs_emulator_card(e, 0);
  g_assert_cmpint(card->outcome, ==, CS_EMU_PRINTED);
  const cs_emu_side_t *f = &card->side[0];
  g_assert_null(f->y);
  g_assert_null(f->m);
  g_assert_null(f->c);
  g_assert_null(f->o); /* OVROFF */
  g_assert_cmpuint(at(f, f->k, 0, 641), ==, 1);
  g_assert_cmpuint(at(f, f->k, 1015, 0), ==, 1);
  g_assert_cmpuint(count_ones(f->k, MW * MH), ==, 2);
}

/* KGE2 from the facts: dot a < 288 -> word a/16 + 6 bit (a%16)*2, else word (a-288)/16 bit
 * ((a-288)%16)*2 + 1; 24 words a stripe; stored little-endian, every byte bit-reversed.
 * Card (x, y) -> row x, pixel j = 641 - y at dot 15 + j. */
typedef struct {
  guint32 *words; /* rows x bit-planes x 24 */
  guint bitplanes;
} kge_t;

static void kge_set(kge_t *p, guint value, guint x, guint y) {
  guint a = 15 + (MH - 1 - y);
  guint w = a < 288 ? a / 16 + 6 : (a - 288) / 16;
  guint bit = a < 288 ? (a % 16) * 2 : ((a - 288) % 16) * 2 + 1;
  for (guint b = 0; b < p->bitplanes; b++)
    if (value & (1u << b))
      p->words[((gsize)x * p->bitplanes + b) * 24 + w] |= 1u << bit;
}

static guint8 reverse8(guint8 v) {
  guint8 r = 0;
  for (guint i = 0; i < 8; i++)
    if (v & (1u << i))
      r |= 0x80 >> i;
  return r;
}

static guint8 *kge_bytes(const kge_t *p, gsize *len) {
  gsize n = (gsize)MW * p->bitplanes * 24;
  guint8 *out = g_malloc(n * 4);
  for (gsize i = 0; i < n; i++)
    for (guint q = 0; q < 4; q++)
      out[i * 4 + q] = reverse8((guint8)(p->words[i] >> (8 * q)));
  *len = n * 4;
  return out;
}

static void test_magicard_kge2(void) {
  kge_t y = {g_new0(guint32, MW * 6 * 24), 6}, k = {g_new0(guint32, MW * 24), 1};
  guint pts[][3] = {{0, 0, 63}, {1015, 641, 1}, {0, 641, 2}, {1015, 0, 44}, {300, 400, 17},
                    {301, 400, 5}, {700, 641 - 272, 9}, {700, 641 - 273, 33}};
  for (guint i = 0; i < G_N_ELEMENTS(pts); i++) {
    kge_set(&y, pts[i][2], pts[i][0], pts[i][1]);
    kge_set(&k, 1, pts[i][0], pts[i][1]);
  }
  gsize ylen, klen;
  g_autofree guint8 *yb = kge_bytes(&y, &ylen), *kb = kge_bytes(&k, &klen);
  g_assert_cmpuint(ylen, ==, 585216);
  g_assert_cmpuint(klen, ==, 97536);
  GByteArray *a = g_byte_array_new();
  put_byte(a, 0x05, 64);
  put_str(a, "\x01,NOC1,VER1.0-,LANENG,TDT59D46F81,LC1,KGE2,DPXOFF,PAG1,IMFBGRK,XCO0,YCO0,"
             "WID1016,HGT642,OVROFF,ICC1,SZB585216,SZK97536\x1c");
  mc_plane(a, 'B', yb, ylen);
  mc_plane(a, 'K', kb, klen);
  mc_end(a);
  g_autoptr(cs_emulator_t) e = emu_new("magicard-enduro");
  write_ok(e, a);
  g_byte_array_unref(a);
  g_free(y.words);
  g_free(k.words);
  assert_no_errors(e);
  const cs_emu_card_t *card = cs_emulator_card(e, 0);
  g_assert_cmpint(card->outcome, ==, CS_EMU_PRINTED);
  g_assert_cmpstr(card->ribbon, ==, "LC1");
  const cs_emu_side_t *f = &card->side[0];
  g_assert_nonnull(f->y);
  g_assert_null(f->m); /* not sent */
  g_assert_null(f->c);
  for (guint i = 0; i < G_N_ELEMENTS(pts); i++) {
    g_assert_cmpuint(at(f, f->y, pts[i][0], pts[i][1]), ==, pts[i][2]);
    g_assert_cmpuint(at(f, f->k, pts[i][0], pts[i][1]), ==, 1);
  }
  g_assert_cmpuint(count_ones(f->y, MW * MH), ==, G_N_ELEMENTS(pts));
  g_assert_cmpuint(count_ones(f->k, MW * MH), ==, G_N_ELEMENTS(pts));

  /* a Rio stream on the Enduro: head and sizes are wrong */
  g_autofree guint8 *kee = g_malloc0(85344);
  g_autoptr(GByteArray) rio = e11_block(kee);
  g_autoptr(cs_emulator_t) e2 = emu_new("magicard-enduro");
  write_ok(e2, rio);
  g_assert_true(has_error(e2, "KEE"));
  g_assert_true(has_error(e2, "97536"));
}

static void test_magicard_duplex(void) {
  g_autofree guint8 *kf = g_malloc0(85344), *kb = g_malloc0(85344);
  kee_set(kf, FALSE, 1, 100, 100);
  kee_set(kb, FALSE, 1, 900, 500);
  GByteArray *a = g_byte_array_new();
  mc_begin(a, "NOC1,VER2.0.27.0,LANENG,TDT59D46F81,KEE,RT2,SLWOFF,DPXON,BACK,PAG1,IMFK,"
              "XCO0,YCO0,WID1016,HGT642,OVROFF,ICC1,SZK85344");
  mc_plane(a, 'K', kf, 85344);
  mc_end(a);
  gsize front_len = a->len;
  mc_begin(a, "NOC1,KEE,RT2,SLWOFF,DPXON,PAG2,IMFK,XCO0,YCO0,WID1016,HGT642,OVRON,NNNOFF,"
              "USFON,PCT0,0,1025,641,ICC1,SZK85344");
  mc_plane(a, 'K', kb, 85344);
  mc_end(a);
  g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
  g_assert_true(cs_emulator_write(e, a->data, front_len, NULL));
  g_assert_cmpint(cs_emulator_card(e, 0)->outcome, ==, CS_EMU_OPEN);
  g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x08);
  g_assert_true(cs_emulator_write(e, a->data + front_len, a->len - front_len, NULL));
  g_byte_array_unref(a);
  assert_no_errors(e);
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 1);
  const cs_emu_card_t *card = cs_emulator_card(e, 0);
  g_assert_cmpint(card->outcome, ==, CS_EMU_PRINTED);
  g_assert_cmpuint(cs_emulator_port_status(e), ==, 0x18);
  g_assert_true(card->side[0].present);
  g_assert_true(card->side[1].present);
  g_assert_cmpuint(at(&card->side[0], card->side[0].k, 100, 100), ==, 1);
  g_assert_cmpuint(count_ones(card->side[0].k, MW * MH), ==, 1);
  g_assert_null(card->side[0].o);
  g_assert_cmpuint(at(&card->side[1], card->side[1].k, 900, 500), ==, 1);
  g_assert_cmpuint(count_ones(card->side[1].k, MW * MH), ==, 1);
  g_assert_nonnull(card->side[1].o);
  g_assert_cmpuint(card->commands->len, ==, 18 + 17);
  g_assert_cmpstr(g_ptr_array_index(card->commands, 18), ==, "NOC1");

  /* a back side on its own is an error */
  g_autoptr(GByteArray) b = g_byte_array_new();
  mc_begin(b, "NOC1,KEE,RT2,SLWOFF,DPXON,PAG2,IMFK,XCO0,YCO0,WID1016,HGT642,OVROFF,ICC1,"
              "SZK85344");
  mc_plane(b, 'K', kb, 85344);
  mc_end(b);
  write_ok(e, b);
  g_assert_true(has_error(e, "PAG2"));
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 1);
}

static void test_magicard_overlay(void) {
  g_autofree guint8 *k = g_malloc0(85344);
  GByteArray *a = g_byte_array_new();
  mc_begin(a, "NOC1,KEE,RT2,SLWOFF,DPXOFF,PAG1,IMFK,XCO0,YCO0,WID1016,HGT642,OVRON,NNNOFF,"
              "USFON,PCT0,0,1025,641,NCT0,420,1025,590,NCT90,295,260,450,ICC1,SZK85344");
  mc_plane(a, 'K', k, 85344);
  mc_end(a);
  mc_begin(a, "NOC1,KEE,RT2,SLWOFF,DPXOFF,PAG1,IMFK,XCO0,YCO0,WID1016,HGT642,OVRON,NNNOFF,"
              "USFON,PCT100,200,300,400,PCT10,10,19,19,NCT150,250,160,260,ICC1,SZK85344");
  mc_plane(a, 'K', k, 85344);
  mc_end(a);
  g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
  write_ok(e, a);
  g_byte_array_unref(a);
  assert_no_errors(e);
  const cs_emu_side_t *f = &cs_emulator_card(e, 0)->side[0];
  /* y = 641 - y_bottom */
  g_assert_cmpuint(at(f, f->o, 500, 0), ==, 1);
  g_assert_cmpuint(at(f, f->o, 500, 641 - 420), ==, 0);  /* stripe, bottom edge */
  g_assert_cmpuint(at(f, f->o, 500, 641 - 590), ==, 0);  /* stripe, top edge */
  g_assert_cmpuint(at(f, f->o, 500, 641 - 419), ==, 1);
  g_assert_cmpuint(at(f, f->o, 500, 641 - 591), ==, 1);
  g_assert_cmpuint(at(f, f->o, 1015, 641 - 500), ==, 0);
  g_assert_cmpuint(at(f, f->o, 90, 641 - 295), ==, 0);   /* chip corners */
  g_assert_cmpuint(at(f, f->o, 260, 641 - 450), ==, 0);
  g_assert_cmpuint(at(f, f->o, 89, 641 - 300), ==, 1);
  g_assert_cmpuint(at(f, f->o, 261, 641 - 300), ==, 1);
  g_assert_cmpuint(count_ones(f->o, MW * MH), ==, MW * MH - 1016 * 171 - 171 * 125);
  const cs_emu_side_t *g = &cs_emulator_card(e, 1)->side[0];
  g_assert_cmpuint(count_ones(g->o, MW * MH), ==, 201 * 201 + 100 - 121);
  g_assert_cmpuint(at(g, g->o, 100, 641 - 200), ==, 1);
  g_assert_cmpuint(at(g, g->o, 155, 641 - 255), ==, 0);
  g_assert_cmpuint(at(g, g->o, 99, 641 - 200), ==, 0);
  g_assert_cmpuint(at(g, g->o, 15, 641 - 15), ==, 1);
}

static char *mc_query(cs_emulator_t *e, const char *req) {
  g_autoptr(GByteArray) a = g_byte_array_new();
  put_byte(a, 0x05, 9);
  put_byte(a, 0x01, 1);
  put_str(a, req);
  put(a, "\x1c\x03", 2);
  write_ok(e, a);
  return drain(e);
}

static char *mc_err_query(cs_emulator_t *e) {
  write_str(e, "\x01,REQ,ERR,\x1c\x03");
  return drain(e);
}

static void test_magicard_queries(void) {
  g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
  g_autofree char *r0 = mc_query(e, "REQ,STA,TCQ,");
  g_assert_cmpstr(r0, ==, "\x01STATCQ,0,\x03");
  g_autofree guint8 *k = g_malloc0(85344);
  g_autoptr(GByteArray) b = e11_block(k);
  write_ok(e, b);
  g_autofree char *r1 = mc_query(e, "REQ,STA,TCQ,");
  g_assert_cmpstr(r1, ==, "\x01STATCQ,1,\x03");
  g_autofree char *r2 = mc_query(e, "REQ,STA,MSR,");
  g_assert_cmpstr(r2, ==, "\x01STAMSR,EMU0001,\x03");
  g_autofree char *r3 = mc_query(e, "REQ,STA,VRS,");
  g_assert_cmpstr(r3, ==, "\x01STAVRS,EMU-1.0,\x03");
  g_autofree char *r4 = mc_query(e, "REQ,STA,MDL,");
  g_assert_cmpstr(r4, ==, "\x01STAMDL,0,\x03");
  g_autofree char *r5 = mc_query(e, "REQ,STA,XYZ,");
  g_assert_cmpstr(r5, ==, "\x01STAXYZ,?,\x03");
  g_autofree char *r6 = mc_err_query(e);
  g_assert_cmpuint(strlen(r6), ==, 36);
  g_assert_cmpstr(r6, ==, "\x01STAPrinterstatus OK.\n00:00\n(c0300)\x03");
  write_str(e, "\x01,REQ,INF,\x1c\x03");
  g_autofree char *r7 = drain(e);
  g_assert_cmpstr(r7, ==, r6);
  /* simple commands (E7) are taken and ignored */
  const char *simple[] = {"TST,", "RST,", "EJT,", "QPR1"};
  for (guint i = 0; i < G_N_ELEMENTS(simple); i++) {
    g_autofree char *r = mc_query(e, simple[i]);
    g_assert_cmpstr(r, ==, "");
  }
  /* E8 byte for byte */
  const guint8 e8[] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 0x01, 0x52, 0x45, 0x51, 0x2C, 0x53, 0x54,
                       0x41, 0x2C, 0x4D, 0x53, 0x52, 0x2C, 0x1C, 0x03};
  g_assert_true(cs_emulator_write(e, e8, sizeof e8, NULL));
  g_autofree char *r8 = drain(e);
  g_assert_cmpstr(r8, ==, "\x01STAMSR,EMU0001,\x03");
  assert_no_errors(e);

  const struct {
    cs_fault_t fault;
    const char *reply;
  } faults[] = {
      {CS_FAULT_FEEDER_EMPTY, "\x01STACard not fed.\n11:01\n(c0201)\x03"},
      {CS_FAULT_RIBBON_OUT, "\x01STARibbon out.\n03:01\n(c0203)\x03"},
      {CS_FAULT_COVER_OPEN, "\x01STACover open.\n06:01\n(c0206)\x03"},
      {CS_FAULT_JAM, "\x01STACard jam.\n12:01\n(c0212)\x03"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(faults); i++) {
    cs_emulator_inject(e, faults[i].fault, 0);
    g_autofree char *r = mc_err_query(e);
    g_assert_cmpstr(r, ==, faults[i].reply);
    cs_emulator_clear(e);
  }
}

static const cs_fault_t mc_faults[] = {CS_FAULT_RIBBON_OUT, CS_FAULT_FEEDER_EMPTY,
                                       CS_FAULT_COVER_OPEN, CS_FAULT_JAM, CS_FAULT_UNPLUG};
static const guint8 mc_port[] = {0x10, 0x30, 0x90, 0x50, 0x00};

static void test_magicard_faults(void) {
  g_autofree guint8 *k = g_malloc0(85344);
  kee_set(k, FALSE, 1, 3, 3);
  g_autoptr(GByteArray) b = e11_block(k);
  gsize header = 0;
  while (b->data[header] != 0x1C)
    header++;
  for (guint i = 0; i < G_N_ELEMENTS(mc_faults); i++) {
    cs_fault_t f = mc_faults[i];
    gboolean unplug = f == CS_FAULT_UNPLUG;
    /* at the feed: the 1C ending the header is the last byte before it */
    g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
    cs_emulator_inject(e, f, header);
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(cs_emulator_write(e, b->data, b->len, &error), ==, !unplug);
    if (unplug) {
      g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
      g_assert_cmpuint(cs_emulator_n_cards(e), ==, 0);
      guint8 buf[4];
      g_assert_cmpint(cs_emulator_read(e, buf, sizeof buf), ==, -1);
    } else {
      g_assert_cmpuint(cs_emulator_n_cards(e), ==, 1);
      g_assert_cmpint(cs_emulator_card(e, 0)->outcome, ==, CS_EMU_NOT_FED);
      g_assert_cmpuint(cs_emulator_port_status(e), ==, mc_port[i]);
      assert_no_errors(e); /* the rest of the job was skipped cleanly */
      g_autofree char *r = mc_query(e, "REQ,STA,TCQ,");
      g_assert_cmpstr(r, ==, "\x01STATCQ,0,\x03");
    }
    cs_emulator_clear(e);
    write_ok(e, b);
    g_assert_cmpint(cs_emulator_card(e, cs_emulator_n_cards(e) - 1)->outcome, ==,
                    CS_EMU_PRINTED);

    /* fed, then mid-plane */
    g_autoptr(cs_emulator_t) m = emu_new("magicard-rio");
    cs_emulator_inject(m, f, header + 1 + 40000);
    gboolean ok = cs_emulator_write(m, b->data, b->len, NULL);
    g_assert_cmpint(ok, ==, !unplug);
    const cs_emu_card_t *c = cs_emulator_card(m, 0);
    if (f == CS_FAULT_FEEDER_EMPTY) {
      g_assert_cmpint(c->outcome, ==, CS_EMU_PRINTED);
      g_assert_cmpuint(at(&c->side[0], c->side[0].k, 3, 3), ==, 1);
      write_ok(m, b);
      g_assert_cmpint(cs_emulator_card(m, 1)->outcome, ==, CS_EMU_NOT_FED);
    } else {
      g_assert_cmpint(c->outcome, ==, CS_EMU_ABORTED);
    }
    if (!unplug) {
      assert_no_errors(m);
      g_assert_cmpuint(cs_emulator_port_status(m), ==, mc_port[i]);
    }
    cs_emulator_clear(m);
    g_assert_cmpuint(cs_emulator_port_status(m), ==, 0x18);
  }

  /* a duplex card not fed: its back block is skipped with it */
  g_autoptr(cs_emulator_t) d = emu_new("magicard-rio");
  GByteArray *a = g_byte_array_new();
  mc_begin(a, "NOC1,KEE,RT2,SLWOFF,DPXON,BACK,PAG1,IMFK,XCO0,YCO0,WID1016,HGT642,OVROFF,"
              "ICC1,SZK85344");
  mc_plane(a, 'K', k, 85344);
  mc_end(a);
  mc_begin(a, "NOC1,KEE,RT2,SLWOFF,DPXON,PAG2,IMFK,XCO0,YCO0,WID1016,HGT642,OVROFF,ICC1,"
              "SZK85344");
  mc_plane(a, 'K', k, 85344);
  mc_end(a);
  cs_emulator_inject(d, CS_FAULT_COVER_OPEN, 0);
  write_ok(d, a);
  assert_no_errors(d);
  g_assert_cmpuint(cs_emulator_n_cards(d), ==, 1);
  g_assert_cmpint(cs_emulator_card(d, 0)->outcome, ==, CS_EMU_NOT_FED);
  /* and a jam between the two blocks aborts the open card */
  cs_emulator_clear(d);
  gsize front = a->len / 2;
  cs_emulator_inject(d, CS_FAULT_JAM, front);
  write_ok(d, a);
  g_byte_array_unref(a);
  assert_no_errors(d);
  g_assert_cmpuint(cs_emulator_n_cards(d), ==, 2);
  g_assert_cmpint(cs_emulator_card(d, 1)->outcome, ==, CS_EMU_ABORTED);
  g_assert_false(cs_emulator_card(d, 1)->side[1].present);
}

static void test_magicard_malformed(void) {
  g_autofree guint8 *k = g_malloc0(85344);
  g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
  GByteArray *a = g_byte_array_new();
  /* wrong size: parsed by its own count, not decoded */
  mc_begin(a, "NOC1,KEE,RT2,DPXOFF,PAG1,IMFK,OVROFF,SZK85000");
  mc_plane(a, 'K', k, 85000);
  mc_end(a);
  /* bad terminator, missing 03, garbage */
  mc_begin(a, E11_HEADER("KEE,RT2,SLWOFF", "85344"));
  put(a, k, 85344);
  put(a, "\x1c\x42\x3a", 3);
  put_str(a, "junk");
  /* no head, trailing comma, bad rectangle */
  mc_begin(a, "NOC1,DPXOFF,PAG1,IMFK,OVRON,PCT5,5,1,1,SZK85344,");
  mc_plane(a, 'K', k, 85344);
  mc_end(a);
  write_ok(e, a);
  g_byte_array_unref(a);
  g_assert_true(has_error(e, "SZK85000"));
  g_assert_true(has_error(e, "not ended by 1C 4B 3A"));
  g_assert_true(has_error(e, "not ended by 03"));
  g_assert_true(has_error(e, "outside a block"));
  g_assert_true(has_error(e, "no print head"));
  g_assert_true(has_error(e, "header ends with ','"));
  g_assert_true(has_error(e, "bad rectangle"));
  /* still answers and prints */
  g_autoptr(GByteArray) b = e11_block(k);
  write_ok(e, b);
  g_assert_cmpint(cs_emulator_card(e, cs_emulator_n_cards(e) - 1)->outcome, ==,
                  CS_EMU_PRINTED);
  /* ink outside the 642-dot image window */
  g_autoptr(cs_emulator_t) w = emu_new("magicard-rio");
  k[0] = 0x80;
  g_autoptr(GByteArray) c = e11_block(k);
  write_ok(w, c);
  g_assert_true(has_error(w, "outside the image"));
}

/* Random splits of a Magicard block too. */
static void test_magicard_splits(void) {
  g_autofree guint8 *k = g_malloc0(85344);
  for (guint i = 0; i < 300; i++)
    kee_set(k, FALSE, 1, g_test_rand_int_range(0, MW), g_test_rand_int_range(0, MH));
  g_autoptr(GByteArray) s = e11_block(k);
  put_str(s, "\x01,REQ,ERR,\x1c\x03");
  g_autoptr(cs_emulator_t) whole = emu_new("magicard-rio");
  write_ok(whole, s);
  g_autofree char *want = drain(whole);
  for (guint round = 0; round < 4; round++) {
    g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
    GString *got = g_string_new(NULL);
    for (gsize off = 0; off < s->len;) {
      gsize n = round == 0 ? 1 : (gsize)g_test_rand_int_range(1, round == 1 ? 10 : 9000);
      n = MIN(n, s->len - off);
      g_assert_true(cs_emulator_write(e, s->data + off, n, NULL));
      off += n;
      g_autofree char *r = drain(e);
      g_string_append(got, r);
    }
    g_assert_cmpstr(got->str, ==, want);
    g_string_free(got, TRUE);
    assert_no_errors(e);
    const cs_emu_side_t *a = &cs_emulator_card(e, 0)->side[0];
    const cs_emu_side_t *b = &cs_emulator_card(whole, 0)->side[0];
    g_assert_true(memcmp(a->k, b->k, MW * MH) == 0);
  }
}

/* ---- fuzz-ish ---- */

static void mutate(GRand *r, GByteArray *a) {
  static const guint8 special[] = {0x00, 0x01, 0x03, 0x05, 0x0D, 0x1B, 0x1C, 0x2C, 0x3A,
                                   0x3B, 0x42, 0x4B, 0x51, 0x52, 0x7F, 0x80, 0xFE, 0xFF};
  guint ops = g_rand_int_range(r, 1, 6);
  for (guint i = 0; i < ops && a->len > 0; i++) {
    guint pos = g_rand_int_range(r, 0, a->len);
    /* aim at the headers and frame edges half of the time: that is where parsers break */
    if (g_rand_boolean(r))
      pos = g_rand_int_range(r, 0, MIN(a->len, 400u));
    switch (g_rand_int_range(r, 0, 6)) {
    case 0:
      a->data[pos] ^= (guint8)(1u << g_rand_int_range(r, 0, 8));
      break;
    case 1:
      a->data[pos] = special[g_rand_int_range(r, 0, G_N_ELEMENTS(special))];
      break;
    case 2:
    {
      guint n = g_rand_int_range(r, 1, 50); /* not inside MIN(): it would draw twice */
      g_byte_array_remove_range(a, pos, MIN(a->len - pos, n));
      break;
    }
    case 3: {
      guint8 ins[8];
      guint n = g_rand_int_range(r, 1, 8);
      for (guint j = 0; j < n; j++)
        ins[j] = g_rand_boolean(r) ? special[g_rand_int_range(r, 0, G_N_ELEMENTS(special))]
                                   : (guint8)g_rand_int(r);
      guint old = a->len;
      g_byte_array_set_size(a, old + n);
      memmove(a->data + pos + n, a->data + pos, old - pos);
      memcpy(a->data + pos, ins, n);
      break;
    }
    case 4:
      g_byte_array_set_size(a, pos);
      break;
    default:
      a->data[pos] = (guint8)g_rand_int(r);
      break;
    }
  }
}

static void fuzz_one(GRand *r, const char *model, const GByteArray *seed) {
  g_autoptr(GByteArray) a = g_byte_array_new();
  put(a, seed->data, seed->len);
  mutate(r, a);
  g_autoptr(cs_emulator_t) e = emu_new(model);
  if (g_rand_int_range(r, 0, 4) == 0)
    cs_emulator_inject(e, (cs_fault_t)g_rand_int_range(r, 1, 6),
                       g_rand_int_range(r, 0, a->len + 1));
  for (gsize off = 0; off < a->len;) {
    gsize n = (gsize)g_rand_int_range(r, 1, 40000);
    n = MIN(a->len - off, n);
    if (!cs_emulator_write(e, a->data + off, n, NULL)) {
      g_assert_cmpint(cs_emulator_fault(e), ==, CS_FAULT_UNPLUG);
      cs_emulator_clear(e);
    }
    off += n;
    guint8 buf[64];
    while (cs_emulator_read(e, buf, sizeof buf) > 0)
      ;
  }
  for (guint i = 0; i < cs_emulator_n_cards(e); i++) {
    const cs_emu_card_t *c = cs_emulator_card(e, i);
    g_assert_nonnull(c->commands);
    g_assert_nonnull(c->ribbon);
  }
  (void)cs_emulator_port_status(e);
  (void)cs_emulator_errors(e);
}

static void test_fuzz(void) {
  g_autoptr(GRand) r = g_rand_new_with_seed(g_test_rand_int());
  g_autofree guint8 *payload = g_malloc0(E_PANEL);
  evo_dot(payload, 1, 1);
  g_autoptr(GByteArray) e1 = e1_stream(payload);
  g_autoptr(GByteArray) dbc = g_byte_array_new();
  frame(dbc, "Pem;4");
  frame(dbc, "Pr;ymcko");
  frame(dbc, "Rtp");
  g_autoptr(GByteArray) p = dbc_payload();
  g_autoptr(GByteArray) card = dbc_card(p, p->len);
  put(dbc, card->data, card->len);
  g_autofree guint8 *k = g_malloc0(85344);
  kee_set(k, FALSE, 1, 3, 3);
  g_autoptr(GByteArray) mc = e11_block(k);
  put_str(mc, "\x05\x05\x01REQ,STA,TCQ,\x1c\x03\x01,REQ,ERR,\x1c\x03");
  guint n = g_test_thorough() ? 20000 : 2000;
  for (guint i = 0; i < n; i++) {
    switch (i % 4) {
    case 0:
      fuzz_one(r, "evolis", e1);
      break;
    case 1:
      fuzz_one(r, "evolis", dbc);
      break;
    case 2:
      fuzz_one(r, "magicard-rio", mc);
      break;
    default:
      fuzz_one(r, "magicard-enduro", mc);
      break;
    }
  }
}

/* Only the newest cards keep their maps: a long-running emulator stays small. */
static void test_many_cards(void) {
  g_autofree guint8 *k = g_malloc0(85344);
  g_autoptr(GByteArray) b = e11_block(k);
  g_autoptr(cs_emulator_t) e = emu_new("magicard-rio");
  for (guint i = 0; i < 40; i++)
    write_ok(e, b);
  g_assert_cmpuint(cs_emulator_n_cards(e), ==, 40);
  g_assert_null(cs_emulator_card(e, 0)->side[0].k);
  g_assert_cmpint(cs_emulator_card(e, 0)->outcome, ==, CS_EMU_PRINTED);
  g_assert_nonnull(cs_emulator_card(e, 39)->side[0].k);
  g_assert_nonnull(cs_emulator_card(e, 8)->side[0].k);
  g_autofree char *r = mc_query(e, "REQ,STA,TCQ,");
  g_assert_cmpstr(r, ==, "\x01STATCQ,40,\x03");
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/emulator/models", test_models);
  g_test_add_func("/emulator/evolis/e1-blank", test_evolis_e1_blank);
  g_test_add_func("/emulator/evolis/e1-dots", test_evolis_e1_dots);
  g_test_add_func("/emulator/evolis/duplex", test_evolis_duplex);
  g_test_add_func("/emulator/evolis/dbc", test_evolis_dbc);
  g_test_add_func("/emulator/evolis/colour", test_evolis_colour);
  g_test_add_func("/emulator/evolis/dbc-colour", test_evolis_dbc_colour);
  g_test_add_func("/emulator/evolis/ack", test_evolis_ack);
  g_test_add_func("/emulator/evolis/faults", test_evolis_faults);
  g_test_add_func("/emulator/evolis/unplug", test_evolis_unplug);
  g_test_add_func("/emulator/evolis/splits", test_evolis_splits);
  g_test_add_func("/emulator/evolis/malformed", test_evolis_malformed);
  g_test_add_func("/emulator/magicard/kee", test_magicard_kee);
  g_test_add_func("/emulator/magicard/k-only", test_magicard_k_only);
  g_test_add_func("/emulator/magicard/kge2", test_magicard_kge2);
  g_test_add_func("/emulator/magicard/duplex", test_magicard_duplex);
  g_test_add_func("/emulator/magicard/overlay", test_magicard_overlay);
  g_test_add_func("/emulator/magicard/queries", test_magicard_queries);
  g_test_add_func("/emulator/magicard/faults", test_magicard_faults);
  g_test_add_func("/emulator/magicard/malformed", test_magicard_malformed);
  g_test_add_func("/emulator/magicard/splits", test_magicard_splits);
  g_test_add_func("/emulator/many-cards", test_many_cards);
  g_test_add_func("/emulator/fuzz", test_fuzz);
  return g_test_run();
}
