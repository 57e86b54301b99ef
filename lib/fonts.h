/* Pinned fonts: the renderer draws with the font files listed in fonts/manifest.json and with
 * nothing else. Each file's size and SHA-256 are checked when the set is loaded; fontconfig is
 * given a private configuration (fonts/fonts.conf) with those files only, so the machine's
 * fonts and settings cannot change a card. */
#pragma once

#include <glib.h>
#include <pango/pango.h>

G_BEGIN_DECLS

typedef struct cs_fonts cs_fonts_t;

/* dir holds manifest.json and fonts.conf; NULL: $CARDSPOOL_FONTSDIR, installed, source tree.
 * Errors: CS_ERROR_FONT (a file missing or different), CS_ERROR_DATA (bad manifest). */
cs_fonts_t *cs_fonts_new(const char *dir, GError **error);
void cs_fonts_free(cs_fonts_t *fonts);

/* A new Pango context on the private font map: unhinted outlines, unrounded glyph positions,
 * so layout does not depend on the output resolution. */
PangoContext *cs_fonts_create_context(const cs_fonts_t *fonts);
/* "Family,Fallback,…" for a role ("song", "hei"), or NULL if the manifest has no such role. */
const char *cs_fonts_families(const cs_fonts_t *fonts, const char *role);
/* TRUE if some pinned font has a glyph for every character of text; else the first missing
 * character goes to *missing. */
gboolean cs_fonts_cover(const cs_fonts_t *fonts, const char *text, gunichar *missing);
/* Files as listed in the manifest, for reports. */
guint cs_fonts_n_files(const cs_fonts_t *fonts);
const char *cs_fonts_file(const cs_fonts_t *fonts, guint index);

/* At process exit, after every renderer and font set is freed: releases cairo's font cache and
 * fontconfig's global state (Pango loads the system configuration in a thread even though it
 * is never used here), so that leak checkers see a clean exit. */
void cs_fonts_shutdown(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_fonts_t, cs_fonts_free)

G_END_DECLS
