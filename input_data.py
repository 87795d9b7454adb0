"""Gets MNIST into DataSets, as the tutorial's input_data did.

read_data_sets() returns the three splits the tutorial trains and evaluates
on: train, validation (the first validation_size training examples) and
test. It asks tutorial_support.mnist_files for a verified copy of the four
IDX files (fetched if missing or damaged), parses them with extract_images()
and extract_labels(), which refuse anything that is not what its header
says, and wraps the arrays in DataSets that hand out shuffled batches.

This module knows nothing of TensorFlow: the DataSets hold NumPy arrays. Run
it as a script to fetch and verify the data before training:

  python input_data.py --input_data_dir DIR
"""

import collections
import os
import sys
import zlib

import numpy as np

from tutorial_support import aligned_arrays
from tutorial_support import data_command
from tutorial_support import idx
from tutorial_support import mnist_files
# The original interface's names, kept here for scripts written against it.
from tutorial_support.mnist_files import (  # pylint: disable=unused-import
    DEFAULT_DATA_DIR, DataUnavailableError,  # noqa: F401 (for those scripts)
    TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS)

IMAGE_MAGIC = idx.IMAGE_MAGIC
LABEL_MAGIC = idx.LABEL_MAGIC
IMAGE_ROWS = 28
IMAGE_COLS = 28
NUM_CLASSES = 10
NUM_TRAIN_EXAMPLES = 60000
FAKE_NUM_EXAMPLES = 10000

Datasets = collections.namedtuple('Datasets', ['train', 'validation', 'test'])


# ----------------------------------------------------------------- parse ----

def extract_images(f):
  """Extracts the images of an IDX3 file into a uint8 array.

  Args:
    f: A binary file object holding an IDX3 image file, raw or gzip.

  Returns:
    data: A 4D uint8 numpy array [index, y, x, depth] with depth 1.

  Raises:
    ValueError: If f is not an IDX3 file of 28 x 28 images whose size matches
      its header. The message names the file and what was wrong.
  """
  name = idx.stream_name(f)
  stream = idx.open_stream(f)
  try:
    count, rows, cols = idx.read_header(stream, name, 4, IMAGE_MAGIC,
                                        'a label')
    if (rows, cols) != (IMAGE_ROWS, IMAGE_COLS):
      raise ValueError('%s: expected %d x %d images, header says %d x %d'
                       % (name, IMAGE_ROWS, IMAGE_COLS, rows, cols))
    data = idx.read_payload(stream, count * rows * cols, name,
                            '%d images' % count)
  except (EOFError, OSError, zlib.error) as e:
    raise ValueError('%s: unreadable gzip data (%s)' % (name, e)) from None
  return data.reshape(count, rows, cols, 1)


def dense_to_one_hot(labels_dense, num_classes):
  """Converts class labels from scalars to one-hot vectors.

  Args:
    labels_dense: A 1D integer array of class indices in [0, num_classes).
    num_classes: The length of each one-hot vector.

  Returns:
    A 2D float64 array [len(labels_dense), num_classes], as the original
    returned: uint8 would overflow in sums such as labels.T @ labels.
  """
  labels_one_hot = np.zeros((labels_dense.shape[0], num_classes), np.float64)
  labels_one_hot[np.arange(labels_dense.shape[0]), labels_dense] = 1
  return labels_one_hot


def extract_labels(f, one_hot=False, num_classes=NUM_CLASSES):
  """Extracts the labels of an IDX1 file into a uint8 array.

  Args:
    f: A binary file object holding an IDX1 label file, raw or gzip.
    one_hot: Whether to return the labels as one-hot vectors.
    num_classes: The number of classes for one-hot encoding.

  Returns:
    labels: A 1D uint8 array [index], or 2D float64 [index, num_classes] if
      one_hot.

  Raises:
    ValueError: If f is not an IDX1 file whose size matches its header, or if
      a label is outside 0..num_classes-1.
  """
  name = idx.stream_name(f)
  stream = idx.open_stream(f)
  try:
    (count,) = idx.read_header(stream, name, 2, LABEL_MAGIC, 'an image')
    labels = idx.read_payload(stream, count, name, '%d labels' % count)
  except (EOFError, OSError, zlib.error) as e:
    raise ValueError('%s: unreadable gzip data (%s)' % (name, e)) from None
  if count and labels.max() >= num_classes:
    index = int(np.argmax(labels >= num_classes))
    raise ValueError('%s: label %d at index %d is outside 0..%d'
                     % (name, labels[index], index, num_classes - 1))
  return dense_to_one_hot(labels, num_classes) if one_hot else labels


# --------------------------------------------------------------- DataSet ----

def _numpy_dtype(dtype):
  # Accepts tf.float32 / tf.uint8 too, without importing TensorFlow.
  dtype = np.dtype(getattr(dtype, 'as_numpy_dtype', dtype))
  if dtype not in (np.uint8, np.float32):
    raise TypeError('Invalid image dtype %r, expected uint8 or float32' % dtype)
  return dtype


