#include <glib/gstdio.h>
#include <string.h>

#include "catalogue.h"
#include "error.h"
#include "testutil.h"

static cs_catalogue_t *load(void) {
  g_autoptr(GError) error = NULL;
  cs_catalogue_t *cat = cs_catalogue_load_default(&error);
  g_assert_no_error(error);
  g_assert_nonnull(cat);
  return cat;
}

static void test_loads(void) {
  g_autoptr(cs_catalogue_t) cat = load();
  g_assert_cmpuint(cs_catalogue_n_categories(cat), ==, 11);
  const cs_cert_type_info_t *so = cs_catalogue_type(cat, CS_CERT_SPECIAL_OPERATION);
  g_assert_cmpint(so->validity_years, ==, 6);
  g_assert_cmpint(so->review_years, ==, 3);
  g_assert_cmpint(so->extended_review_years, ==, 6);
  g_assert_cmpint(so->number_rule, ==, CS_NUMBER_T_PLUS_ID);
  g_assert_cmpstr(so->title, ==, "中华人民共和国特种作业操作证");
  const cs_cert_type_info_t *sc = cs_catalogue_type(cat, CS_CERT_SAFETY_COMPETENCE);
  g_assert_cmpint(sc->review_years, ==, 0);
  g_assert_true(sc->fields & CS_FIELD_PERSONNEL_TYPE);
  g_assert_false(sc->fields & CS_FIELD_REVIEW_DUE);
  g_assert_cmpstr(cs_catalogue_find_personnel_type(cat, "principal")->name, ==, "主要负责人");
  g_assert_cmpstr(cs_catalogue_find_industry(cat, "coal_mine")->name, ==, "煤矿");
  g_assert_null(cs_catalogue_find_industry(cat, "nope"));
}

static void test_every_item_in_one_category(void) {
  g_autoptr(cs_catalogue_t) cat = load();
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  guint total = 0;
  for (guint i = 0; i < cs_catalogue_n_categories(cat); i++) {
    const cs_catalogue_entry_t *c = cs_catalogue_category(cat, i);
    for (guint j = 0; j < cs_catalogue_n_items(cat, c->code); j++) {
      const cs_catalogue_entry_t *item = cs_catalogue_item(cat, c->code, j);
      const char *owner = NULL;
      g_assert_true(cs_catalogue_find_item(cat, item->code, &owner) == item);
      g_assert_cmpstr(owner, ==, c->code);
      g_assert_true(g_hash_table_add(seen, (gpointer)item->code)); /* once only */
      g_autofree char *prefix = g_strconcat(c->code, ".", NULL);
      g_assert_true(g_str_has_prefix(item->code, prefix));
      g_assert_cmpuint(strlen(item->name), >, 0);
      total++;
    }
  }
  /* the order No. 30 annex with the three later electrical items: 54 items */
  g_assert_cmpuint(total, ==, 6 + 3 + 2 + 2 + 10 + 8 + 1 + 1 + 16 + 5);
  g_assert_cmpstr(cs_catalogue_find_item(cat, "9.16", NULL)->name, ==, "化工自动化控制仪表作业");
  g_assert_cmpstr(cs_catalogue_find_category(cat, "11")->name, ==, "应急管理部认定的其他作业");
  g_assert_cmpuint(cs_catalogue_n_items(cat, "11"), ==, 0);
  g_assert_null(cs_catalogue_find_item(cat, "1.99", NULL));
}

/* A copy of the data folder with one file replaced, to check the loader's errors. */
static char *broken_copy(const char *file, const char *content) {
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("cs-catalogue-XXXXXX", &error);
  g_assert_no_error(error);
  const char *files[] = {"certificate-types.json", "operations.json", "personnel-types.json",
                         "industries.json"};
  for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autofree char *src_rel = g_build_filename("data", files[i], NULL);
    g_autofree char *src = testutil_src(src_rel);
    g_autofree char *dst = g_build_filename(dir, files[i], NULL);
    g_autofree char *data = NULL;
    g_assert_true(g_file_get_contents(src, &data, NULL, NULL));
    const char *text = g_str_equal(files[i], file) ? content : data;
    if (text)
      g_assert_true(g_file_set_contents(dst, text, -1, NULL));
  }
  return dir;
}

static void test_broken_data_named(void) {
  const struct {
    const char *file, *content, *expect;
  } cases[] = {
      {"operations.json", NULL, "operations.json"},
      {"operations.json", "{", "operations.json"},
      {"operations.json", "{\"categories\": [{\"code\": \"1\", \"name\": \"x\", \"items\": "
                          "[{\"code\": \"1.1\", \"name\": \"a\"}, {\"code\": \"1.1\", \"name\": "
                          "\"b\"}]}]}",
       "duplicate code"},
      {"operations.json",
       "{\"categories\": [{\"code\": \"1\", \"name\": \"x\", \"items\": [{\"code\": \"1.1\", "
       "\"name\": \"a\"}]}, {\"code\": \"2\", \"name\": \"y\", \"items\": [{\"code\": \"1.1\", "
       "\"name\": \"b\"}]}]}",
       "two categories"},
      {"industries.json", "{\"industries\": [{\"code\": \"x\"}]}", "$.industries[0].name"},
      {"certificate-types.json", "{\"types\": []}", "certificate type is missing"},
      {"personnel-types.json", "[]", "not a JSON object"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *dir = broken_copy(cases[i].file, cases[i].content);
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_catalogue_t) cat = cs_catalogue_load(dir, &error);
    g_assert_null(cat);
    g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, cases[i].expect));
    testutil_remove_dir(dir);
  }
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/catalogue/loads", test_loads);
  g_test_add_func("/catalogue/every-item-in-one-category", test_every_item_in_one_category);
  g_test_add_func("/catalogue/broken-data-named", test_broken_data_named);
  return g_test_run();
}
