/* QA: a rendered card PDF compared with a reference PDF of the same layout, for QA staff.
 *
 * Both are rasterised with poppler; the checks are named findings (page size, static design,
 * field text, embedded fonts, metadata, QR), each pass, fail or skipped with its numbers. The
 * static design is compared outside the layout's variable boxes only, so a different record on
 * the same layout passes. */
#pragma once

#include <glib.h>

#include "render.h"
#include "signer.h"

G_BEGIN_DECLS

typedef enum {
  CS_QA_PASS,
  CS_QA_FAIL,
  CS_QA_SKIPPED, /* not checked, e.g. the QR without a trust store */
  CS_QA_INFO,    /* said, never a failure */
} cs_qa_verdict_t;

typedef struct {
  char *key;
  double value;
} cs_qa_number_t;

typedef struct {
  char *name;    /* stable id: "page-size", "back-missing", "static-design", "text-font", … */
  cs_qa_verdict_t verdict;
  char *message; /* for people */
  int page;      /* 1-based; 0 for the whole document */
  char *field;   /* the layout element's id, for text findings; else NULL */
  gboolean has_box; /* where on the page, in mm (outlined in the diff picture) */
  double x, y, w, h;
  GArray *numbers; /* of cs_qa_number_t */
} cs_qa_finding_t;

typedef struct {
  cs_qa_verdict_t verdict; /* CS_QA_FAIL if any finding failed, else CS_QA_PASS */
  char *reference, *card;  /* the paths compared */
  GPtrArray *findings;     /* of cs_qa_finding_t* */
  guint n_pages;           /* pages written as pictures */
} cs_qa_report_t;

typedef struct {
  double dpi;              /* rasterisation; 0 = 600 */
  const char *layout;      /* expected layout name; NULL = the reference's */
  const cs_trust_t *trust; /* NULL: the QR is not verified (finding "qr" skipped) */
  gint64 at;               /* verification clock, Unix seconds; 0 = now */
  const char *report_dir;  /* pN-ref.png, pN-out.png, pN-diff.png, report.json; NULL = none */
} cs_qa_options_t;

/* Compares card with reference. The renderer gives the layouts and the pinned fonts' families.
 * NULL only when a file cannot be used at all: CS_ERROR_IO (unreadable, not a PDF, report not
 * writable), CS_ERROR_LAYOUT (no layout named by the reference or options). */
cs_qa_report_t *cs_qa_compare(cs_renderer_t *renderer, const char *reference, const char *card,
                              const cs_qa_options_t *options, GError **error);
void cs_qa_report_free(cs_qa_report_t *report);
/* The first finding with that name and, if field is not NULL, that field; NULL if none. */
const cs_qa_finding_t *cs_qa_report_find(const cs_qa_report_t *report, const char *name,
                                         const char *field);
/* The first failing finding with that name, NULL if none failed. */
const cs_qa_finding_t *cs_qa_report_find_failed(const cs_qa_report_t *report, const char *name);
double cs_qa_finding_number(const cs_qa_finding_t *finding, const char *key, double fallback);
const char *cs_qa_verdict_name(cs_qa_verdict_t verdict); /* "pass", "fail", "skipped", "info" */
/* "PASS", or "FAIL: MESSAGE; MESSAGE; …" (every failing finding). */
char *cs_qa_report_summary(const cs_qa_report_t *report);
gboolean cs_qa_report_write_json(const cs_qa_report_t *report, const char *path,
                                 GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_qa_report_t, cs_qa_report_free)

G_END_DECLS
