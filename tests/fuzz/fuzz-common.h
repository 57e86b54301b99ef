/* Shared by the libFuzzer targets (docs/fuzzing.md): one-time set-up and the source tree. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

/* libFuzzer's entry points, declared for -Wmissing-prototypes */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set-up failed: there is nothing to fuzz. */
#define FUZZ_DIE(...)                                                                            \
  do {                                                                                           \
    fprintf(stderr, __VA_ARGS__);                                                                \
    fputc('\n', stderr);                                                                         \
    exit(2);                                                                                     \
  } while (0)

static inline void fuzz_init(void) {
  /* GLib's slice allocator would hide use-after-free and leaks from ASan */
  g_setenv("G_SLICE", "always-malloc", FALSE);
  /* a critical is a broken precondition, i.e. a bug the input found: make it a crash */
  g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
}

/* A file in the source tree (FUZZ_SRCDIR is set by tests/fuzz/meson.build). */
static inline char *fuzz_src(const char *relative) {
  const char *root = g_getenv("CS_TEST_SRCDIR");
  return g_build_filename(root && *root ? root : FUZZ_SRCDIR, relative, NULL);
}

/* json-glib 1.6.6 (Debian 12) reads "1{...}" or "[1][2]" (more than one value at the top level)
 * as its first value and leaks the others (docs/fuzzing.md). The targets that look for leaks
 * after every input skip such documents: TRUE when a container starts at the top level after
 * anything else did (its scanner also takes 'single-quoted' strings). */
static inline gboolean fuzz_json_several_roots(const uint8_t *d, size_t n) {
  int depth = 0;
  gboolean seen = FALSE;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = d[i];
    if (c == '"' || c == '\'') { /* a string, escapes and all */
      seen = seen || depth == 0;
      for (i++; i < n && d[i] != c; i++)
        if (d[i] == '\\')
          i++;
    } else if (c == '{' || c == '[') {
      if (depth == 0 && seen)
        return TRUE;
      seen = TRUE;
      depth++;
    } else if (c == '}' || c == ']') {
      depth = depth > 0 ? depth - 1 : 0;
    } else if (depth == 0 && c > ' ' && c < 0x7f) {
      seen = TRUE;
    }
  }
  return FALSE;
}
