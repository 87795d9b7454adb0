"""Tests of tutorial_support.errors: one line for the user, the right status."""

import os
import signal
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import needs_sigpipe
from conftest import ROOT, USER_ENV

from tutorial_support import errors


@pytest.mark.parametrize('message, line', [
    ('Graph execution error:\n\nOperation timed out.', 'Operation timed out.'),
    ('Graph execution error:\n\n=====================\nSocket closed',
     'Socket closed'),
    ('Graph execution error:\n\nDetected at node xentropy defined at:\n'
     '  File "x.py", line 1\nlogits and labels must agree\n'
     '\t [[{{node xentropy}}]]', 'logits and labels must agree'),
])
def test_op_error_line_is_what_went_wrong(message, line):
  error = tf.errors.DeadlineExceededError(None, None, message)
  assert errors.op_error_line(error) == line


def test_loss_watch_warns_once_when_the_loss_climbs(capsys):
  watch = errors.LossWatch(chance_loss=2.3)
  for step, loss in enumerate([2.31, 5.0, 11.0, 12.0, 40.0, 45.0]):
    watch.check(step * 100, loss)
  err = capsys.readouterr().err
  assert err == ('warning: step 300: loss = 12.00, over 5 times where '
                 'training started (2.31): it is not converging (try a '
                 'smaller --learning_rate)\n')


def test_loss_watch_measures_a_resumed_run_from_chance(capsys):
  # A resumed run starts low; ordinary batch-to-batch noise is no alarm.
  watch = errors.LossWatch(chance_loss=2.3)
  for step, loss in enumerate([0.05, 0.6, 0.9, 1.4]):
    watch.check(step * 100, loss)
  assert capsys.readouterr().err == ''


@needs_sigpipe
def test_a_reader_that_goes_away_is_a_quiet_stop(tmp_path):
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'fully_connected_feed.py'),
       '--fake_data', '--max_steps', '3000', '--log_dir', str(tmp_path)],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=USER_ENV)
  assert process.stdout.readline().startswith(b'Step 0:')
  process.stdout.close()  # As `| head -1` does.
  err = process.stderr.read()
  assert process.wait(120) == 128 + signal.SIGPIPE
  assert err == b''


def test_a_stop_at_once_names_the_latest_checkpoint(tmp_path, capsys):
  # As a second Ctrl-C does after the first one's save.
  def work():
    raise KeyboardInterrupt(signal.SIGINT)
  latest = str(tmp_path / 'model.ckpt-5848')
  assert errors.exit_status('prog', work, str(tmp_path), False,
                            lambda log_dir: latest) == 130
  assert capsys.readouterr().err == (
      'Interrupted: stopped at once; the latest checkpoint is %s; run the '
      'same command to resume\n' % latest)
