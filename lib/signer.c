#include "signer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "io.h"
#include "signer-private.h"

/* Key and certificate files are small; anything larger is not one. */
#define MAX_KEY_FILE (64 * 1024)
#define MAX_TRUST_FILE (1024 * 1024)
/* r||s of P-256 and SM2: two 32-byte integers. */
#define EC_COORD 32
#define EC_RAW_SIG (2 * EC_COORD)
/* The signer ID of SM2 signatures (Z_A of GB/T 32918.2): the default ID of GB/T 35275, the
 * one every SM2 implementation uses when none was agreed. Signer and verifier must use the
 * same one or no signature verifies. */
static const char SM2_ID[] = "1234567812345678";
#define SM2_ID_LEN 16

struct cs_signer {
  EVP_PKEY *pkey;
  cs_alg_t alg;
  guint8 kid[CS_KID_LENGTH];
  /* Another backend (a PKCS#11 token) instead of pkey, when sign is set. */
  cs_signer_sign_fn sign;
  gpointer backend_data;
  GDestroyNotify backend_free;
};

typedef struct {
  cs_trust_entry_t pub; /* first: handed out as a const cs_trust_entry_t * */
  EVP_PKEY *pkey;
  guint8 kid[CS_KID_LENGTH];
} trust_key_t;

struct cs_trust {
  GPtrArray *keys; /* of trust_key_t, each its own allocation so pointers stay valid */
};

/* ---- algorithms ---- */

static const struct {
  cs_alg_t alg;
  const char *name;
} alg_names[] = {
    {CS_ALG_ES256, "ES256"},
    {CS_ALG_EDDSA, "EdDSA"},
    {CS_ALG_PS256, "PS256"},
    {CS_ALG_SM2_SM3, "SM2-SM3"},
};

const char *cs_alg_name(cs_alg_t alg) {
  for (guint i = 0; i < G_N_ELEMENTS(alg_names); i++)
    if (alg_names[i].alg == alg)
      return alg_names[i].name;
  return NULL;
}

gboolean cs_alg_from_name(const char *name, cs_alg_t *alg) {
  for (guint i = 0; name && i < G_N_ELEMENTS(alg_names); i++)
    if (g_ascii_strcasecmp(alg_names[i].name, name) == 0) {
      if (alg)
        *alg = alg_names[i].alg;
      return TRUE;
    }
  return FALSE;
}

/* ---- helpers ---- */

/* The message of the earliest OpenSSL error queued (the cause), or a generic one; clears the
 * queue so that no stale error is reported later. */
static char *ossl_reason(void) {
  unsigned long e = ERR_peek_error();
  char buf[256] = "unknown OpenSSL error";
  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return g_strdup(buf);
}

/* The curve of an EC key ("prime256v1", "SM2"…), or NULL. */
static char *ec_group(const EVP_PKEY *pkey) {
  char name[64];
  size_t len = 0;
  if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name,
                                      &len)) {
    ERR_clear_error();
    return NULL;
  }
  return g_strndup(name, len);
}

static gboolean is_p256(const char *group) {
  return group && (g_ascii_strcasecmp(group, "prime256v1") == 0 ||
                   g_ascii_strcasecmp(group, "P-256") == 0 ||
                   g_ascii_strcasecmp(group, "secp256r1") == 0);
}

/* OpenSSL 3.0 has two key types for SM2 keys: "SM2", which does SM2 signatures, and "EC" with
 * the SM2 curve (e.g. EVP_PKEY_Q_keygen("EC", "SM2")), which would sign ECDSA. 3.0's PEM and
 * DER decoders already return "SM2" for every key on the curve (PKCS#8, SEC1, SPKI, X.509);
 * this covers decoders that do not. Returns a new reference to an "SM2" key (the same key
 * material), or NULL if the key is not on the SM2 curve. */
