/* Property: for 1,000 generated valid records (seeded, so a failure can be replayed), both
 * sides lay out; every text's ink stays inside its box; every box lies inside the card's safe
 * margin; no text is smaller than its minimum or has more lines than allowed. */
#include <string.h>

#include "cardspool.h"
#include "render.h"
#include "testutil.h"

#define N_RECORDS 1000

static const cs_date_t today = {2026, 11, 29};

static const char *const areas[] = {"110105", "310101", "440305", "510107", "650102",
                                    "320582", "420102", "370102", "610113", "540102"};
static const char *const common[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "高", "林", "罗", "建", "国", "华", "明", "丽", "强", "军", "平", "芳", "燕",
    "伟", "娜", "秀", "英", "敏", "静", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "超", "霞",
    "阿", "卜", "杜", "热", "合", "曼", "买", "提", "依", "尔", "古", "丽", "扎", "西", "尼",
    "玛", "措", "巴", "图", "鑫", "淼", "犇", "龘", "燚", "赟"};
static const char *const rare[] = {"\xf0\xa0\x80\x81" /* U+20001, HanaMinB */,
                                   "\xf0\xa0\xae\xb7" /* U+20BB7 𠮷 */,
                                   "\xf0\xaa\x9a\xb2" /* U+2A6B2 */, "䶮", "堃", "昇"};
static const char *const regions[] = {
    "北京市",         "上海市",         "广东省",       "新疆维吾尔自治区", "内蒙古自治区",
    "西藏自治区",     "广西壮族自治区", "宁夏回族自治区", "黑龙江省",       "伊犁哈萨克自治州",
    "延边朝鲜族自治州", "深圳市",       "苏州市",       "成都市",         "巴音郭楞蒙古自治州"};
static const char *const suffixes[] = {"应急管理局", "应急管理厅", "应急管理局执法总队",
                                       "应急管理局安全生产监督管理处"};

static char *random_han(GRand *rng, int n) {
  GString *s = g_string_new(NULL);
  for (int i = 0; i < n; i++)
    g_string_append(s, common[g_rand_int_range(rng, 0, G_N_ELEMENTS(common))]);
  return g_string_free(s, FALSE);
}

static char *random_name(GRand *rng) {
  int kind = g_rand_int_range(rng, 0, 100);
  if (kind < 55)
    return random_han(rng, g_rand_int_range(rng, 2, 5));
  if (kind < 65)
    return random_han(rng, 1);
  if (kind < 80) { /* minority name: parts joined by the middle dot */
    GString *s = g_string_new(NULL);
    int parts = g_rand_int_range(rng, 2, 4);
    for (int i = 0; i < parts; i++) {
      g_autofree char *p = random_han(rng, g_rand_int_range(rng, 2, 7));
      g_string_append_printf(s, "%s%s", i ? "·" : "", p);
    }
    return g_string_free(s, FALSE);
  }
  if (kind < 88) { /* with a rare character */
    g_autofree char *a = random_han(rng, 1), *b = random_han(rng, g_rand_int_range(rng, 0, 3));
    return g_strconcat(a, rare[g_rand_int_range(rng, 0, G_N_ELEMENTS(rare))], b, NULL);
  }
  if (kind < 94) { /* Latin words */
    GString *s = g_string_new(NULL);
    int words = g_rand_int_range(rng, 1, 4);
    for (int i = 0; i < words; i++) {
      if (i)
        g_string_append_c(s, ' ');
      int n = g_rand_int_range(rng, 2, 9);
      for (int k = 0; k < n; k++)
        g_string_append_c(s, (char)((k == 0 ? 'A' : 'a') + g_rand_int_range(rng, 0, 26)));
    }
    return g_string_free(s, FALSE);
  }
  return random_han(rng, g_rand_int_range(rng, 10, 41)); /* long, up to the limit */
}

static char *random_authority(GRand *rng) {
  for (;;) {
    char *s = g_strconcat(regions[g_rand_int_range(rng, 0, G_N_ELEMENTS(regions))],
                          suffixes[g_rand_int_range(rng, 0, G_N_ELEMENTS(suffixes))], NULL);
    if (g_utf8_strlen(s, -1) <= 25)
      return s;
    g_free(s);
  }
}

