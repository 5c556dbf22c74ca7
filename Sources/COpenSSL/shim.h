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

// OPENSSL_INIT_NO_ATEXIT is a 64-bit option macro; see OpenSSLLibrary.swift
// (module Crypto) for why the process initialises OpenSSL with it.
static inline int copenssl_init_without_atexit_cleanup(void) {
    return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}
#endif
