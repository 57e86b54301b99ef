/* The QR credential: sign and verify, size, tampering, clocks, malformed and hostile input. */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <cairo-pdf.h>
#include <cbor.h>
#include <zlib.h>

#include "base45.h"
#include "cardspool.h"
#include "credential.h"
#include "testutil.h"

typedef struct {
  char *dir;
  cs_signer_t *signer;
  cs_trust_t *trust;
} keyset_t;

static keyset_t make_keys(cs_alg_t alg) {
  keyset_t k = {0};
  k.dir = g_dir_make_tmp("cs-cred-XXXXXX", NULL);
  g_autofree char *key = g_build_filename(k.dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(k.dir, "cert.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_keygen(alg, "北京市应急管理局", "110000", 365, key, cert, &error));
  g_assert_no_error(error);
  k.signer = cs_signer_load_pem(key, cert, &error);
  g_assert_no_error(error);
  k.trust = cs_trust_new();
  g_assert_true(cs_trust_add_file(k.trust, cert, &error));
  g_assert_no_error(error);
  return k;
}

static void free_keys(keyset_t *k) {
  cs_signer_free(k->signer);
  cs_trust_free(k->trust);
  testutil_remove_dir(k->dir);
  g_free(k->dir);
}

static cs_record_t *example(const char *name) {
  g_autofree char *path = testutil_src(name);
  g_autoptr(cs_report_t) report = cs_report_new();
  cs_job_t *job = cs_job_load_file(path, report, NULL);
  g_assert_nonnull(job);
  cs_record_t *r = job->record;
  job->record = NULL;
  cs_job_free(job);
  /* the test keys are authority 110000's: an authority signs its own certificates only */
  g_free(r->issuing_authority_code);
  r->issuing_authority_code = g_strdup("110000");
  return r;
}

/* the signing clock: now, inside the test keys' certificate validity (a key is trusted only
 * for credentials signed while its certificate is valid) */
static gint64 now;
static const guint8 photo_hash[CS_PHOTO_HASH_LENGTH] = {1, 2, 3, 4, 5, 6, 7, 8};

static char *sign(const cs_record_t *r, keyset_t *k, const char *prefix) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) claims = cs_credential_claims(r, photo_hash, now, &error);
  g_assert_no_error(error);
  char *text = cs_credential_sign(claims, k->signer, prefix, &error);
  g_assert_no_error(error);
  return text;
}

static void check_round_trip(gconstpointer data) {
  cs_alg_t alg = GPOINTER_TO_INT(data);
  keyset_t k = make_keys(alg);
  const char *examples[] = {"examples/special-operation.json", "examples/safety-competence.json",
                            "examples/renewal-old-style.json"};
  for (guint i = 0; i < G_N_ELEMENTS(examples); i++) {
    g_autoptr(cs_record_t) r = example(examples[i]);
    r->card_serial = 4711;
    g_autofree char *text = sign(r, &k, NULL);
    g_assert_true(g_str_has_prefix(text, "SOC1:"));
    g_assert_true(cs_qr_is_alphanumeric(text)); /* QR alphanumeric mode, nothing readable */
    g_assert_null(strstr(text, "http"));
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(text, NULL, k.trust, now + 60);
    g_test_message("%s: %s (%s), %zu characters", examples[i], cs_verify_status_name(v->status),
                   v->detail, strlen(text));
    g_assert_cmpint(v->status, ==, CS_VERIFY_VALID);
    g_assert_cmpint(v->alg, ==, alg);
    g_assert_cmpmem(v->kid, v->kid_length, cs_signer_kid(k.signer), CS_KID_LENGTH);
    g_assert_cmpstr(v->iss, ==, r->issuing_authority_code);
    g_assert_cmpstr(v->signer_authority, ==, "110000");
    g_assert_true(v->has_certificate);
    const cs_record_t *d = v->record;
    g_assert_cmpint(d->type, ==, r->type);
    g_assert_cmpstr(d->id_number, ==, r->id_number);
    g_assert_cmpstr(d->certificate_number, ==, r->certificate_number);
    g_assert_cmpstr(d->name, ==, r->name);
    g_assert_cmpint(d->sex, ==, r->sex);
    g_assert_cmpstr(d->item, ==, r->item);
    g_assert_cmpstr(d->category, ==, r->category);
    g_assert_cmpstr(d->personnel_type, ==, r->personnel_type);
    g_assert_cmpstr(d->industry, ==, r->industry);
    g_assert_cmpint(cs_date_compare(d->first_issue_date, r->first_issue_date), ==, 0);
    g_assert_cmpint(cs_date_compare(d->valid_from, r->valid_from), ==, 0);
    g_assert_cmpint(cs_date_compare(d->valid_until, r->valid_until), ==, 0);
    g_assert_cmpint(cs_date_compare(d->review_due, r->review_due), ==, 0);
    g_assert_cmpint(d->card_serial, ==, 4711);
    g_assert_cmpmem(v->photo_hash, CS_PHOTO_HASH_LENGTH, photo_hash, CS_PHOTO_HASH_LENGTH);
  }
  free_keys(&k);
}

