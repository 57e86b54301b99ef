#include "validate.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "i18n.h"
#include "idnumber.h"
#include "io.h"

#define NAME_MAX_CHARS 40
#define AUTHORITY_MAX_CHARS 40
#define ARCHIVE_CODE_MAX_CHARS 64
#define REMARKS_MAX_CHARS 200
#define REVIEW_WINDOW_DAYS 60 /* a review is applied for within 60 days before it is due */

void cs_validate_options_init(cs_validate_options_t *o) {
  memset(o, 0, sizeof *o);
  o->purpose = CS_PURPOSE_PRINT;
  o->photo_box_width_mm = CS_PHOTO_BOX_WIDTH_MM;
  o->photo_box_height_mm = CS_PHOTO_BOX_HEIGHT_MM;
  o->photo_dpi = 300;
  o->max_days_ahead = 90;
  o->photo_limits = CS_PHOTO_LIMITS_DEFAULT;
}

guint cs_mm_to_pixels(double mm, guint dpi) {
  /* floating-point noise above a whole number (25.4 mm at 300 dpi) must not ask for one more */
  return (guint)ceil(mm / 25.4 * dpi - 1e-6);
}

typedef struct {
  const cs_validate_options_t *opt;
  const cs_catalogue_t *cat;
  cs_report_t *report;
  const char *prefix;
  cs_date_t today;
} ctx_t;

static char *path_of(ctx_t *c, const char *member) {
  return g_strdup_printf("%s.%s", c->prefix, member);
}

G_GNUC_PRINTF(4, 5)
static void add(ctx_t *c, const char *member, const char *code, const char *fmt, ...) {
  g_autofree char *path = path_of(c, member);
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  cs_report_add(c->report, path, code, "%s", msg);
}

/* FALSE if absent; reported as required unless parsing already reported this member. */
static gboolean require(ctx_t *c, const char *member, gboolean present) {
  if (present)
    return TRUE;
  g_autofree char *path = path_of(c, member);
  if (!cs_report_has_path(c->report, path))
    cs_report_add(c->report, path, "json.required", _("is required"));
  return FALSE;
}

static void not_applicable(ctx_t *c, const char *member, gboolean present,
                           const cs_cert_type_info_t *t) {
  if (present)
    add(c, member, "field.not_applicable", _("is not a field of the %s"), t->short_title);
}

/* Common to every text member: no edge white space, no control, private-use or unassigned
 * code points, NFC. Returns FALSE if any of these failed (callers then skip finer checks). */
static gboolean check_text(ctx_t *c, const char *member, const char *s) {
  gboolean ok = TRUE;
  if (g_unichar_isspace(g_utf8_get_char(s)) ||
      (*s && g_unichar_isspace(g_utf8_get_char(g_utf8_find_prev_char(s, s + strlen(s)))))) {
    add(c, member, "text.whitespace", _("must not begin or end with white space"));
    ok = FALSE;
  }
  glong pos = 0;
  for (const char *p = s; *p; p = g_utf8_next_char(p), pos++) {
    gunichar ch = g_utf8_get_char(p);
    GUnicodeType t = g_unichar_type(ch);
    if (t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT) {
      add(c, member, "text.control", _("has the control character U+%04X at position %ld"),
          ch, pos + 1);
      return FALSE;
    }
    if (t == G_UNICODE_PRIVATE_USE || t == G_UNICODE_UNASSIGNED || t == G_UNICODE_SURROGATE) {
      add(c, member, "text.private_use",
          _("has U+%04X at position %ld, a private-use or unassigned code point that no font "
            "prints reliably"),
          ch, pos + 1);
      return FALSE;
    }
  }
  g_autofree char *nfc = g_utf8_normalize(s, -1, G_NORMALIZE_NFC);
  if (g_strcmp0(nfc, s) != 0) {
    add(c, member, "text.not_nfc",
        _("is not in Unicode normalisation form C (NFC); normalise it before submitting"));
    ok = FALSE;
  }
  return ok;
}

