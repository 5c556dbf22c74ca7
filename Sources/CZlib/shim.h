#ifndef PLAKAR_SCALEWAY_CZLIB_SHIM_H
#define PLAKAR_SCALEWAY_CZLIB_SHIM_H
#include <zlib.h>

// inflateInit2 and deflateInit2 are macros over the *_ functions; Swift
// cannot import function-like macros.
static inline int czlib_inflate_init2(z_stream *s, int windowBits) { return inflateInit2(s, windowBits); }
static inline int czlib_deflate_init2(z_stream *s, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2(s, level, method, windowBits, memLevel, strategy);
}
#endif
