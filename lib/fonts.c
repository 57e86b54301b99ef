#include "fonts.h"

#include <fontconfig/fontconfig.h>
#include <glib/gstdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <pango/pangocairo.h>
#include <pango/pangofc-fontmap.h>
#include <json-glib/json-glib.h>

#include "config.h"
#include "error.h"
#include "i18n.h"
#include "io.h"

typedef struct {
  char *role;
  char *family;
  char *file;
} font_entry_t;

struct cs_fonts {
  GArray *entries;       /* of font_entry_t */
  GHashTable *families;  /* role -> "Family,Fallback…" */
  FcConfig *config;
  FcCharSet *coverage;   /* union over every face of every pinned file */
  PangoFontMap *font_map;
};

static void entry_clear(gpointer p) {
  font_entry_t *e = p;
  g_free(e->role);
  g_free(e->family);
  g_free(e->file);
}

void cs_fonts_free(cs_fonts_t *f) {
  if (f == NULL)
    return;
  /* Pango 1.50 (Debian 12) does not release the font map's reference to its FcConfig when the
   * map is finalised (later Pango does); detaching the config releases it. */
  if (f->font_map)
    pango_fc_font_map_set_config(PANGO_FC_FONT_MAP(f->font_map), NULL);
  g_clear_object(&f->font_map);
  if (f->coverage)
    FcCharSetDestroy(f->coverage);
  if (f->config)
    FcConfigDestroy(f->config);
  g_clear_pointer(&f->families, g_hash_table_unref);
  g_clear_pointer(&f->entries, g_array_unref);
  g_free(f);
}

static gboolean sha256_file(const char *path, char out[65], GError **error) {
  g_autoptr(GError) local = NULL;
  g_autoptr(GMappedFile) map = g_mapped_file_new(path, FALSE, &local);
  if (map == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_FONT, _("pinned font %s cannot be read: %s"), path,
                local->message);
    return FALSE;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (!EVP_Digest(g_mapped_file_get_contents(map), g_mapped_file_get_length(map), md, &md_len,
                  EVP_sha256(), NULL)) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "SHA-256 failed");
    return FALSE;
  }
  for (unsigned int i = 0; i < md_len; i++)
    g_snprintf(out + 2 * i, 3, "%02x", md[i]);
  return TRUE;
}

static const char *member_string(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(n);
}

/* Checks one manifest entry against the file and adds it to the private configuration. */
static gboolean add_entry(cs_fonts_t *f, JsonObject *o, guint index, GError **error) {
  const char *role = member_string(o, "role"), *family = member_string(o, "family");
  const char *file = member_string(o, "file"), *sha = member_string(o, "sha256");
  JsonNode *size = json_object_get_member(o, "size");
  if (!role || !family || !file || !sha || strlen(sha) != 64 || size == NULL ||
      json_node_get_value_type(size) != G_TYPE_INT64) {
    g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                "manifest.json: $.fonts[%u]: needs role, family, file, size and sha256", index);
    return FALSE;
  }
  GStatBuf st;
  if (g_stat(file, &st) != 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_FONT,
                _("pinned font %s is missing (install the Debian package %s)"), file,
                member_string(o, "package") ? member_string(o, "package") : "?");
    return FALSE;
  }
  if ((gint64)st.st_size != json_node_get_int(size)) {
    g_set_error(error, CS_ERROR, CS_ERROR_FONT,
                _("pinned font %s is %lld bytes, not the %lld bytes the manifest pins"), file,
                (long long)st.st_size, (long long)json_node_get_int(size));
    return FALSE;
  }
  char digest[65];
  if (!sha256_file(file, digest, error))
    return FALSE;
  if (g_ascii_strcasecmp(digest, sha) != 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_FONT,
                _("pinned font %s has SHA-256 %s, not the %s the manifest pins"), file, digest,
                sha);
    return FALSE;
  }
  if (!FcConfigAppFontAddFile(f->config, (const FcChar8 *)file)) {
    g_set_error(error, CS_ERROR, CS_ERROR_FONT, _("fontconfig cannot load %s"), file);
    return FALSE;
  }
  font_entry_t e = {g_strdup(role), g_strdup(family), g_strdup(file)};
  g_array_append_val(f->entries, e);
  return TRUE;
}

/* role -> "Family,Fallback1,Fallback2": fallbacks after every role's own family. */
static void build_families(cs_fonts_t *f) {
  g_autoptr(GString) fallback = g_string_new(NULL);
  for (guint i = 0; i < f->entries->len; i++) {
    font_entry_t *e = &g_array_index(f->entries, font_entry_t, i);
    if (g_str_equal(e->role, "fallback") && !strstr(fallback->str, e->family))
      g_string_append_printf(fallback, ",%s", e->family);
  }
  for (guint i = 0; i < f->entries->len; i++) {
    font_entry_t *e = &g_array_index(f->entries, font_entry_t, i);
    if (g_str_equal(e->role, "fallback") || g_hash_table_contains(f->families, e->role))
      continue;
    g_hash_table_insert(f->families, g_strdup(e->role),
                        g_strconcat(e->family, fallback->str, NULL));
  }
}

