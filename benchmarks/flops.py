"""What the network's steps cost in arithmetic, and what the machine can do.

Shared by bench.py and sweep.py, which read their rates against these.
"""

import time

import numpy as np

IMAGE_PIXELS = 784
NUM_CLASSES = 10


def layers(hidden1, hidden2):
  """The (fan_in, fan_out) of each layer of the 784-hidden1-hidden2-10 net."""
  return ((IMAGE_PIXELS, hidden1), (hidden1, hidden2), (hidden2, NUM_CLASSES))


def forward_flops(batch_size, hidden1, hidden2):
  """FLOPs (2 per multiply-add) of the matmuls of one forward pass."""
  return 2 * batch_size * sum(fan_in * fan_out
                              for fan_in, fan_out in layers(hidden1, hidden2))


def step_flops(batch_size, hidden1, hidden2):
  """Counts the multiply-adds of one training step, as FLOPs (2 per MAC).

  Forward: one matmul per layer. Backward: the weight gradient of every layer
  and the input gradient of every layer but the first (the images need none).
  """
  first_input_gradient = 2 * batch_size * IMAGE_PIXELS * hidden1
  return 3 * forward_flops(batch_size, hidden1, hidden2) - first_input_gradient


def gemm_rate(size=1024, repeats=5):
  """Returns the float32 GEMM rate of NumPy's BLAS, in FLOP/s."""
  rng = np.random.default_rng(0)
  a = rng.standard_normal((size, size), dtype=np.float32)
  b = rng.standard_normal((size, size), dtype=np.float32)
  a @ b
  start = time.perf_counter()
  for _ in range(repeats):
    a @ b
  return repeats * 2 * size**3 / (time.perf_counter() - start)
