"""Tests of tutorial_support.systems: each system-specific piece, and the
portable path it takes where a feature is missing (as on Windows)."""

import errno
import os
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, needs_unix_permissions
from tutorial_support import systems


def test_a_lock_held_alone_refuses_others_until_unlocked(tmp_path):
  path = tmp_path / 'lock'
  with open(path, 'w') as holder, open(path) as other:
    systems.lock(holder)
    with pytest.raises(systems.LockHeld):
      systems.lock(other, shared=True, wait=False)
    systems.unlock(holder)
    systems.lock(other, shared=True, wait=False)
    with pytest.raises(systems.LockHeld):
      systems.lock(holder, wait=False)


def test_shared_locks_do_not_exclude_each_other(tmp_path):
  path = tmp_path / 'lock'
  with open(path, 'w') as first, open(path) as second:
    systems.lock(first, shared=True, wait=False)
    systems.lock(second, shared=True, wait=False)


def test_a_lock_ends_with_its_process(tmp_path):
  path = tmp_path / 'lock'
  path.write_text('')
  code = ('import sys; from tutorial_support import systems; '
          'f = open(sys.argv[1]); systems.lock(f); print("held", flush=True);'
          ' sys.stdin.read()')
  with subprocess.Popen([sys.executable, '-c', code, str(path)], cwd=ROOT,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        text=True) as holder:
    assert holder.stdout.readline() == 'held\n'
    with open(path) as mine:
      with pytest.raises(systems.LockHeld):
        systems.lock(mine, wait=False)
      if os.path.exists('/proc/locks'):
        fd = os.open(path, os.O_RDONLY)
        try:
          assert systems.lock_holder(fd) == 'process %d' % holder.pid
        finally:
          os.close(fd)
      holder.kill()
      holder.wait()
      systems.lock(mine, wait=False)


def test_the_holder_is_another_process_where_there_is_no_proc_locks(
    tmp_path, monkeypatch):
  # As on Windows; macOS has no /proc.
  monkeypatch.delattr(os, 'major', raising=False)
  fd = os.open(tmp_path, os.O_RDONLY)
  try:
    assert systems.lock_holder(fd) == 'another process'
  finally:
    os.close(fd)


@needs_unix_permissions
def test_a_mode_is_set_by_path_without_fchmod(tmp_path, monkeypatch):
  path = tmp_path / 'file'
  fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
  try:
    # As on Windows, before Python 3.13.
    monkeypatch.delattr(os, 'fchmod', raising=False)
    systems.set_mode(fd, str(path), 0o644)
  finally:
    os.close(fd)
  assert os.stat(path).st_mode & 0o777 == 0o644


def test_a_refused_rename_is_retried_until_it_succeeds(tmp_path):
  (tmp_path / 'new').write_text('new')
  refusals = []

  def held_open_twice(source, destination):
    if len(refusals) < 2:  # As Windows refuses while a reader holds it.
      refusals.append(destination)
      raise PermissionError(errno.EACCES, 'in use by another process')
    os.replace(source, destination)
  systems.replace(str(tmp_path / 'new'), str(tmp_path / 'old'),
                  rename=held_open_twice)
  assert len(refusals) == 2
  assert (tmp_path / 'old').read_text() == 'new'


def test_a_rename_refused_for_good_fails_after_the_bound(monkeypatch):
  monkeypatch.setattr(systems, 'REPLACE_RETRY_SECS', 0.2)
  calls = []

  def refused(source, destination):
    calls.append(source)
    raise PermissionError(errno.EACCES, 'denied')
  with pytest.raises(PermissionError):
    systems.replace('a', 'b', rename=refused)
  assert 2 <= len(calls) <= 10


def test_other_rename_errors_are_not_retried(tmp_path):
  with pytest.raises(FileNotFoundError):
    systems.replace(str(tmp_path / 'none'), str(tmp_path / 'other'))


def test_a_directory_replaces_an_empty_one_where_rename_will_not(
    tmp_path, monkeypatch):
  source, target = tmp_path / 'staging', tmp_path / '1'
  source.mkdir()
  (source / 'saved_model.pb').write_text('model')
  target.mkdir()
  real_rename = os.rename

  def windows_rename(a, b):
    if os.path.exists(b):
      raise FileExistsError(errno.EEXIST, 'Cannot create a file when that '
                            'file already exists', b)
    real_rename(a, b)
  monkeypatch.setattr(os, 'rename', windows_rename)
  systems.rename_onto_empty_directory(str(source), str(target))
  assert (target / 'saved_model.pb').read_text() == 'model'
  assert not source.exists()