/* The sample record must fit a version 9 QR at level M, as the format promises. */
static void test_size(void) {
  keyset_t k = make_keys(CS_ALG_ES256);
  g_autoptr(cs_record_t) r = example("examples/special-operation.json");
  r->card_serial = 99999999;
  g_autofree char *text = sign(r, &k, NULL);
  int capacity = cs_qr_alnum_capacity(9, CS_QR_ECC_M);
  g_test_message("%zu characters; version 9-M holds %d", strlen(text), capacity);
  g_assert_cmpint((int)strlen(text), <=, capacity);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_qr_t) qr = cs_qr_encode(text, CS_QR_ECC_M, 0, &error);
  g_assert_no_error(error);
  g_assert_true(qr->alphanumeric);
  g_assert_cmpint(qr->version, <=, 9);
  free_keys(&k);
}

static GBytes *cose_of(const char *text) {
  return cs_base45_decode(text + 5, strlen(text + 5), NULL);
}

static char *text_of(const guint8 *d, gsize n, const char *prefix) {
  g_autofree char *b = cs_base45_encode(d, n);
  return g_strconcat(prefix, b, NULL);
}

/* Every single-bit change of the COSE bytes is rejected, and none crashes the verifier. */
static void test_tamper_every_bit(void) {
  keyset_t k = make_keys(CS_ALG_ES256);
  g_autoptr(cs_record_t) r = example("examples/special-operation.json");
  g_autofree char *text = sign(r, &k, NULL);
  g_autoptr(GBytes) cose = cose_of(text);
  gsize n = 0;
  const guint8 *orig = g_bytes_get_data(cose, &n);
  g_autofree guint8 *buf = g_memdup2(orig, n);
  guint counts[6] = {0};
  for (gsize bit = 0; bit < n * 8; bit++) {
    buf[bit / 8] ^= (guint8)(1u << (bit % 8));
    if (g_getenv("CS_TEST_TRACE"))
      g_printerr("bit %zu byte %02x\n", bit, buf[bit / 8]);
    g_autofree char *t = text_of(buf, n, "SOC1:");
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(t, NULL, k.trust, now + 60);
    if (v->status == CS_VERIFY_VALID)
      g_error("bit %zu of %zu flipped and the credential still verifies", bit, n * 8);
    counts[v->status]++;
    buf[bit / 8] ^= (guint8)(1u << (bit % 8));
  }
  g_test_message("%zu bits: bad signature %u, unknown signer %u, expired %u, not yet %u, "
                 "malformed %u",
                 n * 8, counts[1], counts[2], counts[3], counts[4], counts[5]);
  g_assert_cmpuint(counts[CS_VERIFY_BAD_SIGNATURE], >, 0);
  g_assert_cmpuint(counts[CS_VERIFY_MALFORMED], >, 0);
  free_keys(&k);
}

static void test_clock_and_signers(void) {
  keyset_t k = make_keys(CS_ALG_EDDSA);
  keyset_t other = make_keys(CS_ALG_EDDSA);
  g_autoptr(cs_record_t) r = example("examples/special-operation.json");
  g_autofree char *text = sign(r, &k, NULL);
  g_autoptr(cs_verify_result_t) ok = cs_credential_verify(text, NULL, k.trust, now);
  g_assert_cmpint(ok->status, ==, CS_VERIFY_VALID);
  g_autoptr(cs_verify_result_t) early = cs_credential_verify(text, NULL, k.trust, now - 1);
  g_assert_cmpint(early->status, ==, CS_VERIFY_NOT_YET_VALID);
  g_autoptr(cs_verify_result_t) late = cs_credential_verify(text, NULL, k.trust, ok->exp + 1);
  g_assert_cmpint(late->status, ==, CS_VERIFY_EXPIRED);
  /* exp is the end of 2030-06-18 in China */
  g_autoptr(GDateTime) end = g_date_time_new_from_unix_utc(ok->exp);
  g_autofree char *iso = g_date_time_format(end, "%Y-%m-%dT%H:%M:%S");
  g_assert_cmpstr(iso, ==, "2030-06-18T16:00:00");
  g_autoptr(cs_verify_result_t) stranger = cs_credential_verify(text, NULL, other.trust, now);
  g_assert_cmpint(stranger->status, ==, CS_VERIFY_UNKNOWN_SIGNER);
  free_keys(&k);
  free_keys(&other);
}