static EVP_PKEY *as_sm2(EVP_PKEY *pkey) {
  if (EVP_PKEY_is_a(pkey, "SM2")) {
    EVP_PKEY_up_ref(pkey);
    return pkey;
  }
  if (!EVP_PKEY_is_a(pkey, "EC"))
    return NULL;
  g_autofree char *group = ec_group(pkey);
  if (group == NULL || g_ascii_strcasecmp(group, "SM2") != 0)
    return NULL;
  int selection = EVP_PKEY_PUBLIC_KEY;
  BIGNUM *priv = NULL;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv)) {
    selection = EVP_PKEY_KEYPAIR;
    BN_clear_free(priv);
  }
  ERR_clear_error();
  OSSL_PARAM *params = NULL;
  EVP_PKEY *out = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
  if (!ctx || EVP_PKEY_todata(pkey, selection, &params) != 1 ||
      EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &out, selection, params) != 1) {
    EVP_PKEY_free(out);
    out = NULL;
    ERR_clear_error();
  }
  OSSL_PARAM_free(params); /* the private part lives in secure memory, cleansed */
  EVP_PKEY_CTX_free(ctx);
  return out;
}

/* Takes ownership of *pkey and replaces it with its "SM2" form if it is an SM2 key. */
static void normalise_key(EVP_PKEY **pkey) {
  EVP_PKEY *sm2 = as_sm2(*pkey);
  if (sm2) {
    EVP_PKEY_free(*pkey);
    *pkey = sm2;
  }
}

/* The signing algorithm of a (normalised) private key, or FALSE. */
static gboolean key_alg(const EVP_PKEY *pkey, cs_alg_t *alg) {
  if (EVP_PKEY_is_a(pkey, "SM2")) {
    *alg = CS_ALG_SM2_SM3;
    return TRUE;
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) {
    *alg = CS_ALG_EDDSA;
    return TRUE;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    g_autofree char *group = ec_group(pkey);
    if (is_p256(group)) {
      *alg = CS_ALG_ES256;
      return TRUE;
    }
  }
  return FALSE;
}

/* Whether a (normalised) key can verify alg's signatures. PS256: RFC 8230 asks for keys of
 * at least 2048 bits. */
static gboolean key_can_do(const EVP_PKEY *pkey, cs_alg_t alg) {
  cs_alg_t own;
  switch (alg) {
  case CS_ALG_ES256:
  case CS_ALG_EDDSA:
  case CS_ALG_SM2_SM3:
    return key_alg(pkey, &own) && own == alg;
  case CS_ALG_PS256:
    return (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) &&
           EVP_PKEY_get_bits(pkey) >= 2048;
  }
  return FALSE;
}

/* A description of a key for messages: "EC (secp384r1)", "RSA"… */
static char *key_description(const EVP_PKEY *pkey) {
  const char *type = EVP_PKEY_get0_type_name(pkey);
  if (type == NULL)
    type = "unknown";
  g_autofree char *group = EVP_PKEY_is_a(pkey, "EC") ? ec_group(pkey) : NULL;
  if (group)
    return g_strdup_printf("%s (%s)", type, group);
  if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS"))
    return g_strdup_printf("%s-%d", type, EVP_PKEY_get_bits(pkey));
  return g_strdup(type);
}

/* kid: the first bytes of SHA-256 over the DER certificate, or over the DER SPKI. */
static gboolean compute_kid(X509 *cert, EVP_PKEY *pkey, guint8 kid[CS_KID_LENGTH]) {
  unsigned char *der = NULL;
  int len = cert ? i2d_X509(cert, &der) : i2d_PUBKEY(pkey, &der);
  if (len <= 0) {
    ERR_clear_error();
    return FALSE;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  gboolean ok = EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL) == 1;
  OPENSSL_free(der);
  if (ok)
    memcpy(kid, md, CS_KID_LENGTH);
  ERR_clear_error();
  return ok;
}

/* DER ECDSA-Sig-Value (ECDSA and SM2 alike) -> r||s of 32 + 32 bytes. */
static GBytes *der_to_raw(const unsigned char *der, size_t len) {
  const unsigned char *p = der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
  if (sig == NULL || p != der + len) {
    ECDSA_SIG_free(sig);
    return NULL;
  }
  const BIGNUM *r = NULL, *s = NULL;
  ECDSA_SIG_get0(sig, &r, &s);
  guint8 *raw = g_malloc(EC_RAW_SIG);
  gboolean ok = BN_bn2binpad(r, raw, EC_COORD) == EC_COORD &&
                BN_bn2binpad(s, raw + EC_COORD, EC_COORD) == EC_COORD;
  ECDSA_SIG_free(sig);
  if (!ok) {
    g_free(raw);
    return NULL;
  }
  return g_bytes_new_take(raw, EC_RAW_SIG);
}

