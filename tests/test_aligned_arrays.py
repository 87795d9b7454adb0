"""Tests of aligned_arrays: 64-byte aligned arrays, and their batches."""

import numpy as np
import pytest

import input_data
from tutorial_support import aligned_arrays


def is_aligned(array):
  return array.ctypes.data % aligned_arrays.ALIGNMENT == 0


@pytest.mark.parametrize('shape', [(0,), (1,), (3, 5), (7, 784),
                                   (2, 28, 28, 1)])
@pytest.mark.parametrize('dtype', [np.uint8, np.int32, np.float32, np.float64])
def test_empty_is_aligned_contiguous_and_of_the_shape_asked(shape, dtype):
  for _ in range(20):  # Many allocations: malloc's offsets vary among them.
    array = aligned_arrays.empty(shape, dtype)
    assert array.shape == shape and array.dtype == dtype
    assert array.flags['C_CONTIGUOUS'] and array.flags['WRITEABLE']
    assert is_aligned(array) or array.size == 0


def test_take_rows_is_fancy_indexing_in_an_aligned_array():
  rng = np.random.default_rng(0)
  source = rng.standard_normal((50, 784)).astype(np.float32)
  for count in (1, 13, 50):
    rows = rng.permutation(50)[:count]
    taken = aligned_arrays.take_rows(source, rows)
    assert is_aligned(taken)
    np.testing.assert_array_equal(taken, source[rows])
  # The rows are copied: writing to the batch leaves the source as it was.
  before = source.copy()
  aligned_arrays.take_rows(source, np.arange(5))[:] = 0
  np.testing.assert_array_equal(source, before)


def test_scaled_matches_numpy_bit_for_bit():
  pixels = np.arange(256 * 784, dtype=np.uint8).reshape(256, 784)
  scaled = aligned_arrays.scaled(pixels, 1.0 / 255.0, np.float32)
  assert is_aligned(scaled) and scaled.dtype == np.float32
  np.testing.assert_array_equal(
      scaled, np.multiply(pixels, np.float32(1.0 / 255.0), dtype=np.float32))


def test_data_set_batches_are_aligned_whatever_their_size():
  pixels = (np.arange(300)[:, None] % 256).astype(np.uint8) * np.ones(
      (1, 784), np.uint8)
  data_set = input_data.DataSet(pixels.reshape(300, 28, 28, 1),
                                np.arange(300, dtype=np.uint8) % 10, seed=0)
  assert is_aligned(data_set.images)
  for batch_size in (1, 7, 100, 300):
    images, labels = data_set.next_batch(batch_size)
    assert is_aligned(images) and images.shape == (batch_size, 784)
    np.testing.assert_array_equal(labels, (images[:, 0] * 255).round() % 10)
  # Every whole evaluation batch, a slice of the split, is aligned as well
  # (the padded last one is a copy, made once per evaluation).
  for images, _ in list(data_set.padded_batches(60)) + list(
      data_set.padded_batches(64))[:-1]:
    assert is_aligned(images)