/* The EU DCC layering: zlib, untagged COSE, CWT tag 61, another prefix. */
static void test_variants_accepted(void) {
  keyset_t k = make_keys(CS_ALG_ES256);
  g_autoptr(cs_record_t) r = example("examples/safety-competence.json");
  g_autofree char *text = sign(r, &k, NULL);
  g_autoptr(GBytes) cose = cose_of(text);
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(cose, &n);
  g_assert_cmpuint(d[0], ==, 0xD2); /* tag 18 */

  uLongf zlen = compressBound(n);
  g_autofree guint8 *z = g_malloc(zlen);
  g_assert_cmpint(compress2(z, &zlen, d, n, 9), ==, Z_OK);
  g_autofree char *zt = text_of(z, zlen, "SOC1:");
  g_autoptr(cs_verify_result_t) vz = cs_credential_verify(zt, NULL, k.trust, now);
  g_assert_cmpint(vz->status, ==, CS_VERIFY_VALID);

  g_autofree char *untagged = text_of(d + 1, n - 1, "SOC1:");
  g_autoptr(cs_verify_result_t) vu = cs_credential_verify(untagged, NULL, k.trust, now);
  g_assert_cmpint(vu->status, ==, CS_VERIFY_VALID);

  g_autofree guint8 *cwt = g_malloc(n + 2);
  cwt[0] = 0xD8;
  cwt[1] = 61;
  memcpy(cwt + 2, d, n);
  g_autofree char *tagged = text_of(cwt, n + 2, "SOC1:");
  g_autoptr(cs_verify_result_t) vt = cs_credential_verify(tagged, NULL, k.trust, now);
  g_assert_cmpint(vt->status, ==, CS_VERIFY_VALID);

  g_autofree char *hc1 = sign(r, &k, "HC1:");
  g_autoptr(cs_verify_result_t) vh = cs_credential_verify(hc1, "HC1:", k.trust, now);
  g_assert_cmpint(vh->status, ==, CS_VERIFY_VALID);
  g_autoptr(cs_verify_result_t) vp = cs_credential_verify(hc1, NULL, k.trust, now);
  g_assert_cmpint(vp->status, ==, CS_VERIFY_MALFORMED);
  free_keys(&k);
}

/* Hostile and broken input: always MALFORMED (or a signature failure), never a crash. */
static void test_malformed(void) {
  keyset_t k = make_keys(CS_ALG_ES256);
  const struct {
    const char *name;
    const guint8 *bytes;
    gsize n;
  } cases[] = {
      {"empty", (const guint8 *)"", 0},
      {"not cbor", (const guint8 *)"\xff\xff\xff", 3},
      {"wrong tag", (const guint8 *)"\xd8\x63\x84\x40\xa0\x40\x40", 7},
      {"array of 3", (const guint8 *)"\xd2\x83\x40\xa0\x40", 5},
      {"members wrong type", (const guint8 *)"\xd2\x84\x01\x02\x03\x04", 6},
      {"protected not a map", (const guint8 *)"\xd2\x84\x41\x01\xa0\x40\x40", 7},
      {"no alg", (const guint8 *)"\xd2\x84\x41\xa0\xa0\x40\x40", 7},
      {"unknown alg", (const guint8 *)"\xd2\x84\x43\xa1\x01\x39\xa0\x40\x40", 9},
      {"no kid", (const guint8 *)"\xd2\x84\x43\xa1\x01\x26\xa0\x40\x40", 9},
      {"absurd length", (const guint8 *)"\xd2\x84\x5b\x7f\xff\xff\xff\xff\xff\xff\xff", 12},
      {"huge integer alg",
       (const guint8 *)"\xd2\x84\x4b\xa1\x01\x3b\xff\xff\xff\xff\xff\xff\xff\xff\xa0\x40\x40", 17},
      {"trailing bytes", (const guint8 *)"\xd2\x84\x40\xa0\x40\x40\x00", 7},
      {"zlib junk", (const guint8 *)"\x78\x9c\x01\x02\x03", 5},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *t = text_of(cases[i].bytes, cases[i].n, "SOC1:");
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(t, NULL, k.trust, now);
    g_test_message("%s: %s (%s)", cases[i].name, cs_verify_status_name(v->status), v->detail);
    g_assert_cmpint(v->status, ==, CS_VERIFY_MALFORMED);
  }
  /* deep nesting: 100,000 nested arrays */
  gsize depth = 100000;
  g_autofree guint8 *deep = g_malloc(depth + 1);
  memset(deep, 0x81, depth);
  deep[depth] = 0x00;
  g_autofree char *dt = text_of(deep, depth + 1, "SOC1:");
  g_autoptr(cs_verify_result_t) dv = cs_credential_verify(dt, NULL, k.trust, now);
  g_assert_cmpint(dv->status, ==, CS_VERIFY_MALFORMED);
  const char *texts[] = {"", "SOC1", "SOC1:", "soc1:ABC", "SOC1:bb8", "SOC1:GGW", "SOC1:A",
                         "https://cx.mem.gov.cn/?id=1"};
  for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(texts[i], NULL, k.trust, now);
    g_assert_cmpint(v->status, ==, CS_VERIFY_MALFORMED);
  }
  g_autoptr(cs_verify_result_t) vn = cs_credential_verify(NULL, NULL, k.trust, now);
  g_assert_cmpint(vn->status, ==, CS_VERIFY_MALFORMED);
  free_keys(&k);
}

