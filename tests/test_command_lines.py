"""Tests of tutorial_support.command_lines: what answers before TensorFlow.

Each program and benchmark script is run with a `tensorflow` (and `torch`)
on its path that fails to import: whatever still works there was answered
without them.
"""

import glob
import os
import subprocess
import sys

import pytest

from conftest import needs_unix_permissions
from conftest import ROOT, USER_ENV, without_read_access
from tutorial_support import log_dirs



def benchmark_scripts():
  """The scripts of benchmarks/ (not the modules they share)."""
  for path in sorted(glob.glob(os.path.join(ROOT, 'benchmarks', '*.py'))):
    with open(path) as f:
      if "if __name__ == '__main__':" in f.read():
        yield os.path.relpath(path, ROOT)


PROGRAMS = ['fully_connected_feed.py', 'fully_connected_replica.py',
            'classify.py', 'input_data.py'] + list(benchmark_scripts())


@pytest.fixture(name='no_tensorflow_env', scope='module')
def fixture_no_tensorflow_env(tmp_path_factory):
  """USER_ENV with a tensorflow and a torch that refuse to be imported."""
  stubs = tmp_path_factory.mktemp('stubs')
  for name in ('tensorflow', 'torch', 'tensorboard'):
    (stubs / name).mkdir()
    (stubs / name / '__init__.py').write_text(
        'raise ImportError("%s was imported")\n' % name)
  env = dict(USER_ENV)
  env['PYTHONPATH'] = str(stubs)
  return env


def run(env, *args, cwd=ROOT, wrap=lambda command: command):
  return subprocess.run(wrap([sys.executable] + [str(a) for a in args]),
                        capture_output=True, text=True, env=env, cwd=cwd,
                        timeout=120, check=False)


@pytest.mark.parametrize('program', PROGRAMS)
def test_help_needs_no_tensorflow(program, no_tensorflow_env):
  result = run(no_tensorflow_env, program, '--help')
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith('usage: ')
  assert result.stderr == ''


@pytest.mark.parametrize('program', ['fully_connected_feed.py',
                                     'fully_connected_replica.py',
                                     'benchmarks/tutorial_port.py',
                                     'benchmarks/torch_job.py'])
def test_a_bad_flag_needs_no_tensorflow(program, no_tensorflow_env):
  result = run(no_tensorflow_env, program, '--max_steps', 'x')
  assert result.returncode == 2
  assert 'error: argument --max_steps' in result.stderr.splitlines()[-1]
  if not program.startswith('benchmarks/'):  # The programs' one line.
    assert len(result.stderr.splitlines()) == 1


def test_flags_checked_against_data_still_need_no_tensorflow(
    no_tensorflow_env):
  result = run(no_tensorflow_env, 'fully_connected_feed.py',
               '--batch_size', '6000')
  assert result.returncode == 2
  assert result.stderr == (
      'fully_connected_feed.py: error: argument --batch_size: 6000 is larger '
      'than the smallest split (5000 examples)\n')


def test_parsing_flags_imports_no_tensorflow():
  code = ('import sys; from tutorial_support import command_lines; '
          'command_lines.feed_flags(["--fake_data"]); '
          'command_lines.replica_flags(["--fake_data"]); '
          'command_lines.classify_flags(["classify.py"]); '
          'print(sorted(m for m in sys.modules if m.split(".")[0] in '
          '("tensorflow", "tensorboard", "torch", "keras", "PIL")))')
  result = run(USER_ENV, '-c', code)
  assert result.returncode == 0, result.stderr
  assert result.stdout == '[]\n'


@pytest.mark.parametrize('program', ['fully_connected_feed.py',
                                     'fully_connected_replica.py'])
def test_a_busy_log_dir_is_refused_before_tensorflow(program, tmp_path,
                                                     no_tensorflow_env):
  log_dir = tmp_path / 'logs'
  extra = ['--local_workers', '2'] if 'replica' in program else []
  with log_dirs.hold_log_dir(str(log_dir)):
    result = run(no_tensorflow_env, program, '--fake_data', '--log_dir',
                 log_dir, *extra)
  assert result.returncode == 1
  assert result.stderr == (
      '%s: error: --log_dir %s is in use by another run (process %d); wait '
      'for it to end, or name another --log_dir\n'
      % (program, log_dir, os.getpid()))


def test_eval_only_is_never_refused_for_a_busy_log_dir(tmp_path):
  code = ('from tutorial_support import command_lines; '
          'print(command_lines.feed_flags(["--eval_only", "--log_dir", %r])'
          '.log_dir)' % str(tmp_path))
  with log_dirs.hold_log_dir(str(tmp_path)):
    result = run(USER_ENV, '-c', code)
  assert result.returncode == 0, result.stderr
  assert result.stdout == '%s\n' % tmp_path


@needs_unix_permissions
def test_an_unwritable_log_dir_is_refused_before_tensorflow(
    tmp_path, no_tensorflow_env):
  log_dir = tmp_path / 'logs'
  log_dir.mkdir()
  log_dir.chmod(0o555)
  try:
    result = run(no_tensorflow_env, 'fully_connected_feed.py', '--fake_data',
                 '--log_dir', log_dir, wrap=without_read_access)
  finally:
    log_dir.chmod(0o755)
  assert result.returncode == 1
  assert result.stderr == ('fully_connected_feed.py: error: --log_dir %s is '
                           'not writable: Permission denied\n' % log_dir)
  assert os.listdir(log_dir) == []


def test_pictures_that_are_not_there_are_refused_before_tensorflow(
    tmp_path, no_tensorflow_env):
  result = run(no_tensorflow_env, os.path.join(ROOT, 'classify.py'),
               'nothing.png',
               'drawings/', cwd=tmp_path)
  assert result.returncode == 1
  assert result.stdout == ''
  assert result.stderr == ('classify.py: error: nothing.png: no such file\n'
                           'classify.py: error: drawings/: no such file\n')
