"""Tests of tutorial_support.local_cluster: the --local_workers launcher."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import needs_namespaces, needs_proc, needs_unix_signals
from conftest import ROOT, USER_ENV
from tutorial_support import local_cluster

SCRIPT = os.path.join(ROOT, 'fully_connected_replica.py')


def test_the_newest_step_on_disk_is_read_from_the_files_names(tmp_path):
  assert local_cluster.newest_step_on_disk(str(tmp_path / 'none')) is None
  assert local_cluster.newest_step_on_disk(str(tmp_path)) is None
  for name in ('model.ckpt-900.index', 'model.ckpt-1000.index',
               'model.ckpt-5000.index.damaged', 'model.ckpt-7000.meta',
               'model.ckpt-x.index', 'other.ckpt-8000.index', 'checkpoint'):
    (tmp_path / name).write_text('')
  assert local_cluster.newest_step_on_disk(str(tmp_path)) == 1000


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


def kill_the_launcher_and_see_its_tasks_end(env, log_dir, within_secs):
  """Starts a launcher of one worker in env, kills it by SIGKILL once its
  worker trains, and asserts that its two tasks end within within_secs."""
  launcher = subprocess.Popen(
      [sys.executable, SCRIPT, '--local_workers', '1', '--fake_data',
       '--max_steps', str(10**6), '--cluster_timeout', '5',
       '--log_dir', str(log_dir)],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
      env=env, start_new_session=True)
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
    deadline = time.monotonic() + within_secs
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


@needs_proc
@needs_unix_signals
def test_a_launcher_killed_by_sigkill_leaves_no_task_running(tmp_path):
  kill_the_launcher_and_see_its_tasks_end(USER_ENV, tmp_path / 'logs', 5 + 10)


@needs_unix_signals
def test_a_task_whose_launcher_died_before_it_asked_stops_at_once():
  code = ('import time; from tutorial_support import local_cluster; '
          'local_cluster.end_with_launcher({%r: "1"}, "worker"); time.sleep(30)'
          % local_cluster.LAUNCHER_ENV)
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, timeout=20, check=False)
  assert result.returncode == -signal.SIGTERM


def test_a_task_started_by_hand_is_left_alone():
  code = ('from tutorial_support import local_cluster; '
          'local_cluster.end_with_launcher({}, "worker"); print("ran on")')
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, timeout=20,
                          check=False)
  assert result.returncode == 0
  assert result.stdout == 'ran on\n'


def listening_ports():
  """The TCP ports listened on in this process's network namespace."""
  ports = set()
  for table in ('/proc/net/tcp', '/proc/net/tcp6'):
    with open(table) as f:
      for line in f.readlines()[1:]:
        fields = line.split()
        if fields[3] == '0A':  # LISTEN
          ports.add(int(fields[1].rsplit(':', 1)[1], 16))
  return ports


@needs_proc
@needs_namespaces
@needs_unix_signals
def test_local_workers_are_reachable_by_nothing_outside_the_run(tmp_path):
  launcher = subprocess.Popen(
      [sys.executable, SCRIPT, '--local_workers', '2', '--fake_data',
       '--max_steps', str(10**6), '--log_dir', str(tmp_path / 'logs')],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV,
      start_new_session=True)
  try:
    first_line = launcher.stdout.readline()
    while not launcher.stdout.readline().startswith('Worker 1: local step'):
      assert launcher.poll() is None
    ports = {int(port) for port in re.findall(r'127\.0\.0\.1:(\d+)',
                                               first_line)}
    tasks = children(launcher.pid)
    assert len(ports) == len(tasks) == 3
    own_network = os.readlink('/proc/self/ns/net')
    for pid in tasks:
      assert os.readlink('/proc/%d/ns/net' % pid) != own_network
    assert not ports & listening_ports()
    for port in ports:
      with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', port), timeout=5).close()
  finally:
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()
  assert 'warning' not in launcher.stderr.read()


def test_where_no_network_of_its_own_can_be_had_the_launcher_says_so(
    tmp_path):
  result = subprocess.run(
      [sys.executable, SCRIPT, '--local_workers', '1', '--fake_data',
       '--max_steps', '10', '--log_dir', str(tmp_path / 'logs')],
      capture_output=True, text=True, env=dict(USER_ENV, PATH='/nonexistent'),
      timeout=240, check=False)
  assert result.returncode == 0, result.stderr
  assert result.stderr.splitlines()[0] == (
      'warning: cannot give the local cluster a network of its own (no '
      'unshare command): its tasks accept unauthenticated connections, which '
      'can run any op with your rights, on every interface of this machine '
      'until the run ends; run it on a trusted network only, or where user '
      'namespaces are enabled')
