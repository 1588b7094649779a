/* optable.c -- builds tg_ops[] from ops.def: one entry per row, pointing at
 * the row's NAME_forward, NAME_vjp and NAME_jvp (defined in the ops*.c
 * files; a row missing one does not link).
 */
#include "tapegrad.h"

#define TG_DOC_TAIL ": see TensorFlow's documentation of the same name."

const tg_opdef tg_ops[TG_NOPS] = {
#define TG_OP(NAME, API, TFNAME, INPUTS, ATTRS, FLAGS, REF, LO, HI, SHAPES, \
              CASES)                                                        \
    {#NAME, API, TFNAME, INPUTS, ATTRS, FLAGS, REF, LO, HI, SHAPES, CASES,  \
     ((FLAGS) & TG_NAME_ATTR)                                               \
         ? #NAME "(" INPUTS ", " ATTRS ")\n--\n\n" TFNAME TG_DOC_TAIL        \
         : #NAME "(" INPUTS ", " ATTRS "name=None)\n--\n\n" TFNAME          \
               TG_DOC_TAIL,                                                 \
     NAME##_forward, NAME##_vjp, NAME##_jvp, &NAME##_jvp_kind},
#include "ops.def"
#undef TG_OP
};
