/* Pinned fonts: the manifest's files and their hashes, the families per role, coverage, and
 * that the private fontconfig configuration really keeps the machine's fonts out. */
#include <fontconfig/fontconfig.h>
#include <glib/gstdio.h>
#include <malloc.h>
#include <pango/pangocairo.h>
#include <string.h>

#include "error.h"
#include "fonts.h"
#include "testutil.h"

/* Loading verifies ~146 MB of hashes: once per process, freed at the end of main. */
static cs_fonts_t *shared_fonts;

static const cs_fonts_t *fonts(void) {
  if (shared_fonts == NULL) {
    g_autoptr(GError) error = NULL;
    shared_fonts = cs_fonts_new(NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(shared_fonts);
  }
  return shared_fonts;
}

static JsonNode *manifest(void) {
  g_autofree char *path = testutil_src("fonts/manifest.json");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  return testutil_parse(text);
}

static JsonObject *manifest_entry(JsonNode *root, guint i) {
  JsonArray *a = json_object_get_array_member(json_node_get_object(root), "fonts");
  return json_array_get_object_element(a, i);
}

/* ---- loading and families ---- */

static void test_loads(void) {
  const cs_fonts_t *f = fonts();
  g_assert_cmpuint(cs_fonts_n_files(f), ==, 6);
  g_autoptr(JsonNode) m = manifest();
  for (guint i = 0; i < 6; i++) {
    const char *file = cs_fonts_file(f, i);
    g_assert_nonnull(file);
    g_assert_cmpstr(file, ==, json_object_get_string_member(manifest_entry(m, i), "file"));
    g_assert_true(g_path_is_absolute(file));
    g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
  }

  const char *song = cs_fonts_families(f, "song");
  g_assert_nonnull(song);
  g_assert_true(g_str_has_prefix(song, "Noto Serif CJK SC"));
  g_assert_true(g_str_has_suffix(song, ",HanaMinA,HanaMinB"));
  g_assert_cmpstr(song, ==, "Noto Serif CJK SC,HanaMinA,HanaMinB");

  const char *hei = cs_fonts_families(f, "hei");
  g_assert_nonnull(hei);
  g_assert_true(g_str_has_prefix(hei, "Noto Sans CJK SC"));
  g_assert_true(g_str_has_suffix(hei, ",HanaMinA,HanaMinB"));
  g_assert_cmpstr(hei, ==, "Noto Sans CJK SC,HanaMinA,HanaMinB");

  g_assert_null(cs_fonts_families(f, "kai"));
  g_assert_null(cs_fonts_families(f, ""));
  g_assert_null(cs_fonts_families(f, "fallback")); /* a fallback is not a role of its own */
}

/* ---- coverage ---- */

typedef struct {
  const char *name, *text;
  gboolean covered;
  gunichar missing;
} cover_t;

static const cover_t covers[] = {
    {"common-han", "张伟中华人民共和国特种作业操作证安全生产知识和管理能力考核合格证",
     TRUE, 0},
    {"ascii", " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
              "abcdefghijklmnopqrstuvwxyz{|}~", TRUE, 0},
    {"middle-dot", "阿依古丽·买买提", TRUE, 0},
    {"ext-b-hanamin-b", "\xf0\xa0\x80\x81", TRUE, 0},            /* U+20001 */
    {"ext-g-missing", "张\xf0\xb0\x80\x80伟", FALSE, 0x30000},    /* U+30000 */
    /* U+1F600 has a (monochrome) glyph in HanaMinA (cmap 1F600-1F601, 1F603-1F608, …);
     * U+1F602 is in no pinned file */
    {"emoji-1f600-in-hanamin-a", "ok \xf0\x9f\x98\x80", TRUE, 0},
    {"emoji-missing", "ok \xf0\x9f\x98\x82", FALSE, 0x1F602},     /* U+1F602 */
    {"first-missing-reported", "\xf0\x9f\x98\x82\xf0\xb0\x80\x80", FALSE, 0x1F602},
    {"newline-ignored", "张\n伟\n", TRUE, 0},
    {"empty", "", TRUE, 0},
};

static void test_cover(gconstpointer data) {
  const cover_t *c = data;
  const cs_fonts_t *f = fonts();
  gunichar missing = 0xFFFF;
  gboolean ok = cs_fonts_cover(f, c->text, &missing);
  g_assert_cmpint(ok, ==, c->covered);
  if (c->covered)
    g_assert_cmpuint(missing, ==, 0xFFFF); /* untouched */
  else
    g_assert_cmphex(missing, ==, c->missing);
  g_assert_cmpint(cs_fonts_cover(f, c->text, NULL), ==, c->covered);
}

/* ---- broken copies of the fonts folder ---- */

typedef struct {
  const char *name;
  int entry;            /* manifest entry to edit, -1: none */
  const char *member;   /* its member to set */
  const char *value;    /* JSON literal, NULL: remove */
  const char *manifest; /* the whole manifest instead, or NULL */
  gboolean no_conf, no_manifest;
  int code;
  const char *expect[3]; /* phrases the message contains */
} broken_t;

static const broken_t broken[] = {
    /* (early entries: every entry before the broken one is hashed, 26 MB each) */
    {"sha256-altered", 0, "sha256",
     "\"0000000000000000000000000000000000000000000000000000000000000000\"", NULL, FALSE, FALSE,
     CS_ERROR_FONT,
     {"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
      "a04178ec485dffdff7cc0c0c20e1fce9202d7e2160d805e8e44a4c8841c58481",
      "0000000000000000000000000000000000000000000000000000000000000000"}},
    /* the second entry: the first is already in the configuration when this one fails */
    {"size-altered", 1, "size", "27290961", NULL, FALSE, FALSE, CS_ERROR_FONT,
     {"/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", "27290960", "27290961"}},
    {"file-missing", 0, "file", "\"/usr/share/fonts/opentype/noto/NotoSerifCJK-Gone.ttc\"", NULL,
     FALSE, FALSE, CS_ERROR_FONT, {"NotoSerifCJK-Gone.ttc", "fonts-noto-cjk 1:20220127+repack1-1"}},
    {"sha256-missing", 0, "sha256", NULL, NULL, FALSE, FALSE, CS_ERROR_DATA, {"$.fonts[0]"}},
    {"sha256-short", 2, "sha256", "\"b76b\"", NULL, FALSE, FALSE, CS_ERROR_DATA, {"$.fonts[2]"}},
    {"size-string", 0, "size", "\"26297400\"", NULL, FALSE, FALSE, CS_ERROR_DATA, {"$.fonts[0]"}},
    {"manifest-malformed", -1, NULL, NULL, "{\"fonts\": [", FALSE, FALSE, CS_ERROR_DATA,
     {"manifest.json"}},
    {"fonts-empty", -1, NULL, NULL, "{\"fonts\": []}", FALSE, FALSE, CS_ERROR_DATA,
     {"manifest.json", "$.fonts"}},
    {"fonts-missing", -1, NULL, NULL, "{}", FALSE, FALSE, CS_ERROR_DATA, {"$.fonts"}},
    {"manifest-array", -1, NULL, NULL, "[]", FALSE, FALSE, CS_ERROR_DATA, {"$.fonts"}},
    {"manifest-missing", -1, NULL, NULL, NULL, FALSE, TRUE, CS_ERROR_DATA, {"manifest.json"}},
    {"conf-missing", -1, NULL, NULL, NULL, TRUE, FALSE, CS_ERROR_DATA, {"fonts.conf"}},
};

/* A copy of fonts/ in a temp dir: manifest.json edited or replaced, fonts.conf kept or not. */
static char *broken_copy(const broken_t *c) {
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("cs-fonts-XXXXXX", &error);
  g_assert_no_error(error);
  if (!c->no_conf) {
    g_autofree char *src = testutil_src("fonts/fonts.conf");
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
    g_autofree char *dst = g_build_filename(dir, "fonts.conf", NULL);
    g_assert_true(g_file_set_contents(dst, text, -1, NULL));
  }
  if (!c->no_manifest) {
    g_autofree char *text = NULL;
    if (c->manifest)
      text = g_strdup(c->manifest);
    else {
      g_autoptr(JsonNode) m = manifest();
      if (c->entry >= 0) {
        JsonObject *e = manifest_entry(m, (guint)c->entry);
        if (c->value)
          json_object_set_member(e, c->member, testutil_parse(c->value));
        else
          json_object_remove_member(e, c->member);
      }
      text = testutil_to_string(m);
    }
    g_autofree char *dst = g_build_filename(dir, "manifest.json", NULL);
    g_assert_true(g_file_set_contents(dst, text, -1, NULL));
  }
  return dir;
}

static void test_broken(gconstpointer data) {
  const broken_t *c = data;
  g_autofree char *dir = broken_copy(c);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_fonts_t) f = cs_fonts_new(dir, &error);
  g_assert_null(f);
  g_assert_error(error, CS_ERROR, c->code);
  g_test_message("%s", error->message);
  for (guint i = 0; i < G_N_ELEMENTS(c->expect) && c->expect[i]; i++)
    if (!strstr(error->message, c->expect[i]))
      g_error("message \"%s\" lacks \"%s\"", error->message, c->expect[i]);
  testutil_remove_dir(dir);
}

