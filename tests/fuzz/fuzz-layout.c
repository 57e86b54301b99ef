/* The layout loader: cs_layout_load_data() on any document, "svg" files resolved in the real
 * layouts folder (so an include of its artwork loads, and anything else is refused). */
#include <string.h>

#include "cardspool.h"
#include "fuzz-common.h"

static char *layouts_dir;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  layouts_dir = fuzz_src("layouts");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_json_several_roots(data, size))
    return 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_layout_t) layout =
      cs_layout_load_data((const char *)data, size, "fuzz.json", layouts_dir, &error);
  if (layout == NULL) {
    if (error == NULL || !g_str_has_prefix(error->message, "fuzz.json: "))
      abort();
    return 0;
  }
  if (error != NULL || layout->sha256 == NULL || strlen(layout->sha256) != 64 ||
      layout->name == NULL || layout->sides == NULL)
    abort();
  /* what the renderer relies on once a layout has loaded */
  for (guint i = 0; i < layout->sides->len; i++) {
    const cs_side_t *s = layout->sides->pdata[i];
    if (cs_layout_side(layout, s->name) != s || s->width <= 0 || s->height <= 0)
      abort();
    for (guint j = 0; j < s->elements->len; j++) {
      const cs_element_t *e = s->elements->pdata[j];
      if (e->type == CS_EL_FIELD && !cs_layout_field_known(e->field))
        abort();
      if (e->type == CS_EL_INCLUDE && cs_layout_side(layout, e->include_side) == NULL)
        abort();
    }
  }
  return 0;
}
