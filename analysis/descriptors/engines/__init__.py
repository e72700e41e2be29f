"""Inference engines behind the descriptor extractor: torch (CPU/CUDA/MPS) and OpenVINO (CPU).

Every engine maps a normalised batch (N, 3, H, W) to {block index: (N, channels) float32 GAP
descriptors}; `choose.choose_engine` picks the fastest one whose descriptors stay within cosine
MIN_COSINE of fp32 torch on the first batch.
"""
from analysis.descriptors.engines.base import MIN_COSINE, Engine, EngineUnavailable, worst_cosine
from analysis.descriptors.engines.choose import ENGINES, PRECISIONS, Choice, choose_engine
from analysis.descriptors.engines.torch_engine import TorchEngine, gap

__all__ = ["ENGINES", "MIN_COSINE", "PRECISIONS", "Choice", "Engine", "EngineUnavailable", "TorchEngine",
           "choose_engine", "gap", "worst_cosine"]
