"""Parameter: a Tensor that a Module registers as learnable, as `torch.nn.Parameter`."""

from __future__ import annotations

from backprop.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad and that `Module.parameters()` yields.

    It shares `data`'s array and device; assigning one to a Module attribute registers it.
    """

    __slots__ = ()

    def __init__(self, data: Tensor, requires_grad: bool = True):
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        self._init(data.data, data.device, False)
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return f"Parameter containing:\n{super().__repr__()}"
