#include "credential.h"

#include <cbor.h>
#include <openssl/evp.h>
#include <string.h>
#include <zlib.h>

#include "base45.h"
#include "error.h"
#include "idnumber.h"

#define COSE_SIGN1_TAG 18
#define CWT_TAG 61
#define HDR_ALG 1
#define HDR_KID 4
#define CLAIM_ISS 1
#define CLAIM_EXP 4
#define CLAIM_NBF 5
#define CLAIM_IAT 6
#define MAX_INFLATED (64 * 1024) /* a QR holds < 3 KB: anything larger is an attack */
#define CHINA_UTC_OFFSET (8 * 3600)

/* certificate claim keys */
enum {
  C_VERSION = 1,
  C_TYPE = 2,
  C_ID = 3,
  C_NUMBER = 4,
  C_NAME = 5,
  C_SEX = 6,
  C_ITEM = 7,     /* special operation: item; safety competence: personnel type */
  C_CATEGORY = 8, /* special operation: category (only if not the item's prefix); safety: industry */
  C_FIRST_ISSUE = 9,
  C_VALID_FROM = 10,
  C_REVIEW_DUE = 11,
  C_SERIAL = 12,
  C_PHOTO = 13,
};

void cs_credential_photo_hash(GBytes *photo, guint8 out[CS_PHOTO_HASH_LENGTH]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  gsize n = 0;
  const void *d = g_bytes_get_data(photo, &n);
  EVP_Digest(d, n, md, &len, EVP_sha256(), NULL);
  memcpy(out, md, CS_PHOTO_HASH_LENGTH);
}

/* ---- encoding: the smallest CBOR integer widths, since every byte costs QR modules ---- */

static cbor_item_t *uint_item(guint64 v) {
  if (v <= G_MAXUINT8)
    return cbor_build_uint8((guint8)v);
  if (v <= G_MAXUINT16)
    return cbor_build_uint16((guint16)v);
  if (v <= G_MAXUINT32)
    return cbor_build_uint32((guint32)v);
  return cbor_build_uint64(v);
}

static cbor_item_t *int_item(gint64 v) {
  if (v >= 0)
    return uint_item((guint64)v);
  guint64 m = (guint64)(-1 - v);
  if (m <= G_MAXUINT8)
    return cbor_build_negint8((guint8)m);
  if (m <= G_MAXUINT16)
    return cbor_build_negint16((guint16)m);
  if (m <= G_MAXUINT32)
    return cbor_build_negint32((guint32)m);
  return cbor_build_negint64(m);
}

static void put(cbor_item_t *map, gint64 key, cbor_item_t *value) {
  cbor_map_add(map, (struct cbor_pair){.key = cbor_move(int_item(key)), .value = cbor_move(value)});
}

static void put_text(cbor_item_t *map, gint64 key, const char *text) {
  if (text && *text)
    put(map, key, cbor_build_stringn(text, strlen(text)));
}

static gint64 epoch_days(cs_date_t d) {
  return cs_date_to_days(d) - cs_date_to_days((cs_date_t){1970, 1, 1});
}

static cs_date_t from_epoch_days(gint64 days) {
  return cs_date_add_days((cs_date_t){1970, 1, 1}, (int)days);
}

/* 17 digits and the check character in one integer: digits * 11 + check (X = 10). */
static guint64 pack_id(const char *id) {
  g_autofree char *first17 = g_strndup(id, 17);
  guint64 v = g_ascii_strtoull(first17, NULL, 10);
  return v * 11 + (id[17] == 'X' ? 10 : (guint64)(id[17] - '0'));
}

static char *unpack_id(guint64 v) {
  guint64 check = v % 11, digits = v / 11;
  if (digits > 99999999999999999ull)
    return NULL;
  return g_strdup_printf("%017" G_GUINT64_FORMAT "%c", digits, check == 10 ? 'X' : (char)('0' + check));
}

static GBytes *serialize(cbor_item_t *item) {
  unsigned char *buf = NULL;
  size_t size = 0;
  size_t len = cbor_serialize_alloc(item, &buf, &size);
  GBytes *b = g_bytes_new(buf, len);
  free(buf);
  return b;
}