/* The unchanged copy loads: the broken cases fail for their change, not for the copy. */
static void test_copy_loads(void) {
  const broken_t same = {"same", -1, NULL, NULL, NULL, FALSE, FALSE, 0, {NULL}};
  g_autofree char *dir = broken_copy(&same);
  g_autoptr(GError) error = NULL;
  cs_fonts_t *f = cs_fonts_new(dir, &error);
  g_assert_no_error(error);
  g_assert_nonnull(f);
  g_assert_cmpuint(cs_fonts_n_files(f), ==, 6);
  g_assert_cmpstr(cs_fonts_families(f, "song"), ==, "Noto Serif CJK SC,HanaMinA,HanaMinB");
  cs_fonts_free(f);
  testutil_remove_dir(dir);
}

/* Loading and freeing a font set many times (a daemon reloading its fonts) must not grow the
 * heap: cs_fonts_free() must release the private fontconfig configuration and the font data
 * it holds. Measured with one font, natively (mallinfo2). */
static void test_free_releases_config(void) {
  const char *preload = g_getenv("LD_PRELOAD");
  if (preload && strstr(preload, "vgpreload")) {
    g_test_skip("under valgrind, which checks this itself (and mallinfo2 does not)");
    return;
  }
  /* a manifest with one entry: NotoSansCJK-Regular.ttc (19 MB, many faces) */
  g_autoptr(JsonNode) m = manifest();
  JsonArray *a = json_object_get_array_member(json_node_get_object(m), "fonts");
  JsonNode *keep = json_array_dup_element(a, 2);
  JsonArray *one_entry = json_array_new();
  json_array_add_element(one_entry, keep);
  json_object_set_array_member(json_node_get_object(m), "fonts", one_entry);
  g_autofree char *text = testutil_to_string(m);
  const broken_t one = {"one", -1, NULL, NULL, text, FALSE, FALSE, 0, {NULL}};
  g_autofree char *dir = broken_copy(&one);
  size_t before = 0;
  for (int round = 0; round < 5; round++) { /* one to warm up, four measured */
    if (round == 1)
      before = mallinfo2().uordblks;
    g_autoptr(GError) error = NULL;
    cs_fonts_t *f = cs_fonts_new(dir, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(cs_fonts_n_files(f), ==, 1);
    cs_fonts_free(f);
  }
  /* leaking: ~1.1 MB; released: about 10 KB, or less than before */
  gssize growth = (gssize)mallinfo2().uordblks - (gssize)before;
  g_test_message("heap growth over 4 load/free cycles: %" G_GSSIZE_FORMAT " bytes", growth);
  g_assert_cmpint(growth, <, 256 * 1024);
  testutil_remove_dir(dir);
}

/* A manifest entry that is not an object must be refused with an error, like any other. */
static void test_entry_not_object(void) {
  const broken_t c = {"entry-string", -1, NULL, NULL, "{\"fonts\": [\"x\"]}", FALSE, FALSE,
                      CS_ERROR_DATA, {"$.fonts[0]"}};
  test_broken(&c);
}

/* ---- the private configuration ---- */

/* Every family name (in every language) of every face of the pinned files. */
static GHashTable *pinned_families(const cs_fonts_t *f) {
  GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < cs_fonts_n_files(f); i++) {
    FcFontSet *set = FcFontSetCreate();
    int count = 0;
    unsigned n = FcFreeTypeQueryAll((const FcChar8 *)cs_fonts_file(f, i), -1, NULL, &count, set);
    g_assert_cmpuint(n, >, 0);
    for (int j = 0; j < set->nfont; j++) {
      FcChar8 *fam = NULL;
      for (int k = 0; FcPatternGetString(set->fonts[j], FC_FAMILY, k, &fam) == FcResultMatch; k++)
        g_hash_table_add(names, g_strdup((const char *)fam));
    }
    FcFontSetDestroy(set);
  }
  return names;
}

