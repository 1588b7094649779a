__all__ = ['matmul', 'eye', 'matrix_transpose', 'matvec', 'inv', 'det', 'slogdet', 'solve', 'cholesky', 'eigh', 'svd', 'diag', 'diag_part', 'trace', 'einsum', 'tensordot', 'norm', 'l2_normalize', 'global_norm']

# --- generated ops: tools/make_stubs.py writes what follows; do not edit ---
from tapegrad._clip import global_norm as global_norm
from tapegrad._tapegrad import cholesky as cholesky
from tapegrad._tapegrad import det as det
from tapegrad._tapegrad import diag as diag
from tapegrad._tapegrad import diag_part as diag_part
from tapegrad._tapegrad import eigh as eigh
from tapegrad._tapegrad import einsum as einsum
from tapegrad._tapegrad import eye as eye
from tapegrad._tapegrad import inv as inv
from tapegrad._tapegrad import l2_normalize as l2_normalize
from tapegrad._tapegrad import matmul as matmul
from tapegrad._tapegrad import matrix_transpose as matrix_transpose
from tapegrad._tapegrad import matvec as matvec
from tapegrad._tapegrad import norm as norm
from tapegrad._tapegrad import slogdet as slogdet
from tapegrad._tapegrad import solve as solve
from tapegrad._tapegrad import svd as svd
from tapegrad._tapegrad import tensordot as tensordot
from tapegrad._tapegrad import trace as trace
# --- end of generated ops ---