static char *derived_number(const cs_record_t *r) {
  return r->type == CS_CERT_SPECIAL_OPERATION ? g_strconcat("T", r->id_number, NULL)
                                              : g_strdup(r->id_number);
}

GBytes *cs_credential_claims(const cs_record_t *r, const guint8 *photo_hash, gint64 iat,
                             GError **error) {
  if (r->id_number == NULL || cs_id_number_check(r->id_number) != CS_ID_OK ||
      !cs_date_is_set(r->valid_until) || r->issuing_authority_code == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                "a credential needs a valid record: validate it first");
    return NULL;
  }
  cbor_item_t *cert = cbor_new_definite_map(13);
  put(cert, C_VERSION, uint_item(CS_CREDENTIAL_VERSION));
  put(cert, C_TYPE, uint_item((guint64)r->type));
  put(cert, C_ID, uint_item(pack_id(r->id_number)));
  g_autofree char *derived = derived_number(r);
  if (g_strcmp0(derived, r->certificate_number) != 0)
    put_text(cert, C_NUMBER, r->certificate_number);
  put_text(cert, C_NAME, r->name);
  put(cert, C_SEX, uint_item((guint64)r->sex));
  if (r->type == CS_CERT_SPECIAL_OPERATION) {
    put_text(cert, C_ITEM, r->item);
    g_autofree char *prefix = r->item ? g_strndup(r->item, strcspn(r->item, ".")) : NULL;
    if (g_strcmp0(prefix, r->category) != 0)
      put_text(cert, C_CATEGORY, r->category);
  } else {
    put_text(cert, C_ITEM, r->personnel_type);
    put_text(cert, C_CATEGORY, r->industry);
  }
  put(cert, C_FIRST_ISSUE, uint_item((guint64)epoch_days(r->first_issue_date)));
  put(cert, C_VALID_FROM, uint_item((guint64)epoch_days(r->valid_from)));
  /* the regular review date (3 years after the start of validity) is implied; only another
   * one (the 6-year interval) costs the 4 bytes */
  if (cs_date_is_set(r->review_due) &&
      cs_date_compare(r->review_due, cs_date_add_years(r->valid_from, 3)) != 0)
    put(cert, C_REVIEW_DUE, uint_item((guint64)epoch_days(r->review_due)));
  if (r->card_serial > 0)
    put(cert, C_SERIAL, uint_item((guint64)r->card_serial));
  if (photo_hash)
    put(cert, C_PHOTO, cbor_build_bytestring(photo_hash, CS_PHOTO_HASH_LENGTH));

  cbor_item_t *claims = cbor_new_definite_map(4);
  put_text(claims, CLAIM_ISS, r->issuing_authority_code);
  /* the end of the last valid day in China (UTC+8) */
  gint64 exp = (epoch_days(r->valid_until) + 1) * 86400 - CHINA_UTC_OFFSET;
  put(claims, CLAIM_EXP, uint_item((guint64)exp));
  put(claims, CLAIM_IAT, uint_item((guint64)iat));
  put(claims, CS_CLAIM_CERTIFICATE, cert);
  GBytes *out = serialize(claims);
  cbor_decref(&claims);
  return out;
}

static GBytes *sig_structure(GBytes *protected_hdr, GBytes *payload) {
  cbor_item_t *a = cbor_new_definite_array(4);
  gsize pl = 0, yl = 0;
  const guint8 *p = g_bytes_get_data(protected_hdr, &pl), *y = g_bytes_get_data(payload, &yl);
  cbor_array_push(a, cbor_move(cbor_build_stringn("Signature1", 10)));
  cbor_array_push(a, cbor_move(cbor_build_bytestring(p, pl)));
  cbor_array_push(a, cbor_move(cbor_build_bytestring(NULL, 0)));
  cbor_array_push(a, cbor_move(cbor_build_bytestring(y, yl)));
  GBytes *out = serialize(a);
  cbor_decref(&a);
  return out;
}