static cs_date_t random_date(GRand *rng, cs_date_t lo, cs_date_t hi) {
  gint64 a = cs_date_to_days(lo), b = cs_date_to_days(hi);
  return cs_date_add_days(lo, (int)g_rand_int_range(rng, 0, (gint32)(b - a + 1)));
}

static cs_record_t *generate(GRand *rng, const cs_catalogue_t *cat, GBytes *photo) {
  cs_record_t *r = cs_record_new();
  gboolean special = g_rand_int_range(rng, 0, 100) < 70;
  r->type = special ? CS_CERT_SPECIAL_OPERATION : CS_CERT_SAFETY_COMPETENCE;
  cs_date_t birth = random_date(rng, (cs_date_t){1958, 1, 1}, (cs_date_t){2006, 12, 31});
  g_autofree char *birth_s = g_strdup_printf("%04u%02u%02u", birth.year, birth.month, birth.day);
  g_autofree char *seq = g_strdup_printf("%03d", g_rand_int_range(rng, 0, 1000));
  r->id_number = testutil_id(areas[g_rand_int_range(rng, 0, G_N_ELEMENTS(areas))], birth_s, seq);
  r->sex = cs_id_number_is_male(r->id_number) ? CS_SEX_MALE : CS_SEX_FEMALE;
  r->certificate_number = special ? g_strconcat("T", r->id_number, NULL) : g_strdup(r->id_number);
  r->name = random_name(rng);
  r->photo.data = g_bytes_ref(photo);
  r->issuing_authority = random_authority(rng);
  r->issuing_authority_code = g_strdup(areas[g_rand_int_range(rng, 0, G_N_ELEMENTS(areas))]);
  r->card_serial = g_rand_int_range(rng, 1, 99999999);
  int years = special ? 6 : 3;
  cs_date_t adult = cs_date_add_years(birth, 18);
  r->first_issue_date = random_date(rng, adult, today);
  cs_date_t earliest = cs_date_add_days(cs_date_add_years(today, -years), 1);
  if (cs_date_compare(earliest, r->first_issue_date) < 0)
    earliest = r->first_issue_date;
  r->valid_from = random_date(rng, earliest, today);
  r->valid_until = cs_date_add_years(r->valid_from, years);
  if (special) {
    guint n = cs_catalogue_n_categories(cat);
    const cs_catalogue_entry_t *c;
    do
      c = cs_catalogue_category(cat, (guint)g_rand_int_range(rng, 0, (gint32)n));
    while (cs_catalogue_n_items(cat, c->code) == 0);
    r->category = g_strdup(c->code);
    r->item = g_strdup(cs_catalogue_item(
        cat, c->code, (guint)g_rand_int_range(rng, 0, (gint32)cs_catalogue_n_items(cat, c->code)))
                           ->code);
    r->extended_review = g_rand_int_range(rng, 0, 10) == 0;
    r->review_due = cs_date_add_years(r->valid_from, r->extended_review ? 6 : 3);
    /* past reviews, oldest first, each done within 60 days before it was due */
    for (int k = 3; k >= 1; k--) {
      cs_date_t due = cs_date_add_years(r->valid_from, -3 * k);
      if (cs_date_compare(due, r->first_issue_date) <= 0 || g_rand_boolean(rng))
        continue;
      cs_review_t rev = {due, cs_date_add_days(due, -g_rand_int_range(rng, 0, 61))};
      g_array_append_val(r->reviews, rev);
    }
  } else {
    r->personnel_type = g_strdup(g_rand_boolean(rng) ? "principal" : "safety_manager");
    static const char *const ind[] = {"coal_mine", "metal_nonmetal_mine", "oil_gas",
                                      "hazardous_chemicals", "fireworks", "metal_smelting",
                                      "construction", "road_transport", "other"};
    r->industry = g_strdup(ind[g_rand_int_range(rng, 0, G_N_ELEMENTS(ind))]);
    if (g_rand_boolean(rng))
      r->remarks = random_han(rng, g_rand_int_range(rng, 1, 60));
  }
  return r;
}

