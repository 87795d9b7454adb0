"""Bad data, bad disks and bad flags: detected before training, one line each.

Also fuzzes the IDX parser: it may only raise its documented ValueError, must
not hang, and must not allocate far beyond the input's size.
"""

import contextlib
import gzip
import io
import os
import re
try:
  import resource
except ImportError:  # Windows: the tests that need it skip.
  resource = None
import signal
import struct
import subprocess
import sys
import tracemalloc

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest

import fully_connected_feed
import input_data
from conftest import needs_rlimit, needs_unix_permissions
from conftest import ROOT, USER_ENV, without_read_access, write_files
from test_fully_connected_feed import run


def damaged(contents, name, how):
  """Returns a copy of contents with file `name` damaged in the way `how`."""
  data = contents[name]
  if how == 'truncated':
    data = data[:len(data) // 2]
  elif how == 'bit-flipped':
    data = bytearray(data)
    data[len(data) // 2] ^= 0x10
    data = bytes(data)
  elif how == 'wrong-magic':
    data = struct.pack('>I', 2052) + data[4:]
  elif how == 'wrong-dimension':
    data = data[:8] + struct.pack('>II', 27, 29) + data[16:]
  elif how == 'swapped':
    data = contents[input_data.TEST_LABELS]
  elif how == 'empty':
    data = b''
  elif how == 'trailing-garbage':
    data += b'\0' * 7
  elif how == 'gzip-corrupt':
    data = gzip.compress(data)[:-20] + b'x' * 20
  return dict(contents, **{name: data})


DAMAGES = ['truncated', 'bit-flipped', 'wrong-magic', 'wrong-dimension',
           'swapped', 'empty', 'trailing-garbage', 'gzip-corrupt']


@pytest.mark.parametrize('how', DAMAGES)
def test_damaged_file_is_replaced_from_a_source(how, tmp_path, small_contents,
                                                small_specs):
  name = input_data.TEST_IMAGES
  data_dir = tmp_path / 'data'
  write_files(str(data_dir), damaged(small_contents, name, how))
  write_files(str(tmp_path / 'mirror'), small_contents)
  data_sets = input_data.read_data_sets(str(data_dir), dtype=np.uint8,
                                        sources=[str(tmp_path / 'mirror')])
  assert (data_dir / name).read_bytes() == small_contents[name]
  assert (data_dir / (name + '.rejected')).exists()  # Kept, not lost.
  expected = np.frombuffer(small_contents[name][16:], np.uint8)
  np.testing.assert_array_equal(data_sets.test.images.reshape(-1), expected)


@pytest.mark.parametrize('how', DAMAGES)
def test_damaged_file_without_source_stops_before_training(
    how, tmp_path, small_contents, small_specs, capsys, no_sources):
  name = input_data.TRAIN_LABELS
  data_dir = tmp_path / 'data'
  write_files(str(data_dir), damaged(small_contents, name, how))
  status, out, err = run(capsys, '--input_data_dir', data_dir,
                         '--log_dir', tmp_path / 'logs')
  assert status == 1
  assert 'Step' not in out
  assert not os.path.exists(tmp_path / 'logs' / 'checkpoint')
  lines = err.splitlines()
  assert lines[0].startswith('%s failed verification' % (data_dir / name))
  (error,) = [line for line in lines if ': error: ' in line]
  assert error.startswith('fully_connected_feed.py: error: could not get a '
                          'verified copy of %s into %s' % (name, data_dir))
  assert 'Traceback' not in err


def test_someone_elses_files_are_kept_and_reported(tmp_path, small_contents,
                                                   small_specs, capsys,
                                                   no_sources):
  data_dir = tmp_path / 'data'
  theirs = {name: b'their own data ' + name.encode()
            for name in small_contents}
  write_files(str(data_dir), theirs)
  (data_dir / 'notes.txt').write_text('theirs too')
  status, _, err = run(capsys, '--input_data_dir', data_dir,
                       '--log_dir', tmp_path / 'logs')
  assert status == 1
  assert 'could not get a verified copy' in err
  for name, data in theirs.items():
    assert (data_dir / (name + '.rejected')).read_bytes() == data
  assert (data_dir / 'notes.txt').read_text() == 'theirs too'


# ---------------------------------------------------------------- fuzzing --

def _field(draw):
  return draw(st.one_of(st.integers(0, 64), st.integers(0, 2**32 - 1)))


@st.composite
def idx_like(draw):
  """Random bytes, or IDX headers of any size with random payloads."""
  if draw(st.booleans()):
    data = draw(st.binary(max_size=2048))
  else:
    magic = draw(st.sampled_from([2049, 2051, None]))
    magic = _field(draw) if magic is None else magic
    fields = [_field(draw) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()) and len(fields) == 3:
      fields[1:] = [28, 28]
    data = struct.pack('>%dI' % (1 + len(fields)), magic, *fields)
    data += draw(st.binary(max_size=4096))
  if draw(st.booleans()):
    data = gzip.compress(data)
    if draw(st.booleans()):
      data = data[:draw(st.integers(0, len(data)))]
  return data


FUZZED = []


def check_parser_on(data):
  FUZZED.append(None)
  size = len(data)
  with contextlib.suppress(Exception):
    size = max(size, len(gzip.decompress(data)))
  for parse in (input_data.extract_images, input_data.extract_labels):
    stream = io.BytesIO(data)
    stream.name = 'fuzzed'
    tracemalloc.start()
    try:
      parse(stream)
    except ValueError as e:
      assert str(e).startswith('fuzzed: ')
    finally:
      _, peak = tracemalloc.get_traced_memory()
      tracemalloc.stop()
    # Reads go in chunks of 1 MiB: a fixed cost, whatever a header claims.
    assert peak < 8 * size + 4 * 2**20, (peak, size)


@hypothesis.settings(max_examples=300, deadline=2000, database=None)
@hypothesis.given(idx_like())
def test_fuzzed_idx_input_raises_only_value_error(data):
  check_parser_on(data)


@pytest.mark.slow
@hypothesis.settings(max_examples=10000, deadline=2000, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(idx_like())
def test_fuzzed_idx_input_raises_only_value_error_10000(data):
  check_parser_on(data)


@pytest.mark.slow
def test_fuzz_run_covered_10000_inputs():
  # Runs after the test above (pytest keeps file order) and counts its inputs.
  assert len(FUZZED) >= 10000


# --------------------------------------------------------- disks and paths --

@contextlib.contextmanager
def read_only(path):
  """Makes a directory unwritable, even for root (who ignores chmod)."""
  os.makedirs(path, exist_ok=True)
  if os.geteuid() == 0:
    if subprocess.run(['chattr', '+i', str(path)], capture_output=True,
                      check=False).returncode != 0:
      pytest.skip('chattr +i is not available to make a directory read-only')
    try:
      yield
    finally:
      subprocess.run(['chattr', '-i', str(path)], check=True)
  else:
    os.chmod(path, 0o555)
    try:
      yield
    finally:
      os.chmod(path, 0o755)


@needs_unix_permissions
def test_unwritable_log_dir_is_one_line(tmp_path, capsys):
  log_dir = tmp_path / 'logs'
  with read_only(log_dir):
    status, out, err = run(capsys, '--fake_data', '--log_dir', log_dir)
  assert status == 1
  assert out == ''
  assert err.strip().splitlines() == [
      'fully_connected_feed.py: error: --log_dir %s is not writable: '
      'Operation not permitted' % log_dir] or \
      'Permission denied' in err
  assert os.listdir(log_dir) == []


@needs_unix_permissions
def test_unwritable_data_dir_is_one_line(tmp_path, capsys, small_specs,
                                         small_contents):
  write_files(str(tmp_path / 'mirror'), small_contents)
  data_dir = tmp_path / 'data'
  with read_only(data_dir):
    status, _, err = run(capsys, '--input_data_dir', data_dir,
                         '--data_sources', tmp_path / 'mirror',
                         '--log_dir', tmp_path / 'logs')
  assert status == 1
  error_lines = [line for line in err.splitlines() if 'error' in line]
  assert len(error_lines) == 1
  assert re.search('error: cannot write to data directory %s: '
                   % re.escape(str(data_dir)), error_lines[0])
  assert os.listdir(data_dir) == []


@needs_unix_permissions
def test_unreadable_data_dir_is_one_line(tmp_path):
  data_dir = tmp_path / 'data'
  data_dir.mkdir()
  os.chmod(data_dir, 0)
  try:
    result = subprocess.run(without_read_access(
        [sys.executable, os.path.join(ROOT, 'input_data.py'),
         '--input_data_dir', str(data_dir), '--data_sources', str(tmp_path)]),
                            capture_output=True, text=True, env=USER_ENV,
                            check=False)
  finally:
    os.chmod(data_dir, 0o755)
  assert result.returncode == 1
  assert result.stderr == ('input_data.py: error: cannot open data directory '
                           '%s: Permission denied\n' % data_dir)
  assert os.listdir(data_dir) == []


@contextlib.contextmanager
def file_size_limit(limit):
  """Makes writes past `limit` bytes fail as on a full disk (EFBIG)."""
  previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
  previous = resource.getrlimit(resource.RLIMIT_FSIZE)
  resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous[1]))
  try:
    yield
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, previous)
    signal.signal(signal.SIGXFSZ, previous_handler)


