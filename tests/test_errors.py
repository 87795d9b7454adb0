"""Tests of tutorial_support.errors: one line for the user, the right status."""

import pytest
import tensorflow as tf

from tutorial_support import errors


@pytest.mark.parametrize('message, line', [
    ('Graph execution error:\n\nOperation timed out.', 'Operation timed out.'),
    ('Graph execution error:\n\n=====================\nSocket closed',
     'Socket closed'),
    ('Graph execution error:\n\nDetected at node xentropy defined at:\n'
     '  File "x.py", line 1\nlogits and labels must agree\n'
     '\t [[{{node xentropy}}]]', 'logits and labels must agree'),
])
def test_op_error_line_is_what_went_wrong(message, line):
  error = tf.errors.DeadlineExceededError(None, None, message)
  assert errors.op_error_line(error) == line
