#include <string.h>

#include "idnumber.h"
#include "testutil.h"

static void test_known_good(void) {
  /* from the facts sheet, GB 11643-1999 examples */
  const char *good[] = {"11010519491231002X", "440524188001010014", "34052419800101001X",
                        "110105198503120039", "440306199207160042", "650102198804050018"};
  for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
    g_test_message("%s", good[i]);
    g_assert_cmpint(cs_id_number_check(good[i]), ==, CS_ID_OK);
    g_assert_cmpint(cs_id_number_check_char(good[i]), ==, good[i][17]);
  }
}

static void test_check_char_vectors(void) {
  /* Each first-17 maps to its own check character, including X and 0..9. */
  const struct {
    const char *first17;
    char check;
  } v[] = {
      {"11010519491231002", 'X'}, {"44052418800101001", '4'}, {"34052419800101001", 'X'},
      {"11010519850312003", '9'}, {"44030619920716004", '2'}, {"65010219880405001", '8'},
      {"32058219721109003", '3'}, {"51010719990101002", '1'}, {"00000000000000000", '1'},
  };
  for (guint i = 0; i < G_N_ELEMENTS(v); i++)
    g_assert_cmpint(cs_id_number_check_char(v[i].first17), ==, v[i].check);
  g_assert_cmpint(cs_id_number_check_char("1101051949123100A"), ==, 0);
}

static void test_every_wrong_check_char_rejected(void) {
  const char *good = "110105198503120039";
  const char *alphabet = "0123456789X";
  for (const char *c = alphabet; *c; c++) {
    char id[19];
    memcpy(id, good, 19);
    id[17] = *c;
    g_assert_cmpint(cs_id_number_check(id), ==, *c == '9' ? CS_ID_OK : CS_ID_CHECKSUM);
  }
}

static void test_single_digit_errors_detected(void) {
  /* MOD 11-2 catches every single-digit substitution */
  const char *good = "440306199207160042";
  for (int pos = 0; pos < 17; pos++)
    for (char d = '0'; d <= '9'; d++) {
      if (good[pos] == d)
        continue;
      char id[19];
      memcpy(id, good, 19);
      id[pos] = d;
      g_assert_cmpint(cs_id_number_check(id), !=, CS_ID_OK);
    }
}

static void test_bad(void) {
  const struct {
    const char *id;
    cs_id_status_t status;
  } bad[] = {
      {"", CS_ID_LENGTH},
      {"11010519491231002", CS_ID_LENGTH},
      {"11010519491231002XX", CS_ID_LENGTH},
      {"11010519491231002x", CS_ID_CHARS}, /* lower-case x */
      {"1101051949123100X2", CS_ID_CHARS},
      {"11010519491231O02X", CS_ID_CHARS}, /* letter O for zero */
      {"１１０１０５１９４９１２３１００２", CS_ID_LENGTH}, /* full-width digits: bytes */
      {"110105 949123100 X", CS_ID_CHARS},
      {"990105194912310021", CS_ID_PROVINCE},
      {"000105194912310021", CS_ID_PROVINCE},
      {"190105194912310021", CS_ID_PROVINCE},
      {"720105194912310021", CS_ID_PROVINCE},
      {"110105198502300031", CS_ID_BIRTH_DATE}, /* 30 February */
      {"110105198513010031", CS_ID_BIRTH_DATE}, /* month 13 */
      {"110105198501000031", CS_ID_BIRTH_DATE}, /* day 0 */
      {"110105190002290031", CS_ID_BIRTH_DATE}, /* 1900 was not a leap year */
      {"110105198503120038", CS_ID_CHECKSUM},
      {"11010519491231002 ", CS_ID_CHARS},
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_test_message("%s", bad[i].id);
    g_assert_cmpint(cs_id_number_check(bad[i].id), ==, bad[i].status);
  }
  g_assert_cmpint(cs_id_number_check(NULL), ==, CS_ID_LENGTH);
}

static void test_birth_and_sex(void) {
  cs_date_t d = cs_id_number_birth_date("11010519491231002X");
  g_assert_cmpuint(d.year, ==, 1949);
  g_assert_cmpuint(d.month, ==, 12);
  g_assert_cmpuint(d.day, ==, 31);
  g_assert_false(cs_id_number_is_male("11010519491231002X")); /* 2: even */
  g_assert_true(cs_id_number_is_male("440524188001010014"));  /* 1: odd */
  g_autofree char *leap = testutil_id("110105", "20000229", "001");
  g_assert_cmpint(cs_id_number_check(leap), ==, CS_ID_OK);
}

static void test_provinces(void) {
  int known = 0;
  for (int code = 0; code < 100; code++)
    known += cs_id_province_known(code);
  g_assert_cmpint(known, ==, 5 + 3 + 7 + 6 + 5 + 5 + 1 + 2); /* 34 province-level codes */
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/idnumber/known-good", test_known_good);
  g_test_add_func("/idnumber/check-char-vectors", test_check_char_vectors);
  g_test_add_func("/idnumber/every-wrong-check-char", test_every_wrong_check_char_rejected);
  g_test_add_func("/idnumber/single-digit-errors", test_single_digit_errors_detected);
  g_test_add_func("/idnumber/bad", test_bad);
  g_test_add_func("/idnumber/birth-and-sex", test_birth_and_sex);
  g_test_add_func("/idnumber/provinces", test_provinces);
  return g_test_run();
}
