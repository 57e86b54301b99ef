/* Evolis replies (ACK, NACK + code, or text): cs_evolis_parse_reply() on what a printer, or
 * anything pretending to be one on the USB bus, sends back, read as a driver reads a stream
 * of them: one reply after another. */
#include <string.h>

#include "evolis.h"
#include "fuzz-common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gsize pos = 0;
  while (pos < size) {
    cs_evolis_reply_t reply;
    gsize used = 0;
    g_autoptr(GError) error = NULL;
    gboolean ok = cs_evolis_parse_reply(data + pos, size - pos, &reply, &used, &error);
    if (!ok) {
      if (error == NULL || error->message == NULL)
        abort();
      break;
    }
    /* progress, within the input, and a text reply is a terminated string */
    if (used == 0 || used > size - pos || memchr(reply.text, 0, sizeof reply.text) == NULL)
      abort();
    if (reply.kind == CS_EVOLIS_REPLY_TEXT && strlen(reply.text) > used)
      abort();
    pos += used;
  }
  return 0;
}
