/* The QR credential (docs/qr-format.md): PREFIX + base45( [zlib] COSE_Sign1( CWT ) ).
 *
 * Only a verifier holding the issuers' keys learns anything from it: there is no URL and no
 * plain text, and a single changed bit anywhere fails verification. The layering is the EU
 * Digital COVID Certificate's, so the verifier also accepts zlib-compressed, untagged and
 * CWT-tagged (61) COSE, and other issuers' prefixes. */
#pragma once

#include <glib.h>

#include "catalogue.h"
#include "record.h"
#include "signer.h"

G_BEGIN_DECLS

#define CS_CREDENTIAL_PREFIX "SOC1:"
#define CS_CREDENTIAL_VERSION 1
#define CS_PHOTO_HASH_LENGTH 8
/* The private-use CWT claim that holds the certificate (below -65536, RFC 8392 section 9.1) */
#define CS_CLAIM_CERTIFICATE (-65537)

typedef enum {
  CS_VERIFY_VALID = 0,
  CS_VERIFY_BAD_SIGNATURE,  /* a key with that kid exists and the signature does not verify */
  CS_VERIFY_UNKNOWN_SIGNER, /* no key in the trust store has that kid */
  CS_VERIFY_EXPIRED,        /* signature good, but after exp */
  CS_VERIFY_NOT_YET_VALID,  /* signature good, but before iat (or nbf) */
  CS_VERIFY_MALFORMED,      /* prefix, base45, zlib, COSE or CWT structure wrong */
} cs_verify_status_t;

typedef struct {
  cs_verify_status_t status;
  char *detail;             /* why, for people: which step failed */
  cs_alg_t alg;
  guint8 kid[CS_KID_LENGTH];
  gsize kid_length;
  char *signer_subject;     /* from the trust store */
  char *signer_authority;
  char *iss;
  gint64 iat, exp;          /* Unix seconds; 0 when absent */
  gboolean has_certificate; /* our certificate claim was present and well formed */
  cs_record_t *record;      /* the fields it carries (NULL without our claim) */
  guint8 photo_hash[CS_PHOTO_HASH_LENGTH];
  guint n_claims;
} cs_verify_result_t;

/* The first 8 bytes of SHA-256 of the photo exactly as printed (the JPEG a card carries). */
void cs_credential_photo_hash(GBytes *photo, guint8 out[CS_PHOTO_HASH_LENGTH]);

/* The CWT claims for a record: iss, iat (now), exp (the end of the last valid day, UTC+8),
 * and the certificate claim. A new CBOR encoding. */
GBytes *cs_credential_claims(const cs_record_t *record, const guint8 *photo_hash, gint64 iat,
                             GError **error);
/* Signs claims into the QR text (prefix included). */
char *cs_credential_sign(GBytes *claims, cs_signer_t *signer, const char *prefix,
                         GError **error);
/* at: the verification clock (Unix seconds). prefix NULL: CS_CREDENTIAL_PREFIX. */
cs_verify_result_t *cs_credential_verify(const char *text, const char *prefix,
                                         const cs_trust_t *trust, gint64 at);
void cs_verify_result_free(cs_verify_result_t *result);
const char *cs_verify_status_name(cs_verify_status_t status);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_verify_result_t, cs_verify_result_free)

G_END_DECLS