static gboolean check_length(ctx_t *c, const char *member, const char *code, const char *s,
                             glong min, glong max) {
  glong n = g_utf8_strlen(s, -1);
  if (n >= min && n <= max)
    return TRUE;
  add(c, member, code, _("has %ld characters; it must have %ld to %ld"), n, min, max);
  return FALSE;
}

static gboolean is_dot_lookalike(gunichar ch) {
  switch (ch) {
  case '.':
  case 0x2022: /* • */
  case 0x2027: /* ‧ */
  case 0x2219: /* ∙ */
  case 0x22C5: /* ⋅ */
  case 0x30FB: /* ・ */
  case 0xFF0E: /* ． */
  case 0xFF65: /* ･ */
  case 0x16EB: /* ᛫ */
    return TRUE;
  default:
    return FALSE;
  }
}

static void check_name(ctx_t *c, const char *s) {
  gboolean ok = check_text(c, "name", s);
  if (!check_length(c, "name", "name.length", s, 1, NAME_MAX_CHARS) || !ok)
    return;
  glong pos = 0;
  gunichar prev = 0;
  for (const char *p = s; *p; p = g_utf8_next_char(p), pos++) {
    gunichar ch = g_utf8_get_char(p);
    gunichar next = g_utf8_get_char(g_utf8_next_char(p));
    if (is_dot_lookalike(ch)) {
      add(c, "name", "name.middle_dot",
          _("has U+%04X at position %ld; minority names are separated by the middle dot "
            "U+00B7 (·)"),
          ch, pos + 1);
      return;
    }
    if (ch == 0x00B7 || ch == ' ') {
      if (pos == 0 || next == 0 || prev == 0x00B7 || prev == ' ' || next == 0x00B7 ||
          next == ' ') {
        add(c, "name", "name.separator",
            _("a separator (middle dot or space) at position %ld must stand alone between two "
              "parts of the name"),
            pos + 1);
        return;
      }
      if (ch == ' ' && !(g_unichar_get_script(prev) == G_UNICODE_SCRIPT_LATIN &&
                         g_unichar_get_script(next) == G_UNICODE_SCRIPT_LATIN)) {
        add(c, "name", "name.separator",
            _("a space (position %ld) may only separate Latin words; Chinese and minority "
              "names are written without spaces, with U+00B7 (·) between parts"),
            pos + 1);
        return;
      }
    } else if (g_unichar_get_script(ch) == G_UNICODE_SCRIPT_HAN && g_unichar_isalpha(ch)) {
      /* Han ideographs in every block, extensions B and beyond included */
    } else if (g_unichar_get_script(ch) == G_UNICODE_SCRIPT_LATIN && g_unichar_isalpha(ch)) {
    } else {
      char utf8[8] = {0};
      g_unichar_to_utf8(ch, utf8);
      add(c, "name", "name.char",
          _("has “%s” (U+%04X) at position %ld; a name may hold Han characters, Latin letters "
            "and the middle dot (·)"),
          utf8, ch, pos + 1);
      return;
    }
    prev = ch;
  }
}