cs_fonts_t *cs_fonts_new(const char *dir, GError **error) {
  cs_i18n_init();
  if (dir == NULL)
    dir = cs_resource_dir("CARDSPOOL_FONTSDIR", CS_FONTSDIR, CS_SOURCE_FONTSDIR, "manifest.json");
  g_autoptr(cs_fonts_t) f = g_new0(cs_fonts_t, 1);
  f->entries = g_array_new(FALSE, TRUE, sizeof(font_entry_t));
  g_array_set_clear_func(f->entries, entry_clear);
  f->families = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  f->config = FcConfigCreate();
  g_autofree char *conf = g_build_filename(dir, "fonts.conf", NULL);
  if (!FcConfigParseAndLoad(f->config, (const FcChar8 *)conf, FcTrue)) {
    g_set_error(error, CS_ERROR, CS_ERROR_DATA, _("cannot load the font configuration %s"),
                conf);
    return NULL;
  }
  g_autofree char *manifest = g_build_filename(dir, "manifest.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) local = NULL;
  if (!json_parser_load_from_file(parser, manifest, &local)) {
    g_set_error(error, CS_ERROR, CS_ERROR_DATA, "%s: %s", manifest, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(parser);
  JsonNode *list = root && JSON_NODE_HOLDS_OBJECT(root)
                       ? json_object_get_member(json_node_get_object(root), "fonts")
                       : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY(list) ||
      json_array_get_length(json_node_get_array(list)) == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_DATA, "%s: $.fonts: a non-empty array is required",
                manifest);
    return NULL;
  }
  JsonArray *arr = json_node_get_array(list);
  for (guint i = 0; i < json_array_get_length(arr); i++) {
    JsonNode *n = json_array_get_element(arr, i);
    if (!JSON_NODE_HOLDS_OBJECT(n)) {
      g_set_error(error, CS_ERROR, CS_ERROR_DATA, "%s: $.fonts[%u]: not an object", manifest, i);
      return NULL;
    }
    if (!add_entry(f, json_node_get_object(n), i, error))
      return NULL;
  }
  build_families(f);

  f->coverage = FcCharSetCreate();
  FcFontSet *set = FcConfigGetFonts(f->config, FcSetApplication);
  for (int i = 0; set && i < set->nfont; i++) {
    FcCharSet *cs = NULL;
    if (FcPatternGetCharSet(set->fonts[i], FC_CHARSET, 0, &cs) == FcResultMatch)
      FcCharSetMerge(f->coverage, cs, NULL);
  }

  f->font_map = pango_cairo_font_map_new_for_font_type(CAIRO_FONT_TYPE_FT);
  if (f->font_map == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_FONT, "no FreeType font map in this Pango build");
    return NULL;
  }
  pango_fc_font_map_set_config(PANGO_FC_FONT_MAP(f->font_map), f->config);
  /* Pango initialises fontconfig's default configuration in a thread of its own when a font
   * map is made, even one with a private configuration. get_config() waits for that thread,
   * so it cannot still be running when cs_fonts_shutdown() tears fontconfig down (a crash at
   * exit under load, seen in the CLI tests). */
  (void)pango_fc_font_map_get_config(PANGO_FC_FONT_MAP(f->font_map));
  return g_steal_pointer(&f);
}

void cs_fonts_shutdown(void) {
  cairo_debug_reset_static_data();
  FcFini();
}

PangoContext *cs_fonts_create_context(const cs_fonts_t *f) {
  PangoContext *ctx = pango_font_map_create_context(f->font_map);
  cairo_font_options_t *opt = cairo_font_options_create();
  cairo_font_options_set_hint_style(opt, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics(opt, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_antialias(opt, CAIRO_ANTIALIAS_GRAY);
  pango_cairo_context_set_font_options(ctx, opt);
  cairo_font_options_destroy(opt);
  pango_context_set_round_glyph_positions(ctx, FALSE);
  pango_context_set_language(ctx, pango_language_from_string("zh-cn"));
  return ctx;
}

const char *cs_fonts_families(const cs_fonts_t *f, const char *role) {
  return g_hash_table_lookup(f->families, role);
}

gboolean cs_fonts_cover(const cs_fonts_t *f, const char *text, gunichar *missing) {
  for (const char *p = text; *p; p = g_utf8_next_char(p)) {
    gunichar ch = g_utf8_get_char(p);
    if (ch == '\n')
      continue; /* a line break, not a glyph */
    if (!FcCharSetHasChar(f->coverage, ch)) {
      if (missing)
        *missing = ch;
      return FALSE;
    }
  }
  return TRUE;
}

guint cs_fonts_n_files(const cs_fonts_t *f) { return f->entries->len; }

const char *cs_fonts_file(const cs_fonts_t *f, guint index) {
  g_return_val_if_fail(index < f->entries->len, NULL);
  return g_array_index(f->entries, font_entry_t, index).file;
}