class DataSet(object):
  """A split of MNIST that hands out shuffled batches, epoch after epoch."""

  def __init__(self, images, labels, fake_data=False, one_hot=False,
               dtype=np.float32, reshape=True, seed=None):
    """Builds a DataSet.

    Args:
      images: uint8 array [N, 28, 28, 1] of pixels 0..255 (ignored if
        fake_data).
      labels: uint8 array [N] or one-hot [N, 10] (ignored if fake_data).
      fake_data: Whether to stand in 10,000 constant examples for real ones.
      one_hot: Whether fake labels are one-hot.
      dtype: float32 scales pixels to [0, 1]; uint8 keeps 0..255.
      reshape: Whether to flatten images to [N, 784].
      seed: Seed of the shuffling, for repeatable batches; None for random.

    Raises:
      TypeError: If dtype is neither uint8 nor float32.
      ValueError: If images and labels disagree in count.
    """
    dtype = _numpy_dtype(dtype)
    self._rng = np.random.default_rng(seed)
    self.fake_data = fake_data
    self.one_hot = one_hot
    if fake_data:
      images, labels = _fake_examples(FAKE_NUM_EXAMPLES, one_hot, dtype)
    else:
      images, labels = np.asarray(images), np.asarray(labels)
    if not fake_data and len(images) != len(labels):
      raise ValueError('images.shape: %s labels.shape: %s: counts differ'
                       % (images.shape, labels.shape))
    if reshape:
      # Not -1: it cannot be inferred for a split of no examples.
      images = images.reshape(images.shape[0], int(np.prod(images.shape[1:])))
    if dtype == np.float32 and not fake_data:
      # Aligned, so that TensorFlow feeds their batches without a copy.
      images = aligned_arrays.scaled(images, 1.0 / 255.0, np.float32)
    self._images = images
    self._labels = labels
    self._num_examples = len(images)
    self._epochs_completed = 0
    self._index_in_epoch = 0
    self._order = None
    self._order_rng_state = None
    self._shuffled = None

  @property
  def images(self):
    """The images, in file order (batches are shuffled, this is not)."""
    return self._images

  @property
  def labels(self):
    return self._labels

  @property
  def num_examples(self):
    return self._num_examples

  @property
  def epochs_completed(self):
    return self._epochs_completed

  def _new_order(self, shuffle):
    # Where the generator was as this epoch's order was drawn: enough to
    # draw the same order again on resume (see state()).
    self._order_rng_state = self._rng.bit_generator.state
    self._shuffled = shuffle
    if shuffle:
      return self._rng.permutation(self._num_examples)
    return np.arange(self._num_examples)

  def state(self):
    """Returns where the batches are, as plain values (JSON-able).

    A DataSet of the same examples given this state by restore_state() hands
    out the same batches from here on as this one.
    """
    drawn = self._order is not None
    return {'epochs_completed': self._epochs_completed,
            'index_in_epoch': self._index_in_epoch,
            'order_drawn': drawn, 'shuffled': self._shuffled if drawn else None,
            'rng': (self._order_rng_state if drawn
                    else self._rng.bit_generator.state)}

  def restore_state(self, state):
    """Takes up the batches where state() left them.

    Raises:
      ValueError: If state does not fit this DataSet.
    """
    try:
      index = int(state['index_in_epoch'])
      if not 0 <= index <= self._num_examples:
        raise ValueError('index %d is outside this split' % index)
      self._rng.bit_generator.state = state['rng']
      self._order = (self._new_order(bool(state['shuffled']))
                     if state['order_drawn'] else None)
    except (KeyError, TypeError) as e:
      raise ValueError('not a DataSet state (%s)' % e) from None
    self._epochs_completed = int(state['epochs_completed'])
    self._index_in_epoch = index

  def padded_batches(self, batch_size):
    """Yields every example, in file order, in batches of batch_size.

    The last batch is padded with blank images labelled -1, a label no
    prediction matches, so that fixed-size placeholders see every example
    exactly once and an evaluation counts each once.
    """
    for start in range(0, self._num_examples, batch_size):
      images = self._images[start:start + batch_size]
      labels = self._labels[start:start + batch_size].astype(np.int32)
      missing = batch_size - len(labels)
      if missing:
        images = np.concatenate(
            [images, np.zeros((missing,) + images.shape[1:], images.dtype)])
        labels = np.concatenate([labels, np.full(missing, -1, np.int32)])
      yield images, labels

  def next_batch(self, batch_size, fake_data=False, shuffle=True):
    """Returns the next batch_size examples of this data set.

    Each epoch visits every example once, in a new order if shuffle. A batch
    that crosses the end of an epoch holds the rest of that epoch followed by
    the start of the next.

    Args:
      batch_size: How many examples, 1..num_examples.
      fake_data: Whether to return constant fake examples instead.
      shuffle: Whether to shuffle the order of each epoch.

    Returns:
      images, labels: arrays with batch_size rows.

    Raises:
      ValueError: If batch_size is not in 1..num_examples.
    """
    if fake_data or self.fake_data:
      return _fake_batch(self._images, self._labels, batch_size)
    if not 1 <= batch_size <= self._num_examples:
      raise ValueError('batch_size must be in 1..%d (the examples in this '
                       'split), got %d' % (self._num_examples, batch_size))
    start = self._index_in_epoch
    if self._order is None:
      self._order = self._new_order(shuffle)
    if start + batch_size <= self._num_examples:
      picked = self._order[start:start + batch_size]
      self._index_in_epoch = start + batch_size
    else:
      rest = self._order[start:]
      self._epochs_completed += 1
      self._order = self._new_order(shuffle)
      self._index_in_epoch = batch_size - len(rest)
      picked = np.concatenate([rest, self._order[:self._index_in_epoch]])
    return aligned_arrays.take_rows(self._images, picked), self._labels[picked]