/* TRUE if the number itself is well formed (checks that compare with it are then meaningful). */
static gboolean check_id(ctx_t *c, const cs_record_t *r, const cs_cert_type_info_t *t) {
  const char *id = r->id_number;
  if (!check_text(c, "id_number", id))
    return FALSE;
  switch (cs_id_number_check(id)) {
  case CS_ID_LENGTH:
    add(c, "id_number", "id_number.length",
        _("has %ld characters; a resident identity number has 18"), g_utf8_strlen(id, -1));
    return FALSE;
  case CS_ID_CHARS:
    add(c, "id_number", "id_number.chars",
        _("must be 17 digits followed by a digit or an upper-case X"));
    return FALSE;
  case CS_ID_PROVINCE:
    add(c, "id_number", "id_number.province", _("begins with %.2s, which is no province code"),
        id);
    return FALSE;
  case CS_ID_BIRTH_DATE:
    add(c, "id_number", "id_number.birth_date",
        _("digits 7 to 14 (%.8s) are not a real date of birth"), id + 6);
    return FALSE;
  case CS_ID_CHECKSUM:
    add(c, "id_number", "id_number.checksum",
        _("the check character is %c but the first 17 digits give %c; a digit is probably "
          "mistyped"),
        id[17], cs_id_number_check_char(id));
    return FALSE;
  case CS_ID_OK:
    break;
  }
  cs_date_t birth = cs_id_number_birth_date(id);
  if (cs_date_compare(birth, c->today) > 0) {
    g_autofree char *b = cs_date_format(birth);
    add(c, "id_number", "id_number.birth_future", _("gives a date of birth in the future (%s)"),
        b);
    return FALSE;
  }
  if (r->sex != CS_SEX_UNSET && (r->sex == CS_SEX_MALE) != cs_id_number_is_male(id))
    add(c, "sex", "sex.mismatch",
        _("is %s but digit 17 of the identity number (%c) says %s (odd: male, even: female)"),
        r->sex == CS_SEX_MALE ? _("male") : _("female"), id[16],
        cs_id_number_is_male(id) ? _("male") : _("female"));
  if (t && cs_date_is_set(r->first_issue_date)) {
    int age = cs_date_years_between(birth, r->first_issue_date);
    if (age < t->min_age_at_first_issue)
      add(c, "first_issue_date", "holder.underage",
          _("the holder was %d at first issue; the %s requires at least %d"), age,
          t->short_title, t->min_age_at_first_issue);
  }
  return TRUE;
}

static void check_number(ctx_t *c, const cs_record_t *r, const cs_cert_type_info_t *t,
                         gboolean id_ok) {
  const char *n = r->certificate_number;
  if (!check_text(c, "certificate_number", n) || t == NULL)
    return;
  if (t->number_rule == CS_NUMBER_T_PLUS_ID) {
    if (!id_ok)
      return;
    g_autofree char *expected = g_strconcat("T", r->id_number, NULL);
    if (!g_str_equal(n, expected))
      add(c, "certificate_number", "certificate_number.mismatch",
          _("must be \"T\" followed by the identity number (%s), not \"%s\""), expected, n);
  } else if (!g_regex_match(t->number_pattern, n, 0, NULL)) {
    add(c, "certificate_number", "certificate_number.format",
        _("\"%s\" does not match the configured form %s"), n, t->number_pattern_text);
  }
}

static void check_catalogue(ctx_t *c, const cs_record_t *r) {
  if (r->category && check_text(c, "category", r->category)) {
    const cs_catalogue_entry_t *cat = cs_catalogue_find_category(c->cat, r->category);
    if (cat == NULL)
      add(c, "category", "category.unknown",
          _("\"%s\" is not an operation category in the catalogue"), r->category);
    else if (cs_catalogue_n_items(c->cat, r->category) == 0)
      add(c, "category", "category.no_items",
          _("category %s (%s) has no operation items in the catalogue yet"), cat->code,
          cat->name);
  }
  if (r->item && check_text(c, "item", r->item)) {
    const char *owner = NULL;
    const cs_catalogue_entry_t *item = cs_catalogue_find_item(c->cat, r->item, &owner);
    if (item == NULL)
      add(c, "item", "item.unknown", _("\"%s\" is not an operation item in the catalogue"),
          r->item);
    else if (r->category && cs_catalogue_find_category(c->cat, r->category) &&
             !g_str_equal(owner, r->category))
      add(c, "item", "item.category_mismatch",
          _("item %s (%s) belongs to category %s, not %s"), item->code, item->name, owner,
          r->category);
  }
  if (r->personnel_type && check_text(c, "personnel_type", r->personnel_type) &&
      !cs_catalogue_find_personnel_type(c->cat, r->personnel_type))
    add(c, "personnel_type", "personnel_type.unknown",
        _("\"%s\" is not a personnel type in the catalogue"), r->personnel_type);
  if (r->industry && check_text(c, "industry", r->industry) &&
      !cs_catalogue_find_industry(c->cat, r->industry))
    add(c, "industry", "industry.unknown", _("\"%s\" is not an industry in the catalogue"),
        r->industry);
}