/* The family of each run of text laid out in family with ctx, as "offset:family" strings. */
static GPtrArray *run_families(PangoContext *ctx, const char *family, gboolean bold,
                               const char *text) {
  PangoLayout *layout = pango_layout_new(ctx);
  PangoFontDescription *desc = pango_font_description_new();
  pango_font_description_set_family(desc, family);
  pango_font_description_set_absolute_size(desc, 12 * PANGO_SCALE);
  if (bold)
    pango_font_description_set_weight(desc, PANGO_WEIGHT_BOLD);
  pango_layout_set_font_description(layout, desc);
  pango_font_description_free(desc);
  pango_layout_set_text(layout, text, -1);
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  PangoLayoutIter *it = pango_layout_get_iter(layout);
  do {
    PangoLayoutRun *run = pango_layout_iter_get_run_readonly(it);
    if (run == NULL)
      continue;
    PangoFontDescription *d = pango_font_describe(run->item->analysis.font);
    g_ptr_array_add(out, g_strdup_printf("%d:%d:%s:%d", run->item->offset, run->item->length,
                                         pango_font_description_get_family(d),
                                         (int)pango_font_description_get_weight(d)));
    pango_font_description_free(d);
  } while (pango_layout_iter_next_run(it));
  pango_layout_iter_free(it);
  g_object_unref(layout);
  g_assert_cmpuint(out->len, >, 0);
  return out;
}