@needs_rlimit
def test_full_disk_during_fetch_leaves_no_partial_file(
    tmp_path, small_specs, small_contents, capsys):
  write_files(str(tmp_path / 'mirror'), small_contents)
  data_dir = tmp_path / 'data'
  with file_size_limit(100000):  # The training images file is 4 MB.
    status = input_data.main(['--input_data_dir', str(data_dir),
                              '--data_sources', str(tmp_path / 'mirror')])
  err = capsys.readouterr().err
  assert status == 1
  assert 'input_data.py: error: cannot write to data directory %s: File too ' \
      'large' % data_dir in err
  # The data directory it made is removed again, for nothing came of it.
  assert not data_dir.exists()


@needs_rlimit
def test_full_disk_during_checkpoint_leaves_no_partial_checkpoint(tmp_path):
  def limit():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200000, 200000))
  log_dir = tmp_path / 'logs'
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'fully_connected_feed.py'),
       '--fake_data', '--max_steps', '1000', '--log_dir', str(log_dir)],
      preexec_fn=limit, capture_output=True, text=True, timeout=300,
      check=False, env=USER_ENV)
  assert result.returncode == 1
  assert result.stderr.startswith(
      'fully_connected_feed.py: error: cannot save checkpoint %s: '
      % (log_dir / 'model.ckpt-1000'))
  assert result.stderr.strip().endswith('File too large')
  assert len(result.stderr.strip().splitlines()) == 1
  # The events files are logs (the splits' in precision/), and .lock the
  # run's hold on the directory.
  assert [f for f in os.listdir(log_dir)
          if not f.startswith('events.out.tfevents')
          and f not in ('.lock', 'precision')] == []
  for split in os.listdir(log_dir / 'precision'):
    assert all(f.startswith('events.out.tfevents')
               for f in os.listdir(log_dir / 'precision' / split))


