"""Tests of tutorial_support.tensorboard_extras: the prediction grid, and the
real TensorBoard started on the log dir of a short run and asked its API."""

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont
import pytest

import input_data
from conftest import SMALL_TEST, foreign_env, stop_process_group
from test_fully_connected_feed import numpy_logits, restore_variables
from test_fully_connected_feed import run, scalar_steps
from tutorial_support import checkpoints
from tutorial_support import tensorboard_extras

TENSORBOARD = os.path.join(os.path.dirname(sys.executable), 'tensorboard')


def free_port():
  with socket.socket() as sock:
    sock.bind(('127.0.0.1', 0))
    return sock.getsockname()[1]


def get_json(url):
  with urllib.request.urlopen(url, timeout=10) as response:
    return json.loads(response.read())


def wait_for(url, ready, server, deadline=120):
  """Polls url until ready(answer) holds; fails if the server dies."""
  stop = time.monotonic() + deadline
  while time.monotonic() < stop:
    assert server.poll() is None, 'tensorboard exited: %s' % (
        server.stdout.read() if server.stdout else '')
    try:
      answer = get_json(url)
      if ready(answer):
        return answer
    except (urllib.error.URLError, ConnectionError, ValueError):
      pass
    time.sleep(0.5)
  pytest.fail('tensorboard never answered %s' % url)


