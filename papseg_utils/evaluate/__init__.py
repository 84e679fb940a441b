"""Score checkpoints on a dataset: one model, an ensemble, or the folds of a cross-validation.

All scoring lives here: the ``evaluate`` command, what the evaluation chapter calls, and
the validation of the trainer (:func:`papseg_utils.evaluate.loader.score_loader`)::

    python -m papseg_utils evaluate CKPT [CKPT ...] --dataset herlev|folder|synthetic \\
        --data-dir DIR [--split test|val|train|all|FILE] [--tta] [--out DIR]

Which images each checkpoint scores
-----------------------------------
``--split all`` scores every image of the dataset with every checkpoint
(their probabilities averaged: an ensemble). Use it for data the models never
saw, e.g. another lab's images in the folder format (cross-dataset).

``--split test`` (``val``, ``train``) reads ``split.json`` beside each
checkpoint (the run folder that holds ``best/`` or ``last/``). A missing
``split.json`` is an error: scoring a freshly drawn split could put training
images in the "test" set. Then

* all checkpoints name the same test images: they are scored as an ensemble;
* the checkpoints' test parts are disjoint (the folds of a k-fold
  cross-validation): every image is scored by the model(s) that did not
  train on it, and the union is the cross-validated score;
* anything else (overlapping but different test parts) is refused, because some
  model would be scored on images it trained on.

``--split FILE`` takes the ``test`` part of that split JSON for every checkpoint.

Predictions are exactly those of the ``predict`` command
(:func:`papseg_utils.inference.predict_with_config`: letterboxed as in
training, probabilities mapped back to the original size), averaged over
checkpoints. A checkpoint trained with an image head (``--image-head
health``) also gives each image a probability of holding an unhealthy cell;
on Herlev the cells of its segmentation are then coloured by it
(:func:`papseg_utils.postprocess.cells_from_image_head`) and scored in the
``paper_cells`` taxonomy as well.

Outputs (``--out``)
-------------------
``per_image.csv``
    The tidy table of :func:`papseg_utils.metrics.score_images` (one row per
    image x class x metric) with ``scheme`` and ``fold`` columns; a ``macro``
    class holds each image's mean over the foreground classes.
``summary.csv`` / ``summary.md``
    Per class and metric: the per-image mean with its bootstrap 95 % interval,
    the median, and the micro value (pixels pooled over images).
``image_labels.csv``
    With an image head: each image's group (diagnostic class), predicted class and probabilities.
``summary.png``
    Per-class distributions of Dice, IoU and HD95.
``scoring.json``
    The checkpoints, their hashes, the images scored and the options.

Modules
-------
``members``  the checkpoints (:class:`Member`) and the data each was trained on
``folds``    which member scores which image (:func:`assign_images`)
``scores``   prediction through :func:`papseg_utils.inference.predict_with_config` and scoring
``tables``   the per-image table's columns, :func:`summary`, and the files written
``health``   the healthy/unhealthy image head's accuracy
``loader``   confusion-matrix scores over a data loader (validation during training)
``cli``      the ``evaluate`` command
"""

from papseg_utils.evaluate.folds import SPLIT_PARTS, assign_images, assignment_mode
from papseg_utils.evaluate.health import head_line, health_truth, image_accuracy
from papseg_utils.evaluate.members import (
    Member,
    ScoringError,
    load_members,
    load_run_samples,
    run_data,
)
from papseg_utils.evaluate.scores import Predictions, Scores, predict_images, score
from papseg_utils.evaluate.tables import markdown, summary, write_outputs

__all__ = [
    "SPLIT_PARTS",
    "Member",
    "Predictions",
    "Scores",
    "ScoringError",
    "assign_images",
    "assignment_mode",
    "head_line",
    "health_truth",
    "image_accuracy",
    "load_members",
    "load_run_samples",
    "markdown",
    "predict_images",
    "run_data",
    "score",
    "summary",
    "write_outputs",
]
