"""Runs fully_connected_feed.main() with a fault injected at a chosen moment.

  python fault_runner.py FAULT -- FLAGS...

FAULT is where the process SIGKILLs itself:
  step:N     just before training step N runs;
  save:K     inside the K-th checkpoint save, after its files are written and
             before the `checkpoint` index file names it;
  eval:K:B   in the K-th evaluation of a split, after B of its batches;
  none       nowhere.
Used by the tests to kill training at moments a timer could not hit reliably.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fully_connected_feed  # pylint: disable=wrong-import-position
import input_data  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position
from tensorflow.python.checkpoint import checkpoint_management  # pylint: disable=g-direct-tensorflow-import,wrong-import-position


def die():
  sys.stdout.flush()
  os.kill(os.getpid(), signal.SIGKILL)


def inject_at_step(step, log_dir):
  # Training steps are counted from the step a resumed run starts from.
  checkpoint = tf.compat.v1.train.latest_checkpoint(log_dir)
  calls = [None] * (int(checkpoint.rsplit('-', 1)[1]) if checkpoint else 0)
  real = fully_connected_feed.fill_feed_dict

  def fill_feed_dict(*args):
    if len(calls) == step:
      die()
    calls.append(None)
    return real(*args)
  fully_connected_feed.fill_feed_dict = fill_feed_dict


def inject_in_save(count):
  real = checkpoint_management.update_checkpoint_state_internal
  calls = []

  def update(*args, **kwargs):
    calls.append(None)
    if len(calls) == count:
      die()
    return real(*args, **kwargs)
  checkpoint_management.update_checkpoint_state_internal = update


def inject_in_eval(count, batches):
  real = input_data.DataSet.padded_batches
  calls = []

  def padded_batches(*args):
    calls.append(None)
    for index, batch in enumerate(real(*args)):
      if len(calls) == count and index == batches:
        die()
      yield batch
  input_data.DataSet.padded_batches = padded_batches


def main():
  fault, separator, *flags = sys.argv[1:]
  assert separator == '--'
  kind, *numbers = fault.split(':')
  numbers = [int(n) for n in numbers]
  if kind == 'step':
    inject_at_step(numbers[0], flags[flags.index('--log_dir') + 1])
  elif kind == 'save':
    inject_in_save(*numbers)
  elif kind == 'eval':
    inject_in_eval(*numbers)
  else:
    assert kind == 'none', fault
  sys.exit(fully_connected_feed.main(flags))


if __name__ == '__main__':
  main()
