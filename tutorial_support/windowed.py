"""A reduction over the window around each cell of a 2-D array.

What a morphological filter (max, min) or a box filter (mean, sum) does,
in NumPy alone, for digit_images.py and paper_pages.py.
"""

import numpy as np


def reduce(array, size, how):
  """Each cell's how (np.max, np.min, np.mean, np.sum) over the size x size
  window around it, the edge cells repeated beyond the array's edge."""
  for axis in (0, 1):
    padding = [(0, 0), (0, 0)]
    padding[axis] = (size // 2, size // 2)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(array, padding, mode='edge'), size, axis=axis)
    array = how(windows, axis=-1)
  return array
