"""Tests of tutorial_support.confusion."""

import numpy as np

from tutorial_support import confusion


def test_rows_are_the_true_digit_columns_the_predicted():
  matrix = confusion.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0],
                                      num_classes=3)
  np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_precision_and_recall():
  matrix = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
  precision, recall = confusion.precision_and_recall(matrix)
  np.testing.assert_allclose(precision, [0.5, 0.5, 1.0])
  np.testing.assert_allclose(recall, [0.5, 1.0, 2 / 3])


def test_a_digit_never_predicted_has_no_precision():
  precision, _ = confusion.precision_and_recall(np.array([[1, 0], [1, 0]]))
  assert np.isnan(precision[1])


def test_predict_drops_the_padding():
  class Session(object):
    def run(self, logits, feed):
      return next(iter(feed.values()))
  batches = [(np.eye(3)[[2, 0]], None), (np.eye(3)[[1, 1]], None)]
  predictions = confusion.predict(Session(), None, 'images', batches, 3)
  np.testing.assert_array_equal(predictions, [2, 0, 1])
