#include "i18n.h"

#include "config.h"

void cs_i18n_init(void) {
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    const char *dir = g_getenv("CARDSPOOL_LOCALEDIR");
    bindtextdomain(GETTEXT_PACKAGE, dir && *dir ? dir : CS_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    g_once_init_leave(&done, 1);
  }
}
