"""NumPy arrays that TensorFlow can feed without copying them.

A Session feeds a NumPy array in place when its data starts on a 64-byte
boundary and is contiguous; any other array is first copied into a buffer of
TensorFlow's own. NumPy's arrays start on 16-byte boundaries, so that copy is
paid on most steps: at batch 1000 (3 MB of images) it was about 0.54 ms of a
2.95 ms run (benchmarks/sweep.py's loop, 2 cores). The images of a DataSet
are kept aligned too, and since a row of 784 float32 pixels is 49 x 64
bytes, every batch sliced from them is aligned as well.
"""

import numpy as np

ALIGNMENT = 64


def empty(shape, dtype):
  """Returns an uninitialised C-contiguous array starting on a 64-byte boundary.

  Args:
    shape: The shape of the array.
    dtype: Its NumPy dtype.

  Returns:
    An ndarray (a view of a slightly larger byte buffer, which it keeps alive).
  """
  dtype = np.dtype(dtype)
  size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  raw = np.empty(size + ALIGNMENT, np.uint8)
  offset = -raw.ctypes.data % ALIGNMENT
  return raw[offset:offset + size].view(dtype).reshape(shape)


def take_rows(array, rows):
  """Returns array[rows] (rows: in-range indices), in an aligned array."""
  out = empty((len(rows),) + array.shape[1:], array.dtype)
  # mode='clip' since mode='raise' gathers through a temporary buffer first;
  # rows are in range, so clip changes nothing but the speed.
  return np.take(array, rows, axis=0, out=out, mode='clip')


def scaled(array, scale, dtype):
  """Returns array * scale as dtype, in an aligned array."""
  return np.multiply(array, dtype(scale), out=empty(array.shape, dtype),
                     dtype=dtype)
