/* optable.c -- builds tg_ops[] from ops.def: one entry per row, pointing at
 * the row's NAME_forward, NAME_vjp and NAME_jvp (defined in the ops*.c
 * files; a row missing one does not link).
 */
#include "tapegrad.h"

/* each row's TG_DOC as NAME_doc: a row without one, or with two, does not
 * compile */
#define TG_OP(...)
#define TG_DOC(NAME, SUMMARY, EXAMPLE, OUTPUT)                              \
    static const tg_opdoc NAME##_doc = {SUMMARY, EXAMPLE, OUTPUT};
#include "ops.def"
#undef TG_DOC
#undef TG_OP

const tg_opdef tg_ops[TG_NOPS] = {
#define TG_OP(NAME, API, TFNAME, INPUTS, ATTRS, FLAGS, REF, LO, HI, SHAPES, \
              CASES)                                                        \
    {#NAME, API, TFNAME, INPUTS, ATTRS, FLAGS, REF, LO, HI, SHAPES, CASES,  \
     ((FLAGS) & TG_NAME_ATTR)                                               \
         ? #NAME "(" INPUTS ", " ATTRS ")\n--\n\n"                          \
         : #NAME "(" INPUTS ", " ATTRS "name=None)\n--\n\n",               \
     &NAME##_doc, NAME##_forward, NAME##_vjp, NAME##_jvp, &NAME##_jvp_kind},
#include "ops.def"
#undef TG_OP
};
