"""Tests of tutorial_support.startup: TensorFlow loads quietly, unless asked."""

import subprocess
import sys

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
