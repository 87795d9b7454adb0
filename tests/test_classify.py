"""Tests of classify.py on digits drawn in the test.

The tests that load a model run its main() in this process, which has
TensorFlow imported already (a fresh process costs its import, seconds);
bad flags, and a directory unreadable as a user has it, run the program
itself, as a user does.
"""

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import needs_fifo, needs_unix_permissions
from conftest import ROOT, USER_ENV, run_main, without_read_access
from drawn_digits import draw_digit
import classify
import fully_connected_feed
from tutorial_support import classifier
from tutorial_support import digit_images
from test_fully_connected_feed import run as run_training

SCRIPT = os.path.join(ROOT, 'classify.py')
LINE = re.compile(r'^(.+): (\d) \((\d\.\d\d)\)$')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A log dir and a SavedModel of one model, barely trained: its answers
  differ from picture to picture, so two ways of loading it can be told
  apart if they disagree."""
  directory = tmp_path_factory.mktemp('trained')
  out, err = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    status = fully_connected_feed.main([
        '--fake_data', '--max_steps', '2', '--log_dir', str(directory / 'logs'),
        '--export_dir', str(directory / 'export')])
  assert status == 0, err.getvalue()
  return directory


def classify_run(*args):
  """Runs `python classify.py ARGS...`; returns (status, stdout, stderr)."""
  result = subprocess.run([sys.executable, SCRIPT] + [str(a) for a in args],
                          capture_output=True, text=True, env=USER_ENV,
                          timeout=300, check=False)
  return result.returncode, result.stdout, result.stderr


def classify_main(capsys, *args):
  """Runs classify.main() in this process; returns what classify_run does."""
  return run_main(classify.main, capsys, *args)


def drawn(tmp_path, digit, name, seed=0, **kwargs):
  path = tmp_path / name
  draw_digit(digit, np.random.default_rng(seed), **kwargs).save(path)
  return path


def test_good_and_bad_pictures_in_one_call(trained, tmp_path, capsys):
  good = [drawn(tmp_path, 7, 'seven.jpg', size=(300, 200)),
          drawn(tmp_path, 3, 'three.webp', seed=1)]
  text = tmp_path / 'notes.png'
  text.write_text('a shopping list')
  blank = tmp_path / 'blank.png'
  Image.new('L', (100, 100), 240).save(blank)
  cut = tmp_path / 'cut.png'
  cut.write_bytes(good[0].read_bytes()[:200])
  empty_dir = tmp_path / 'nothing'
  empty_dir.mkdir()
  status, out, err = classify_main(
      capsys, good[0], text, blank, cut, empty_dir, tmp_path / 'missing.png',
      good[1], '--log_dir', trained / 'logs')
  assert status == 1
  answered = [LINE.match(line) for line in out.splitlines()]
  assert [match.group(1) for match in answered] == [str(p) for p in good]
  errors = err.splitlines()
  assert len(errors) == 5
  assert errors[0] == ('classify.py: error: %s: not an image Pillow can read'
                       % text)
  assert errors[1].startswith('classify.py: error: %s: no ink found' % blank)
  assert errors[2].startswith('classify.py: error: %s: damaged image' % cut)
  assert errors[3].startswith('classify.py: error: %s: directory holds no '
                              'images' % empty_dir)
  assert errors[4] == ('classify.py: error: %s: no such file'
                       % (tmp_path / 'missing.png'))
  assert 'Traceback' not in err


def test_a_directory_and_top_k(trained, tmp_path, capsys):
  pictures = tmp_path / 'pictures'
  pictures.mkdir()
  for digit in (1, 4):
    drawn(pictures, digit, '%d.png' % digit, seed=digit)
  (pictures / 'README.txt').write_text('not a picture, not looked at')
  status, out, err = classify_main(capsys, pictures, '--top', 3,
                                   '--log_dir', trained / 'logs')
  assert status == 0, err
  lines = out.splitlines()
  assert [line.split(':')[0] for line in lines] == [
      str(pictures / '1.png'), str(pictures / '4.png')]
  for line in lines:
    answers = re.findall(r'(\d) \((\d\.\d\d)\)', line)
    assert len(answers) == 3
    assert len({digit for digit, _ in answers}) == 3
    probabilities = [float(p) for _, p in answers]
    assert probabilities == sorted(probabilities, reverse=True)


def test_saved_model_and_checkpoint_answer_alike(trained, tmp_path, capsys):
  pictures = [drawn(tmp_path, digit, '%d.png' % digit, seed=digit + 10)
              for digit in range(10)]
  by_checkpoint = classify_main(capsys, *pictures, '--top', 10,
                                '--log_dir', trained / 'logs')
  by_saved_model = classify_main(capsys, *pictures, '--top', 10,
                                 '--saved_model', trained / 'export' / '1')
  assert by_checkpoint[0] == by_saved_model[0] == 0
  assert by_checkpoint[1] == by_saved_model[1]
  inputs = np.stack([digit_images.mnist_input(str(p)) for p in pictures])
  with classifier.load(str(trained / 'logs')) as model:
    from_checkpoint = model.probabilities(inputs)
  with classifier.load(None, str(trained / 'export' / '1')) as model:
    from_saved_model = model.probabilities(inputs)
  assert from_checkpoint.std(axis=0).max() > 1e-4  # Answers that differ.
  np.testing.assert_allclose(from_checkpoint, from_saved_model, rtol=1e-5)


def test_save_preprocessed_writes_what_the_model_saw(trained, tmp_path,
                                                     capsys):
  picture = drawn(tmp_path, 5, 'five.png', size=(500, 300))
  saved = tmp_path / 'seen'
  status, _, err = classify_main(capsys, picture, '--save_preprocessed',
                                 saved, '--log_dir', trained / 'logs')
  assert status == 0, err
  assert sorted(os.listdir(saved)) == ['000-five-page.png', '000-five.png']
  with Image.open(saved / '000-five.png') as image:
    assert image.size == (28, 28) and image.mode == 'L'
    seen = np.asarray(image)
  assert seen.max() > 200 and seen[0].max() == 0
  # Beside it, the ink found on the page, light on black, at 280 wide.
  with Image.open(saved / '000-five-page.png') as image:
    assert image.size == (280, 168) and image.mode == 'L'
    page = np.asarray(image)
  assert page.max() > 200 and np.median(page) == 0


class UniformModel(object):
  """Stands in for a model: every digit equally likely."""

  def probabilities(self, images):
    return np.full((len(images), 10), 0.1, np.float32)


def test_an_unreadable_directory_is_one_line_and_the_rest_go_on(
    tmp_path, monkeypatch, capsys):
  good = [drawn(tmp_path, 7, 'seven.png'), drawn(tmp_path, 3, 'three.png')]
  locked = tmp_path / 'locked'
  locked.mkdir()
  drawn(locked, 1, 'one.png')
  listdir = os.listdir

  def refuse_locked(path):
    if str(path) == str(locked):
      raise PermissionError(13, 'Permission denied', str(path))
    return listdir(path)
  # As root the test cannot take the permission away; os.listdir refuses.
  monkeypatch.setattr(os, 'listdir', refuse_locked)
  failed = classify.classify_all(UniformModel(), [good[0], locked, good[1]],
                                 1, None)
  out, err = capsys.readouterr()
  assert failed == 1
  assert [line.split(':')[0] for line in out.splitlines()] == [
      str(p) for p in good]
  assert err == ('classify.py: error: %s: unreadable directory (Permission '
                 'denied)\n' % locked)


@needs_unix_permissions
def test_an_unreadable_directory_as_a_user_has_it(trained, tmp_path):
  good = drawn(tmp_path, 7, 'seven.png')
  locked = tmp_path / 'locked'
  locked.mkdir()
  locked.chmod(0)
  try:
    result = subprocess.run(
        without_read_access([sys.executable, SCRIPT, str(locked), str(good),
                             '--log_dir', str(trained / 'logs')]),
        capture_output=True, text=True, env=USER_ENV, timeout=300,
        check=False)
  finally:
    locked.chmod(0o755)
  status, out, err = result.returncode, result.stdout, result.stderr
  assert status == 1
  assert out.startswith(str(good))
  assert err.startswith('classify.py: error: %s: unreadable directory'
                        % locked)


def test_a_saved_model_under_glob_characters_loads(trained, tmp_path, capsys):
  exported = tmp_path / 'exp [1]' / '1'
  shutil.copytree(trained / 'export' / '1', exported)
  picture = drawn(tmp_path, 2, 'two.png')
  by_checkpoint = classify_main(capsys, picture, '--top', 10,
                                '--log_dir', trained / 'logs')
  by_saved_model = classify_main(capsys, picture, '--top', 10,
                                 '--saved_model', exported)
  assert by_saved_model[0] == 0, by_saved_model[2]
  assert by_saved_model[1] == by_checkpoint[1]


@pytest.mark.parametrize('args, flag', [
    (['--top', '0'], '--top'), (['--top', '11'], '--top'),
    (['--sav', 'x'], 'unrecognized arguments: --sav'), ([], 'IMAGE'),
])
def test_bad_flags_exit_2_with_one_line(args, flag, tmp_path):
  status, out, err = classify_run(*(args + ([tmp_path] if args else [])))
  assert status == 2
  assert out == ''
  assert len(err.strip().splitlines()) == 1 and flag in err


def test_no_model_is_one_line(tmp_path, capsys):
  picture = drawn(tmp_path, 2, 'two.png')
  status, out, err = classify_main(capsys, picture,
                                   '--log_dir', tmp_path / 'none')
  assert status == 1
  assert out == ''
  assert err.startswith('classify.py: error: --log_dir %s holds no checkpoint'
                        % (tmp_path / 'none'))
  status, _, err = classify_main(capsys, picture, '--saved_model', tmp_path)
  assert status == 1
  assert 'holds no saved_model.pb' in err


def test_answer_line_names_the_likeliest_first():
  probabilities = np.array([0.01, 0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.03,
                            0.04])
  assert classify.answer_line('a.png', probabilities, 1) == 'a.png: 7 (0.90)'
  assert classify.answer_line('a.png', probabilities, 3) == (
      'a.png: 7 (0.90), 9 (0.04), 8 (0.03)')


def test_eval_only_prints_the_confusion_matrix(small_data_dir, tmp_path,
                                               capsys, no_sources):
  data = ['--input_data_dir', small_data_dir, '--log_dir', tmp_path]
  assert run_training(capsys, *data, '--max_steps', 200)[0] == 0
  status, out, _ = run_training(capsys, *data, '--eval_only')
  assert status == 0
  lines = out.splitlines()
  start = lines.index('Test confusion matrix (rows: true digit, columns: '
                      'predicted):')
  assert lines[start - 1].startswith('  Num examples: 300  Num correct: ')
  correct = int(lines[start - 1].split()[5])
  rows = [[int(n) for n in line.split()[1:]]
          for line in lines[start + 2:start + 12]]
  matrix = np.array(rows)
  assert matrix.shape == (10, 10)
  assert matrix.sum() == 300
  assert np.trace(matrix) == correct
  assert lines[start + 12] == 'Digit  Precision  Recall'
  recall_of_0 = float(lines[start + 13].split()[2])
  assert recall_of_0 == pytest.approx(matrix[0, 0] / matrix[0].sum(), abs=1e-4)


@needs_fifo
def test_special_files_loops_and_odd_names_are_each_one_line(
    tmp_path, capsys):
  good = drawn(tmp_path, 7, 'seven\nline.png')
  pipe = tmp_path / 'pipe.png'
  os.mkfifo(pipe)
  loop = tmp_path / 'loop.png'
  os.symlink(loop, loop)
  broken = tmp_path / 'gone.png'
  os.symlink(tmp_path / 'nowhere.png', broken)
  pictures = tmp_path / 'drawings'
  (pictures / 'sub').mkdir(parents=True)
  os.mkfifo(pictures / 'inner.png')
  drawn(pictures, 4, 'four.png')
  # A hang (a FIFO opened for reading waits for a writer) fails, not stalls.
  signal.signal(signal.SIGALRM, signal.default_int_handler)
  signal.alarm(20)
  try:
    failed = classify.classify_all(
        UniformModel(), [good, pipe, loop, broken, pictures, '/dev/null'], 1,
        None)
  finally:
    signal.alarm(0)
  out, err = capsys.readouterr()
  assert failed == 5
  assert out.splitlines() == [
      repr(str(good)) + ': 0 (0.10)', str(pictures / 'four.png') + ': 0 (0.10)']
  assert err.splitlines() == [
      'classify.py: error: %s: a FIFO (named pipe), not a regular file' % pipe,
      'classify.py: error: %s: a symlink loop (Too many levels of symbolic '
      'links)' % loop,
      'classify.py: error: %s: a broken symlink (to %s)' % (
          broken, tmp_path / 'nowhere.png'),
      'classify.py: error: %s: a FIFO (named pipe), not a regular file'
      % (pictures / 'inner.png'),
      'classify.py: %s: a directory, not searched' % (pictures / 'sub'),
      'classify.py: error: /dev/null: a character device, not a regular file']


@needs_fifo
def test_a_fifo_is_refused_when_opened_too(tmp_path):
  # Made a FIFO after it was looked at: reading it must not wait either.
  pipe = tmp_path / 'pipe.png'
  os.mkfifo(pipe)
  with pytest.raises(digit_images.NotADigitError) as refused:
    digit_images.mnist_input(str(pipe))
  assert str(refused.value) == 'a FIFO (named pipe), not a regular file'


def test_a_picture_of_frames_is_read_from_its_first_with_ink(trained,
                                                             tmp_path, capsys):
  seven = draw_digit(7, np.random.default_rng(4), size=(120, 120),
                     style='paper').convert('L')
  blank = Image.new('L', seven.size, 235)
  late, early = tmp_path / 'late.gif', tmp_path / 'early.tiff'
  blank.save(late, save_all=True, append_images=[seven, blank])
  seven.save(early, save_all=True, append_images=[blank])
  status, out, err = classify_main(capsys, late, early,
                                   '--log_dir', trained / 'logs')
  assert (status, err) == (0, '')
  lines = [LINE.match(line) for line in out.splitlines()]
  assert [match.group(1) for match in lines] == [
      '%s (frame 2 of 3)' % late, str(early)]


def test_the_sample_pictures_are_those_the_project_draws(tmp_path):
  sys.path.insert(0, os.path.join(ROOT, 'tests'))
  import sample_pictures  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  sample_pictures.draw_pictures(str(tmp_path))
  shipped = os.path.join(ROOT, 'pictures')
  assert sorted(os.listdir(shipped)) == sorted(sample_pictures.PICTURES)
  for name in sample_pictures.PICTURES:
    with Image.open(os.path.join(shipped, name)) as ours, \
        Image.open(tmp_path / name) as drawn:
      assert np.array_equal(np.asarray(ours), np.asarray(drawn)), name