static char *run_family(const char *run) {
  g_auto(GStrv) parts = g_strsplit(run, ":", 4);
  g_assert_cmpuint(g_strv_length(parts), ==, 4);
  return g_strdup(parts[2]);
}

/* Control: on the machine's own fonts, "DejaVu Sans" is drawn in DejaVu Sans, so the check
 * below can fail. Run in a subprocess to keep the system configuration out of this one. */
static void test_system_control(void) {
  if (g_test_subprocess()) {
    FcPattern *p = FcNameParse((const FcChar8 *)"DejaVu Sans");
    FcObjectSet *os = FcObjectSetBuild(FC_FAMILY, NULL);
    FcFontSet *found = FcFontList(NULL, p, os);
    int n = found ? found->nfont : 0;
    FcFontSetDestroy(found);
    FcObjectSetDestroy(os);
    FcPatternDestroy(p);
    if (n == 0) {
      g_test_skip("DejaVu Sans is not installed on this machine");
      return;
    }
    PangoFontMap *map = pango_cairo_font_map_new(); /* on fontconfig's default configuration */
    PangoContext *ctx = pango_font_map_create_context(map);
    g_autoptr(GPtrArray) runs = run_families(ctx, "DejaVu Sans", FALSE, "abc");
    g_object_unref(ctx);
    g_object_unref(map);
    g_autofree char *fam = run_family(runs->pdata[0]);
    g_assert_cmpstr(fam, ==, "DejaVu Sans");
    return;
  }
  /* What leaks there is the system fontconfig's, not ours: no LeakSanitizer in the child.
   * (Registered first, so that no Pango thread of ours is reading the environment.) */
  const char *asan = g_getenv("ASAN_OPTIONS");
  g_autofree char *saved = g_strdup(asan);
  g_autofree char *opts = asan && *asan ? g_strconcat(asan, ":detect_leaks=0", NULL)
                                        : g_strdup("detect_leaks=0");
  g_setenv("ASAN_OPTIONS", opts, TRUE);
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  if (saved)
    g_setenv("ASAN_OPTIONS", saved, TRUE);
  else
    g_unsetenv("ASAN_OPTIONS");
  g_test_trap_assert_passed();
}

static void test_private_config(void) {
  const cs_fonts_t *f = fonts();
  g_autoptr(GHashTable) pinned = pinned_families(f);
  const char *expected[] = {"Noto Serif CJK SC", "Noto Sans CJK SC", "HanaMinA", "HanaMinB",
                            "Noto Sans CJK JP"};
  for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
    g_assert_true(g_hash_table_contains(pinned, expected[i]));
  g_assert_false(g_hash_table_contains(pinned, "DejaVu Sans"));

  g_autoptr(GObject) ctx_ref = G_OBJECT(cs_fonts_create_context(f));
  PangoContext *ctx = PANGO_CONTEXT(ctx_ref);
  /* the font map lists the pinned families and nothing else (but Pango's generic aliases) */
  const char *generic[] = {"Sans", "Serif", "Monospace", "System-ui", NULL};
  PangoFontFamily **families = NULL;
  int n = 0;
  pango_font_map_list_families(pango_context_get_font_map(ctx), &families, &n);
  g_assert_cmpint(n, >, 0);
  for (int i = 0; i < n; i++) {
    const char *name = pango_font_family_get_name(families[i]);
    if (!g_hash_table_contains(pinned, name) && !g_strv_contains(generic, name))
      g_error("the private font map lists \"%s\", not in a pinned file", name);
  }
  g_free(families);

  const char *asked[] = {"DejaVu Sans", "DejaVu Serif", "Sans", "Serif", "Monospace"};
  for (guint i = 0; i < G_N_ELEMENTS(asked); i++) {
    g_autoptr(GPtrArray) runs = run_families(ctx, asked[i], FALSE, "abc");
    for (guint j = 0; j < runs->len; j++) {
      g_autofree char *fam = run_family(runs->pdata[j]);
      g_test_message("%s -> %s", asked[i], (char *)runs->pdata[j]);
      if (!g_hash_table_contains(pinned, fam))
        g_error("\"abc\" in \"%s\" is drawn with \"%s\", not a pinned font", asked[i], fam);
    }
  }
}