/* r||s (exactly 64 bytes) -> DER, or NULL. *der is freed with OPENSSL_free. */
static int raw_to_der(const guint8 *raw, gsize len, unsigned char **der) {
  if (len != EC_RAW_SIG)
    return 0;
  ECDSA_SIG *sig = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(raw, EC_COORD, NULL), *s = BN_bin2bn(raw + EC_COORD, EC_COORD, NULL);
  int out = 0;
  if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = NULL; /* owned by sig */
    out = i2d_ECDSA_SIG(sig, der);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return out > 0 ? out : 0;
}

/* Sets up md_ctx to sign (verify FALSE) or verify with pkey for alg. */
static gboolean digest_init(EVP_MD_CTX *md_ctx, EVP_PKEY *pkey, cs_alg_t alg, gboolean verify) {
  const EVP_MD *md = NULL;
  switch (alg) {
  case CS_ALG_ES256:
  case CS_ALG_PS256:
    md = EVP_sha256();
    break;
  case CS_ALG_SM2_SM3:
    md = EVP_sm3();
    break;
  case CS_ALG_EDDSA:
    md = NULL; /* Ed25519 is one-shot, without a separate digest */
    break;
  }
  EVP_PKEY_CTX *pctx = NULL; /* owned by md_ctx */
  int ok = verify ? EVP_DigestVerifyInit(md_ctx, &pctx, md, NULL, pkey)
                  : EVP_DigestSignInit(md_ctx, &pctx, md, NULL, pkey);
  if (ok != 1)
    return FALSE;
  if (alg == CS_ALG_SM2_SM3)
    return EVP_PKEY_CTX_set1_id(pctx, SM2_ID, SM2_ID_LEN) == 1;
  if (alg == CS_ALG_PS256) /* RFC 8230: MGF1 with SHA-256, salt as long as the hash */
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1;
  return TRUE;
}

/* ---- signer ---- */

void cs_signer_free(cs_signer_t *signer) {
  if (signer == NULL)
    return;
  EVP_PKEY_free(signer->pkey);
  if (signer->backend_free)
    signer->backend_free(signer->backend_data);
  g_free(signer);
}

cs_signer_t *cs_signer_new_backend(cs_alg_t alg, const guint8 kid[CS_KID_LENGTH],
                                   cs_signer_sign_fn sign, gpointer data,
                                   GDestroyNotify free_fn) {
  cs_signer_t *signer = g_new0(cs_signer_t, 1);
  signer->alg = alg;
  memcpy(signer->kid, kid, CS_KID_LENGTH);
  signer->sign = sign;
  signer->backend_data = data;
  signer->backend_free = free_fn;
  return signer;
}

gpointer cs_signer_backend_data(const cs_signer_t *signer) {
  return signer->backend_data;
}

cs_alg_t cs_signer_alg(const cs_signer_t *signer) {
  return signer->alg;
}

const guint8 *cs_signer_kid(const cs_signer_t *signer) {
  return signer->kid;
}

/* Never prompts for a passphrase: an encrypted key is refused, not read from a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static X509 *read_cert_pem(const char *path, GError **error) {
  g_autoptr(GBytes) data = cs_file_read(path, MAX_TRUST_FILE, error);
  if (data == NULL)
    return NULL;
  gsize len = 0;
  const void *p = g_bytes_get_data(data, &len);
  BIO *bio = BIO_new_mem_buf(p, (int)len);
  X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
  BIO_free(bio);
  if (cert == NULL) {
    g_autofree char *reason = ossl_reason();
    g_set_error(error, CS_ERROR, CS_ERROR_DATA, "%s is not a PEM X.509 certificate: %s", path,
                reason);
  }
  return cert;
}

/* Why a key file is not a private key, in words an operator can act on (OpenSSL says
 * "DECODER routines::unsupported" for all of these); NULL when the text gives no clue. */
