"""Tests of tutorial_support.local_cluster: the --local_workers launcher."""

import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, USER_ENV
from tutorial_support import local_cluster

SCRIPT = os.path.join(ROOT, 'fully_connected_replica.py')


def test_tasks_are_started_without_the_launcher_flag():
  assert local_cluster._without_local_workers(  # pylint: disable=protected-access
      ['--local_workers', '2', '--fake_data', '--local_workers=3',
       '--max_steps', '5']) == ['--fake_data', '--max_steps', '5']


def children(pid):
  with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
    return [int(child) for child in f.read().split()]


def alive(pid):
  try:
    with open('/proc/%d/stat' % pid) as f:
      return f.read().split()[2] != 'Z'
  except FileNotFoundError:
    return False


def test_a_launcher_killed_by_sigkill_leaves_no_task_running(tmp_path):
  launcher = subprocess.Popen(
      [sys.executable, SCRIPT, '--local_workers', '1', '--fake_data',
       '--max_steps', str(10**6), '--cluster_timeout', '5',
       '--log_dir', str(tmp_path / 'logs')],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
      env=USER_ENV, start_new_session=True)
  tasks = []
  try:
    line = ''
    while not line.startswith('Worker 0: local step'):
      line = launcher.stdout.readline()
      assert line, 'the launcher ended before its worker trained'
    tasks = children(launcher.pid)
    assert len(tasks) == 2
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    deadline = time.monotonic() + 5 + 10
    while any(alive(task) for task in tasks) and time.monotonic() < deadline:
      time.sleep(0.2)
    assert not [task for task in tasks if alive(task)]
  finally:
    for task in tasks:
      try:
        os.kill(task, signal.SIGKILL)
      except ProcessLookupError:
        pass
    if launcher.poll() is None:
      launcher.kill()
      launcher.wait()


def test_a_task_whose_launcher_died_before_it_asked_stops_at_once():
  code = ('import time; from tutorial_support import local_cluster; '
          'local_cluster.end_with_launcher({%r: "1"}); time.sleep(30)'
          % local_cluster.LAUNCHER_ENV)
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, timeout=20, check=False)
  assert result.returncode == -signal.SIGTERM


def test_a_task_started_by_hand_is_left_alone():
  code = ('from tutorial_support import local_cluster; '
          'local_cluster.end_with_launcher({}); print("ran on")')
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, timeout=20,
                          check=False)
  assert result.returncode == 0
  assert result.stdout == 'ran on\n'