char *cs_credential_sign(GBytes *claims, cs_signer_t *signer, const char *prefix,
                         GError **error) {
  cbor_item_t *hdr = cbor_new_definite_map(2);
  put(hdr, HDR_ALG, int_item(cs_signer_alg(signer)));
  put(hdr, HDR_KID, cbor_build_bytestring(cs_signer_kid(signer), CS_KID_LENGTH));
  g_autoptr(GBytes) protected_hdr = serialize(hdr);
  cbor_decref(&hdr);
  g_autoptr(GBytes) tbs = sig_structure(protected_hdr, claims);
  gsize tl = 0;
  const guint8 *t = g_bytes_get_data(tbs, &tl);
  g_autoptr(GBytes) sig = cs_signer_sign(signer, t, tl, error);
  if (sig == NULL)
    return NULL;
  gsize pl = 0, cl = 0, sl = 0;
  const guint8 *p = g_bytes_get_data(protected_hdr, &pl), *c = g_bytes_get_data(claims, &cl),
               *s = g_bytes_get_data(sig, &sl);
  cbor_item_t *array = cbor_new_definite_array(4);
  cbor_array_push(array, cbor_move(cbor_build_bytestring(p, pl)));
  cbor_array_push(array, cbor_move(cbor_new_definite_map(0)));
  cbor_array_push(array, cbor_move(cbor_build_bytestring(c, cl)));
  cbor_array_push(array, cbor_move(cbor_build_bytestring(s, sl)));
  cbor_item_t *tag = cbor_new_tag(COSE_SIGN1_TAG);
  cbor_tag_set_item(tag, cbor_move(array));
  g_autoptr(GBytes) cose = serialize(tag);
  cbor_decref(&tag);
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(cose, &n);
  g_autofree char *b45 = cs_base45_encode(d, n);
  return g_strconcat(prefix ? prefix : CS_CREDENTIAL_PREFIX, b45, NULL);
}

/* ---- verification: every step distrusts its input ---- */

const char *cs_verify_status_name(cs_verify_status_t s) {
  switch (s) {
  case CS_VERIFY_VALID:
    return "valid";
  case CS_VERIFY_BAD_SIGNATURE:
    return "bad-signature";
  case CS_VERIFY_UNKNOWN_SIGNER:
    return "unknown-signer";
  case CS_VERIFY_EXPIRED:
    return "expired";
  case CS_VERIFY_NOT_YET_VALID:
    return "not-yet-valid";
  case CS_VERIFY_MALFORMED:
    return "malformed";
  }
  return "?";
}

void cs_verify_result_free(cs_verify_result_t *r) {
  if (r == NULL)
    return;
  g_free(r->detail);
  g_free(r->signer_subject);
  g_free(r->signer_authority);
  g_free(r->iss);
  cs_record_free(r->record);
  g_free(r);
}

G_GNUC_PRINTF(3, 4)
static cs_verify_result_t *finish(cs_verify_result_t *r, cs_verify_status_t s, const char *fmt,
                                  ...) {
  va_list ap;
  va_start(ap, fmt);
  r->status = s;
  g_free(r->detail);
  r->detail = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  return r;
}

static GBytes *inflate_bounded(const guint8 *d, gsize n) {
  z_stream zs = {0};
  if (inflateInit(&zs) != Z_OK)
    return NULL;
  guint8 *out = g_malloc(MAX_INFLATED);
  zs.next_in = (Bytef *)d;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = MAX_INFLATED;
  int rc = inflate(&zs, Z_FINISH);
  gsize produced = MAX_INFLATED - zs.avail_out;
  gboolean trailing = zs.avail_in != 0; /* bytes after the stream: one credential, one text */
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || trailing) {
    g_free(out);
    return NULL;
  }
  return g_bytes_new_take(out, produced);
}

/* libcbor 0.8 allocates a definite array or map for its declared size before reading it: a
 * one-bit change can declare four billion elements and hang or exhaust the verifier. This
 * pre-pass, with libcbor's own streaming decoder, refuses any collection declaring more
 * elements than bytes remain, and anything of indefinite length (COSE and CWT use none). */
