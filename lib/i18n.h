/* Private: translation set-up shared by the library and the tools. */
#pragma once

#include <glib/gi18n-lib.h>

/* Binds the "cardspool" text domain to $CARDSPOOL_LOCALEDIR or the installed locale folder.
 * Idempotent and thread-safe. */
void cs_i18n_init(void);
