#include "date.h"

static void test_parse(void) {
  cs_date_t d;
  gboolean not_a_day;
  g_assert_true(cs_date_parse("2024-02-29", &d, &not_a_day));
  g_assert_cmpuint(d.year, ==, 2024);
  g_assert_cmpuint(d.month, ==, 2);
  g_assert_cmpuint(d.day, ==, 29);
  const char *malformed[] = {"2024-2-29", "20240229", "2024/02/29", "2024-02-29T00:00:00",
                             " 2024-02-29", "2024-02-2a", "", "２０２４-02-29", "+2024-02-29"};
  for (guint i = 0; i < G_N_ELEMENTS(malformed); i++) {
    g_assert_false(cs_date_parse(malformed[i], &d, &not_a_day));
    g_assert_false(not_a_day);
    g_assert_false(cs_date_is_set(d));
  }
  const char *not_days[] = {"2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31",
                            "0000-01-01"};
  for (guint i = 0; i < G_N_ELEMENTS(not_days); i++) {
    g_assert_false(cs_date_parse(not_days[i], &d, &not_a_day));
    g_assert_true(not_a_day);
  }
}

static void test_arithmetic(void) {
  cs_date_t leap = {2024, 2, 29};
  cs_date_t plus6 = cs_date_add_years(leap, 6);
  g_assert_cmpuint(plus6.month, ==, 2);
  g_assert_cmpuint(plus6.day, ==, 28);
  cs_date_t plus4 = cs_date_add_years(leap, 4);
  g_assert_cmpuint(plus4.day, ==, 29);
  cs_date_t d = cs_date_add_days((cs_date_t){2024, 12, 31}, 1);
  g_assert_cmpint(cs_date_compare(d, (cs_date_t){2025, 1, 1}), ==, 0);
  d = cs_date_add_days((cs_date_t){2025, 3, 1}, -1);
  g_assert_cmpint(cs_date_compare(d, (cs_date_t){2025, 2, 28}), ==, 0);
  g_assert_cmpint(cs_date_years_between((cs_date_t){2000, 6, 15}, (cs_date_t){2018, 6, 14}), ==,
                  17);
  g_assert_cmpint(cs_date_years_between((cs_date_t){2000, 6, 15}, (cs_date_t){2018, 6, 15}), ==,
                  18);
  g_autofree char *s = cs_date_format((cs_date_t){987, 1, 2});
  g_assert_cmpstr(s, ==, "0987-01-02");
  g_assert_cmpint(cs_date_to_days((cs_date_t){2024, 3, 1}) -
                      cs_date_to_days((cs_date_t){2024, 2, 1}),
                  ==, 29);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/date/parse", test_parse);
  g_test_add_func("/date/arithmetic", test_arithmetic);
  return g_test_run();
}
