"""Which digits a model confuses: a confusion matrix, precision and recall.

--eval_only prints these for the test split below the tutorial's own lines.
"""

import numpy as np


def predict(sess, logits, images_placeholder, batches, count):
  """Returns the predicted digit of each of the first count examples of
  batches, an iterable of (images, labels) of the placeholder's size."""
  predictions = [sess.run(logits, {images_placeholder: images}).argmax(axis=1)
                 for images, _ in batches]
  return np.concatenate(predictions)[:count]


def confusion_matrix(labels, predictions, num_classes=10):
  """Counts each (true, predicted) pair: rows the true digit, columns the
  predicted one; int64 [num_classes, num_classes]."""
  pairs = np.asarray(labels, np.int64) * num_classes + np.asarray(
      predictions, np.int64)
  return np.bincount(pairs, minlength=num_classes * num_classes).reshape(
      num_classes, num_classes)


def precision_and_recall(matrix):
  """Each digit's precision (of those predicted it, how many were) and
  recall (of those that were, how many were found); NaN where undefined."""
  right = np.diag(matrix).astype(np.float64)
  with np.errstate(invalid='ignore', divide='ignore'):
    return right / matrix.sum(axis=0), right / matrix.sum(axis=1)


def report(split_name, labels, predictions, num_classes=10):
  """The matrix and each digit's precision and recall, as lines of text."""
  matrix = confusion_matrix(labels, predictions, num_classes)
  width = max(5, len(str(matrix.max())) + 1)
  lines = ['%s confusion matrix (rows: true digit, columns: predicted):'
           % split_name,
           '     ' + ''.join('%*d' % (width, digit)
                             for digit in range(num_classes))]
  for digit, row in enumerate(matrix):
    lines.append('  %d  ' % digit + ''.join('%*d' % (width, count)
                                            for count in row))
  precision, recall = precision_and_recall(matrix)
  lines.append('Digit  Precision  Recall')
  for digit in range(num_classes):
    lines.append('  %d     %6.4f   %6.4f' % (digit, precision[digit],
                                            recall[digit]))
  return '\n'.join(lines)
