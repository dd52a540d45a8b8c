/* SPDX-License-Identifier: MIT */
/* http_notls.c: part of batlink-http.so only. batlink serves plain HTTP and never asks
 * libmicrohttpd for TLS (no MHD_USE_TLS in http.c), yet Debian's libmicrohttpd links GnuTLS and
 * its load-time initialiser (MHD_init) calls gnutls_global_init(), which sets up every cipher
 * backend and touches ~0.8 MiB of GnuTLS, nettle, gmp and friends per process. These two
 * definitions come first in the module's symbol scope (the module is dlopen'ed RTLD_LOCAL, ahead
 * of the libraries it needs), so libmicrohttpd's calls bind here and do nothing; GnuTLS's own
 * load-time initialisation is skipped by GNUTLS_NO_IMPLICIT_INIT, set by src/app/outmod.c just
 * for this dlopen. Nothing in the module calls any other GnuTLS function. MQTT over TLS is
 * unaffected: libmosquitto uses OpenSSL. tests/integration/test_lazy_outputs.sh checks that a
 * monitor serving HTTP has GnuTLS uninitialised. */

int gnutls_global_init(void);
void gnutls_global_deinit(void);

int gnutls_global_init(void)
{
    return 0; /* GNUTLS_E_SUCCESS */
}

void gnutls_global_deinit(void) {}
