"""Benchmarks for endpoints-dagster: `python -m bench [NAME ...]` (from the repository root).

Speed and memory figures live here, not in the test suite. The runner (``bench/__main__.py``)
discovers every ``bench/bench_*.py`` module, runs each in its own fresh Python process (so one
module's imports, threads, servers or heap cannot skew another's figures), prints one Markdown
table and updates ``bench/RESULTS.md`` (date, machine, Python and package versions).

Writing a benchmark module
--------------------------
Add ``bench/bench_<name>.py`` exposing::

    def run() -> list[BenchRow]: ...

where :class:`bench.common.BenchRow` is one line of the table:

- ``name``: what was measured, e.g. ``"50,000 x 8 response -> DataFrame"``;
- ``value`` and ``unit``: the figure (``unit`` is free text: ``"ms"``, ``"MB"``, ``"requests"``);
- ``baseline``: the comparison value *measured in the same run*, in the same unit (``None`` if
  the target is absolute);
- ``target``: the target in words, e.g. ``"<= 2x baseline"``;
- ``met``: ``True``/``False`` when there is a target, ``None`` for informational rows;
- ``notes``: anything a reader needs (ratios, what the baseline is, what limits the figure).

The module's docstring's first line is its section title. Use the helpers in
:mod:`bench.common` (``timeit_best``, ``timeit_interleaved``, ``peak_memory``). A module
should finish in about a minute on 2 cores; start any server on a free port and stop it before
``run()`` returns. An exception in ``run()`` becomes an error row; the runner goes on with the
other modules and exits non-zero at the end. A missed target is not an error: the table says so.

Running
-------
``python -m bench`` runs everything; ``python -m bench frames`` runs ``bench_frames`` only (and
updates only its section of ``RESULTS.md``); ``--no-write`` leaves ``RESULTS.md`` alone.
"""