static const char *pem_key_problem(const char *text, gsize len) {
  g_autofree char *t = g_strndup(text, len); /* stops at a NUL: binary junk reads short */
  if (len == 0)
    return "the file is empty";
  if (strstr(t, "-----BEGIN ") == NULL)
    return "no -----BEGIN line: the file is not PEM at all (damaged, or another format)";
  if (strstr(t, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
    return "the key is encrypted; signing keys are kept unencrypted, mode 0600";
  if (!strstr(t, "PRIVATE KEY-----")) {
    if (strstr(t, "-----BEGIN CERTIFICATE-----"))
      return "it holds a certificate, not the private key: the private key is missing";
    if (strstr(t, "-----BEGIN PUBLIC KEY-----"))
      return "it holds a public key, not the private key: the private key is missing";
    return NULL;
  }
  if (!strstr(t, "-----END "))
    return "no -----END line: the file is cut short";
  return NULL;
}

cs_signer_t *cs_signer_load_pem(const char *key_path, const char *cert_path, GError **error) {
  GBytes *data = cs_file_read_secret(key_path, MAX_KEY_FILE, error);
  if (data == NULL)
    return NULL;
  gsize len = 0;
  guint8 *text = g_bytes_unref_to_data(data, &len);
  BIO *bio = BIO_new_mem_buf(text, (int)len);
  EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
  BIO_free(bio);
  const char *problem = pkey ? NULL : pem_key_problem((const char *)text, len);
  OPENSSL_cleanse(text, len);
  g_free(text);
  if (pkey == NULL) {
    g_autofree char *reason = ossl_reason();
    g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                "%s is not an unencrypted PEM private key: %s", key_path,
                problem ? problem : reason);
    return NULL;
  }
  normalise_key(&pkey);

  g_autoptr(cs_signer_t) signer = g_new0(cs_signer_t, 1);
  signer->pkey = pkey;
  if (!key_alg(pkey, &signer->alg)) {
    g_autofree char *what = key_description(pkey);
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
                "%s is a %s key; signing keys are P-256 (ES256), Ed25519 (EdDSA) or SM2 "
                "(SM2-SM3)", key_path, what);
    return NULL;
  }
  X509 *cert = NULL;
  if (cert_path) {
    cert = read_cert_pem(cert_path, error);
    if (cert == NULL)
      return NULL;
    EVP_PKEY *pub = X509_get_pubkey(cert);
    if (pub)
      normalise_key(&pub);
    gboolean same = pub && EVP_PKEY_eq(pub, pkey) == 1;
    EVP_PKEY_free(pub);
    ERR_clear_error();
    if (!same) {
      X509_free(cert);
      g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                  "certificate %s does not belong to the key %s", cert_path, key_path);
      return NULL;
    }
  }
  gboolean ok = compute_kid(cert, pkey, signer->kid);
  X509_free(cert);
  if (!ok) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "cannot encode the key of %s", key_path);
    return NULL;
  }
  return g_steal_pointer(&signer);
}

GBytes *cs_signer_sign(cs_signer_t *signer, const guint8 *data, gsize length, GError **error) {
  if (signer->sign)
    return signer->sign(signer, data, length, error);
  EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
  unsigned char *sig = NULL;
  size_t sig_len = 0;
  GBytes *out = NULL;
  if (md_ctx && digest_init(md_ctx, signer->pkey, signer->alg, FALSE) &&
      EVP_DigestSign(md_ctx, NULL, &sig_len, data, length) == 1) {
    sig = OPENSSL_malloc(sig_len);
    if (sig && EVP_DigestSign(md_ctx, sig, &sig_len, data, length) == 1) {
      if (signer->alg == CS_ALG_EDDSA)
        out = g_bytes_new(sig, sig_len);
      else
        out = der_to_raw(sig, sig_len);
    }
  }
  if (out == NULL) {
    g_autofree char *reason = ossl_reason();
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "%s signing failed: %s",
                cs_alg_name(signer->alg), reason);
  }
  OPENSSL_free(sig);
  EVP_MD_CTX_free(md_ctx);
  return out;
}

/* ---- key generation ---- */

