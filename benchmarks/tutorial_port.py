"""The tutorial's feed_dict loop ported to TensorFlow 2 as directly as it goes.

The reference that benchmarks/bench.py measures the project against: what a
user gets by swapping `tf.` for `tf.compat.v1.` in the tutorial's training
script and changing nothing else. It builds the same graph (it uses this
project's mnist.py and input_data.py), runs a default Session, feeds a batch
per step with sess.run(feed_dict=...), writes a summary every 100 steps and,
every 1000 steps and at the last, saves a checkpoint and evaluates the three
splits in whole batches (dropping what does not fill one, as the tutorial
did).

It is a yardstick, not a second trainer: it has none of the project's
checks, resumption or error handling.

  python benchmarks/tutorial_port.py --log_dir /tmp/port
"""

import argparse
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import input_data  # pylint: disable=g-import-not-at-top,wrong-import-position


def parse_flags(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--learning_rate', type=float, default=0.01,
                      help='Gradient descent\'s learning rate. '
                      '(default: %(default)s)')
  parser.add_argument('--max_steps', type=int, default=2000,
                      help='Steps to train. (default: %(default)s)')
  parser.add_argument('--hidden1', type=int, default=128,
                      help='Units in hidden layer 1. (default: %(default)s)')
  parser.add_argument('--hidden2', type=int, default=32,
                      help='Units in hidden layer 2. (default: %(default)s)')
  parser.add_argument('--batch_size', type=int, default=100,
                      help='Examples per step. (default: %(default)s)')
  parser.add_argument('--input_data_dir', default=input_data.DEFAULT_DATA_DIR,
                      help='Where MNIST is cached. (default: %(default)s)')
  parser.add_argument('--log_dir', required=True,
                      help='Where summaries and checkpoints go.')
  parser.add_argument('--fake_data', action='store_true',
                      help='Fake data, for a quick check. (default: off)')
  parser.add_argument('--seed', type=int, default=None,
                      help='Graph-level random seed. (default: none)')
  return parser.parse_args(argv)


# --help and a bad flag answer before TensorFlow's import, which takes seconds.
if __name__ == '__main__':
  parse_flags()

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

import mnist  # pylint: disable=g-import-not-at-top,wrong-import-position

tf1 = tf.compat.v1


def read_data(flags):
  """Returns the DataSets of the three splits."""
  return input_data.read_data_sets(flags.input_data_dir,
                                   fake_data=flags.fake_data, seed=flags.seed)


def do_eval(sess, eval_correct, images_pl, labels_pl, data_set, batch_size):
  """Evaluates whole batches of data_set; returns precision @ 1 of those."""
  steps = data_set.num_examples // batch_size
  true_count = 0
  for _ in range(steps):
    images, labels = data_set.next_batch(batch_size)
    true_count += sess.run(eval_correct,
                           feed_dict={images_pl: images, labels_pl: labels})
  num_examples = steps * batch_size
  precision = float(true_count) / num_examples
  print('  Num examples: %d  Num correct: %d  Precision @ 1: %0.04f'
        % (num_examples, true_count, precision))
  return precision


def run_training(flags):
  """Trains for flags.max_steps steps; returns the last test precision."""
  data_sets = read_data(flags)
  with tf.Graph().as_default():
    if flags.seed is not None:
      tf1.set_random_seed(flags.seed)
    images_pl = tf1.placeholder(tf.float32,
                                (flags.batch_size, mnist.IMAGE_PIXELS))
    labels_pl = tf1.placeholder(tf.int32, (flags.batch_size,))
    logits = mnist.inference(images_pl, flags.hidden1, flags.hidden2)
    loss = mnist.loss(logits, labels_pl)
    train_op = mnist.training(loss, flags.learning_rate)
    eval_correct = mnist.evaluation(logits, labels_pl)
    summary = tf1.summary.merge_all()
    saver = tf1.train.Saver()
    sess = tf1.Session()
    writer = tf1.summary.FileWriter(flags.log_dir, sess.graph)
    sess.run(tf1.global_variables_initializer())
    test_precision = None
    for step in range(flags.max_steps):
      start_time = time.time()
      images, labels = data_sets.train.next_batch(flags.batch_size)
      feed_dict = {images_pl: images, labels_pl: labels}
      _, loss_value = sess.run([train_op, loss], feed_dict=feed_dict)
      duration = time.time() - start_time
      if step % 100 == 0:
        print('Step %d: loss = %.2f (%.3f sec)' % (step, loss_value, duration))
        writer.add_summary(sess.run(summary, feed_dict=feed_dict), step)
        writer.flush()
      if (step + 1) % 1000 == 0 or step + 1 == flags.max_steps:
        saver.save(sess, os.path.join(flags.log_dir, 'model.ckpt'),
                   global_step=step)
        for header, data_set in (('Training Data Eval:', data_sets.train),
                                 ('Validation Data Eval:',
                                  data_sets.validation),
                                 ('Test Data Eval:', data_sets.test)):
          print(header)
          test_precision = do_eval(sess, eval_correct, images_pl, labels_pl,
                                   data_set, flags.batch_size)
    writer.close()
    sess.close()
  return test_precision


def main(argv=None):
  run_training(parse_flags(argv))


if __name__ == '__main__':
  main()