@needs_unix_permissions
def test_unwritable_export_dir_leaves_nothing(tmp_path, capsys):
  log_dir = tmp_path / 'logs'
  assert run(capsys, '--fake_data', '--max_steps', 2,
             '--log_dir', log_dir)[0] == 0
  export_dir = tmp_path / 'export'
  with read_only(export_dir):
    status, _, err = run(capsys, '--fake_data', '--eval_only', '--log_dir',
                         log_dir, '--export_dir', export_dir)
  assert status == 1
  assert len(err.strip().splitlines()) == 1
  assert str(export_dir) in err
  assert os.listdir(export_dir) == []


# ------------------------------------------------------------------- flags --

@pytest.mark.parametrize('flag', ['--learning_rate', '--max_steps',
                                  '--hidden1', '--hidden2', '--batch_size',
                                  '--seed', '--download_timeout'])
@pytest.mark.parametrize('value', ['0', '-3', 'abc', '1e999', 'nan',
                                   '123456789012345678901234567890'])
def test_every_numeric_flag_refuses_bad_values(flag, value, capsys):
  if flag == '--seed' and value == '0':
    return  # Seed 0 is a fine seed.
  with pytest.raises(SystemExit) as exit_info:
    fully_connected_feed.parse_flags([flag, value])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1
  assert 'argument %s: ' % flag in err


# ---------------------------------------------------------------- security --

def test_nothing_from_the_data_is_ever_unpickled_or_executed():
  with open(os.path.join(ROOT, 'input_data.py')) as f:
    source = f.read()
  for risky in ('pickle', 'allow_pickle', 'np.load(', 'eval(', 'exec(',
                'extractall', 'tar.extract(', 'shell=True'):
    assert risky not in source, risky
