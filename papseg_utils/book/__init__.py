"""Book and batch tooling: everything that runs the notebooks and renders the book.

The science lives beside this package (``data``, ``augment``, ``models``, ``train``,
``evaluate``, ``metrics``, ``viz``); this package only drives it.

==========================  ========================================================
``book.runner``             ``papseg run``: execute notebooks with papermill under a profile
``book.profiles``           the plan of a run: profiles (``notebooks/profiles/*.yaml``), paths
``book.profile_extends``    ``extends:``, a profile that starts from another of its file
``book.param_types``        the types of a notebook's parameters cell, checked before a run
``book.execution``          the planned notebooks run in workers: dependencies, limits, Ctrl-C
``book.worker``             the worker process that executes one notebook with papermill
``book.study``              ``papseg study``: a grid of runs, aggregated into tables
``book.study_plan``         a study file, its grid of runs and their parameter checks
``book.study_runs``         a study's runs through the notebooks (resumable, interruptible)
``book.study_tables``       a study's tables: runs.csv, per_image.csv.gz, results.csv
``book.provenance``         what ran where: machine, versions, git commit, wall time
``book.colab``              Google Colab detection and set-up
``book.render``             ``papseg book``: render the Jupyter Book from executed notebooks
``book.status_page``        the book's execution status page, from the provenance records
``book.profile_note``       each chapter page's note on the profile that built it
==========================  ========================================================
"""
