"""Faults injected into training: SIGKILL at chosen and random moments, Ctrl-C.

Each killed run is started again with the same flags; it must resume from the
last complete checkpoint and finish at the same global step, and no kill may
leave a checkpoint that fails to restore.
"""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import needs_unix_signals
from conftest import ROOT, USER_ENV, run_main
import fully_connected_feed
from tutorial_support import checkpoints

tf1 = tf.compat.v1

RUNNER = os.path.join(ROOT, 'tests', 'fault_runner.py')
SCRIPT = os.path.join(ROOT, 'fully_connected_feed.py')
MAX_STEPS = 2500  # Checkpoints at 1000, 2000 and 2500.
FLAGS = ['--fake_data', '--max_steps', str(MAX_STEPS)]

# Where to kill: before a step, inside each save (files written, index not
# yet updated), and inside evaluations (K-th split evaluated, after B batches).
DEFAULT_FAULTS = ['step:1500', 'save:2', 'eval:2:40']
SLOW_FAULTS = ['step:0', 'step:999', 'step:1000', 'step:1001', 'step:2499',
               'save:1', 'save:3', 'eval:1:0', 'eval:3:99', 'eval:5:50',
               'eval:9:99', 'eval:7:1']


def start(args, log_dir, runner_fault=None):
  command = [sys.executable]
  if runner_fault:
    command += [RUNNER, runner_fault, '--']
  else:
    command += [SCRIPT]
  return subprocess.Popen(command + FLAGS + ['--log_dir', str(log_dir)] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=USER_ENV)


def finish(process, timeout=300):
  try:
    out, err = process.communicate(timeout=timeout)
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
  return process.returncode, out, err


def checkpoint_step(log_dir):
  """Returns the step of the latest checkpoint, after restoring all of it.

  The latest is the newest on disk, as a resumed run finds it.
  """
  checkpoint = checkpoints.newest_on_disk(str(log_dir))
  if checkpoint is None:
    return 0
  reader = tf.train.load_checkpoint(checkpoint)
  for name, _ in tf.train.list_variables(checkpoint):
    assert np.all(np.isfinite(reader.get_tensor(name))), name
  step = int(reader.get_tensor('global_step'))
  assert checkpoint.endswith('model.ckpt-%d' % step)
  return step


def resume_and_check(log_dir, capsys):
  """Runs again with the same flags; checks it resumes and finishes.

  The run is main() in this process, which has TensorFlow imported already:
  what it resumes from is on disk, whoever wrote it.
  """
  step = checkpoint_step(log_dir)
  status, out, err = run_main(fully_connected_feed.main, capsys, *FLAGS,
                              '--log_dir', log_dir)
  assert status == 0, err
  if step:
    assert out.splitlines()[0] == 'Resuming from %s at step %d' % (
        os.path.join(str(log_dir), 'model.ckpt-%d' % step), step)
  assert checkpoint_step(log_dir) == MAX_STEPS
  return step


def kill_and_resume(fault, log_dir, capsys):
  status, _, err = finish(start([], log_dir, runner_fault=fault))
  assert status == -signal.SIGKILL, err
  return resume_and_check(log_dir, capsys)


@needs_unix_signals
@pytest.mark.parametrize('fault', DEFAULT_FAULTS)
def test_killed_at_a_chosen_moment_resumes(fault, tmp_path, capsys):
  resumed_from = kill_and_resume(fault, tmp_path, capsys)
  # Killed inside save 2 with its files whole, before the index names them:
  # found from the files, they are resumed from.
  expected = {'step:1500': 1000, 'save:2': 2000, 'eval:2:40': 1000}[fault]
  assert resumed_from == expected


@needs_unix_signals
@pytest.mark.slow
@pytest.mark.parametrize('fault', SLOW_FAULTS)
def test_killed_at_many_moments_resumes(fault, tmp_path, capsys):
  kill_and_resume(fault, tmp_path, capsys)


@needs_unix_signals
@pytest.mark.slow
@pytest.mark.parametrize('seed', range(6))
def test_killed_at_random_times_resumes(seed, tmp_path, capsys):
  """Kills by a timer, twice in a row, then lets the third run finish."""
  rng = random.Random(seed)
  for _ in range(2):
    process = start([], tmp_path)
    time.sleep(rng.uniform(2.0, 9.0))
    process.send_signal(signal.SIGKILL)
    finish(process)
    checkpoint_step(tmp_path)
  resume_and_check(tmp_path, capsys)


@needs_unix_signals
def test_ctrl_c_saves_the_current_step_and_says_so(tmp_path):
  process = subprocess.Popen(
      [sys.executable, SCRIPT, '--fake_data', '--max_steps', '1000000',
       '--log_dir', str(tmp_path)],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV)
  try:
    for line in process.stdout:
      if line.startswith('Step 300:'):
        break
    process.send_signal(signal.SIGINT)
    status, _, err = finish(process)
  finally:
    if process.poll() is None:
      process.kill()
  assert status == 128 + signal.SIGINT
  step = checkpoint_step(tmp_path)
  assert step > 300
  assert err == ('SIGINT at step %d: saved checkpoint %s; run the same '
                 'command to resume\n'
                 % (step, os.path.join(str(tmp_path), 'model.ckpt-%d' % step)))
