/* Signing keys and the trust store for the QR credential (docs/qr-format.md).
 *
 * Signatures are in COSE's form: ECDSA as r||s (32 + 32 bytes for P-256), EdDSA as the 64-byte
 * Ed25519 signature, SM2 as r||s (32 + 32). A key identifier (kid) is the first 8 bytes of
 * SHA-256 over the signer's DER certificate, or over its DER SubjectPublicKeyInfo where there
 * is no certificate. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CS_ALG_ES256 = -7,       /* ECDSA P-256 with SHA-256 */
  CS_ALG_EDDSA = -8,       /* Ed25519 */
  CS_ALG_PS256 = -37,      /* RSASSA-PSS with SHA-256: verify only */
  CS_ALG_SM2_SM3 = -65600, /* SM2 with SM3, GB/T 35275 (private use; docs/qr-format.md) */
} cs_alg_t;

#define CS_KID_LENGTH 8

const char *cs_alg_name(cs_alg_t alg); /* "ES256", "EdDSA", "PS256", "SM2-SM3"; NULL if unknown */
gboolean cs_alg_from_name(const char *name, cs_alg_t *alg);

typedef struct cs_signer cs_signer_t;

/* A private key from a PEM file, refused if group- or world-readable (CS_ERROR_IO); its
 * certificate (PEM) if cert_path is not NULL, which then gives the kid. The algorithm follows
 * from the key: P-256 -> ES256, Ed25519 -> EdDSA, SM2 -> SM2-SM3; anything else
 * CS_ERROR_UNSUPPORTED. */
cs_signer_t *cs_signer_load_pem(const char *key_path, const char *cert_path, GError **error);
/* A key in a PKCS#11 token: module (a .so path), the token's label, the private key's
 * CKA_LABEL; the PIN from pin_file (first line; refused if group- or world-readable, like PEM
 * keys) or, if pin_file is NULL, the environment variable named pin_env (never the command
 * line). ES256 (CKM_ECDSA over a SHA-256 digest computed here, the token returns r||s) and
 * EdDSA (CKM_EDDSA). The kid is computed from the certificate object with the same label
 * (CKO_CERTIFICATE, CKA_VALUE) if the token holds one, else from the public key object
 * (CKO_PUBLIC_KEY, same label) as SubjectPublicKeyInfo. The signer keeps a logged-in session
 * open until it is freed; a signer is not to be used from two threads at once. */
cs_signer_t *cs_signer_load_pkcs11(const char *module, const char *token_label,
                                   const char *key_label, const char *pin_file,
                                   const char *pin_env, GError **error);
void cs_signer_free(cs_signer_t *signer);
cs_alg_t cs_signer_alg(const cs_signer_t *signer);
const guint8 *cs_signer_kid(const cs_signer_t *signer); /* CS_KID_LENGTH bytes */
/* The signature over data, in COSE's form. */
GBytes *cs_signer_sign(cs_signer_t *signer, const guint8 *data, gsize length, GError **error);

/* A new key pair and a self-signed issuer certificate (subject CN = common_name, O = the
 * issuing authority code), for tests and demonstrations: key.pem (mode 0600) and cert.pem. */
gboolean cs_keygen(cs_alg_t alg, const char *common_name, const char *authority_code,
                   int days, const char *key_path, const char *cert_path, GError **error);

typedef struct cs_trust cs_trust_t;

/* Every *.pem, *.crt, *.der file of dir: X.509 certificates or public keys (SPKI). A file that
 * cannot be read is an error naming it (a trust store must not silently lose a key). */
cs_trust_t *cs_trust_load(const char *dir, GError **error);
/* An empty store, to add keys to one by one (tests, `verify --cert`). */
cs_trust_t *cs_trust_new(void);
gboolean cs_trust_add_file(cs_trust_t *trust, const char *path, GError **error);
void cs_trust_free(cs_trust_t *trust);
guint cs_trust_count(const cs_trust_t *trust);

typedef struct {
  const char *subject;   /* the certificate's subject, or "public key" */
  const char *authority; /* the subject's O (the issuing authority code), if any */
  gint64 not_before, not_after; /* Unix seconds; 0 when there is no certificate */
} cs_trust_entry_t;

/* Verifies sig (COSE form) over data with every key whose kid matches and that can do alg;
 * TRUE and *signer set to the key that verified it. FALSE with *kid_known telling whether
 * any key had that kid (bad signature) or none (unknown signer). */
gboolean cs_trust_verify(const cs_trust_t *trust, const guint8 *kid, gsize kid_length,
                         cs_alg_t alg, const guint8 *data, gsize data_length,
                         const guint8 *sig, gsize sig_length, const cs_trust_entry_t **signer,
                         gboolean *kid_known);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_signer_t, cs_signer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_trust_t, cs_trust_free)

G_END_DECLS