static void check_dates(ctx_t *c, const cs_record_t *r, const cs_cert_type_info_t *t) {
  g_autofree char *today = cs_date_format(c->today);
  if (cs_date_is_set(r->first_issue_date)) {
    if (cs_date_compare(r->first_issue_date, c->today) > 0)
      add(c, "first_issue_date", "first_issue_date.future",
          _("cannot be after today (%s)"), today);
    if (cs_date_is_set(r->valid_from) && cs_date_compare(r->first_issue_date, r->valid_from) > 0)
      add(c, "first_issue_date", "first_issue_date.after_validity",
          _("cannot be after the start of validity"));
  }
  if (cs_date_is_set(r->valid_from)) {
    cs_date_t limit = cs_date_add_days(c->today, c->opt->max_days_ahead);
    if (cs_date_compare(r->valid_from, limit) > 0)
      add(c, "valid_from", "valid_from.future",
          _("starts more than %d days after today (%s)"), c->opt->max_days_ahead, today);
  }
  if (cs_date_is_set(r->valid_from) && cs_date_is_set(r->valid_until) && t) {
    cs_date_t expected = cs_date_add_years(r->valid_from, t->validity_years);
    if (cs_date_compare(r->valid_until, r->valid_from) <= 0) {
      add(c, "valid_until", "valid_until.order", _("must be after the start of validity"));
    } else if (cs_date_compare(r->valid_until, expected) != 0) {
      g_autofree char *e = cs_date_format(expected);
      add(c, "valid_until", "valid_until.length",
          _("must be %s: the %s is valid for %d years from the start of validity"), e,
          t->short_title, t->validity_years);
    }
  }
  if (cs_date_is_set(r->valid_until) && c->opt->purpose == CS_PURPOSE_PRINT &&
      cs_date_compare(r->valid_until, c->today) < 0)
    add(c, "valid_until", "validity.expired",
        _("the certificate expired before today (%s); a card is not printed for it"), today);

  if (t && r->extended_review && t->extended_review_years == 0)
    add(c, "extended_review", "field.not_applicable",
        _("the %s has no extended review interval"), t->short_title);
  if (t && t->review_years > 0 && cs_date_is_set(r->review_due) &&
      cs_date_is_set(r->valid_from)) {
    int years = r->extended_review ? t->extended_review_years : t->review_years;
    cs_date_t expected = cs_date_add_years(r->valid_from, years);
    if (cs_date_compare(r->review_due, expected) != 0) {
      g_autofree char *e = cs_date_format(expected);
      add(c, "review_due", "review_due.mismatch",
          r->extended_review
              ? _("must be %s, %d years after the start of validity (extended review interval)")
              : _("must be %s, %d years after the start of validity"),
          e, years);
    }
  }

  cs_date_t prev_due = CS_DATE_UNSET;
  for (guint i = 0; i < r->reviews->len; i++) {
    const cs_review_t *rev = &g_array_index(r->reviews, cs_review_t, i);
    g_autofree char *m_due = g_strdup_printf("reviews[%u].due", i);
    g_autofree char *m_done = g_strdup_printf("reviews[%u].done", i);
    if (!cs_date_is_set(rev->due))
      continue;
    if (cs_date_is_set(prev_due) && cs_date_compare(rev->due, prev_due) <= 0)
      add(c, m_due, "reviews.order", _("reviews must be listed oldest first"));
    if (cs_date_is_set(r->first_issue_date) &&
        cs_date_compare(rev->due, r->first_issue_date) <= 0)
      add(c, m_due, "reviews.before_first_issue", _("is not after the first issue date"));
    prev_due = rev->due;
    if (!cs_date_is_set(rev->done))
      continue;
    if (cs_date_compare(rev->done, c->today) > 0)
      add(c, m_done, "reviews.done_future", _("a review cannot be done after today (%s)"),
          today);
    else if (cs_date_compare(rev->done, cs_date_add_days(rev->due, -REVIEW_WINDOW_DAYS)) < 0)
      add(c, m_done, "reviews.early",
          _("is more than %d days before the review was due; a review is applied for within "
            "%d days before it is due"),
          REVIEW_WINDOW_DAYS, REVIEW_WINDOW_DAYS);
  }
}