/* Writes all of len bytes to a new file of mode 0600 (also when it existed with another). */
static gboolean write_private(const char *path, const char *data, gsize len, GError **error) {
  int fd = g_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot write %s: %s", path, g_strerror(e));
    return FALSE;
  }
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot write %s: %s", path, g_strerror(e));
      return FALSE;
    }
    data += n;
    len -= (gsize)n;
  }
  if (close(fd) != 0) {
    int e = errno;
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot write %s: %s", path, g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

static gboolean add_ext(X509 *cert, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  gboolean ok = ext && X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

/* A self-signed X.509 v3 certificate of pkey, or NULL with the OpenSSL error queued. */
static X509 *self_signed(EVP_PKEY *pkey, cs_alg_t alg, const char *common_name,
                         const char *authority_code, int days) {
  X509 *cert = X509_new();
  X509_NAME *name = X509_NAME_new();
  EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
  BIGNUM *serial = BN_new();
  unsigned char rnd[8];
  gboolean ok = cert && name && md_ctx && serial && RAND_bytes(rnd, sizeof rnd) == 1;
  if (ok) {
    rnd[0] = (rnd[0] & 0x7f) | 0x40; /* positive, 63 bits, never zero */
    ok = BN_bin2bn(rnd, sizeof rnd, serial) != NULL &&
         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != NULL;
  }
  ok = ok && X509_set_version(cert, X509_VERSION_3) == 1 &&
       X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)authority_code,
                                  -1, -1, 0) == 1 &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
                                  -1, -1, 0) == 1 &&
       X509_set_subject_name(cert, name) == 1 && X509_set_issuer_name(cert, name) == 1 &&
       /* an hour back: clocks of issuing stations differ */
       X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL &&
       X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) != NULL &&
       X509_set_pubkey(cert, pkey) == 1 &&
       add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") &&
       add_ext(cert, NID_key_usage, "critical,digitalSignature") &&
       digest_init(md_ctx, pkey, alg, FALSE) && X509_sign_ctx(cert, md_ctx) > 0;
  BN_free(serial);
  EVP_MD_CTX_free(md_ctx);
  X509_NAME_free(name);
  if (!ok) {
    X509_free(cert);
    return NULL;
  }
  return cert;
}

/* The certificate is signed with SHA-256 (ES256), Ed25519 itself (EdDSA) or SM2 with SM3 and
 * the GB/T 35275 default ID (SM2-SM3): OpenSSL 3.0 makes and verifies all three. */
gboolean cs_keygen(cs_alg_t alg, const char *common_name, const char *authority_code,
                   int days, const char *key_path, const char *cert_path, GError **error) {
  EVP_PKEY *pkey = NULL;
  switch (alg) {
  case CS_ALG_ES256:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    break;
  case CS_ALG_EDDSA:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    break;
  case CS_ALG_SM2_SM3:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    break;
  default:
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "cannot make %s keys (%s)",
                cs_alg_name(alg) ? cs_alg_name(alg) : "unknown algorithm",
                alg == CS_ALG_PS256 ? "verify only" : "not a signing algorithm");
    return FALSE;
  }
  if (common_name == NULL || authority_code == NULL || days <= 0) {
    EVP_PKEY_free(pkey);
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                "a certificate needs a common name, an authority code and a validity in days");
    return FALSE;
  }
  if (pkey == NULL) {
    g_autofree char *reason = ossl_reason();
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "cannot make a %s key: %s", cs_alg_name(alg),
                reason);
    return FALSE;
  }
  X509 *cert = self_signed(pkey, alg, common_name, authority_code, days);
  BIO *key_bio = BIO_new(BIO_s_secmem());
  BIO *cert_bio = BIO_new(BIO_s_mem());
  gboolean ok = cert && key_bio && cert_bio &&
                PEM_write_bio_PKCS8PrivateKey(key_bio, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
                PEM_write_bio_X509(cert_bio, cert) == 1;
  EVP_PKEY_free(pkey);
  X509_free(cert);
  if (!ok) {
    g_autofree char *reason = ossl_reason();
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "cannot make a %s certificate: %s",
                cs_alg_name(alg), reason);
  }
  char *key_pem = NULL, *cert_pem = NULL;
  long key_len = ok ? BIO_get_mem_data(key_bio, &key_pem) : 0;
  long cert_len = ok ? BIO_get_mem_data(cert_bio, &cert_pem) : 0;
  g_autoptr(GError) local = NULL;
  ok = ok && write_private(key_path, key_pem, (gsize)key_len, error);
  if (ok && !g_file_set_contents(cert_path, cert_pem, cert_len, &local)) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s", local->message);
    ok = FALSE;
  }
  BIO_free(key_bio); /* a secure-memory BIO: cleansed when freed */
  BIO_free(cert_bio);
  return ok;
}

