"""Tests of tutorial_support.startup: TensorFlow loads quietly, unless asked."""

import json
import os
import signal
import subprocess
import sys
import time

from conftest import needs_unix_signals
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


@needs_unix_signals
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


TRACED_IMPORT = '''
import sys
seen = []
def tracer(frame, event, arg):
  seen.append(frame.f_code.co_filename)
def after_the_import():
  pass
sys.settrace(tracer)
from tutorial_support import startup
tf = startup.import_tensorflow()
after_the_import()
kept = sys.gettrace() is tracer
sys.settrace(None)
print(kept, 'tensorflow' in sys.modules,
      any(name.endswith('startup.py') for name in seen),
      sum('/tensorflow/' in name for name in seen), seen[-1])
'''


def test_a_tracer_is_paused_while_tensorflow_imports_and_traces_after():
  # As under coverage.py: each of the import's calls would reach the tracer.
  result = subprocess.run([sys.executable, '-c', TRACED_IMPORT], cwd=ROOT,
                          capture_output=True, text=True, env=USER_ENV,
                          timeout=120, check=True)
  assert result.stdout == 'True True True 0 <string>\n', result.stderr


COVERED_IMPORT = '''from tutorial_support import startup
tf = startup.import_tensorflow()
def after_the_import():
  return 1
after_the_import()
print(type(__import__('sys').gettrace()).__name__)
'''


def test_coverage_sees_every_line_run_after_the_import(tmp_path):
  # Its tracer, written in C, must know the frames again once resumed.
  (tmp_path / 'script.py').write_text(COVERED_IMPORT)
  env = {key: value for key, value in USER_ENV.items()
         if not key.startswith('COVERAGE')}
  env['PYTHONPATH'] = ROOT
  data = str(tmp_path / 'data')
  run = subprocess.run(
      [sys.executable, '-m', 'coverage', 'run', '--data-file', data,
       '--include', '*/script.py,*/startup.py', 'script.py'], cwd=tmp_path,
      capture_output=True, text=True, env=env, timeout=120, check=True)
  assert run.stdout == 'CTracer\n', run.stderr
  report = subprocess.run(
      [sys.executable, '-m', 'coverage', 'json', '--data-file', data, '-o',
       '-'], cwd=tmp_path, capture_output=True, text=True, env=env,
      timeout=120, check=True)
  files = json.loads(report.stdout)['files']
  assert files['script.py']['missing_lines'] == []
  startup_lines = files[os.path.join(ROOT, 'tutorial_support', 'startup.py')]
  # import_tensorflow()'s own last line, run after the import, was seen.
  with open(os.path.join(ROOT, 'tutorial_support', 'startup.py')) as f:
    last = f.read().splitlines().index('  return tf') + 1
  assert last in startup_lines['executed_lines']
