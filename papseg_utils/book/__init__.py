"""Book and batch tooling: everything that runs the notebooks and renders the book.

The science lives beside this package (``data``, ``augment``, ``models``, ``train``,
``evaluate``, ``metrics``, ``viz``); this package only drives it.

========================  ==========================================================
``book.runner``           ``papseg run``: execute notebooks with papermill under a profile
``book.profiles``         parameter profiles (``notebooks/profiles/*.yaml``) and paths
``book.param_types``      the types of a notebook's parameters cell, checked before a run
``book.study``            ``papseg study``: a grid of runs, aggregated into tables
``book.provenance``       what ran where: machine, versions, git commit, wall time
``book.colab``            Google Colab detection and set-up
``book.render``           ``papseg book``: render the Jupyter Book from executed notebooks
========================  ==========================================================
"""
