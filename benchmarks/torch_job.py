"""The whole job of fully_connected_feed.py, in PyTorch eager, for timing.

What a user's `python fully_connected_feed.py` run does, done the PyTorch
way: the same data and split (input_data.read_data_sets), the same network
(784-hidden1-hidden2-10, ReLU), plain SGD on the mean cross entropy, the
loss printed every 100 steps, and every 1000 steps and at the last one a
checkpoint (torch.save, written whole) and an evaluation of every example of
the three splits. benchmarks/sweep.py times it beside the project's run.

  python benchmarks/torch_job.py --hidden1 1024 --hidden2 512 --max_steps 4000
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import input_data  # pylint: disable=g-import-not-at-top,wrong-import-position


def parse_flags(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--hidden1', type=int, default=128,
                      help='Units in hidden layer 1. (default: %(default)s)')
  parser.add_argument('--hidden2', type=int, default=32,
                      help='Units in hidden layer 2. (default: %(default)s)')
  parser.add_argument('--batch_size', type=int, default=100,
                      help='Batch size. (default: %(default)s)')
  parser.add_argument('--max_steps', type=int, default=2000,
                      help='Steps to train. (default: %(default)s)')
  parser.add_argument('--learning_rate', type=float, default=0.01,
                      help='SGD learning rate. (default: %(default)s)')
  parser.add_argument('--input_data_dir', default=input_data.DEFAULT_DATA_DIR,
                      help='Where MNIST is cached. (default: %(default)s)')
  parser.add_argument('--log_dir', default=None,
                      help='Where checkpoints go. (default: a temporary '
                      'directory, removed at the end)')
  parser.add_argument('--fake_data', action='store_true',
                      help='Fake data, for a quick check. (default: off)')
  return parser.parse_args(argv)


# --help and a bad flag answer before PyTorch's import, which takes seconds.
if __name__ == '__main__':
  parse_flags()

try:
  import torch  # pylint: disable=g-import-not-at-top,wrong-import-position
except ImportError:  # --help works without it; a run says what is missing.
  torch = None

LOSS_EVERY = 100
CHECKPOINT_EVERY = 1000


def network(hidden1, hidden2):
  return torch.nn.Sequential(
      torch.nn.Linear(784, hidden1), torch.nn.ReLU(),
      torch.nn.Linear(hidden1, hidden2), torch.nn.ReLU(),
      torch.nn.Linear(hidden2, 10))


def evaluate(model, data_set, batch_size):
  """Counts the correct predictions of every example of data_set, in
  batches of the training's size, as the tutorial evaluates."""
  correct = 0
  with torch.no_grad():
    for start in range(0, data_set.num_examples, batch_size):
      images = torch.from_numpy(data_set.images[start:start + batch_size])
      labels = data_set.labels[start:start + batch_size]
      correct += int((model(images).argmax(dim=1).numpy() == labels).sum())
  print('  Num examples: %d  Num correct: %d  Precision @ 1: %0.04f'
        % (data_set.num_examples, correct, correct / data_set.num_examples))
  return correct / data_set.num_examples


def save(model, log_dir, step):
  path = os.path.join(log_dir, 'model-%d.pt' % step)
  torch.save(model.state_dict(), path + '.part')
  os.replace(path + '.part', path)


def run(flags):
  data_sets = input_data.read_data_sets(flags.input_data_dir,
                                        fake_data=flags.fake_data)
  model = network(flags.hidden1, flags.hidden2)
  optimizer = torch.optim.SGD(model.parameters(), lr=flags.learning_rate)
  for step in range(flags.max_steps):
    start = time.time()
    images, labels = data_sets.train.next_batch(flags.batch_size)
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(
        model(torch.from_numpy(images)),
        torch.from_numpy(labels.astype(np.int64)))
    loss.backward()
    optimizer.step()
    loss_value = loss.item()
    if step % LOSS_EVERY == 0:
      print('Step %d: loss = %.2f (%.3f sec)' % (step, loss_value,
                                                  time.time() - start))
    if (step + 1) % CHECKPOINT_EVERY == 0 or step + 1 == flags.max_steps:
      save(model, flags.log_dir, step + 1)
      for header, split in (('Training', data_sets.train),
                            ('Validation', data_sets.validation),
                            ('Test', data_sets.test)):
        print('%s Data Eval:' % header)
        evaluate(model, split, flags.batch_size)


def main(argv=None):
  flags = parse_flags(argv)
  if torch is None:
    print('torch_job.py: PyTorch is not installed: nothing to time (pip '
          'install torch==2.13.0)', file=sys.stderr)
    return 1
  if flags.log_dir:
    os.makedirs(flags.log_dir, exist_ok=True)
    run(flags)
  else:
    with tempfile.TemporaryDirectory() as log_dir:
      flags.log_dir = log_dir
      run(flags)
  return 0


if __name__ == '__main__':
  sys.exit(main())
