"""Tests of tutorial_support.tensorboard_extras: the prediction grid, and the
real TensorBoard started on the log dir of a short run and asked its API."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from PIL import Image
import pytest

import input_data
from conftest import SMALL_TEST
from test_fully_connected_feed import numpy_logits, restore_variables
from test_fully_connected_feed import run, scalar_steps
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
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    servers.append(server)
    return 'http://127.0.0.1:%d' % port, server
  yield start
  for server in servers:
    if server.poll() is None:
      os.killpg(server.pid, signal.SIGTERM)
      try:
        server.wait(timeout=20)
      except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    server.stdout.close()


def test_tensorboard_serves_the_steps_written(tmp_path, capsys, tensorboard):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 350,
             '--log_dir', log_dir)[0] == 0
  written = scalar_steps(log_dir, 'loss')
  assert written == [0, 100, 200, 300]
  url, server = tensorboard(log_dir)
  runs = wait_for(url + '/data/runs', lambda runs: len(runs) == 2, server)
  assert sorted(runs) == ['.', 'projector']
  tags = wait_for(url + '/data/plugin/scalars/tags',
                  lambda tags: 'precision/test' in tags.get('.', {}), server)
  assert {'loss', 'precision/train', 'precision/validation',
          'precision/test'} <= set(tags['.'])
  query = urllib.parse.urlencode({'run': '.', 'tag': 'loss'})
  points = get_json(url + '/data/plugin/scalars/scalars?' + query)
  assert [step for _, step, _ in points] == written
  assert all(value > 0 for _, _, value in points)
  graph_query = urllib.parse.urlencode({'run': '.'})
  with urllib.request.urlopen(url + '/data/plugin/graphs/graph?' + graph_query,
                              timeout=10) as response:
    graph = response.read().decode()
  for scope in ('hidden1/weights', 'hidden2/', 'softmax_linear/', 'xentropy',
                'GradientDescent'):
    assert scope in graph


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


def test_a_caption_says_the_truth_only_where_the_prediction_is_wrong():
  right = tensorboard_extras.caption(4, 4, 84)
  wrong = tensorboard_extras.caption(4, 9, 84)
  assert not np.array_equal(right, 255 - wrong)  # Not colour alone.
  assert not np.array_equal(tensorboard_extras.caption(4, 9, 84),
                            tensorboard_extras.caption(4, 8, 84))


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


def test_projector_shows_the_last_hidden_layer_of_the_final_weights(
    small_data_dir, tmp_path, capsys, tensorboard, no_sources):
  log_dir = str(tmp_path / 'logs')
  for steps in (300, 400):  # Resumed: the Projector follows.
    assert run(capsys, '--input_data_dir', small_data_dir, '--log_dir',
               log_dir, '--max_steps', steps, '--hidden2', 12)[0] == 0
  run_dir = os.path.join(log_dir, 'projector')
  assert not [name for name in os.listdir(run_dir)
              if name.startswith(('activations-300', 'labels-300'))]
  url, server = tensorboard(log_dir)
  runs = wait_for(url + '/data/plugin/projector/runs',
                  lambda runs: 'projector' in runs, server)
  assert 'projector' in runs
  config = get_json(url + '/data/plugin/projector/info?run=projector')
  embedding, = config['embeddings']
  name = embedding['tensorName']
  assert embedding['tensorShape'] == [SMALL_TEST, 12]
  tensor = np.frombuffer(get_bytes(url + '/data/plugin/projector/tensor',
                                   run='projector', name=name), np.float32)
  data_sets = input_data.read_data_sets(small_data_dir)
  variables = restore_variables(os.path.join(log_dir, 'model.ckpt-400'))
  images = data_sets.test.images
  hidden1 = np.maximum(images @ variables['hidden1/weights']
                       + variables['hidden1/biases'], 0)
  expected = np.maximum(hidden1 @ variables['hidden2/weights']
                        + variables['hidden2/biases'], 0)
  np.testing.assert_allclose(tensor.reshape(SMALL_TEST, 12), expected,
                             rtol=1e-4, atol=1e-4)
  rows = get_bytes(url + '/data/plugin/projector/metadata', run='projector',
                   name=name).decode().splitlines()
  assert rows[0] == 'label\tprediction\tcorrect'
  predictions = numpy_logits(variables, images).argmax(axis=1)
  assert rows[1:] == ['%d\t%d\t%s' % (label, predicted, 'yes' if
                                      label == predicted else 'no')
                      for label, predicted in zip(data_sets.test.labels,
                                                  predictions)]
  sprite = Image.open(io.BytesIO(get_bytes(
      url + '/data/plugin/projector/sprite_image', run='projector',
      name=name)))
  side = int(np.ceil(np.sqrt(SMALL_TEST)))
  assert sprite.size == (28 * side, -(-SMALL_TEST // side) * 28)
  first = np.asarray(sprite)[:28, :28]
  np.testing.assert_array_equal(first, np.round(
      255 * images[0].reshape(28, 28)).astype(np.uint8))
