#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/opensslv.h>
#include <stdio.h>
#include <uv.h>

#include "app/app.h"

int cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("amphi %s\n", AMPHI_VERSION);
  printf("build: %s, C %ld\n", AMPHI_BUILD_OPTIONS, (long)__STDC_VERSION__);
  printf("libuv %s, libwebsockets %s, jansson %s, %s\n", uv_version_string(),
         lws_get_library_version(), JANSSON_VERSION, OPENSSL_VERSION_TEXT);
  return 0;
}
