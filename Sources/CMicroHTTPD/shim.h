#ifndef PLAKAR_SCALEWAY_CMICROHTTPD_SHIM_H
#define PLAKAR_SCALEWAY_CMICROHTTPD_SHIM_H
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdarg.h>
#include <microhttpd.h>

// MHD_start_daemon is variadic (a list of MHD_OPTION_* pairs). The simulator
// calls these fixed-shape wrappers instead. Later helpers in this file extend
// the option set; keep every symbol prefixed cmhd_.
#endif