static void test_claims_need_valid_record(void) {
  g_autoptr(cs_record_t) r = example("examples/special-operation.json");
  g_free(r->id_number);
  r->id_number = g_strdup("110105198503120038");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) c = cs_credential_claims(r, NULL, now, &error);
  g_assert_null(c);
  g_assert_error(error, CS_ERROR, CS_ERROR_INVALID);
}

/* Render a signed card, rasterise its PDF at 300 dpi with poppler, blur it and add noise (a
 * print and a scan), read the QR back with zbar, verify. */
static void test_print_and_scan(void) {
  keyset_t k = make_keys(CS_ALG_ES256);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_catalogue_t) cat = cs_catalogue_load_default(&error);
  g_autoptr(cs_renderer_t) renderer = cs_renderer_new(cat, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(cs_record_t) r = example("examples/special-operation.json");
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, r->type, &error);
  static const char *const front[] = {"front", NULL};
  g_autoptr(cs_card_t) card =
      cs_card_new_signed(renderer, layout, r, k.signer, now, front, &error);
  g_assert_no_error(error);
  g_assert_false(cs_card_is_specimen(card));
  g_autofree char *pdf = g_build_filename(k.dir, "card.pdf", NULL);
  cs_pdf_writer_t *w = cs_pdf_writer_new(pdf, NULL, &error);
  g_assert_true(cs_pdf_writer_add(w, card, front, &error));
  g_assert_true(cs_pdf_writer_close(w, &error));

  /* poppler at 300 dpi */
  g_auto(GStrv) clean = cs_scan_file(pdf, 300, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_strv_length(clean), ==, 1);
  /* the same raster, blurred (3 x 3 box) and with noise of +-24 levels */
  cairo_surface_t *img = cs_card_render_image(card, "front", 300, CS_RENDER_COMPOSITE);
  int stride = cairo_image_surface_get_stride(img), iw = cairo_image_surface_get_width(img),
      ih = cairo_image_surface_get_height(img);
  cairo_surface_flush(img);
  guint8 *px = cairo_image_surface_get_data(img);
  g_autofree guint8 *copy = g_memdup2(px, (gsize)stride * ih);
  GRand *rng = g_rand_new_with_seed(7);
  for (int y = 1; y < ih - 1; y++)
    for (int x = 1; x < iw - 1; x++)
      for (int c = 0; c < 3; c++) {
        int sum = 0;
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++)
            sum += copy[(y + dy) * stride + 4 * (x + dx) + c];
        int v = sum / 9 + g_rand_int_range(rng, -24, 25);
        px[y * stride + 4 * x + c] = (guint8)CLAMP(v, 0, 255);
      }
  g_rand_free(rng);
  cairo_surface_mark_dirty(img);
  g_auto(GStrv) scanned = cs_scan_surface(img);
  cairo_surface_destroy(img);
  g_assert_cmpuint(g_strv_length(scanned), ==, 1);
  g_assert_cmpstr(scanned[0], ==, clean[0]);
  g_autoptr(cs_verify_result_t) v = cs_credential_verify(scanned[0], NULL, k.trust, now + 60);
  g_assert_cmpint(v->status, ==, CS_VERIFY_VALID);
  g_assert_cmpstr(v->record->name, ==, "张建国");
  g_unlink(pdf);
  free_keys(&k);
}