/* ---- trust store ---- */

static void trust_key_free(gpointer p) {
  trust_key_t *k = p;
  EVP_PKEY_free(k->pkey);
  g_free((char *)k->pub.subject);
  g_free((char *)k->pub.authority);
  g_free(k);
}

cs_trust_t *cs_trust_new(void) {
  cs_trust_t *trust = g_new0(cs_trust_t, 1);
  trust->keys = g_ptr_array_new_with_free_func(trust_key_free);
  return trust;
}

void cs_trust_free(cs_trust_t *trust) {
  if (trust == NULL)
    return;
  g_ptr_array_unref(trust->keys);
  g_free(trust);
}

guint cs_trust_count(const cs_trust_t *trust) {
  return trust->keys->len;
}

static gint64 asn1_time_unix(const ASN1_TIME *t) {
  struct tm tm = {0};
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  return (gint64)timegm(&tm);
}

/* RFC 2253 with UTF-8 left as it is (not escaped as \XX), so Chinese names read. */
static char *name_string(const X509_NAME *name) {
  BIO *bio = BIO_new(BIO_s_mem());
  char *out = NULL;
  if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
    char *p = NULL;
    long len = BIO_get_mem_data(bio, &p);
    out = g_strndup(p, (gsize)len);
  }
  BIO_free(bio);
  return out ? out : g_strdup("?");
}

static char *name_organization(const X509_NAME *name) {
  int i = X509_NAME_get_index_by_NID(name, NID_organizationName, -1);
  X509_NAME_ENTRY *e = i >= 0 ? X509_NAME_get_entry(name, i) : NULL;
  unsigned char *utf8 = NULL;
  int len = e ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e)) : -1;
  char *out = len >= 0 ? g_strndup((const char *)utf8, (gsize)len) : NULL;
  OPENSSL_free(utf8);
  return out;
}

/* Adds a certificate's key (cert not NULL) or a bare public key; takes pkey. */
static gboolean add_key(cs_trust_t *trust, X509 *cert, EVP_PKEY *pkey, const char *path,
                        GError **error) {
  normalise_key(&pkey);
  trust_key_t *k = g_new0(trust_key_t, 1);
  k->pkey = pkey;
  if (!compute_kid(cert, pkey, k->kid)) {
    trust_key_free(k);
    g_set_error(error, CS_ERROR, CS_ERROR_DATA, "%s: cannot encode its key", path);
    return FALSE;
  }
  if (cert) {
    k->pub.subject = name_string(X509_get_subject_name(cert));
    k->pub.authority = name_organization(X509_get_subject_name(cert));
    k->pub.not_before = asn1_time_unix(X509_get0_notBefore(cert));
    k->pub.not_after = asn1_time_unix(X509_get0_notAfter(cert));
  } else {
    k->pub.subject = g_strdup("public key");
  }
  g_ptr_array_add(trust->keys, k);
  return TRUE;
}

