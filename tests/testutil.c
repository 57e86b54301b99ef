#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

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

cs_job_t *testutil_holder_job(guint n, const char *reference) {
  g_autofree char *example = testutil_src("examples/special-operation.json");
  g_autofree char *photo_path = testutil_src("examples/photos/holder-male.jpg");
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(GError) error = NULL;
  cs_job_t *job = cs_job_load_file(example, report, &error);
  g_assert_no_error(error);
  g_assert_nonnull(job);
  char *photo = NULL;
  gsize photo_len = 0;
  g_assert_true(g_file_get_contents(photo_path, &photo, &photo_len, NULL));
  g_clear_pointer(&job->record->photo.path, g_free);
  job->record->photo.data = g_bytes_new_take(photo, photo_len);
  g_autofree char *seq = g_strdup_printf("%03u", 2 * n + 1);
  g_free(job->record->id_number);
  job->record->id_number = testutil_id("110105", "19850312", seq);
  g_free(job->record->certificate_number);
  job->record->certificate_number = g_strconcat("T", job->record->id_number, NULL);
  g_free(job->reference);
  job->reference = g_strdup(reference);
  return job;
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

void testutil_result_clear(testutil_result_t *r) {
  g_clear_pointer(&r->out, g_free);
  g_clear_pointer(&r->err, g_free);
}

testutil_result_t testutil_cardspool(const char *const *args, const char *const *env_extra) {
  const char *exe = g_getenv("CS_TEST_CARDSPOOL");
  g_assert_nonnull(exe);
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)exe);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add(argv, (char *)args[i]);
  g_ptr_array_add(argv, NULL);
  g_auto(GStrv) env = g_get_environ();
  env = g_environ_setenv(env, "LC_ALL", "C.UTF-8", TRUE);
  env = g_environ_unsetenv(env, "LANGUAGE");
  env = g_environ_unsetenv(env, "CARDSPOOL_TOKEN");
  for (guint i = 0; env_extra && env_extra[i]; i++) {
    g_auto(GStrv) kv = g_strsplit(env_extra[i], "=", 2);
    env = kv[1] ? g_environ_setenv(env, kv[0], kv[1], TRUE) : g_environ_unsetenv(env, kv[0]);
  }
  testutil_result_t r = {0};
  g_autoptr(GError) error = NULL;
  int wait_status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &r.out,
                             &r.err, &wait_status, &error));
  g_assert_no_error(error);
  g_assert_true(WIFEXITED(wait_status));
  r.status = WEXITSTATUS(wait_status);
  g_autofree char *line = g_strjoinv(" ", (char **)argv->pdata + 1);
  g_test_message("cardspool %s\nexit %d\nstdout:\n%s\nstderr:\n%s", line, r.status, r.out, r.err);
  /* under ASan a leak or an error also ends a program with 1: it must not pass for a refusal */
  g_assert_null(strstr(r.err, "Sanitizer"));
  return r;
}
