"""SIGINT and SIGTERM: kept away from the threads that run ops, taken between
steps, and always a clean stop with a checkpoint of exactly the live weights.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import needs_signal_mask, needs_unix_signals
from conftest import ROOT, USER_ENV
from test_fully_connected_feed import run as run_feed
from tutorial_support import mnist_files
from tutorial_support import signals

tf1 = tf.compat.v1

RUNNER = os.path.join(ROOT, 'tests', 'signal_runner.py')
SCRIPT = os.path.join(ROOT, 'fully_connected_feed.py')
SIGNALS = {signal.SIGINT, signal.SIGTERM}


def blocked_here():
  return signal.pthread_sigmask(signal.SIG_BLOCK, [])


@needs_signal_mask
def test_shield_blocks_the_signals_here_and_in_threads_started_inside():
  seen = {}

  def look():
    seen['mask'] = blocked_here()
  with signals.StopRequest(shield_ops=True):
    assert SIGNALS <= blocked_here()
    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
  assert SIGNALS <= seen['mask']
  assert not SIGNALS & blocked_here()


@needs_signal_mask
def test_a_signal_held_by_the_shield_is_taken_by_poll():
  with signals.StopRequest(shield_ops=True) as stop:
    # Sent to this thread alone, where it is blocked: it waits for poll().
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    time.sleep(0.05)
    assert stop.signal_number is None
    assert signal.SIGTERM in signal.sigpending()
    assert stop.poll() == signal.SIGTERM
    assert signal.SIGTERM not in signal.sigpending()


@needs_signal_mask
def test_a_signal_held_until_the_end_is_taken_on_leaving():
  with signals.StopRequest(shield_ops=True) as stop:
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)
  assert stop.signal_number == signal.SIGINT


def test_without_a_signal_mask_the_first_signal_waits_for_poll(monkeypatch):
  # Windows's CPython has no pthread_sigmask: the handler runs on the main
  # thread between bytecodes, so the first signal is a request that the
  # loop takes at poll(), and a second one stops at once.
  monkeypatch.delattr(signal, 'pthread_sigmask', raising=False)
  before = signal.getsignal(signal.SIGINT)
  with signals.StopRequest(shield_ops=True) as stop:
    assert stop.poll() is None
    signal.raise_signal(signal.SIGINT)
    assert stop.signal_number == signal.SIGINT
    with pytest.raises(signals.Interrupted) as stopped:
      stop.raise_if_stopped('logs/model.ckpt-7')
    assert stopped.value.args[:3] == ('SIGINT', 7, 'logs/model.ckpt-7')
    with pytest.raises(KeyboardInterrupt):
      signal.raise_signal(signal.SIGTERM)
  assert signal.getsignal(signal.SIGINT) is before


@needs_unix_signals
@pytest.mark.parametrize('log_dir_made', [False, True])
def test_sigterm_before_training_is_a_clean_stop(tmp_path, serve,
                                                 log_dir_made):
  if log_dir_made:
    (tmp_path / 'logs').mkdir()
  server = serve(tmp_path)
  server.behaviours[mnist_files.TRAIN_IMAGES + '.gz'] = (
      'hang')
  process = subprocess.Popen(
      [sys.executable, SCRIPT, '--input_data_dir', str(tmp_path / 'data'),
       '--data_sources', server.url, '--log_dir', str(tmp_path / 'logs')],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV)
  try:
    assert process.stderr.readline().startswith('Fetching ')
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
  finally:
    if process.poll() is None:
      process.kill()
  assert process.returncode == 128 + signal.SIGTERM
  # No checkpoint was ever made there: the line does not claim one.
  if log_dir_made:
    assert err == ('Interrupted: stopped at once; no checkpoint was saved in '
                   '%s\n' % (tmp_path / 'logs'))
    assert os.listdir(tmp_path / 'logs') == ['.lock']
  else:
    assert err == ('Interrupted: stopped at once; nothing was saved (%s was '
                   'not made)\n' % (tmp_path / 'logs'))
    assert not (tmp_path / 'logs').exists()
  assert not (tmp_path / 'data').exists()  # Made by the run, left empty.


@needs_unix_signals
def test_stop_request_keeps_a_signal_the_parent_ignored_ignored():
  # A launcher starts its tasks with SIGINT ignored, and so does a shell its
  # background jobs: StopRequest must not take Ctrl-C back for them.
  previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
  try:
    with signals.StopRequest() as stop:
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(0.1)
      assert stop.signal_number is None
      os.kill(os.getpid(), signal.SIGTERM)
      time.sleep(0.1)
      assert stop.signal_number == signal.SIGTERM
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
  finally:
    signal.signal(signal.SIGINT, previous)


def checkpoint_digest(path):
  """The digest signal_runner takes of live weights, of a saved checkpoint."""
  import signal_runner  # pylint: disable=import-outside-toplevel
  reader = tf.train.load_checkpoint(path)
  values = {}
  for name, _ in tf.train.list_variables(path):
    value = reader.get_tensor(name)
    assert np.all(np.isfinite(value)), (path, name)
    values[name] = value
  return signal_runner.weights_digest(values)


@needs_unix_signals
@pytest.mark.slow
@pytest.mark.parametrize('seed', [1, 2])
def test_a_storm_of_signals_always_stops_cleanly(seed, tmp_path):
  """100 runs, each stopped by one or two signals at a random moment."""
  result = subprocess.run(
      [sys.executable, RUNNER, '100', str(seed), str(tmp_path)],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV,
      timeout=1800, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  runs = [json.loads(line) for line in result.stdout.splitlines()
          if line.startswith('{')]
  assert len(runs) == 100
  for run in runs:
    assert run['status'] in (130, 143), run
    for path, live in run['saves']:
      if os.path.exists(path + '.index'):
        assert checkpoint_digest(path) == live, run
    latest = tf1.train.latest_checkpoint(run['log_dir'])
    if latest is not None:
      checkpoint_digest(latest)
  assert sum(1 for run in runs if run['saves']) >= 50


@needs_unix_signals
@pytest.mark.slow
def test_sigterm_saves_what_an_unbroken_run_would_have(tmp_path, capsys):
  """Twelve separate runs: each SIGTERM exits 143 with exactly the weights
  an unbroken seeded run has at the same step.

  The unbroken runs are main() run in this process: one TensorFlow import
  for all twelve, where the stopped runs each need a process of their own.
  """
  rng = random.Random(12)
  for index in range(12):
    log_dir = tmp_path / ('stopped%d' % index)
    process = subprocess.Popen(
        [sys.executable, SCRIPT, '--fake_data', '--seed', '1', '--max_steps',
         '1000000', '--log_dir', str(log_dir)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=USER_ENV)
    # While TensorFlow imports, SIGTERM simply ends the process: nothing
    # has been written yet. The moments that matter come once it trains.
    assert process.stdout.readline().startswith('Step 0:')
    time.sleep(rng.uniform(0.0, 4.0))
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err[-2000:]
    stopped = tf1.train.latest_checkpoint(str(log_dir))
    step = int(stopped.rsplit('-', 1)[1])
    reference = tmp_path / ('unbroken%d' % index)
    status, _, err = run_feed(capsys, '--fake_data', '--seed', 1,
                              '--max_steps', step, '--log_dir', reference)
    assert status == 0, err
    assert checkpoint_digest(stopped) == checkpoint_digest(
        str(reference / ('model.ckpt-%d' % step)))
