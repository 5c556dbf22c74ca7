#ifndef PLAKAR_SCALEWAY_COPENSSL_SHIM_H
#define PLAKAR_SCALEWAY_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

// OPENSSL_VERSION_TEXT is a macro string Swift cannot import directly.
static inline const char *copenssl_version_text(void) { return OpenSSL_version(OPENSSL_VERSION); }
#endif