static void test_roles_draw(void) {
  const cs_fonts_t *f = fonts();
  g_autoptr(GObject) ctx_ref = G_OBJECT(cs_fonts_create_context(f));
  PangoContext *ctx = PANGO_CONTEXT(ctx_ref);
  const struct {
    const char *role;
    gboolean bold;
    const char *family;
  } cases[] = {{"song", FALSE, "Noto Serif CJK SC"}, {"song", TRUE, "Noto Serif CJK SC"},
               {"hei", FALSE, "Noto Sans CJK SC"},   {"hei", TRUE, "Noto Sans CJK SC"}};
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GPtrArray) runs =
        run_families(ctx, cs_fonts_families(f, cases[i].role), cases[i].bold, "张伟 abc 123");
    /* one run per script (Han, Latin), every one in the role's own family and weight */
    int covered = 0;
    for (guint j = 0; j < runs->len; j++) {
      g_test_message("%s %s -> %s", cases[i].role, cases[i].bold ? "bold" : "regular",
                     (char *)runs->pdata[j]);
      int offset = 0, length = 0;
      char family[64] = "";
      int weight = 0;
      g_assert_cmpint(sscanf(runs->pdata[j], "%d:%d:%63[^:]:%d", &offset, &length, family,
                             &weight), ==, 4);
      g_assert_cmpint(offset, ==, covered);
      covered += length;
      g_assert_cmpstr(family, ==, cases[i].family);
      g_assert_cmpint(weight, ==, cases[i].bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    }
    g_assert_cmpint(covered, ==, (int)strlen("张伟 abc 123"));
  }
}

/* U+20001 is only in HanaMinB: with the "song" families it is drawn in HanaMinB, the
 * characters around it in Noto Serif CJK SC. */
static void test_ext_b_fallback(void) {
  const cs_fonts_t *f = fonts();
  g_autoptr(GObject) ctx_ref = G_OBJECT(cs_fonts_create_context(f));
  PangoContext *ctx = PANGO_CONTEXT(ctx_ref);
  const char *text = "张\xf0\xa0\x80\x81伟"; /* 张 U+20001 伟 */
  g_autoptr(GPtrArray) runs = run_families(ctx, cs_fonts_families(f, "song"), FALSE, text);
  for (guint i = 0; i < runs->len; i++)
    g_test_message("%s", (char *)runs->pdata[i]);
  g_assert_cmpuint(runs->len, ==, 3);
  g_assert_cmpstr(runs->pdata[0], ==, "0:3:Noto Serif CJK SC:400");
  /* (HanaMinB declares itself weight 500: only the family is checked) */
  g_assert_true(g_str_has_prefix(runs->pdata[1], "3:4:HanaMinB:"));
  g_assert_cmpstr(runs->pdata[2], ==, "7:3:Noto Serif CJK SC:400");
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/fonts/system-fonts-control", test_system_control);
  g_test_add_func("/fonts/loads", test_loads);
  for (guint i = 0; i < G_N_ELEMENTS(covers); i++) {
    g_autofree char *p = g_strdup_printf("/fonts/cover/%s", covers[i].name);
    g_test_add_data_func(p, &covers[i], test_cover);
  }
  g_test_add_func("/fonts/broken/unchanged-copy-loads", test_copy_loads);
  for (guint i = 0; i < G_N_ELEMENTS(broken); i++) {
    g_autofree char *p = g_strdup_printf("/fonts/broken/%s", broken[i].name);
    g_test_add_data_func(p, &broken[i], test_broken);
  }
  g_test_add_func("/fonts/broken/entry-not-object", test_entry_not_object);
  g_test_add_func("/fonts/free-releases-config", test_free_releases_config);
  g_test_add_func("/fonts/private/only-pinned-fonts", test_private_config);
  g_test_add_func("/fonts/private/roles-draw", test_roles_draw);
  g_test_add_func("/fonts/private/ext-b-in-hanamin-b", test_ext_b_fallback);
  int rc = g_test_run();
  g_clear_pointer(&shared_fonts, cs_fonts_free);
  /* not in the control subprocess, which used the system's fonts and configuration */
  if (!g_test_subprocess())
    cs_fonts_shutdown();
  return rc;
}
