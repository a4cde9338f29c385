"""The graders, one module per lesson.  Importing this package registers them."""

from . import lesson00, lesson01  # noqa: F401