def _fake_examples(count, one_hot, dtype):
  # As the original: every image all ones, every label 0.
  images = np.ones((count, IMAGE_ROWS, IMAGE_COLS, 1), dtype=dtype)
  labels = np.zeros(count, dtype=np.uint8)
  if one_hot:
    labels = dense_to_one_hot(labels, NUM_CLASSES)
  return images, labels


def _fake_batch(images, labels, batch_size):
  return (np.repeat(images[:1], batch_size, axis=0),
          np.repeat(labels[:1], batch_size, axis=0))


# ---------------------------------------------------------------- split ----

def _load_pair(images_path, labels_path, one_hot):
  with open(images_path, 'rb') as f:
    images = extract_images(f)
  with open(labels_path, 'rb') as f:
    labels = extract_labels(f, one_hot=one_hot)
  if len(images) != len(labels):
    raise ValueError('%s holds %d images but %s holds %d labels'
                     % (os.path.basename(images_path), len(images),
                        os.path.basename(labels_path), len(labels)))
  return images, labels


def read_data_sets(train_dir=DEFAULT_DATA_DIR, fake_data=False, one_hot=False,
                   dtype=np.float32, reshape=True, validation_size=5000,
                   seed=None, source_url=None, sources=None,
                   timeout=mnist_files.DEFAULT_TIMEOUT):
  """Returns MNIST as Datasets(train, validation, test), fetching it if needed.

  Args:
    train_dir: Where the four IDX files are, or are to be stored.
    fake_data: Whether to return fake DataSets (no files, no network).
    one_hot: Whether labels are one-hot vectors [N, 10] rather than [N].
    dtype: float32 (pixels scaled to [0, 1]) or uint8 (0..255).
    reshape: Whether images are [N, 784] rather than [N, 28, 28, 1].
    validation_size: How many of the 60,000 training examples, taken from the
      front, form the validation split.
    seed: Seed of each split's shuffling; None for random.
    source_url: A mirror to try before the other sources (for scripts written
      against the original interface).
    sources: Sources to fetch from, in order (see fetch_verified_files).
    timeout: Seconds to wait on any network read.

  Returns:
    A Datasets named tuple of three DataSets.

  Raises:
    ValueError: If validation_size is outside 0..60000, or a file is malformed.
    DataUnavailableError: If the files are missing and no source has them.
  """
  if fake_data:
    def fake():
      return DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype,
                     reshape=reshape, seed=seed)
    return Datasets(train=fake(), validation=fake(), test=fake())
  if not 0 <= validation_size <= NUM_TRAIN_EXAMPLES:
    raise ValueError('validation_size should be between 0 and %d, got %r'
                     % (NUM_TRAIN_EXAMPLES, validation_size))
  paths = mnist_files.fetch_verified_files(train_dir, sources, timeout,
                                           first_source=source_url)
  train_images, train_labels = _load_pair(paths[TRAIN_IMAGES],
                                          paths[TRAIN_LABELS], one_hot)
  test_images, test_labels = _load_pair(paths[TEST_IMAGES],
                                        paths[TEST_LABELS], one_hot)
  if validation_size > len(train_images):
    raise ValueError('validation_size %d is more than the %d training examples'
                     % (validation_size, len(train_images)))
  options = dict(dtype=dtype, reshape=reshape, seed=seed)
  return Datasets(
      train=DataSet(train_images[validation_size:],
                    train_labels[validation_size:], **options),
      validation=DataSet(train_images[:validation_size],
                         train_labels[:validation_size], **options),
      test=DataSet(test_images, test_labels, **options))


def smallest_split(fake_data, validation_size=5000):
  """The examples in the smallest split read_data_sets() returns."""
  if fake_data:
    return FAKE_NUM_EXAMPLES
  return min(NUM_TRAIN_EXAMPLES - validation_size, validation_size, 10000)


# ----------------------------------------------------------- as a script ----

def main(argv=None):
  """Fetches, verifies and summarizes MNIST: python input_data.py --help."""
  return data_command.main(read_data_sets, argv)


if __name__ == '__main__':
  sys.exit(main())