GBytes *cs_record_load_photo(const cs_record_t *r, gsize max_bytes, GError **error) {
  cs_i18n_init();
  if (r->photo.data)
    return g_bytes_ref(r->photo.data);
  if (r->photo.path == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, _("no photo"));
    return NULL;
  }
  g_autofree char *full = g_path_is_absolute(r->photo.path) || r->base_dir == NULL
                              ? g_strdup(r->photo.path)
                              : g_build_filename(r->base_dir, r->photo.path, NULL);
  return cs_file_read(full, max_bytes, error);
}

static void check_photo(ctx_t *c, const cs_record_t *r) {
  gboolean present = r->photo.path || r->photo.data;
  if (!present) {
    g_autofree char *path = path_of(c, "photo");
    if (cs_report_has_path(c->report, path))
      return;
    if (r->old_style && c->opt->purpose == CS_PURPOSE_PRINT)
      add(c, "photo", "photo.missing",
          _("an old-style certificate converted at review needs a photo before its new card "
            "is printed"));
    else if (!r->old_style)
      add(c, "photo", "photo.missing", _("is required"));
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = cs_record_load_photo(r, c->opt->photo_limits.max_bytes, &error);
  /* decoded, not just verified: the resolution that counts is the upright photo's, after
   * its EXIF orientation (a portrait stored sideways has its sides swapped) */
  cairo_surface_t *upright = data ? cs_photo_decode(data, &c->opt->photo_limits, &error) : NULL;
  cs_photo_info_t info = {0};
  if (upright) {
    info.width = (guint)cairo_image_surface_get_width(upright);
    info.height = (guint)cairo_image_surface_get_height(upright);
    cairo_surface_destroy(upright);
  }
  if (upright == NULL) {
    const char *code = "photo.corrupt";
    if (g_error_matches(error, CS_ERROR, CS_ERROR_IO))
      code = "photo.unreadable";
    else if (g_error_matches(error, CS_ERROR, CS_ERROR_TOO_LARGE))
      code = "photo.too_large";
    else if (g_error_matches(error, CS_ERROR, CS_ERROR_UNSUPPORTED))
      code = "photo.format";
    add(c, "photo", code, "%s", error->message);
    return;
  }
  /* The layout centre-crops to the box's aspect ratio; what is left must reach the dpi. */
  double box_w = c->opt->photo_box_width_mm, box_h = c->opt->photo_box_height_mm;
  guint need_w = cs_mm_to_pixels(box_w, c->opt->photo_dpi);
  guint need_h = cs_mm_to_pixels(box_h, c->opt->photo_dpi);
  double crop_w = MIN((double)info.width, info.height * box_w / box_h);
  double crop_h = MIN((double)info.height, info.width * box_h / box_w);
  if (crop_w + 0.5 < need_w || crop_h + 0.5 < need_h)
    add(c, "photo", "photo.resolution",
        _("%u × %u pixels is too small: the %.0f × %.0f mm photo box needs at least %u × %u "
          "pixels (%u dpi) after cropping to its shape"),
        info.width, info.height, box_w, box_h, need_w, need_h, c->opt->photo_dpi);
}

gboolean cs_record_validate(const cs_record_t *r, const cs_catalogue_t *catalogue,
                            const cs_validate_options_t *options, const char *prefix,
                            cs_report_t *report) {
  cs_i18n_init();
  cs_validate_options_t defaults;
  if (options == NULL) {
    cs_validate_options_init(&defaults);
    options = &defaults;
  }
  ctx_t c = {options, catalogue, report, prefix,
             cs_date_is_set(options->today) ? options->today : cs_date_today()};
  guint before = cs_report_count(report);
  const cs_cert_type_info_t *t = cs_catalogue_type(catalogue, r->type);

  require(&c, "type", r->type != CS_CERT_UNKNOWN);
  require(&c, "certificate_number", r->certificate_number != NULL);
  require(&c, "name", r->name != NULL);
  require(&c, "sex", r->sex != CS_SEX_UNSET);
  require(&c, "id_number", r->id_number != NULL);
  require(&c, "first_issue_date", cs_date_is_set(r->first_issue_date));
  require(&c, "valid_from", cs_date_is_set(r->valid_from));
  require(&c, "valid_until", cs_date_is_set(r->valid_until));
  require(&c, "issuing_authority", r->issuing_authority != NULL);
  require(&c, "issuing_authority_code", r->issuing_authority_code != NULL);
  if (t) {
    static const struct {
      cs_type_field_t flag;
      const char *member;
      gsize offset;
      gboolean is_date;
    } specific[] = {
        {CS_FIELD_CATEGORY, "category", G_STRUCT_OFFSET(cs_record_t, category), FALSE},
        {CS_FIELD_ITEM, "item", G_STRUCT_OFFSET(cs_record_t, item), FALSE},
        {CS_FIELD_REVIEW_DUE, "review_due", G_STRUCT_OFFSET(cs_record_t, review_due), TRUE},
        {CS_FIELD_PERSONNEL_TYPE, "personnel_type",
         G_STRUCT_OFFSET(cs_record_t, personnel_type), FALSE},
        {CS_FIELD_INDUSTRY, "industry", G_STRUCT_OFFSET(cs_record_t, industry), FALSE},
    };
    for (guint i = 0; i < G_N_ELEMENTS(specific); i++) {
      gconstpointer f = (const char *)r + specific[i].offset;
      gboolean present = specific[i].is_date ? cs_date_is_set(*(const cs_date_t *)f)
                                             : *(char *const *)f != NULL;
      if (t->fields & specific[i].flag)
        require(&c, specific[i].member, present);
      else
        not_applicable(&c, specific[i].member, present, t);
    }
  }

  if (r->name)
    check_name(&c, r->name);
  gboolean id_ok = r->id_number && check_id(&c, r, t);
  if (r->certificate_number)
    check_number(&c, r, t, id_ok);
  check_catalogue(&c, r);
  check_dates(&c, r, t);
  if (r->issuing_authority && check_text(&c, "issuing_authority", r->issuing_authority))
    check_length(&c, "issuing_authority", "issuing_authority.length", r->issuing_authority, 2,
                 AUTHORITY_MAX_CHARS);
  if (r->issuing_authority_code &&
      check_text(&c, "issuing_authority_code", r->issuing_authority_code)) {
    gsize n = strlen(r->issuing_authority_code);
    gboolean ok = n >= 6 && n <= 18;
    for (const char *p = r->issuing_authority_code; ok && *p; p++)
      ok = g_ascii_isdigit(*p) || g_ascii_isupper(*p);
    if (!ok)
      add(&c, "issuing_authority_code", "issuing_authority_code.format",
          _("must be 6 to 18 digits or upper-case letters (an administrative division code or "
            "a unified social credit code)"));
  }
  if (r->archive_code && check_text(&c, "archive_code", r->archive_code))
    check_length(&c, "archive_code", "archive_code.length", r->archive_code, 1,
                 ARCHIVE_CODE_MAX_CHARS);
  if (r->remarks && check_text(&c, "remarks", r->remarks))
    check_length(&c, "remarks", "remarks.length", r->remarks, 1, REMARKS_MAX_CHARS);
  check_photo(&c, r);
  return cs_report_count(report) == before;
}
