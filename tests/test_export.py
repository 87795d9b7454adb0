"""Exports a trained model and runs it with TensorFlow's own tools."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np

import input_data
from test_fully_connected_feed import run

BIN = os.path.dirname(sys.executable)

LOAD_AND_SCORE = textwrap.dedent('''\
    import sys
    import numpy as np
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    serve = model.signatures['serving_default']
    data = np.load(sys.argv[2])
    out = serve(images=tf.constant(data['images']))
    assert sorted(out) == ['classes', 'logits', 'probabilities'], sorted(out)
    assert out['probabilities'].shape == (len(data['labels']), 10)
    np.testing.assert_allclose(out['probabilities'].numpy().sum(axis=1), 1,
                               rtol=1e-5)
    print(int((out['classes'].numpy() == data['labels']).sum()))
    ''')


def test_export_loads_in_a_fresh_process_with_the_same_precision(
    small_data_dir, tmp_path, capsys, no_sources):
  export_dir = tmp_path / 'export'
  status, out, err = run(capsys, '--input_data_dir', small_data_dir,
                         '--log_dir', tmp_path / 'logs', '--max_steps', 20,
                         '--export_dir', export_dir)
  assert status == 0, err
  assert out.splitlines()[-1] == 'Exported model.ckpt-20 as SavedModel %s' % (
      export_dir / '1')
  correct = int(re.findall(r'Num correct: (\d+)', out)[-1])
  test = input_data.read_data_sets(small_data_dir).test
  np.savez(tmp_path / 'test.npz', images=test.images, labels=test.labels)
  scored = subprocess.run(
      [sys.executable, '-c', LOAD_AND_SCORE, str(export_dir / '1'),
       str(tmp_path / 'test.npz')],
      capture_output=True, text=True, timeout=300, check=True)
  assert int(scored.stdout.split()[-1]) == correct


def test_saved_model_cli_shows_and_runs_the_signature(tmp_path, capsys):
  export_dir = tmp_path / 'export'
  assert run(capsys, '--fake_data', '--max_steps', 5, '--log_dir',
             tmp_path / 'logs', '--export_dir', export_dir)[0] == 0
  cli = os.path.join(BIN, 'saved_model_cli')
  shown = subprocess.run(
      [cli, 'show', '--dir', str(export_dir / '1'), '--tag_set', 'serve',
       '--signature_def', 'serving_default'],
      capture_output=True, text=True, timeout=300, check=True).stdout
  assert re.search(r"inputs\['images'\].*?dtype: DT_FLOAT.*?shape: \(-1, 784\)",
                   shown, re.S)
  for output in ('classes', 'logits', 'probabilities'):
    assert "outputs['%s']" % output in shown
  np.save(tmp_path / 'ones.npy', np.ones((3, 784), np.float32))
  ran = subprocess.run(
      [cli, 'run', '--dir', str(export_dir / '1'), '--tag_set', 'serve',
       '--signature_def', 'serving_default', '--inputs',
       'images=%s' % (tmp_path / 'ones.npy')],
      capture_output=True, text=True, timeout=300, check=True).stdout
  # Fake data is all ones labelled 0: the model has learnt to say 0.
  assert re.search(r'Result for output key classes:\s*\[0 0 0\]', ran)


def test_exports_never_overwrite_each_other(tmp_path, capsys):
  export_dir = tmp_path / 'export'
  log_dir = tmp_path / 'logs'
  assert run(capsys, '--fake_data', '--max_steps', 2, '--log_dir', log_dir,
             '--export_dir', export_dir)[0] == 0
  first = os.stat(export_dir / '1' / 'saved_model.pb').st_mtime_ns
  (export_dir / '7').mkdir()  # A version made by hand, or by another run.
  assert run(capsys, '--fake_data', '--eval_only', '--log_dir', log_dir,
             '--export_dir', export_dir)[0] == 0
  assert sorted(os.listdir(export_dir)) == ['1', '7', '8']
  assert os.stat(export_dir / '1' / 'saved_model.pb').st_mtime_ns == first
  assert os.path.exists(export_dir / '8' / 'saved_model.pb')
