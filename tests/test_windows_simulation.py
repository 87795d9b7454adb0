"""The tutorial's path in processes that see what Windows's CPython offers.

Each program runs as a user runs it, with tests/windows_cpython on
PYTHONPATH: the project's own modules cannot import fcntl, termios or
resource, and see os, signal and ctypes without what Windows's CPython 3.11
lacks (see that directory's sitecustomize.py). TensorFlow and the other
packages keep their own, as each ships a build for each system. Signals are
not simulated: Linux delivers them here as it always does, so no test here
sends one to a training run (docs/tests.md says what else this cannot show).
"""

import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, USER_ENV, write_files
from tutorial_support import mnist_files
from test_local_cluster import kill_the_launcher_and_see_its_tasks_end

SIMULATION = os.path.join(ROOT, 'tests', 'windows_cpython')
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith('linux'),
    reason='simulates Windows on Linux; the system itself runs the rest')


@pytest.fixture(scope='module')
def windows_env(tmp_path_factory, small_contents):
  """An environment in which the programs see Windows's CPython, fetch from a
  local server the small files verified as if MNIST, and find no unshare."""
  from conftest import LocalServer  # pylint: disable=g-import-not-at-top
  home = tmp_path_factory.mktemp('windows')
  write_files(str(home / 'mirror'), small_contents, compress=True)
  server = LocalServer(str(home / 'mirror'))
  specs = {name: [len(data), hashlib.sha256(data).hexdigest()]
           for name, data in small_contents.items()}
  (home / 'specs.json').write_text(json.dumps(specs))
  (home / 'bin').mkdir()
  env = dict(USER_ENV)
  env.update({
      'PYTHONPATH': os.pathsep.join(
          [SIMULATION] + [p for p in [env.get('PYTHONPATH')] if p]),
      'SIMULATED_MNIST_SPECS': str(home / 'specs.json'),
      'MNIST_SOURCES': server.url,
      'PATH': str(home / 'bin'),  # Windows has no unshare command.
      'HOME': str(home),
      'XDG_CACHE_HOME': str(home / 'cache'),
  })
  yield env
  server.close()


def run(env, program, *args, cwd=None, timeout=300):
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, program)] + [str(a) for a in args],
      capture_output=True, text=True, env=env, timeout=timeout, check=False,
      cwd=cwd)


def test_the_project_sees_what_windows_cpython_offers(windows_env, tmp_path):
  code = ('from tutorial_support import systems, signals, log_dirs; '
          'print(systems.NO_FOLLOW, systems.NO_WAIT, '
          'systems.kernel_ends_tasks(), systems.reader_gone_status(), '
          '[s.name for s in signals.StopRequest.SIGNALS]); '
          'import fcntl, os; print(hasattr(os, "O_NOFOLLOW"))')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, env=windows_env, timeout=60,
                          check=False, cwd=ROOT)
  # The project's modules see Windows's names; this -c code is not theirs.
  assert result.stdout == (
      "0 0 False 1 ['SIGINT', 'SIGTERM', 'SIGBREAK']\nTrue\n"), result.stderr
  probe = subprocess.run(
      [sys.executable, '-c', 'from tutorial_support import systems; '
       'systems.set_mode(0, "x", 0o644)'], capture_output=True, text=True,
      env=dict(windows_env, PYTHONPATH=''), timeout=60, check=False, cwd=ROOT)
  assert probe.returncode == 0, probe.stderr  # The same code, unsimulated.


def test_the_data_command_fetches_and_stops_quietly_into_head(windows_env,
                                                              tmp_path):
  data_dir = tmp_path / 'data'
  read_end, write_end = os.pipe()
  os.close(read_end)  # As `| head` does once it has its lines.
  try:
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'input_data.py'),
         '--input_data_dir', str(data_dir)], stdout=write_end,
        stderr=subprocess.PIPE, text=True, env=windows_env, timeout=60,
        check=False, cwd=str(tmp_path))
  finally:
    os.close(write_end)
  # Windows has no SIGPIPE: the stop is quiet, with exit status 1.
  assert result.returncode == 1, result.stderr
  assert result.stderr.endswith('verified 4 of 4 files\n')
  assert sorted(n for n in os.listdir(data_dir) if not n.startswith('.')) == (
      sorted(mnist_files.MNIST_FILES))