@pytest.fixture
def tensorboard():
  """Starts tensorboard on a log dir; always stops it at the end."""
  servers = []

  def start(log_dir):
    port = free_port()
    server = subprocess.Popen(
        [TENSORBOARD, '--logdir', log_dir, '--host', '127.0.0.1',
         '--port', str(port), '--reload_interval', '1'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=foreign_env(),
        start_new_session=True)
    servers.append(server)
    return 'http://127.0.0.1:%d' % port, server
  yield start
  for server in servers:
    if server.poll() is None:
      stop_process_group(server)
      try:
        server.wait(timeout=20)
      except subprocess.TimeoutExpired:
        stop_process_group(server, force=True)
        server.wait()
    server.stdout.close()


def scalars(url, run_name, tag):
  query = urllib.parse.urlencode({'run': run_name, 'tag': tag})
  return get_json(url + '/data/plugin/scalars/scalars?' + query)


SPLIT_RUNS = ['precision/train', 'precision/validation', 'precision/test']


def test_tensorboard_serves_the_steps_written(tmp_path, capsys, tensorboard):
  log_dir = str(tmp_path / 'logs')
  status, out, _ = run(capsys, '--fake_data', '--max_steps', 350,
                       '--log_dir', log_dir)
  assert status == 0
  written = scalar_steps(log_dir, 'loss')
  assert written == [0, 100, 200, 300]
  url, server = tensorboard(log_dir)
  runs = wait_for(url + '/data/runs', lambda runs: len(runs) == 4, server)
  assert sorted(runs) == sorted(['.'] + SPLIT_RUNS)
  tags = wait_for(url + '/data/plugin/scalars/tags',
                  lambda tags: len(tags) == 4, server)
  assert set(tags['.']) == {'loss'}
  # One tag in a run per split: the Scalars dashboard's one chart.
  printed = [float(found) for found in re.findall(
      r'Precision @ 1: (\S+)$', out, re.M)]
  for index, split_run in enumerate(SPLIT_RUNS):
    assert set(tags[split_run]) == {'precision'}
    (_, step, value), = scalars(url, split_run, 'precision')
    assert step == 350
    assert abs(value - printed[index]) < 5e-5
  points = scalars(url, '.', 'loss')
  assert [step for _, step, _ in points] == written
  assert all(value > 0 for _, _, value in points)
  graph_query = urllib.parse.urlencode({'run': '.'})
  with urllib.request.urlopen(url + '/data/plugin/graphs/graph?' + graph_query,
                              timeout=10) as response:
    graph = response.read().decode()
  for scope in ('hidden1/weights', 'hidden2/', 'softmax_linear/', 'xentropy',
                'GradientDescent'):
    assert scope in graph
  # The Projector lists the training run alone, and opens on it.
  assert get_json(url + '/data/plugin/projector/runs') == ['.']


def test_prediction_grid_captions_each_prediction_in_words():
  images = np.zeros((3, 784), np.float32)
  images[1, 400] = 1.0  # One bright pixel, scaled with the digit.
  grid = tensorboard_extras.prediction_grid(images, np.array([1, 2, 3]),
                                            np.array([1, 7, 3]), columns=2)
  side = 28 * tensorboard_extras.GRID_SCALE
  height = side + tensorboard_extras.CAPTION_HEIGHT + 4
  assert grid.shape == (2 * height, 2 * (side + 4))
  first, second = grid[2:, 2:2 + side], grid[2:, side + 6:2 * side + 6]
  scale = tensorboard_extras.GRID_SCALE
  row, column = divmod(400, 28)
  assert (second[row * scale:(row + 1) * scale,
                 column * scale:(column + 1) * scale] == 255).all()
  assert second[:side].sum() == 255 * scale * scale
  captions = [cell[side:side + tensorboard_extras.CAPTION_HEIGHT]
              for cell in (first, second)]
  np.testing.assert_array_equal(
      captions[0], tensorboard_extras.caption(1, 1, side))
  np.testing.assert_array_equal(
      captions[1], tensorboard_extras.caption(7, 2, side))
  # Right: light text on black; wrong: dark text on white, and longer.
  assert captions[0][0, 0] == 0 and captions[0].max() == 255
  assert captions[1][0, 0] == 255 and captions[1].min() == 0
  ink_of_wrong = int((captions[1] != 255).sum())
  ink_of_right = int((captions[0] != 0).sum())
  assert ink_of_wrong > 2 * ink_of_right > 0


def words_drawn(text, width, ink, paper):
  """text as Pillow draws it in its own typeface at the caption's size,
  centred on a strip of the caption's shape: what a reader must see."""
  strip = Image.new('L', (width, tensorboard_extras.CAPTION_HEIGHT), paper)
  ImageDraw.Draw(strip).text(
      (width // 2, tensorboard_extras.CAPTION_HEIGHT // 2), text, fill=ink,
      font=ImageFont.load_default(size=tensorboard_extras.CAPTION_FONT_SIZE),
      anchor='mm')
  return np.asarray(strip)


@pytest.mark.parametrize('predicted, label, words', [
    (4, 4, '4'), (4, 9, '4 (is 9)'), (0, 8, '0 (is 8)'), (7, 7, '7')])
def test_a_caption_says_the_truth_only_where_the_prediction_is_wrong(
    predicted, label, words):
  right = predicted == label
  drawn = tensorboard_extras.caption(predicted, label, 84)
  np.testing.assert_array_equal(drawn, words_drawn(
      words, 84, 255 if right else 0, 0 if right else 255))
  # Not the colours alone: the inverse of the right caption says less.
  if not right:
    assert not np.array_equal(
        255 - drawn, tensorboard_extras.caption(predicted, predicted, 84))


def get_bytes(url, **query):
  with urllib.request.urlopen(url + '?' + urllib.parse.urlencode(query),
                              timeout=10) as response:
    return response.read()


def test_graphs_dashboard_gets_a_traced_step_before_each_save(
    tmp_path, capsys, tensorboard):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 1100,
             '--log_dir', log_dir)[0] == 0
  url, server = tensorboard(log_dir)
  info = wait_for(url + '/data/plugin/graphs/info',
                  lambda info: '.' in info, server)
  assert sorted(info['.']['tags']) == ['step1099', 'step999']
  assert all(tag['profile'] for tag in info['.']['tags'].values())
  metadata = get_bytes(url + '/data/plugin/graphs/run_metadata', run='.',
                       tag='step999').decode()
  # Per-node stats: compute time, and memory of the ops' outputs.
  assert 'node_name: "gradients/hidden1/MatMul_grad/MatMul_1"' in metadata
  assert 'all_end_rel_micros' in metadata and 'requested_bytes' in metadata


def first_projection(url, server, run_name=None):
  """What TensorBoard's Projector page shows first: its first run's tensor.

  The page opens the first run the plugin lists, and in it the first
  tensor that has metadata (projector_binary.js sorts them so).

  Returns:
    The run's name, the tensor's name, its values, and the metadata rows.
  """
  runs = wait_for(url + '/data/plugin/projector/runs', bool, server)
  if run_name is not None:
    assert runs[0] == run_name, runs
  config = get_json(url + '/data/plugin/projector/info?' +
                    urllib.parse.urlencode({'run': runs[0]}))
  with_metadata = [embedding for embedding in config['embeddings']
                   if embedding.get('metadataPath')]
  embedding = with_metadata[0]
  name = embedding['tensorName']
  rows, columns = embedding['tensorShape']
  tensor = np.frombuffer(get_bytes(url + '/data/plugin/projector/tensor',
                                   run=runs[0], name=name), np.float32)
  metadata = get_bytes(url + '/data/plugin/projector/metadata', run=runs[0],
                       name=name).decode().splitlines()
  sprite = Image.open(io.BytesIO(get_bytes(
      url + '/data/plugin/projector/sprite_image', run=runs[0], name=name)))
  return runs[0], name, tensor.reshape(rows, columns), metadata, sprite


def expected_projection(checkpoint, data_sets):
  """hidden2 and the metadata rows of checkpoint, computed here."""
  variables = restore_variables(checkpoints.tf_path(checkpoint))
  images = data_sets.test.images
  hidden1 = np.maximum(images @ variables['hidden1/weights']
                       + variables['hidden1/biases'], 0)
  hidden2 = np.maximum(hidden1 @ variables['hidden2/weights']
                       + variables['hidden2/biases'], 0)
  predictions = numpy_logits(variables, images).argmax(axis=1)
  rows = ['label\tprediction\tcorrect'] + [
      '%d\t%d\t%s' % (label, predicted, 'yes' if label == predicted else 'no')
      for label, predicted in zip(data_sets.test.labels, predictions)]
  return hidden2, rows


def test_projector_opens_on_the_test_digits_of_the_final_weights(
    small_data_dir, tmp_path, capsys, tensorboard, no_sources):
  log_dir = str(tmp_path / 'logs')
  for steps in (300, 400):  # Resumed: the Projector follows.
    assert run(capsys, '--input_data_dir', small_data_dir, '--log_dir',
               log_dir, '--max_steps', steps, '--hidden2', 12)[0] == 0
  files = os.listdir(os.path.join(log_dir, 'projector'))
  assert len([name for name in files if name.startswith('hidden2-')]) == 1
  assert not [name for name in files if name.startswith('events.')]
  url, server = tensorboard(log_dir)
  _, name, tensor, rows, sprite = first_projection(url, server, '.')
  assert 'step 400' in name
  data_sets = input_data.read_data_sets(small_data_dir)
  hidden2, expected_rows = expected_projection(
      os.path.join(log_dir, 'model.ckpt-400'), data_sets)
  assert tensor.shape == (SMALL_TEST, 12)
  np.testing.assert_allclose(tensor, hidden2, rtol=1e-4, atol=1e-4)
  assert rows == expected_rows
  side = int(np.ceil(np.sqrt(SMALL_TEST)))
  assert sprite.size == (28 * side, -(-SMALL_TEST // side) * 28)
  first = np.asarray(sprite)[:28, :28]
  np.testing.assert_array_equal(first, np.round(
      255 * data_sets.test.images[0].reshape(28, 28)).astype(np.uint8))


def test_projector_of_a_log_dir_with_glob_characters_after_a_move(
    small_data_dir, tmp_path, capsys, tensorboard, no_sources):
  runs_dir = tmp_path / 'runs'
  log_dir = str(runs_dir / 'run [1]')
  assert run(capsys, '--input_data_dir', small_data_dir, '--log_dir',
             log_dir, '--max_steps', 120)[0] == 0
  moved = tmp_path / 'elsewhere' / 'run [1]'
  moved.parent.mkdir()
  os.rename(log_dir, moved)
  url, server = tensorboard(str(moved.parent))
  _, _, tensor, rows, _ = first_projection(url, server, 'run [1]')
  hidden2, expected_rows = expected_projection(
      str(moved / 'model.ckpt-120'), input_data.read_data_sets(small_data_dir))
  np.testing.assert_allclose(tensor, hidden2, rtol=1e-4, atol=1e-4)
  assert rows == expected_rows


def projected_predictions(log_dir):
  """The predictions column of the Projector's metadata, as on disk."""
  config = open(os.path.join(log_dir, 'projector_config.pbtxt')).read()
  metadata = re.search(r'metadata_path: "([^"]+)"', config).group(1)
  with open(os.path.join(log_dir, metadata)) as f:
    return [int(line.split('\t')[1]) for line in f.readlines()[1:]]


def newest_predictions(log_dir, data_sets):
  checkpoint = checkpoints.newest_that_restores(log_dir)
  variables = restore_variables(checkpoint)
  return list(numpy_logits(variables, data_sets.test.images).argmax(axis=1))


def test_projector_follows_a_checkpoint_saved_anew_at_the_same_step(
    small_data_dir, tmp_path, capsys, no_sources):
  log_dir = str(tmp_path / 'stale')
  common = ('--input_data_dir', small_data_dir, '--log_dir', log_dir,
            '--seed', 3)
  assert run(capsys, *common, '--max_steps', 100)[0] == 0
  assert run(capsys, *common, '--max_steps', 200)[0] == 0
  data_sets = input_data.read_data_sets(small_data_dir)
  before = projected_predictions(log_dir)
  assert before == newest_predictions(log_dir, data_sets)
  data = os.path.join(log_dir, 'model.ckpt-200.data-00000-of-00001')
  os.truncate(data, 1000)
  # Set aside, resumed from 100, saved again as model.ckpt-200.
  assert run(capsys, *common, '--max_steps', 200, '--learning_rate',
             0.5)[0] == 0
  assert os.path.exists(data + '.damaged')
  after = projected_predictions(log_dir)
  assert after == newest_predictions(log_dir, data_sets)
  assert after != before


def test_projector_follows_weights_swapped_under_the_same_name(
    small_data_dir, tmp_path, capsys, no_sources):
  data_sets = input_data.read_data_sets(small_data_dir)
  log_dirs = [str(tmp_path / name) for name in ('a', 'b')]
  for log_dir, rate in zip(log_dirs, (0.01, 0.5)):
    assert run(capsys, '--input_data_dir', small_data_dir, '--log_dir',
               log_dir, '--max_steps', 100, '--learning_rate', rate,
               '--seed', 1)[0] == 0
  a, b = log_dirs
  before = projected_predictions(a)
  assert before != newest_predictions(b, data_sets)
  for name in os.listdir(b):
    if name.startswith('model.ckpt-100.'):
      shutil.copy(os.path.join(b, name), os.path.join(a, name))
  # Nothing to train; the Projector is brought to the weights on disk.
  assert run(capsys, '--input_data_dir', small_data_dir, '--log_dir', a,
             '--max_steps', 100)[0] == 0
  assert projected_predictions(a) == newest_predictions(b, data_sets)


def test_projector_is_set_aside_when_no_checkpoint_restores(
    small_data_dir, tmp_path, capsys, no_sources):
  log_dir = str(tmp_path / 'logs')
  common = ('--input_data_dir', small_data_dir, '--log_dir', log_dir)
  assert run(capsys, *common, '--max_steps', 50)[0] == 0
  config = os.path.join(log_dir, 'projector_config.pbtxt')
  assert os.path.exists(config)
  os.truncate(os.path.join(log_dir, 'model.ckpt-50.data-00000-of-00001'), 10)
  tensorboard_extras.update_projector(
      log_dir, input_data.read_data_sets(small_data_dir).test)
  assert not os.path.exists(config)
  assert os.path.exists(config + '.stale')


def test_an_old_projector_run_is_replaced(small_data_dir, tmp_path, capsys,
                                          no_sources):
  log_dir = tmp_path / 'logs'
  old_run = log_dir / 'projector'
  old_run.mkdir(parents=True)
  old_files = ['events.out.tfevents.1.host', 'activations-300.index',
               'activations-300.data-00000-of-00001', 'checkpoint',
               'projector_config.pbtxt', 'labels-300.tsv', 'source']
  for name in old_files:
    (old_run / name).write_text('old')
  assert run(capsys, '--input_data_dir', small_data_dir, '--log_dir',
             str(log_dir), '--max_steps', 20)[0] == 0
  left = sorted(os.listdir(old_run))
  assert [name for name in left if name in old_files] == ['source']
  assert [name.split('-')[0] for name in left] == [
      'hidden2', 'labels', 'source', 'sprite']


def session_groups(url, server):
  """The HParams plugin's session groups, once it lists two."""
  body = json.dumps({'experimentName': '', 'startIndex': 0, 'sliceSize': 100,
                     'colParams': [],
                     'allowedStatuses': ['STATUS_UNKNOWN']}).encode()
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline:
    assert server.poll() is None
    request = urllib.request.Request(
        url + '/data/plugin/hparams/session_groups', data=body,
        method='POST', headers={'Content-Type': 'application/json'})
    try:
      with urllib.request.urlopen(request, timeout=10) as response:
        groups = json.loads(response.read()).get('sessionGroups', [])
      if len(groups) == 2 and all(len(group['metricValues']) == 4
                                  for group in groups):
        return groups
    except (urllib.error.URLError, ConnectionError):
      pass
    time.sleep(0.5)
  pytest.fail('the HParams plugin never listed the two runs')


def test_hparams_compares_runs_by_their_flags_and_final_figures(
    tmp_path, capsys, tensorboard):
  printed = {}
  for name, flags in (('a', ('--learning_rate', 0.05, '--seed', 4)),
                      ('b', ('--learning_rate', 0.2, '--hidden2', 16))):
    status, out, _ = run(capsys, '--fake_data', '--max_steps', 30,
                         '--log_dir', str(tmp_path / 'sweep' / name), *flags)
    assert status == 0
    printed[name] = [float(found) for found in re.findall(
        r'Precision @ 1: (\S+)$', out, re.M)]
  url, server = tensorboard(str(tmp_path / 'sweep'))
  groups = session_groups(url, server)
  by_run = {group['sessions'][0]['name']: group for group in groups}
  assert sorted(by_run) == ['a', 'b']
  for name, group in by_run.items():  # Named by the log dir, not a hash.
    assert group['name'] == str(tmp_path / 'sweep' / name)
  assert by_run['a']['hparams'] == {
      'learning_rate': 0.05, 'batch_size': 100.0, 'hidden1': 128.0,
      'hidden2': 32.0, 'max_steps': 30.0, 'seed': '4', 'fake_data': True}
  assert by_run['b']['hparams']['hidden2'] == 16.0
  assert by_run['b']['hparams']['seed'] == 'random'  # No --seed.
  for name, group in by_run.items():
    values = {metric['name'].get('group', ''): metric['value']
              for metric in group['metricValues']}
    for index, split in enumerate(('train', 'validation', 'test')):
      assert abs(values['precision/' + split] - printed[name][index]) < 5e-5
    assert values[''] > 0  # The last loss.


def test_a_projector_update_stopped_midway_is_made_again(
    small_data_dir, tmp_path, capsys, monkeypatch, no_sources):
  log_dir = str(tmp_path / 'logs')
  common = ('--input_data_dir', small_data_dir, '--log_dir', log_dir)
  assert run(capsys, *common, '--max_steps', 30)[0] == 0
  shown = tensorboard_extras.projected_digest(log_dir)
  test_set = input_data.read_data_sets(small_data_dir).test

  def fails(*args):
    raise OSError(28, 'No space left on device')
  with monkeypatch.context() as patch:
    patch.setattr(tensorboard_extras, '_write_config', fails)
    status, _, err = run(capsys, *common, '--max_steps', 60)
  assert status == 0
  assert 'warning: the Projector was not updated ([Errno 28]' in err
  # The configuration still names what it shows; the next update mends it.
  assert tensorboard_extras.projected_digest(log_dir) == shown
  tensorboard_extras.update_projector(log_dir, test_set)
  newest = checkpoints.newest_that_restores(log_dir)
  assert tensorboard_extras.projected_digest(log_dir) == (
      tensorboard_extras.checkpoint_digest(newest))
  assert projected_predictions(log_dir) == newest_predictions(
      log_dir, input_data.read_data_sets(small_data_dir))


def test_a_projector_the_disk_refuses_warns_and_the_run_stands(
    small_data_dir, tmp_path, capsys, monkeypatch, no_sources):
  log_dir = str(tmp_path / 'logs')
  common = ('--input_data_dir', small_data_dir, '--log_dir', log_dir)
  assert run(capsys, *common, '--max_steps', 30)[0] == 0
  config = os.path.join(log_dir, 'projector_config.pbtxt')

  def refuses(files_dir, name, unused_png):
    raise PermissionError(13, 'Permission denied',
                          os.path.join(files_dir, name))
  with monkeypatch.context() as patch:  # The Projector's first write.
    patch.setattr(tensorboard_extras, '_write_sprite', refuses)
    status, out, err = run(capsys, *common, '--max_steps', 60)
  assert status == 0, err
  assert 'Saved checkpoint %s/model.ckpt-60' % log_dir in out
  warning, = [line for line in err.splitlines() if 'Projector' in line]
  assert warning.startswith(
      'warning: the Projector was not updated ([Errno 13] Permission denied: ')
  assert warning.endswith('its configuration was set aside as %s.stale'
                          % config)
  assert not os.path.exists(config)  # It showed step 30, not 60.
