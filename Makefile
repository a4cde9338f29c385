# Thin wrappers: every target sets up .venv first when it is missing (see course.py).
PYTHON ?= python3

.PHONY: lab test check outputs exercises setup
lab:
	$(PYTHON) course.py lab
test:
	$(PYTHON) course.py test
check:
	$(PYTHON) course.py check
outputs:
	$(PYTHON) course.py outputs
exercises:
	$(PYTHON) course.py exercises
setup:
	$(PYTHON) course.py setup