static void test_property(void) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_catalogue_t) cat = cs_catalogue_load_default(&error);
  g_autoptr(cs_renderer_t) renderer = cs_renderer_new(cat, NULL, &error);
  g_assert_no_error(error);
  g_autofree char *photo_path = testutil_src("examples/photos/holder-male.jpg");
  g_autoptr(GBytes) photo = cs_file_read(photo_path, 1 << 20, &error);
  g_assert_no_error(error);
  cs_validate_options_t opt;
  cs_validate_options_init(&opt);
  opt.today = today;
  GRand *rng = g_rand_new_with_seed(20261129);
  static const char *const sides[] = {"front", "back", NULL};
  guint checked = 0, wrapped = 0, shrunk = 0;
  for (int i = 0; i < N_RECORDS; i++) {
    g_autoptr(cs_record_t) r = generate(rng, cat, photo);
    g_autoptr(cs_report_t) report = cs_report_new();
    if (!cs_record_validate(r, cat, &opt, "$.record", report)) {
      for (guint k = 0; k < cs_report_count(report); k++)
        g_test_message("record %d: %s: %s", i, cs_report_get(report, k)->code,
                       cs_report_get(report, k)->message);
      g_error("record %d (%s) is not valid: the generator is wrong", i, r->name);
    }
    const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, r->type, &error);
    g_autoptr(cs_card_t) card = cs_card_new(renderer, layout, r, "SOC1:PROPERTY", sides, &error);
    if (card == NULL)
      g_error("record %d (name %s, authority %s): %s", i, r->name, r->issuing_authority,
              error->message);
    for (guint s = 0; sides[s]; s++) {
      const cs_side_t *side = cs_layout_side(layout, sides[s]);
      double m = side->safe_margin;
      for (guint k = 0; k < cs_card_n_placements(card, sides[s]); k++) {
        const cs_placement_t *p = cs_card_placement(card, sides[s], k);
        const cs_element_t *e = cs_side_element(side, p->id);
        if (!(p->box_x >= m - 1e-9 && p->box_y >= m - 1e-9 &&
              p->box_x + p->box_w <= side->width - m + 1e-9 &&
              p->box_y + p->box_h <= side->height - m + 1e-9))
          g_error("%s/%s: box (%.2f %.2f %.2f %.2f) reaches into the %.1f mm safe margin",
                  sides[s], p->id, p->box_x, p->box_y, p->box_w, p->box_h, m);
        if (p->ink_w == 0 || e->repeat)
          continue; /* empty, or microtext clipped to its box by design */
        if (!(p->ink_x >= p->box_x - 0.01 && p->ink_y >= p->box_y - 0.01 &&
              p->ink_x + p->ink_w <= p->box_x + p->box_w + 0.01 &&
              p->ink_y + p->ink_h <= p->box_y + p->box_h + 0.01))
          g_error("record %d %s/%s: ink (%.2f %.2f %.2f %.2f) outside box (%.2f %.2f %.2f %.2f)"
                  ": %s",
                  i, sides[s], p->id, p->ink_x, p->ink_y, p->ink_w, p->ink_h, p->box_x,
                  p->box_y, p->box_w, p->box_h, p->text);
        g_assert_cmpint(p->lines, <=, e->max_lines);
        g_assert_cmpfloat(p->size_pt, >=, e->min_size_pt - 1e-9);
        wrapped += p->lines > 1;
        shrunk += p->size_pt < e->size_pt;
        checked++;
      }
    }
  }
  g_rand_free(rng);
  g_test_message("%d records, %u texts checked, %u shrunk, %u wrapped", N_RECORDS, checked,
                 shrunk, wrapped);
  /* the generator must reach the hard cases, or this test proves nothing */
  g_assert_cmpuint(shrunk, >, 100);
  g_assert_cmpuint(wrapped, >, 20);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/render/property/ink-inside-boxes", test_property);
  int rc = g_test_run();
  cs_fonts_shutdown();
  return rc;
}