/* The fuzzing seeds: none crashes; with an empty trust store nothing is valid; the valid
 * ones are well formed (unknown signer), every other one is malformed. */
static void test_corpus(void) {
  g_autofree char *dir = testutil_src("tests/fuzz/corpus/credential");
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  g_autoptr(cs_trust_t) empty = cs_trust_new();
  guint n = 0;
  for (const char *name; (name = g_dir_read_name(d));) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(text, NULL, empty, now);
    g_test_message("%s: %s", name, cs_verify_status_name(v->status));
    g_assert_cmpint(v->status, ==,
                    g_str_has_prefix(name, "valid-") ? CS_VERIFY_UNKNOWN_SIGNER
                                                     : CS_VERIFY_MALFORMED);
    n++;
  }
  g_assert_cmpuint(n, >=, 20);
}

/* Claims built by hand, signed with a good key: what a verifier must refuse anyway. */
static cbor_item_t *uint_of(guint64 v) { return cbor_build_uint64(v); }

static void add_pair(cbor_item_t *m, cbor_item_t *k, cbor_item_t *v) {
  cbor_map_add(m, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(v)});
}

static char *sign_raw(cbor_item_t *claims, keyset_t *k) {
  unsigned char *buf = NULL;
  size_t size = 0, len = cbor_serialize_alloc(claims, &buf, &size);
  g_autoptr(GBytes) b = g_bytes_new(buf, len);
  free(buf);
  return cs_credential_sign(b, k->signer, NULL, NULL);
}

static cbor_item_t *cert_claim(guint64 packed_id) {
  cbor_item_t *c = cbor_new_definite_map(8);
  add_pair(c, uint_of(1), uint_of(1));
  add_pair(c, uint_of(2), uint_of(1));
  add_pair(c, uint_of(3), uint_of(packed_id));
  add_pair(c, uint_of(5), cbor_build_stringn("张三", strlen("张三")));
  add_pair(c, uint_of(6), uint_of(1));
  add_pair(c, uint_of(7), cbor_build_stringn("1.2", 3));
  add_pair(c, uint_of(9), uint_of(19000));
  add_pair(c, uint_of(10), uint_of(20000));
  return c;
}

static cbor_item_t *claims_with(gboolean with_exp, gboolean with_cert, guint64 packed_id) {
  cbor_item_t *m = cbor_new_definite_map(4);
  add_pair(m, uint_of(1), cbor_build_stringn("110000", 6));
  if (with_exp)
    add_pair(m, uint_of(4), uint_of((guint64)now + 86400));
  add_pair(m, uint_of(6), uint_of((guint64)now));
  if (with_cert)
    add_pair(m, cbor_build_negint32(65536), cert_claim(packed_id));
  return m;
}

