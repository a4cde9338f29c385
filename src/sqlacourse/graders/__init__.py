"""The graders, one module per lesson.  Importing this package registers them."""

from . import lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08  # noqa: F401
