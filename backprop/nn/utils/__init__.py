"""`backprop.nn.utils`, as `torch.nn.utils`: gradient clipping (`clip_grad_norm_`,
`clip_grad_value_`), flattening parameters into one vector and back
(`parameters_to_vector`, `vector_to_parameters`) and, in `backprop.nn.utils.rnn`, padding
sequences into a batch (`pad_sequence`)."""

from backprop.nn.utils import rnn
from backprop.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from backprop.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "rnn",
    "vector_to_parameters",
]