def checkpoint_steps(log_dir):
  return sorted(int(m.group(1)) for m in (
      re.match(r'model\.ckpt-(\d+)\.index$', name)
      for name in os.listdir(log_dir)) if m)


def write_digit_picture(path):
  """A dark digit-like stroke on white paper, as a photo of one would be."""
  page = np.full((120, 90), 235, np.uint8)
  page[20:100, 40:52] = 30
  Image.fromarray(page).save(path)


def test_the_tutorial_path(windows_env, tmp_path):
  """Fetch, train, a busy log dir, resume, --eval_only, export, classify."""
  data_dir, log_dir = tmp_path / 'data', tmp_path / 'logs'
  common = ['--input_data_dir', data_dir, '--log_dir', log_dir,
            '--batch_size', 50]
  first = run(windows_env, 'fully_connected_feed.py', *common,
              '--max_steps', 30, cwd=tmp_path)
  assert first.returncode == 0, first.stderr
  assert 'Step 0: loss = ' in first.stdout
  assert 'Saved checkpoint %s' % (log_dir / 'model.ckpt-30') in first.stdout
  assert 'Test Data Eval:' in first.stdout
  assert checkpoint_steps(log_dir) == [30]

  # A second run on a log dir in use is refused in one line.
  holder = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'fully_connected_feed.py')]
      + [str(a) for a in common] + ['--max_steps', str(10**7)],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
      env=windows_env, cwd=str(tmp_path))
  try:
    line = holder.stdout.readline()
    assert line.startswith('Resuming from'), line
    busy = run(windows_env, 'fully_connected_feed.py', *common, cwd=tmp_path)
  finally:
    holder.kill()  # Not a signal it could take: see the module docstring.
    holder.wait()
  assert busy.returncode == 1
  assert busy.stderr == (
      'fully_connected_feed.py: error: --log_dir %s is in use by another run '
      '(process %d); wait for it to end, or name another --log_dir\n'
      % (log_dir, holder.pid))

  # The next run resumes from the newest checkpoint the killed one left.
  latest = checkpoint_steps(log_dir)[-1]
  resumed = run(windows_env, 'fully_connected_feed.py', *common,
                '--max_steps', latest + 20, '--export_dir',
                tmp_path / 'exports', cwd=tmp_path)
  assert resumed.returncode == 0, resumed.stderr
  assert resumed.stdout.startswith('Resuming from %s at step %d\n' % (
      log_dir / ('model.ckpt-%d' % latest), latest))
  assert checkpoint_steps(log_dir)[-1] == latest + 20
  assert os.path.exists(tmp_path / 'exports' / '1' / 'saved_model.pb')

  evaluated = run(windows_env, 'fully_connected_feed.py', *common,
                  '--eval_only', cwd=tmp_path)
  assert evaluated.returncode == 0, evaluated.stderr
  assert evaluated.stdout.startswith('Evaluating %s (step %d, ' % (
      log_dir / ('model.ckpt-%d' % (latest + 20)), latest + 20))
  assert 'Test confusion matrix' in evaluated.stdout

  write_digit_picture(tmp_path / 'one.png')
  classified = run(windows_env, 'classify.py', '--log_dir', log_dir,
                   '--save_preprocessed', tmp_path / 'seen', 'one.png',
                   cwd=tmp_path)
  assert classified.returncode == 0, classified.stderr
  assert re.fullmatch(r'one\.png: \d \((0\.\d\d|1\.00)\)\n',
                      classified.stdout)
  assert sorted(os.listdir(tmp_path / 'seen')) == ['000-one-page.png',
                                                   '000-one.png']


def test_a_local_cluster_trains_without_a_namespace(windows_env, tmp_path):
  log_dir = tmp_path / 'logs'
  result = run(windows_env, 'fully_connected_replica.py', '--local_workers',
               2, '--fake_data', '--max_steps', 40, '--log_dir', log_dir,
               cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  assert result.stderr.startswith(
      'warning: cannot give the local cluster a network of its own (no '
      'unshare command)')
  assert 'Saved checkpoint' in result.stdout
  assert checkpoint_steps(log_dir)[-1] >= 40


def test_tasks_end_with_a_killed_launcher_through_their_stdin(windows_env,
                                                              tmp_path):
  # Without prctl (Windows, macOS), each task watches its stdin, a pipe
  # from the launcher that closes when the launcher ends, however it ends.
  kill_the_launcher_and_see_its_tasks_end(windows_env, tmp_path / 'logs', 30)