gboolean cs_trust_add_file(cs_trust_t *trust, const char *path, GError **error) {
  g_autoptr(GBytes) data = cs_file_read(path, MAX_TRUST_FILE, error);
  if (data == NULL)
    return FALSE;
  gsize len = 0;
  const unsigned char *bytes = g_bytes_get_data(data, &len);
  if (len == 0 || len > G_MAXINT) {
    g_set_error(error, CS_ERROR, CS_ERROR_DATA, "%s is empty, not a certificate or public key",
                path);
    return FALSE;
  }
  /* PEM: every certificate of the file (a bundle adds them all), else a public key. */
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  EVP_PKEY *pub = NULL;
  BIO *bio = BIO_new_mem_buf(bytes, (int)len);
  for (X509 *c; bio && (c = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL));)
    g_ptr_array_add(certs, c);
  if (certs->len == 0 && bio && BIO_reset(bio) == 1)
    pub = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
  BIO_free(bio);
  /* DER: the whole file one certificate, else one SubjectPublicKeyInfo. */
  if (certs->len == 0 && pub == NULL) {
    const unsigned char *p = bytes;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    if (c && p == bytes + len)
      g_ptr_array_add(certs, c);
    else
      X509_free(c);
  }
  if (certs->len == 0 && pub == NULL) {
    const unsigned char *p = bytes;
    pub = d2i_PUBKEY(NULL, &p, (long)len);
    if (pub && p != bytes + len)
      g_clear_pointer(&pub, EVP_PKEY_free);
  }
  ERR_clear_error();
  if (certs->len == 0 && pub == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                "%s is neither an X.509 certificate nor a public key (PEM or DER)", path);
    return FALSE;
  }
  if (pub)
    return add_key(trust, NULL, pub, path, error);
  for (guint i = 0; i < certs->len; i++) {
    X509 *c = certs->pdata[i];
    EVP_PKEY *key = X509_get_pubkey(c);
    if (key == NULL) {
      ERR_clear_error();
      g_set_error(error, CS_ERROR, CS_ERROR_DATA, "%s: a certificate with an unusable key",
                  path);
      return FALSE;
    }
    if (!add_key(trust, c, key, path, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean trust_file_name(const char *name) {
  g_autofree char *lower = g_ascii_strdown(name, -1);
  return g_str_has_suffix(lower, ".pem") || g_str_has_suffix(lower, ".crt") ||
         g_str_has_suffix(lower, ".der");
}

static gint compare_names(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

cs_trust_t *cs_trust_load(const char *dir, GError **error) {
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open(dir, 0, &local);
  if (d == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot read the trust store %s: %s", dir,
                local->message);
    return NULL;
  }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  for (const char *n; (n = g_dir_read_name(d));)
    if (trust_file_name(n))
      g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, compare_names);
  g_autoptr(cs_trust_t) trust = cs_trust_new();
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename(dir, names->pdata[i], NULL);
    if (!cs_trust_add_file(trust, path, error))
      return NULL;
  }
  return g_steal_pointer(&trust);
}

static gboolean verify_one(EVP_PKEY *pkey, cs_alg_t alg, const guint8 *data, gsize length,
                           const guint8 *sig, gsize sig_length) {
  unsigned char *der = NULL;
  const unsigned char *s = sig;
  size_t s_len = sig_length;
  if (alg == CS_ALG_ES256 || alg == CS_ALG_SM2_SM3) {
    int n = raw_to_der(sig, sig_length, &der);
    if (n <= 0)
      return FALSE;
    s = der;
    s_len = (size_t)n;
  } else if (alg == CS_ALG_EDDSA && sig_length != 64) {
    return FALSE;
  }
  EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
  gboolean ok = md_ctx && digest_init(md_ctx, pkey, alg, TRUE) &&
                EVP_DigestVerify(md_ctx, s, s_len, data, length) == 1;
  EVP_MD_CTX_free(md_ctx);
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

gboolean cs_trust_verify(const cs_trust_t *trust, const guint8 *kid, gsize kid_length,
                         cs_alg_t alg, const guint8 *data, gsize data_length,
                         const guint8 *sig, gsize sig_length, const cs_trust_entry_t **signer,
                         gboolean *kid_known) {
  if (signer)
    *signer = NULL;
  if (kid_known)
    *kid_known = FALSE;
  if (kid == NULL || kid_length != CS_KID_LENGTH || sig == NULL || (data == NULL && data_length))
    return FALSE;
  for (guint i = 0; i < trust->keys->len; i++) {
    trust_key_t *k = trust->keys->pdata[i];
    if (memcmp(k->kid, kid, CS_KID_LENGTH) != 0)
      continue;
    if (kid_known)
      *kid_known = TRUE;
    if (!key_can_do(k->pkey, alg))
      continue;
    if (verify_one(k->pkey, alg, data, data_length, sig, sig_length)) {
      if (signer)
        *signer = &k->pub;
      return TRUE;
    }
  }
  return FALSE;
}