typedef struct {
  gsize remaining;
  gboolean bad;
} plausible_t;

static void on_array(void *ctx, size_t size) {
  plausible_t *p = ctx;
  p->bad |= size > p->remaining;
}

static void on_map(void *ctx, size_t size) {
  plausible_t *p = ctx;
  p->bad |= size > p->remaining / 2;
}

static void on_indefinite(void *ctx) { ((plausible_t *)ctx)->bad = TRUE; }

static cbor_item_t *load_item(const guint8 *d, gsize n) {
  struct cbor_callbacks cb = cbor_empty_callbacks;
  cb.array_start = on_array;
  cb.map_start = on_map;
  cb.indef_array_start = on_indefinite;
  cb.indef_map_start = on_indefinite;
  cb.byte_string_start = on_indefinite;
  cb.string_start = on_indefinite;
  plausible_t p = {0, FALSE};
  for (gsize pos = 0; pos < n;) {
    p.remaining = n - pos;
    struct cbor_decoder_result r = cbor_stream_decode(d + pos, n - pos, &cb, &p);
    if (r.status != CBOR_DECODER_FINISHED || p.bad || r.read == 0)
      return NULL;
    pos += r.read;
  }
  struct cbor_load_result lr;
  cbor_item_t *item = cbor_load(d, n, &lr);
  if (item && (lr.error.code != CBOR_ERR_NONE || lr.read != n)) {
    cbor_decref(&item);
    return NULL;
  }
  return item;
}

/* A map's value for an integer key, or NULL. */
static cbor_item_t *lookup(const cbor_item_t *map, gint64 key) {
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); i++) {
    cbor_item_t *k = pairs[i].key;
    gint64 v;
    if (cbor_isa_uint(k) && cbor_get_int(k) <= G_MAXINT64)
      v = (gint64)cbor_get_int(k);
    else if (cbor_isa_negint(k) && cbor_get_int(k) < G_MAXINT64)
      v = -1 - (gint64)cbor_get_int(k);
    else
      continue;
    if (v == key)
      return pairs[i].value;
  }
  return NULL;
}

static gboolean get_int(const cbor_item_t *map, gint64 key, gint64 *out) {
  cbor_item_t *v = lookup(map, key);
  if (v == NULL)
    return FALSE;
  if (cbor_isa_uint(v) && cbor_get_int(v) <= G_MAXINT64)
    *out = (gint64)cbor_get_int(v);
  else if (cbor_isa_negint(v) && cbor_get_int(v) < G_MAXINT64)
    *out = -1 - (gint64)cbor_get_int(v);
  else
    return FALSE;
  return TRUE;
}

static char *get_text(const cbor_item_t *map, gint64 key) {
  cbor_item_t *v = lookup(map, key);
  if (v == NULL || !cbor_isa_string(v) || !cbor_string_is_definite(v))
    return NULL;
  gsize n = cbor_string_length(v);
  const char *s = (const char *)cbor_string_handle(v);
  if (!g_utf8_validate(s, (gssize)n, NULL) || memchr(s, 0, n))
    return NULL;
  return g_strndup(s, n);
}

/* For optional members: absent is fine (TRUE, *out untouched); present with the wrong type
 * is not (FALSE), as docs/qr-format.md says. */
static gboolean opt_int(const cbor_item_t *map, gint64 key, gint64 *out) {
  return lookup(map, key) == NULL || get_int(map, key, out);
}

static gboolean opt_text(const cbor_item_t *map, gint64 key, char **out) {
  if (lookup(map, key) == NULL)
    return TRUE;
  *out = get_text(map, key);
  return *out != NULL;
}

static gboolean is_bstr(const cbor_item_t *v) {
  return v && cbor_isa_bytestring(v) && cbor_bytestring_is_definite(v);
}

