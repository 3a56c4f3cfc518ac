#include "qbmap/qb_status.h"

#include <stdio.h>
#include <string.h>

const char *qb_err_str(qb_err e) {
  switch (e) {
#define QB_X(code, exitc, msg)                                                                     \
  case code:                                                                                       \
    return msg;
    QB_ERR_LIST(QB_X)
#undef QB_X
  default:
    return "unknown error";
  }
}

int qb_err_exit_code(qb_err e) {
  switch (e) {
#define QB_X(code, exitc, msg)                                                                     \
  case code:                                                                                       \
    return exitc;
    QB_ERR_LIST(QB_X)
#undef QB_X
  default:
    return 1;
  }
}

/* The bits of QB_PT_LIST, for the declarations that leave word or doc to qb_status. */
static const qb_pt_bit generic[] = {
#define QB_X(name, bit, word, kind, msg) {name, word, msg, kind},
    QB_PT_LIST(QB_X)
#undef QB_X
};

static const qb_pt_bit *generic_bit(uint32_t mask) {
  for (size_t i = 0; i < sizeof generic / sizeof *generic; i++)
    if (generic[i].mask == mask) return &generic[i];
  return NULL;
}

int qb_pt_bit_number(const qb_pt_bit *b) {
  int n = 0;
  while (n < 31 && !(b->mask & (1u << n)))
    n++;
  return n;
}

const char *qb_pt_bit_word(const qb_pt_bit *b) {
  if (b->word) return b->word;
  const qb_pt_bit *g = generic_bit(b->mask);
  return g ? g->word : NULL;
}

const char *qb_pt_bit_doc(const qb_pt_bit *b) {
  if (b->doc) return b->doc;
  const qb_pt_bit *g = generic_bit(b->mask);
  return g ? g->doc : NULL;
}

qb_pt_kind qb_pt_bit_kind(const qb_pt_bit *b) {
  if (b->kind != QB_PT_KIND_DEFAULT) return b->kind;
  const qb_pt_bit *g = generic_bit(b->mask);
  return g ? g->kind : QB_PT_KIND_DEFAULT;
}

const char *qb_pt_kind_word(qb_pt_kind k) {
  return k == QB_PT_INFO ? "info" : k == QB_PT_FAILURE ? "failure" : "undeclared";
}

uint32_t qb_pt_failure_mask(const qb_pt_bit *bits, int nbits) {
  uint32_t m = 0;
  for (int i = 0; i < nbits; i++)
    if (qb_pt_bit_kind(&bits[i]) == QB_PT_FAILURE) m |= bits[i].mask;
  return m;
}

char *qb_pt_status_words(const qb_pt_bit *bits, int nbits, uint32_t status, char *buf,
                         size_t size) {
  size_t used = 0;
  if (size == 0) return buf;
  buf[0] = '\0';
  if (status == 0) {
    snprintf(buf, size, "ok");
    return buf;
  }
  for (int n = 0; n < 32 && used < size; n++) {
    uint32_t mask = 1u << n;
    if (!(status & mask)) continue;
    const char *doc = "undeclared";
    for (int i = 0; i < nbits; i++)
      if (bits[i].mask == mask && qb_pt_bit_doc(&bits[i])) doc = qb_pt_bit_doc(&bits[i]);
    int k = snprintf(buf + used, size - used, "%s[bit %d] %s", used ? "; " : "", n, doc);
    used += k > 0 ? (size_t)k : 0;
  }
  return buf;
}
