/* Catalogue: certificate types and their rules, special-operation categories and items,
 * personnel types and industries. Loaded from JSON data files at run time (data/), because
 * the ministry changes them; nothing here is a C table. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CS_CERT_UNKNOWN = 0,
  CS_CERT_SPECIAL_OPERATION,  /* 特种作业操作证 */
  CS_CERT_SAFETY_COMPETENCE,  /* 安全生产知识和管理能力考核合格证 */
} cs_cert_type_t;

/* Type-specific record fields, as named in certificate-types.json "fields". */
typedef enum {
  CS_FIELD_CATEGORY = 1 << 0,
  CS_FIELD_ITEM = 1 << 1,
  CS_FIELD_REVIEW_DUE = 1 << 2,
  CS_FIELD_PERSONNEL_TYPE = 1 << 3,
  CS_FIELD_INDUSTRY = 1 << 4,
} cs_type_field_t;

typedef enum {
  CS_NUMBER_T_PLUS_ID, /* "T" + resident ID number */
  CS_NUMBER_PATTERN,   /* a regular expression from the data file */
} cs_number_rule_t;

typedef struct {
  cs_cert_type_t type;
  const char *code;
  const char *title;
  const char *short_title;
  int validity_years;
  int review_years;          /* 0: the type has no review date */
  int extended_review_years; /* 10+ clean years in the trade: review every N years */
  int min_age_at_first_issue;
  cs_number_rule_t number_rule;
  GRegex *number_pattern; /* CS_NUMBER_PATTERN only */
  const char *number_pattern_text;
  guint fields; /* cs_type_field_t */
} cs_cert_type_info_t;

typedef struct {
  const char *code;
  const char *name;
} cs_catalogue_entry_t;

typedef struct cs_catalogue cs_catalogue_t;

/* The data folder: $CARDSPOOL_DATADIR, else the installed one, else the source tree's. */
const char *cs_data_dir(void);
cs_catalogue_t *cs_catalogue_load(const char *dir, GError **error);
cs_catalogue_t *cs_catalogue_load_default(GError **error);
void cs_catalogue_free(cs_catalogue_t *cat);

const cs_cert_type_info_t *cs_catalogue_type(const cs_catalogue_t *cat, cs_cert_type_t type);
cs_cert_type_t cs_cert_type_from_code(const char *code);
const char *cs_cert_type_to_code(cs_cert_type_t type);

guint cs_catalogue_n_categories(const cs_catalogue_t *cat);
const cs_catalogue_entry_t *cs_catalogue_category(const cs_catalogue_t *cat, guint index);
const cs_catalogue_entry_t *cs_catalogue_find_category(const cs_catalogue_t *cat,
                                                       const char *code);
guint cs_catalogue_n_items(const cs_catalogue_t *cat, const char *category_code);
const cs_catalogue_entry_t *cs_catalogue_item(const cs_catalogue_t *cat,
                                              const char *category_code, guint index);
/* The item and the code of the category that holds it, or NULL. */
const cs_catalogue_entry_t *cs_catalogue_find_item(const cs_catalogue_t *cat, const char *code,
                                                   const char **category_code);
const cs_catalogue_entry_t *cs_catalogue_find_personnel_type(const cs_catalogue_t *cat,
                                                             const char *code);
const cs_catalogue_entry_t *cs_catalogue_find_industry(const cs_catalogue_t *cat,
                                                       const char *code);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_catalogue_t, cs_catalogue_free)

G_END_DECLS