/* Our certificate claim back into a record; FALSE if anything in it is of the wrong shape. */
static gboolean read_certificate(const cbor_item_t *m, cs_verify_result_t *res) {
  gint64 version, type, sex, first, from;
  guint64 id;
  cbor_item_t *idv = lookup(m, C_ID);
  if (!get_int(m, C_VERSION, &version) || version != CS_CREDENTIAL_VERSION ||
      !get_int(m, C_TYPE, &type) || (type != CS_CERT_SPECIAL_OPERATION &&
                                      type != CS_CERT_SAFETY_COMPETENCE) ||
      idv == NULL || !cbor_isa_uint(idv) || !get_int(m, C_SEX, &sex) || sex < 1 || sex > 2 ||
      !get_int(m, C_FIRST_ISSUE, &first) || !get_int(m, C_VALID_FROM, &from) || first < 0 ||
      from < 0 || first > 200000 || from > 200000)
    return FALSE;
  id = cbor_get_int(idv);
  cs_record_t *r = cs_record_new();
  res->record = r;
  r->type = (cs_cert_type_t)type;
  r->id_number = unpack_id(id);
  if (r->id_number == NULL || cs_id_number_check(r->id_number) != CS_ID_OK)
    return FALSE;
  if (!opt_text(m, C_NUMBER, &r->certificate_number))
    return FALSE;
  if (r->certificate_number == NULL)
    r->certificate_number = derived_number(r);
  r->name = get_text(m, C_NAME);
  r->sex = (cs_sex_t)sex;
  char *item = NULL, *category = NULL;
  if (!opt_text(m, C_ITEM, &item) || !opt_text(m, C_CATEGORY, &category)) {
    g_free(item);
    g_free(category);
    return FALSE;
  }
  if (r->type == CS_CERT_SPECIAL_OPERATION) {
    r->item = item;
    r->category = category ? category : item ? g_strndup(item, strcspn(item, ".")) : NULL;
  } else {
    r->personnel_type = item;
    r->industry = category;
  }
  r->first_issue_date = from_epoch_days(first);
  r->valid_from = from_epoch_days(from);
  gint64 review = -1, serial = 0;
  if (!opt_int(m, C_REVIEW_DUE, &review) || !opt_int(m, C_SERIAL, &serial) || review > 200000 ||
      (lookup(m, C_REVIEW_DUE) && review < 0) || serial < 0)
    return FALSE;
  if (review >= 0)
    r->review_due = from_epoch_days(review);
  else if (r->type == CS_CERT_SPECIAL_OPERATION)
    r->review_due = cs_date_add_years(r->valid_from, 3);
  r->card_serial = serial;
  if (res->exp > 0)
    r->valid_until = from_epoch_days((res->exp + CHINA_UTC_OFFSET) / 86400 - 1);
  cbor_item_t *ph = lookup(m, C_PHOTO);
  if (ph) {
    if (!is_bstr(ph) || cbor_bytestring_length(ph) != CS_PHOTO_HASH_LENGTH)
      return FALSE;
    memcpy(res->photo_hash, cbor_bytestring_handle(ph), CS_PHOTO_HASH_LENGTH);
  }
  return r->name != NULL;
}

