/* Certificate records and the JSON job format (docs/job-format.md).
 *
 * A job document is {"version": 1, "reference": "...", "record": {...}}. Parsing is
 * structural only: unknown members, wrong JSON types, malformed dates and base64 are
 * reported here; rules (ID check character, catalogue, date consistency, photo) are
 * checked by cs_record_validate() in validate.h. Both write into one cs_report_t. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "catalogue.h"
#include "date.h"
#include "report.h"

G_BEGIN_DECLS

#define CS_JOB_FORMAT_VERSION 1
/* Refused before parsing: a job with an embedded 10 MiB photo fits with room to spare. */
#define CS_JOB_MAX_BYTES (16u * 1024u * 1024u)

typedef enum {
  CS_SEX_UNSET = 0,
  CS_SEX_MALE,
  CS_SEX_FEMALE,
} cs_sex_t;

typedef struct {
  char *path;   /* as written in the job; relative paths are relative to the job's folder */
  GBytes *data; /* embedded bytes ("data", base64 in JSON) */
} cs_photo_ref_t;

typedef struct {
  cs_date_t due;  /* 应复审日期 */
  cs_date_t done; /* 实际复审日期; unset while the review has not happened */
} cs_review_t;

typedef struct {
  cs_cert_type_t type;
  char *certificate_number;     /* 证号 */
  char *name;                   /* 姓名 */
  cs_sex_t sex;                 /* 性别 */
  char *id_number;              /* resident identity number */
  cs_photo_ref_t photo;
  char *category;               /* 作业类别 code (special operation) */
  char *item;                   /* 操作项目 code (special operation) */
  char *personnel_type;         /* 人员类型 code (safety competence) */
  char *industry;               /* 行业类别 code (safety competence) */
  cs_date_t first_issue_date;   /* 初领日期 */
  cs_date_t valid_from;         /* 有效期限 from */
  cs_date_t valid_until;        /* 有效期限 to */
  cs_date_t review_due;         /* 应复审日期 (special operation) */
  gboolean extended_review;     /* 10+ clean years: reviewed every 6 years instead of 3 */
  char *issuing_authority;      /* 签发机关 */
  char *issuing_authority_code; /* code used for serials and the QR issuer */
  gint64 card_serial;           /* 0 = not yet allocated (the daemon allocates it) */
  GArray *reviews;              /* of cs_review_t, oldest first; never NULL */
  gboolean old_style;           /* old-style certificate being converted at review */
  char *archive_code;           /* 档案编码 (electronic certificate) */
  char *remarks;                /* 备注 (electronic certificate) */
  char *base_dir;               /* folder relative photo paths resolve against; not serialised */
} cs_record_t;

typedef struct {
  int version;
  char *reference; /* the client's own reference for the job, optional */
  cs_record_t *record;
} cs_job_t;

cs_record_t *cs_record_new(void);
void cs_record_free(cs_record_t *record);
cs_record_t *cs_record_copy(const cs_record_t *record);
gboolean cs_record_equal(const cs_record_t *a, const cs_record_t *b);

/* Structural parse of a record object; problems go to report under path_prefix. */
cs_record_t *cs_record_from_json(JsonNode *node, const char *path_prefix, cs_report_t *report);
JsonNode *cs_record_to_json(const cs_record_t *record);

void cs_job_free(cs_job_t *job);
/* NULL when nothing usable could be read (oversize, not JSON, not an object); the report says
 * why. Otherwise a job whose record holds every member that parsed, even if some did not. */
cs_job_t *cs_job_parse(const char *data, gsize length, const char *base_dir,
                       cs_report_t *report);
/* As cs_job_parse(); GError only for a file that cannot be read (CS_ERROR_IO). */
cs_job_t *cs_job_load_file(const char *path, cs_report_t *report, GError **error);
JsonNode *cs_job_to_json(const cs_job_t *job);
char *cs_job_to_string(const cs_job_t *job); /* pretty, 2-space indent, trailing newline */

const char *cs_sex_to_code(cs_sex_t sex);

/* The text a layout field prints (record-fields.c), e.g. "name" -> "张建国", "item" ->
 * "低压电工作业", "validity" -> "2024-06-18至2030-06-18". zh_dates: 2024年06月18日. An empty
 * string when the record has no value; NULL for a field name layouts do not know. */
char *cs_record_field_text(const cs_record_t *record, const cs_catalogue_t *catalogue,
                           const char *field, gboolean zh_dates);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_record_t, cs_record_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_job_t, cs_job_free)

G_END_DECLS
