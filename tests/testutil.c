#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

#include "cardspool.h"
#include "idnumber.h"

char *testutil_src(const char *relative) {
  const char *root = g_getenv("CS_TEST_SRCDIR");
  g_assert_nonnull(root);
  return g_build_filename(root, relative, NULL);
}

JsonNode *testutil_parse(const char *text) {
  g_autoptr(JsonParser) p = json_parser_new();
  g_autoptr(GError) error = NULL;
  g_assert_true(json_parser_load_from_data(p, text, -1, &error));
  g_assert_no_error(error);
  return json_node_copy(json_parser_get_root(p));
}

void testutil_set(JsonNode *root, const char *dotted, const char *value) {
  g_auto(GStrv) parts = g_strsplit(dotted, ".", -1);
  JsonObject *o = json_node_get_object(root);
  guint n = g_strv_length(parts);
  for (guint i = 0; i + 1 < n; i++) {
    JsonNode *child = json_object_get_member(o, parts[i]);
    g_assert_nonnull(child);
    o = json_node_get_object(child);
  }
  if (value == NULL) {
    json_object_remove_member(o, parts[n - 1]);
    return;
  }
  json_object_set_member(o, parts[n - 1], testutil_parse(value));
}

char *testutil_to_string(JsonNode *root) { return json_to_string(root, TRUE); }

char *testutil_id(const char *area, const char *birth, const char *seq) {
  g_autofree char *first = g_strconcat(area, birth, seq, NULL);
  g_assert_cmpuint(strlen(first), ==, 17);
  char check[2] = {cs_id_number_check_char(first), 0};
  return g_strconcat(first, check, NULL);
}

void testutil_remove_dir(const char *dir) {
  g_chmod(dir, 0700); /* a test may have taken its permissions away */
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *n; d && (n = g_dir_read_name(d));) {
    g_autofree char *p = g_build_filename(dir, n, NULL);
    /* a link goes, never what it points to */
    if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
      testutil_remove_dir(p);
    else
      g_unlink(p);
  }
  g_rmdir(dir);
}

cs_card_t *testutil_example_card(cs_renderer_t *renderer, const char *example,
                                 const char *const *sides) {
  static const char *const both[] = {"front", "back", NULL};
  g_autofree char *path = testutil_src(example);
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(path, report, NULL);
  g_assert_nonnull(job);
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, job->record->type, NULL);
  g_assert_nonnull(layout);
  g_autoptr(GError) error = NULL;
  cs_card_t *card = cs_card_new(renderer, layout, job->record, NULL, sides ? sides : both,
                                &error);
  g_assert_no_error(error);
  return card;
}