static cs_verify_result_t *verify_cose(cs_verify_result_t *res, const guint8 *d, gsize n,
                                       const cs_trust_t *trust, gint64 at, const char *prefix) {
  /* libcbor 0.8 (Debian 12) refuses the unassigned tag values 6 to 20 when decoding, and
   * COSE_Sign1 is tag 18 (0xD2): the outer tags are taken off here, byte by byte: CWT 61
   * (D8 3D), then COSE_Sign1 18 (D2, or D8 12). What is left must be the array. */
  if (n >= 2 && d[0] == 0xD8 && d[1] == CWT_TAG)
    d += 2, n -= 2;
  if (n >= 1 && d[0] == 0xC0 + COSE_SIGN1_TAG)
    d += 1, n -= 1;
  else if (n >= 2 && d[0] == 0xD8 && d[1] == COSE_SIGN1_TAG)
    d += 2, n -= 2;
  cbor_item_t *root = load_item(d, n);
  if (root == NULL)
    return finish(res, CS_VERIFY_MALFORMED, "not one well-formed CBOR item");
  /* unwrap CWT tag 61 and COSE_Sign1 tag 18; an untagged array is accepted too */
  cbor_item_t *item = cbor_incref(root);
  for (int depth = 0; depth < 2 && cbor_isa_tag(item); depth++) {
    guint64 t = cbor_tag_value(item);
    if ((depth == 0 && t != CWT_TAG && t != COSE_SIGN1_TAG) || (depth == 1 && t != COSE_SIGN1_TAG) ||
        (t == CWT_TAG && depth == 1)) {
      cbor_decref(&item);
      cbor_decref(&root);
      return finish(res, CS_VERIFY_MALFORMED, "CBOR tag %" G_GUINT64_FORMAT " is not COSE_Sign1 (18)", t);
    }
    cbor_item_t *inner = cbor_tag_item(item);
    cbor_decref(&item);
    item = inner;
  }
  cs_verify_result_t *out = NULL;
  cbor_item_t *prot = NULL, *unprot = NULL, *payload = NULL, *sig = NULL;
  cbor_item_t *hdr = NULL, *claims = NULL;
  g_autoptr(GBytes) pb = NULL;
  g_autoptr(GBytes) yb = NULL;
  g_autoptr(GBytes) tbs = NULL;
  if (!cbor_isa_array(item) || cbor_array_size(item) != 4) {
    out = finish(res, CS_VERIFY_MALFORMED, "COSE_Sign1 must be an array of 4");
    goto done;
  }
  prot = cbor_array_get(item, 0);
  unprot = cbor_array_get(item, 1);
  payload = cbor_array_get(item, 2);
  sig = cbor_array_get(item, 3);
  if (!is_bstr(prot) || !cbor_isa_map(unprot) || !is_bstr(payload) || !is_bstr(sig)) {
    out = finish(res, CS_VERIFY_MALFORMED, "COSE_Sign1 members have the wrong types");
    goto done;
  }
  hdr = load_item(cbor_bytestring_handle(prot), cbor_bytestring_length(prot));
  if (hdr == NULL || !cbor_isa_map(hdr)) {
    out = finish(res, CS_VERIFY_MALFORMED, "the protected header is not a CBOR map");
    goto done;
  }
  gint64 alg;
  if (!get_int(hdr, HDR_ALG, &alg) || alg < G_MININT32 || alg > G_MAXINT32 ||
      cs_alg_name((cs_alg_t)alg) == NULL) {
    out = finish(res, CS_VERIFY_MALFORMED, "no supported alg in the protected header");
    goto done;
  }
  res->alg = (cs_alg_t)alg;
  /* kid: protected header, else (other issuers) the unprotected one */
  cbor_item_t *kid = lookup(hdr, HDR_KID);
  if (kid == NULL)
    kid = lookup(unprot, HDR_KID);
  if (!is_bstr(kid) || cbor_bytestring_length(kid) == 0 || cbor_bytestring_length(kid) > 64) {
    out = finish(res, CS_VERIFY_MALFORMED, "no kid");
    goto done;
  }
  res->kid_length = MIN(cbor_bytestring_length(kid), sizeof res->kid);
  memcpy(res->kid, cbor_bytestring_handle(kid), res->kid_length);

  claims = load_item(cbor_bytestring_handle(payload), cbor_bytestring_length(payload));
  if (claims == NULL || !cbor_isa_map(claims)) {
    out = finish(res, CS_VERIFY_MALFORMED, "the payload is not a CWT claims map");
    goto done;
  }
  res->n_claims = (guint)cbor_map_size(claims);

  pb = g_bytes_new(cbor_bytestring_handle(prot), cbor_bytestring_length(prot));
  yb = g_bytes_new(cbor_bytestring_handle(payload), cbor_bytestring_length(payload));
  tbs = sig_structure(pb, yb);
  gsize tl = 0;
  const guint8 *t = g_bytes_get_data(tbs, &tl);
  const cs_trust_entry_t *who = NULL;
  gboolean known = FALSE;
  if (!cs_trust_verify(trust, cbor_bytestring_handle(kid), cbor_bytestring_length(kid),
                       res->alg, t, tl, cbor_bytestring_handle(sig), cbor_bytestring_length(sig),
                       &who, &known)) {
    out = known ? finish(res, CS_VERIFY_BAD_SIGNATURE, "the signature does not verify")
                : finish(res, CS_VERIFY_UNKNOWN_SIGNER, "no trusted key has this kid");
    goto done;
  }
  res->signer_subject = g_strdup(who->subject);
  res->signer_authority = g_strdup(who->authority);
  gint64 nbf = 0;
  /* a credential without a usable expiry would never expire: exp is required, and every time
   * claim that is present must be a whole number of seconds */
  if (!get_int(claims, CLAIM_EXP, &res->exp) || res->exp <= 0 ||
      !opt_int(claims, CLAIM_IAT, &res->iat) || !opt_int(claims, CLAIM_NBF, &nbf) ||
      res->iat < 0 || nbf < 0 || !opt_text(claims, CLAIM_ISS, &res->iss)) {
    out = finish(res, CS_VERIFY_MALFORMED, "exp, iat, nbf or iss missing or of the wrong type");
    goto done;
  }
  /* a key is trusted only within its certificate's validity: retiring a key works */
  gint64 signed_at = res->iat > 0 ? res->iat : at;
  if ((who->not_before > 0 && signed_at < who->not_before) ||
      (who->not_after > 0 && signed_at > who->not_after)) {
    out = finish(res, CS_VERIFY_UNKNOWN_SIGNER,
                 "the signer's certificate was not valid when the credential was signed");
    goto done;
  }
  gboolean ours = g_str_equal(prefix, CS_CREDENTIAL_PREFIX);
  /* an authority's key signs that authority's certificates only */
  if (ours && who->authority && g_strcmp0(res->iss, who->authority) != 0) {
    out = finish(res, CS_VERIFY_BAD_SIGNATURE, "issued for %s but signed by authority %s",
                 res->iss ? res->iss : "(none)", who->authority);
    goto done;
  }
  cbor_item_t *cert = lookup(claims, CS_CLAIM_CERTIFICATE);
  if (cert || ours) {
    if (cert == NULL || !cbor_isa_map(cert) || !read_certificate(cert, res)) {
      out = finish(res, CS_VERIFY_MALFORMED, "the certificate claim is missing or malformed");
      goto done;
    }
    res->has_certificate = TRUE;
  }
  if (at > res->exp)
    out = finish(res, CS_VERIFY_EXPIRED, "expired");
  else if ((res->iat > 0 && at < res->iat) || (nbf > 0 && at < nbf))
    out = finish(res, CS_VERIFY_NOT_YET_VALID, "not yet valid");
  else
    out = finish(res, CS_VERIFY_VALID, "valid");
done:
  if (claims)
    cbor_decref(&claims);
  if (hdr)
    cbor_decref(&hdr);
  if (prot)
    cbor_decref(&prot);
  if (unprot)
    cbor_decref(&unprot);
  if (payload)
    cbor_decref(&payload);
  if (sig)
    cbor_decref(&sig);
  cbor_decref(&item);
  cbor_decref(&root);
  return out;
}

cs_verify_result_t *cs_credential_verify(const char *text, const char *prefix,
                                         const cs_trust_t *trust, gint64 at) {
  cs_verify_result_t *res = g_new0(cs_verify_result_t, 1);
  prefix = prefix ? prefix : CS_CREDENTIAL_PREFIX;
  if (text == NULL || !g_str_has_prefix(text, prefix))
    return finish(res, CS_VERIFY_MALFORMED, "the text does not start with %s", prefix);
  const char *body = text + strlen(prefix);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = cs_base45_decode(body, strlen(body), &error);
  if (raw == NULL)
    return finish(res, CS_VERIFY_MALFORMED, "bad base45: %s", error->message);
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(raw, &n);
  g_autoptr(GBytes) inflated = NULL;
  if (n > 0 && d[0] == 0x78) {
    inflated = inflate_bounded(d, n);
    if (inflated == NULL)
      return finish(res, CS_VERIFY_MALFORMED, "bad zlib data");
    d = g_bytes_get_data(inflated, &n);
  }
  return verify_cose(res, d, n, trust, at, prefix);
}