static void test_review_findings(void) {
  keyset_t k = make_keys(CS_ALG_ES256);
  /* 110000105198503120039 packed: 11010519850312003 * 11 + 9 */
  guint64 good_id = 11010519850312003ull * 11 + 9;
  struct {
    const char *name;
    gboolean exp, cert;
    guint64 id;
    cs_verify_status_t want;
  } cases[] = {
      {"hand-made but complete", TRUE, TRUE, good_id, CS_VERIFY_VALID},
      {"no exp: would never expire", FALSE, TRUE, good_id, CS_VERIFY_MALFORMED},
      {"no certificate claim", TRUE, FALSE, good_id, CS_VERIFY_MALFORMED},
      {"packed ID with a wrong check character", TRUE, TRUE, 11010519850312003ull * 11 + 8,
       CS_VERIFY_MALFORMED},
      {"packed ID 00000000000000005X", TRUE, TRUE, 5 * 11 + 10, CS_VERIFY_MALFORMED},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    cbor_item_t *c = claims_with(cases[i].exp, cases[i].cert, cases[i].id);
    g_autofree char *text = sign_raw(c, &k);
    cbor_decref(&c);
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(text, NULL, k.trust, now + 60);
    g_test_message("%s: %s (%s)", cases[i].name, cs_verify_status_name(v->status), v->detail);
    g_assert_cmpint(v->status, ==, cases[i].want);
  }
  /* authority 110000's key signing a certificate of authority 440000 */
  g_autoptr(cs_record_t) r = example("examples/safety-competence.json");
  g_free(r->issuing_authority_code);
  r->issuing_authority_code = g_strdup("440000");
  g_autofree char *foreign = sign(r, &k, NULL);
  g_autoptr(cs_verify_result_t) vf = cs_credential_verify(foreign, NULL, k.trust, now + 60);
  g_assert_cmpint(vf->status, ==, CS_VERIFY_BAD_SIGNATURE);
  /* signed after the signer's certificate ended (365 days): not trusted */
  g_autoptr(cs_record_t) r2 = example("examples/special-operation.json");
  g_autoptr(GBytes) late_claims = cs_credential_claims(r2, photo_hash, now + 400 * 86400, NULL);
  g_autofree char *late = cs_credential_sign(late_claims, k.signer, NULL, NULL);
  g_autoptr(cs_verify_result_t) vl = cs_credential_verify(late, NULL, k.trust, now + 401 * 86400);
  g_assert_cmpint(vl->status, ==, CS_VERIFY_UNKNOWN_SIGNER);
  /* zlib data followed by more bytes: refused (one credential, one text) */
  g_autofree char *text = sign(r2, &k, NULL);
  g_autoptr(GBytes) cose = cose_of(text);
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(cose, &n);
  uLongf zlen = compressBound(n) + 4;
  g_autofree guint8 *z = g_malloc(zlen);
  g_assert_cmpint(compress2(z, &zlen, d, n, 9), ==, Z_OK);
  memcpy(z + zlen, "junk", 4);
  g_autofree char *zt = text_of(z, zlen + 4, "SOC1:");
  g_autoptr(cs_verify_result_t) vz = cs_credential_verify(zt, NULL, k.trust, now + 60);
  g_assert_cmpint(vz->status, ==, CS_VERIFY_MALFORMED);
  free_keys(&k);
}

/* A small PDF declaring a huge page must not exhaust memory or crash the scanner. */
static void test_scan_huge_pdf(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-scan-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "huge.pdf", NULL);
  cairo_surface_t *pdf = cairo_pdf_surface_create(path, 5600 * 72 / 72.0 * 10, 5600 * 10);
  cairo_t *cr = cairo_create(pdf);
  cairo_show_page(cr);
  cairo_destroy(cr);
  cairo_surface_destroy(pdf);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) codes = cs_scan_file(path, 300, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_strv_length(codes), ==, 0);
  g_unlink(path);
  g_rmdir(dir);
}

/* A key is read from the file checked, not through a symbolic link that could be switched. */
static void test_key_through_symlink(void) {
  keyset_t k = make_keys(CS_ALG_EDDSA);
  g_autofree char *key = g_build_filename(k.dir, "key.pem", NULL);
  g_autofree char *link = g_build_filename(k.dir, "link.pem", NULL);
  g_assert_cmpint(symlink(key, link), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_signer_t) s = cs_signer_load_pem(link, NULL, &error);
  g_assert_null(s);
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "symbolic link"));
  g_unlink(link);
  free_keys(&k);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  now = g_get_real_time() / G_USEC_PER_SEC;
  g_test_add_data_func("/credential/round-trip/ES256", GINT_TO_POINTER(CS_ALG_ES256),
                       check_round_trip);
  g_test_add_data_func("/credential/round-trip/EdDSA", GINT_TO_POINTER(CS_ALG_EDDSA),
                       check_round_trip);
  g_test_add_data_func("/credential/round-trip/SM2-SM3", GINT_TO_POINTER(CS_ALG_SM2_SM3),
                       check_round_trip);
  g_test_add_func("/credential/size-v9-m", test_size);
  g_test_add_func("/credential/tamper-every-bit", test_tamper_every_bit);
  g_test_add_func("/credential/clock-and-signers", test_clock_and_signers);
  g_test_add_func("/credential/variants-accepted", test_variants_accepted);
  g_test_add_func("/credential/malformed", test_malformed);
  g_test_add_func("/credential/claims-need-valid-record", test_claims_need_valid_record);
  g_test_add_func("/credential/print-and-scan", test_print_and_scan);
  g_test_add_func("/credential/fuzz-corpus", test_corpus);
  g_test_add_func("/credential/review-findings", test_review_findings);
  g_test_add_func("/credential/scan-huge-pdf", test_scan_huge_pdf);
  g_test_add_func("/credential/key-through-symlink", test_key_through_symlink);
  int rc = g_test_run();
  cs_fonts_shutdown();
  return rc;
}
