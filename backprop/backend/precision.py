"""The float32 matmul precision: a process-wide setting that the GPU backends read at each
matmul, named as in PyTorch. "highest" computes in full fp32; "high" lets the tensor cores use
TF32 (10-bit mantissa inputs, fp32 accumulation), several times faster on Ampere and later."""

from __future__ import annotations

FLOAT32_MATMUL_PRECISIONS = ("highest", "high")

_float32_matmul_precision = "highest"


def set_float32_matmul_precision(precision: str) -> None:
    """Chooses "highest" (fp32, the default) or "high" (TF32) for float32 GPU matmuls."""
    global _float32_matmul_precision
    if precision not in FLOAT32_MATMUL_PRECISIONS:
        raise ValueError(
            f"set_float32_matmul_precision: expected one of {FLOAT32_MATMUL_PRECISIONS}, "
            f"got {precision!r}"
        )
    _float32_matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The current float32 matmul precision, "highest" or "high"."""
    return _float32_matmul_precision
