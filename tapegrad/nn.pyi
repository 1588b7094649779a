__all__ = ['sigmoid', 'softplus', 'relu', 'tanh', 'relu6', 'leaky_relu', 'elu', 'selu', 'gelu', 'silu', 'swish', 'softsign', 'top_k', 'softmax', 'log_softmax', 'softmax_cross_entropy_with_logits', 'sparse_softmax_cross_entropy_with_logits', 'sigmoid_cross_entropy_with_logits', 'l2_loss', 'moments', 'l2_normalize', 'dropout', 'embedding_lookup', 'conv1d', 'conv2d', 'conv3d', 'convolution', 'conv2d_transpose', 'conv1d_transpose', 'conv3d_transpose', 'conv_transpose', 'depthwise_conv2d', 'bias_add', 'max_pool', 'max_pool1d', 'max_pool2d', 'max_pool3d', 'avg_pool', 'avg_pool1d', 'avg_pool2d', 'avg_pool3d']

# --- generated ops: tools/make_stubs.py writes what follows; do not edit ---
from tapegrad._composite_ops import embedding_lookup as embedding_lookup
from tapegrad._conv import bias_add as bias_add
from tapegrad._conv import conv1d as conv1d
from tapegrad._conv import conv1d_transpose as conv1d_transpose
from tapegrad._conv import conv2d as conv2d
from tapegrad._conv import conv2d_transpose as conv2d_transpose
from tapegrad._conv import conv3d as conv3d
from tapegrad._conv import conv3d_transpose as conv3d_transpose
from tapegrad._conv import conv_transpose as conv_transpose
from tapegrad._conv import convolution as convolution
from tapegrad._conv import depthwise_conv2d as depthwise_conv2d
from tapegrad._pool import avg_pool as avg_pool
from tapegrad._pool import avg_pool1d as avg_pool1d
from tapegrad._pool import avg_pool2d as avg_pool2d
from tapegrad._pool import avg_pool3d as avg_pool3d
from tapegrad._pool import max_pool as max_pool
from tapegrad._pool import max_pool1d as max_pool1d
from tapegrad._pool import max_pool2d as max_pool2d
from tapegrad._pool import max_pool3d as max_pool3d
from tapegrad._tapegrad import dropout as dropout
from tapegrad._tapegrad import elu as elu
from tapegrad._tapegrad import gelu as gelu
from tapegrad._tapegrad import l2_loss as l2_loss
from tapegrad._tapegrad import l2_normalize as l2_normalize
from tapegrad._tapegrad import leaky_relu as leaky_relu
from tapegrad._tapegrad import log_softmax as log_softmax
from tapegrad._tapegrad import moments as moments
from tapegrad._tapegrad import relu as relu
from tapegrad._tapegrad import relu6 as relu6
from tapegrad._tapegrad import selu as selu
from tapegrad._tapegrad import sigmoid as sigmoid
from tapegrad._tapegrad import sigmoid_cross_entropy_with_logits as sigmoid_cross_entropy_with_logits
from tapegrad._tapegrad import silu as silu
from tapegrad._tapegrad import silu as swish
from tapegrad._tapegrad import softmax as softmax
from tapegrad._tapegrad import softmax_cross_entropy_with_logits as softmax_cross_entropy_with_logits
from tapegrad._tapegrad import softplus as softplus
from tapegrad._tapegrad import softsign as softsign
from tapegrad._tapegrad import sparse_softmax_cross_entropy_with_logits as sparse_softmax_cross_entropy_with_logits
from tapegrad._tapegrad import tanh as tanh
from tapegrad._tapegrad import top_k as top_k
# --- end of generated ops ---
