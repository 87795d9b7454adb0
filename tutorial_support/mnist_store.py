"""The four MNIST files on disk: verified by their content, installed whole.

Used by mnist_files, which fetches them: find_verified() looks for a verified
copy (raw or gzip) in a data directory, setting aside a file that fails;
install_verified() streams a fetched file into place, renamed under its IDX
name only once complete and verified. Nothing here knows where files come
from.
"""

import hashlib
import os
import sys
import tempfile
import time
import zlib

from tutorial_support import atomic_files
from tutorial_support import systems

_CHUNK = 1 << 20
_GZIP_MAGIC = b'\x1f\x8b'


class VerificationError(ValueError):
  """Raised when a file's content is not the one MNIST_FILES describes."""


class StorageError(OSError):
  """Raised when the data directory cannot be written (full, read-only...).

  Unlike a failing source, this ends the fetch at once: no other source
  could do better.
  """


def storage_error(directory, error):
  return StorageError('cannot write to data directory %s: %s'
                      % (directory, error.strerror or error))


def log(message):
  print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- verify ----

def _content_chunks(stream):
  """Yields the content of stream in chunks, decompressing it if it is gzip.

  Each chunk is at most _CHUNK bytes, however much a gzip member expands,
  and each read returns as soon as some data has come (read1), so that the
  caller can hold a deadline against a source that sends a byte at a time.
  """
  read = getattr(stream, 'read1', stream.read)
  first = read(_CHUNK)
  while 0 < len(first) < 2:
    more = read(_CHUNK)
    if not more:
      break
    first += more
  if first[:2] != _GZIP_MAGIC:
    while first:
      yield first
      first = read(_CHUNK)
    return
  decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
  data = first
  try:
    while True:
      if not data:
        data = read(_CHUNK)
        if not data:
          break
      if decompressor.eof:
        # Some gzip tools write several members back to back.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
      out = decompressor.decompress(data, _CHUNK)
      if out:
        yield out
      data = (decompressor.unused_data if decompressor.eof
              else decompressor.unconsumed_tail)
    rest = decompressor.flush()
    if rest:
      yield rest
  except zlib.error as e:
    raise VerificationError('not valid gzip data (%s)' % e) from None
  if not decompressor.eof:
    raise VerificationError('gzip data ends early (truncated)')


def _check_content(name, spec, size, sha256):
  if size != spec.size:
    raise VerificationError('%s: %d bytes, expected %d (truncated or not MNIST)'
                            % (name, size, spec.size))
  if sha256 != spec.sha256:
    raise VerificationError(
        '%s: SHA-256 %s..., expected %s... (damaged, or not MNIST)'
        % (name, sha256[:12], spec.sha256[:12]))


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


def install_verified(stream, name, spec, directory, deadline=None):
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
    raise storage_error(directory, e) from None
  try:
    with os.fdopen(fd, 'wb') as out:
      def write(chunk):
        try:
          out.write(chunk)
        except OSError as e:
          raise storage_error(directory, e) from None
      _hash_content(stream, name, spec, write, deadline)
      try:
        systems.set_mode(fd, tmp, atomic_files.new_file_mode())  # Not 0600.
        out.flush()
        os.fsync(out.fileno())
        systems.replace(tmp, os.path.join(directory, name))
      except OSError as e:
        raise storage_error(directory, e) from None
  except BaseException:
    remove_quietly(tmp)
    raise


def remove_quietly(path):
  try:
    os.remove(path)
  except OSError:
    pass


# ---------------------------------------------------------------- locate ----

def _stat_key(path):
  st = os.stat(path)
  return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


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
    systems.replace(path, target, rename=os.rename)
  except FileNotFoundError:
    return
  except OSError as e:
    raise StorageError(
        '%s failed verification (%s) and cannot be moved aside (%s); remove '
        'it or choose another data directory' % (path, reason, e.strerror)
    ) from None
  log('%s failed verification (%s); moved it to %s'
       % (path, reason, os.path.basename(target)))


def find_verified(directory, name, spec, set_aside=True):
  """Returns the path of a verified copy of name in directory, or None.

  Every file is hashed at every start (55 MB: about 0.06 s here): no record
  of an earlier check could tell a changed file from the one checked.

  Args:
    directory: The data directory.
    name: The IDX name of the file.
    spec: Its FileSpec.
    set_aside: Whether a copy that fails is renamed to NAME.rejected and the
      next one tried; if False, such a copy is left as it is and the answer
      is None, as for a reader that holds the directory shared.

  Returns:
    The path of the raw or gzip copy that verified, or None.
  """
  for candidate in (name, name + '.gz'):
    path = os.path.join(directory, candidate)
    if not os.path.isfile(path):
      continue
    key = _stat_key(path)
    try:
      verify_file(path, name, spec)
    except VerificationError as e:
      if not set_aside:
        return None
      _set_aside(path, key, str(e).split(': ', 1)[-1])
      continue
    return path
  return None