def test_a_directory_is_not_renamed_onto_one_claimed_meanwhile(
    tmp_path, monkeypatch):
  source, target = tmp_path / 'staging', tmp_path / '1'
  source.mkdir()
  target.mkdir()
  (target / 'saved_model.pb').write_text('another run\'s')
  with pytest.raises(FileExistsError):
    systems.rename_onto_empty_directory(str(source), str(target))
  assert (target / 'saved_model.pb').read_text() == 'another run\'s'


def test_a_link_that_cannot_be_made_says_why(tmp_path, monkeypatch):
  def no_privilege(*unused_args, **unused_kwargs):
    raise OSError(errno.EPERM, 'A required privilege is not held by the '
                  'client')
  monkeypatch.setattr(os, 'symlink', no_privilege)
  # On Linux there is no junction to fall back to either.
  with pytest.raises(OSError, match='cannot link to .*required privilege'):
    systems.link_directory(str(tmp_path), str(tmp_path / 'link'))


def test_a_link_reaches_its_directory_and_is_removed(tmp_path):
  (tmp_path / 'target').mkdir()
  (tmp_path / 'target' / 'file').write_text('here')
  systems.link_directory(str(tmp_path / 'target'), str(tmp_path / 'link'))
  assert (tmp_path / 'link' / 'file').read_text() == 'here'
  systems.unlink_directory(str(tmp_path / 'link'))
  assert not os.path.lexists(tmp_path / 'link')
  assert (tmp_path / 'target' / 'file').exists()


def test_a_reader_gone_is_told_on_every_system(monkeypatch):
  assert systems.is_reader_gone(BrokenPipeError(errno.EPIPE, 'broken'))
  # Windows reports a closed pipe on flush as EINVAL.
  assert systems.is_reader_gone(OSError(errno.EINVAL, 'invalid argument'))
  assert not systems.is_reader_gone(OSError(errno.ENOSPC, 'disk full'))
  if hasattr(signal, 'SIGPIPE'):
    assert systems.reader_gone_status() == 128 + signal.SIGPIPE
  monkeypatch.delattr(signal, 'SIGPIPE', raising=False)
  assert systems.reader_gone_status() == 1


def test_the_kernel_ends_tasks_on_linux_alone(monkeypatch):
  assert systems.kernel_ends_tasks() == sys.platform.startswith('linux')
  monkeypatch.setattr(systems, '_prctl', lambda: None)
  assert not systems.kernel_ends_tasks()


WATCHER = '''
import os, signal, sys, time
from tutorial_support import systems
systems._prctl = lambda: None  # As on Windows and macOS.
if sys.argv[1] == 'no pthread_kill' and hasattr(signal, 'pthread_kill'):
  del signal.pthread_kill
signal.signal(signal.SIGTERM, lambda *args: sys.exit(143))
systems.end_with_parent(os.getppid(), watch_stdin=True)
print('watching', flush=True)
time.sleep(60) if sys.argv[1] == 'waiting' else [time.sleep(0.01)
                                                 for _ in range(6000)]
'''


# Where no thread can be signalled (Windows), the main thread takes SIGTERM
# at its next bytecode: it must not be in a long wait.
WAKEABLE = 'waiting' if hasattr(signal, 'pthread_kill') else 'no pthread_kill'


@pytest.mark.parametrize('main_thread', [
    pytest.param('waiting', marks=pytest.mark.skipif(
        not hasattr(signal, 'pthread_kill'),
        reason='a main thread in a wait wakes for a signal sent to it')),
    'no pthread_kill'])
def test_without_prctl_a_task_stops_when_its_stdin_closes(main_thread):
  with subprocess.Popen([sys.executable, '-c', WATCHER, main_thread],
                        cwd=ROOT, stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True) as task:
    assert task.stdout.readline() == 'watching\n'
    task.stdin.close()  # As when the launcher ends, however it ends.
    assert task.wait(20) == 143


def test_without_prctl_a_task_is_asked_to_stop_through_its_stdin(
    monkeypatch):
  monkeypatch.setattr(systems, '_prctl', lambda: None)
  with subprocess.Popen([sys.executable, '-c', WATCHER, WAKEABLE], cwd=ROOT,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        text=True) as task:
    assert task.stdout.readline() == 'watching\n'
    systems.ask_task_to_stop(task)
    assert task.stdin.closed
    assert task.wait(20) == 143  # Its own handler ran: it was not killed.


def test_the_loopback_is_refused_where_there_are_no_namespaces(monkeypatch):
  monkeypatch.setitem(sys.modules, 'fcntl', None)  # As on Windows.
  with pytest.raises(OSError, match='no network namespaces here'):
    systems.bring_loopback_up()


def test_without_a_signal_mask_nothing_is_blocked(monkeypatch):
  monkeypatch.delattr(signal, 'pthread_sigmask', raising=False)
  assert systems.block_signals({signal.SIGINT}) is None
