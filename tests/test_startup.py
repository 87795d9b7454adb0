"""Tests of tutorial_support.startup: TensorFlow loads quietly, unless asked."""

import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, USER_ENV

IMPORT = ('from tutorial_support import startup; '
          'tf = startup.import_tensorflow(); startup.begin(tf); '
          'print(tf.executing_eagerly())')


def run_import(**env):
  environment = {key: value for key, value in USER_ENV.items()
                 if key != 'TF_CPP_MIN_LOG_LEVEL'}
  environment.update(env)
  return subprocess.run([sys.executable, '-c', IMPORT], cwd=ROOT,
                        capture_output=True, text=True, env=environment,
                        timeout=120, check=True)


def test_tensorflow_loads_without_a_word_on_stderr():
  result = run_import()
  assert result.stderr == ''
  assert result.stdout == 'False\n'  # Graph mode, as the tutorial's.


def test_tensorflow_speaks_when_the_user_asks():
  result = run_import(TF_CPP_MIN_LOG_LEVEL='0')
  assert result.stderr != ''


def test_numpy_huge_pages_are_off_unless_asked():
  code = ('import os; from tutorial_support import startup; '
          'print(os.environ["NUMPY_MADVISE_HUGEPAGE"])')
  environment = dict(USER_ENV)
  environment.pop('NUMPY_MADVISE_HUGEPAGE', None)
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, env=environment,
                          timeout=60, check=True)
  assert result.stdout == '0\n'


def test_ctrl_c_while_tensorflow_loads_is_one_line(tmp_path):
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'fully_connected_feed.py'),
       '--fake_data', '--log_dir', str(tmp_path / 'logs')],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV)
  time.sleep(1.0)  # Past NumPy, inside TensorFlow's import (or just after).
  process.send_signal(signal.SIGINT)
  out, err = process.communicate(timeout=120)
  assert process.returncode == 130
  assert 'Traceback' not in err
  assert len(err.splitlines()) == 1
  assert out == ''
